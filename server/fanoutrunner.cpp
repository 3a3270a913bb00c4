/* gst-fanout
 * Copyright (C) 2026 the gst-fanout authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2.1 of the License, or (at your option) any later version.
 */

/* fanout-rtsp-server: restartable pipelines (fanoutrunner.h). */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "fanoutrunner.h"
#include "fanoututil.h"

#include <utility>

#define GST_CAT_DEFAULT fanout_server_debug

namespace gstfanout
{

static gboolean runner_bus_cb (GstBus *, GstMessage *msg,
                               gpointer data) noexcept;

/* A looping runner's end (the writer's streaming thread): the EOS goes no
 * further (its readers would see the end) and the server context seeks the
 * pipeline back to its start (runner_loop). Not before its first buffer: an
 * input without frames is restarted, with the backoff. */
static bool
loop_at_eos (GstPad *pad, Runner *r) noexcept
{
  if (!r->loop || !r->got_buffer.load (std::memory_order_relaxed))
    return false;
  GstObject *ring = gst_pad_get_parent (pad);
  if (!ring)
    return false;
  /* A bus message: its watch dies with the pipeline, never after it. */
  gst_element_post_message (GST_ELEMENT (ring),
                            gst_message_new_application (
                                ring, gst_structure_new_empty ("fanout-loop")));
  gst_object_unref (ring);
  return true;
}

/* The writer's caps changed: stored; the first ones of a restarted run are
 * compared by the owner with the last run's (runner_back). */
static void
writer_caps (Runner *r, GstCaps *caps) noexcept
{
  GstCaps *before = nullptr;
  {
    std::lock_guard<std::mutex> g (r->caps_lock);
    gst_caps_replace (&r->caps, caps);
    before = std::exchange (r->prev_caps, nullptr);
  }
  if (!before)
    return;
  if (r->owner)
    r->owner->runner_back (*r, before, caps);
  gst_caps_unref (before);
}

static GstPadProbeReturn
writer_probe (GstPad *pad, GstPadProbeInfo *info, gpointer data) noexcept
{
  auto *r = static_cast<Runner *> (data);
  if (info->type & GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM) {
    GstEvent *ev = GST_PAD_PROBE_INFO_EVENT (info);
    if (GST_EVENT_TYPE (ev) == GST_EVENT_EOS && loop_at_eos (pad, r))
      return GST_PAD_PROBE_DROP;
    if (GST_EVENT_TYPE (ev) == GST_EVENT_CAPS) {
      GstCaps *caps = nullptr;
      gst_event_parse_caps (ev, &caps);
      writer_caps (r, caps);
    }
    return GST_PAD_PROBE_OK;
  }
  bool key = true;
  if (info->type & GST_PAD_PROBE_TYPE_BUFFER)
    key = !GST_BUFFER_FLAG_IS_SET (GST_PAD_PROBE_INFO_BUFFER (info),
                                   GST_BUFFER_FLAG_DELTA_UNIT);
  if (key && r->owner)
    r->owner->runner_keyframe (*r);
  /* release: the caps stored above are visible to whoever sees true. */
  if (!r->got_buffer.load (std::memory_order_relaxed))
    r->got_buffer.store (true, std::memory_order_release);
  return GST_PAD_PROBE_OK;
}

/* The audio writer's caps (stored: a mount's media payloads them). */
static GstPadProbeReturn
audio_writer_probe (GstPad *, GstPadProbeInfo *info, gpointer data) noexcept
{
  auto *r = static_cast<Runner *> (data);
  GstEvent *ev = GST_PAD_PROBE_INFO_EVENT (info);
  /* A looping file's audio ends before or after its video: the video's
   * end seeks both back (loop_at_eos), the audio's end goes nowhere. */
  if (GST_EVENT_TYPE (ev) == GST_EVENT_EOS && r->loop)
    return GST_PAD_PROBE_DROP;
  if (GST_EVENT_TYPE (ev) == GST_EVENT_CAPS) {
    GstCaps *caps = nullptr;
    gst_event_parse_caps (ev, &caps);
    std::lock_guard<std::mutex> g (r->caps_lock);
    gst_caps_replace (&r->audio_caps, caps);
  }
  return GST_PAD_PROBE_OK;
}

/* A file's video clocksync ("pace", sync-to-first) chose its offset: the
 * audio's ("audiopace") takes the same, so that both play in step. */
static void
pace_offset_cb (GObject *pace, GParamSpec *, gpointer data) noexcept
{
  gint64 off = 0;
  g_object_get (pace, "ts-offset", &off, nullptr);
  g_object_set (G_OBJECT (data), "ts-offset", off, nullptr);
}

/* Builds and starts the pipeline (no waiting). */
static bool
runner_start_unguarded (Runner &r, GError **error)
{
  GError *err = nullptr;
  GstElement *p = gst_parse_launch_full (r.desc.c_str (), nullptr,
                                         GST_PARSE_FLAG_FATAL_ERRORS, &err);
  if (!p) {
    g_set_error (error, FANOUT_SERVER_ERROR, FANOUT_SERVER_ERROR_USAGE,
                 "%s: pipeline '%s' is not valid (%s): fix the description",
                 r.label.c_str (), redact (r.desc).c_str (),
                 redact (err ? err->message : "?").c_str ());
    g_clear_error (&err);
    return false;
  }
  if (r.fixed_base) {
    GstClock *clock = gst_system_clock_obtain ();
    gst_pipeline_use_clock (GST_PIPELINE (p), clock);
    gst_element_set_start_time (p, GST_CLOCK_TIME_NONE);
    gst_element_set_base_time (p, gst_clock_get_time (clock));
    gst_object_unref (clock);
  }
  r.set_pipeline (p);
  {
    /* A run that delivered is followed by this one: its first caps compare
     * with the last (runner_back); attempts that delivered nothing between
     * them change nothing. */
    std::lock_guard<std::mutex> g (r.caps_lock);
    if (r.got_buffer.load (std::memory_order_acquire))
      gst_caps_replace (&r.prev_caps, r.caps);
  }
  r.got_buffer.store (false, std::memory_order_relaxed); /* no reader yet */
  GstElement *ring = gst_bin_get_by_name (GST_BIN (p), "ring");
  if (ring) {
    GstPad *pad = gst_element_get_static_pad (ring, "sink");
    gst_pad_add_probe (pad,
                       (GstPadProbeType)(GST_PAD_PROBE_TYPE_BUFFER
                                         | GST_PAD_PROBE_TYPE_BUFFER_LIST
                                         | GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM),
                       writer_probe, &r, nullptr);
    gst_object_unref (pad);
    gst_object_unref (ring);
  }
  GstElement *pace = gst_bin_get_by_name (GST_BIN (p), "pace");
  GstElement *apace = gst_bin_get_by_name (GST_BIN (p), "audiopace");
  if (pace && apace)
    /* apace lives as long as the pipeline, which holds pace */
    g_signal_connect (pace, "notify::ts-offset", G_CALLBACK (pace_offset_cb),
                      apace);
  if (pace)
    gst_object_unref (pace);
  if (apace)
    gst_object_unref (apace);
  if (GstElement *aring = gst_bin_get_by_name (GST_BIN (p), "audioring")) {
    GstPad *pad = gst_element_get_static_pad (aring, "sink");
    gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM,
                       audio_writer_probe, &r, nullptr);
    gst_object_unref (pad);
    gst_object_unref (aring);
  }
  GstBus *bus = gst_element_get_bus (p);
  r.bus_source = gst_bus_create_watch (bus);
  g_source_set_callback (
      r.bus_source, (GSourceFunc)(void (*) (void))runner_bus_cb, &r, nullptr);
  g_source_attach (r.bus_source, r.env->context);
  gst_object_unref (bus);
  r.started_us = g_get_monotonic_time ();
  if (gst_element_set_state (p, GST_STATE_PLAYING)
      == GST_STATE_CHANGE_FAILURE) {
    /* The bus holds the reason; the caller reads it. */
    GST_DEBUG_OBJECT (p, "%s: state change failed", r.label.c_str ());
  }
  return true;
}

