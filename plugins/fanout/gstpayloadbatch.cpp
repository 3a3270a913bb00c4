/* gst-fanout
 * Copyright (C) 2026 the gst-fanout authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2.1 of the License, or (at your option) any later version.
 */

/**
 * SECTION:element-payloadbatch
 * @title: payloadbatch
 *
 * Groups incoming buffers (and buffer lists) into #GstBufferList batches, so
 * that the elements after it are called once per batch instead of once per
 * packet: `udpsink` and `multiudpsink` then send a whole batch with one
 * `sendmmsg` call, and a `fanout` ring stores one item per batch.
 *
 * A batch is pushed when the first of these is met: it holds `max-buffers`
 * buffers; it holds `max-bytes` bytes (a buffer that would take it past
 * `max-bytes` starts the next batch); its first buffer has waited
 * `max-latency` on the element's clock (a clock wait pushes it even if no
 * new buffer arrives); or a `boundary`: with `frame` (the default) a batch
 * ends at the RTP marker bit for `application/x-rtp` (and a new RTP timestamp
 * starts a new batch, for payloaders without marker bits) and at a change of
 * PTS for anything else; with `keyframe` a new batch starts at every buffer
 * without the DELTA_UNIT flag.
 *
 * The element never reorders nor drops: every serialized event (EOS, caps,
 * segment, ...) and FLUSH_START push the pending batch first, then pass. The
 * LATENCY query adds `max-latency`. `passthrough=true` pushes every buffer as
 * it comes, for A/B comparisons.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 videotestsrc is-live=true ! x264enc tune=zerolatency ! \
 *     rtph264pay ! payloadbatch ! udpsink host=127.0.0.1 port=5000
 * ]| Sends each H.264 frame's RTP packets with one `sendmmsg` call.
 */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstpayloadbatch.h"

#include <gst/rtp/gstrtpbuffer.h>

#include <utility>

#include "gstfanoutraii.h"

using gstfanout::GMutexLock;
using gstfanout::MiniRef;

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE (
    "sink", GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS_ANY);

static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE (
    "src", GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS_ANY);

GST_DEBUG_CATEGORY_STATIC (gst_payload_batch_debug);
#define GST_CAT_DEFAULT gst_payload_batch_debug
/* per-buffer and per-batch logs */
GST_DEBUG_CATEGORY_STATIC (gst_payload_batch_dataflow);

#define DEFAULT_PROP_MAX_BUFFERS 64
#define DEFAULT_PROP_MAX_BYTES 65536
#define DEFAULT_PROP_MAX_LATENCY 0
#define DEFAULT_PROP_BOUNDARY GST_PAYLOAD_BATCH_BOUNDARY_FRAME
#define DEFAULT_PROP_PASSTHROUGH FALSE

enum {
  PROP_0,
  PROP_MAX_BUFFERS,
  PROP_MAX_BYTES,
  PROP_MAX_LATENCY,
  PROP_BOUNDARY,
  PROP_PASSTHROUGH,
  PROP_BATCHES,
  PROP_BUFFERS,
  PROP_AVERAGE_BATCH,
};

namespace gstfanout
{

/* What the properties set; read by the streaming thread under the lock. */
struct PayloadBatchSettings {
  guint max_buffers = DEFAULT_PROP_MAX_BUFFERS;
  guint max_bytes = DEFAULT_PROP_MAX_BYTES;
  GstClockTime max_latency = DEFAULT_PROP_MAX_LATENCY;
  GstPayloadBatchBoundary boundary = DEFAULT_PROP_BOUNDARY;
  bool passthrough = DEFAULT_PROP_PASSTHROUGH;
};

} // namespace gstfanout

/* Lock order: the sink pad's STREAM_LOCK, then priv->lock, then the
 * element's OBJECT_LOCK. priv->lock is held only to decide and to take a
 * batch out: never while pushing, sending an event, posting a message or
 * waiting on the clock. Pushes are serialized by the sink pad's STREAM_LOCK:
 * the chain function and serialized events hold it already, the timer task
 * takes it before it pushes a timed-out batch. */
struct _GstPayloadBatchPrivate {
  GMutex lock; /* protects everything below */
  GCond cond;  /* wakes the timer task (a batch started, state changed) */

  gstfanout::PayloadBatchSettings settings;

  /* State: what streaming changes, reset on READY->PAUSED and FLUSH_STOP. */
  MiniRef<GstBufferList> pending; /* the open batch, or empty */
  gsize pending_bytes = 0;
  /* clock running time when the open batch's first buffer arrived, or NONE
   * (no clock: not PLAYING) */
  GstClockTime first_arrival = GST_CLOCK_TIME_NONE;
  guint64 generation = 0; /* +1 each time the open batch is closed */
  GstClockTime last_pts = GST_CLOCK_TIME_NONE; /* frame: non-RTP */
  guint32 last_rtptime = 0;                    /* frame: RTP */
  bool have_last_rtptime = false;
  bool is_rtp = false;         /* caps are application/x-rtp */
  bool untimed_warned = false; /* the no-timestamp warning was posted */
  bool flushing = false;       /* between FLUSH_START and FLUSH_STOP */
  bool running = false;        /* the src pad is active: timer task runs */
  bool playing = false;        /* PLAYING: clock and base_time are valid */
  GstClock *clock = nullptr;   /* owned ref while playing */
  GstClockTime base_time = 0;
  GstClockID clock_id = nullptr; /* the timer task's current wait (ref) */

