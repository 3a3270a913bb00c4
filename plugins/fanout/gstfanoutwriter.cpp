/* gst-fanout
 * Copyright (C) 2026 the gst-fanout authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2.1 of the License, or (at your option) any later version.
 */

/* The writer glue; see gstfanoutwriter.h. */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstfanoutwriter.h"

GST_DEBUG_CATEGORY_STATIC (fanout_writer_debug);
GST_DEBUG_CATEGORY_STATIC (fanout_writer_dataflow);
#define GST_CAT_DEFAULT fanout_writer_debug

static void
ensure_debug (void) noexcept
{
  static gsize done = 0;
  if (g_once_init_enter (&done)) {
    GST_DEBUG_CATEGORY_INIT (fanout_writer_debug, "fanoutwriter", 0,
                             "fanout writer glue");
    GST_DEBUG_CATEGORY_INIT (fanout_writer_dataflow, "fanoutwriter_dataflow", 0,
                             "fanout writer glue, per-item logs");
    g_once_init_leave (&done, 1);
  }
}

namespace gstfanout
{

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
  GST_CAT_LOG_OBJECT (fanout_writer_dataflow, element_,
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
  GST_CAT_LOG_OBJECT (fanout_writer_dataflow, element_,
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
  GST_CAT_LOG_OBJECT (fanout_writer_dataflow, element_,
                      "publishing event %" GST_PTR_FORMAT, event);
  /* While flushing (a writer waiting for a block reader was released) the
   * event is dropped like the data, but it is not refused: GstPad would
   * turn a refused sticky event into GST_FLOW_ERROR upstream. A sticky
   * event is in the sticky set already, so readers still get it. */
  writer_->push_event (ev.release (), GST_CLOCK_TIME_NONE);
  return true;
}

} // namespace gstfanout
