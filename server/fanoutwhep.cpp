/* gst-fanout
 * Copyright (C) 2026 the gst-fanout authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2.1 of the License, or (at your option) any later version.
 */

/* WHEP (WebRTC-HTTP egress) on the server's HTTP port, and the HTTP
 * routing of the browser/player outputs (fanoutwhep.h).
 *
 *   per mount, once     fanoutsrc channel=RING ! [h264parse] ! rtpXpay
 *                         ! fanoutsink channel=RING:webrtc
 *   per WebRTC viewer   fanoutsrc channel=RING:webrtc ! capssetter
 *                         ! webrtcbin          (own ICE agent, DTLS-SRTP)
 *
 * A viewer's offer picks its payload type: the browser's own PT for H.264
 * packetization-mode=1 (or VP8), which differs per browser; the shared
 * packets carry PT 96, a probe rewrites the PT of this viewer's copies
 * (the RTP header is copied, not the payload, when the PT differs) and
 * capssetter tells webrtcbin the same PT and the offer's profile-level-id,
 * so that the transceiver's codec-preferences and the stream always agree
 * (a mismatch is not-negotiated, which stops that peer only).
 *
 * A peer is removed alone when its pipeline fails, its ICE or DTLS fails,
 * its browser says BYE or its RTCP stops (rtpbin on-timeout: a vanished
 * browser), it never connects, or on DELETE. PLI/FIR arrive as upstream
 * force-key-unit events at the viewer's fanoutsrc; they go to the mount's
 * keyframe policy instead (mount_request_key_unit).
 *
 * Lifetime: the WebOutput and its peers live on the main context; other
 * threads post closures that look the peer up by id (a peer gone by then
 * is simply not found) and hold the WebOutput through a weak_ptr. */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "fanoutwhepprivate.h"
#include "fanoutlaunch.h"
#include "fanoutwhepoffer.h"

#include <gst/gst.h>
#include <gst/rtp/gstrtpbuffer.h>
#include <gst/sdp/sdp.h>
#include <gst/video/video.h>
#define GST_USE_UNSTABLE_API
#include <gst/webrtc/webrtc.h>
#include <libsoup/soup.h>

#include <cstring>

GST_DEBUG_CATEGORY (fanout_whep_debug);
#define GST_CAT_DEFAULT fanout_whep_debug