  /* Stats. */
  guint64 batches = 0;
  guint64 buffers = 0;

  _GstPayloadBatchPrivate ()
  {
    g_mutex_init (&lock);
    g_cond_init (&cond);
  }
  ~_GstPayloadBatchPrivate ()
  {
    g_cond_clear (&cond);
    g_mutex_clear (&lock);
  }
};

GType
gst_payload_batch_boundary_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    { GST_PAYLOAD_BATCH_BOUNDARY_NONE, "No boundary: size and time bounds only",
      "none" },
    { GST_PAYLOAD_BATCH_BOUNDARY_FRAME,
      "End a batch at each frame end (RTP marker bit, else a change of PTS)",
      "frame" },
    { GST_PAYLOAD_BATCH_BOUNDARY_KEYFRAME,
      "Start a new batch at each keyframe (buffer without DELTA_UNIT)",
      "keyframe" },
    { 0, nullptr, nullptr },
  };

  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("GstPayloadBatchBoundary", values);
    g_once_init_leave (&type, t);
  }
  return type;
}

#define gst_payload_batch_parent_class parent_class
G_DEFINE_TYPE_WITH_CODE (
    GstPayloadBatch, gst_payload_batch, GST_TYPE_ELEMENT,
    GST_DEBUG_CATEGORY_INIT (gst_payload_batch_debug, "payloadbatch", 0,
                             "payloadbatch element");
    GST_DEBUG_CATEGORY_INIT (gst_payload_batch_dataflow,
                             "payloadbatch_dataflow", 0,
                             "payloadbatch per-buffer and per-batch logs"));
GST_ELEMENT_REGISTER_DEFINE (payloadbatch, "payloadbatch", GST_RANK_NONE,
                             GST_TYPE_PAYLOAD_BATCH);

static void gst_payload_batch_finalize (GObject *object) noexcept;
static void gst_payload_batch_set_property (GObject *object, guint prop_id,
                                            const GValue *value,
                                            GParamSpec *pspec) noexcept;
static void gst_payload_batch_get_property (GObject *object, guint prop_id,
                                            GValue *value,
                                            GParamSpec *pspec) noexcept;
static GstStateChangeReturn
gst_payload_batch_change_state (GstElement *element,
                                GstStateChange transition) noexcept;
static GstFlowReturn gst_payload_batch_chain (GstPad *pad, GstObject *parent,
                                              GstBuffer *buffer) noexcept;
static GstFlowReturn
gst_payload_batch_chain_list (GstPad *pad, GstObject *parent,
                              GstBufferList *list) noexcept;
static gboolean gst_payload_batch_sink_event (GstPad *pad, GstObject *parent,
                                              GstEvent *event) noexcept;
static gboolean gst_payload_batch_src_query (GstPad *pad, GstObject *parent,
                                             GstQuery *query) noexcept;
static gboolean gst_payload_batch_src_activate_mode (GstPad *pad,
                                                     GstObject *parent,
                                                     GstPadMode mode,
                                                     gboolean active) noexcept;
static void gst_payload_batch_timer_loop (gpointer user_data) noexcept;
static bool gst_payload_batch_needs_timer (GstPayloadBatch *self) noexcept;

