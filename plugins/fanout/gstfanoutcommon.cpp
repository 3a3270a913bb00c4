/* gst-fanout
 * Copyright (C) 2026 the gst-fanout authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2.1 of the License, or (at your option) any later version.
 */

/* Shared reader/writer glue between pads and the ring; see the header for
 * the API and gstfanout.cpp for its main user. */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstfanoutcommon.h"

#include <new>
#include <utility>

GST_DEBUG_CATEGORY_STATIC (fanout_common_debug);
GST_DEBUG_CATEGORY_STATIC (fanout_common_dataflow);
#define GST_CAT_DEFAULT fanout_common_debug

static void
ensure_debug (void) noexcept
{
  static gsize done = 0;
  if (g_once_init_enter (&done)) {
    GST_DEBUG_CATEGORY_INIT (fanout_common_debug, "fanoutcommon", 0,
                             "fanout reader/writer glue");
    GST_DEBUG_CATEGORY_INIT (fanout_common_dataflow, "fanoutcommon_dataflow", 0,
                             "fanout reader/writer glue, per-buffer logs");
    g_once_init_leave (&done, 1);
  }
}

/* ------------------------------------------------------------ enum types */

GType
gst_fanout_lag_policy_get_type (void)
{
  static gsize type = 0;
  static const GEnumValue values[] = {
    { GST_FANOUT_LAG_POLICY_DROP_TO_KEYFRAME,
      "Resume at the newest keyframe in the ring (DISCONT)",
      "drop-to-keyframe" },
    { GST_FANOUT_LAG_POLICY_DROP_TO_LATEST,
      "Resume at the newest item in the ring (DISCONT)", "drop-to-latest" },
    { GST_FANOUT_LAG_POLICY_BLOCK,
      "The writer waits for this reader (lossless)", "block" },
    { GST_FANOUT_LAG_POLICY_DISCONNECT, "The reader is ended and reported",
      "disconnect" },
    { 0, nullptr, nullptr },
  };
  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("GstFanoutLagPolicy", values);
    gst_type_mark_as_plugin_api (t, (GstPluginAPIFlags)0);
    g_once_init_leave (&type, t);
  }
  return (GType)type;
}

GType
gst_fanout_start_position_get_type (void)
{
  static gsize type = 0;
  static const GEnumValue values[] = {
    { GST_FANOUT_START_POSITION_LATEST_KEYFRAME,
      "Newest keyframe in the ring, else the next one", "latest-keyframe" },
    { GST_FANOUT_START_POSITION_LATEST, "Newest item in the ring", "latest" },
    { GST_FANOUT_START_POSITION_OLDEST, "Oldest item still in the ring",
      "oldest" },
    { 0, nullptr, nullptr },
  };
  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("GstFanoutStartPosition", values);
    gst_type_mark_as_plugin_api (t, (GstPluginAPIFlags)0);
    g_once_init_leave (&type, t);
  }
  return (GType)type;
}

GType
gst_fanout_pull_mode_get_type (void)
{
  static gsize type = 0;
  static const GEnumValue values[] = {
    { GST_FANOUT_PULL_MODE_NEVER, "Never activate in pull mode", "never" },
    { GST_FANOUT_PULL_MODE_SINGLE,
      "Single pull mode (tee's; refused by fanout)", "single" },
    { 0, nullptr, nullptr },
  };
  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("GstFanoutPullMode", values);
    gst_type_mark_as_plugin_api (t, (GstPluginAPIFlags)0);
    g_once_init_leave (&type, t);
  }
  return (GType)type;
}

