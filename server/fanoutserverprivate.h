/* gst-fanout
 * Copyright (C) 2026 the gst-fanout authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2.1 of the License, or (at your option) any later version.
 */

/* Internal types shared by fanoutconfig.cpp, fanoutserver.cpp and
 * fanoutstats.cpp. */

#pragma once

#include "fanoutserver.h"
#include "fanoutsender.h"

#include <gst/gst.h>
#include <gst/rtsp/gstrtsptransport.h>
#include <gst/rtsp-server/rtsp-server.h>
#include <libsoup/soup.h>

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace gstfanout
{

enum class Codec { Auto, H264, H265, Mjpeg, Vp8, Copy };
enum class Mode { Shared, Isolated };

const char *codec_name (Codec c) noexcept;

/* Registers the fanoutpaybin element (fanoutpaybin.cpp) in this process. */
bool pay_bin_register () noexcept;

struct SourceConfig {
  std::string name;
  std::string spec;
  bool operator== (const SourceConfig &) const = default;
};

struct MountConfig {
  std::string path;
  std::string source;
  Codec codec = Codec::Auto;
  guint width = 0, height = 0, fps = 0; /* 0: as the source */
  guint bitrate = 2000;                 /* kbit/s */
  double gop = 2.0;                     /* seconds */
  Mode mode = Mode::Shared;
  bool mode_set = false; /* else the server-wide --mode */
  guint transports = 0;  /* GstRTSPLowerTrans; 0: UDP + TCP */
  int max_clients = -1;  /* -1: the server-wide --max-clients */
  bool operator== (const MountConfig &) const = default;
};

bool config_add_source (FanoutServerConfig *c, const char *arg,
                        GError **error) noexcept;
bool config_add_mount (FanoutServerConfig *c, const char *arg,
                       GError **error) noexcept;

} // namespace gstfanout

struct _FanoutServerConfig {
  std::vector<gstfanout::SourceConfig> sources;
  std::vector<gstfanout::MountConfig> mounts;
  std::string address = "0.0.0.0";
  int port = 8554;
  int http_port = -1; /* -1: no HTTP */
  /* /metrics and /stats listen here: loopback unless asked otherwise. */
  std::string http_address = "127.0.0.1";
  bool stats_addresses = false;  /* client addresses in /stats */
  std::string tls_cert, tls_key; /* RTSPS: PEM files (both or none) */
  gstfanout::Mode mode = gstfanout::Mode::Isolated;
  int max_clients = 0;          /* 0: no limit; counts sessions */
  guint session_timeout_s = 60; /* RTSP session timeout */
  guint idle_pause_s = 5;       /* 0: encoders never pause */
  /* Forced keyframes per mount: at most one per this interval (0: one per
   * join); a joining client starts on a keyframe up to half of it old. */
  guint key_unit_interval_ms = 300;
  /* rtspsrc's jitter-buffer latency for relay sources: how long a missing
   * or late packet is waited for (in-order packets pass at once). */
  guint relay_latency_ms = 200;
  std::vector<std::pair<std::string, std::string>> users;
  bool basic = false;
  std::string mcast_first = "224.3.0.1", mcast_last = "224.3.0.254";
  guint mcast_port_min = 5000, mcast_port_max = 5999;
  bool list_devices = false;
  bool quiet = false;
  guint webrtc_port_min = 0, webrtc_port_max = 0; /* 0: any (ICE) */
  /* Every field: a reload compares the settings (fanout_server_reload). */
  bool operator== (const _FanoutServerConfig &) const = default;
};

/* ---- Server internals (fanoutserver.cpp, fanoutstats.cpp) ---- */

