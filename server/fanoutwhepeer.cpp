/* gst-fanout
 * Copyright (C) 2026 the gst-fanout authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2.1 of the License, or (at your option) any later version.
 */

/* WHEP viewers: one webrtcbin per peer (its own ICE agent and DTLS-SRTP)
 * on the mount's shared payloading, the offer/answer exchange of a POST,
 * PT rewrite, PLI/FIR to the mount's keyframe policy, and removal of a
 * peer that fails or vanishes, alone (fanoutwhepprivate.h). Server
 * context, but for the probes and webrtcbin's signals, which post. */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "fanoutwhepprivate.h"
#include "fanoutwhepoffer.h"

#include <gst/gst.h>
#include <gst/rtp/gstrtpbuffer.h>
#include <gst/sdp/sdp.h>
#include <gst/video/video.h>
#define GST_USE_UNSTABLE_API
#include <gst/webrtc/webrtc.h>
#include <libsoup/soup.h>

#include <cstring>

#define GST_CAT_DEFAULT fanout_whep_debug

namespace gstfanout
{

/* ------------------------------------------------------------------ */
/* Peers                                                               */

void
reply_text (SoupServerMessage *msg, guint status, const char *text) noexcept
{
  soup_server_message_set_status (msg, status, nullptr);
  std::string body = std::string (text) + "\n";
  soup_server_message_set_response (msg, "text/plain; charset=utf-8",
                                    SOUP_MEMORY_COPY, body.c_str (),
                                    body.size ());
}

/* Answers the paused POST (if still pending) and lets it go. */
static void
peer_reply (Peer *p, guint status, const char *type, const std::string &body,
            const char *location) noexcept
{
  if (!p->msg)
    return;
  SoupServerMessage *msg = std::exchange (p->msg, nullptr);
  if (type) {
    soup_server_message_set_status (msg, status, nullptr);
    soup_server_message_set_response (msg, type, SOUP_MEMORY_COPY,
                                      body.c_str (), body.size ());
  } else {
    reply_text (msg, status, body.c_str ());
  }
  if (location) {
    SoupMessageHeaders *h = soup_server_message_get_response_headers (msg);
    soup_message_headers_replace (h, "Location", location);
  }
  soup_server_message_unpause (msg);
  g_object_unref (msg);
}

Peer *
find_peer (WebOutput *w, const std::string &id) noexcept
{
  auto it = w->peers.find (id);
  return it == w->peers.end () ? nullptr : it->second.get ();
}

void
peer_remove (WebOutput *w, const std::string &id, const char *why) noexcept
{
  auto it = w->peers.find (id);
  if (it == w->peers.end ())
    return;
  std::unique_ptr<Peer> p = std::move (it->second);
  w->peers.erase (it);
  if (!w->s->cfg.quiet)
    g_printerr ("webrtc %s: viewer %s of %s left (%s)\n", p->address.c_str (),
                p->id.c_str (), p->wm->m->cfg.path.c_str (), why);
  peer_reply (p.get (), SOUP_STATUS_SERVICE_UNAVAILABLE, nullptr,
              std::string ("the WebRTC session failed: ") + why, nullptr);
  if (p->timer) {
    g_source_destroy (p->timer);
    g_source_unref (p->timer);
  }
  if (p->bus) {
    g_source_destroy (p->bus);
    g_source_unref (p->bus);
  }
  if (p->pipeline) {
    gst_element_set_state (p->pipeline, GST_STATE_NULL);
    gst_object_unref (p->pipeline);
  }
  p->wm->viewers.fetch_sub (1, std::memory_order_relaxed); /* counter */
  if (p->held)
    mount_hold_encoder (p->wm->m, false);
}

static gboolean
peer_bus_cb (GstBus *, GstMessage *msg, gpointer data) noexcept
{
  auto *p = static_cast<Peer *> (data);
  switch (GST_MESSAGE_TYPE (msg)) {
  case GST_MESSAGE_ERROR: {
    GError *err = nullptr;
    gchar *dbg = nullptr;
    gst_message_parse_error (msg, &err, &dbg);
    GST_INFO ("peer %s: %s (%s)", p->id.c_str (), err ? err->message : "?",
              dbg ? dbg : "");
    std::string why = err ? err->message : "pipeline error";
    g_clear_error (&err);
    g_free (dbg);
    auto *wo = static_cast<WebOutput *> (
        g_object_get_data (G_OBJECT (p->pipeline), "fanout-web"));
    std::string id = p->id;
    post (wo, [id, why] (WebOutput *w) { peer_remove (w, id, why.c_str ()); });
    break;
  }
  case GST_MESSAGE_LATENCY:
    gst_bin_recalculate_latency (GST_BIN (p->pipeline));
    break;
  default:
    break;
  }
  return G_SOURCE_CONTINUE;
}

/* Rewrites the PT of this viewer's packets (p->pt != 96). The buffers are
 * shared with every other reader of the ring: making one writable copies
 * the GstBuffer, mapping its header for writing copies only that memory. */
static gboolean
rewrite_pt (GstBuffer **buf, guint, gpointer data) noexcept
{
  guint pt = GPOINTER_TO_UINT (data);
  *buf = gst_buffer_make_writable (*buf);
  GstRTPBuffer rtp = GST_RTP_BUFFER_INIT;
  if (gst_rtp_buffer_map (*buf, GST_MAP_READWRITE, &rtp)) {
    gst_rtp_buffer_set_payload_type (&rtp, (guint8)pt);
    gst_rtp_buffer_unmap (&rtp);
  }
  return TRUE;
}

static GstPadProbeReturn
pt_probe (GstPad *, GstPadProbeInfo *info, gpointer data) noexcept
{
  if (info->type & GST_PAD_PROBE_TYPE_BUFFER) {
    GstBuffer *b = GST_PAD_PROBE_INFO_BUFFER (info);
    rewrite_pt (&b, 0, data);
    info->data = b;
  } else if (info->type & GST_PAD_PROBE_TYPE_BUFFER_LIST) {
    GstBufferList *l = GST_PAD_PROBE_INFO_BUFFER_LIST (info);
    l = gst_buffer_list_make_writable (l);
    gst_buffer_list_foreach (l, rewrite_pt, data);
    info->data = l;
  }
  return GST_PAD_PROBE_OK;
}

/* PLI/FIR from the browser: rtpsession sends force-key-unit upstream. The
 * shared payloading must not see one per viewer: the mount decides. */
static GstPadProbeReturn
key_unit_probe (GstPad *, GstPadProbeInfo *info, gpointer data) noexcept
{
  GstEvent *ev = GST_PAD_PROBE_INFO_EVENT (info);
  if (!gst_video_event_is_force_key_unit (ev))
    return GST_PAD_PROBE_OK;
  mount_request_key_unit (static_cast<Mount *> (data));
  return GST_PAD_PROBE_DROP;
}

/* Drops what the viewer's reader reads until the first keyframe (its
 * first buffer that is not a delta unit; in a list of RTP packets, any),
 * then removes itself. */
static gboolean
is_key (GstBuffer **buf, guint, gpointer data) noexcept
{
  if (GST_BUFFER_FLAG_IS_SET (*buf, GST_BUFFER_FLAG_DELTA_UNIT))
    return TRUE;
  *static_cast<bool *> (data) = true;
  return FALSE;
}

static GstPadProbeReturn
first_key_probe (GstPad *, GstPadProbeInfo *info, gpointer) noexcept
{
  bool key = false;
  if (info->type & GST_PAD_PROBE_TYPE_BUFFER) {
    GstBuffer *b = GST_PAD_PROBE_INFO_BUFFER (info);
    is_key (&b, 0, &key);
  } else if (info->type & GST_PAD_PROBE_TYPE_BUFFER_LIST) {
    gst_buffer_list_foreach (GST_PAD_PROBE_INFO_BUFFER_LIST (info), is_key,
                             &key);
  }
  return key ? GST_PAD_PROBE_REMOVE : GST_PAD_PROBE_DROP;
}

struct PeerRef {
  std::weak_ptr<WebOutput *> w;
  std::string id;
};

static void
peer_ref_free (gpointer data) noexcept
{
  delete static_cast<PeerRef *> (data);
}

static void
peer_fail_async (const PeerRef *r, const char *why) noexcept
{
  std::string id = r->id, wy = why;
  post_weak (r->w,
             [id, wy] (WebOutput *w) { peer_remove (w, id, wy.c_str ()); });
}

/* rtpbin: the browser said BYE, or its RTCP stopped (it vanished). */
static void
rtcp_gone_cb (GstElement *, guint, guint, gpointer data) noexcept
{
  peer_fail_async (static_cast<PeerRef *> (data), "the browser stopped RTCP");
}

static void
rtcp_bye_cb (GstElement *, guint, guint, gpointer data) noexcept
{
  peer_fail_async (static_cast<PeerRef *> (data), "the browser hung up");
}

static void
ice_state_cb (GstElement *webrtc, GParamSpec *, gpointer data) noexcept
{
  auto *r = static_cast<PeerRef *> (data);
  GstWebRTCICEConnectionState st;
  g_object_get (webrtc, "ice-connection-state", &st, nullptr);
  if (st == GST_WEBRTC_ICE_CONNECTION_STATE_FAILED)
    peer_fail_async (r, "ICE failed");
}

static void
conn_state_cb (GstElement *webrtc, GParamSpec *, gpointer data) noexcept
{
  GstWebRTCPeerConnectionState st;
  g_object_get (webrtc, "connection-state", &st, nullptr);
  auto *r = static_cast<PeerRef *> (data);
  if (st == GST_WEBRTC_PEER_CONNECTION_STATE_FAILED) {
    peer_fail_async (r, "DTLS or ICE failed");
  } else if (st == GST_WEBRTC_PEER_CONNECTION_STATE_CONNECTED) {
    /* ICE and DTLS done: from now on the browser talks (RTCP). */
    std::string id = r->id;
    post_weak (r->w, [id] (WebOutput *w) {
      if (Peer *p = find_peer (w, id)) {
        p->connected = true;
        p->last_rx_us.store (g_get_monotonic_time (),
                             std::memory_order_relaxed);
      }
    });
  }
}

static void peer_send_answer (WebOutput *w, const std::string &id) noexcept;

static void
gathering_cb (GstElement *webrtc, GParamSpec *, gpointer data) noexcept
{
  auto *r = static_cast<PeerRef *> (data);
  GstWebRTCICEGatheringState st;
  g_object_get (webrtc, "ice-gathering-state", &st, nullptr);
  if (st != GST_WEBRTC_ICE_GATHERING_STATE_COMPLETE)
    return;
  std::string id = r->id;
  post_weak (r->w, [id] (WebOutput *w) {
    if (Peer *p = find_peer (w, id)) {
      p->gathered = true;
      peer_send_answer (w, id);
    }
  });
}

static void
candidate_cb (GstElement *, guint mline, gchar *cand, gpointer data) noexcept
{
  auto *r = static_cast<PeerRef *> (data);
  if (mline != 0 || !cand || !*cand)
    return;
  std::string id = r->id, c = cand;
  post_weak (r->w, [id, c] (WebOutput *w) {
    if (Peer *p = find_peer (w, id))
      p->candidates.push_back (c);
  });
}

static gboolean
peer_timer_cb (gpointer data) noexcept
{
  auto *r = static_cast<PeerRef *> (data);
  if (auto wp = r->w.lock ()) {
    WebOutput *w = *wp;
    Peer *p = find_peer (w, r->id);
    if (p && p->msg) {
      /* Gathering never said complete: answer with what is there. */
      peer_send_answer (w, r->id);
      return G_SOURCE_CONTINUE; /* now the connect deadline */
    }
    if (p && !p->connected) {
      std::string id = r->id;
      post (w, [id] (WebOutput *w) {
        peer_remove (w, id, "ICE and DTLS did not connect");
      });
    }
  }
  return G_SOURCE_REMOVE;
}

static GstPadProbeReturn
rx_probe (GstPad *, GstPadProbeInfo *, gpointer data) noexcept
{
  static_cast<Peer *> (data)->last_rx_us.store (g_get_monotonic_time (),
                                                std::memory_order_relaxed);
  return GST_PAD_PROBE_OK;
}

/* Every packet the browser sends comes out of a nicesrc inside webrtcbin
 * (made with the transports, when the description is set). */
static void
peer_watch_rx (Peer *p) noexcept
{
  p->last_rx_us.store (g_get_monotonic_time (), std::memory_order_relaxed);
  GstIterator *it = gst_bin_iterate_recurse (GST_BIN (p->webrtc));
  GValue v = G_VALUE_INIT;
  while (gst_iterator_next (it, &v) == GST_ITERATOR_OK) {
    GstElement *e = GST_ELEMENT (g_value_get_object (&v));
    GstElementFactory *f = gst_element_get_factory (e);
    if (f && g_str_equal (GST_OBJECT_NAME (f), "nicesrc")) {
      GstPad *pad = gst_element_get_static_pad (e, "src");
      gst_pad_add_probe (pad,
                         (GstPadProbeType)(GST_PAD_PROBE_TYPE_BUFFER
                                           | GST_PAD_PROBE_TYPE_BUFFER_LIST),
                         rx_probe, p, nullptr);
      gst_object_unref (pad);
    }
    g_value_reset (&v);
  }
  g_value_unset (&v);
  gst_iterator_free (it);
}

gboolean
watchdog_cb (gpointer data) noexcept
{
  auto *w = static_cast<WebOutput *> (data);
  gint64 now = g_get_monotonic_time ();
  std::vector<std::string> silent;
  for (auto &[id, p] : w->peers)
    if (p->connected
        && now - p->last_rx_us.load (std::memory_order_relaxed) > kSilentUs)
      silent.push_back (id);
  for (auto &id : silent)
    peer_remove (w, id, "nothing from the browser for 10 s");
  return G_SOURCE_CONTINUE;
}

/* The candidates go in the first m-section, the transport of the BUNDLE
 * group (max-bundle): with audio it is not the last one, and an inactive
 * or rejected audio m-section should carry none. */
static void
answer_add_candidates (std::string &sdp, const Peer *p)
{
  std::string lines;
  for (auto &c : p->candidates)
    lines += "a=" + c + "\r\n";
  if (p->gathered)
    lines += "a=end-of-candidates\r\n";
  size_t first = sdp.find ("\r\nm=");
  size_t second = first == std::string::npos ? std::string::npos
                                             : sdp.find ("\r\nm=", first + 2);
  if (second == std::string::npos)
    sdp += lines;
  else
    sdp.insert (second + 2, lines);
}

/* The answer with every local candidate gathered, as a WHEP 201. */
static void
peer_send_answer (WebOutput *w, const std::string &id) noexcept
{
  Peer *p = find_peer (w, id);
  if (!p || !p->msg)
    return;
  GstWebRTCSessionDescription *desc = nullptr;
  g_object_get (p->webrtc, "local-description", &desc, nullptr);
  if (!desc) {
    peer_remove (w, id, "no local description");
    return;
  }
  gchar *text = gst_sdp_message_as_text (desc->sdp);
  gst_webrtc_session_description_free (desc);
  std::string sdp = text;
  g_free (text);
  if (sdp.find ("a=candidate:") == std::string::npos)
    answer_add_candidates (sdp, p);
  std::string loc = p->wm->m->cfg.path + "/whep/" + p->id;
  peer_reply (p, SOUP_STATUS_CREATED, "application/sdp", sdp, loc.c_str ());
  peer_watch_rx (p);
  if (!w->s->cfg.quiet) {
    std::string audio
        = p->audio_pt ? ", audio Opus PT " + std::to_string (p->audio_pt) : "";
    g_printerr ("webrtc %s: viewer %s joined %s (PT %u%s)\n",
                p->address.c_str (), p->id.c_str (),
                p->wm->m->cfg.path.c_str (), p->pt, audio.c_str ());
  }
  /* The timer now watches ICE connect. */
  if (p->timer) {
    g_source_destroy (p->timer);
    g_source_unref (p->timer);
  }
  p->timer = g_timeout_source_new_seconds (kConnectTimeoutS);
  g_source_set_callback (p->timer, peer_timer_cb, new PeerRef{ w->self, p->id },
                         peer_ref_free);
  g_source_attach (p->timer, w->s->context);
}

static void
answer_created_cb (GstPromise *promise, gpointer data) noexcept
{
  auto *r = static_cast<PeerRef *> (data);
  const GstStructure *reply = gst_promise_get_reply (promise);
  GstWebRTCSessionDescription *answer = nullptr;
  GError *err = nullptr;
  if (reply) {
    gst_structure_get (reply, "answer", GST_TYPE_WEBRTC_SESSION_DESCRIPTION,
                       &answer, nullptr);
    if (!answer)
      gst_structure_get (reply, "error", G_TYPE_ERROR, &err, nullptr);
  }
  gst_promise_unref (promise);
  std::string id = r->id;
  if (!answer) {
    std::string why = std::string ("cannot answer this offer: ")
                      + (err ? err->message : "no answer");
    g_clear_error (&err);
    post_weak (r->w, [id, why] (WebOutput *w) {
      if (Peer *p = find_peer (w, id))
        peer_reply (p, SOUP_STATUS_BAD_REQUEST, nullptr, why, nullptr);
      peer_remove (w, id, why.c_str ());
    });
    return;
  }
  post_weak (r->w, [id, answer] (WebOutput *w) {
    Peer *p = find_peer (w, id);
    if (p) {
      g_signal_emit_by_name (p->webrtc, "set-local-description", answer,
                             nullptr);
      /* Gathering host candidates takes milliseconds; its "complete"
       * answers at once (gathering_cb), else this deadline. */
      if (p->timer) {
        g_source_destroy (p->timer);
        g_source_unref (p->timer);
      }
      p->timer = g_timeout_source_new (kGatherTimeoutMs);
      g_source_set_callback (p->timer, peer_timer_cb,
                             new PeerRef{ w->self, p->id }, peer_ref_free);
      g_source_attach (p->timer, w->s->context);
    }
    gst_webrtc_session_description_free (answer);
  });
}

/* The sink pad, requested with the caps we send so that its transceiver
 * has a kind before the offer is set (webrtcbin then associates the
 * offer's video m-line with it; a transceiver of unknown kind is passed
 * over, and the answer gets one of webrtcbin's own, inactive). The
 * transceiver sends only, in the browser's payload type. */
static bool
peer_link (Peer *p) noexcept
{
  GstCaps *pc = gst_caps_ref (p->prefs);
  GstPadTemplate *templ = gst_element_get_pad_template (p->webrtc, "sink_%u");
  GstPad *sink = gst_element_request_pad (p->webrtc, templ, nullptr, pc);
  GstWebRTCRTPTransceiver *trans = nullptr;
  if (sink)
    g_object_get (sink, "transceiver", &trans, nullptr);
  if (trans) {
    g_object_set (trans, "direction",
                  GST_WEBRTC_RTP_TRANSCEIVER_DIRECTION_SENDONLY,
                  "codec-preferences", pc, nullptr);
    gst_object_unref (trans);
  }
  gst_caps_unref (pc);
  GstElement *cs = gst_bin_get_by_name (GST_BIN (p->pipeline), "cs");
  GstPad *src = gst_element_get_static_pad (cs, "src");
  bool ok = sink && trans && gst_pad_link (src, sink) == GST_PAD_LINK_OK;
  if (sink)
    gst_object_unref (sink);
  gst_object_unref (src);
  gst_object_unref (cs);
  return ok;
}

static void
remote_set_cb (GstPromise *promise, gpointer data) noexcept
{
  auto *r = static_cast<PeerRef *> (data);
  const GstStructure *reply = gst_promise_get_reply (promise);
  GError *err = nullptr;
  if (reply)
    gst_structure_get (reply, "error", G_TYPE_ERROR, &err, nullptr);
  gst_promise_unref (promise);
  std::string id = r->id;
  if (err) {
    std::string why = std::string ("bad offer: ") + err->message;
    g_clear_error (&err);
    post_weak (r->w, [id, why] (WebOutput *w) {
      if (Peer *p = find_peer (w, id))
        peer_reply (p, SOUP_STATUS_BAD_REQUEST, nullptr, why, nullptr);
      peer_remove (w, id, why.c_str ());
    });
    return;
  }
  std::weak_ptr<WebOutput *> wk = r->w;
  post_weak (wk, [id, wk] (WebOutput *w) {
    Peer *p = find_peer (w, id);
    if (!p)
      return;
    GstPromise *pr = gst_promise_new_with_change_func (
        answer_created_cb, new PeerRef{ wk, id }, peer_ref_free);
    g_signal_emit_by_name (p->webrtc, "create-answer", nullptr, pr);
  });
}

static std::string
client_address (SoupServerMessage *msg) noexcept
{
  GSocketAddress *sa = soup_server_message_get_remote_address (msg);
  if (!sa || !G_IS_INET_SOCKET_ADDRESS (sa))
    return "?";
  gchar *a = g_inet_address_to_string (
      g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (sa)));
  std::string r = a ? a : "?";
  g_free (a);
  return r;
}