namespace gstfanout
{

static_assert (int (LagPolicy::DropToKeyframe)
               == GST_FANOUT_LAG_POLICY_DROP_TO_KEYFRAME);
static_assert (int (LagPolicy::DropToLatest)
               == GST_FANOUT_LAG_POLICY_DROP_TO_LATEST);
static_assert (int (LagPolicy::Block) == GST_FANOUT_LAG_POLICY_BLOCK);
static_assert (int (LagPolicy::Disconnect) == GST_FANOUT_LAG_POLICY_DISCONNECT);
static_assert (int (StartPosition::LatestKeyframe)
               == GST_FANOUT_START_POSITION_LATEST_KEYFRAME);
static_assert (int (StartPosition::Latest) == GST_FANOUT_START_POSITION_LATEST);
static_assert (int (StartPosition::Oldest) == GST_FANOUT_START_POSITION_OLDEST);

LagPolicy
lag_policy_from_gst (GstFanoutLagPolicy p) noexcept
{
  return LagPolicy (int (p));
}

GstFanoutLagPolicy
lag_policy_to_gst (LagPolicy p) noexcept
{
  return GstFanoutLagPolicy (int (p));
}

StartPosition
start_position_from_gst (GstFanoutStartPosition p) noexcept
{
  return StartPosition (int (p));
}

GstFanoutStartPosition
start_position_to_gst (StartPosition p) noexcept
{
  return GstFanoutStartPosition (int (p));
}

/* ------------------------------------------------------------ WriterGlue */

WriterGlue::WriterGlue (GstElement *element) noexcept : element_ (element)
{
  ensure_debug ();
  gst_segment_init (&segment_, GST_FORMAT_UNDEFINED);
}

WriterGlue::~WriterGlue ()
{
  clear_held ();
}

void
WriterGlue::set_writer (RingWriter *writer) noexcept
{
  writer_ = writer;
  gst_segment_init (&segment_, GST_FORMAT_UNDEFINED);
  raw_ = false;
  clear_held ();
  /* relaxed: see the member comment. */
  fku_mark_.store (G_MAXUINT64, std::memory_order_relaxed);
}

guint32
WriterGlue::classify (GstBuffer *buffer) const noexcept
{
  if (raw_ || !GST_BUFFER_FLAG_IS_SET (buffer, GST_BUFFER_FLAG_DELTA_UNIT))
    return ITEM_SYNC;
  return 0;
}

GstClockTime
WriterGlue::running_time (GstBuffer *buffer) const noexcept
{
  GstClockTime ts = GST_BUFFER_PTS (buffer);
  if (!GST_CLOCK_TIME_IS_VALID (ts))
    ts = GST_BUFFER_DTS (buffer);
  if (!GST_CLOCK_TIME_IS_VALID (ts) || segment_.format != GST_FORMAT_TIME)
    return GST_CLOCK_TIME_NONE;
  return gst_segment_to_running_time (&segment_, GST_FORMAT_TIME, ts);
}

guint64
WriterGlue::sync_count () const noexcept
{
  /* relaxed: a counter compared for change only. */
  return syncs_.load (std::memory_order_relaxed);
}

bool
WriterGlue::claim_keyframe_request () noexcept
{
  guint64 now = sync_count ();
  gint64 t = g_get_monotonic_time ();
  /* relaxed CAS: the gate orders nothing but itself. */
  guint64 mark = fku_mark_.load (std::memory_order_relaxed);
  do {
    /* One is on its way and no keyframe came since; after
     * kKeyframeRetryUs it counts as lost and may be sent again. */
    if (mark != G_MAXUINT64 && mark == now
        && t - fku_time_.load (std::memory_order_relaxed) < kKeyframeRetryUs)
      return false;
  } while (!fku_mark_.compare_exchange_weak (
      mark, now, std::memory_order_relaxed, std::memory_order_relaxed));
  /* relaxed: a time stamp for the gate above only. */
  fku_time_.store (t, std::memory_order_relaxed);
  return true;
}

void
WriterGlue::clear_held () noexcept
{
  for (guint i = 0; i < n_held_; i++)
    gst_buffer_unref (held_[i]);
  n_held_ = 0;
  pool_.reset ();
  pool_max_ = 0;
  pool_stale_ = true;
}

void
WriterGlue::reap_held () noexcept
{
  guint kept = 0;
  for (guint i = 0; i < n_held_; i++) {
    /* Only our reference is left: nobody can take a new one. */
    if (GST_MINI_OBJECT_REFCOUNT_VALUE (held_[i]) == 1)
      gst_buffer_unref (held_[i]);
    else
      held_[kept++] = held_[i];
  }
  n_held_ = kept;
}

GstBuffer *
WriterGlue::guard_pool (GstBuffer *buffer) noexcept
{
  GstBufferPool *pool = buffer->pool;
  if (G_LIKELY (!pool))
    return buffer;
  if (pool != pool_.get () || pool_stale_) {
    pool_.reset (GST_BUFFER_POOL_CAST (gst_object_ref (pool)));
    guint max = 0;
    GstStructure *config = gst_buffer_pool_get_config (pool);
    if (!config
        || !gst_buffer_pool_config_get_params (config, nullptr, nullptr,
                                               nullptr, &max))
      max = 0;
    if (config)
      gst_structure_free (config);
    pool_max_ = max;
    pool_stale_ = false;
    GST_DEBUG_OBJECT (element_, "upstream pool %" GST_PTR_FORMAT " max %u",
                      pool, max);
  }
  if (pool_max_ == 0)
    return buffer;

  reap_held ();
  guint held_here = 0;
  for (guint i = 0; i < n_held_; i++)
    if (held_[i]->pool == pool)
      held_here++;
  if (2 * (held_here + 1) <= pool_max_ && n_held_ < kMaxHeld) {
    held_[n_held_++] = gst_buffer_ref (buffer);
    return buffer;
  }
  /* Holding one more would leave upstream less than half its pool. */
  GstBuffer *copy = gst_buffer_copy_deep (buffer);
  if (G_UNLIKELY (!copy))
    return buffer; /* no memory: publish it as is */
  GST_CAT_LOG_OBJECT (fanout_common_dataflow, element_,
                      "pool %" GST_PTR_FORMAT " has %u of %u held: copied",
                      pool, held_here, pool_max_);
  pool_copies_.fetch_add (1, std::memory_order_relaxed); /* relaxed: stat */
  gst_buffer_unref (buffer);
  return copy;
}

GstFlowReturn
WriterGlue::push_buffer (GstBuffer *buffer) noexcept
{
  if (G_UNLIKELY (!writer_)) {
    gst_buffer_unref (buffer);
    return GST_FLOW_FLUSHING;
  }
  buffer = guard_pool (buffer);
  return publish (GST_MINI_OBJECT_CAST (buffer), buffer);
}

GstFlowReturn
WriterGlue::push_list (GstBufferList *list) noexcept
{
  MiniRef<GstBufferList> l (list);
  if (G_UNLIKELY (!writer_))
    return GST_FLOW_FLUSHING;
  const guint n = gst_buffer_list_length (l.get ());
  if (n == 0)
    return GST_FLOW_OK;
  for (guint i = 0; i < n; i++) {
    GstBuffer *b = gst_buffer_list_get (l.get (), i);
    if (G_LIKELY (!b->pool))
      continue;
    GstBuffer *g = guard_pool (gst_buffer_ref (b));
    if (g != b) {
      l.reset (gst_buffer_list_make_writable (l.release ()));
      gst_buffer_list_remove (l.get (), i, 1);
      gst_buffer_list_insert (l.get (), i, g); /* takes g */
    } else {
      gst_buffer_unref (g);
    }
  }
  GstBuffer *first = gst_buffer_list_get (l.get (), 0);
  return publish (GST_MINI_OBJECT_CAST (l.release ()), first);
}

GstFlowReturn
WriterGlue::publish (GstMiniObject *obj, GstBuffer *first) noexcept
{
  const guint32 flags = classify (first);
  const GstClockTime rt = running_time (first);
  GST_CAT_LOG_OBJECT (fanout_common_dataflow, element_,
                      "publishing %" GST_PTR_FORMAT
                      " sync %d rt %" GST_TIME_FORMAT,
                      obj, (flags & ITEM_SYNC) != 0, GST_TIME_ARGS (rt));
  if (writer_->push (obj, flags, rt) != PushResult::Ok)
    return GST_FLOW_FLUSHING;
  published_.fetch_add (1, std::memory_order_relaxed); /* relaxed: counter */
  if (flags & ITEM_SYNC)
    syncs_.fetch_add (1, std::memory_order_relaxed); /* relaxed: counter */
  return GST_FLOW_OK;
}

void
WriterGlue::set_flushing (bool flushing) noexcept
{
  if (writer_)
    writer_->set_flushing (flushing);
}

bool
WriterGlue::handle_event (GstEvent *event) noexcept
{
  MiniRef<GstEvent> ev (event);
  if (G_UNLIKELY (!writer_))
    return false;

  switch (GST_EVENT_TYPE (event)) {
  case GST_EVENT_FLUSH_START:
    writer_->set_flushing (true);
    return true;
  case GST_EVENT_FLUSH_STOP:
    writer_->reset ();
    writer_->clear_sticky (GST_EVENT_SEGMENT);
    writer_->clear_sticky (GST_EVENT_EOS);
    writer_->set_flushing (false);
    gst_segment_init (&segment_, GST_FORMAT_UNDEFINED);
    fku_mark_.store (G_MAXUINT64, std::memory_order_relaxed); /* see member */
    return true;
  case GST_EVENT_CAPS: {
    GstCaps *caps;
    gst_event_parse_caps (event, &caps);
    const GstStructure *s = caps && gst_caps_get_size (caps) > 0
                                ? gst_caps_get_structure (caps, 0)
                                : nullptr;
    raw_ = s
           && (gst_structure_has_name (s, "video/x-raw")
               || gst_structure_has_name (s, "audio/x-raw"));
    GST_DEBUG_OBJECT (element_, "caps %" GST_PTR_FORMAT ": raw %d", caps, raw_);
    pool_stale_ = true; /* upstream may configure its pool anew */
    break;
  }
  case GST_EVENT_SEGMENT:
    gst_event_copy_segment (event, &segment_);
    break;
  default:
    break;
  }

  const guint tflags = gst_event_type_get_flags (GST_EVENT_TYPE (event));
  if (!(tflags & GST_EVENT_TYPE_SERIALIZED)
      || !(tflags & GST_EVENT_TYPE_DOWNSTREAM))
    return false;
  GST_CAT_LOG_OBJECT (fanout_common_dataflow, element_,
                      "publishing event %" GST_PTR_FORMAT, event);
  /* While flushing (a writer waiting for a block reader was released) the
   * event is dropped like the data, but it is not refused: GstPad would
   * turn a refused sticky event into GST_FLOW_ERROR upstream. A sticky
   * event is in the sticky set already, so readers still get it. */
  writer_->push_event (ev.release (), GST_CLOCK_TIME_NONE);
  return true;
}

/* ------------------------------------------------------------- PadReader */

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
  /* The owner stopped the task (stop_task) before; free what is left. */
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
PadReader::start_task (const std::shared_ptr<Ring> &ring) noexcept
{
  auto *r
      = new (std::nothrow) RingReader (ring, lag_policy (), start_position ());
  if (!r)
    return false;
  r->set_max_lag_time (max_lag_.load (std::memory_order_relaxed));

  /* The task is not running: its state may be set from here. */
  sent_ = StickyRef ();
  pending_discont_ = false;
  requested_keyframe_ = false;
  /* seq_cst: read by the loop after a Woken pop. */
  stopping_.store (0, std::memory_order_seq_cst);
  /* release: pairs with stats ()/resume_task () acquire loads. */
  ended_.store (false, std::memory_order_release);
  /* relaxed: see failed () */
  failed_.store (false, std::memory_order_relaxed);
  fail_flow_.store (GST_FLOW_OK, std::memory_order_relaxed);
  downstream_nl_.store (false, std::memory_order_relaxed);
  {
    GMutexLock l (&lock_);
    reader_.reset (r);
    stopped_ = false;
  }
  GST_DEBUG_OBJECT (pad_, "joined the ring (policy %d, start %d)",
                    int (lag_policy ()), int (start_position ()));
  if (!gst_pad_start_task (pad_, task_func, this, nullptr)) {
    drop_cursor ();
    return false;
  }
  return true;
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
PadReader::stop_task () noexcept
{
  {
    GMutexLock l (&lock_);
    stopped_ = true; /* no resume_task from now on */
  }
  /* 1. unblock the loop: it sees stopping_ after its pop returns Woken */
  stopping_.fetch_add (1, std::memory_order_seq_cst);
  wake ();
  /* 2. stop the task and wait for it to leave iterate () */
  gst_pad_stop_task (pad_);
  drop_cursor ();
  GST_DEBUG_OBJECT (pad_, "left the ring");
}

void
PadReader::pause_task () noexcept
{
  stopping_.fetch_add (1, std::memory_order_seq_cst); /* see stop_task */
  wake ();
  gst_pad_pause_task (pad_);
  stopping_.fetch_sub (1, std::memory_order_seq_cst);
}

void
PadReader::resume_task () noexcept
{
  GMutexLock l (&lock_);
  /* Under lock_ so that a concurrent stop_task either sees a started task
   * (and stops it) or we see no cursor (and start nothing). Starting a task
   * does not wait for anything. */
  if (stopped_ || !reader_ || ended_.load (std::memory_order_acquire))
    return;
  /* Sticky events are replayed (GstPad drops the ones it already has):
   * release, the task acquires it before its next pop. */
  resync_.store (true, std::memory_order_release);
  gst_pad_start_task (pad_, task_func, this, nullptr);
}

void
PadReader::task_func (gpointer data) noexcept
{
  static_cast<PadReader *> (data)->iterate ();
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
  /* release: pairs with stats () and resume_task (). */
  ended_.store (true, std::memory_order_release);
  drop_cursor ();
  gst_pad_pause_task (pad_);
  if (hooks_) {
    hooks_->removed (*this, reason, flow);
    hooks_->state_changed (*this);
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
  if (hooks_) {
    hooks_->removed (*this, reason, flow);
    hooks_->state_changed (*this);
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
    GST_CAT_LOG_OBJECT (fanout_common_dataflow, pad_,
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
    GST_CAT_LOG_OBJECT (fanout_common_dataflow, pad_, "pushing list of %u", n);
    flow = gst_pad_push_list (pad_, GST_BUFFER_LIST (obj));
  } else if (GST_IS_BUFFER (obj)) {
    GST_CAT_LOG_OBJECT (fanout_common_dataflow, pad_,
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

/* Returns false when the loop must stop (paused or ended). */
bool
PadReader::handle_item (RingItem &item) noexcept
{
  /* A failed reader drops data up to the next sync point, then retries
   * from there with every sticky event pushed again. */
  bool retrying = false;
  if (G_UNLIKELY (failed_.load (std::memory_order_relaxed))
      && !(item.flags & ITEM_EVENT)) {
    if (!(item.flags & ITEM_SYNC)) {
      item.obj.reset ();
      return true;
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
    return true;

  if (item.flags & ITEM_EVENT) {
    GstEvent *event = GST_EVENT_CAST (obj);
    /* A sticky event item was pushed with its sticky set just above. */
    if ((item.flags & ITEM_STICKY) && sticky_contains (sent_.get (), event)) {
      gst_event_unref (event);
      return true;
    }
    if (hooks_)
      obj = hooks_->transform (*this, obj);
    if (obj) {
      GST_CAT_LOG_OBJECT (fanout_common_dataflow, pad_,
                          "pushing event %" GST_PTR_FORMAT, obj);
      gst_pad_push_event (pad_, GST_EVENT_CAST (obj));
    }
    return true;
  }

  GstFlowReturn flow = push_data (obj, pending_discont_ || retrying);
  pending_discont_ = false;
  if (flow != GST_FLOW_FLUSHING)
    set_state (downstream_nl_, flow == GST_FLOW_NOT_LINKED);
  if (G_UNLIKELY (retrying)) {
    if (flow == GST_FLOW_NOT_NEGOTIATED || flow < GST_FLOW_EOS) {
      GST_DEBUG_OBJECT (pad_, "retry failed: %s", gst_flow_get_name (flow));
      return true;
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
    return true;
  case GST_FLOW_FLUSHING: {
    /* Our pad flushing (flush, deactivation): pause until resumed. Only
     * downstream flushing (a branch not started yet): drop and go on, so
     * data flows again once it starts, and a block reader does not hold
     * the writer meanwhile. */
    GST_OBJECT_LOCK (pad_);
    const bool ours = GST_PAD_IS_FLUSHING (pad_);
    GST_OBJECT_UNLOCK (pad_);
    if (!ours)
      return true;
    GST_DEBUG_OBJECT (pad_, "flushing: pausing");
    gst_pad_pause_task (pad_);
    return false;
  }
  case GST_FLOW_NOT_NEGOTIATED:
    fail (RemoveReason::NotNegotiated, flow);
    return retry_;
  default:
    if (flow < GST_FLOW_EOS) {
      fail (RemoveReason::Error, flow);
      return retry_;
    }
    return true; /* custom success flows */
  }
}

void
PadReader::iterate () noexcept
{
  RingReader *r = reader_.get ();
  if (G_UNLIKELY (!r || stopping_.load (std::memory_order_seq_cst) > 0)) {
    gst_pad_pause_task (pad_);
    return;
  }

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
    case PopResult::Ok:
      if (!handle_item (item))
        return;
      break;
    case PopResult::Empty:
      check_keyframe ();
      return;
    case PopResult::Woken:
      if (stopping_.load (std::memory_order_seq_cst) > 0) {
        gst_pad_pause_task (pad_);
        return;
      }
      break;
    case PopResult::Flushing:
      GST_DEBUG_OBJECT (pad_, "ring flushing: pausing");
      gst_pad_pause_task (pad_);
      return;
    case PopResult::Disconnected:
      end (RemoveReason::Lapped, GST_FLOW_OK);
      return;
    }
    res = r->try_pop (item);
  }
}

} // namespace gstfanout
