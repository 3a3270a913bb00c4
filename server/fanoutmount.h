/* gst-fanout
 * Copyright (C) 2026 the gst-fanout authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2.1 of the License, or (at your option) any later version.
 */

/* Sources and mounts: what the server captures once (Source: its
 * restartable pipeline and whether it is up) and what it serves (Mount: the
 * codec, encoder and media description built from the source, idle pause,
 * the keyframe policy, join statistics, and the medias of the mount).
 *
 * Owners: the server holds them (fanout_server_new, freed with it); a
 * Source's and a Mount's fields are the server context's unless a comment
 * says otherwise. Locks, in order: Server::lock (fanoutserverprivate.h),
 * Mount::encoder_state_lock, Mount::lock, then the sender's own. Nothing
 * calls out (state change, event, signal) while holding Mount::lock. */

#pragma once

#include "fanoutconfig.h"
#include "fanoutenv.h"
#include "fanoutkeyunits.h"
#include "fanoutrunner.h"
#include "fanoutsender.h"

#include <gst/gst.h>
#include <gst/rtsp-server/rtsp-server.h>

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

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
static const gint64 kSourceStartTimeoutUs = 15 * G_TIME_SPAN_SECOND;

struct Mount;

struct Source final : RunnerOwner {
  SourceConfig cfg;
  std::string channel; /* = cfg.name */
  Runner runner;
  std::string device; /* v4l2: the camera; "" for other sources */
  /* Its audio branch (SourcePlan::audio; "": video only) and whether it
   * depends on what upstream carries (a relay). */
  std::string audio;
  bool audio_maybe = false;
  /* When a source that was not up at start delivered its first frame
   * (pending_poll_cb waits from then for its audio to settle). */
  gint64 frame_seen_us = 0;
  /* On demand (a relay, --relay-linger > 0): its pipeline runs only while
   * viewers use its mounts. users: the medias and outside viewers of its
   * mounts (any thread; mount_media_added / _gone_locked). The server
   * context owns the rest: closed (the pipeline is stopped for want of
   * viewers), since when nobody used it, the check's timer. */
  bool on_demand = false;
  std::atomic<int> users{ 0 };
  bool closed = false;
  gint64 unused_since_us = 0;
  GSource *linger_source = nullptr;
  std::atomic<guint64> opens{ 0 }; /* times reopened (relaxed counter) */
  /* Set when it opens again, taken by its first caps (runner_back): an
   * open is not a restart. Server context, then its streaming thread. */
  std::atomic<bool> reopened{ false };
  guint capacity = 32; /* ring items (~1 s): raw video unless set otherwise */
  /* prepared: runner.desc is complete (a camera is probed once it is
   * there); up: the source delivered its first frame and its mounts are
   * set up. A source that is not up at start is retried with the runner's
   * backoff; its mounts answer 503 until it is up. */
  bool prepared = false;
  bool up = false;
  std::string down_why; /* the last reason logged while not up */
  /* Its mounts: set by fanout_server_new, never changed after (read by its
   * streaming thread in runner_back). */
  std::vector<Mount *> mounts;
  /* What /stats says of the last restart: why the source went down, and
   * what came back (the same stream: its clients stay; another: clients
   * that cannot follow it are ended). Written by the server context and
   * the source's streaming thread, read by /stats. */
  std::mutex restart_lock; /* protects the two below */
  std::string restart_why, restart_outcome;

  bool runner_prepare (Runner &r, GError **error) noexcept override;
  void runner_restarted (Runner &) noexcept override {}
  void runner_down (Runner &r, const char *why,
                    bool from_bus) noexcept override;
  void runner_keyframe (Runner &) noexcept override {}
  void runner_back (Runner &r, const GstCaps *before,
                    const GstCaps *now) noexcept override;
};

/* Plans source @cfg (a USAGE or MISSING error for a spec that cannot be
 * served): the new source is not started. */
std::unique_ptr<Source> source_new (const ServerEnv *env,
                                    const SourceConfig &cfg, GError **error);
/* Completes the source's pipeline once: a camera must be there (else a
 * SOURCE error: waited for) and is probed (a device that cannot be opened
 * is a MISSING error). */
