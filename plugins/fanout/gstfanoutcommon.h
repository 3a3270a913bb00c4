/* gst-fanout
 * Copyright (C) 2026 the gst-fanout authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2.1 of the License, or (at your option) any later version.
 */

/* The glue between GStreamer pads and the ring, shared by `fanout` (its sink
 * pad and every src_%u pad), `fanoutsink` (a WriterGlue) and `fanoutsrc` (a
 * PadReader on its src pad).
 *
 *   writer side (one streaming thread):
 *     WriterGlue glue (element);
 *     glue.set_writer (ring_writer);            // not owned
 *     chain:       return glue.push_buffer (buf);
 *     chain_list:  return glue.push_list (list);
 *     sink event:  glue.handle_event (event);   // see its comment
 *
 *   reader side (one GstTask per reader, on a src pad):
 *     PadReader reader (element, srcpad, &hooks);
 *     activate (TRUE):  reader.start_task (ring);
 *     activate (FALSE): reader.stop_task ();
 *     FLUSH_START:      reader.pause_task ();   (after the ring is flushing)
 *     FLUSH_STOP:       reader.resume_task ();  (after the ring is reset)
 *
 * Nothing on the push or pop path takes a mutex or waits on a condition
 * variable: a caught-up reader sleeps in RingReader::pop (futex). */

#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

/**
 * GstFanoutLagPolicy:
 * @GST_FANOUT_LAG_POLICY_DROP_TO_KEYFRAME: resume at the newest sync point
 *   (keyframe) in the ring, first buffer marked DISCONT
 * @GST_FANOUT_LAG_POLICY_DROP_TO_LATEST: resume at the newest item, DISCONT
 * @GST_FANOUT_LAG_POLICY_BLOCK: the writer waits for this reader (lossless)
 * @GST_FANOUT_LAG_POLICY_DISCONNECT: the reader is ended and reported
 *
 * What a reader does when the writer laps it.
 */
typedef enum {
  GST_FANOUT_LAG_POLICY_DROP_TO_KEYFRAME = 0,
  GST_FANOUT_LAG_POLICY_DROP_TO_LATEST = 1,
  GST_FANOUT_LAG_POLICY_BLOCK = 2,
  GST_FANOUT_LAG_POLICY_DISCONNECT = 3,
} GstFanoutLagPolicy;

/**
 * GstFanoutStartPosition:
 * @GST_FANOUT_START_POSITION_LATEST_KEYFRAME: the newest sync point in the
 *   ring (decodable at once), else the next one
 * @GST_FANOUT_START_POSITION_LATEST: the newest item in the ring
 * @GST_FANOUT_START_POSITION_OLDEST: the oldest item still in the ring
 *
 * Where a new reader starts reading.
 */
typedef enum {
  GST_FANOUT_START_POSITION_LATEST_KEYFRAME = 0,
  GST_FANOUT_START_POSITION_LATEST = 1,
  GST_FANOUT_START_POSITION_OLDEST = 2,
} GstFanoutStartPosition;

/**
 * GstFanoutPullMode:
 * @GST_FANOUT_PULL_MODE_NEVER: never activate in pull mode (the only mode
 *   fanout has)
 * @GST_FANOUT_PULL_MODE_SINGLE: tee's single-pull mode; refused by fanout
 *   with a warning (its readers are pushed from the ring)
 *
 * `tee`'s pull-mode values, for launch lines written for tee.
 */
typedef enum {
  GST_FANOUT_PULL_MODE_NEVER = 0,
  GST_FANOUT_PULL_MODE_SINGLE = 1,
} GstFanoutPullMode;

#define GST_TYPE_FANOUT_LAG_POLICY (gst_fanout_lag_policy_get_type ())
#define GST_TYPE_FANOUT_PULL_MODE (gst_fanout_pull_mode_get_type ())
#define GST_TYPE_FANOUT_START_POSITION (gst_fanout_start_position_get_type ())

