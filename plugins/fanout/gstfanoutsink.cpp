/* gst-fanout
 * Copyright (C) 2026 the gst-fanout authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2.1 of the License, or (at your option) any later version.
 */

/**
 * SECTION:element-fanoutsink
 * @title: fanoutsink
 * @see_also: fanoutsrc, fanout
 *
 * Writes its stream into the lock-free ring of a named channel, from which
 * any number of fanoutsrc elements in other pipelines of the same process
 * read, each at its own pace. The channel registry is per process: two
 * processes never share a channel.
 *
 * One writer per channel: a second fanoutsink on a channel in use fails its
 * state change to READY with an error naming the channel. The writer runs
 * whether or not readers are attached (buffers are released as the ring
 * turns), and its cost per buffer does not depend on the number of readers.
 * Upstream events sent by readers (force-key-unit when a reader starts
 * without a keyframe in the ring) are pushed upstream from the sink pad,
 * at most one per GOP. While PLAYING it publishes its clock and base time
 * in the channel, for readers with timestamp-mode=clock.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 videotestsrc is-live=true ! x264enc tune=zerolatency \
 *   ! fanoutsink channel=cam \
 *   fanoutsrc channel=cam ! decodebin ! videoconvert ! autovideosink
 * ]| Capture and encode once into channel "cam"; the second chain (usually
 * another pipeline of the application) decodes and shows it.
 */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstfanoutsink.h"

#include <gst/video/video.h>

#include <memory>
#include <string>

#include "gstfanoutchannel.h"
#include "gstfanouttypes.h"
#include "gstfanoutwriter.h"

using namespace gstfanout;

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE (
    "sink", GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS_ANY);

GST_DEBUG_CATEGORY_STATIC (gst_fanout_sink_debug);
#define GST_CAT_DEFAULT gst_fanout_sink_debug

#define DEFAULT_PROP_CHANNEL NULL
#define DEFAULT_PROP_CAPACITY 1024
#define DEFAULT_PROP_MAX_LAG_TIME GST_CLOCK_TIME_NONE
#define MAX_CAPACITY (1u << 26)

enum {
  PROP_0,
  PROP_CHANNEL,
  PROP_CAPACITY,
  PROP_MAX_LAG_TIME,
  PROP_NUM_READERS,
  PROP_STATS,
};

enum { SIGNAL_READER_ADDED, SIGNAL_READER_REMOVED, LAST_SIGNAL };

static guint gst_fanout_sink_signals[LAST_SIGNAL] = { 0 };

/* Lock order: the object lock guards Settings and the channel/ring refs;
 * nothing is called out while holding it. The channel registry has its own
 * lock (gstfanoutchannel.cpp), never taken with the object lock held. */
struct GstFanoutSinkPrivate {
  explicit GstFanoutSinkPrivate (GstElement *e) noexcept : glue (e) {}

  /* Settings: what properties set (object lock). */
  std::string channel_name;
  guint capacity = DEFAULT_PROP_CAPACITY;
  GstClockTime max_lag_time = DEFAULT_PROP_MAX_LAG_TIME;

  /* State, set on NULL<->READY under the object lock. */
  ChannelRef channel;
  std::shared_ptr<Ring> ring;
  RingWriter *ring_writer = nullptr; /* lent by the channel */

  /* Streaming thread (and the few any-thread calls it documents). */
  WriterGlue glue;
};

#define gst_fanout_sink_parent_class parent_class
G_DEFINE_TYPE_WITH_CODE (GstFanoutSink, gst_fanout_sink, GST_TYPE_ELEMENT,
                         GST_DEBUG_CATEGORY_INIT (gst_fanout_sink_debug,
                                                  "fanoutsink", 0,
                                                  "fanoutsink element"));
GST_ELEMENT_REGISTER_DEFINE (fanoutsink, "fanoutsink", GST_RANK_NONE,
                             GST_TYPE_FANOUT_SINK);

static void gst_fanout_sink_finalize (GObject *object) noexcept;
static void gst_fanout_sink_set_property (GObject *object, guint prop_id,
                                          const GValue *value,
                                          GParamSpec *pspec) noexcept;