namespace gstfanout
{

/* Join latency histogram bounds, seconds (Prometheus buckets). */
static const double kJoinBuckets[]
    = { 0.033, 0.05, 0.1, 0.15, 0.25, 0.5, 1.0, 2.0, 4.0 };
static const guint kNumJoinBuckets = G_N_ELEMENTS (kJoinBuckets);
/* How long a joining client waits at most for a keyframe asked for it
 * (beyond the key-unit interval's deferral). */
static const gint64 kKeyUnitWaitUs = 500 * G_TIME_SPAN_MILLISECOND;
/* How long a mount's new media waits at most for its first fresh keyframe. */
static const gint64 kFreshKeyWaitUs = 2000 * G_TIME_SPAN_MILLISECOND;
/* fanout_server_stop waits at most this long for clients to close. */
static const gint64 kStopClientsWaitUs = 1000 * G_TIME_SPAN_MILLISECOND;
static const guint kBackoffMinMs = 500, kBackoffMaxMs = 10000;
/* How often sources not up yet are checked for their first frame. */
static const guint kPendingPollMs = 100;
static const gint64 kSourceStartTimeoutUs = 15 * G_TIME_SPAN_SECOND;
/* Largest RTSP request body a client may send (gst-rtsp-server buffers a
 * body whole before handling it). Ours are SET/GET_PARAMETER keep-alives,
 * empty or a few bytes; ANNOUNCE (record) is not served. */
static const guint kMaxRequestBody = 64 * 1024;
/* A shared-mode TCP client whose connection took nothing for this long is
 * disconnected (gst-rtsp-server would keep its session and never serve it
 * again); checked every kStallCheckMs. */
static const gint64 kStallTimeoutUs = 10 * G_TIME_SPAN_SECOND;
static const guint kStallCheckMs = 1000;
/* Sessions one connection may hold at once (players use one per mount). */
static const guint kMaxSessionsPerConnection = 8;
/* The authenticated user's name in a GstRTSPToken. */
static const char *const kTokenUser = "fanout.user";

struct Server;
struct Mount;
struct Source;
struct WebOutput; /* fanoutwhep.h: WHEP, status page, HTTP outputs */

/* ------------------------------------------------------------------ */
/* A pipeline that is restarted with backoff when it fails or ends.   */

struct Runner {
  Server *server = nullptr;
  Mount *mount = nullptr;   /* the mount whose encoder this is, or none */
  Source *source = nullptr; /* the source this captures, or none */
  std::string label;        /* "source cam", "mount /live" */
  std::string desc;         /* gst_parse_launch description */
  /* Set and cleared on the server context, which reads it freely; other
   * threads (clients) take a reference under pipeline_lock. */
  GstElement *pipeline = nullptr;
  std::mutex pipeline_lock;
  GSource *bus_source = nullptr;
  GSource *retry_source = nullptr;
  guint backoff_ms = kBackoffMinMs;
  guint restarts = 0;
  gint64 started_us = 0;
  /* Set by the streaming thread at the writer's first buffer, read by the
   * main context: release/acquire publishes the caps stored before it. */
  std::atomic<bool> got_buffer{ false };
  std::mutex caps_lock; /* protects caps */
  GstCaps *caps = nullptr;
  /* Keyframes the writer received (streaming thread), read by client
   * threads waiting for a fresh one: incremented under kf_lock, which
   * orders it with kf_cond's waiters; relaxed loads elsewhere are
   * counters. */
  std::atomic<guint64> keyframes{ 0 };
  std::mutex kf_lock;
  std::condition_variable kf_cond;

