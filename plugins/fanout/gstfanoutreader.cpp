/* gst-fanout
 * Copyright (C) 2026 the gst-fanout authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2.1 of the License, or (at your option) any later version.
 */

/* The reader pump; see gstfanoutreader.h. */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstfanoutreader.h"

#include <new>
#include <utility>

GST_DEBUG_CATEGORY_STATIC (fanout_reader_debug);
GST_DEBUG_CATEGORY_STATIC (fanout_reader_dataflow);
#define GST_CAT_DEFAULT fanout_reader_debug

static void
ensure_debug (void) noexcept
{
  static gsize done = 0;
  if (g_once_init_enter (&done)) {
    GST_DEBUG_CATEGORY_INIT (fanout_reader_debug, "fanoutreader", 0,
                             "fanout reader pump");
    GST_DEBUG_CATEGORY_INIT (fanout_reader_dataflow, "fanoutreader_dataflow", 0,
                             "fanout reader pump, per-item logs");
    g_once_init_leave (&done, 1);
  }
}

namespace gstfanout
{

const char *
remove_reason_nick (RemoveReason reason) noexcept
{
  switch (reason) {
  case RemoveReason::Released:
    return "released";
  case RemoveReason::Lapped:
    return "lapped";
  case RemoveReason::NotNegotiated:
    return "not-negotiated";
  case RemoveReason::Error:
    return "error";
  case RemoveReason::NoMemory:
    return "no-memory";
  }
  return "unknown";
}

GstStructure *
reader_stats_to_structure (const char *name, const ReaderStats &s) noexcept
{
  return gst_structure_new (
      name, "pushed", G_TYPE_UINT64, s.pushed, "dropped", G_TYPE_UINT64,
      s.dropped, "lag-items", G_TYPE_UINT64, s.lag_items, "lag-time",
      G_TYPE_UINT64, (guint64)s.lag_time, "lapped", G_TYPE_UINT64, s.lapped,
      "not-linked", G_TYPE_UINT64, s.not_linked, "keyframe-requests",
      G_TYPE_UINT64, s.keyframe_requests, "running", G_TYPE_BOOLEAN,
      (gboolean)s.running, "ended", G_TYPE_BOOLEAN, (gboolean)s.ended, nullptr);
}

PadReader::PadReader (GstElement *element, GstPad *pad,
                      PadReaderHooks *hooks) noexcept
    : element_ (element), pad_ (pad), hooks_ (hooks),
      policy_ (int (LagPolicy::DropToKeyframe)),
      start_ (int (StartPosition::LatestKeyframe))
{
  ensure_debug ();
  g_mutex_init (&lock_);
}

PadReader::~PadReader ()
{
  /* The owner stopped its task and called leave () before; free what is
   * left. */
  reader_.reset ();
  g_mutex_clear (&lock_);
}

void
PadReader::set_lag_policy (LagPolicy policy) noexcept
{
  /* relaxed: a setting, applied at some next pop. */
  policy_.store (int (policy), std::memory_order_relaxed);
  GMutexLock l (&lock_);
  if (reader_)
    reader_->set_policy (policy);
}

LagPolicy
PadReader::lag_policy () const noexcept
{
  return LagPolicy (policy_.load (std::memory_order_relaxed)); /* setting */
}

void
PadReader::set_start_position (StartPosition start) noexcept
{
  start_.store (int (start), std::memory_order_relaxed); /* setting */
}

StartPosition
PadReader::start_position () const noexcept
{
  return StartPosition (start_.load (std::memory_order_relaxed)); /* setting */
}

void
PadReader::set_max_lag_time (GstClockTime t) noexcept
{
  max_lag_.store (t, std::memory_order_relaxed); /* setting */
  GMutexLock l (&lock_);
  if (reader_)
    reader_->set_max_lag_time (t);
}

bool
PadReader::running () const noexcept
{
  GMutexLock l (&lock_);
  return reader_ != nullptr;
}

ReaderStats
PadReader::stats () const noexcept
{
  ReaderStats s;
  s.pushed = pushed_.load (std::memory_order_relaxed); /* counter */
  s.not_linked = not_linked_.load (std::memory_order_relaxed);
  s.keyframe_requests = keyframe_requests_.load (std::memory_order_relaxed);
  s.ended = ended_.load (std::memory_order_acquire)
            || failed_.load (std::memory_order_relaxed);
  GMutexLock l (&lock_);
  s.dropped = old_dropped_;
  s.lapped = old_lapped_;
  if (reader_) {
    s.running = true;
    s.dropped += reader_->dropped ();
    s.lapped += reader_->lapped ();
    s.lag_items = reader_->lag_items ();
    s.lag_time = reader_->lag_time ();
  }
  return s;
}

void
PadReader::wake () noexcept
{
  GMutexLock l (&lock_);
  if (reader_)
    reader_->wake ();
}

bool
PadReader::join (const std::shared_ptr<Ring> &ring) noexcept
{
  auto *r
      = new (std::nothrow) RingReader (ring, lag_policy (), start_position ());
  if (!r)
    return false;
  r->set_max_lag_time (max_lag_.load (std::memory_order_relaxed));

  /* The task is not running: its state may be set from here (starting the
   * task afterwards orders these writes before its first iteration). */
  sent_ = StickyRef ();
  pending_discont_ = false;
  requested_keyframe_ = false;
  resync_.store (false, std::memory_order_relaxed); /* see above */
  /* release: pairs with stats () acquire loads. */
  ended_.store (false, std::memory_order_release);
  /* relaxed: see failed () */
  failed_.store (false, std::memory_order_relaxed);
  fail_flow_.store (GST_FLOW_OK, std::memory_order_relaxed);
  downstream_nl_.store (false, std::memory_order_relaxed);
  {
    GMutexLock l (&lock_);
    reader_.reset (r);
  }
  GST_DEBUG_OBJECT (pad_, "joined the ring (policy %d, start %d)",
                    int (lag_policy ()), int (start_position ()));
  return true;
}

void
PadReader::leave () noexcept
{
  drop_cursor ();
  GST_DEBUG_OBJECT (pad_, "left the ring");
}

void
PadReader::drop_cursor () noexcept
{
  std::unique_ptr<RingReader> old;
  {
    GMutexLock l (&lock_);
    if (reader_) {
      old_dropped_ += reader_->dropped ();
      old_lapped_ += reader_->lapped ();
    }
    old = std::move (reader_);
  }
  /* Destroyed without our lock: it releases buffers (which may go back to
   * a pool) and may wake a writer that waited for it. */
  old.reset ();
}

void
PadReader::interrupt () noexcept
{
  /* seq_cst: the loop checks it after a Woken pop */
  stopping_.fetch_add (1, std::memory_order_seq_cst);
  wake ();
}

void
PadReader::interrupt_done () noexcept
{
  stopping_.fetch_sub (1, std::memory_order_seq_cst); /* see interrupt () */
}

void
PadReader::resync () noexcept
{
  /* release: the task acquires it before its next pop */
  resync_.store (true, std::memory_order_release);
}

void
PadReader::check_keyframe () noexcept
{
  if (reader_->waiting_for_sync ()) {
    /* Ask once per wait; ask again if, a second and kKeyframeRetryItems
     * items later, the sync point still has not come (the request was lost,
     * e.g. sent before upstream could honour it). */
    guint64 head = ring_stats (*reader_->ring ()).head;
    gint64 now = g_get_monotonic_time ();
    bool retry = requested_keyframe_
                 && head - keyframe_head_ >= kKeyframeRetryItems
                 && now - keyframe_time_ >= kKeyframeRetryUs;
    if (!requested_keyframe_ || retry) {
      requested_keyframe_ = true;
      keyframe_head_ = head;
      keyframe_time_ = now;
      keyframe_requests_.fetch_add (1, std::memory_order_relaxed); /* stat */
      GST_DEBUG_OBJECT (pad_, "waiting for a sync point not in the ring");
      if (hooks_)
        hooks_->need_keyframe (*this);
    }
  } else {
    requested_keyframe_ = false;
  }
}

void
PadReader::warn_ended (RemoveReason reason, GstFlowReturn flow) noexcept
{
  gchar *name = gst_pad_get_name (pad_);
  ObjRef<GstElement> parent;
  GstElement *element = element_;
  if (!element) {
    parent.reset (GST_ELEMENT_CAST (gst_pad_get_parent (pad_)));
    element = parent.get ();
  }
  if (reason == RemoveReason::Lapped) {
    GST_ELEMENT_WARNING (element, STREAM, FAILED,
                         ("Reader %s fell behind and was disconnected", name),
                         ("lag-policy=disconnect on pad %s", name));
  } else if (retry_) {
    GST_ELEMENT_WARNING (
        element, STREAM, FAILED,
        ("Reader %s stopped: downstream returned %s", name,
         gst_flow_get_name (flow)),
        ("pad %s: flow %s (%d); the other readers go on, this one retries "
         "at the next keyframe",
         name, gst_flow_get_name (flow), int (flow)));
  } else {
    GST_ELEMENT_WARNING (element, STREAM, FAILED,
                         ("Reader %s stopped: downstream returned %s", name,
                          gst_flow_get_name (flow)),
                         ("pad %s: flow %s (%d); the other readers go on", name,
                          gst_flow_get_name (flow), int (flow)));
  }
  g_free (name);
}

void
PadReader::set_state (std::atomic<bool> &flag, bool value) noexcept
{
  /* relaxed: see failed (); only the task writes these while it runs */
  if (flag.load (std::memory_order_relaxed) == value)
    return;
  flag.store (value, std::memory_order_relaxed);
  if (hooks_)
    hooks_->state_changed (*this);
}

void
PadReader::end (RemoveReason reason, GstFlowReturn flow) noexcept
{
  warn_ended (reason, flow);
  /* release: pairs with stats (). */
  ended_.store (true, std::memory_order_release);
  drop_cursor ();
  /* state first: whoever reacts to removed () sees the new state */
  if (hooks_) {
    hooks_->state_changed (*this);
    hooks_->removed (*this, reason, flow);
  }
}

void
PadReader::fail (RemoveReason reason, GstFlowReturn flow) noexcept
{
  if (!retry_) {
    end (reason, flow);
    return;
  }
  warn_ended (reason, flow);
  fail_flow_.store (flow, std::memory_order_relaxed); /* see failed () */
  failed_.store (true, std::memory_order_relaxed);
  /* state first: whoever reacts to removed () sees the new state */
  if (hooks_) {
    hooks_->state_changed (*this);
    hooks_->removed (*this, reason, flow);
  }
}

static bool
sticky_contains (const StickySet *set, GstEvent *event) noexcept
{
  if (!set)
    return false;
  for (guint i = 0; i < set->size (); i++)
    if (set->at (i) == event)
      return true;
  return false;
}

void
PadReader::push_sticky (const StickySet *set) noexcept
{
  for (guint i = 0; i < set->size (); i++) {
    GstEvent *e = set->at (i);
    if (sticky_contains (sent_.get (), e))
      continue;
    GstMiniObject *obj = GST_MINI_OBJECT_CAST (gst_event_ref (e));
    if (hooks_)
      obj = hooks_->transform (*this, obj);
    if (!obj)
      continue;
    GST_CAT_LOG_OBJECT (fanout_reader_dataflow, pad_,
                        "replaying sticky %" GST_PTR_FORMAT, obj);
    gst_pad_push_event (pad_, GST_EVENT_CAST (obj));
  }
}

GstFlowReturn
PadReader::push_data (GstMiniObject *obj, bool discont) noexcept
{
  if (discont) {
    if (GST_IS_BUFFER (obj)) {
      GstBuffer *b = gst_buffer_make_writable (GST_BUFFER_CAST (obj));
      GST_BUFFER_FLAG_SET (b, GST_BUFFER_FLAG_DISCONT);
      obj = GST_MINI_OBJECT_CAST (b);
    } else if (GST_IS_BUFFER_LIST (obj)) {
      GstBufferList *l = gst_buffer_list_make_writable (GST_BUFFER_LIST (obj));
      GstBuffer *b = gst_buffer_list_get_writable (l, 0);
      GST_BUFFER_FLAG_SET (b, GST_BUFFER_FLAG_DISCONT);
      obj = GST_MINI_OBJECT_CAST (l);
    }
  }
  if (hooks_)
    obj = hooks_->transform (*this, obj);
  if (!obj)
    return GST_FLOW_OK;

  guint n = 1;
  GstFlowReturn flow;
  if (GST_IS_BUFFER_LIST (obj)) {
    n = gst_buffer_list_length (GST_BUFFER_LIST (obj));
    GST_CAT_LOG_OBJECT (fanout_reader_dataflow, pad_, "pushing list of %u", n);
    flow = gst_pad_push_list (pad_, GST_BUFFER_LIST (obj));
  } else if (GST_IS_BUFFER (obj)) {
    GST_CAT_LOG_OBJECT (fanout_reader_dataflow, pad_,
                        "pushing %" GST_PTR_FORMAT, obj);
    flow = gst_pad_push (pad_, GST_BUFFER_CAST (obj));
  } else {
    gst_mini_object_unref (obj);
    return GST_FLOW_OK;
  }

  switch (flow) {
  case GST_FLOW_OK:
    pushed_.fetch_add (n, std::memory_order_relaxed); /* stat */
    break;
  case GST_FLOW_NOT_LINKED:
    not_linked_.fetch_add (n, std::memory_order_relaxed); /* stat */
    break;
  default:
    break;
  }
  return flow;
}

PadReader::Step
PadReader::handle_item (RingItem &item) noexcept
{
  /* A failed reader drops data up to the next sync point, then retries
   * from there with every sticky event pushed again. */
  bool retrying = false;
  if (G_UNLIKELY (failed_.load (std::memory_order_relaxed))
      && !(item.flags & ITEM_EVENT)) {
    if (!(item.flags & ITEM_SYNC)) {
      item.obj.reset ();
      return Step::Continue;
    }
    retrying = true;
    sent_ = StickyRef ();
  }
  if (item.dropped_before > 0) {
    GST_DEBUG_OBJECT (pad_, "lapped: %" G_GUINT64_FORMAT " items dropped",
                      item.dropped_before);
    pending_discont_ = true;
    if (hooks_)
      hooks_->lagged (*this, item.dropped_before);
  }
  if (item.sticky && !(item.sticky == sent_)) {
    push_sticky (item.sticky.get ());
    sent_ = item.sticky; /* a copy: @item keeps it for the next pops */
  }

  GstMiniObject *obj = item.obj.release ();
  if (!obj)
    return Step::Continue;

  if (item.flags & ITEM_EVENT) {
    GstEvent *event = GST_EVENT_CAST (obj);
    /* A sticky event item was pushed with its sticky set just above. */
    if ((item.flags & ITEM_STICKY) && sticky_contains (sent_.get (), event)) {
      gst_event_unref (event);
      return Step::Continue;
    }
    if (hooks_)
      obj = hooks_->transform (*this, obj);
    if (obj) {
      GST_CAT_LOG_OBJECT (fanout_reader_dataflow, pad_,
                          "pushing event %" GST_PTR_FORMAT, obj);
      gst_pad_push_event (pad_, GST_EVENT_CAST (obj));
    }
    return Step::Continue;
  }

  GstFlowReturn flow = push_data (obj, pending_discont_ || retrying);
  pending_discont_ = false;
  if (flow != GST_FLOW_FLUSHING)
    set_state (downstream_nl_, flow == GST_FLOW_NOT_LINKED);
  if (G_UNLIKELY (retrying)) {
    if (flow == GST_FLOW_NOT_NEGOTIATED || flow < GST_FLOW_EOS) {
      GST_DEBUG_OBJECT (pad_, "retry failed: %s", gst_flow_get_name (flow));
      return Step::Continue;
    }
    if (flow != GST_FLOW_FLUSHING) {
      GST_INFO_OBJECT (pad_, "downstream recovered (%s)",
                       gst_flow_get_name (flow));
      set_state (failed_, false);
    }
  }
  switch (flow) {
  case GST_FLOW_OK:
  case GST_FLOW_NOT_LINKED: /* dropped quietly, counted */
  case GST_FLOW_EOS:        /* downstream wants no more: drop */
    return Step::Continue;
  case GST_FLOW_FLUSHING: {
    /* Our pad flushing (flush, deactivation): pause until resumed. Only
     * downstream flushing (a branch not started yet): drop and go on, so
     * data flows again once it starts, and a block reader does not hold
     * the writer meanwhile. */
    GST_OBJECT_LOCK (pad_);
    const bool ours = GST_PAD_IS_FLUSHING (pad_);
    GST_OBJECT_UNLOCK (pad_);
    if (!ours)
      return Step::Continue;
    GST_DEBUG_OBJECT (pad_, "flushing: pausing");
    return Step::Interrupted;
  }
  case GST_FLOW_NOT_NEGOTIATED:
    fail (RemoveReason::NotNegotiated, flow);
    return retry_ ? Step::Continue : Step::Ended;
  default:
    if (flow < GST_FLOW_EOS) {
      fail (RemoveReason::Error, flow);
      return retry_ ? Step::Continue : Step::Ended;
    }
    return Step::Continue; /* custom success flows */
  }
}

PadReader::Step
PadReader::iterate () noexcept
{
  RingReader *r = reader_.get ();
  if (G_UNLIKELY (!r || stopping_.load (std::memory_order_seq_cst) > 0))
    return Step::Interrupted;

  if (resync_.exchange (false, std::memory_order_acquire)) {
    sent_ = StickyRef ();
    pending_discont_ = false;
    requested_keyframe_ = false;
  }

  /* Wait for one item (futex sleep when caught up), then drain what is
   * available without sleeping again. Before sleeping, ask for a keyframe
   * if this reader waits for one that is not in the ring. */
  RingItem item;
  PopResult res = r->try_pop (item);
  if (res == PopResult::Empty) {
    check_keyframe ();
    res = r->pop (item);
  }
  for (;;) {
    switch (res) {
    case PopResult::Ok: {
      Step step = handle_item (item);
      if (step != Step::Continue)
        return step;
      break;
    }
    case PopResult::Empty:
      check_keyframe ();
      return Step::Continue;
    case PopResult::Woken:
      if (stopping_.load (std::memory_order_seq_cst) > 0)
        return Step::Interrupted;
      break;
    case PopResult::Flushing:
      GST_DEBUG_OBJECT (pad_, "ring flushing");
      return Step::Flushing;
    case PopResult::Disconnected:
      end (RemoveReason::Lapped, GST_FLOW_OK);
      return Step::Ended;
    }
    res = r->try_pop (item);
  }
}

} // namespace gstfanout