static void gst_fanout_sink_get_property (GObject *object, guint prop_id,
                                          GValue *value,
                                          GParamSpec *pspec) noexcept;
static GstStateChangeReturn
gst_fanout_sink_change_state (GstElement *element,
                              GstStateChange transition) noexcept;
static gboolean gst_fanout_sink_query (GstElement *element,
                                       GstQuery *query) noexcept;
static GstFlowReturn gst_fanout_sink_chain (GstPad *pad, GstObject *parent,
                                            GstBuffer *buffer) noexcept;
static GstFlowReturn gst_fanout_sink_chain_list (GstPad *pad, GstObject *parent,
                                                 GstBufferList *list) noexcept;
static gboolean gst_fanout_sink_sink_event (GstPad *pad, GstObject *parent,
                                            GstEvent *event) noexcept;
static gboolean gst_fanout_sink_sink_query (GstPad *pad, GstObject *parent,
                                            GstQuery *query) noexcept;

static void
gst_fanout_sink_class_init (GstFanoutSinkClass *klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);

  gobject_class->finalize = gst_fanout_sink_finalize;
  gobject_class->set_property = gst_fanout_sink_set_property;
  gobject_class->get_property = gst_fanout_sink_get_property;

  /**
   * GstFanoutSink:channel:
   *
   * The channel name readers use (any string, per process).
   */
  g_object_class_install_property (
      gobject_class, PROP_CHANNEL,
      g_param_spec_string (
          "channel", "Channel",
          "Name of the channel to write (shared with fanoutsrc elements of "
          "this process)",
          DEFAULT_PROP_CHANNEL,
          (GParamFlags)(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS
                        | GST_PARAM_MUTABLE_READY)));

  /**
   * GstFanoutSink:capacity:
   *
   * Ring size in items (rounded up to a power of two). Readers attached to
   * the channel keep its ring across writer restarts; a new capacity then
   * applies once they are gone.
   */
  g_object_class_install_property (
      gobject_class, PROP_CAPACITY,
      g_param_spec_uint (
          "capacity", "Capacity",
          "Ring size in items (buffers, buffer lists and events), rounded up "
          "to a power of two",
          1, MAX_CAPACITY, DEFAULT_PROP_CAPACITY,
          (GParamFlags)(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS
                        | GST_PARAM_MUTABLE_READY)));

  /**
   * GstFanoutSink:max-lag-time:
   *
   * A reader further behind than this (running time) is treated as lapped
   * and handled by its lag-policy. Applies to readers that start after it
   * is set.
   */
  g_object_class_install_property (
      gobject_class, PROP_MAX_LAG_TIME,
      g_param_spec_uint64 (
          "max-lag-time", "Max lag time",
          "A reader further behind than this (ns of running time) is treated "
          "as lapped (GST_CLOCK_TIME_NONE: only when the ring laps it)",
          0, G_MAXUINT64, DEFAULT_PROP_MAX_LAG_TIME,
          (GParamFlags)(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS
                        | GST_PARAM_MUTABLE_PLAYING)));

  /**
   * GstFanoutSink:num-readers:
   *
   * fanoutsrc elements attached to the channel now.
   */
  g_object_class_install_property (
      gobject_class, PROP_NUM_READERS,
      g_param_spec_uint ("num-readers", "Number of readers",
                         "fanoutsrc elements attached to the channel", 0,
                         G_MAXUINT, 0,
                         (GParamFlags)(G_PARAM_READABLE | G_PARAM_STATIC_STRINGS
                                       | GST_PARAM_MUTABLE_PLAYING)));

  /**
   * GstFanoutSink:stats:
   *
   * A "fanoutsink-stats" structure: channel, capacity, num-readers, items
   * (published so far), sleeps, wakeups, writer-waits, and readers (a list
   * of each attached fanoutsrc's stats structure).
   */
  g_object_class_install_property (
      gobject_class, PROP_STATS,
      g_param_spec_boxed (
          "stats", "Statistics", "Channel, ring and per-reader statistics",
          GST_TYPE_STRUCTURE,
          (GParamFlags)(G_PARAM_READABLE | G_PARAM_STATIC_STRINGS
                        | GST_PARAM_MUTABLE_PLAYING)));

  /**
   * GstFanoutSink::reader-added:
   * @sink: the fanoutsink
   * @reader: the fanoutsrc element that joined
   *
   * A reader joined the channel while this element was its writer. Emitted
   * from the reader's thread (its state change), with no lock held.
   */
  gst_fanout_sink_signals[SIGNAL_READER_ADDED] = g_signal_new (
      "reader-added", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
      NULL, NULL, G_TYPE_NONE, 1, GST_TYPE_ELEMENT);

  /**
   * GstFanoutSink::reader-removed:
   * @sink: the fanoutsink
   * @reader: the fanoutsrc element that left
   * @reason: "released" (it stopped), "lapped" (lag-policy=disconnect),
   *   "not-negotiated" or "error" (its downstream failed)
   *
   * A reader left the channel while this element was its writer. Emitted
   * from the reader's thread, with no lock held.
   */
  gst_fanout_sink_signals[SIGNAL_READER_REMOVED] = g_signal_new (
      "reader-removed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
      NULL, NULL, G_TYPE_NONE, 2, GST_TYPE_ELEMENT, G_TYPE_STRING);

  gst_element_class_set_static_metadata (
      element_class, "Fan-out channel sink", "Sink/Generic",
      "Writes a stream into a named in-process channel read by fanoutsrc "
      "elements, each at its own pace",
      "the gst-fanout authors");
  gst_element_class_add_static_pad_template (element_class, &sink_template);

  element_class->change_state = gst_fanout_sink_change_state;
  element_class->query = gst_fanout_sink_query;
}

