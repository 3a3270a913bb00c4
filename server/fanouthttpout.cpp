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
#include <gst/gst.h>
#include <libsoup/soup.h>

#include <deque>
#include <map>
#include <memory>
#include <string>

namespace gstfanout
{

static const gsize kMaxBacklog = 4 * 1024 * 1024;

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

struct HttpOut {
  Server *s = nullptr;
  std::map<guint64, std::unique_ptr<HttpViewer>> viewers;
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

HttpOut *
http_out_new (Server *s) noexcept
{
  auto *h = new HttpOut ();
  h->s = s;
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
  h->self.reset ();
  delete h;
}

guint
http_out_n_viewers (HttpOut *h, const Mount *m) noexcept
{
  guint n = 0;
  if (h)
    for (auto &[id, v] : h->viewers)
      n += v->m == m;
  return n;
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

bool
http_out_handle (HttpOut *h, SoupServerMessage *msg, const char *path) noexcept
{
  std::string p = path;
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