/* Both types mark themselves as plugin API when first registered. */
G_GNUC_INTERNAL GType gst_fanout_lag_policy_get_type (void);
G_GNUC_INTERNAL GType gst_fanout_start_position_get_type (void);
G_GNUC_INTERNAL GType gst_fanout_pull_mode_get_type (void);

G_END_DECLS

#ifdef __cplusplus

#include <atomic>
#include <memory>

#include "gstfanoutraii.h"
#include "ring.h"

namespace gstfanout
{

/* Conversions between the GEnum values and the ring's enums (same values,
 * checked in gstfanoutcommon.cpp). */
LagPolicy lag_policy_from_gst (GstFanoutLagPolicy p) noexcept;
GstFanoutLagPolicy lag_policy_to_gst (LagPolicy p) noexcept;
StartPosition start_position_from_gst (GstFanoutStartPosition p) noexcept;
GstFanoutStartPosition start_position_to_gst (StartPosition p) noexcept;

/* ------------------------------------------------------------ WriterGlue */

/* Wraps the RingWriter of a sink pad. All methods but the const getters,
 * sync_count (), claim_keyframe_request () and set_flushing () are called
 * from the sink pad's streaming thread (one at a time, as GstPad
 * serializes them). */
/* A keyframe request that brought no sync point after this long (and, for
 * a reader, this many published items) is taken as lost and sent again. */
constexpr gint64 kKeyframeRetryUs = G_USEC_PER_SEC;
constexpr guint64 kKeyframeRetryItems = 32;

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

/* ------------------------------------------------------------- PadReader */

/* Why a reader ended. */
enum class RemoveReason {
  Released,      /* the pad was released / the element stopped */
  Lapped,        /* lapped under LagPolicy::Disconnect */
  NotNegotiated, /* downstream returned GST_FLOW_NOT_NEGOTIATED */
  Error,         /* downstream returned GST_FLOW_ERROR or another error */
  NoMemory,      /* the ring could not allocate the cursor */
};
/* "released", "lapped", "not-negotiated", "error", "no-memory". */
const char *remove_reason_nick (RemoveReason reason) noexcept;

/* A snapshot of one reader's figures. */
struct ReaderStats {
  guint64 pushed = 0;        /* buffers (a list counts as its length) pushed */
  guint64 dropped = 0;       /* items skipped by the lag policy */
  guint64 lag_items = 0;     /* items published but not read yet */
  GstClockTime lag_time = 0; /* running time between newest and ours */
  guint64 lapped = 0;        /* times this reader was lapped and resynced */
  guint64 not_linked = 0; /* buffers dropped because downstream is unlinked */
  guint64 keyframe_requests = 0; /* need_keyframe hooks fired */
  bool running = false;          /* has a cursor on the ring */
  bool ended = false;            /* ended itself (lapped/disconnect or error) */
};

/* Fills a new GstStructure named @name with @s (fields: pushed, dropped,
 * lag-items, lag-time, lapped, not-linked, keyframe-requests, running,
 * ended). */
GstStructure *reader_stats_to_structure (const char *name,
                                         const ReaderStats &s) noexcept;

class PadReader;

/* Callbacks from the reader's streaming thread, never with a lock of ours
 * held. All noexcept; the defaults do nothing. */
class PadReaderHooks
{
public:
  virtual ~PadReaderHooks () = default;

  /* Called for every object before it is pushed (buffer, buffer list,
   * serialized event, and the sticky events replayed before data), transfer
   * full both ways: return @obj itself, a replacement, or nullptr to drop
   * it. fanoutsrc re-times buffers and segments here. */
  virtual GstMiniObject *transform (PadReader &reader,
                                    GstMiniObject *obj) noexcept
  {
    (void)reader;
    return obj;
  }

  /* The reader was lapped and skipped @dropped items (the next buffer is
   * DISCONT). */
  virtual void lagged (PadReader &reader, guint64 dropped) noexcept
  {
    (void)reader;
    (void)dropped;
  }