static void
gst_fanout_sink_init (GstFanoutSink *self)
{
  self->priv = new GstFanoutSinkPrivate (GST_ELEMENT_CAST (self));

  self->sinkpad = gst_pad_new_from_static_template (&sink_template, "sink");
  gst_pad_set_chain_function (self->sinkpad, gst_fanout_sink_chain);
  gst_pad_set_chain_list_function (self->sinkpad, gst_fanout_sink_chain_list);
  gst_pad_set_event_function (self->sinkpad, gst_fanout_sink_sink_event);
  gst_pad_set_query_function (self->sinkpad, gst_fanout_sink_sink_query);
  gst_element_add_pad (GST_ELEMENT_CAST (self), self->sinkpad);

  GST_OBJECT_FLAG_SET (self, GST_ELEMENT_FLAG_SINK);
}

static void
gst_fanout_sink_finalize (GObject *object) noexcept
{
  GstFanoutSink *self = GST_FANOUT_SINK (object);

  delete self->priv;
  self->priv = nullptr;

  G_OBJECT_CLASS (parent_class)->finalize (object);
}

static void
gst_fanout_sink_set_property (GObject *object, guint prop_id,
                              const GValue *value, GParamSpec *pspec) noexcept
{
  GstFanoutSink *self = GST_FANOUT_SINK (object);
  GstFanoutSinkPrivate *priv = self->priv;

  switch (prop_id) {
  case PROP_CHANNEL: {
    const gchar *s = g_value_get_string (value);
    try {
      GST_OBJECT_LOCK (self);
      priv->channel_name = s ? s : "";
      GST_OBJECT_UNLOCK (self);
    } catch (const std::bad_alloc &) {
      GST_OBJECT_UNLOCK (self);
      GST_ERROR_OBJECT (self, "out of memory");
    }
    break;
  }
  case PROP_CAPACITY:
    GST_OBJECT_LOCK (self);
    priv->capacity = g_value_get_uint (value);
    GST_OBJECT_UNLOCK (self);
    break;
  case PROP_MAX_LAG_TIME: {
    ChannelRef channel;
    GST_OBJECT_LOCK (self);
    priv->max_lag_time = g_value_get_uint64 (value);
    channel = priv->channel;
    GST_OBJECT_UNLOCK (self);
    if (channel)
      channel->set_max_lag_time (g_value_get_uint64 (value));
    break;
  }
  default:
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    break;
  }
}