  ~Runner () { gst_caps_replace (&caps, nullptr); }
  /* A reference to the running pipeline, or nullptr: any thread. */
  GstElement *ref_pipeline ()
  {
    std::lock_guard<std::mutex> g (pipeline_lock);
    return pipeline ? GST_ELEMENT (gst_object_ref (pipeline)) : nullptr;
  }
  void set_pipeline (GstElement *p)
  {
    std::lock_guard<std::mutex> g (pipeline_lock);
    pipeline = p;
  }
  GstCaps *get_caps ()
  {
    std::lock_guard<std::mutex> g (caps_lock);
    return caps ? gst_caps_ref (caps) : nullptr;
  }
};

struct Mount;

struct Source {
  SourceConfig cfg;
  std::string channel; /* = cfg.name */
  Runner runner;
  std::string device; /* v4l2 */
  bool v4l2 = false;
  guint capacity = 32; /* ring items (~1 s): raw video unless set otherwise */
  /* Main context only. prepared: runner.desc is complete (a camera is
   * probed once it is there); up: the source delivered its first frame and
   * its mounts are set up. A source that is not up at start is retried
   * with the runner's backoff; its mounts answer 503 until it is up. */
  bool prepared = false;
  bool up = false;
  std::string down_why; /* the last reason logged while not up */
};

/* One live media of a mount: the probes' user data, owned by the media. */
struct MediaInfo {
  Mount *mount;
  GstRTSPMedia *media; /* not owned: valid until unprepared */
  GstElement *ringsrc; /* owned */
  bool live = true;    /* counted in Mount::live_medias (under its lock) */
  /* The frame in the payloader is a keyframe (its streaming thread). */
  bool frame_key = false;
  /* Isolated: the sender this media is attached to (detached when the
   * media unprepares or dies, whichever comes first). */
  std::weak_ptr<Sender> sender;
  /* Its reader saw the source end (EOS: the writer failed or ended): the
   * media is dead, even once the source is back. Set by the streaming
   * thread, read by client threads: release/acquire. */
  std::atomic<bool> ended{ false };
  bool retired = false; /* new clients get another media (Mount::lock) */
};

struct Join {
  GstRTSPMedia *media;
  gint64 play_us;
};

struct Mount {
  MountConfig cfg;
  Source *source = nullptr;
  Codec codec = Codec::H264; /* resolved */
  Mode mode = Mode::Shared;
  int max_clients = 0;
  std::string ring; /* channel the medias read */
  std::string media_launch;
  Runner encoder; /* empty desc for copy mounts */
  /* In the mount points: a reload that drops the mount unmounts it (new
   * clients get 404), one that names it again remounts. Written on the main
   * context, read by client threads (mount_unavailable_cb): relaxed, it
   * orders nothing (the mount points have their own lock). */
  std::atomic<bool> mounted{ true };
  /* Isolated mounts: every client's own cursor on the payloaded frames.
   * Shared with the medias (MediaInfo), which may outlive the mount. */
  std::shared_ptr<Sender> sender;
  GstRTSPMediaFactory *factory = nullptr;
  /* Counters written by streaming threads, read by /metrics: relaxed, they
   * order nothing. */
  std::atomic<guint64> frames{ 0 }, bytes{ 0 }, keyframes{ 0 };
  std::atomic<guint64> key_unit_requests{ 0 };