/* ICE: the port range (--webrtc-ports); the address the browser reached
 * us on when libnice would not find it by itself (a loopback address, or
 * the one --address names); keepalives that are connectivity checks, so
 * that a vanished browser fails ICE instead of being kept forever. */
static void
peer_setup_ice (WebOutput *w, Peer *p, SoupServerMessage *msg) noexcept
{
  GObject *ice = nullptr;
  g_object_get (p->webrtc, "ice-agent", &ice, nullptr);
  if (!ice)
    return;
  GObjectClass *klass = G_OBJECT_GET_CLASS (ice);
  if (w->s->cfg.webrtc_port_min
      && g_object_class_find_property (klass, "min-rtp-port"))
    g_object_set (ice, "min-rtp-port", w->s->cfg.webrtc_port_min,
                  "max-rtp-port", w->s->cfg.webrtc_port_max, nullptr);
  std::string local;
  const std::string &bind = w->s->cfg.address;
  if (bind != "0.0.0.0" && bind != "::") {
    local = bind;
  } else {
    GSocketAddress *sa = soup_server_message_get_local_address (msg);
    if (sa && G_IS_INET_SOCKET_ADDRESS (sa)) {
      GInetAddress *ia
          = g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (sa));
      if (g_inet_address_get_is_loopback (ia)) {
        gchar *a = g_inet_address_to_string (ia);
        local = a;
        g_free (a);
      }
    }
  }
  if (!local.empty ()) {
    gboolean ok = FALSE;
    g_signal_emit_by_name (ice, "add-local-ip-address", local.c_str (), &ok);
  }
  if (g_object_class_find_property (klass, "agent")) {
    GObject *agent = nullptr;
    g_object_get (ice, "agent", &agent, nullptr);
    if (agent) {
      if (g_object_class_find_property (G_OBJECT_GET_CLASS (agent),
                                        "keepalive-conncheck"))
        g_object_set (agent, "keepalive-conncheck", TRUE, nullptr);
      g_object_unref (agent);
    }
  }
  g_object_unref (ice);
}

