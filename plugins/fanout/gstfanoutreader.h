/* gst-fanout
 * Copyright (C) 2026 the gst-fanout authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2.1 of the License, or (at your option) any later version.
 */

/* The reader pump: one reader's cursor on the ring and the loop body that
 * pushes what it reads on a src pad. It does not own a task: the element
 * that owns the pad starts and stops its own (`fanout`: one per src_%u pad;
 * `fanoutsrc`: its src pad's, which also waits for a writer):
 *
 *   PadReader reader (element, srcpad, &hooks);
 *   start:        reader.join (ring); gst_pad_start_task (pad, loop, ...);
 *   loop:         if (reader.iterate () != PadReader::Step::Continue)
 *                   gst_pad_pause_task (pad);
 *   stop:         reader.interrupt (); gst_pad_stop_task (pad);
 *                 reader.leave (); reader.interrupt_done ();
 *   FLUSH_START:  reader.interrupt (); gst_pad_pause_task (pad);
 *                 reader.interrupt_done ();    (after the ring is flushing)
 *   FLUSH_STOP:   reader.resync (); gst_pad_start_task (...);
 *                                              (after the ring is reset)
 *
 * Nothing on the pop or push path takes a mutex or waits on a condition
 * variable: a caught-up reader sleeps in RingReader::pop (futex). */

#pragma once

#include <gst/gst.h>

#include <atomic>
#include <memory>

#include "gstfanoutraii.h"
#include "gstfanouttypes.h"
#include "ring.h"

namespace gstfanout
{

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
   * is not fatal recovers it. Set before the first join (). */
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
   * (next pop); the start position at the next join (). */
  void set_lag_policy (LagPolicy policy) noexcept;
  LagPolicy lag_policy () const noexcept;
  void set_start_position (StartPosition start) noexcept;
  StartPosition start_position () const noexcept;
  void set_max_lag_time (GstClockTime t) noexcept;

  /* Joins @ring: creates the cursor at the start position and resets the
   * loop's state. Call while the owner's task does not run, or from that
   * task before its first iterate (); at most once until leave (). Returns
   * false when the cursor could not be created (posts nothing: the caller
   * reports). */
  bool join (const std::shared_ptr<Ring> &ring) noexcept;
  /* Frees the cursor. Call after the owner stopped its task (a writer that
   * waited for this reader under `block` goes on). Any thread. */
  void leave () noexcept;

  /* Makes the loop return Step::Interrupted (a waiting pop is woken) until
   * interrupt_done (); counted, so that a pause ending does not cancel a
   * concurrent stop. Call before pausing or stopping the owner's task. Any
   * thread. */
  void interrupt () noexcept;
  void interrupt_done () noexcept;
  /* Before restarting the owner's task after FLUSH_STOP: the sticky events
   * in force are pushed again before the next data (GstPad drops the ones it
   * already has) and the per-episode state is forgotten. Any thread. */
  void resync () noexcept;

  /* What the owner's loop does after iterate (). */
  enum class Step {
    Continue,    /* keep the task running */
    Interrupted, /* interrupt () or this pad flushing: pause the task */
    Flushing,    /* the ring is flushing: pause (or wait for its end) */
    Ended,       /* the reader ended itself (lapped under disconnect, a
                  * fatal flow without retry): pause the task */
  };

  /* The loop body, from the owner's task: waits for items (futex), then
   * drains everything available, pushing it downstream. Never pauses or
   * stops a task itself. Flow returns: NOT_LINKED and EOS drop (NOT_LINKED
   * counted), FLUSHING from downstream while this pad is not flushing
   * drops, NOT_NEGOTIATED and errors fail the reader (GST_ELEMENT_WARNING
   * naming the pad and flow, then hooks->removed; see
   * set_retry_after_failure). */
  Step iterate () noexcept;

  /* Makes a waiting iterate () return. Any thread. */
  void wake () noexcept;

  ReaderStats stats () const noexcept;
  bool running () const noexcept;

private:
  void end (RemoveReason reason, GstFlowReturn flow) noexcept;
  void fail (RemoveReason reason, GstFlowReturn flow) noexcept;
  void warn_ended (RemoveReason reason, GstFlowReturn flow) noexcept;
  void set_state (std::atomic<bool> &flag, bool value) noexcept;
  Step handle_item (RingItem &item) noexcept;
  void push_sticky (const StickySet *set) noexcept;
  GstFlowReturn push_data (GstMiniObject *obj, bool discont) noexcept;
  void check_keyframe () noexcept;
  void drop_cursor () noexcept;

  GstElement *element_;
  GstPad *pad_;
  PadReaderHooks *hooks_;
  bool retry_ = false; /* set before the first join () */

  /* Protects reader_'s lifetime against the other threads' calls (stats,
   * wake, settings); taken on join, leave and by those getters, never on
   * the pop/push path, never while calling out. The task thread reads
   * reader_ without it: only join () and leave (), called while the task
   * does not run, replace it, and they hold the lock while doing so. */
  mutable GMutex lock_;
  std::unique_ptr<RingReader> reader_;

  /* Settings: relaxed, a setting applies at some next pop. */
  std::atomic<int> policy_;
  std::atomic<int> start_;
  std::atomic<guint64> max_lag_{ GST_CLOCK_TIME_NONE };

  /* Non-zero while the owner wants the loop out (interrupt ()): raised
   * before wake (seq_cst with the loop's check after pop returns Woken). */
  std::atomic<int> stopping_{ 0 };
  /* True once the reader ended itself (until the next join): release
   * store by the task, acquire load by stats (); relaxed by ended (). */
  std::atomic<bool> ended_{ false };

  /* Failed on a fatal flow and retrying (retry_ only), the flow, and the
   * last push's NOT_LINKED: written by the task (and join), read by
   * any thread; relaxed, see failed (). */
  std::atomic<bool> failed_{ false };
  std::atomic<int> fail_flow_{ GST_FLOW_OK };
  std::atomic<bool> downstream_nl_{ false };

  /* Set by resync () (release), consumed by the task (acquire exchange):
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
