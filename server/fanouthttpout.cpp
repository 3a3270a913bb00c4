/* gst-fanout
 * Copyright (C) 2026 the gst-fanout authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2.1 of the License, or (at your option) any later version.
 */

/* GET /PATH.ts: MPEG-TS over HTTP, chunked, for players without RTSP
 * (Debian's VLC: vlc http://HOST:PORT/live.ts).
 *
 *   per HTTP viewer   fanoutsrc channel=RING start-position=latest-keyframe
 *                       ! h264parse ! mpegtsmux ! appsink
 *
 * The viewer's cursor starts on the newest keyframe of the mount's one
 * encode; its appsink's streaming thread posts each chunk to the main
 * context, which appends it to the response. A viewer that does not read
 * (more than kMaxBacklog bytes written and not sent) is skipped until its
 * backlog drains, at a keyframe boundary of the mux's output, so that a
 * slow player gets a gap, not unbounded memory. The response's "finished"
 * (the player closed) ends the viewer. */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "fanouthttpout.h"

#include <gst/app/gstappsink.h>
#include <glib/gstdio.h>
#include <gst/gst.h>
#include <libsoup/soup.h>

#include <atomic>
#include <cmath>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace gstfanout
{

static const gsize kMaxBacklog = 4 * 1024 * 1024;
/* HLS: segments of one GOP (cut at keyframes), 6 in the playlist, 10 on
 * disk; stopped after 30 s without a request; a first
 * request waits at most 15 s for the first playlist. */
static const guint kHlsPlaylistLength = 6, kHlsMaxFiles = 10;
static const gint64 kHlsIdleUs = 30 * G_TIME_SPAN_SECOND;
static const gint64 kHlsFirstWaitUs = 15 * G_TIME_SPAN_SECOND;

struct HttpViewer {
  guint64 id = 0;
  Mount *m = nullptr;
  SoupServerMessage *msg = nullptr; /* ref */
  GstElement *pipeline = nullptr;
  GSource *bus = nullptr;
  gulong finished_id = 0, wrote_id = 0;
  std::deque<gsize> queued; /* chunks appended, not yet written */
  gsize backlog = 0;        /* their bytes */
  bool skipping = false;
};

/* HLS of one mount: hlssink2 writing MPEG-TS segments and the playlist
 * into a temp dir, started by the first request, stopped after kHlsIdleS
 * without one. */
struct Hls {
  Mount *m = nullptr;
  std::string dir;
  GstElement *pipeline = nullptr;
  GSource *bus = nullptr;
  gint64 last_request_us = 0;
  /* Playlist requests waiting for the first playlist (paused, ref'd). */
  std::vector<SoupServerMessage *> waiting;
  gint64 started_us = 0;
};

struct HttpOut {
  Server *s = nullptr;
  std::map<guint64, std::unique_ptr<HttpViewer>> viewers;
  /* Viewers per mount, written on the main context, read by /stats from
   * any thread (fanout_server_get_stats_json): counters, relaxed. The map
   * is filled at creation and never changes shape. */
  std::map<const Mount *, std::atomic<guint>> counts;
  std::map<const Mount *, std::unique_ptr<Hls>> hls;
  GSource *hls_timer = nullptr; /* every 250 ms while any HLS runs */
  guint64 next_id = 1;
  std::shared_ptr<HttpOut *> self; /* weak_ptr'd by streaming threads */
};

struct ViewerRef {
  std::weak_ptr<HttpOut *> h;
  guint64 id;
};

/* @finished: the response is over (the player went), leave it alone. */
static void
viewer_remove (HttpOut *h, guint64 id, bool finished = false) noexcept
{
  auto it = h->viewers.find (id);
  if (it == h->viewers.end ())
    return;
  std::unique_ptr<HttpViewer> v = std::move (it->second);
  h->viewers.erase (it);
  h->counts[v->m].fetch_sub (1, std::memory_order_relaxed); /* counter */
  if (v->bus) {
    g_source_destroy (v->bus);
    g_source_unref (v->bus);
  }
  if (v->pipeline) {
    gst_element_set_state (v->pipeline, GST_STATE_NULL);
    gst_object_unref (v->pipeline);
  }
  g_signal_handler_disconnect (v->msg, v->finished_id);
  g_signal_handler_disconnect (v->msg, v->wrote_id);
  if (!finished) {
    /* Ends the chunked body: the player is still there. */
    soup_message_body_complete (soup_server_message_get_response_body (v->msg));
    soup_server_message_unpause (v->msg);
  }
  g_object_unref (v->msg);
  mount_hold_encoder (v->m, false);
}

struct Chunk {
  std::weak_ptr<HttpOut *> h;
  guint64 id;
  GstBuffer *buf;
};

static gboolean
chunk_cb (gpointer data) noexcept
{
  auto *c = static_cast<Chunk *> (data);
  auto hp = c->h.lock ();
  if (!hp)
    return G_SOURCE_REMOVE;
  auto it = (*hp)->viewers.find (c->id);
  if (it == (*hp)->viewers.end ())
    return G_SOURCE_REMOVE;
  HttpViewer *v = it->second.get ();
  bool key = !GST_BUFFER_FLAG_IS_SET (c->buf, GST_BUFFER_FLAG_DELTA_UNIT);
  if (v->skipping && key && v->backlog < kMaxBacklog / 2)
    v->skipping = false;
  else if (!v->skipping && v->backlog >= kMaxBacklog)
    v->skipping = true;
  if (v->skipping)
    return G_SOURCE_REMOVE;
  GstMapInfo map;
  if (gst_buffer_map (c->buf, &map, GST_MAP_READ)) {
    soup_message_body_append (soup_server_message_get_response_body (v->msg),
                              SOUP_MEMORY_COPY, map.data, map.size);
    v->backlog += map.size;
    v->queued.push_back (map.size);
    gst_buffer_unmap (c->buf, &map);
    soup_server_message_unpause (v->msg);
  }
  return G_SOURCE_REMOVE;
}

static void
chunk_free (gpointer data) noexcept
{
  auto *c = static_cast<Chunk *> (data);
  gst_buffer_unref (c->buf);
  delete c;
}

static GstFlowReturn
new_sample_cb (GstAppSink *sink, gpointer data) noexcept
{
  auto *r = static_cast<ViewerRef *> (data);
  GstSample *sample = gst_app_sink_pull_sample (sink);
  if (!sample)
    return GST_FLOW_EOS;
  auto hp = r->h.lock ();
  if (!hp) {
    gst_sample_unref (sample);
    return GST_FLOW_FLUSHING;
  }
  GstBuffer *buf = gst_sample_get_buffer (sample);
  auto *c = new (std::nothrow) Chunk{ r->h, r->id, gst_buffer_ref (buf) };
  gst_sample_unref (sample);
  if (!c)
    return GST_FLOW_OK;
  GSource *src = g_idle_source_new ();
  g_source_set_callback (src, chunk_cb, c, chunk_free);
  g_source_attach (src, (*hp)->s->context);
  g_source_unref (src);
  return GST_FLOW_OK;
}

static void
viewer_ref_free (gpointer data) noexcept
{
  delete static_cast<ViewerRef *> (data);
}

static void
finished_cb (SoupServerMessage *, gpointer data) noexcept
{
  auto *r = static_cast<ViewerRef *> (data);
  if (auto hp = r->h.lock ())
    viewer_remove (*hp, r->id, true);
}

static void
wrote_chunk_cb (SoupServerMessage *, gpointer data) noexcept
{
  auto *r = static_cast<ViewerRef *> (data);
  auto hp = r->h.lock ();
  if (!hp)
    return;
  auto it = (*hp)->viewers.find (r->id);
  if (it == (*hp)->viewers.end ())
    return;
  /* libsoup wrote the oldest appended chunk (the body keeps no copy:
   * accumulate is off). */
  HttpViewer *v = it->second.get ();
  if (!v->queued.empty ()) {
    v->backlog -= v->queued.front ();
    v->queued.pop_front ();
  }
}

static gboolean
viewer_bus_cb (GstBus *, GstMessage *msg, gpointer data) noexcept
{
  auto *r = static_cast<ViewerRef *> (data);
  switch (GST_MESSAGE_TYPE (msg)) {
  case GST_MESSAGE_ERROR:
  case GST_MESSAGE_EOS:
    if (auto hp = r->h.lock ()) {
      /* Not from inside the bus watch we are about to destroy. */
      guint64 id = r->id;
      HttpOut *h = *hp;
      g_main_context_invoke_full (
          h->s->context, G_PRIORITY_DEFAULT,
          [] (gpointer d) noexcept -> gboolean {
            auto *rr = static_cast<ViewerRef *> (d);
            if (auto hp2 = rr->h.lock ())
              viewer_remove (*hp2, rr->id);
            return G_SOURCE_REMOVE;
          },
          new ViewerRef{ r->h, id }, viewer_ref_free);
    }
    break;
  case GST_MESSAGE_LATENCY:
    if (auto hp = r->h.lock ()) {
      auto it = (*hp)->viewers.find (r->id);
      if (it != (*hp)->viewers.end ())
        gst_bin_recalculate_latency (GST_BIN (it->second->pipeline));
    }
    break;
  default:
    break;
  }
  return G_SOURCE_CONTINUE;
}

static void
reply (SoupServerMessage *msg, guint status, const std::string &text) noexcept
{
  std::string body = text + "\n";
  soup_server_message_set_status (msg, status, nullptr);
  soup_server_message_set_response (msg, "text/plain; charset=utf-8",
                                    SOUP_MEMORY_COPY, body.c_str (),
                                    body.size ());
}

/* ------------------------------------------------------------------ */
/* HLS                                                                 */

static void
hls_stop (HttpOut *h, const Mount *m) noexcept
{
  auto it = h->hls.find (m);
  if (it == h->hls.end ())
    return;
  std::unique_ptr<Hls> hl = std::move (it->second);
  h->hls.erase (it);
  if (hl->bus) {
    g_source_destroy (hl->bus);
    g_source_unref (hl->bus);
  }
  if (hl->pipeline) {
    gst_element_set_state (hl->pipeline, GST_STATE_NULL);
    gst_object_unref (hl->pipeline);
  }
  for (SoupServerMessage *msg : hl->waiting) {
    reply (msg, SOUP_STATUS_SERVICE_UNAVAILABLE, "HLS stopped");
    soup_server_message_unpause (msg);
    g_object_unref (msg);
  }
  GDir *d = g_dir_open (hl->dir.c_str (), 0, nullptr);
  if (d) {
    while (const char *name = g_dir_read_name (d)) {
      gchar *f = g_build_filename (hl->dir.c_str (), name, nullptr);
      g_unlink (f);
      g_free (f);
    }
    g_dir_close (d);
  }
  g_rmdir (hl->dir.c_str ());
  mount_hold_encoder (hl->m, false);
  if (!h->s->cfg.quiet)
    g_printerr ("http: HLS of %s stopped\n", hl->m->cfg.path.c_str ());
}

static bool
serve_file (SoupServerMessage *msg, const std::string &path,
            const char *type) noexcept
{
  gchar *data = nullptr;
  gsize len = 0;
  if (!g_file_get_contents (path.c_str (), &data, &len, nullptr))
    return false;
  /* hlssink2 rewrites the playlist in place: one caught between its
   * truncation and its write is empty; it is not ready yet. */
  if (len == 0) {
    g_free (data);
    return false;
  }
  soup_server_message_set_status (msg, SOUP_STATUS_OK, nullptr);
  soup_message_headers_replace (soup_server_message_get_response_headers (msg),
                                "Cache-Control", "no-cache");
  soup_server_message_set_response (msg, type, SOUP_MEMORY_TAKE, data, len);
  return true;
}

static const char kPlaylistType[] = "application/vnd.apple.mpegurl";

/* Answers the requests waiting for the first playlist; ends idle HLS. */
static gboolean
hls_timer_cb (gpointer data) noexcept
{
  auto *h = static_cast<HttpOut *> (data);
  gint64 now = g_get_monotonic_time ();
  std::vector<const Mount *> idle;
  for (auto &[m, hl] : h->hls) {
    if (!hl->waiting.empty ()) {
      std::string pl = hl->dir + "/index.m3u8";
      GStatBuf st;
      bool ready = g_stat (pl.c_str (), &st) == 0 && st.st_size > 0;
      bool late = now - hl->started_us > kHlsFirstWaitUs;
      if (ready || late) {
        for (SoupServerMessage *msg : hl->waiting) {
          if (!ready || !serve_file (msg, pl, kPlaylistType))
            reply (msg, SOUP_STATUS_SERVICE_UNAVAILABLE,
                   "no HLS segment yet: the mount's source delivers no "
                   "keyframes");
          soup_server_message_unpause (msg);
          g_object_unref (msg);
        }
        hl->waiting.clear ();
      }
    }
    if (hl->waiting.empty () && now - hl->last_request_us > kHlsIdleUs)
      idle.push_back (m);
  }
  for (const Mount *m : idle)
    hls_stop (h, m);
  if (h->hls.empty ()) {
    g_source_unref (std::exchange (h->hls_timer, nullptr));
    return G_SOURCE_REMOVE;
  }
  return G_SOURCE_CONTINUE;
}

static gboolean
hls_bus_cb (GstBus *, GstMessage *msg, gpointer data) noexcept
{
  auto *hl = static_cast<Hls *> (data);
  if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
    GError *err = nullptr;
    gst_message_parse_error (msg, &err, nullptr);
    g_printerr ("http: HLS of %s failed: %s\n", hl->m->cfg.path.c_str (),
                err ? err->message : "?");
    g_clear_error (&err);
    hl->last_request_us = 0; /* the timer stops it */
  } else if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_LATENCY) {
    gst_bin_recalculate_latency (GST_BIN (hl->pipeline));
  }
  return G_SOURCE_CONTINUE;
}

