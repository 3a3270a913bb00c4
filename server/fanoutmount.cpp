/* gst-fanout
 * Copyright (C) 2026 the gst-fanout authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2.1 of the License, or (at your option) any later version.
 */

/* fanout-rtsp-server: sources and mounts (fanoutmount.h). */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "fanoutmount.h"
#include "fanoutdevices.h"
#include "fanoutlaunch.h"
#include "fanoututil.h"

#include <gst/video/video.h>

#include <chrono>
#include <utility>

#include "gstfanoutraii.h"

#define GST_CAT_DEFAULT fanout_server_debug

namespace gstfanout
{

/* ------------------------------------------------------------------ */
/* Sources                                                             */

std::unique_ptr<Source>
source_new (const ServerEnv *env, const SourceConfig &cfg, GError **error)
{
  auto src = std::make_unique<Source> ();
  SourcePlan plan;
  if (!source_plan (cfg, env->cfg.relay_latency_ms, &plan, error))
    return nullptr;
  src->cfg = cfg;
  src->channel = cfg.name;
  src->device = plan.device;
  src->capacity = plan.capacity;
  src->runner.env = env;
  src->runner.owner = src.get ();
  src->runner.label = "source " + cfg.name;
  src->runner.desc = plan.head;
  src->runner.loop = plan.loop;
  src->audio = plan.audio;
  src->audio_maybe = plan.audio_maybe;
  src->on_demand = plan.on_demand && env->cfg.relay_linger_s > 0;
  return src;
}

static bool
source_prepare_unguarded (Source &s, GError **error)
{
  if (s.prepared)
    return true;
  if (!s.device.empty ()) {
    if (!g_file_test (s.device.c_str (), G_FILE_TEST_EXISTS)) {
      g_set_error (error, FANOUT_SERVER_ERROR, FANOUT_SERVER_ERROR_SOURCE,
                   "camera %s for source %s does not exist: plug it in, or "
                   "pick one from fanout-rtsp-server --list-devices",
                   s.device.c_str (), s.cfg.name.c_str ());
      return false;
    }
    bool h264 = false, jpeg = false;
    if (!camera_probe (s.device, s.cfg.name, &h264, &jpeg, error))
      return false;
    if (h264 || jpeg)
      s.capacity = 512; /* the camera's own encoding: several GOPs */
    s.runner.desc += camera_tail (h264, jpeg);
  }
  s.runner.desc += " ! " + writer_desc (s.channel, s.capacity);
  if (!s.audio.empty ())
    s.runner.desc += " " + s.audio + " ! " + audio_writer_desc (s.channel);
  s.prepared = true;
  return true;
}

bool
source_prepare (Source &s, GError **error) noexcept
{
  return guarded_or_error ("source_prepare", error,
                           [&] { return source_prepare_unguarded (s, error); });
}

/* Logs why the runner is down and when it tries again. A source that has
 * never been up says so in one line (its mounts answer 503 until it is up);
 * retries that fail the same way, or fail on the bus once that line is out,
 * go to the debug log (@from_bus: the pipeline posted the error). */
static void
runner_down_unguarded (Source &self, Runner &r, const char *why, bool from_bus)
{
  Source *src = &self;
  if (!src->up) {
    if (src->down_why == why || (from_bus && !src->down_why.empty ())) {
      GST_INFO ("%s: %s; retrying in %.1f s", r.label.c_str (), why,
                r.backoff_ms / 1000.0);
      return;
    }
    src->down_why = why;
    /* Our own messages name the source already. */
    std::string named = "for " + r.label;
    std::string head = g_str_has_prefix (why, r.label.c_str ())
                               || strstr (why, named.c_str ())
                           ? std::string ()
                           : r.label + " (" + redact (src->cfg.spec) + "): ";
    log_line (r.env,
              "%s%s; not available: retrying in %.1f s (then up to every "
              "%u s), its mounts answer 503 until it is up",
              head.c_str (), redact (why).c_str (), r.backoff_ms / 1000.0,
              kBackoffMaxMs / 1000);
    return;
  }
  runner_log_retry (r, why);
}

void
Source::runner_down (Runner &r, const char *why, bool from_bus) noexcept
{
  guarded ("Source::runner_down", [&] {
    if (up && from_bus) {
      std::string w = redact (why);
      std::lock_guard<std::mutex> g (restart_lock);
      restart_why = std::move (w);
      restart_outcome = "down: restarting";
    }
    runner_down_unguarded (*this, r, why, from_bus);
  });
}

/* ------------------------------------------------------------------ */
/* Sources that come back                                              */

std::string
caps_brief (const GstCaps *caps)
{
  if (!caps || gst_caps_get_size (caps) == 0)
    return "no caps";
  const GstStructure *st = gst_caps_get_structure (caps, 0);
  std::string r = gst_structure_get_name (st);
  gint w = 0, h = 0;
  if (gst_structure_get_int (st, "width", &w)
      && gst_structure_get_int (st, "height", &h))
    r += " " + std::to_string (w) + "x" + std::to_string (h);
  return r;
}

bool
caps_compatible (const GstCaps *before, const GstCaps *now) noexcept
{
  if (!before || !now || gst_caps_get_size (before) == 0
      || gst_caps_get_size (now) == 0)
    return true; /* nothing to compare */
  const GstStructure *a = gst_caps_get_structure (before, 0);
  const GstStructure *b = gst_caps_get_structure (now, 0);
  if (!gst_structure_has_name (b, gst_structure_get_name (a)))
    return false;
  gint aw = 0, ah = 0, bw = 0, bh = 0;
  if (gst_structure_get_int (a, "width", &aw)
      && gst_structure_get_int (a, "height", &ah)
      && gst_structure_get_int (b, "width", &bw)
      && gst_structure_get_int (b, "height", &bh))
    return aw == bw && ah == bh;
  const GValue *ad = gst_structure_get_value (a, "codec_data");
  const GValue *bd = gst_structure_get_value (b, "codec_data");
  return !ad || !bd || gst_value_compare (ad, bd) == GST_VALUE_EQUAL;
}

std::string
caps_change (const GstCaps *before, const GstCaps *now)
{
  std::string a = caps_brief (before), b = caps_brief (now);
  if (a == b)
    return b + " with other parameter sets (SPS/PPS)";
  return b + " instead of " + a;
}

/* A codec=copy mount's source came back with caps @now (its streaming
 * thread, before they enter the ring): new clients get a media for what it
 * carries now (Mount::codec follows on the server context, when the old
 * clients are ended: mount_follow_codec). */
static void
mount_follow_source (Mount *m, const GstCaps *now)
{
  if (!m->encoder.desc.empty () || !mount_serving (m) || !now
      || gst_caps_get_size (now) == 0)
    return;
  const char *name = gst_structure_get_name (gst_caps_get_structure (now, 0));
  Codec c = passthrough_codec (name);
  if (c == Codec::Auto) {
    log_line (m->encoder.env,
              "mount %s: codec=copy cannot serve %s: its new clients fail "
              "until the source carries what it did",
              m->cfg.path.c_str (), name);
    return;
  }
  std::string launch = media_desc (m->ring, c, m->mode, m->audio_launch);
  gchar *cur = gst_rtsp_media_factory_get_launch (m->factory);
  if (!cur || launch != cur)
    gst_rtsp_media_factory_set_launch (m->factory, launch.c_str ());
  g_free (cur);
}

/* The first caps of a restarted run (the source's streaming thread, before
 * they enter the ring): says what came back (log, /stats), points new
 * clients of its codec=copy mounts at it and asks its encoding mounts for
 * a keyframe, so that their clients see the discontinuity, then a
 * keyframe. Each media checks what it reads itself (fanoutmedia.cpp). */
static void
source_back_unguarded (Source &src, Runner &r, const GstCaps *before,
                       const GstCaps *now)
{
  bool same = caps_compatible (before, now);
  if (src.reopened.exchange (false) && same) {
    log_line (r.env, "%s: upstream open again (%s)", r.label.c_str (),
              caps_brief (now).c_str ());
    for (Mount *m : src.mounts)
      if (!m->encoder.desc.empty ())
        m->keys.request (false);
    return;
  }
  std::string outcome
      = same ? "the same stream (" + caps_brief (now) + "): clients stay"
             : caps_change (before, now)
                   + ": clients that cannot follow it are ended";
  log_line (r.env, "%s: back with %s", r.label.c_str (), outcome.c_str ());
  {
    std::lock_guard<std::mutex> g (src.restart_lock);
    src.restart_outcome = outcome;
  }
  for (Mount *m : src.mounts) {
    if (!m->encoder.desc.empty ())
      m->keys.request (false);
    else if (!same)
      mount_follow_source (m, now);
  }
}

void
Source::runner_back (Runner &r, const GstCaps *before,
                     const GstCaps *now) noexcept
{
  guarded ("Source::runner_back",
           [&] { source_back_unguarded (*this, r, before, now); });
}

/* A restart: logged (quietly while the source was never up), then the
 * camera, if any, is looked for again. */
bool
Source::runner_prepare (Runner &r, GError **error) noexcept
{
  if (!up)
    GST_INFO ("%s: attempt %u", r.label.c_str (), r.restarts);
  else
    log_line (r.env, "%s: restarting (attempt %u)", r.label.c_str (),
              r.restarts);
  bool was_prepared = prepared;
  if (!source_prepare (*this, error))
    return false;
  if (!was_prepared && !down_why.empty ()) {
    /* The camera is there now: a failure from here on is news. */
    log_line (r.env, "%s: %s is there now, starting", r.label.c_str (),
              device.c_str ());
    down_why.clear ();
  }
  return true;
}

/* Starts a source and waits for its first buffer (or its error). */
static bool
source_start_and_wait_unguarded (Source &s, GError **error)
{
  if (!runner_start (s.runner, error))
    return false;
  GstBus *bus = gst_element_get_bus (s.runner.pipeline);
  gint64 deadline = g_get_monotonic_time () + kSourceStartTimeoutUs;
  bool ok = false;
  while (g_get_monotonic_time () < deadline) {
    if (s.runner.got_buffer.load (std::memory_order_acquire)) {
      ok = true;
      break;
    }
    GstMessage *m = gst_bus_timed_pop_filtered (
        bus, 20 * GST_MSECOND,
        (GstMessageType)(GST_MESSAGE_ERROR | GST_MESSAGE_EOS));
    if (!m)
      continue;
    if (GST_MESSAGE_TYPE (m) == GST_MESSAGE_ERROR) {
      GError *err = nullptr;
      gchar *dbg = nullptr;
      gst_message_parse_error (m, &err, &dbg);
      GST_DEBUG ("%s: %s (%s)", s.runner.label.c_str (),
                 err ? err->message : "?", dbg ? dbg : "");
      const char *fix = "check the source spec";
      /* A missing plugin is fixed by installing it, not by retrying. */
      int code = FANOUT_SERVER_ERROR_SOURCE;
      if (err && err->domain == GST_CORE_ERROR
          && err->code == GST_CORE_ERROR_MISSING_PLUGIN) {
        fix = "install the missing plugin";
        code = FANOUT_SERVER_ERROR_MISSING;
      } else if (g_str_has_prefix (s.cfg.spec.c_str (), "rtsp"))
        fix = "start that server first or fix the address";
      g_set_error (error, FANOUT_SERVER_ERROR, code,
                   "source %s (%s) failed to start: %s: %s",
                   s.cfg.name.c_str (), redact (s.cfg.spec).c_str (),
                   redact (err ? err->message : "unknown error").c_str (), fix);
      g_clear_error (&err);
      g_free (dbg);
      gst_message_unref (m);
      break;
    }
    g_set_error (error, FANOUT_SERVER_ERROR, FANOUT_SERVER_ERROR_SOURCE,
                 "source %s (%s) ended before its first frame: give a "
                 "source that produces video",
                 s.cfg.name.c_str (), redact (s.cfg.spec).c_str ());
    gst_message_unref (m);
    break;
  }
  gst_object_unref (bus);
  if (!ok && error && !*error)
    g_set_error (error, FANOUT_SERVER_ERROR, FANOUT_SERVER_ERROR_SOURCE,
                 "source %s (%s) produced no frame in %d s: check that it "
                 "is reachable and produces video",
                 s.cfg.name.c_str (), redact (s.cfg.spec).c_str (),
                 (int)(kSourceStartTimeoutUs / G_TIME_SPAN_SECOND));
  if (ok) {
    gint64 first = g_get_monotonic_time ();
    while (!source_audio_settled (s, first))
      g_usleep (20 * G_TIME_SPAN_MILLISECOND);
  }
  return ok;
}

static bool
audio_head_linked (Source &s)
{
  ObjRef<GstElement> p (s.runner.ref_pipeline ());
  if (!p)
    return false;
  GstElement *head = gst_bin_get_by_name (GST_BIN (p.get ()), "audiohead");
  if (!head)
    return false;
  GstPad *pad = gst_element_get_static_pad (head, "sink");
  bool linked = pad && gst_pad_is_linked (pad);
  if (pad)
    gst_object_unref (pad);
  gst_object_unref (head);
  return linked;
}

bool
source_audio_settled (Source &s, gint64 since_us) noexcept
{
  if (s.audio.empty ())
    return true;
  if (GstCaps *c = s.runner.get_audio_caps ()) {
    gst_caps_unref (c);
    return true;
  }
  gint64 waited = g_get_monotonic_time () - since_us;
  bool linked = audio_head_linked (s);
  if (s.audio_maybe && !linked && waited >= kAudioMaybeUs)
    return true; /* upstream has no audio */
  if (waited < kAudioWaitUs)
    return false;
  log_line (s.runner.env,
            "source %s: its audio gave nothing in %d s: its mounts serve "
            "video only",
            s.cfg.name.c_str (), (int)(kAudioWaitUs / G_TIME_SPAN_SECOND));
  return true;
}

bool
source_start_and_wait (Source &s, GError **error) noexcept
{
  return guarded_or_error ("source_start_and_wait", error, [&] {
    return source_start_and_wait_unguarded (s, error);
  });
}

/* ------------------------------------------------------------------ */
/* Relays on demand                                                    */

static gboolean
source_linger_cb (gpointer data) noexcept
{
  auto *s = static_cast<Source *> (data);
  if (!s->up || s->closed)
    return G_SOURCE_CONTINUE;
  if (s->users.load (std::memory_order_relaxed) > 0) {
    s->unused_since_us = 0;
    return G_SOURCE_CONTINUE;
  }
  gint64 now = g_get_monotonic_time ();
  if (!s->unused_since_us) {
    s->unused_since_us = now;
    return G_SOURCE_CONTINUE;
  }
  guint linger = s->runner.env->cfg.relay_linger_s;
  if (now - s->unused_since_us < linger * G_TIME_SPAN_SECOND)
    return G_SOURCE_CONTINUE;
  /* Readers wait through its absence (eos-on-writer-eos=false), as
   * through a restart. */
  runner_stop (s->runner);
  s->closed = true;
  log_line (s->runner.env,
            "source %s: no viewer for %u s, upstream closed (the next viewer "
            "opens it again)",
            s->cfg.name.c_str (), linger);
  return G_SOURCE_CONTINUE;
}

/* A viewer came to a closed source: open its upstream again. A failure is
 * retried with the backoff, as any restart. Server context. */
static gboolean
source_open_cb (gpointer data) noexcept
{
  auto *s = static_cast<Source *> (data);
  if (!s->closed || s->users.load (std::memory_order_relaxed) == 0)
    return G_SOURCE_REMOVE;
  s->closed = false;
  s->unused_since_us = 0;
  s->opens.fetch_add (1, std::memory_order_relaxed);
  s->reopened.store (true);
  log_line (s->runner.env, "source %s: a viewer came, opening upstream",
            s->cfg.name.c_str ());
  GError *err = nullptr;
  if (!runner_start (s->runner, &err)) {
    runner_down (s->runner, err->message, false);
    g_clear_error (&err);
    runner_schedule_retry (s->runner);
  }
  return G_SOURCE_REMOVE;
}

void
source_start_linger (Source &s) noexcept
{
  if (!s.on_demand || s.linger_source)
    return;
  s.linger_source = g_timeout_source_new (1000);
  g_source_set_callback (s.linger_source, source_linger_cb, &s, nullptr);
  g_source_attach (s.linger_source, s.runner.env->context);
}

void
source_stop_linger (Source &s) noexcept
{
  if (GSource *src = std::exchange (s.linger_source, nullptr)) {
    g_source_destroy (src);
    g_source_unref (src);
  }
}

/* A viewer of one of @s's mounts came (any thread, no lock held): a closed
 * source opens on the server context. */
static void
source_used (Source *s) noexcept
{
  if (s->users.fetch_add (1, std::memory_order_relaxed) == 0 && s->on_demand) {
    /* Always dispatched, never run here (g_main_context_invoke may acquire
     * the context from this thread: GLib 2.74 asserted on it in a test). */
    GSource *idle = g_idle_source_new ();
    g_source_set_callback (idle, source_open_cb, s, nullptr);
    g_source_attach (idle, s->runner.env->context);
    g_source_unref (idle);
  }
}

/* ------------------------------------------------------------------ */
/* Mounts                                                              */

std::unique_ptr<Mount>
mount_new (const ServerEnv *env, const MountConfig &cfg, Source *src, Mode mode,
           int max_clients)
{
  auto m = std::make_unique<Mount> (env);
  m->cfg = cfg;
  m->source = src;
  m->mode = mode;
  m->max_clients = max_clients;
  m->encoder.owner = m.get ();
  m->encoder.label = "mount " + cfg.path;
  /* Filled on streaming threads under the lock: never grown there. */
  m->recent_joins.reserve (kMaxRecentJoins);
  m->medias.reserve (kMaxMedias);
  return m;
}

bool
Mount::runner_prepare (Runner &r, GError **) noexcept
{
  log_line (r.env, "%s: restarting (attempt %u)", r.label.c_str (), r.restarts);
  return true;
}

void
Mount::runner_down (Runner &r, const char *why, bool) noexcept
{
  runner_log_retry (r, why);
}

void
Mount::runner_keyframe (Runner &) noexcept
{
  keys.encoded ();
}

void
mount_record_join_locked (Mount *m, double secs) noexcept
{
  guint i = 0;
  while (i < kNumJoinBuckets && secs > kJoinBuckets[i])
    i++;
  m->join_bucket[i]++;
  m->join_count++;
  m->join_sum += secs;
  if (m->recent_joins.size () < kMaxRecentJoins) {
    m->recent_joins.push_back (secs); /* reserved: no allocation */
  } else {
    m->recent_joins[m->recent_next] = secs;
    m->recent_next = (m->recent_next + 1) % kMaxRecentJoins;
  }
}

/* ------------------------------------------------------------------ */
/* Idle saving: an encoding mount without media pauses its encoder.   */

static gboolean
encoder_idle_cb (gpointer data) noexcept
{
  auto *m = static_cast<Mount *> (data);
  std::lock_guard<std::mutex> sl (m->encoder_state_lock);
  bool pause = false;
  {
    std::lock_guard<std::mutex> g (m->lock);
    /* A resume that came first took the source away (and its ref). */
    if (m->idle_source != g_main_current_source ())
      return G_SOURCE_REMOVE;
    g_source_unref (std::exchange (m->idle_source, nullptr));
    pause = m->live_medias == 0 && !m->encoder_paused;
    if (pause) {
      m->encoder_paused = true;
      m->idle_pauses++;
    }
  }
  /* The server context: the one that sets and clears the pipeline. */
  if (pause && m->encoder.pipeline) {
    gst_element_set_state (m->encoder.pipeline, GST_STATE_PAUSED);
    log_line (m->encoder.env, "mount %s: no client for %u s, encoder paused",
              m->cfg.path.c_str (), m->encoder.env->cfg.idle_pause_s);
  }
  return G_SOURCE_REMOVE;
}

/* With m->lock held: the last media went away, pause after the grace. */
static void
encoder_arm_idle_locked (Mount *m) noexcept
{
  guint secs = m->encoder.env->cfg.idle_pause_s;
  if (m->encoder.desc.empty () || !secs || m->live_medias > 0 || m->idle_source
      || m->encoder_paused)
    return;
  m->idle_source = g_timeout_source_new_seconds (secs);
  g_source_set_callback (m->idle_source, encoder_idle_cb, m, nullptr);
  g_source_attach (m->idle_source, m->encoder.env->context);
}

/* The encoder pipeline was started again (it failed): it runs, and pauses
 * again after the grace when it still has no media. */
void
Mount::runner_restarted (Runner &) noexcept
{
  Mount *m = this;
  std::lock_guard<std::mutex> sl (m->encoder_state_lock);
  std::lock_guard<std::mutex> g (m->lock);
  m->encoder_paused = false;
  encoder_arm_idle_locked (m);
}

void
mount_media_added (Mount *m, MediaInfo *mi) noexcept
{
  std::lock_guard<std::mutex> sl (m->encoder_state_lock);
  bool resume = false;
  GSource *idle = nullptr;
  {
    std::lock_guard<std::mutex> g (m->lock);
    m->live_medias++;
    if (mi)
      mi->live = true;
    idle = std::exchange (m->idle_source, nullptr);
    resume = std::exchange (m->encoder_paused, false);
  }
  if (idle) {
    g_source_destroy (idle);
    g_source_unref (idle);
  }
  source_used (m->source);
  if (!resume)
    return;
  ObjRef<GstElement> pipeline (m->encoder.ref_pipeline ());
  if (pipeline) {
    gst_element_set_state (pipeline.get (), GST_STATE_PLAYING);
    log_line (m->encoder.env, "mount %s: client coming, encoder resumed",
              m->cfg.path.c_str ());
  }
}

void
mount_media_gone_locked (Mount *m) noexcept
{
  m->live_medias--;
  /* (an on-demand source closes after its linger: source_linger_cb) */
  m->source->users.fetch_sub (1, std::memory_order_relaxed);
  encoder_arm_idle_locked (m);
}

void
mount_request_key_unit (Mount *m) noexcept
{
  m->keys.request (true);
}

void
mount_wait_fresh_keyframe (Mount *m) noexcept
{
  if (m->encoder.desc.empty ())
    return;
  guint64 mark = m->keys.request (false);
  m->keys.wait_encoded_after (mark, kFreshKeyWaitUs);
}

/* Viewers outside gst-rtsp-server (fanoutwhep.cpp) count as medias. */
void
mount_hold_encoder (Mount *m, bool hold) noexcept
{
  if (hold) {
    mount_media_added (m, nullptr);
    return;
  }
  std::lock_guard<std::mutex> g (m->lock);
  mount_media_gone_locked (m);
}

/* The sender's join callback: an isolated client's first frame is out. */
static void
sender_join_cb (gpointer data, double secs) noexcept
{
  auto *m = static_cast<Mount *> (data);
  std::lock_guard<std::mutex> g (m->lock);
  mount_record_join_locked (m, secs);
}

/* "opus", "aac", "pcma" ... and whether the mount encodes it. */
static std::string
audio_brief (const GstStructure *st, const std::string &launch)
{
  if (launch.find ("opusenc") != std::string::npos)
    return "opus (encoded from "
           + std::string (st ? gst_structure_get_name (st) : "?") + ")";
  if (launch.find ("rtpopuspay") != std::string::npos)
    return "opus";
  if (launch.find ("rtpmp4gpay") != std::string::npos)
    return "aac";
  if (launch.find ("rtppcmapay") != std::string::npos)
    return "pcma";
  return "pcmu";
}

static bool
mount_complete_unguarded (Mount &m, GError **error)
{
  GstCaps *caps = m.source->runner.get_caps ();
  const GstStructure *st = caps && gst_caps_get_size (caps) > 0
                               ? gst_caps_get_structure (caps, 0)
                               : nullptr;
  const char *name = st ? gst_structure_get_name (st) : "";
  bool raw = g_str_has_prefix (name, "video/x-raw");
  Codec passthrough = passthrough_codec (name);
  gint fn = 0, fd = 1;
  guint src_fps = 0;
  if (st && gst_structure_get_fraction (st, "framerate", &fn, &fd) && fd > 0
      && fn > 0)
    src_fps = (guint)MAX (1, fn / fd);

  /* A mount serves video: a source without any (audio only, data) would
   * give clients an SDP they cannot play. */
  if (st && !g_str_has_prefix (name, "video/")
      && !g_str_has_prefix (name, "image/")) {
    gchar *cs = caps ? gst_caps_to_string (caps) : g_strdup ("no caps");
    g_set_error (error, FANOUT_SERVER_ERROR, FANOUT_SERVER_ERROR_USAGE,
                 "mount %s: source %s carries no video (%s): a mount serves "
                 "a video source; point it at one, or add video to the "
                 "launch: pipeline",
                 m.cfg.path.c_str (), m.source->cfg.name.c_str (), cs);
    g_free (cs);
    if (caps)
      gst_caps_unref (caps);
    return false;
  }
  /* Its audio (pay1), captured once with the video. */
  GstCaps *acaps = m.cfg.audio == Audio::Off
                       ? nullptr
                       : m.source->runner.get_audio_caps ();
  if (acaps) {
    m.audio_launch = audio_media_desc (m.cfg, audio_channel (m.source->channel),
                                       acaps, error);
    const GstStructure *ast = gst_caps_get_size (acaps)
                                  ? gst_caps_get_structure (acaps, 0)
                                  : nullptr;
    m.audio_name = audio_brief (ast, m.audio_launch);
    gst_caps_unref (acaps);
    if (m.audio_launch.empty ()) {
      if (caps)
        gst_caps_unref (caps);
      return false;
    }
  }
  m.codec = m.cfg.codec;
  if (m.codec == Codec::Auto)
    m.codec = (passthrough != Codec::Auto && !m.cfg.width && !m.cfg.fps)
                  ? Codec::Copy
                  : Codec::H264;
  if (m.codec == Codec::Copy) {
    if (passthrough == Codec::Auto) {
      gchar *cs = caps ? gst_caps_to_string (caps) : g_strdup ("no caps");
      g_set_error (error, FANOUT_SERVER_ERROR, FANOUT_SERVER_ERROR_USAGE,
                   "mount %s: codec=copy cannot serve source %s, which "
                   "carries %s: pick codec=h264, h265, mjpeg or vp8",
                   m.cfg.path.c_str (), m.source->cfg.name.c_str (), cs);
      g_free (cs);
      if (caps)
        gst_caps_unref (caps);
      return false;
    }
    m.ring = m.source->channel;
    m.media_launch = media_desc (m.ring, passthrough, m.mode, m.audio_launch);
    m.codec = passthrough;
  } else {
    m.ring = m.source->channel + ":" + m.cfg.path;
    /* With audio, frames keep their capture time through the encoder, as
     * the audio does (timestamp-mode=clock): lip sync. */
    m.encoder.desc = encoder_desc (m.cfg, m.codec, m.source->channel, raw,
                                   src_fps, m.ring, !m.audio_launch.empty ());
    /* (its idle pause then keeps the clock mapping) */
    m.encoder.fixed_base = !m.audio_launch.empty ();
    m.media_launch = media_desc (m.ring, m.codec, m.mode, m.audio_launch);
    if (!runner_start (m.encoder, error)) {
      if (caps)
        gst_caps_unref (caps);
      return false;
    }
    std::lock_guard<std::mutex> g (m.lock);
    encoder_arm_idle_locked (&m);
  }
  if (caps)
    gst_caps_unref (caps);

  if (m.mode == Mode::Isolated) {
    /* One media payloads each frame once; the sender gives every client
     * its own cursor on those frames (fanoutsender.h). */
    guint cap = m.encoder.desc.empty () ? m.source->capacity
                                        : mount_ring_capacity (m.cfg, src_fps);
    std::string why;
    auto sender
        = Sender::create (m.cfg.path, cap, &m.keys, sender_join_cb, &m, &why);
    if (!sender) {
      g_set_error (error, FANOUT_SERVER_ERROR, FANOUT_SERVER_ERROR_USAGE,
                   "mount %s: cannot start isolated delivery (%s): use "
                   "mode=shared",
                   m.cfg.path.c_str (), why.c_str ());
      return false;
    }
    /* Under the mount's lock: a mount whose source came up late is
     * completed while session_removed_cb may run on a client thread. */
    std::lock_guard<std::mutex> g (m.lock);
    m.sender = std::move (sender);
  }
  /* Last: the fields above are written before a client thread can build a
   * media (the factory's lock orders them). */
  gst_rtsp_media_factory_set_launch (m.factory, m.media_launch.c_str ());
  return true;
}

bool
mount_complete (Mount &m, GError **error) noexcept
{
  return guarded_or_error ("mount_complete", error,
                           [&] { return mount_complete_unguarded (m, error); });
}

bool
mount_serving (Mount *m) noexcept
{
  if (!m->factory)
    return false;
  gchar *launch = gst_rtsp_media_factory_get_launch (m->factory);
  bool serving = launch != nullptr;
  g_free (launch);
  return serving;
}

/* A codec=copy mount's codec follows what its source carries now (see
 * mount_follow_source). Server context. */
static void
mount_follow_codec (Mount *m)
{
  if (!m->encoder.desc.empty ())
    return;
  GstCaps *caps = m->source->runner.get_caps ();
  Codec c = caps && gst_caps_get_size (caps) ? passthrough_codec (
                gst_structure_get_name (gst_caps_get_structure (caps, 0)))
                                             : Codec::Auto;
  if (caps)
    gst_caps_unref (caps);
  if (c == Codec::Auto || c == m->codec)
    return;
  m->codec = c;
  m->media_launch = media_desc (m->ring, c, m->mode, m->audio_launch);
  log_line (m->encoder.env, "mount %s: now passes %s through",
            m->cfg.path.c_str (), codec_name (c));
}

static void
mount_end_clients_unguarded (Mount *m)
{
  gint64 before;
  std::string why;
  {
    std::lock_guard<std::mutex> g (m->lock);
    if (m->end_clients != g_main_current_source ())
      return;
    g_source_unref (std::exchange (m->end_clients, nullptr));
    before = m->ended_at_us;
    why = m->ended_why;
  }
  mount_follow_codec (m);
  const ServerEnv *env = m->encoder.env;
  guint n
      = env->end_mount_sessions ? env->end_mount_sessions (env, m, before) : 0;
  log_line (env, "mount %s: its clients ended (%s), %u connections closed",
            m->cfg.path.c_str (), why.c_str (), n);
  std::lock_guard<std::mutex> g (m->source->restart_lock);
  m->source->restart_outcome
      += "; mount " + m->cfg.path + ": its clients ended";
}

static gboolean
mount_end_clients_cb (gpointer data) noexcept
{
  guarded ("mount_end_clients_cb",
           [&] { mount_end_clients_unguarded (static_cast<Mount *> (data)); });
  return G_SOURCE_REMOVE;
}

void
mount_schedule_end_clients (Mount *m, const std::string &why) noexcept
{
  std::lock_guard<std::mutex> g (m->lock);
  m->ended_at_us = g_get_monotonic_time ();
  try {
    m->ended_why = why;
  } catch (const std::bad_alloc &) {
  }
  if (m->end_clients)
    return;
  m->end_clients = g_timeout_source_new (kEndClientsGraceMs);
  g_source_set_callback (m->end_clients, mount_end_clients_cb, m, nullptr);
  g_source_attach (m->end_clients, m->encoder.env->context);
}

void
mount_stop (Mount &m) noexcept
{
  GSource *idle = nullptr, *end = nullptr;
  {
    std::lock_guard<std::mutex> g (m.lock);
    idle = std::exchange (m.idle_source, nullptr);
    end = std::exchange (m.end_clients, nullptr);
  }
  for (GSource *src : { idle, end })
    if (src) {
      g_source_destroy (src);
      g_source_unref (src);
    }
  m.keys.stop ();
  if (m.sender)
    m.sender->stop ();
  runner_stop (m.encoder);
}

} // namespace gstfanout
