/* gst-fanout
 * Copyright (C) 2026 the gst-fanout authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2.1 of the License, or (at your option) any later version.
 */

/* A pipeline that is restarted with backoff when it fails or ends: a
 * source's capture, a mount's encoder. What it runs and what a restart
 * means is its owner's (RunnerOwner); the runner only builds, watches,
 * stops and retries.
 *
 * Threads: everything here runs on the server's context (ServerEnv), but
 * ref_pipeline () and get_caps () (any thread) and the writer probe (the
 * writer's streaming thread). */

#pragma once

#include "fanoutenv.h"

#include <gst/gst.h>

#include <atomic>
#include <mutex>
#include <string>

namespace gstfanout
{

static const guint kBackoffMinMs = 500, kBackoffMaxMs = 10000;

struct Runner;

/* What a runner's owner decides for it. Server context, but
 * runner_keyframe (the writer's streaming thread). */
class RunnerOwner
{
public:
  /* Before each restart: complete the description (false with @error:
   * not now, retried after the backoff); logs the attempt. */
  virtual bool runner_prepare (Runner &r, GError **error) noexcept = 0;
  /* A restart's pipeline was built and set to PLAYING. */
  virtual void runner_restarted (Runner &r) noexcept = 0;
  /* The pipeline is down (@why) and is retried after r.backoff_ms: say so
   * (@from_bus: the pipeline posted it). */
  virtual void runner_down (Runner &r, const char *why,
                            bool from_bus) noexcept = 0;
  /* The writer (the element named "ring") received a keyframe. */
  virtual void runner_keyframe (Runner &r) noexcept = 0;
  /* The first caps of a restarted run that had delivered before: @before
   * are the last run's (the writer's streaming thread, before the caps
   * enter the ring). */
  virtual void runner_back (Runner &r, const GstCaps *before,
                            const GstCaps *now) noexcept = 0;

protected:
  ~RunnerOwner () = default;
};

struct Runner {
  const ServerEnv *env = nullptr; /* the server's: settings, context, log */
  RunnerOwner *owner = nullptr;   /* the source or mount this runs for */
  std::string label;              /* "source cam", "mount /live" */
  std::string desc;               /* gst_parse_launch description */
  /* Set and cleared on the server context, which reads it freely; other
   * threads take a reference under pipeline_lock (ref_pipeline). */
  GstElement *pipeline = nullptr;
  std::mutex pipeline_lock;
  /* Server context only. */
  GSource *bus_source = nullptr;
  GSource *retry_source = nullptr;
  guint backoff_ms = kBackoffMinMs;
  guint restarts = 0;
  gint64 started_us = 0;
  /* Set by the streaming thread at the writer's first buffer, read by the
   * server context: release/acquire publishes the caps stored before it. */
  std::atomic<bool> got_buffer{ false };
  std::mutex caps_lock; /* protects caps, prev_caps and audio_caps */
  GstCaps *caps = nullptr;
  /* The caps the audio writer (element "audioring", if any) received
   * last. */
  GstCaps *audio_caps = nullptr;
  /* The caps of the previous run, if it delivered (set at each start): the
   * new run's first caps are compared with them (runner_back). */
  GstCaps *prev_caps = nullptr;
  /* Set by the owner before the first start: at the end of its input (EOS
   * after a frame) the pipeline seeks back to its start instead of being
   * restarted (a file: its readers see no end). loops: how often (relaxed
   * counter, read by /metrics). */
  bool loop = false;
  std::atomic<guint64> loops{ 0 };
  /* Set by the owner before the first start: the pipeline keeps one base
   * time for good (start time NONE), so that a pause (an idle encoder)
   * does not move its running time against the clock: readers in
   * timestamp-mode=clock stay in step with the other channels. */
  bool fixed_base = false;

  ~Runner ()
  {
    gst_caps_replace (&caps, nullptr);
    gst_caps_replace (&prev_caps, nullptr);
    gst_caps_replace (&audio_caps, nullptr);
  }
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
  /* The caps the writer received last (a reference), or nullptr: any
   * thread. */
  GstCaps *get_caps ()
  {
    std::lock_guard<std::mutex> g (caps_lock);
    return caps ? gst_caps_ref (caps) : nullptr;
  }
  /* The same for the audio writer. */
  GstCaps *get_audio_caps ()
  {
    std::lock_guard<std::mutex> g (caps_lock);
    return audio_caps ? gst_caps_ref (audio_caps) : nullptr;
  }
};

/* Builds and starts the pipeline (no waiting): a USAGE error for a
 * description that does not parse. */
bool runner_start (Runner &r, GError **error) noexcept;
/* Stops the pipeline and any retry. */
void runner_stop (Runner &r) noexcept;
/* The pipeline failed or ended (@why): it is stopped and tried again after
 * the backoff. Its readers do not end: they wait and read on when it is
 * back (a discontinuity). */
void runner_fail (Runner &r, const char *why) noexcept;
/* Arms the next attempt after the backoff (unless one is armed) and
 * doubles the backoff. */
void runner_schedule_retry (Runner &r) noexcept;
/* Says the runner is down: its owner's runner_down (). */
void runner_down (Runner &r, const char *why, bool from_bus) noexcept;
/* The plain "LABEL: WHY; retrying in N s" line. */
void runner_log_retry (Runner &r, const char *why) noexcept;

} // namespace gstfanout