static Hls *
hls_start (HttpOut *h, Mount *m) noexcept
{
  gchar *dir = g_dir_make_tmp ("fanout-hls-XXXXXX", nullptr);
  if (!dir)
    return nullptr;
  auto hl = std::make_unique<Hls> ();
  hl->m = m;
  hl->dir = dir;
  /* Segments are cut at keyframes: one per GOP. */
  guint target = MAX (1u, (guint)std::ceil (m->cfg.gop));
  g_free (dir);
  std::string d
      = "fanoutsrc start-position=latest-keyframe channel=\"" + m->ring
        + "\" ! h264parse config-interval=-1 ! hlssink2 "
          "send-keyframe-requests=false target-duration="
        + std::to_string (target) + " playlist-length="
        + std::to_string (kHlsPlaylistLength) + " max-files="
        + std::to_string (kHlsMaxFiles) + " location=\"" + hl->dir
        + "/seg%05d.ts\" playlist-location=\"" + hl->dir + "/index.m3u8\"";
  GError *err = nullptr;
  hl->pipeline = gst_parse_launch (d.c_str (), &err);
  g_clear_error (&err);
  if (!hl->pipeline) {
    g_rmdir (hl->dir.c_str ());
    return nullptr;
  }
  GstBus *bus = gst_element_get_bus (hl->pipeline);
  hl->bus = gst_bus_create_watch (bus);
  gst_object_unref (bus);
  g_source_set_callback (hl->bus, (GSourceFunc)hls_bus_cb, hl.get (), nullptr);
  g_source_attach (hl->bus, h->s->context);
  hl->started_us = hl->last_request_us = g_get_monotonic_time ();
  mount_hold_encoder (m, true);
  mount_request_key_unit (m);
  gst_element_set_state (hl->pipeline, GST_STATE_PLAYING);
  if (!h->hls_timer) {
    h->hls_timer = g_timeout_source_new (250);
    g_source_set_callback (h->hls_timer, hls_timer_cb, h, nullptr);
    g_source_attach (h->hls_timer, h->s->context);
  }
  if (!h->s->cfg.quiet)
    g_printerr ("http: HLS of %s started\n", m->cfg.path.c_str ());
  Hls *r = hl.get ();
  h->hls[m] = std::move (hl);
  return r;
}

