/* gst-fanout
 * Copyright (C) 2026 the gst-fanout authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2.1 of the License, or (at your option) any later version.
 */

/* The writer glue: what a sink pad (`fanout`'s, `fanoutsink`'s) does with
 * what it receives. One streaming thread:
 *
 *   WriterGlue glue (element);
 *   glue.set_writer (ring_writer);            // not owned
 *   chain:       return glue.push_buffer (buf);
 *   chain_list:  return glue.push_list (list);
 *   sink event:  glue.handle_event (event);   // see its comment
 *
 * Nothing on the push path takes a mutex or waits on a condition variable
 * (but a `block` reader's room, inside RingWriter::push). */

#pragma once

#include <gst/gst.h>

#include <atomic>

#include "gstfanoutraii.h"
#include "gstfanouttypes.h"
#include "ring.h"

namespace gstfanout
{

/* Wraps the RingWriter of a sink pad. All methods but the const getters,
 * sync_count (), claim_keyframe_request () and set_flushing () are called
 * from the sink pad's streaming thread (one at a time, as GstPad
 * serializes them). */
class WriterGlue
{
public:
  /* @element (transfer none) is used for logs only and must outlive this. */
  explicit WriterGlue (GstElement *element) noexcept;
  ~WriterGlue ();
  WriterGlue (const WriterGlue &) = delete;
  WriterGlue &operator= (const WriterGlue &) = delete;

  /* The writer to publish into (not owned; nullptr detaches: data is then
   * dropped with GST_FLOW_FLUSHING). Call while no data flows. Clears the
   * segment and the raw/sync state. */
  void set_writer (RingWriter *writer) noexcept;
  RingWriter *writer () const noexcept { return writer_; }

  /* Publishes @buffer (transfer full) as one item. Sync when the caps are
   * raw audio/video, else when it lacks GST_BUFFER_FLAG_DELTA_UNIT. A
   * buffer from a bounded upstream pool may be replaced by a copy (see
   * PoolGuard). Returns GST_FLOW_OK, or GST_FLOW_FLUSHING while flushing. */
  GstFlowReturn push_buffer (GstBuffer *buffer) noexcept;
  /* Publishes @list (transfer full) as one item, sync when its first
   * buffer is (each pooled buffer in it guarded as above). Empty lists are
   * dropped. */
  GstFlowReturn push_list (GstBufferList *list) noexcept;

  /* Handles an event that arrived on the sink pad (transfer full):
   *  - FLUSH_START: the ring becomes flushing (wakes every reader and a
   *    writer waiting for a block reader);
   *  - FLUSH_STOP: the ring is reset (readers resume after the newest
   *    item), the segment is forgotten (sticky SEGMENT dropped), flushing
   *    ends and the keyframe-request gate reopens;
   *  - sticky events (stream-start, caps, segment, tags, ...): stored in
   *    the ring's sticky set and published in order; CAPS also decides
   *    raw/encoded, SEGMENT is kept for running times;
   *  - EOS and other serialized events: published in order (EOS is a sync
   *    point);
   *  - anything else (non-serialized, upstream): not for the ring: dropped,
   *    returns FALSE (the caller forwards those itself, before calling).
   * Returns TRUE when the event was taken by the ring (also while the
   * ring is flushing: then it is dropped like the data, a sticky one kept
   * in the sticky set), FALSE when it is not for the ring or no writer is
   * attached. The caller forwards
   * FLUSH_START/STOP to its own src pads, if any. */
  bool handle_event (GstEvent *event) noexcept;

  /* Any thread: sets the ring flushing (change_state uses it to release a
   * writer that waits for a block reader before deactivating). */
  void set_flushing (bool flushing) noexcept;

  /* Classification of a buffer (a list: its first one). */
  guint32 classify (GstBuffer *buffer) const noexcept;
  GstClockTime running_time (GstBuffer *buffer) const noexcept;

  /* Buffers and lists published so far; any thread (relaxed counter). */
  guint64 published () const noexcept
  {
    return published_.load (std::memory_order_relaxed);
  }

  /* Sync points published so far; any thread. A sync point was published
   * since a moment when sync_count () then < sync_count () now. */
  guint64 sync_count () const noexcept;

  /* Buffers from a bounded upstream pool that were copied rather than
   * held (see PoolGuard); any thread (relaxed counter). */
  guint64 pool_copies () const noexcept
  {
    return pool_copies_.load (std::memory_order_relaxed);
  }

  /* Force-key-unit de-duplication, any thread: returns true when the
   * caller should send an upstream force-key-unit now, false when one was
   * already sent and no sync point has been published since (same GOP).
   * FLUSH_STOP reopens the gate. */
  bool claim_keyframe_request () noexcept;

private:
  /* The one publish path: @obj (transfer full) is a buffer or a non-empty
   * list whose first buffer is @first. */
  GstFlowReturn publish (GstMiniObject *obj, GstBuffer *first) noexcept;
  /* Returns @buffer (transfer full) or, when holding it would leave its
   * bounded pool with less than half its buffers, a deep copy. */
  GstBuffer *guard_pool (GstBuffer *buffer) noexcept;
  /* Drops the tracked buffers nobody else holds any more. */
  void reap_held () noexcept;
  void clear_held () noexcept;

  GstElement *element_;
  RingWriter *writer_ = nullptr;
  GstSegment segment_;
  bool raw_ = false;
  /* Written by the streaming thread only; read from reader threads: relaxed
   * both ways, it is a counter compared for "changed since" only. */
  std::atomic<guint64> syncs_{ 0 };
  std::atomic<guint64> published_{ 0 }; /* relaxed: a statistic */
  /* syncs_ at the last granted keyframe request, or G_MAXUINT64 for none.
   * compare_exchange (relaxed): it orders nothing but itself. */
  std::atomic<guint64> fku_mark_{ G_MAXUINT64 };
  /* Monotonic µs of the last granted request (relaxed, see above). */
  std::atomic<gint64> fku_time_{ 0 };

  /* PoolGuard (streaming thread only). A buffer that belongs to a pool
   * with a maximum (v4l2src: a handful) is published as is while fewer than
   * half of that pool's buffers are held downstream of the writer (in the
   * ring, by readers, by their peers); otherwise a deep copy is published
   * and the pooled buffer goes back at once. To know when a held buffer is
   * back, the writer keeps one extra reference on it: when that is the
   * only one left (refcount 1) nobody else can hold it, so the reference is
   * dropped and the buffer returns to its pool. Checked on every publish,
   * at most kMaxHeld entries: the cost does not depend on the readers. */
  static constexpr guint kMaxHeld = 32;
  GstBuffer *held_[kMaxHeld] = {};
  guint n_held_ = 0;
  ObjRef<GstBufferPool> pool_; /* the pool last seen, with its maximum */
  guint pool_max_ = 0;         /* 0: unbounded */
  bool pool_stale_ = true;     /* re-read the pool's config (new caps) */
  std::atomic<guint64> pool_copies_{ 0 }; /* relaxed: a statistic */
};

} // namespace gstfanout
