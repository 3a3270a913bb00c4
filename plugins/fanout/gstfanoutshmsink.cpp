/* gst-fanout
 * Copyright (C) 2026 the gst-fanout authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2.1 of the License, or (at your option) any later version.
 */

/**
 * SECTION:element-fanoutshmsink
 * @title: fanoutshmsink
 * @see_also: fanoutshmsrc, fanoutsink, shmsink
 *
 * Writes its stream into a ring in shared memory that fanoutshmsrc
 * elements of other processes read, each at its own pace. A reader that
 * stalls, crashes or misbehaves can only hurt itself: the writer never
 * waits for a reader and never reads anything a reader writes (readers map
 * the ring read-only).
 *
 * The ring is a sealed memfd handed to each reader over the unix socket
 * #GstFanoutShmSink:socket-path (a leading '@' names an abstract socket:
 * no file). A socket file left by a writer that died is reused; a live
 * writer on the path is an error. The memory is freed by the kernel when
 * the last process using it exits or moves on.
 *
 * Each buffer is copied once into the ring (whatever the number of
 * readers), then every sleeping reader is woken with one futex call. The
 * caps, tags and stream-id in force travel with the frames, so a reader
 * that starts (or resyncs) anywhere starts on a keyframe with the right
 * caps. When a reader connects and the ring holds no keyframe, an upstream
 * force-key-unit is sent (#GstFanoutShmSink:request-keyframe).
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 videotestsrc is-live=true ! x264enc tune=zerolatency \
 *   ! h264parse ! fanoutshmsink socket-path=/tmp/cam.sock
 * gst-launch-1.0 fanoutshmsrc socket-path=/tmp/cam.sock ! h264parse \
 *   ! avdec_h264 ! videoconvert ! autovideosink
 * ]| The first process captures and encodes once; any number of processes
 * like the second one read it.
 */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstfanoutshmsink.h"

#include <gst/video/video.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <string>

#include "shmring.h"
#include "shmsticky.h"

using namespace gstfanout::shm;

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE (
    "sink", GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS_ANY);

GST_DEBUG_CATEGORY_STATIC (gst_fanout_shm_sink_debug);
GST_DEBUG_CATEGORY_STATIC (gst_fanout_shm_sink_dataflow);
#define GST_CAT_DEFAULT gst_fanout_shm_sink_debug

#define DEFAULT_PROP_SOCKET_PATH NULL
#define DEFAULT_PROP_SLOTS 256
#define DEFAULT_PROP_DATA_SIZE (64u << 20)
#define DEFAULT_PROP_MAX_READERS 256
#define DEFAULT_PROP_REQUEST_KEYFRAME TRUE
#define MAX_CHUNKS 16

enum {
  PROP_0,
  PROP_SOCKET_PATH,
  PROP_SLOTS,
  PROP_DATA_SIZE,
  PROP_MAX_READERS,
  PROP_REQUEST_KEYFRAME,
  PROP_NUM_READERS,
  PROP_STATS,
};

/* Lock order: the object lock guards Settings; `lock` guards the writer's
 * lifetime against the property getters (never held while calling out).
 * The streaming thread uses the writer without `lock`: start () creates it
 * before and stop () destroys it after streaming. */
struct GstFanoutShmSinkPrivate {
  /* Settings (object lock). */
  std::string socket_path;
  guint slots = DEFAULT_PROP_SLOTS;
  guint64 data_size = DEFAULT_PROP_DATA_SIZE;
  guint max_readers = DEFAULT_PROP_MAX_READERS;
  /* relaxed: a setting read by the socket thread's callback */
  std::atomic<bool> request_keyframe{ DEFAULT_PROP_REQUEST_KEYFRAME };

  std::mutex lock; /* writer lifetime vs getters */
  std::unique_ptr<ShmWriter> writer;

