/* gst-fanout
 * Copyright (C) 2026 the gst-fanout authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2.1 of the License, or (at your option) any later version.
 */

/* What the WHEP units share (fanoutwhep.cpp: the output, its mounts'
 * shared payloading, HTTP routing; fanoutwhepeer.cpp: one WebRTC viewer
 * each). See fanoutwhep.cpp for the pipelines and lifetimes. All of it is
 * the server context's: other threads post closures (post/post_weak). */

#pragma once

#include "fanouthttpout.h"
#include "fanoutwhep.h"

#include <gst/gst.h>
#include <libsoup/soup.h>

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

GST_DEBUG_CATEGORY_EXTERN (fanout_whep_debug);

namespace gstfanout
{

/* An answer not ready by then is a 503 (ICE gathering of host candidates
 * takes milliseconds; this is for a stuck webrtcbin). */
static const guint kAnswerTimeoutMs = 5000;
/* After the local description is set: the answer goes with the candidates
 * gathered by then if gathering has not said complete. */
static const guint kGatherTimeoutMs = 1000;
/* A peer whose ICE and DTLS have not connected by then is removed (the
 * silence watchdog covers only connected peers: a passive DTLS peer says
 * nothing until our handshake reaches it, which retransmits with backoff). */
static const guint kConnectTimeoutS = 20;
static const guint kMaxOfferBytes = 64 * 1024;
/* A browser sends RTCP (receiver reports, transport-cc) several times a
 * second: a peer silent for kSilentS has vanished (closed laptop, killed
 * browser: no DELETE, no BYE). */
static const guint kWatchdogS = 2;
static const gint64 kSilentUs = 10 * G_TIME_SPAN_SECOND;

struct WebMount;

struct Peer {
  std::string id;
  WebMount *wm = nullptr;
  GstElement *pipeline = nullptr; /* owned */
  GstElement *webrtc = nullptr;   /* owned by pipeline */
  GSource *bus = nullptr;
  GSource *timer = nullptr;         /* answer deadline, then connect deadline */
  SoupServerMessage *msg = nullptr; /* paused POST awaiting the answer (ref) */
  guint pt = 96;
  GstCaps *prefs = nullptr; /* the offer's caps for pt */
  ~Peer ()
  {
    gst_caps_replace (&prefs, nullptr);
    gst_caps_replace (&audio_prefs, nullptr);
  }
  /* Local ICE candidates gathered so far ("candidate:..."): webrtcbin
   * 1.22 leaves them out of local-description. */
  std::vector<std::string> candidates;
  bool gathered = false;
  bool connected = false;
  /* Monotonic time of the last packet from the browser (RTCP, DTLS,
   * STUN, written by the transport's streaming thread): a timestamp,
   * relaxed, it orders nothing. Read by the watchdog. */
  std::atomic<gint64> last_rx_us{ 0 };
  bool held = false; /* holds the mount's encoder (mount_hold_encoder) */
  std::string address;
  /* Its audio (issue 19): the offer's Opus payload type, 0 for video only
   * (no audio m-line with Opus, or a mount without audio), and that
   * payload's caps (the audio transceiver's codec-preferences). */
  guint audio_pt = 0;
  GstCaps *audio_prefs = nullptr;
};

struct WebMount {
  Mount *m = nullptr;
  std::string ring;          /* RING:webrtc */
  std::string encoding;      /* "H264", "VP8" or "" (not for browsers) */
  GstElement *pay = nullptr; /* the shared payloading (owned) */
  /* RTP bytes it made (its streaming thread): a counter, relaxed. */
  std::atomic<guint64> bytes{ 0 };
  GSource *bus = nullptr;
  /* WebRTC viewers: written on the main context, read by /stats from any
   * thread: a counter, relaxed. */
  std::atomic<guint> viewers{ 0 };
  /* Its audio for WebRTC viewers (issue 19): the shared Opus payloading
   * (web_mount_ensure_audio_pay, owned), its ring (RING:webrtc:audio) and
   * its bus watch. audio_pay == nullptr: not started yet. */
  std::string audio_ring;
  GstElement *audio_pay = nullptr;
  GSource *audio_bus = nullptr;
};

struct WebOutput {
  FanoutServer *fs = nullptr;
  Server *s = nullptr;
  std::vector<std::unique_ptr<WebMount>> mounts;
  std::map<std::string, std::unique_ptr<Peer>> peers;
  SoupAuthDomain *auth = nullptr;
  HttpOut *http_out = nullptr;
  guint64 next_id = 1;
  GSource *watchdog = nullptr; /* every kWatchdogS: vanished browsers */
  /* FANOUT_WHEP_OWN_PAYLOADER=1, for the benchmark's comparison only: each
   * viewer payloads the encode itself (the design this one replaces). */
  bool own_payloader = false;
  /* The owner of this WebOutput; closures posted from other threads hold
   * a weak_ptr to it. */
  std::shared_ptr<WebOutput *> self;
};

using MainFn = std::function<void (WebOutput *)>;

/* Runs @fn on the main context later (never at once, even there). */
void post (WebOutput *w, MainFn fn) noexcept;
/* Same from a thread that has only the weak reference. */
void post_weak (const std::weak_ptr<WebOutput *> &wk, MainFn fn) noexcept;
/* The browser's name for @c ("H264", "VP8"), or nullptr. */
const char *browser_encoding (Codec c) noexcept;
/* The mount's shared payloading, started by its first WebRTC viewer. */
bool web_mount_ensure_pay (WebOutput *w, WebMount *wm,
                           std::string *why) noexcept;
WebMount *find_web_mount (WebOutput *w, const std::string &path) noexcept;
/* The payloader (and parser) of @encoding's shared payloading. */
std::string pay_desc (const std::string &encoding);
/* The payload type of the shared Opus packets (each viewer's copies are
 * rewritten to its browser's, as the video's). */
static const guint kAudioPt = 111;
/* Whether WebRTC viewers of @wm get audio: its mount serves some (not
 * audio=off, the source carries audio). */
bool web_mount_has_audio (const WebMount *wm) noexcept;
/* The shared Opus payloading of a mount whose source's audio has @caps:
 * Opus passed through, anything else decoded (unless raw) and encoded to
 * Opus at @bitrate_kbps, into @ring. Pure string. */
std::string audio_pay_desc (const std::string &channel, const GstCaps *caps,
                            guint bitrate_kbps, const std::string &ring);
/* The mount's shared Opus payloading, started by its first WebRTC viewer
 * whose offer takes audio. */
bool web_mount_ensure_audio_pay (WebOutput *w, WebMount *wm,
                                 std::string *why) noexcept;

/* fanoutwhepeer.cpp */
void reply_text (SoupServerMessage *msg, guint status,
                 const char *text) noexcept;
Peer *find_peer (WebOutput *w, const std::string &id) noexcept;
/* Ends viewer @id (logged with @why) and frees it. */
void peer_remove (WebOutput *w, const std::string &id,
                  const char *why) noexcept;
/* Every kWatchdogS (@data: the WebOutput): removes vanished browsers. */
gboolean watchdog_cb (gpointer data) noexcept;
/* POST /PATH/whep: a new viewer of @wm. */
void whep_post (WebOutput *w, WebMount *wm, SoupServerMessage *msg) noexcept;

} // namespace gstfanout