/* The offer's audio for @wm (issue 19): its first audio m-line's Opus
 * payload when the mount has audio and the shared Opus payloading runs
 * (started here), else 0: that viewer gets video only, and webrtcbin,
 * which has no transceiver for that m-line, answers it inactive. */
static guint
peer_pick_audio (WebOutput *w, WebMount *wm, const GstSDPMessage *sdp,
                 GstCaps **caps) noexcept
{
  *caps = nullptr;
  if (!web_mount_has_audio (wm) || w->own_payloader)
    return 0;
  const GstSDPMedia *audio = nullptr;
  for (guint i = 0; i < gst_sdp_message_medias_len (sdp) && !audio; i++) {
    const GstSDPMedia *md = gst_sdp_message_get_media (sdp, i);
    if (g_strcmp0 (gst_sdp_media_get_media (md), "audio") == 0)
      audio = md;
  }
  guint pt = audio ? fanout_whep_pick_opus (audio, caps) : 0;
  if (!pt)
    return 0;
  std::string why;
  if (!web_mount_ensure_audio_pay (w, wm, &why)) {
    GST_WARNING ("mount %s: no WebRTC audio: %s", wm->m->cfg.path.c_str (),
                 why.c_str ());
    gst_caps_replace (caps, nullptr);
    return 0;
  }
  return pt;
}