bool
runner_start (Runner &r, GError **error) noexcept
{
  return guarded_or_error ("runner_start", error,
                           [&] { return runner_start_unguarded (r, error); });
}

void
runner_stop (Runner &r) noexcept
{
  if (r.retry_source) {
    g_source_destroy (r.retry_source);
    g_source_unref (r.retry_source);
    r.retry_source = nullptr;
  }
  if (r.bus_source) {
    g_source_destroy (r.bus_source);
    g_source_unref (r.bus_source);
    r.bus_source = nullptr;
  }
  if (GstElement *p = r.pipeline) {
    r.set_pipeline (nullptr);
    gst_element_set_state (p, GST_STATE_NULL);
    gst_object_unref (p);
  }
}

static gboolean runner_retry_cb (gpointer data) noexcept;

/* Arms the next attempt after the backoff (unless one is armed) and
 * doubles the backoff. */
void
runner_schedule_retry (Runner &r) noexcept
{
  if (!r.retry_source) {
    r.retry_source = g_timeout_source_new (r.backoff_ms);
    g_source_set_callback (r.retry_source, runner_retry_cb, &r, nullptr);
    g_source_attach (r.retry_source, r.env->context);
  }
  r.backoff_ms = MIN (r.backoff_ms * 2, kBackoffMaxMs);
}

static void
runner_log_retry_unguarded (Runner &r, const char *why)
{
  log_line (r.env, "%s: %s; retrying in %.1f s", r.label.c_str (),
            redact (why).c_str (), r.backoff_ms / 1000.0);
}