/* A new "fanoutsink-stats" structure. No lock held. */
static GstStructure *
gst_fanout_sink_make_stats (GstFanoutSink *self) noexcept
{
  GstFanoutSinkPrivate *priv = self->priv;
  ChannelRef channel;
  std::shared_ptr<Ring> ring;

  GST_OBJECT_LOCK (self);
  channel = priv->channel;
  ring = priv->ring;
  std::string name;
  try {
    name = priv->channel_name;
  } catch (const std::bad_alloc &) {
  }
  GST_OBJECT_UNLOCK (self);

  RingStats rs{};
  if (ring)
    rs = ring_stats (*ring);

  GstStructure *s = gst_structure_new (
      "fanoutsink-stats", "channel", G_TYPE_STRING, name.c_str (), "capacity",
      G_TYPE_UINT64, (guint64)rs.capacity, "num-readers", G_TYPE_UINT,
      channel ? channel->num_readers () : 0u, "items", G_TYPE_UINT64, rs.head,
      "sleeps", G_TYPE_UINT64, rs.sleeps, "wakeups", G_TYPE_UINT64, rs.wakeups,
      "writer-waits", G_TYPE_UINT64, rs.writer_waits, nullptr);

  GValue list = G_VALUE_INIT;
  g_value_init (&list, GST_TYPE_LIST);
  if (channel) {
    for (auto &reader : channel->readers ()) {
      GstStructure *rstats = nullptr;
      if (g_object_class_find_property (G_OBJECT_GET_CLASS (reader.get ()),
                                        "stats"))
        g_object_get (reader.get (), "stats", &rstats, nullptr);
      if (!rstats)
        continue;
      gchar *rname = gst_object_get_path_string (GST_OBJECT (reader.get ()));
      gst_structure_set (rstats, "reader", G_TYPE_STRING, rname, nullptr);
      g_free (rname);
      GValue v = G_VALUE_INIT;
      g_value_init (&v, GST_TYPE_STRUCTURE);
      g_value_take_boxed (&v, rstats);
      gst_value_list_append_and_take_value (&list, &v);
    }
  }
  gst_structure_take_value (s, "readers", &list);
  return s;
}

static void
gst_fanout_sink_get_property (GObject *object, guint prop_id, GValue *value,
                              GParamSpec *pspec) noexcept
{
  GstFanoutSink *self = GST_FANOUT_SINK (object);
  GstFanoutSinkPrivate *priv = self->priv;

  switch (prop_id) {
  case PROP_CHANNEL:
    GST_OBJECT_LOCK (self);
    g_value_set_string (value, priv->channel_name.empty ()
                                   ? nullptr
                                   : priv->channel_name.c_str ());
    GST_OBJECT_UNLOCK (self);
    break;
  case PROP_CAPACITY:
    GST_OBJECT_LOCK (self);
    g_value_set_uint (value, priv->capacity);
    GST_OBJECT_UNLOCK (self);
    break;
  case PROP_MAX_LAG_TIME:
    GST_OBJECT_LOCK (self);
    g_value_set_uint64 (value, priv->max_lag_time);
    GST_OBJECT_UNLOCK (self);
    break;
  case PROP_NUM_READERS: {
    ChannelRef channel;
    GST_OBJECT_LOCK (self);
    channel = priv->channel;
    GST_OBJECT_UNLOCK (self);
    g_value_set_uint (value, channel ? channel->num_readers () : 0);
    break;
  }
  case PROP_STATS:
    g_value_take_boxed (value, gst_fanout_sink_make_stats (self));
    break;
  default:
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    break;
  }
}

/* --- channel callbacks (reader threads, no lock held) ------------------ */

static void
gst_fanout_sink_on_upstream_event (GstElement *writer, GstEvent *event) noexcept
{
  GstFanoutSink *self = GST_FANOUT_SINK (writer);

  if (gst_video_event_is_force_key_unit (event)
      && !self->priv->glue.claim_keyframe_request ()) {
    GST_DEBUG_OBJECT (self, "a keyframe was already requested in this GOP");
    gst_event_unref (event);
    return;
  }
  GST_DEBUG_OBJECT (self, "pushing reader's %" GST_PTR_FORMAT " upstream",
                    event);
  gst_pad_push_event (self->sinkpad, event);
}