/* The viewer's audio branch: its cursor on the shared Opus packets (clock
 * timestamps, as the video's reader: lip sync), in its browser's PT. */
static std::string
peer_audio_desc (const WebMount *wm, const Peer *p)
{
  return " fanoutsrc name=asrc timestamp-mode=clock request-keyframe=false "
         "channel=\""
         + wm->audio_ring
         + "\" ! capssetter name=acs caps=\"application/x-rtp,payload=(int)"
         + std::to_string (p->audio_pt) + "\"";
}

/* As peer_link, for the audio: a sendonly audio transceiver in the
 * browser's Opus payload type, requested after the video's. */
static bool
peer_link_audio (Peer *p) noexcept
{
  GstPadTemplate *templ = gst_element_get_pad_template (p->webrtc, "sink_%u");
  GstPad *sink
      = gst_element_request_pad (p->webrtc, templ, nullptr, p->audio_prefs);
  GstWebRTCRTPTransceiver *trans = nullptr;
  if (sink)
    g_object_get (sink, "transceiver", &trans, nullptr);
  if (trans) {
    g_object_set (trans, "direction",
                  GST_WEBRTC_RTP_TRANSCEIVER_DIRECTION_SENDONLY,
                  "codec-preferences", p->audio_prefs, nullptr);
    gst_object_unref (trans);
  }
  GstElement *cs = gst_bin_get_by_name (GST_BIN (p->pipeline), "acs");
  GstPad *src = gst_element_get_static_pad (cs, "src");
  if (p->audio_pt != kAudioPt)
    gst_pad_add_probe (src,
                       (GstPadProbeType)(GST_PAD_PROBE_TYPE_BUFFER
                                         | GST_PAD_PROBE_TYPE_BUFFER_LIST),
                       pt_probe, GUINT_TO_POINTER (p->audio_pt), nullptr);
  bool ok = sink && trans && gst_pad_link (src, sink) == GST_PAD_LINK_OK;
  if (sink)
    gst_object_unref (sink);
  gst_object_unref (src);
  gst_object_unref (cs);
  return ok;
}