static void
gst_payload_batch_class_init (GstPayloadBatchClass *klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);

  gobject_class->finalize = gst_payload_batch_finalize;
  gobject_class->set_property = gst_payload_batch_set_property;
  gobject_class->get_property = gst_payload_batch_get_property;

  /**
   * GstPayloadBatch:max-buffers:
   *
   * Push a batch when it holds this many buffers (0 = no bound).
   */
  g_object_class_install_property (
      gobject_class, PROP_MAX_BUFFERS,
      g_param_spec_uint ("max-buffers", "Max buffers",
                         "Push a batch when it holds this many buffers "
                         "(0 = no bound)",
                         0, G_MAXUINT, DEFAULT_PROP_MAX_BUFFERS,
                         (GParamFlags)(G_PARAM_READWRITE
                                       | G_PARAM_STATIC_STRINGS
                                       | GST_PARAM_MUTABLE_PLAYING)));

  /**
   * GstPayloadBatch:max-bytes:
   *
   * Push a batch when it holds this many bytes; a buffer that would take the
   * batch past this size starts the next batch (0 = no bound).
   */
  g_object_class_install_property (
      gobject_class, PROP_MAX_BYTES,
      g_param_spec_uint ("max-bytes", "Max bytes",
                         "Push a batch when it holds this many bytes; a buffer "
                         "that would exceed it starts the next batch "
                         "(0 = no bound)",
                         0, G_MAXUINT, DEFAULT_PROP_MAX_BYTES,
                         (GParamFlags)(G_PARAM_READWRITE
                                       | G_PARAM_STATIC_STRINGS
                                       | GST_PARAM_MUTABLE_PLAYING)));

  /**
   * GstPayloadBatch:max-latency:
   *
   * Push a batch when its first buffer has waited this long (ns, running
   * time on the element's clock), even if no new buffer arrives (0 = no
   * time bound). Added to the LATENCY query.
   */
  g_object_class_install_property (
      gobject_class, PROP_MAX_LATENCY,
      g_param_spec_uint64 ("max-latency", "Max latency",
                           "Push a batch when its first buffer has waited "
                           "this long in ns (0 = no time bound)",
                           0, G_MAXUINT64, DEFAULT_PROP_MAX_LATENCY,
                           (GParamFlags)(G_PARAM_READWRITE
                                         | G_PARAM_STATIC_STRINGS
                                         | GST_PARAM_MUTABLE_PLAYING)));

  /**
   * GstPayloadBatch:boundary:
   *
   * Where a batch closes besides the size and time bounds.
   */
  g_object_class_install_property (
      gobject_class, PROP_BOUNDARY,
      g_param_spec_enum ("boundary", "Boundary",
                         "Where a batch closes besides the size and time "
                         "bounds",
                         GST_TYPE_PAYLOAD_BATCH_BOUNDARY, DEFAULT_PROP_BOUNDARY,
                         (GParamFlags)(G_PARAM_READWRITE
                                       | G_PARAM_STATIC_STRINGS
                                       | GST_PARAM_MUTABLE_PLAYING)));

  /**
   * GstPayloadBatch:passthrough:
   *
   * Push every buffer (or incoming list) at once, unbatched, for A/B
   * comparisons. A pending batch is pushed first.
   */
  g_object_class_install_property (
      gobject_class, PROP_PASSTHROUGH,
      g_param_spec_boolean (
          "passthrough", "Passthrough", "Push every buffer at once, unbatched",
          DEFAULT_PROP_PASSTHROUGH,
          (GParamFlags)(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS
                        | GST_PARAM_MUTABLE_PLAYING)));

  /**
   * GstPayloadBatch:batches:
   *
   * Pushes downstream since READY->PAUSED (batches; in passthrough, each
   * buffer or incoming list).
   */
  g_object_class_install_property (
      gobject_class, PROP_BATCHES,
      g_param_spec_uint64 (
          "batches", "Batches", "Pushes downstream since READY->PAUSED", 0,
          G_MAXUINT64, 0,
          (GParamFlags)(G_PARAM_READABLE | G_PARAM_STATIC_STRINGS)));

  /**
   * GstPayloadBatch:buffers:
   *
   * Buffers pushed downstream since READY->PAUSED.
   */
  g_object_class_install_property (
      gobject_class, PROP_BUFFERS,
      g_param_spec_uint64 (
          "buffers", "Buffers", "Buffers pushed downstream since READY->PAUSED",
          0, G_MAXUINT64, 0,
          (GParamFlags)(G_PARAM_READABLE | G_PARAM_STATIC_STRINGS)));

  /**
   * GstPayloadBatch:average-batch:
   *
   * Buffers per push (buffers / batches), 0 before the first push.
   */
  g_object_class_install_property (
      gobject_class, PROP_AVERAGE_BATCH,
      g_param_spec_double (
          "average-batch", "Average batch",
          "Buffers per push (buffers / batches)", 0, G_MAXDOUBLE, 0,
          (GParamFlags)(G_PARAM_READABLE | G_PARAM_STATIC_STRINGS)));

  element_class->change_state = gst_payload_batch_change_state;

  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_set_static_metadata (
      element_class, "Payload batcher", "Generic",
      "Groups buffers into buffer lists, one per frame or batch",
      "the gst-fanout authors");

  gst_type_mark_as_plugin_api (GST_TYPE_PAYLOAD_BATCH_BOUNDARY,
                               (GstPluginAPIFlags)0);
}

static void
gst_payload_batch_init (GstPayloadBatch *self)
{
  self->priv = new GstPayloadBatchPrivate ();

  self->sinkpad = gst_pad_new_from_static_template (&sink_template, "sink");
  gst_pad_set_chain_function (self->sinkpad, gst_payload_batch_chain);
  gst_pad_set_chain_list_function (self->sinkpad, gst_payload_batch_chain_list);
  gst_pad_set_event_function (self->sinkpad, gst_payload_batch_sink_event);
  GST_PAD_SET_PROXY_CAPS (self->sinkpad);
  GST_PAD_SET_PROXY_ALLOCATION (self->sinkpad);
  gst_element_add_pad (GST_ELEMENT_CAST (self), self->sinkpad);

  self->srcpad = gst_pad_new_from_static_template (&src_template, "src");
  gst_pad_set_query_function (self->srcpad, gst_payload_batch_src_query);
  gst_pad_set_activatemode_function (self->srcpad,
                                     gst_payload_batch_src_activate_mode);
  GST_PAD_SET_PROXY_CAPS (self->srcpad);
  gst_element_add_pad (GST_ELEMENT_CAST (self), self->srcpad);
}