static void
gst_fanout_sink_on_reader_added (GstElement *writer,
                                 GstElement *reader) noexcept
{
  g_signal_emit (writer, gst_fanout_sink_signals[SIGNAL_READER_ADDED], 0,
                 reader);
}

static void
gst_fanout_sink_on_reader_removed (GstElement *writer, GstElement *reader,
                                   const char *reason) noexcept
{
  g_signal_emit (writer, gst_fanout_sink_signals[SIGNAL_READER_REMOVED], 0,
                 reader, reason);
}

static const ChannelWriterCallbacks sink_callbacks = {
  gst_fanout_sink_on_upstream_event,
  gst_fanout_sink_on_reader_added,
  gst_fanout_sink_on_reader_removed,
};

/* NULL->READY: becomes the channel's writer. */
static gboolean
gst_fanout_sink_attach (GstFanoutSink *self) noexcept
{
  GstFanoutSinkPrivate *priv = self->priv;
  std::string name, error;
  guint capacity;
  GstClockTime max_lag;
  RingWriter *rw = nullptr;

  try {
    GST_OBJECT_LOCK (self);
    name = priv->channel_name;
    capacity = priv->capacity;
    max_lag = priv->max_lag_time;
    GST_OBJECT_UNLOCK (self);
  } catch (const std::bad_alloc &) {
    GST_OBJECT_UNLOCK (self);
    return FALSE;
  }

  ChannelRef channel
      = Channel::attach_writer (name.c_str (), GST_ELEMENT_CAST (self),
                                sink_callbacks, capacity, &rw, &error);
  if (!channel)
    goto attach_failed;
  channel->set_max_lag_time (max_lag);

  GST_OBJECT_LOCK (self);
  priv->channel = channel;
  priv->ring = rw->ring ();
  priv->ring_writer = rw;
  GST_OBJECT_UNLOCK (self);
  GST_INFO_OBJECT (self, "writing channel '%s'", name.c_str ());
  return TRUE;

  /* ERRORS */
attach_failed : {
  GST_ELEMENT_ERROR (
      self, RESOURCE, BUSY,
      ("Cannot write channel '%s': %s", name.c_str (), error.c_str ()),
      ("fanoutsink channel=%s", name.c_str ()));
  return FALSE;
}
}

/* READY->NULL. */
static void
gst_fanout_sink_detach (GstFanoutSink *self) noexcept
{
  GstFanoutSinkPrivate *priv = self->priv;
  ChannelRef channel;
  std::shared_ptr<Ring> ring;

  GST_OBJECT_LOCK (self);
  channel = std::move (priv->channel);
  ring = std::move (priv->ring);
  priv->ring_writer = nullptr;
  GST_OBJECT_UNLOCK (self);
  if (channel)
    channel->detach_writer (GST_ELEMENT_CAST (self));
  /* channel and ring references dropped here, without our lock */
}