void
runner_log_retry (Runner &r, const char *why) noexcept
{
  guarded ("runner_log_retry", [&] { runner_log_retry_unguarded (r, why); });
}

void
runner_down (Runner &r, const char *why, bool from_bus) noexcept
{
  if (r.owner)
    r.owner->runner_down (r, why, from_bus);
  else
    runner_log_retry (r, why);
}

static gboolean
runner_retry_cb (gpointer data) noexcept
{
  auto *r = static_cast<Runner *> (data);
  g_source_unref (r->retry_source);
  r->retry_source = nullptr;
  GError *err = nullptr;
  r->restarts++;
  bool ok = r->owner ? r->owner->runner_prepare (*r, &err) : true;
  if (ok)
    ok = runner_start (*r, &err);
  if (!ok) {
    runner_down (*r, err->message, false);
    g_error_free (err);
    runner_schedule_retry (*r);
    return G_SOURCE_REMOVE;
  }
  if (r->owner)
    r->owner->runner_restarted (*r);
  return G_SOURCE_REMOVE;
}

/* The pipeline failed or ended: stop it and try again after the backoff.
 * Its readers do not end (the readers' eos-on-writer-eos=false: see
 * reader_desc): they wait, and read on when it is back. */
void
runner_fail (Runner &r, const char *why) noexcept
{
  if (!r.pipeline)
    return;
  gint64 ran = g_get_monotonic_time () - r.started_us;
  if (r.got_buffer.load (std::memory_order_acquire)
      && ran > 10 * G_TIME_SPAN_SECOND)
    r.backoff_ms = kBackoffMinMs;
  runner_down (r, why, true);
  GSource *keep_retry = r.retry_source;
  r.retry_source = nullptr;
  runner_stop (r);
  r.retry_source = keep_retry;
  runner_schedule_retry (r);
}

/* A looping runner reached the end of its input (loop_at_eos): back to
 * its start with a flushing seek. Its readers see the flush and a new
 * segment, which they map after what they played: clients stay, timestamps
 * go on (clocksync sync-to-first paces it from now). One that cannot seek
 * is restarted. Server context. */
static void
runner_loop (Runner &r) noexcept
{
  GstElement *ring = r.pipeline
                         ? gst_bin_get_by_name (GST_BIN (r.pipeline), "ring")
                         : nullptr;
  if (!ring)
    return;
  /* (the writer has no source pad, so it cannot take a seek itself: the
   * seek goes upstream from its sink pad) */
  GstPad *pad = gst_element_get_static_pad (ring, "sink");
  gboolean seeked = gst_pad_push_event (
      pad, gst_event_new_seek (1.0, GST_FORMAT_TIME, GST_SEEK_FLAG_FLUSH,
                               GST_SEEK_TYPE_SET, 0, GST_SEEK_TYPE_NONE,
                               GST_CLOCK_TIME_NONE));
  gst_object_unref (pad);
  gst_object_unref (ring);
  if (!seeked) {
    runner_fail (r, "ended (cannot seek back to its start to loop)");
    return;
  }
  guint64 n = r.loops.fetch_add (1, std::memory_order_relaxed) + 1;
  log_line (
      r.env,
      "%s: end of its input, looping to its start (loop %" G_GUINT64_FORMAT
      "; clients stay)",
      r.label.c_str (), n);
}

static gboolean
runner_bus_cb (GstBus *, GstMessage *msg, gpointer data) noexcept
{
  auto *r = static_cast<Runner *> (data);
  switch (GST_MESSAGE_TYPE (msg)) {
  case GST_MESSAGE_APPLICATION:
    if (gst_message_has_name (msg, "fanout-loop"))
      runner_loop (*r);
    break;
  case GST_MESSAGE_ERROR: {
    GError *err = nullptr;
    gst_message_parse_error (msg, &err, nullptr);
    gchar *why = g_strdup_printf ("failed: %s", err ? err->message : "?");
    g_clear_error (&err);
    runner_fail (*r, why);
    g_free (why);
    /* The bus source is gone with the pipeline. */
    return G_SOURCE_REMOVE;
  }
  case GST_MESSAGE_EOS:
    /* A file that played to its end is looped at once, not backed off. */
    if (r->got_buffer.load (std::memory_order_acquire))
      r->backoff_ms = kBackoffMinMs;
    runner_fail (*r, "ended");
    return G_SOURCE_REMOVE;
  case GST_MESSAGE_WARNING: {
    GError *err = nullptr;
    gst_message_parse_warning (msg, &err, nullptr);
    GST_WARNING_OBJECT (GST_MESSAGE_SRC (msg), "%s: %s", r->label.c_str (),
                        err ? err->message : "?");
    g_clear_error (&err);
    break;
  }
  default:
    break;
  }
  return G_SOURCE_CONTINUE;
}

} // namespace gstfanout