bool source_prepare (Source &s, GError **error) noexcept;
/* Starts a source and waits for its first buffer (or its error), then
 * for its audio to settle (source_audio_settled). */
bool source_start_and_wait (Source &s, GError **error) noexcept;
/* How long after its first frame a source's audio caps are waited for at
 * most, and a relay's audio when upstream has not linked any. */
static const gint64 kAudioWaitUs = 3 * G_TIME_SPAN_SECOND;
static const gint64 kAudioMaybeUs = 300 * G_TIME_SPAN_MILLISECOND;
/* Whether the audio of a source whose first frame came @since_us is known
 * (its audio writer has caps) or known to be absent: no audio branch, a
 * relay without audio upstream, or none within kAudioWaitUs (logged).
 * Server context. */
bool source_audio_settled (Source &s, gint64 since_us) noexcept;

/* An on-demand source (a relay) closes its upstream --relay-linger s after
 * its last viewer left and opens it again at the next one: starts the
 * check (a 1 s timer on the server context). Server context. */
void source_start_linger (Source &s) noexcept;
/* Stops the check (server stop). */
void source_stop_linger (Source &s) noexcept;

/* One live media of a mount: the probes' user data, owned by the media
 * (fanoutmedia.cpp). */
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
  /* The media ended (its source came back with a stream its clients
   * cannot follow, or its reader ended): it is dead. Set by the streaming
   * thread, read by client threads: release/acquire. */
  std::atomic<bool> ended{ false };
  bool retired = false; /* new clients get another media (Mount::lock) */
  /* Its reader's streaming thread (fanoutmedia.cpp ringsrc_probe): the caps
   * its clients set up with (owned), and whether the next caps start a new
   * run of the source (after a restart) and must match them. */
  GstCaps *caps = nullptr;
  bool check_caps = false;
};

struct Join {
  GstRTSPMedia *media;
  gint64 play_us;
};

struct Mount final : RunnerOwner {
  explicit Mount (const ServerEnv *env) noexcept
      : keys (&encoder, env->cfg.key_unit_interval_ms)
  {
    encoder.env = env;
  }

  MountConfig cfg;
  Source *source = nullptr;
  Codec codec = Codec::H264; /* resolved */
  Mode mode = Mode::Shared;
  int max_clients = 0;
  std::string ring; /* channel the medias read */
  std::string media_launch;
  /* The audio part of media_launch (pay1: audio_media_desc), "": video
   * only; and what it serves, for the log and /stats ("opus"). */
  std::string audio_launch, audio_name;
  Runner encoder; /* empty desc for copy mounts */
  /* The mount's keyframe authority: requests to the encoder, keyframes
   * encoded and published, the waits for them (fanoutkeyunits.h). */
  KeyUnits keys;
  /* In the mount points: a reload that drops the mount unmounts it (new
   * clients get 404), one that names it again remounts. Written on the
   * server context, read by client threads (mount_unavailable_cb):
   * relaxed, it orders nothing (the mount points have their own lock). */
  std::atomic<bool> mounted{ true };
  /* Isolated mounts: every client's own cursor on the payloaded frames.
   * Shared with the medias (MediaInfo), which may outlive the mount. Set
   * under lock by mount_complete. */
  std::shared_ptr<Sender> sender;
  GstRTSPMediaFactory *factory = nullptr; /* fanoutfactory.h */
  /* Counters written by streaming threads, read by /metrics: relaxed, they
   * order nothing. */
  std::atomic<guint64> frames{ 0 }, bytes{ 0 }, keyframes{ 0 };

  std::mutex lock; /* protects everything below */
  int clients = 0;
  std::vector<Join> pending;
  guint64 join_bucket[kNumJoinBuckets + 1] = {};
  guint64 join_count = 0;
  double join_sum = 0.0;
  /* The last kMaxRecentJoins joins, seconds: a ring (reserved once, never
   * grown under the lock), recent_next the next slot. */
  std::vector<double> recent_joins;
  size_t recent_next = 0;
  std::vector<MediaInfo *> medias; /* reserved: see media_prepared_cb */
  guint64 drops_done = 0;          /* from medias gone */
  /* Idle saving: medias from configure to unprepare; with none for the
   * idle grace the encoder pipeline is paused (encoder_paused). */
  int live_medias = 0;
  GSource *idle_source = nullptr;
  bool encoder_paused = false;
  /* Its source came back with a stream its clients cannot follow: the
   * sessions set up before ended_at_us are ended after a grace
   * (mount_schedule_end_clients). */
  GSource *end_clients = nullptr;
  gint64 ended_at_us = 0;
  std::string ended_why;
  guint64 idle_pauses = 0;
  /* Serialises the encoder's pause/resume decisions with their state
   * changes, so that a resume never loses to a late pause. Taken before
   * lock, never while calling into our callbacks. */
  std::mutex encoder_state_lock;