static GstStateChangeReturn
gst_fanout_sink_change_state (GstElement *element,
                              GstStateChange transition) noexcept
{
  GstFanoutSink *self = GST_FANOUT_SINK (element);
  GstFanoutSinkPrivate *priv = self->priv;
  GstStateChangeReturn ret;

  switch (transition) {
  case GST_STATE_CHANGE_NULL_TO_READY:
    if (!gst_fanout_sink_attach (self))
      return GST_STATE_CHANGE_FAILURE;
    break;
  case GST_STATE_CHANGE_READY_TO_PAUSED:
    /* no data flows yet: the glue may take the writer */
    priv->glue.set_writer (priv->ring_writer);
    break;
  case GST_STATE_CHANGE_PAUSED_TO_PLAYING:
    /* the bin set our clock and base time before this call: readers with
     * timestamp-mode=clock map our running time through them */
    if (priv->channel) {
      GstClock *clock = gst_element_get_clock (element);
      priv->channel->set_writer_clock (element, clock,
                                       gst_element_get_base_time (element));
      if (clock)
        gst_object_unref (clock);
    }
    break;
  case GST_STATE_CHANGE_PLAYING_TO_PAUSED:
    /* the base time is over: the next PLAYING brings another */
    if (priv->channel)
      priv->channel->set_writer_clock (element, nullptr, GST_CLOCK_TIME_NONE);
    break;
  case GST_STATE_CHANGE_PAUSED_TO_READY:
    /* 1. release a push that waits for a lag-policy=block reader; readers
     * see the flush and wait for its end */
    priv->glue.set_flushing (true);
    if (priv->channel)
      priv->channel->set_flushing (element, true);
    break;
  default:
    break;
  }

  /* 2. (PAUSED->READY) deactivating the pad waits for the streaming thread */
  ret = GST_ELEMENT_CLASS (parent_class)->change_state (element, transition);
  if (ret == GST_STATE_CHANGE_FAILURE) {
    if (transition == GST_STATE_CHANGE_NULL_TO_READY)
      gst_fanout_sink_detach (self);
    return ret;
  }

  switch (transition) {
  case GST_STATE_CHANGE_PAUSED_TO_READY:
    priv->glue.set_flushing (false);
    priv->glue.set_writer (nullptr);
    if (priv->channel)
      priv->channel->set_flushing (element, false);
    break;
  case GST_STATE_CHANGE_READY_TO_NULL:
    gst_fanout_sink_detach (self);
    break;
  default:
    break;
  }
  return ret;
}

static gboolean
gst_fanout_sink_query (GstElement *element, GstQuery *query) noexcept
{
  GstFanoutSink *self = GST_FANOUT_SINK (element);

  switch (GST_QUERY_TYPE (query)) {
  case GST_QUERY_LATENCY:
    /* what upstream adds; readers re-time into their own pipelines */
    return gst_pad_peer_query (self->sinkpad, query);
  default:
    return GST_ELEMENT_CLASS (parent_class)->query (element, query);
  }
}

static GstFlowReturn
gst_fanout_sink_chain (GstPad *pad, GstObject *parent,
                       GstBuffer *buffer) noexcept
{
  return GST_FANOUT_SINK (parent)->priv->glue.push_buffer (buffer);
}

static GstFlowReturn
gst_fanout_sink_chain_list (GstPad *pad, GstObject *parent,
                            GstBufferList *list) noexcept
{
  return GST_FANOUT_SINK (parent)->priv->glue.push_list (list);
}

static gboolean
gst_fanout_sink_sink_event (GstPad *pad, GstObject *parent,
                            GstEvent *event) noexcept
{
  GstFanoutSink *self = GST_FANOUT_SINK (parent);
  GstFanoutSinkPrivate *priv = self->priv;
  const GstEventType type = GST_EVENT_TYPE (event);
  const guint32 seqnum = gst_event_get_seqnum (event);

  GST_DEBUG_OBJECT (self, "%" GST_PTR_FORMAT, event);
  /* the glue takes the event (transfer full) */
  priv->glue.handle_event (event);

  switch (type) {
  case GST_EVENT_FLUSH_START:
    if (priv->channel)
      priv->channel->set_flushing (GST_ELEMENT_CAST (self), true);
    break;
  case GST_EVENT_FLUSH_STOP:
    if (priv->channel)
      priv->channel->set_flushing (GST_ELEMENT_CAST (self), false);
    break;
  case GST_EVENT_EOS: {
    /* a sink: the bin waits for this message from every sink */
    GstMessage *msg = gst_message_new_eos (GST_OBJECT_CAST (self));
    gst_message_set_seqnum (msg, seqnum);
    gst_element_post_message (GST_ELEMENT_CAST (self), msg);
    break;
  }
  default:
    break;
  }
  return TRUE;
}

static gboolean
gst_fanout_sink_sink_query (GstPad *pad, GstObject *parent,
                            GstQuery *query) noexcept
{
  switch (GST_QUERY_TYPE (query)) {
  case GST_QUERY_ALLOCATION:
    /* no pool: readers hold buffers for a long time */
    return FALSE;
  default:
    return gst_pad_query_default (pad, parent, query);
  }
}