  /* The reader waits for a sync point that is not in the ring (joined or
   * resynced without one): send an upstream force-key-unit. Called once per
   * wait. */
  virtual void need_keyframe (PadReader &reader) noexcept { (void)reader; }

  /* The reader ended by itself (lapped under disconnect, or a fatal
   * downstream flow): its cursor is already freed and its task paused, or,
   * with set_retry_after_failure (true) and a fatal flow, it keeps reading
   * and retries at the next sync point (see failed ()). @flow is the flow
   * return that ended it (GST_FLOW_OK when lapped). */
  virtual void removed (PadReader &reader, RemoveReason reason,
                        GstFlowReturn flow) noexcept
  {
    (void)reader;
    (void)reason;
    (void)flow;
  }

  /* failed (), ended () or downstream_not_linked () changed. */
  virtual void state_changed (PadReader &reader) noexcept { (void)reader; }
};

/* One reader: a cursor on the ring plus the streaming-task body that pushes
 * what it reads on a src pad. Owned by the pad's element code. */
class PadReader
{
public:
  /* @pad (transfer none) must outlive this; @element (transfer none) is
   * the element warnings are posted for: nullptr means the pad's parent.
   * @hooks may be nullptr and must outlive this. */
  PadReader (GstElement *element, GstPad *pad, PadReaderHooks *hooks) noexcept;
  ~PadReader ();
  PadReader (const PadReader &) = delete;
  PadReader &operator= (const PadReader &) = delete;

  GstPad *pad () const noexcept { return pad_; }

  /* With @retry, a fatal downstream flow (NOT_NEGOTIATED, ERROR, ...) does
   * not end the reader: it is reported once (warning, hooks->removed), then
   * the reader drops data until the next sync point and pushes again from
   * there (sticky events first), as often as it takes; the first push that
   * is not fatal recovers it. Set before the first start_task (). */
  void set_retry_after_failure (bool retry) noexcept { retry_ = retry; }

  /* Any thread; relaxed: states read alone, no other data is published
   * through them. */
  bool failed () const noexcept
  {
    return failed_.load (std::memory_order_relaxed);
  }
  GstFlowReturn fail_flow () const noexcept
  {
    return GstFlowReturn (fail_flow_.load (std::memory_order_relaxed));
  }
  bool ended () const noexcept
  {
    return ended_.load (std::memory_order_relaxed);
  }
  /* The last data push returned GST_FLOW_NOT_LINKED. */
  bool downstream_not_linked () const noexcept
  {
    return downstream_nl_.load (std::memory_order_relaxed);
  }

  /* Settings, any thread. The lag policy and max-lag-time apply at once
   * (next pop); the start position at the next start (). */
  void set_lag_policy (LagPolicy policy) noexcept;
  LagPolicy lag_policy () const noexcept;
  void set_start_position (StartPosition start) noexcept;
  StartPosition start_position () const noexcept;
  void set_max_lag_time (GstClockTime t) noexcept;

  /* Joins @ring (creates the cursor at the start position) and starts the
   * pad's task with iterate () as its body. Call once the pad is active
   * (fanout: active and linked), at most once until stop_task (). Returns
   * false when the cursor or the task could not be created (then posts
   * nothing: the caller reports). */
  bool start_task (const std::shared_ptr<Ring> &ring) noexcept;
  /* Unblocks the loop (wake), stops the pad's task (waits for it), then
   * frees the cursor. Any thread but the task's own. */
  void stop_task () noexcept;
  /* FLUSH_START, after the ring is flushing: wakes the loop and pauses the
   * task (waits for the current iteration). Any thread but the task's. */
  void pause_task () noexcept;
  /* FLUSH_STOP, after the ring is reset: restarts the task if the reader
   * has a cursor and did not end; the sticky events in force are pushed
   * again before the next data (GstPad drops the ones it already has). */
  void resume_task () noexcept;