/* GET /PATH/index.m3u8 and /PATH/segNNNNN.ts. */
static bool
hls_handle (HttpOut *h, SoupServerMessage *msg, const std::string &p) noexcept
{
  size_t slash = p.rfind ('/');
  if (slash == std::string::npos || slash == 0)
    return false;
  std::string mpath = p.substr (0, slash), file = p.substr (slash + 1);
  bool playlist = file == "index.m3u8";
  bool segment = file.size () == 11 && file.compare (0, 3, "seg") == 0
                 && file.compare (8, 3, ".ts") == 0
                 && file.find_first_not_of ("0123456789", 3) == 8;
  if (!playlist && !segment)
    return false;
  Mount *m = nullptr;
  for (auto &mm : h->s->mounts)
    if (mm->cfg.path == mpath)
      m = mm.get ();
  if (!m)
    return false;
  if (!g_str_equal (soup_server_message_get_method (msg), "GET")) {
    reply (msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "GET only");
    return true;
  }
  if (m->codec != Codec::H264) {
    reply (msg, SOUP_STATUS_NOT_ACCEPTABLE,
           std::string ("mount ") + mpath + " is " + codec_name (m->codec)
               + ", which this server does not put in HLS: serve the source "
                 "on a mount with codec=h264 for HLS players");
    return true;
  }
  auto it = h->hls.find (m);
  Hls *hl = it == h->hls.end () ? nullptr : it->second.get ();
  if (!hl && segment) {
    reply (msg, SOUP_STATUS_NOT_FOUND, "no such segment (HLS not running)");
    return true;
  }
  if (!hl && !(hl = hls_start (h, m))) {
    reply (msg, SOUP_STATUS_INTERNAL_SERVER_ERROR,
           "cannot start HLS: is hlssink2 (gstreamer1.0-plugins-bad) "
           "installed?");
    return true;
  }
  hl->last_request_us = g_get_monotonic_time ();
  std::string path = hl->dir + "/" + file;
  if (serve_file (msg, path, playlist ? kPlaylistType : "video/mp2t"))
    return true;
  if (segment) {
    reply (msg, SOUP_STATUS_NOT_FOUND, "no such segment (out of the window)");
    return true;
  }
  /* The first playlist is not written yet: wait for it (hls_timer_cb). */
  hl->waiting.push_back (SOUP_SERVER_MESSAGE (g_object_ref (msg)));
  soup_server_message_pause (msg);
  return true;
}