  /* Streaming thread state, reset in start (). */
  std::string caps, tags, stream_id;
  bool sticky_dirty = true;
  bool raw = false;
  /* Set (relaxed) by the socket thread when a reader joined without a
   * keyframe in the ring; taken (exchange) by the streaming thread, which
   * sends the force-key-unit: the socket thread never calls out. */
  std::atomic<bool> want_keyframe{ false };
  std::atomic<guint64> too_large{ 0 }; /* relaxed: a statistic */
};

#define gst_fanout_shm_sink_parent_class parent_class
G_DEFINE_TYPE_WITH_CODE (
    GstFanoutShmSink, gst_fanout_shm_sink, GST_TYPE_BASE_SINK,
    GST_DEBUG_CATEGORY_INIT (gst_fanout_shm_sink_debug, "fanoutshmsink", 0,
                             "fanoutshmsink element");
    GST_DEBUG_CATEGORY_INIT (gst_fanout_shm_sink_dataflow,
                             "fanoutshmsink_dataflow", 0,
                             "fanoutshmsink per-buffer logs"));
GST_ELEMENT_REGISTER_DEFINE (fanoutshmsink, "fanoutshmsink", GST_RANK_NONE,
                             GST_TYPE_FANOUT_SHM_SINK);

static void gst_fanout_shm_sink_finalize (GObject *object) noexcept;
static void gst_fanout_shm_sink_set_property (GObject *object, guint prop_id,
                                              const GValue *value,
                                              GParamSpec *pspec) noexcept;
static void gst_fanout_shm_sink_get_property (GObject *object, guint prop_id,
                                              GValue *value,
                                              GParamSpec *pspec) noexcept;
static gboolean gst_fanout_shm_sink_start (GstBaseSink *sink) noexcept;
static gboolean gst_fanout_shm_sink_stop (GstBaseSink *sink) noexcept;
static gboolean gst_fanout_shm_sink_set_caps (GstBaseSink *sink,
                                              GstCaps *caps) noexcept;
static gboolean gst_fanout_shm_sink_event (GstBaseSink *sink,
                                           GstEvent *event) noexcept;
static gboolean gst_fanout_shm_sink_propose_allocation (GstBaseSink *sink,
                                                        GstQuery *q) noexcept;
static GstFlowReturn gst_fanout_shm_sink_render (GstBaseSink *sink,
                                                 GstBuffer *buffer) noexcept;