  /* The task body: waits for items (futex), then drains everything
   * available, pushing it downstream. Pauses the pad's task itself when the
   * ring or this pad is flushing, when woken by stop/pause_task, and when
   * the reader ends. Flow returns: NOT_LINKED and EOS drop (NOT_LINKED
   * counted), FLUSHING from downstream while this pad is not flushing
   * drops, NOT_NEGOTIATED and errors end the reader (GST_ELEMENT_WARNING
   * naming the pad and flow, then hooks->removed). Public for elements that
   * run their own loop. */
  void iterate () noexcept;

  /* Makes a waiting iterate () return. Any thread. */
  void wake () noexcept;

  ReaderStats stats () const noexcept;
  bool running () const noexcept;

private:
  static void task_func (gpointer data) noexcept;
  void end (RemoveReason reason, GstFlowReturn flow) noexcept;
  void fail (RemoveReason reason, GstFlowReturn flow) noexcept;
  void warn_ended (RemoveReason reason, GstFlowReturn flow) noexcept;
  void set_state (std::atomic<bool> &flag, bool value) noexcept;
  bool handle_item (RingItem &item) noexcept;
  void push_sticky (const StickySet *set) noexcept;
  GstFlowReturn push_data (GstMiniObject *obj, bool discont) noexcept;
  void check_keyframe () noexcept;
  void drop_cursor () noexcept;

  GstElement *element_;
  GstPad *pad_;
  PadReaderHooks *hooks_;
  bool retry_ = false; /* set before the first start_task () */

  /* Protects reader_'s lifetime against the other threads' calls (stats,
   * wake, settings); taken on join, leave and by those getters, never on
   * the pop/push path, never while calling out. The task thread reads
   * reader_ without it: only the task (or stop_task, with the task
   * stopped) replaces it, and they hold the lock while doing so. */
  mutable GMutex lock_;
  std::unique_ptr<RingReader> reader_;

  /* Settings: relaxed, a setting applies at some next pop. */
  std::atomic<int> policy_;
  std::atomic<int> start_;
  std::atomic<guint64> max_lag_{ GST_CLOCK_TIME_NONE };

  /* Non-zero while stop_task/pause_task want the loop out: raised before
   * wake (seq_cst with the loop's check after pop returns Woken). A count,
   * so that a pause_task ending does not cancel a concurrent stop_task. */
  std::atomic<int> stopping_{ 0 };
  /* Set (under lock_) by stop_task before it stops the task, cleared by
   * start_task: resume_task, which starts the task under lock_, never
   * restarts a task that stop_task is taking down. */
  bool stopped_ = true;
  /* True once the reader ended itself (until the next start_task):
   * release store by the task, acquire load by resume_task and stats. */
  std::atomic<bool> ended_{ false };

  /* Failed on a fatal flow and retrying (retry_ only), the flow, and the
   * last push's NOT_LINKED: written by the task (and start_task), read by
   * any thread; relaxed, see failed (). */
  std::atomic<bool> failed_{ false };
  std::atomic<int> fail_flow_{ GST_FLOW_OK };
  std::atomic<bool> downstream_nl_{ false };

  /* Set by resume_task (release), consumed by the task (acquire exchange):
   * replay the sticky events and forget per-episode state. */
  std::atomic<bool> resync_{ false };

  /* Task-thread state. */
  StickyRef sent_; /* sticky events this pad pushed last */
  bool pending_discont_ = false;
  bool requested_keyframe_ = false;
  guint64 keyframe_head_ = 0; /* ring head at the last request */
  gint64 keyframe_time_ = 0;  /* monotonic µs of the last request */

  /* Stats: relaxed counters, read from any thread. */
  std::atomic<guint64> pushed_{ 0 };
  std::atomic<guint64> not_linked_{ 0 };
  std::atomic<guint64> keyframe_requests_{ 0 };
  /* The cursor's figures, kept when the cursor is freed (under lock_). */
  guint64 old_dropped_ = 0;
  guint64 old_lapped_ = 0;
};

} // namespace gstfanout

#endif /* __cplusplus */