  std::mutex lock; /* protects everything below */
  int clients = 0;
  gint64 last_key_unit_us = 0;
  guint64 kf_at_request = 0; /* encoder.keyframes when last requested */
  GSource *deferred_key_unit = nullptr; /* a PLAY request waiting its turn */
  std::vector<Join> pending;
  guint64 join_bucket[kNumJoinBuckets + 1] = {};
  guint64 join_count = 0;
  double join_sum = 0.0;
  std::vector<double> recent_joins; /* last 1024, seconds */
  std::vector<MediaInfo *> medias;
  guint64 drops_done = 0; /* from medias gone */
  /* Idle saving: medias from configure to unprepare; with none for
   * kEncoderIdleMs the encoder pipeline is paused (encoder_paused). */
  int live_medias = 0;
  GSource *idle_source = nullptr;
  bool encoder_paused = false;
  guint64 idle_pauses = 0;
  /* Serialises the encoder's pause/resume decisions with their state
   * changes, so that a resume never loses to a late pause. Taken before
   * lock, never while calling into our callbacks. */
  std::mutex encoder_state_lock;
};

/* One RTSP connection. */
struct ClientState {
  Server *server;
  GstRTSPClient *client; /* not owned */
  guint64 id = 0;        /* connection number, never reused */
  std::string address;   /* IP:port */
  gint64 connected_us = 0;
  /* Its socket (owned: its descriptor reads -1 once gst-rtsp-server has
   * closed it) and the stall watch's last look at its send queue (server
   * context, under Server::lock). */
  GSocket *socket = nullptr;
  int stall_outq = -1;
  gint64 stall_since_us = 0;
  ~ClientState ()
  {
    if (socket)
      g_object_unref (socket);
  }
};

/* One RTSP session set up on one mount (a session that sets up two mounts
 * has two): what --max-clients counts and /stats lists. From its first
 * SETUP on the mount to its TEARDOWN, its timeout or its connection's
 * close. */
struct SessionState {
  std::string id; /* the session's id */
  guint64 conn;   /* the connection that set it up (ClientState::id) */
  std::string address, user; /* of that connection; user "" without auth */
  Mount *mount;
  std::string transport = "-";
  gint64 setup_us = 0, play_us = 0;
  guint64 frames_at_play = 0;
  /* Isolated: the session's delivery, and the sender's keyframe count when
   * its SETUP asked the encoder for a fresh one. */
  std::shared_ptr<SenderClient> sent;
  guint64 kf_mark = 0;
};

struct Server {
  FanoutServerConfig cfg;
  GMainContext *context = nullptr;
  GstRTSPServer *rtsp = nullptr;
  GSource *rtsp_source = nullptr;
  GSource *cleanup_source = nullptr; /* expires timed-out sessions */
  GSource *stall_source = nullptr;   /* drops stalled shared TCP clients */
  SoupServer *http = nullptr;
  SoupAuthDomain *http_auth = nullptr; /* with --user */
  GTlsCertificate *tls = nullptr;      /* RTSPS (--tls-cert) */
  guint port = 0, http_port = 0;
  std::vector<std::unique_ptr<Source>> sources;
  std::vector<std::unique_ptr<Mount>> mounts;
  bool started = false;
  /* Polls the sources not up yet for their first frame (main context),
   * while there is one. */
  GSource *pending_source = nullptr;

  /* Protects clients, sessions, owners and next_conn (taken before any
   * Mount::lock). */
  std::mutex lock;
  std::set<ClientState *> clients;
  std::multimap<std::string, SessionState> sessions; /* by session id */
  /* Every session in the pool, by id: the connection that created it. A
   * request naming a session from another connection is refused. */
  std::map<std::string, guint64> owners;
  guint64 next_conn = 1;
  WebOutput *web = nullptr; /* on http; created and freed on context */

  ~Server ()
  {
    if (tls)
      g_object_unref (tls);
  }
};

/* For viewers outside gst-rtsp-server (WebRTC, HTTP: fanoutwhep.cpp), any
 * thread: hold (true) keeps the mount's encoder running as a media does;
 * release (false) lets it pause after the idle grace. */
void mount_hold_encoder (Mount *m, bool hold) noexcept;
/* A viewer needs a keyframe (join, PLI/FIR): the mount's keyframe policy
 * (rate-limited, shared by viewers joining together). Any thread. */
void mount_request_key_unit (Mount *m) noexcept;

/* @s with the secrets it may carry replaced by "***": the password of
 * every URL's user info (rtsp://cam:***@host/) and the values of
 * user-pw=, proxy-pw=, password= settings in launch descriptions. */
std::string redact (const std::string &s);
/* @s fit for one log line: control characters become '?', at most @max
 * bytes. */
std::string log_safe (const char *s, gsize max = 200);
/* The mount serves: its source was up and the mount is complete (its ring
 * and codec are known). Until then viewers are answered 503. Any thread. */
bool mount_serving (Mount *m) noexcept;

/* Reads a numeric property of any integer type, 0 when absent. */
guint64 get_uint_prop (gpointer obj, const char *name) noexcept;
/* The /metrics and /stats handler (@data: the FanoutServer). */
void stats_http_cb (SoupServer *server, SoupServerMessage *msg,
                    const char *path, GHashTable *query,
                    gpointer data) noexcept;

} // namespace gstfanout

struct _FanoutServer {
  gstfanout::Server s;
};