/* POST /PATH/whep. */
void
whep_post (WebOutput *w, WebMount *wm, SoupServerMessage *msg) noexcept
{
  SoupMessageHeaders *rh = soup_server_message_get_request_headers (msg);
  const char *ctype = soup_message_headers_get_content_type (rh, nullptr);
  if (!ctype || g_ascii_strcasecmp (ctype, "application/sdp") != 0) {
    reply_text (msg, SOUP_STATUS_UNSUPPORTED_MEDIA_TYPE,
                "WHEP takes an SDP offer: POST it with Content-Type: "
                "application/sdp");
    return;
  }
  if (!mount_serving (wm->m)) {
    reply_text (msg, SOUP_STATUS_SERVICE_UNAVAILABLE,
                "the source of this mount is not up yet: try again later");
    return;
  }
  if (wm->encoding.empty ()) {
    gchar *t = g_strdup_printf (
        "mount %s is %s, which browsers do not decode over WebRTC: serve the "
        "source on a mount with codec=h264 (or vp8) for browsers",
        wm->m->cfg.path.c_str (), codec_name (wm->m->codec));
    reply_text (msg, SOUP_STATUS_NOT_ACCEPTABLE, t);
    g_free (t);
    return;
  }
  SoupMessageBody *body = soup_server_message_get_request_body (msg);
  GBytes *bytes = soup_message_body_flatten (body);
  gsize len = 0;
  const char *data = (const char *)g_bytes_get_data (bytes, &len);
  std::string text (data ? data : "", len);
  g_bytes_unref (bytes);
  GstSDPMessage *sdp = nullptr;
  gst_sdp_message_new (&sdp);
  const GstSDPMedia *video = nullptr;
  if (len > 0 && len < kMaxOfferBytes
      && gst_sdp_message_parse_buffer ((const guint8 *)text.data (),
                                       (guint)text.size (), sdp)
             == GST_SDP_OK)
    for (guint i = 0; i < gst_sdp_message_medias_len (sdp); i++) {
      const GstSDPMedia *md = gst_sdp_message_get_media (sdp, i);
      if (g_strcmp0 (gst_sdp_media_get_media (md), "video") == 0) {
        video = md;
        break;
      }
    }
  if (!video || !gst_sdp_message_get_version (sdp)) {
    gst_sdp_message_free (sdp);
    reply_text (msg, SOUP_STATUS_BAD_REQUEST,
                "the offer is not an SDP with a video m-line: send the "
                "browser's createOffer() SDP with a recvonly video "
                "transceiver");
    return;
  }
  GstCaps *prefs = nullptr;
  std::string plid;
  gchar *plid_c = nullptr;
  guint pt = fanout_whep_pick_payload (video, wm->encoding.c_str (), &prefs,
                                       &plid_c);
  if (plid_c)
    plid = plid_c;
  g_free (plid_c);
  if (!pt) {
    gst_sdp_message_free (sdp);
    gchar *t = g_strdup_printf (
        "the offer has no %s%s payload: mount %s sends only that (a browser "
        "without it cannot play this mount)",
        wm->encoding.c_str (),
        wm->encoding == "H264" ? " packetization-mode=1" : "",
        wm->m->cfg.path.c_str ());
    reply_text (msg, SOUP_STATUS_NOT_ACCEPTABLE, t);
    g_free (t);
    return;
  }
  std::string why;
  if (!w->own_payloader && !web_mount_ensure_pay (w, wm, &why)) {
    gst_sdp_message_free (sdp);
    gst_caps_unref (prefs);
    reply_text (msg, SOUP_STATUS_INTERNAL_SERVER_ERROR,
                ("cannot start WebRTC output: " + why).c_str ());
    return;
  }

  /* The viewer's pipeline. */
  auto peer = std::make_unique<Peer> ();
  Peer *p = peer.get ();
  {
    gchar *id = g_strdup_printf ("%" G_GUINT64_FORMAT "-%08x", w->next_id++,
                                 g_random_int ());
    p->id = id;
    g_free (id);
  }
  p->wm = wm;
  p->pt = pt;
  p->prefs = prefs;
  p->address = client_address (msg);
  p->audio_pt = peer_pick_audio (w, wm, sdp, &p->audio_prefs);
  std::string caps = "application/x-rtp,payload=(int)" + std::to_string (pt);
  /* An offer without level-asymmetry-allowed=1 keeps its
   * profile-level-id, and webrtcbin wants the stream to say the same. */
  if (!plid.empty ()
      && plid.find_first_not_of ("0123456789abcdefABCDEF") == std::string::npos)
    caps += ",profile-level-id=(string)" + plid;
  /* An encoding mount's viewer starts at the newest item and waits for the
   * keyframe asked for below (dropping what comes before it): this
   * pipeline runs in real time from where its reader starts, so starting
   * at the ring's newest keyframe (with a long GOP, seconds old) would keep
   * the viewer that far behind live, and every keyframe a PLI brings as
   * late. A copy mount asks nobody: its viewer starts at that keyframe. */
  const bool encodes = !wm->m->encoder.desc.empty ();
  std::string d = std::string ("fanoutsrc name=src start-position=")
                  + (encodes ? "latest" : "latest-keyframe") + " "
                  + (web_mount_has_audio (wm) && !w->own_payloader
                         ? "timestamp-mode=clock "
                         : "")
                  + "channel=\"" + (w->own_payloader ? wm->m->ring : wm->ring)
                  + "\" ! "
                  + (w->own_payloader ? pay_desc (wm->encoding) + " ! " : "")
                  + "capssetter name=cs caps=\"" + caps
                  + "\" webrtcbin name=webrtc bundle-policy=max-bundle"
                  + (p->audio_pt ? peer_audio_desc (wm, p) : "");
  GError *err = nullptr;
  GstElement *pipe = gst_parse_launch (d.c_str (), &err);
  g_clear_error (&err);
  if (!pipe) {
    gst_sdp_message_free (sdp);
    reply_text (msg, SOUP_STATUS_INTERNAL_SERVER_ERROR,
                "cannot build the WebRTC pipeline: is gstreamer1.0-nice "
                "installed?");
    return;
  }
  p->pipeline = pipe;
  g_object_set_data (G_OBJECT (pipe), "fanout-web", w);
  p->webrtc = gst_bin_get_by_name (GST_BIN (pipe), "webrtc");
  gst_object_unref (p->webrtc); /* the pipeline holds it */
  wm->viewers.fetch_add (1, std::memory_order_relaxed); /* counter */
  w->peers[p->id] = std::move (peer);

  GstElement *src = gst_bin_get_by_name (GST_BIN (pipe), "src");
  GstPad *spad = gst_element_get_static_pad (src, "src");
  gst_pad_add_probe (spad, GST_PAD_PROBE_TYPE_EVENT_UPSTREAM, key_unit_probe,
                     wm->m, nullptr);
  if (encodes)
    gst_pad_add_probe (spad,
                       (GstPadProbeType)(GST_PAD_PROBE_TYPE_BUFFER
                                         | GST_PAD_PROBE_TYPE_BUFFER_LIST),
                       first_key_probe, nullptr, nullptr);
  gst_object_unref (spad);
  gst_object_unref (src);
  if (pt != 96) {
    GstElement *cs = gst_bin_get_by_name (GST_BIN (pipe), "cs");
    GstPad *cpad = gst_element_get_static_pad (cs, "src");
    gst_pad_add_probe (cpad,
                       (GstPadProbeType)(GST_PAD_PROBE_TYPE_BUFFER
                                         | GST_PAD_PROBE_TYPE_BUFFER_LIST),
                       pt_probe, GUINT_TO_POINTER (pt), nullptr);
    gst_object_unref (cpad);
    gst_object_unref (cs);
  }

  peer_setup_ice (w, p, msg);
  GClosureNotify unref
      = (GClosureNotify)(void (*) (gpointer, GClosure *))peer_ref_free;
  g_signal_connect_data (
      p->webrtc, "notify::ice-gathering-state", G_CALLBACK (gathering_cb),
      new PeerRef{ w->self, p->id }, unref, (GConnectFlags)0);
  g_signal_connect_data (
      p->webrtc, "on-ice-candidate", G_CALLBACK (candidate_cb),
      new PeerRef{ w->self, p->id }, unref, (GConnectFlags)0);
  g_signal_connect_data (
      p->webrtc, "notify::ice-connection-state", G_CALLBACK (ice_state_cb),
      new PeerRef{ w->self, p->id }, unref, (GConnectFlags)0);
  g_signal_connect_data (
      p->webrtc, "notify::connection-state", G_CALLBACK (conn_state_cb),
      new PeerRef{ w->self, p->id }, unref, (GConnectFlags)0);
  GstElement *rtpbin = gst_bin_get_by_name (GST_BIN (p->webrtc), "rtpbin");
  if (rtpbin) {
    g_signal_connect_data (rtpbin, "on-timeout", G_CALLBACK (rtcp_gone_cb),
                           new PeerRef{ w->self, p->id }, unref,
                           (GConnectFlags)0);
    g_signal_connect_data (rtpbin, "on-bye-ssrc", G_CALLBACK (rtcp_bye_cb),
                           new PeerRef{ w->self, p->id }, unref,
                           (GConnectFlags)0);
    gst_object_unref (rtpbin);
  }

  GstBus *bus = gst_element_get_bus (pipe);
  p->bus = gst_bus_create_watch (bus);
  gst_object_unref (bus);
  g_source_set_callback (p->bus, (GSourceFunc)peer_bus_cb, p, nullptr);
  g_source_attach (p->bus, w->s->context);

  p->msg = SOUP_SERVER_MESSAGE (g_object_ref (msg));
  soup_server_message_pause (msg);
  p->timer = g_timeout_source_new (kAnswerTimeoutMs);
  g_source_set_callback (p->timer, peer_timer_cb, new PeerRef{ w->self, p->id },
                         peer_ref_free);
  g_source_attach (p->timer, w->s->context);

  mount_hold_encoder (wm->m, true);
  p->held = true;
  if (!peer_link (p)) {
    gst_sdp_message_free (sdp);
    peer_remove (w, p->id, "cannot link the stream to webrtcbin");
    return;
  }
  if (p->audio_pt && !peer_link_audio (p)) {
    gst_sdp_message_free (sdp);
    peer_remove (w, p->id, "cannot link the audio to webrtcbin");
    return;
  }
  if (gst_element_set_state (pipe, GST_STATE_PLAYING)
      == GST_STATE_CHANGE_FAILURE) {
    gst_sdp_message_free (sdp);
    peer_remove (w, p->id, "the WebRTC pipeline does not start");
    return;
  }
  mount_request_key_unit (wm->m);
  GstWebRTCSessionDescription *offer
      = gst_webrtc_session_description_new (GST_WEBRTC_SDP_TYPE_OFFER, sdp);
  GstPromise *pr = gst_promise_new_with_change_func (
      remote_set_cb, new PeerRef{ w->self, p->id }, peer_ref_free);
  g_signal_emit_by_name (p->webrtc, "set-remote-description", offer, pr);
  gst_webrtc_session_description_free (offer);
}

} // namespace gstfanout