static void
gst_fanout_shm_sink_class_init (GstFanoutShmSinkClass *klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseSinkClass *basesink_class = GST_BASE_SINK_CLASS (klass);

  gobject_class->finalize = gst_fanout_shm_sink_finalize;
  gobject_class->set_property = gst_fanout_shm_sink_set_property;
  gobject_class->get_property = gst_fanout_shm_sink_get_property;

  /**
   * GstFanoutShmSink:socket-path:
   *
   * The unix socket readers connect to ('@name': abstract namespace).
   */
  g_object_class_install_property (
      gobject_class, PROP_SOCKET_PATH,
      g_param_spec_string (
          "socket-path", "Socket path",
          "Unix socket fanoutshmsrc elements connect to (a leading '@' names "
          "an abstract socket); a stale socket file is replaced",
          DEFAULT_PROP_SOCKET_PATH,
          (GParamFlags)(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS
                        | GST_PARAM_MUTABLE_READY)));

  /**
   * GstFanoutShmSink:slots:
   *
   * Frames the ring holds (rounded up to a power of two).
   */
  g_object_class_install_property (
      gobject_class, PROP_SLOTS,
      g_param_spec_uint ("slots", "Slots",
                         "Frames the ring holds (rounded up to a power of two)",
                         1, 1u << 20, DEFAULT_PROP_SLOTS,
                         (GParamFlags)(G_PARAM_READWRITE
                                       | G_PARAM_STATIC_STRINGS
                                       | GST_PARAM_MUTABLE_READY)));

  /**
   * GstFanoutShmSink:data-size:
   *
   * Bytes of frame data the ring holds. A frame may use at most half of
   * it; a larger one is an error naming the size needed.
   */
  g_object_class_install_property (
      gobject_class, PROP_DATA_SIZE,
      g_param_spec_uint64 (
          "data-size", "Data size",
          "Bytes of frame data in the ring (a frame may use at most half)",
          4096, G_GUINT64_CONSTANT (1) << 36, DEFAULT_PROP_DATA_SIZE,
          (GParamFlags)(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS
                        | GST_PARAM_MUTABLE_READY)));

  /**
   * GstFanoutShmSink:max-readers:
   *
   * Reader connections accepted at once; more are refused.
   */
  g_object_class_install_property (
      gobject_class, PROP_MAX_READERS,
      g_param_spec_uint (
          "max-readers", "Max readers", "Reader connections accepted at once",
          1, 65536, DEFAULT_PROP_MAX_READERS,
          (GParamFlags)(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS
                        | GST_PARAM_MUTABLE_READY)));

  /**
   * GstFanoutShmSink:request-keyframe:
   *
   * Send an upstream force-key-unit when a reader connects and the ring
   * holds no keyframe (so that it starts without waiting a GOP).
   */
  g_object_class_install_property (
      gobject_class, PROP_REQUEST_KEYFRAME,
      g_param_spec_boolean (
          "request-keyframe", "Request keyframe",
          "Ask upstream for a keyframe when a reader connects and the ring "
          "holds none",
          DEFAULT_PROP_REQUEST_KEYFRAME,
          (GParamFlags)(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS
                        | GST_PARAM_MUTABLE_PLAYING)));

  /**
   * GstFanoutShmSink:num-readers:
   *
   * Readers connected now.
   */
  g_object_class_install_property (
      gobject_class, PROP_NUM_READERS,
      g_param_spec_uint ("num-readers", "Number of readers",
                         "Reader processes connected now", 0, G_MAXUINT, 0,
                         (GParamFlags)(G_PARAM_READABLE | G_PARAM_STATIC_STRINGS
                                       | GST_PARAM_MUTABLE_PLAYING)));

  /**
   * GstFanoutShmSink:stats:
   *
   * A "fanoutshmsink-stats" structure: socket-path, num-readers, published
   * (frames), max-frame-size, too-large (frames refused).
   */
  g_object_class_install_property (
      gobject_class, PROP_STATS,
      g_param_spec_boxed (
          "stats", "Statistics", "Writer statistics", GST_TYPE_STRUCTURE,
          (GParamFlags)(G_PARAM_READABLE | G_PARAM_STATIC_STRINGS
                        | GST_PARAM_MUTABLE_PLAYING)));

  gst_element_class_set_static_metadata (
      element_class, "Fan-out shared-memory sink", "Sink/Generic",
      "Writes a stream into a shared-memory ring read by fanoutshmsrc "
      "elements of other processes, each at its own pace",
      "the gst-fanout authors");
  gst_element_class_add_static_pad_template (element_class, &sink_template);

  basesink_class->start = gst_fanout_shm_sink_start;
  basesink_class->stop = gst_fanout_shm_sink_stop;
  basesink_class->set_caps = gst_fanout_shm_sink_set_caps;
  basesink_class->event = gst_fanout_shm_sink_event;
  basesink_class->propose_allocation = gst_fanout_shm_sink_propose_allocation;
  basesink_class->render = gst_fanout_shm_sink_render;
}

static void
gst_fanout_shm_sink_init (GstFanoutShmSink *self)
{
  self->priv = new GstFanoutShmSinkPrivate ();
  /* a live fan-out point: never wait for the clock */
  gst_base_sink_set_sync (GST_BASE_SINK (self), FALSE);
}