static void
gst_payload_batch_finalize (GObject *object) noexcept
{
  GstPayloadBatch *self = GST_PAYLOAD_BATCH_CAST (object);

  if (self->priv->clock)
    gst_object_unref (self->priv->clock);
  delete self->priv;
  self->priv = nullptr;

  G_OBJECT_CLASS (parent_class)->finalize (object);
}

static void
gst_payload_batch_set_property (GObject *object, guint prop_id,
                                const GValue *value, GParamSpec *pspec) noexcept
{
  GstPayloadBatch *self = GST_PAYLOAD_BATCH_CAST (object);
  GstPayloadBatchPrivate *priv = self->priv;
  bool latency_changed = false;

  {
    GMutexLock lock (&priv->lock);
    auto &s = priv->settings;

    switch (prop_id) {
    case PROP_MAX_BUFFERS:
      s.max_buffers = g_value_get_uint (value);
      break;
    case PROP_MAX_BYTES:
      s.max_bytes = g_value_get_uint (value);
      break;
    case PROP_MAX_LATENCY:
      latency_changed = s.max_latency != g_value_get_uint64 (value);
      s.max_latency = g_value_get_uint64 (value);
      break;
    case PROP_BOUNDARY:
      s.boundary = (GstPayloadBatchBoundary)g_value_get_enum (value);
      break;
    case PROP_PASSTHROUGH:
      latency_changed = s.passthrough != (bool)g_value_get_boolean (value);
      s.passthrough = g_value_get_boolean (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
    }

    if (latency_changed) {
      /* re-arm the timer task with the new deadline */
      if (priv->clock_id)
        gst_clock_id_unschedule (priv->clock_id);
      g_cond_signal (&priv->cond);
    }
  }

  if (latency_changed) {
    /* A time bound set while active: start the timer task now (it stops
     * with the pad; a stale start after deactivation pauses at once). */
    bool running;
    {
      GMutexLock lock (&priv->lock);
      running = priv->running;
    }
    if (running && gst_payload_batch_needs_timer (self))
      gst_pad_start_task (self->srcpad, gst_payload_batch_timer_loop, self,
                          nullptr);
    gst_element_post_message (GST_ELEMENT_CAST (self),
                              gst_message_new_latency (GST_OBJECT_CAST (self)));
  }
}

static void
gst_payload_batch_get_property (GObject *object, guint prop_id, GValue *value,
                                GParamSpec *pspec) noexcept
{
  GstPayloadBatch *self = GST_PAYLOAD_BATCH_CAST (object);
  GstPayloadBatchPrivate *priv = self->priv;
  GMutexLock lock (&priv->lock);
  const auto &s = priv->settings;

  switch (prop_id) {
  case PROP_MAX_BUFFERS:
    g_value_set_uint (value, s.max_buffers);
    break;
  case PROP_MAX_BYTES:
    g_value_set_uint (value, s.max_bytes);
    break;
  case PROP_MAX_LATENCY:
    g_value_set_uint64 (value, s.max_latency);
    break;
  case PROP_BOUNDARY:
    g_value_set_enum (value, s.boundary);
    break;
  case PROP_PASSTHROUGH:
    g_value_set_boolean (value, s.passthrough);
    break;
  case PROP_BATCHES:
    g_value_set_uint64 (value, priv->batches);
    break;
  case PROP_BUFFERS:
    g_value_set_uint64 (value, priv->buffers);
    break;
  case PROP_AVERAGE_BATCH:
    g_value_set_double (value, priv->batches ? (gdouble)priv->buffers
                                                   / (gdouble)priv->batches
                                             : 0.0);
    break;
  default:
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    break;
  }
}

/* Closes the open batch and hands it to the caller, who pushes it after
 * unlocking. Called with priv->lock held. */
static MiniRef<GstBufferList>
gst_payload_batch_take_pending_locked (GstPayloadBatch *self) noexcept
{
  GstPayloadBatchPrivate *priv = self->priv;
  MiniRef<GstBufferList> list = std::move (priv->pending);

  priv->pending_bytes = 0;
  priv->first_arrival = GST_CLOCK_TIME_NONE;
  priv->generation++;
  if (list) {
    priv->batches++;
    priv->buffers += gst_buffer_list_length (list.get ());
  }
  /* A timer wait armed for this batch fires early, sees the generation
   * changed and re-arms for the next batch: no unschedule per batch. */
  return list;
}

/* Drops the open batch unpushed (flushed or stopping). Called with
 * priv->lock held. */
static void
gst_payload_batch_discard_pending_locked (GstPayloadBatch *self) noexcept
{
  GstPayloadBatchPrivate *priv = self->priv;

  if (priv->pending)
    GST_DEBUG_OBJECT (self, "discarding a pending batch of %u buffers",
                      gst_buffer_list_length (priv->pending.get ()));
  priv->pending.reset ();
  priv->pending_bytes = 0;
  priv->first_arrival = GST_CLOCK_TIME_NONE;
  priv->generation++;
  priv->last_pts = GST_CLOCK_TIME_NONE;
  priv->have_last_rtptime = false;
}

/* The clock's running time now, or NONE without a clock (not PLAYING).
 * Called with priv->lock held; reading a clock calls nothing of ours. */
static GstClockTime
gst_payload_batch_now_locked (GstPayloadBatch *self) noexcept
{
  GstPayloadBatchPrivate *priv = self->priv;

  if (!priv->playing || !priv->clock)
    return GST_CLOCK_TIME_NONE;
  GstClockTime now = gst_clock_get_time (priv->clock);
  if (!GST_CLOCK_TIME_IS_VALID (now) || now < priv->base_time)
    return GST_CLOCK_TIME_NONE;
  return now - priv->base_time;
}

static GstFlowReturn
gst_payload_batch_push_batch (GstPayloadBatch *self,
                              MiniRef<GstBufferList> list) noexcept
{
  GST_CAT_LOG_OBJECT (gst_payload_batch_dataflow, self,
                      "pushing a batch of %u buffers",
                      gst_buffer_list_length (list.get ()));
  return gst_pad_push_list (self->srcpad, list.release ());
}

/* Reads the marker bit and the RTP timestamp; false if not valid RTP. */
static bool
gst_payload_batch_parse_rtp (GstBuffer *buffer, bool *marker,
                             guint32 *rtptime) noexcept
{
  GstRTPBuffer rtp = GST_RTP_BUFFER_INIT;

  if (!gst_rtp_buffer_map (buffer, GST_MAP_READ, &rtp))
    return false;
  *marker = gst_rtp_buffer_get_marker (&rtp);
  *rtptime = gst_rtp_buffer_get_timestamp (&rtp);
  gst_rtp_buffer_unmap (&rtp);
  return true;
}

/* Adds one buffer (owned) to the open batch, pushing what closes. Called
 * from the streaming thread with the sink pad's STREAM_LOCK held. */
static GstFlowReturn
gst_payload_batch_process (GstPayloadBatch *self,
                           MiniRef<GstBuffer> buffer) noexcept
{
  GstPayloadBatchPrivate *priv = self->priv;
  MiniRef<GstBufferList> before; /* closed before adding @buffer */
  MiniRef<GstBufferList> after;  /* closed by @buffer */
  bool warn_untimed = false;

  {
    GMutexLock lock (&priv->lock);
    const auto &s = priv->settings;

    if (G_UNLIKELY (s.passthrough)) {
      before = gst_payload_batch_take_pending_locked (self);
      priv->batches++;
      priv->buffers++;
      goto push;
    }

    gsize size = gst_buffer_get_size (buffer.get ());
    GstClockTime now = s.max_latency > 0 ? gst_payload_batch_now_locked (self)
                                         : GST_CLOCK_TIME_NONE;
    guint len
        = priv->pending ? gst_buffer_list_length (priv->pending.get ()) : 0;
    bool close_before = false;
    bool close_after = false;

    switch (s.boundary) {
    case GST_PAYLOAD_BATCH_BOUNDARY_NONE:
      break;
    case GST_PAYLOAD_BATCH_BOUNDARY_FRAME:
      if (priv->is_rtp) {
        /* a frame ends at the marker bit; a new RTP timestamp also starts a
         * new frame, for payloaders that set no marker (rtpmp2tpay) */
        bool marker;
        guint32 rtptime;
        if (gst_payload_batch_parse_rtp (buffer.get (), &marker, &rtptime)) {
          close_before = len > 0 && priv->have_last_rtptime
                         && rtptime != priv->last_rtptime;
          priv->last_rtptime = rtptime;
          priv->have_last_rtptime = true;
          close_after = marker;
        }
      } else {
        GstClockTime pts = GST_BUFFER_PTS (buffer.get ());
        if (GST_CLOCK_TIME_IS_VALID (pts)) {
          close_before = len > 0 && GST_CLOCK_TIME_IS_VALID (priv->last_pts)
                         && pts != priv->last_pts;
          priv->last_pts = pts;
        } else if (!priv->untimed_warned) {
          priv->untimed_warned = true;
          warn_untimed = true;
        }
      }
      break;
    case GST_PAYLOAD_BATCH_BOUNDARY_KEYFRAME:
      close_before = len > 0
                     && !GST_BUFFER_FLAG_IS_SET (buffer.get (),
                                                 GST_BUFFER_FLAG_DELTA_UNIT);
      break;
    }

    if (len > 0) {
      if (s.max_buffers > 0 && len >= s.max_buffers)
        close_before = true;
      if (s.max_bytes > 0 && priv->pending_bytes + size > s.max_bytes)
        close_before = true;
      if (s.max_latency > 0 && GST_CLOCK_TIME_IS_VALID (now)
          && GST_CLOCK_TIME_IS_VALID (priv->first_arrival)
          && now - priv->first_arrival >= s.max_latency)
        close_before = true;
    }

    if (close_before) {
      before = gst_payload_batch_take_pending_locked (self);
      len = 0;
    }

    if (!priv->pending) {
      guint reserve
          = s.max_buffers > 0 && s.max_buffers <= 256 ? s.max_buffers : 64;
      priv->pending.reset (gst_buffer_list_new_sized (reserve));
      priv->first_arrival = now;
      if (s.max_latency > 0)
        g_cond_signal (&priv->cond); /* a new batch: arm the timer */
    }
    gst_buffer_list_add (priv->pending.get (), buffer.release ());
    priv->pending_bytes += size;
    len++;

    if (s.max_buffers > 0 && len >= s.max_buffers)
      close_after = true;
    if (s.max_bytes > 0 && priv->pending_bytes >= s.max_bytes)
      close_after = true;
    if (close_after)
      after = gst_payload_batch_take_pending_locked (self);
  }

push:
  if (G_UNLIKELY (warn_untimed))
    GST_ELEMENT_WARNING (
        self, STREAM, FORMAT,
        ("boundary=frame needs timestamps: this stream has none, so batches "
         "close at max-buffers and max-bytes only"),
        ("a non-RTP buffer without PTS arrived with boundary=frame"));

  GstFlowReturn ret = GST_FLOW_OK;
  if (before)
    ret = gst_payload_batch_push_batch (self, std::move (before));
  if (ret == GST_FLOW_OK && buffer) {
    GST_CAT_LOG_OBJECT (gst_payload_batch_dataflow, self,
                        "passthrough %" GST_PTR_FORMAT, buffer.get ());
    ret = gst_pad_push (self->srcpad, buffer.release ());
  }
  if (ret == GST_FLOW_OK && after)
    ret = gst_payload_batch_push_batch (self, std::move (after));
  return ret;
}

static GstFlowReturn
gst_payload_batch_chain (GstPad *pad, GstObject *parent,
                         GstBuffer *buffer) noexcept
{
  GstPayloadBatch *self = GST_PAYLOAD_BATCH_CAST (parent);

  return gst_payload_batch_process (self, MiniRef<GstBuffer> (buffer));
}

static GstFlowReturn
gst_payload_batch_chain_list (GstPad *pad, GstObject *parent,
                              GstBufferList *list) noexcept
{
  GstPayloadBatch *self = GST_PAYLOAD_BATCH_CAST (parent);
  GstPayloadBatchPrivate *priv = self->priv;
  MiniRef<GstBufferList> in (list);
  MiniRef<GstBufferList> before;
  bool passthrough;

  {
    GMutexLock lock (&priv->lock);
    passthrough = priv->settings.passthrough;
    if (passthrough) {
      before = gst_payload_batch_take_pending_locked (self);
      priv->batches++;
      priv->buffers += gst_buffer_list_length (in.get ());
    }
  }

  if (passthrough) {
    GstFlowReturn ret = GST_FLOW_OK;
    if (before)
      ret = gst_payload_batch_push_batch (self, std::move (before));
    if (ret == GST_FLOW_OK)
      ret = gst_pad_push_list (self->srcpad, in.release ());
    return ret;
  }

  guint n = gst_buffer_list_length (in.get ());
  for (guint i = 0; i < n; i++) {
    GstFlowReturn ret = gst_payload_batch_process (
        self, MiniRef<GstBuffer>::ref (gst_buffer_list_get (in.get (), i)));
    if (ret != GST_FLOW_OK)
      return ret;
  }
  return GST_FLOW_OK;
}

/* FLUSH_START: push the open batch first when the streaming thread is idle
 * (the sink pad's STREAM_LOCK is free, so the push cannot overtake an older
 * one), then flush. If the streaming thread is busy (typically blocked
 * downstream, which is what a flush is meant to break), the batch stays and
 * FLUSH_STOP drops it with everything else that was flushed. */
static gboolean
gst_payload_batch_flush_start (GstPayloadBatch *self, GstEvent *event) noexcept
{
  GstPayloadBatchPrivate *priv = self->priv;
  GRecMutex *stream_lock = GST_PAD_GET_STREAM_LOCK (self->sinkpad);

  if (g_rec_mutex_trylock (stream_lock)) {
    MiniRef<GstBufferList> list;
    {
      GMutexLock lock (&priv->lock);
      list = gst_payload_batch_take_pending_locked (self);
    }
    if (list)
      gst_payload_batch_push_batch (self, std::move (list));
    g_rec_mutex_unlock (stream_lock);
  }

  {
    GMutexLock lock (&priv->lock);
    priv->flushing = true;
    if (priv->clock_id)
      gst_clock_id_unschedule (priv->clock_id);
    g_cond_signal (&priv->cond);
  }

  return gst_pad_push_event (self->srcpad, event);
}

static gboolean
gst_payload_batch_sink_event (GstPad *pad, GstObject *parent,
                              GstEvent *event) noexcept
{
  GstPayloadBatch *self = GST_PAYLOAD_BATCH_CAST (parent);
  GstPayloadBatchPrivate *priv = self->priv;

  GST_DEBUG_OBJECT (pad, "event %" GST_PTR_FORMAT, event);

  if (GST_EVENT_TYPE (event) == GST_EVENT_FLUSH_START)
    return gst_payload_batch_flush_start (self, event);

  if (GST_EVENT_TYPE (event) == GST_EVENT_FLUSH_STOP) {
    GMutexLock lock (&priv->lock);
    gst_payload_batch_discard_pending_locked (self);
    priv->flushing = false;
    g_cond_signal (&priv->cond);
  } else if (((guint)GST_EVENT_TYPE (event) & (guint)GST_EVENT_TYPE_SERIALIZED)
             != 0) {
    /* The sink pad's STREAM_LOCK is held: push the open batch, then the
     * event, in order. */
    MiniRef<GstBufferList> list;
    {
      GMutexLock lock (&priv->lock);
      list = gst_payload_batch_take_pending_locked (self);
      if (GST_EVENT_TYPE (event) == GST_EVENT_CAPS) {
        GstCaps *caps;
        gst_event_parse_caps (event, &caps);
        GstStructure *s = gst_caps_get_structure (caps, 0);
        priv->is_rtp = s && gst_structure_has_name (s, "application/x-rtp");
        priv->last_pts = GST_CLOCK_TIME_NONE;
        priv->have_last_rtptime = false;
      } else if (GST_EVENT_TYPE (event) == GST_EVENT_SEGMENT) {
        priv->last_pts = GST_CLOCK_TIME_NONE;
        priv->have_last_rtptime = false;
      }
    }
    if (list) {
      GstFlowReturn ret = gst_payload_batch_push_batch (self, std::move (list));
      if (ret != GST_FLOW_OK)
        GST_DEBUG_OBJECT (self, "pushing the batch before %s: %s",
                          GST_EVENT_TYPE_NAME (event), gst_flow_get_name (ret));
    }
  }

  return gst_pad_event_default (pad, parent, event);
}

static gboolean
gst_payload_batch_src_query (GstPad *pad, GstObject *parent,
                             GstQuery *query) noexcept
{
  GstPayloadBatch *self = GST_PAYLOAD_BATCH_CAST (parent);
  GstPayloadBatchPrivate *priv = self->priv;

  if (GST_QUERY_TYPE (query) != GST_QUERY_LATENCY)
    return gst_pad_query_default (pad, parent, query);

  if (!gst_pad_peer_query (self->sinkpad, query))
    return FALSE;

  gboolean live;
  GstClockTime min, max, ours;
  gst_query_parse_latency (query, &live, &min, &max);
  {
    GMutexLock lock (&priv->lock);
    ours = priv->settings.passthrough ? 0 : priv->settings.max_latency;
  }
  min += ours;
  if (GST_CLOCK_TIME_IS_VALID (max))
    max += ours;
  GST_DEBUG_OBJECT (self,
                    "latency: live %d min %" GST_TIME_FORMAT
                    " max %" GST_TIME_FORMAT " (ours %" GST_TIME_FORMAT ")",
                    live, GST_TIME_ARGS (min), GST_TIME_ARGS (max),
                    GST_TIME_ARGS (ours));
  gst_query_set_latency (query, live, min, max);
  return TRUE;
}

/* The timer task, on the src pad: while a batch is open and max-latency is
 * set, waits on the element's clock until the batch's first buffer has
 * waited max-latency, then pushes the batch (under the sink pad's
 * STREAM_LOCK, so it cannot overtake or be overtaken by the chain
 * function). One iteration per wait. */
static void
gst_payload_batch_timer_loop (gpointer user_data) noexcept
{
  GstPayloadBatch *self = GST_PAYLOAD_BATCH_CAST (user_data);
  GstPayloadBatchPrivate *priv = self->priv;
  GstClockID id;
  guint64 generation;

  {
    GMutexLock lock (&priv->lock);
    for (;;) {
      if (!priv->running)
        goto stopped;
      if (!priv->flushing && priv->playing && priv->clock && priv->pending
          && GST_CLOCK_TIME_IS_VALID (priv->first_arrival)
          && priv->settings.max_latency > 0 && !priv->settings.passthrough)
        break;
      g_cond_wait (&priv->cond, &priv->lock);
    }
    GstClockTime deadline
        = priv->base_time + priv->first_arrival + priv->settings.max_latency;
    id = gst_clock_new_single_shot_id (priv->clock, deadline);
    priv->clock_id = gst_clock_id_ref (id);
    generation = priv->generation;
    GST_CAT_LOG_OBJECT (gst_payload_batch_dataflow, self,
                        "waiting until %" GST_TIME_FORMAT,
                        GST_TIME_ARGS (deadline));
  }

  {
    GstClockReturn cret = gst_clock_id_wait (id, nullptr);
    {
      GMutexLock lock (&priv->lock);
      gst_clock_id_unref (priv->clock_id);
      priv->clock_id = nullptr;
    }
    gst_clock_id_unref (id);
    if (cret == GST_CLOCK_UNSCHEDULED)
      return; /* flushing, stopping, or a new max-latency: re-check */
  }

  {
    /* a batch closed meanwhile (the usual case when batches close at
     * boundaries): skip the stream lock, the next iteration re-arms */
    GMutexLock lock (&priv->lock);
    if (priv->generation != generation)
      return;
  }

  {
    GST_PAD_STREAM_LOCK (self->sinkpad);
    MiniRef<GstBufferList> list;
    {
      GMutexLock lock (&priv->lock);
      /* a batch closed meanwhile: the next iteration arms for the new one */
      if (priv->running && !priv->flushing && priv->generation == generation)
        list = gst_payload_batch_take_pending_locked (self);
    }
    if (list) {
      GST_CAT_DEBUG_OBJECT (gst_payload_batch_dataflow, self,
                            "max-latency reached");
      gst_payload_batch_push_batch (self, std::move (list));
    }
    GST_PAD_STREAM_UNLOCK (self->sinkpad);
  }
  return;

stopped:
  gst_pad_pause_task (self->srcpad);
}

/* Whether the timer task has work: max-latency set and not passthrough. */
static bool
gst_payload_batch_needs_timer (GstPayloadBatch *self) noexcept
{
  GMutexLock lock (&self->priv->lock);
  const auto &s = self->priv->settings;
  return s.max_latency > 0 && !s.passthrough;
}

static gboolean
gst_payload_batch_src_activate_mode (GstPad *pad, GstObject *parent,
                                     GstPadMode mode, gboolean active) noexcept
{
  GstPayloadBatch *self = GST_PAYLOAD_BATCH_CAST (parent);
  GstPayloadBatchPrivate *priv = self->priv;

  if (mode != GST_PAD_MODE_PUSH)
    return FALSE;

  if (active) {
    {
      GMutexLock lock (&priv->lock);
      priv->running = true;
      priv->flushing = false;
    }
    /* The timer thread exists only while a time bound can apply (an
     * RTSP server with one payloadbatch per client saves a thread each). */
    return !gst_payload_batch_needs_timer (self)
           || gst_pad_start_task (pad, gst_payload_batch_timer_loop, self,
                                  nullptr);
  }

  /* 1. unblock the timer task: stop flag, cancel its wait, wake it */
  {
    GMutexLock lock (&priv->lock);
    priv->running = false;
    if (priv->clock_id)
      gst_clock_id_unschedule (priv->clock_id);
    g_cond_signal (&priv->cond);
  }
  /* 2. wait for it to leave its iteration and stop */
  return gst_pad_stop_task (pad);
}

static GstStateChangeReturn
gst_payload_batch_change_state (GstElement *element,
                                GstStateChange transition) noexcept
{
  GstPayloadBatch *self = GST_PAYLOAD_BATCH_CAST (element);
  GstPayloadBatchPrivate *priv = self->priv;

  switch (transition) {
  case GST_STATE_CHANGE_READY_TO_PAUSED: {
    GMutexLock lock (&priv->lock);
    if (priv->settings.max_buffers == 0 && priv->settings.max_bytes == 0)
      goto zero_bounds;
    gst_payload_batch_discard_pending_locked (self);
    priv->is_rtp = false;
    priv->untimed_warned = false;
    priv->batches = 0;
    priv->buffers = 0;
    break;
  }
  case GST_STATE_CHANGE_PAUSED_TO_PLAYING: {
    GstClock *clock = gst_element_get_clock (element);
    GstClockTime base_time = gst_element_get_base_time (element);
    GMutexLock lock (&priv->lock);
    if (priv->clock)
      gst_object_unref (priv->clock);
    priv->clock = clock;
    priv->base_time = base_time;
    priv->playing = true;
    /* a batch that opened while paused starts its wait now */
    if (priv->pending && !GST_CLOCK_TIME_IS_VALID (priv->first_arrival))
      priv->first_arrival = gst_payload_batch_now_locked (self);
    g_cond_signal (&priv->cond);
    break;
  }
  case GST_STATE_CHANGE_PLAYING_TO_PAUSED: {
    /* the base time changes on the way back to PLAYING: cancel the wait */
    GMutexLock lock (&priv->lock);
    priv->playing = false;
    priv->first_arrival = GST_CLOCK_TIME_NONE;
    if (priv->clock_id)
      gst_clock_id_unschedule (priv->clock_id);
    break;
  }
  default:
    break;
  }

  {
    GstStateChangeReturn ret
        = GST_ELEMENT_CLASS (parent_class)->change_state (element, transition);
    if (ret == GST_STATE_CHANGE_FAILURE)
      return ret;

    switch (transition) {
    case GST_STATE_CHANGE_PAUSED_TO_READY: {
      /* pads are inactive: no chain, no timer; drop what is left */
      GMutexLock lock (&priv->lock);
      gst_payload_batch_discard_pending_locked (self);
      if (priv->clock) {
        gst_object_unref (priv->clock);
        priv->clock = nullptr;
      }
      break;
    }
    default:
      break;
    }
    return ret;
  }

  /* ERRORS */
zero_bounds:
  GST_ELEMENT_ERROR (self, LIBRARY, SETTINGS,
                     ("max-buffers and max-bytes are both 0: nothing would "
                      "close a batch; set at least one of them"),
                     ("refusing READY->PAUSED with max-buffers=0 "
                      "max-bytes=0"));
  return GST_STATE_CHANGE_FAILURE;
}