HttpOut *
http_out_new (Server *s) noexcept
{
  auto *h = new HttpOut ();
  h->s = s;
  for (auto &m : s->mounts)
    h->counts[m.get ()] = 0;
  h->self = std::make_shared<HttpOut *> (h);
  return h;
}

void
http_out_free (HttpOut *h) noexcept
{
  if (!h)
    return;
  while (!h->viewers.empty ())
    viewer_remove (h, h->viewers.begin ()->first);
  while (!h->hls.empty ())
    hls_stop (h, h->hls.begin ()->first);
  if (h->hls_timer) {
    g_source_destroy (h->hls_timer);
    g_source_unref (h->hls_timer);
  }
  h->self.reset ();
  delete h;
}

guint
http_out_n_viewers (HttpOut *h, const Mount *m) noexcept
{
  if (!h)
    return 0;
  auto it = h->counts.find (m);
  return it == h->counts.end ()
             ? 0
             : it->second.load (std::memory_order_relaxed); /* counter */
}

bool
http_out_handle (HttpOut *h, SoupServerMessage *msg, const char *path) noexcept
{
  std::string p = path;
  if (hls_handle (h, msg, p))
    return true;
  if (p.size () < 4 || p.compare (p.size () - 3, 3, ".ts") != 0)
    return false;
  std::string mpath = p.substr (0, p.size () - 3);
  Mount *m = nullptr;
  for (auto &mm : h->s->mounts)
    if (mm->cfg.path == mpath)
      m = mm.get ();
  if (!m)
    return false;
  const char *method = soup_server_message_get_method (msg);
  if (!g_str_equal (method, "GET")) {
    reply (msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "GET only");
    return true;
  }
  if (!mount_serving (m)) {
    reply (msg, SOUP_STATUS_SERVICE_UNAVAILABLE,
           "the source of this mount is not up yet: try again later");
    return true;
  }
  if (m->codec != Codec::H264) {
    reply (msg, SOUP_STATUS_NOT_ACCEPTABLE,
           std::string ("mount ") + mpath + " is " + codec_name (m->codec)
               + ", which this server does not put in MPEG-TS: serve the "
                 "source on a mount with codec=h264 for HTTP players");
    return true;
  }
  std::string d = "fanoutsrc start-position=latest-keyframe channel=\""
                  + m->ring
                  + "\" ! h264parse config-interval=-1 ! mpegtsmux "
                    "alignment=7 ! appsink name=sink sync=false "
                    "max-buffers=256 drop=true";
  GError *err = nullptr;
  GstElement *pipe = gst_parse_launch (d.c_str (), &err);
  g_clear_error (&err);
  if (!pipe) {
    reply (msg, SOUP_STATUS_INTERNAL_SERVER_ERROR,
           "cannot build the MPEG-TS pipeline: is mpegtsmux "
           "(gstreamer1.0-plugins-bad) installed?");
    return true;
  }
  auto v = std::make_unique<HttpViewer> ();
  v->id = h->next_id++;
  v->m = m;
  v->msg = SOUP_SERVER_MESSAGE (g_object_ref (msg));
  v->pipeline = pipe;
  GstElement *sink = gst_bin_get_by_name (GST_BIN (pipe), "sink");
  GstAppSinkCallbacks cb = {};
  cb.new_sample = new_sample_cb;
  gst_app_sink_set_callbacks (GST_APP_SINK (sink), &cb,
                              new ViewerRef{ h->self, v->id }, viewer_ref_free);
  gst_object_unref (sink);
  GstBus *bus = gst_element_get_bus (pipe);
  v->bus = gst_bus_create_watch (bus);
  gst_object_unref (bus);
  g_source_set_callback (v->bus, (GSourceFunc)viewer_bus_cb,
                         new ViewerRef{ h->self, v->id }, viewer_ref_free);
  g_source_attach (v->bus, h->s->context);

  soup_server_message_set_status (msg, SOUP_STATUS_OK, nullptr);
  SoupMessageHeaders *rh = soup_server_message_get_response_headers (msg);
  soup_message_headers_set_encoding (rh, SOUP_ENCODING_CHUNKED);
  soup_message_headers_set_content_type (rh, "video/mp2t", nullptr);
  soup_message_headers_replace (rh, "Cache-Control", "no-store");
  soup_message_body_set_accumulate (soup_server_message_get_response_body (msg),
                                    FALSE);
  GClosureNotify unref
      = (GClosureNotify)(void (*) (gpointer, GClosure *))viewer_ref_free;
  v->finished_id = g_signal_connect_data (
      msg, "finished", G_CALLBACK (finished_cb),
      new ViewerRef{ h->self, v->id }, unref, (GConnectFlags)0);
  v->wrote_id = g_signal_connect_data (
      msg, "wrote-chunk", G_CALLBACK (wrote_chunk_cb),
      new ViewerRef{ h->self, v->id }, unref, (GConnectFlags)0);
  guint64 id = v->id;
  h->viewers[id] = std::move (v);
  h->counts[m].fetch_add (1, std::memory_order_relaxed); /* counter */
  mount_hold_encoder (m, true);
  mount_request_key_unit (m);
  soup_server_message_pause (msg);
  if (gst_element_set_state (pipe, GST_STATE_PLAYING)
      == GST_STATE_CHANGE_FAILURE) {
    viewer_remove (h, id);
    return true;
  }
  if (!h->s->cfg.quiet)
    g_printerr ("http: MPEG-TS viewer of %s joined\n", mpath.c_str ());
  return true;
}

} // namespace gstfanout