  bool runner_prepare (Runner &r, GError **error) noexcept override;
  void runner_restarted (Runner &r) noexcept override;
  void runner_down (Runner &r, const char *why,
                    bool from_bus) noexcept override;
  void runner_keyframe (Runner &r) noexcept override;
  void runner_back (Runner &, const GstCaps *,
                    const GstCaps *) noexcept override
  {
    /* its medias check what they read (fanoutmedia.cpp) */
  }
};

static const size_t kMaxRecentJoins = 1024;
/* Medias one mount may have listed at once (a media that ended stays until
 * its last client leaves; new clients get a new one). */
static const size_t kMaxMedias = 64;

/* A mount of @src (not complete: no codec or ring yet). */
std::unique_ptr<Mount> mount_new (const ServerEnv *env, const MountConfig &cfg,
                                  Source *src, Mode mode, int max_clients);
/* Builds what the mount serves from what its source carries (it is up):
 * codec, encoder, isolated delivery, then the factory's launch line, which
 * makes the mount serve. Server context. */
bool mount_complete (Mount &m, GError **error) noexcept;
/* The mount serves: its source was up and the mount is complete (its ring
 * and codec are known). Until then viewers are answered 503. Any thread. */
bool mount_serving (Mount *m) noexcept;
/* Stops the mount's timers, sender and encoder (server stop). */
void mount_stop (Mount &m) noexcept;

/* A join took @secs (PLAY to first keyframe out). With m->lock held. */
void mount_record_join_locked (Mount *m, double secs) noexcept;
/* A media of @m is being configured (a client thread): count it and, if
 * the encoder was paused, resume it. */
void mount_media_added (Mount *m, MediaInfo *mi) noexcept;
/* A media of @m went away: with m->lock held; pauses the encoder after
 * the idle grace when it was the last. */
void mount_media_gone_locked (Mount *m) noexcept;

/* For viewers outside gst-rtsp-server (WebRTC, HTTP: fanoutwhep.cpp), any
 * thread: hold (true) keeps the mount's encoder running as a media does;
 * release (false) lets it pause after the idle grace. */
void mount_hold_encoder (Mount *m, bool hold) noexcept;

/* A viewer needs a keyframe (join, PLI/FIR): the mount's keyframe policy
 * (KeyUnits::request, bounded). Any thread. */
void mount_request_key_unit (Mount *m) noexcept;
/* A new media of an encoding mount starts reading its ring at the newest
 * keyframe: make that one fresh (requested now) and wait for it, at most
 * kFreshKeyWaitUs. A client thread. */
void mount_wait_fresh_keyframe (Mount *m) noexcept;

/* Sources that come back: a stream with caps @before can go on with @now
 * (the same media type, and the same size where both give one, else the
 * same parameter sets: a relay's depayloaded H.264 names no size). */
bool caps_compatible (const GstCaps *before, const GstCaps *now) noexcept;
/* @caps for a log line ("video/x-h264 320x240"), and what changed from
 * @before to @now. */
std::string caps_brief (const GstCaps *caps);
std::string caps_change (const GstCaps *before, const GstCaps *now);

/* How long the clients of a media that ended get to see its end (RTCP BYE)
 * before their sessions are ended. */
static const guint kEndClientsGraceMs = 1000;
/* A media of @m ended because its source came back with a stream its
 * clients cannot follow (@why): after kEndClientsGraceMs the sessions set
 * up before now are ended (ServerEnv::end_mount_sessions) and a codec=copy
 * mount passes the new codec through. Any thread. */
void mount_schedule_end_clients (Mount *m, const std::string &why) noexcept;

} // namespace gstfanout
