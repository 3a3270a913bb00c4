/* gst-fanout
 * Copyright (C) 2026 the gst-fanout authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2.1 of the License, or (at your option) any later version.
 */

/* One mount's keyframe authority: who asked (the encoder is asked for a
 * keyframe at most once per key-unit interval for joining viewers; those
 * joining together share one), what came (keyframes out of the encoder;
 * for isolated mounts, keyframes published to the sender's ring), and who
 * waits (a new media for a fresh encoded keyframe, an isolated PLAY for a
 * published one). Shared and isolated delivery, RTSP, WebRTC and HTTP
 * viewers all go through it; nothing else keeps keyframe state for the
 * policy (the pay bin's own follows keyframes only for RTP-Info).
 *
 * Threads: any, but as noted. Locks: lock_ (the request state) is taken
 * alone; wait_lock_ only orders the counters with the waiters. Nothing
 * calls out (the encoder's event) while holding either. */

#pragma once

#include "fanoutrunner.h"

#include <gst/gst.h>

#include <atomic>
#include <condition_variable>
#include <mutex>

namespace gstfanout
{

class KeyUnits
{
public:
  /* @encoder: the mount's encoder (an empty description: a copy mount,
   * which asks nobody); @interval_ms: the bound (0: one request per join). */
  KeyUnits (Runner *encoder, guint interval_ms) noexcept;
  ~KeyUnits ();
  KeyUnits (const KeyUnits &) = delete;
  KeyUnits &operator= (const KeyUnits &) = delete;

  /* --- What came --- */
  /* A keyframe left the encoder (its writer's streaming thread). */
  void encoded () noexcept;
  /* A keyframe was published to isolated clients at @now_us (monotonic),
   * and the published stream started over (a new media: no keyframe in
   * it yet). The sender's writer (a media's streaming thread). */
  void published (gint64 now_us) noexcept;
  void published_reset () noexcept;
  /* Counts so far; any thread. */
  guint64 n_encoded () const noexcept;
  guint64 n_published () const noexcept;
  /* Requests sent to the encoder (a counter for /metrics). */
  guint64 n_requests () const noexcept;
  /* The newest published keyframe is at most half the interval old: a
   * joining isolated client may start on it instead of asking. */
  bool published_fresh () const noexcept;
  gint64 interval_us () const noexcept;

  /* --- Who asked --- */
  /* A viewer needs a keyframe (@bounded: a join, PLI/FIR, at most one per
   * interval, deferred to the interval's end when one is out already), or
   * a new media's reader must start fresh (always). Returns the encoded
   * count when the request went out (or was shared): wait_encoded_after
   * it for the keyframe. Any thread; a deferred one fires on the server
   * context. */
  guint64 request (bool bounded) noexcept;

  /* --- Who waits --- */
  /* Block until a keyframe after @mark came (encoded or published), at
   * most @timeout_us. A client thread. */
  bool wait_encoded_after (guint64 mark, gint64 timeout_us) noexcept;
  bool wait_published_after (guint64 mark, gint64 timeout_us) noexcept;

  /* Cancels a deferred request (server stop). Server context. */
  void stop () noexcept;

private:
  static gboolean deferred_cb (gpointer data) noexcept;
  void send_request () noexcept;

  Runner *encoder_;
  const gint64 interval_us_;

  /* Counters: incremented under wait_lock_ (which orders them with
   * wait_cond_'s waiters), read relaxed elsewhere as plain counts. */
  std::atomic<guint64> encoded_{ 0 }, published_{ 0 };
  /* Monotonic time of the newest published keyframe (0: none in the
   * current stream): a plain value, relaxed. */
  std::atomic<gint64> newest_published_us_{ 0 };
  std::atomic<guint64> requests_{ 0 }; /* counter, relaxed */
  std::mutex wait_lock_;
  std::condition_variable wait_cond_;

  std::mutex lock_; /* protects the three below */
  gint64 last_request_us_ = 0;
  guint64 encoded_at_request_ = 0;
  GSource *deferred_ = nullptr; /* a bounded request waiting its turn */
};

} // namespace gstfanout