namespace gstfanout
{

/* ------------------------------------------------------------------ */
/* Posting to the main context                                        */

struct Posted {
  std::weak_ptr<WebOutput *> w;
  MainFn fn;
};

static gboolean
posted_cb (gpointer data) noexcept
{
  auto *p = static_cast<Posted *> (data);
  if (auto w = p->w.lock ())
    p->fn (*w);
  return G_SOURCE_REMOVE;
}

static void
posted_free (gpointer data) noexcept
{
  delete static_cast<Posted *> (data);
}

/* Runs @fn on the main context later (never at once, even there). */
void
post (WebOutput *w, MainFn fn) noexcept
{
  try {
    auto *p = new Posted{ w->self, std::move (fn) };
    GSource *src = g_idle_source_new ();
    g_source_set_callback (src, posted_cb, p, posted_free);
    g_source_attach (src, w->s->context);
    g_source_unref (src);
  } catch (...) {
    GST_ERROR ("out of memory posting to the main context");
  }
}

/* Same from a thread that has only the weak reference. */
void
post_weak (const std::weak_ptr<WebOutput *> &wk, MainFn fn) noexcept
{
  if (auto w = wk.lock ())
    post (*w, std::move (fn));
}

/* ------------------------------------------------------------------ */
/* Mounts                                                              */

const char *
browser_encoding (Codec c) noexcept
{
  switch (c) {
  case Codec::H264:
    return "H264";
  case Codec::Vp8:
    return "VP8";
  default:
    return "";
  }
}

static gboolean
add_buffer_size (GstBuffer **buf, guint, gpointer data) noexcept
{
  *static_cast<gsize *> (data) += gst_buffer_get_size (*buf);
  return TRUE;
}

static GstPadProbeReturn
count_bytes_probe (GstPad *, GstPadProbeInfo *info, gpointer data) noexcept
{
  gsize n = 0;
  if (info->type & GST_PAD_PROBE_TYPE_BUFFER)
    n = gst_buffer_get_size (GST_PAD_PROBE_INFO_BUFFER (info));
  else if (info->type & GST_PAD_PROBE_TYPE_BUFFER_LIST)
    gst_buffer_list_foreach (GST_PAD_PROBE_INFO_BUFFER_LIST (info),
                             add_buffer_size, &n);
  static_cast<WebMount *> (data)->bytes.fetch_add (
      n, std::memory_order_relaxed); /* counter */
  return GST_PAD_PROBE_OK;
}

/* The bus of a mount's shared payloading (video or audio: the pipeline is
 * named for what it payloads). */
static gboolean
pay_bus_cb (GstBus *, GstMessage *msg, gpointer data) noexcept
{
  auto *wm = static_cast<WebMount *> (data);
  GstObject *top = GST_MESSAGE_SRC (msg)
                       ? GST_OBJECT (gst_object_ref (GST_MESSAGE_SRC (msg)))
                       : nullptr;
  while (top) {
    GstObject *up = gst_object_get_parent (top);
    if (!up)
      break;
    gst_object_unref (top);
    top = up;
  }
  switch (GST_MESSAGE_TYPE (msg)) {
  case GST_MESSAGE_ERROR: {
    GError *err = nullptr;
    gst_message_parse_error (msg, &err, nullptr);
    GST_WARNING ("mount %s: %s failed: %s", wm->m->cfg.path.c_str (),
                 top ? GST_OBJECT_NAME (top) : "WebRTC payloading",
                 err ? err->message : "?");
    g_clear_error (&err);
    break;
  }
  case GST_MESSAGE_LATENCY:
    if (top && GST_IS_BIN (top))
      gst_bin_recalculate_latency (GST_BIN (top));
    break;
  default:
    break;
  }
  if (top)
    gst_object_unref (top);
  return G_SOURCE_CONTINUE;
}

/* Builds and starts a shared payloading of @wm from @d (its writer named
 * "ring", its bytes counted), named @name, its bus watched on the server
 * context. Server context. */
static bool
start_payloading (WebOutput *w, WebMount *wm, const std::string &d,
                  const char *name, GstElement **pay, GSource **bus_source,
                  std::string *why)
{
  GError *err = nullptr;
  GstElement *p = gst_parse_launch (d.c_str (), &err);
  if (!p) {
    *why = err ? err->message : std::string ("cannot build the ") + name;
    g_clear_error (&err);
    return false;
  }
  g_clear_error (&err);
  gst_object_set_name (GST_OBJECT (p), name);
  GstElement *ring = gst_bin_get_by_name (GST_BIN (p), "ring");
  GstPad *rpad = gst_element_get_static_pad (ring, "sink");
  gst_pad_add_probe (rpad,
                     (GstPadProbeType)(GST_PAD_PROBE_TYPE_BUFFER
                                       | GST_PAD_PROBE_TYPE_BUFFER_LIST),
                     count_bytes_probe, wm, nullptr);
  gst_object_unref (rpad);
  gst_object_unref (ring);
  GstBus *bus = gst_element_get_bus (p);
  *bus_source = gst_bus_create_watch (bus);
  gst_object_unref (bus);
  g_source_set_callback (*bus_source, (GSourceFunc)pay_bus_cb, wm, nullptr);
  g_source_attach (*bus_source, w->s->context);
  *pay = p;
  if (gst_element_set_state (p, GST_STATE_PLAYING)
      == GST_STATE_CHANGE_FAILURE) {
    *why = std::string ("the ") + name + " pipeline does not start";
    return false;
  }
  return true;
}

std::string
pay_desc (const std::string &encoding)
{
  return encoding == "H264" ? "h264parse config-interval=-1 ! rtph264pay pt=96 "
                              "config-interval=-1 aggregate-mode=zero-latency "
                              "mtu=1200"
                            : "rtpvp8pay pt=96 mtu=1200 picture-id-mode=15-bit";
}

/* The mount's shared payloading, started by its first WebRTC viewer and
 * kept (it costs nothing while the encoder is paused). */
bool
web_mount_ensure_pay (WebOutput *w, WebMount *wm, std::string *why) noexcept
{
  if (wm->pay)
    return true;
  std::string pay = pay_desc (wm->encoding);
  /* With audio, the packets keep their capture time (lip sync). */
  std::string d = std::string ("fanoutsrc name=src ")
                  + (web_mount_has_audio (wm) ? "timestamp-mode=clock " : "")
                  + "channel=\"" + wm->m->ring + "\" ! " + pay
                  + " ! fanoutsink name=ring capacity=512 channel=\"" + wm->ring
                  + "\"";
  return start_payloading (w, wm, d, "WebRTC payloading", &wm->pay, &wm->bus,
                           why);
}

bool
web_mount_has_audio (const WebMount *wm) noexcept
{
  return !wm->m->audio_launch.empty ();
}

std::string
audio_pay_desc (const std::string &channel, const GstCaps *caps,
                guint bitrate_kbps, const std::string &ring)
{
  const GstStructure *st = caps && gst_caps_get_size (caps) > 0
                               ? gst_caps_get_structure (caps, 0)
                               : nullptr;
  const char *name = st ? gst_structure_get_name (st) : "";
  std::string d = reader_desc (channel, "asrc", true) + " ! ";
  if (!g_str_equal (name, "audio/x-opus"))
    d += opus_encode_chain (caps, bitrate_kbps) + " ! ";
  return d + "rtpopuspay pt=" + std::to_string (kAudioPt)
         + " mtu=1200 ! fanoutsink name=ring capacity=512 channel=\"" + ring
         + "\"";
}

/* The mount's shared Opus payloading, started by the first WebRTC viewer
 * that takes audio and kept, as the video's. */
bool
web_mount_ensure_audio_pay (WebOutput *w, WebMount *wm,
                            std::string *why) noexcept
{
  if (wm->audio_pay)
    return true;
  std::string d;
  try {
    GstCaps *caps = wm->m->source->runner.get_audio_caps ();
    d = audio_pay_desc (audio_channel (wm->m->source->channel), caps,
                        wm->m->cfg.audio_bitrate, wm->audio_ring);
    if (caps)
      gst_caps_unref (caps);
  } catch (...) {
    *why = "out of memory";
    return false;
  }
  GST_DEBUG ("mount %s: WebRTC audio: %s", wm->m->cfg.path.c_str (),
             d.c_str ());
  return start_payloading (w, wm, d, "WebRTC audio payloading", &wm->audio_pay,
                           &wm->audio_bus, why);
}

WebMount *
find_web_mount (WebOutput *w, const std::string &path) noexcept
{
  for (auto &wm : w->mounts)
    if (wm->m->cfg.path == path)
      return wm.get ();
  return nullptr;
}

/* ------------------------------------------------------------------ */
/* HTTP routing                                                        */

static void
web_http_cb (SoupServer *, SoupServerMessage *msg, const char *path,
             GHashTable *, gpointer data) noexcept
{
  auto *w = static_cast<WebOutput *> (data);
  const char *method = soup_server_message_get_method (msg);
  std::string p = path;
  bool get = g_str_equal (method, "GET") || g_str_equal (method, "HEAD");
  SoupMessageHeaders *resp = soup_server_message_get_response_headers (msg);
  if (p == "/" || p == "/index.html") {
    if (!get) {
      reply_text (msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "GET only");
      return;
    }
    /* The URLs on the page name the host the browser used. */
    const char *hh = soup_message_headers_get_one (
        soup_server_message_get_request_headers (msg), "Host");
    std::string host = hh ? hh : "";
    if (!host.empty () && host.back () != ']') {
      size_t colon = host.rfind (':');
      if (colon != std::string::npos)
        host.resize (colon);
    }
    for (char c : host)
      if (!g_ascii_isalnum (c) && !strchr (".-:[]", c)) {
        host.clear (); /* not a host name: the page says HOST */
        break;
      }
    std::string html;
    try {
      html = status_page_html (*w->s, w, host);
    } catch (...) {
      reply_text (msg, SOUP_STATUS_INTERNAL_SERVER_ERROR, "out of memory");
      return;
    }
    soup_message_headers_replace (resp, "Cache-Control", "no-store");
    soup_server_message_set_status (msg, SOUP_STATUS_OK, nullptr);
    soup_server_message_set_response (msg, "text/html; charset=utf-8",
                                      SOUP_MEMORY_COPY, html.c_str (),
                                      html.size ());
    return;
  }
  if (p == "/whep.js") {
    const char *js = status_page_script ();
    soup_server_message_set_status (msg, SOUP_STATUS_OK, nullptr);
    soup_server_message_set_response (msg, "text/javascript; charset=utf-8",
                                      SOUP_MEMORY_STATIC, js, strlen (js));
    return;
  }
  /* /PATH/whep and /PATH/whep/ID */
  size_t at = p.rfind ("/whep");
  std::string id;
  if (at != std::string::npos && at > 0 && p.size () > at + 5
      && p[at + 5] == '/') {
    id = p.substr (at + 6);
    p = p.substr (0, at + 5);
  }
  if (p.size () > 5 && p.compare (p.size () - 5, 5, "/whep") == 0) {
    WebMount *wm = find_web_mount (w, p.substr (0, p.size () - 5));
    if (!wm) {
      reply_text (msg, SOUP_STATUS_NOT_FOUND, "no such mount");
      return;
    }
    if (g_str_equal (method, "OPTIONS")) {
      soup_message_headers_replace (resp, "Accept-Post", "application/sdp");
      soup_server_message_set_status (msg, SOUP_STATUS_NO_CONTENT, nullptr);
      return;
    }
    if (id.empty () && g_str_equal (method, "POST")) {
      whep_post (w, wm, msg);
      return;
    }
    if (!id.empty () && g_str_equal (method, "DELETE")) {
      Peer *peer = find_peer (w, id);
      if (!peer || peer->wm != wm) {
        reply_text (msg, SOUP_STATUS_NOT_FOUND, "no such WHEP session");
        return;
      }
      peer_remove (w, id, "DELETE");
      soup_server_message_set_status (msg, SOUP_STATUS_OK, nullptr);
      return;
    }
    /* PATCH (trickle ICE): the answer carries every candidate already. */
    soup_message_headers_replace (resp, "Allow",
                                  id.empty () ? "POST, OPTIONS" : "DELETE");
    reply_text (msg, SOUP_STATUS_METHOD_NOT_ALLOWED,
                "this WHEP endpoint takes POST (offer) and DELETE (session); "
                "no trickle ICE: gather candidates before POST");
    return;
  }
  if (http_out_handle (w->http_out, msg, path))
    return;
  reply_text (msg, SOUP_STATUS_NOT_FOUND,
              "not found: see / for the mounts and their URLs");
}

/* Basic or Digest as the RTSP side, for the browser outputs (not /metrics
 * or /stats, whose access is the operator's business). */
static gboolean
auth_filter (SoupAuthDomain *, SoupServerMessage *msg, gpointer) noexcept
{
  const char *path = g_uri_get_path (soup_server_message_get_uri (msg));
  return !(g_str_equal (path, "/metrics") || g_str_equal (path, "/stats"));
}

static gboolean
basic_cb (SoupAuthDomain *, SoupServerMessage *, const char *user,
          const char *pass, gpointer data) noexcept
{
  auto *w = static_cast<WebOutput *> (data);
  for (auto &[u, pw] : w->s->cfg.users)
    if (u == user && pw == pass)
      return TRUE;
  return FALSE;
}

static char *
digest_cb (SoupAuthDomain *d, SoupServerMessage *, const char *user,
           gpointer data) noexcept
{
  auto *w = static_cast<WebOutput *> (data);
  for (auto &[u, pw] : w->s->cfg.users)
    if (u == user)
      return soup_auth_domain_digest_encode_password (
          user, soup_auth_domain_get_realm (d), pw.c_str ());
  return nullptr;
}

WebOutput *
web_output_start (FanoutServer *fs) noexcept
{
  static gsize once = 0;
  if (g_once_init_enter (&once)) {
    GST_DEBUG_CATEGORY_INIT (fanout_whep_debug, "fanoutwhep", 0,
                             "fanout-rtsp-server WebRTC and HTTP outputs");
    g_once_init_leave (&once, 1);
  }
  Server &s = fs->s;
  auto *w = new WebOutput ();
  w->fs = fs;
  w->s = &s;
  w->self = std::make_shared<WebOutput *> (w);
  w->own_payloader
      = g_strcmp0 (g_getenv ("FANOUT_WHEP_OWN_PAYLOADER"), "1") == 0;
  for (auto &m : s.mounts) {
    auto wm = std::make_unique<WebMount> ();
    wm->m = m.get ();
    wm->ring = m->ring + ":webrtc";
    wm->audio_ring = wm->ring + ":audio";
    wm->encoding = browser_encoding (m->codec);
    w->mounts.push_back (std::move (wm));
  }
  w->http_out = http_out_new (&s);
  if (!s.cfg.users.empty ()) {
    if (s.cfg.basic) {
      w->auth
          = soup_auth_domain_basic_new ("realm", "fanout-rtsp-server", nullptr);
      soup_auth_domain_basic_set_auth_callback (w->auth, basic_cb, w, nullptr);
    } else {
      w->auth = soup_auth_domain_digest_new ("realm", "fanout-rtsp-server",
                                             nullptr);
      soup_auth_domain_digest_set_auth_callback (w->auth, digest_cb, w,
                                                 nullptr);
    }
    soup_auth_domain_add_path (w->auth, "/");
    soup_auth_domain_set_filter (w->auth, auth_filter, nullptr, nullptr);
    soup_server_add_auth_domain (s.http, w->auth);
  }
  soup_server_add_handler (s.http, "/", web_http_cb, w, nullptr);
  w->watchdog = g_timeout_source_new_seconds (kWatchdogS);
  g_source_set_callback (w->watchdog, watchdog_cb, w, nullptr);
  g_source_attach (w->watchdog, s.context);
  return w;
}

void
web_output_mount_ready (WebOutput *w, const Mount *m) noexcept
{
  if (!w)
    return;
  for (auto &wm : w->mounts)
    if (wm->m == m) {
      wm->ring = m->ring + ":webrtc";
      wm->audio_ring = wm->ring + ":audio";
      wm->encoding = browser_encoding (m->codec);
    }
}

void
web_output_stop (WebOutput *w) noexcept
{
  if (!w)
    return;
  if (w->s->http) {
    soup_server_remove_handler (w->s->http, "/");
    if (w->auth)
      soup_server_remove_auth_domain (w->s->http, w->auth);
  }
  if (w->auth)
    g_object_unref (w->auth);
  if (w->watchdog) {
    g_source_destroy (w->watchdog);
    g_source_unref (w->watchdog);
  }
  while (!w->peers.empty ())
    peer_remove (w, w->peers.begin ()->first, "server stopping");
  http_out_free (w->http_out);
  for (auto &wm : w->mounts) {
    if (wm->bus) {
      g_source_destroy (wm->bus);
      g_source_unref (wm->bus);
    }
    if (wm->pay) {
      gst_element_set_state (wm->pay, GST_STATE_NULL);
      gst_object_unref (wm->pay);
    }
    if (wm->audio_bus) {
      g_source_destroy (wm->audio_bus);
      g_source_unref (wm->audio_bus);
    }
    if (wm->audio_pay) {
      gst_element_set_state (wm->audio_pay, GST_STATE_NULL);
      gst_object_unref (wm->audio_pay);
    }
  }
  w->self.reset (); /* closures still posted find nothing */
  delete w;
}

guint
web_output_n_viewers (WebOutput *w, const Mount *m) noexcept
{
  if (!w)
    return 0;
  for (auto &wm : w->mounts)
    if (wm->m == m)
      return wm->viewers.load (std::memory_order_relaxed); /* counter */
  return 0;
}

} // namespace gstfanout

namespace gstfanout
{

guint
web_output_n_http_viewers (WebOutput *w, const Mount *m) noexcept
{
  return w ? http_out_n_viewers (w->http_out, m) : 0;
}

void
web_output_add_stats (WebOutput *w, const Mount *m, JsonBuilder *b) noexcept
{
  guint64 bytes = 0;
  if (w)
    for (auto &wm : w->mounts)
      if (wm->m == m)
        bytes = wm->bytes.load (std::memory_order_relaxed);
  json_builder_set_member_name (b, "webrtc_viewers");
  json_builder_add_int_value (b, web_output_n_viewers (w, m));
  json_builder_set_member_name (b, "webrtc_bytes");
  json_builder_add_int_value (b, (gint64)bytes);
  json_builder_set_member_name (b, "http_viewers");
  json_builder_add_int_value (b, web_output_n_http_viewers (w, m));
}

} // namespace gstfanout