static void
gst_fanout_shm_sink_finalize (GObject *object) noexcept
{
  GstFanoutShmSink *self = GST_FANOUT_SHM_SINK (object);

  delete self->priv;
  self->priv = nullptr;
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

static void
gst_fanout_shm_sink_set_property (GObject *object, guint prop_id,
                                  const GValue *value,
                                  GParamSpec *pspec) noexcept
{
  GstFanoutShmSink *self = GST_FANOUT_SHM_SINK (object);
  GstFanoutShmSinkPrivate *priv = self->priv;

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
  case PROP_SOCKET_PATH: {
    const gchar *s = g_value_get_string (value);
    try {
      priv->socket_path = s ? s : "";
    } catch (const std::bad_alloc &) {
      GST_ERROR_OBJECT (self, "out of memory");
    }
    break;
  }
  case PROP_SLOTS:
    priv->slots = g_value_get_uint (value);
    break;
  case PROP_DATA_SIZE:
    priv->data_size = g_value_get_uint64 (value);
    break;
  case PROP_MAX_READERS:
    priv->max_readers = g_value_get_uint (value);
    break;
  case PROP_REQUEST_KEYFRAME:
    priv->request_keyframe.store (g_value_get_boolean (value),
                                  std::memory_order_relaxed);
    break;
  default:
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_fanout_shm_sink_get_property (GObject *object, guint prop_id, GValue *value,
                                  GParamSpec *pspec) noexcept
{
  GstFanoutShmSink *self = GST_FANOUT_SHM_SINK (object);
  GstFanoutShmSinkPrivate *priv = self->priv;

  switch (prop_id) {
  case PROP_SOCKET_PATH:
    GST_OBJECT_LOCK (self);
    g_value_set_string (value, priv->socket_path.empty ()
                                   ? nullptr
                                   : priv->socket_path.c_str ());
    GST_OBJECT_UNLOCK (self);
    break;
  case PROP_SLOTS:
    GST_OBJECT_LOCK (self);
    g_value_set_uint (value, priv->slots);
    GST_OBJECT_UNLOCK (self);
    break;
  case PROP_DATA_SIZE:
    GST_OBJECT_LOCK (self);
    g_value_set_uint64 (value, priv->data_size);
    GST_OBJECT_UNLOCK (self);
    break;
  case PROP_MAX_READERS:
    GST_OBJECT_LOCK (self);
    g_value_set_uint (value, priv->max_readers);
    GST_OBJECT_UNLOCK (self);
    break;
  case PROP_REQUEST_KEYFRAME:
    g_value_set_boolean (
        value, priv->request_keyframe.load (std::memory_order_relaxed));
    break;
  case PROP_NUM_READERS: {
    std::lock_guard<std::mutex> g (priv->lock);
    g_value_set_uint (value, priv->writer ? priv->writer->num_readers () : 0);
    break;
  }
  case PROP_STATS: {
    guint n = 0;
    guint64 published = 0, max_frame = 0;
    {
      std::lock_guard<std::mutex> g (priv->lock);
      if (priv->writer) {
        n = priv->writer->num_readers ();
        published = priv->writer->published ();
        max_frame = priv->writer->max_frame_size ();
      }
    }
    GST_OBJECT_LOCK (self);
    GstStructure *s = gst_structure_new (
        "fanoutshmsink-stats", "socket-path", G_TYPE_STRING,
        priv->socket_path.c_str (), "num-readers", G_TYPE_UINT, n, "published",
        G_TYPE_UINT64, published, "max-frame-size", G_TYPE_UINT64, max_frame,
        "too-large", G_TYPE_UINT64,
        (guint64)priv->too_large.load (std::memory_order_relaxed), nullptr);
    GST_OBJECT_UNLOCK (self);
    g_value_take_boxed (value, s);
    break;
  }
  default:
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    break;
  }
}

/* The writer's socket thread, no lock held: only raises a flag. */
static void
gst_fanout_shm_sink_on_reader (void *user_data, uint32_t n) noexcept
{
  GstFanoutShmSink *self = GST_FANOUT_SHM_SINK (user_data);
  GST_INFO_OBJECT (self, "a reader connected (%u now)", n);
  if (self->priv->request_keyframe.load (std::memory_order_relaxed))
    self->priv->want_keyframe.store (true, std::memory_order_relaxed);
}

static gboolean
gst_fanout_shm_sink_start (GstBaseSink *sink) noexcept
{
  GstFanoutShmSink *self = GST_FANOUT_SHM_SINK (sink);
  GstFanoutShmSinkPrivate *priv = self->priv;
  ShmConfig cfg;
  std::string error;
  std::unique_ptr<ShmWriter> writer;

  try {
    GST_OBJECT_LOCK (self);
    cfg.socket_path = priv->socket_path;
    cfg.slots = priv->slots;
    cfg.data_size = priv->data_size;
    cfg.max_readers = priv->max_readers;
    GST_OBJECT_UNLOCK (self);
  } catch (const std::bad_alloc &) {
    GST_OBJECT_UNLOCK (self);
    return FALSE;
  }
  if (cfg.socket_path.empty ())
    goto no_path;
  cfg.on_reader = gst_fanout_shm_sink_on_reader;
  cfg.user_data = self;
  writer = ShmWriter::create (cfg, &error);
  if (!writer)
    goto create_failed;

  priv->caps.clear ();
  priv->tags.clear ();
  priv->stream_id.clear ();
  priv->sticky_dirty = true;
  priv->raw = false;
  priv->want_keyframe.store (false, std::memory_order_relaxed);
  GST_INFO_OBJECT (self,
                   "serving '%s' (%u slots, %" G_GUINT64_FORMAT " data bytes)",
                   cfg.socket_path.c_str (), cfg.slots, (guint64)cfg.data_size);
  {
    std::lock_guard<std::mutex> g (priv->lock);
    priv->writer = std::move (writer);
  }
  return TRUE;

  /* ERRORS */
no_path : {
  GST_ELEMENT_ERROR (self, RESOURCE, NOT_FOUND, ("No socket path given"),
                     ("set fanoutshmsink socket-path=/run/NAME.sock (or "
                      "@NAME for an abstract socket)"));
  return FALSE;
}
create_failed : {
  GST_ELEMENT_ERROR (
      self, RESOURCE, OPEN_WRITE,
      ("Cannot serve shared memory on '%s': %s", cfg.socket_path.c_str (),
       error.c_str ()),
      ("fanoutshmsink socket-path=%s slots=%u data-size=%" G_GUINT64_FORMAT
       ": choose another path, stop the "
       "writer using it, or remove what is there",
       cfg.socket_path.c_str (), cfg.slots, (guint64)cfg.data_size));
  return FALSE;
}
}

static gboolean
gst_fanout_shm_sink_stop (GstBaseSink *sink) noexcept
{
  GstFanoutShmSink *self = GST_FANOUT_SHM_SINK (sink);
  std::unique_ptr<ShmWriter> writer;
  {
    std::lock_guard<std::mutex> g (self->priv->lock);
    writer = std::move (self->priv->writer);
  }
  /* destroyed here, without our lock: readers see the region closed, the
   * socket path is removed */
  writer.reset ();
  GST_INFO_OBJECT (self, "stopped");
  return TRUE;
}

/* Publishes the sticky blob if it changed. Streaming thread. */
static void
gst_fanout_shm_sink_update_sticky (GstFanoutShmSink *self) noexcept
{
  GstFanoutShmSinkPrivate *priv = self->priv;
  if (!priv->sticky_dirty || !priv->writer)
    return;
  try {
    StickyFields fields;
    fields.emplace_back ("caps", priv->caps);
    if (!priv->tags.empty ())
      fields.emplace_back ("tags", priv->tags);
    if (!priv->stream_id.empty ())
      fields.emplace_back ("stream-id", priv->stream_id);
    std::string blob = sticky_encode (fields);
    if (!priv->writer->set_sticky (blob.data (), blob.size ()))
      GST_ELEMENT_WARNING (
          self, STREAM, FORMAT, ("Caps and tags too large for shared memory"),
          ("%zu bytes: readers keep the previous ones", blob.size ()));
    priv->sticky_dirty = false;
  } catch (const std::bad_alloc &) {
    GST_ERROR_OBJECT (self, "out of memory");
  }
}

static gboolean
gst_fanout_shm_sink_set_caps (GstBaseSink *sink, GstCaps *caps) noexcept
{
  GstFanoutShmSink *self = GST_FANOUT_SHM_SINK (sink);
  GstFanoutShmSinkPrivate *priv = self->priv;
  gchar *str = gst_caps_to_string (caps);
  try {
    priv->caps = str;
  } catch (const std::bad_alloc &) {
    g_free (str);
    return FALSE;
  }
  g_free (str);
  const GstStructure *s = gst_caps_get_structure (caps, 0);
  const gchar *name = s ? gst_structure_get_name (s) : "";
  priv->raw = g_str_has_prefix (name, "video/x-raw")
              || g_str_has_prefix (name, "audio/x-raw");
  priv->sticky_dirty = true;
  GST_DEBUG_OBJECT (self, "caps %" GST_PTR_FORMAT " (raw: %d)", caps,
                    priv->raw);
  return TRUE;
}

static gboolean
gst_fanout_shm_sink_event (GstBaseSink *sink, GstEvent *event) noexcept
{
  GstFanoutShmSink *self = GST_FANOUT_SHM_SINK (sink);
  GstFanoutShmSinkPrivate *priv = self->priv;

  try {
    switch (GST_EVENT_TYPE (event)) {
    case GST_EVENT_STREAM_START: {
      const gchar *id = nullptr;
      gst_event_parse_stream_start (event, &id);
      priv->stream_id = id ? id : "";
      priv->tags.clear ();
      priv->sticky_dirty = true;
      break;
    }
    case GST_EVENT_TAG: {
      GstTagList *tl = nullptr;
      gst_event_parse_tag (event, &tl);
      if (tl && gst_tag_list_get_scope (tl) == GST_TAG_SCOPE_STREAM) {
        gchar *str = gst_tag_list_to_string (tl);
        priv->tags = str ? str : "";
        g_free (str);
        priv->sticky_dirty = true;
      }
      break;
    }
    case GST_EVENT_EOS:
      if (priv->writer) {
        gst_fanout_shm_sink_update_sticky (self);
        ShmMeta meta;
        meta.flags = SHM_ITEM_EOS;
        priv->writer->publish (meta, nullptr, 0);
      }
      break;
    default:
      break;
    }
  } catch (const std::bad_alloc &) {
    GST_ERROR_OBJECT (self, "out of memory");
  }
  return GST_BASE_SINK_CLASS (parent_class)->event (sink, event);
}

static gboolean
gst_fanout_shm_sink_propose_allocation (GstBaseSink *sink,
                                        GstQuery *query) noexcept
{
  /* no pool: buffers are copied into the ring, any memory will do */
  return TRUE;
}

static GstFlowReturn
gst_fanout_shm_sink_render (GstBaseSink *sink, GstBuffer *buffer) noexcept
{
  GstFanoutShmSink *self = GST_FANOUT_SHM_SINK (sink);
  GstFanoutShmSinkPrivate *priv = self->priv;
  ShmWriter *writer = priv->writer.get ();
  GstMapInfo maps[MAX_CHUNKS];
  ShmChunk chunks[MAX_CHUNKS];
  guint n = gst_buffer_n_memory (buffer), mapped = 0;
  GstBuffer *merged = nullptr;
  PublishResult res;
  gsize size = gst_buffer_get_size (buffer);

  if (!writer)
    return GST_FLOW_FLUSHING;
  if (priv->want_keyframe.exchange (false, std::memory_order_relaxed)
      && !priv->raw && !writer->sync_in_ring ()) {
    GST_DEBUG_OBJECT (self, "a reader joined without a keyframe in the ring: "
                            "requesting one upstream");
    gst_pad_push_event (GST_BASE_SINK_PAD (sink),
                        gst_video_event_new_upstream_force_key_unit (
                            GST_CLOCK_TIME_NONE, TRUE, 0));
  }
  gst_fanout_shm_sink_update_sticky (self);

  if (n > MAX_CHUNKS) {
    /* cannot happen with GstBuffer's own limit, but stay safe */
    merged = gst_buffer_copy_deep (buffer);
    buffer = merged;
    n = gst_buffer_n_memory (buffer);
  }
  for (guint i = 0; i < n; i++) {
    if (!gst_memory_map (gst_buffer_peek_memory (buffer, i), &maps[i],
                         GST_MAP_READ))
      goto map_failed;
    chunks[i] = { maps[i].data, maps[i].size };
    mapped++;
  }

  {
    ShmMeta meta;
    const bool sync
        = priv->raw
          || !GST_BUFFER_FLAG_IS_SET (buffer, GST_BUFFER_FLAG_DELTA_UNIT);
    meta.flags = sync ? SHM_ITEM_SYNC : 0;
    meta.buffer_flags = GST_BUFFER_FLAGS (buffer) & 0xffffff;
    meta.pts = GST_BUFFER_PTS (buffer);
    meta.dts = GST_BUFFER_DTS (buffer);
    meta.duration = GST_BUFFER_DURATION (buffer);
    const GstSegment *seg = &sink->segment;
    GstClockTime ts = GST_BUFFER_PTS_IS_VALID (buffer)
                          ? GST_BUFFER_PTS (buffer)
                          : GST_BUFFER_DTS (buffer);
    meta.running_time
        = (seg->format == GST_FORMAT_TIME && GST_CLOCK_TIME_IS_VALID (ts))
              ? gst_segment_to_running_time (seg, GST_FORMAT_TIME, ts)
              : GST_CLOCK_TIME_NONE;
    res = writer->publish (meta, chunks, n);
    GST_CAT_LOG_OBJECT (gst_fanout_shm_sink_dataflow, self,
                        "published %" G_GSIZE_FORMAT
                        " bytes, sync %d, rt %" GST_TIME_FORMAT,
                        size, sync, GST_TIME_ARGS (meta.running_time));
  }
  for (guint i = 0; i < mapped; i++)
    gst_memory_unmap (gst_buffer_peek_memory (buffer, i), &maps[i]);
  if (merged)
    gst_buffer_unref (merged);
  if (res == PublishResult::TooLarge)
    goto too_large;
  return GST_FLOW_OK;

  /* ERRORS */
map_failed : {
  for (guint i = 0; i < mapped; i++)
    gst_memory_unmap (gst_buffer_peek_memory (buffer, i), &maps[i]);
  if (merged)
    gst_buffer_unref (merged);
  GST_ELEMENT_ERROR (self, RESOURCE, READ, ("Cannot read a buffer"),
                     ("mapping memory %u of %u failed", mapped, n));
  return GST_FLOW_ERROR;
}
too_large : {
  priv->too_large.fetch_add (1, std::memory_order_relaxed);
  GST_ELEMENT_ERROR (
      self, RESOURCE, NO_SPACE_LEFT,
      ("A frame of %" G_GSIZE_FORMAT " bytes does not fit in the ring", size),
      ("data-size=%" G_GUINT64_FORMAT " holds frames up to %" G_GUINT64_FORMAT
       " bytes: set data-size to at least %" G_GUINT64_FORMAT
       " (several frames' worth, so that slow readers are not lapped)",
       writer->max_frame_size () * 2, writer->max_frame_size (),
       (guint64)size * 8));
  return GST_FLOW_ERROR;
}
}
