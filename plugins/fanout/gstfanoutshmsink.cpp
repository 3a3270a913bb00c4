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
 * readers), then every sleeping reader is woken with one futex call. No
 * copy at all when upstream writes into the ring: the sink answers the
 * ALLOCATION query with an allocator (and, for raw video, a buffer pool)
 * whose memories are carved out of the shared data area, and a buffer made
 * of one such memory is published in place
 * (#GstFanoutShmSink:zero-copy-frames counts them,
 * #GstFanoutShmSink:copied-frames the others). The
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
#include <vector>

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
#define POOL_MIN_BUFFERS 2

enum {
  PROP_0,
  PROP_SOCKET_PATH,
  PROP_SLOTS,
  PROP_DATA_SIZE,
  PROP_MAX_READERS,
  PROP_REQUEST_KEYFRAME,
  PROP_NUM_READERS,
  PROP_STATS,
  PROP_ZERO_COPY_FRAMES,
  PROP_COPIED_FRAMES,
};

/* The allocator proposed upstream: every memory is a reservation in the
 * ring's data area (ShmWriter::reserve), so what upstream writes lands in
 * shared memory and render publishes it in place. It keeps the writer (the
 * mapping) alive for as long as one of its memories exists, even past the
 * sink's stop. Lifetime rules: docs/design/shm.md, "Zero copy". */
typedef struct {
  GstAllocator parent;
  std::shared_ptr<ShmWriter> *writer; /* immutable after creation */
} GstFanoutShmAllocator;

typedef struct {
  GstAllocatorClass parent_class;
} GstFanoutShmAllocatorClass;

typedef struct {
  GstMemory mem;
  guint64 pos; /* logical position of the reservation (the root's) */
  guint8 *data;
} GstFanoutShmMemory;

#define GST_FANOUT_SHM_MEMORY_TYPE "FanoutShmMemory"

static GType gst_fanout_shm_allocator_get_type (void);
G_DEFINE_TYPE (GstFanoutShmAllocator, gst_fanout_shm_allocator,
               GST_TYPE_ALLOCATOR);

static GstMemory *
gst_fanout_shm_allocator_alloc (GstAllocator *allocator, gsize size,
                                GstAllocationParams *params) noexcept
{
  GstFanoutShmAllocator *self = (GstFanoutShmAllocator *)allocator;
  GstAllocationParams p;
  guint64 pos = 0;
  guint8 *data = nullptr;

  gst_allocation_params_init (&p);
  if (params)
    p = *params;
  const gsize maxsize = size + p.prefix + p.padding;
  /* reservations start on 64-byte boundaries */
  if (p.align > 63 || (p.flags & GST_MEMORY_FLAG_PHYSICALLY_CONTIGUOUS)
      || !(*self->writer)->reserve (maxsize, &pos, &data))
    goto fallback;
  {
    GstFanoutShmMemory *m = g_new0 (GstFanoutShmMemory, 1);
    gst_memory_init (GST_MEMORY_CAST (m),
                     (GstMemoryFlags)(p.flags & ~GST_MEMORY_FLAG_READONLY),
                     allocator, nullptr, maxsize, p.align, p.prefix, size);
    m->pos = pos;
    m->data = data;
    if ((p.flags & GST_MEMORY_FLAG_ZERO_PREFIXED) && p.prefix)
      memset (data, 0, p.prefix);
    if ((p.flags & GST_MEMORY_FLAG_ZERO_PADDED) && p.padding)
      memset (data + p.prefix + size, 0, p.padding);
    return GST_MEMORY_CAST (m);
  }

fallback:
  /* too large, too many outstanding, or an alignment the ring does not
   * give: ordinary memory, which render copies */
  return gst_allocator_alloc (nullptr, size, params);
}

static void
gst_fanout_shm_allocator_free (GstAllocator *allocator, GstMemory *mem) noexcept
{
  GstFanoutShmAllocator *self = (GstFanoutShmAllocator *)allocator;
  GstFanoutShmMemory *m = (GstFanoutShmMemory *)mem;

  /* a root memory that was never published gives its region back; a
   * published one is an ordinary frame of the ring already (no-op) */
  if (!mem->parent)
    (*self->writer)->release (m->pos);
  g_free (m);
}

static gpointer
gst_fanout_shm_memory_map (GstMemory *mem, gsize maxsize,
                           GstMapFlags flags) noexcept
{
  return ((GstFanoutShmMemory *)mem)->data;
}

static void
gst_fanout_shm_memory_unmap (GstMemory *mem) noexcept
{
}

static GstMemory *
gst_fanout_shm_memory_share (GstMemory *mem, gssize offset,
                             gssize size) noexcept
{
  GstFanoutShmMemory *m = (GstFanoutShmMemory *)mem;
  GstMemory *parent = mem->parent ? mem->parent : mem;
  GstFanoutShmMemory *sub = g_new0 (GstFanoutShmMemory, 1);

  if (size == -1)
    size = (gssize)mem->size - offset;
  gst_memory_init (GST_MEMORY_CAST (sub),
                   (GstMemoryFlags)(GST_MINI_OBJECT_FLAGS (parent)
                                    | GST_MINI_OBJECT_FLAG_LOCK_READONLY),
                   mem->allocator, parent, mem->maxsize, mem->align,
                   (gsize)((gssize)mem->offset + offset), (gsize)size);
  sub->pos = m->pos;
  sub->data = m->data;
  return GST_MEMORY_CAST (sub);
}

static void
gst_fanout_shm_allocator_finalize (GObject *object) noexcept
{
  GstFanoutShmAllocator *self = (GstFanoutShmAllocator *)object;
  delete self->writer;
  self->writer = nullptr;
  G_OBJECT_CLASS (gst_fanout_shm_allocator_parent_class)->finalize (object);
}

static void
gst_fanout_shm_allocator_class_init (GstFanoutShmAllocatorClass *klass)
{
  GST_ALLOCATOR_CLASS (klass)->alloc = gst_fanout_shm_allocator_alloc;
  GST_ALLOCATOR_CLASS (klass)->free = gst_fanout_shm_allocator_free;
  G_OBJECT_CLASS (klass)->finalize = gst_fanout_shm_allocator_finalize;
}

static void
gst_fanout_shm_allocator_init (GstFanoutShmAllocator *self)
{
  GstAllocator *a = GST_ALLOCATOR_CAST (self);
  a->mem_type = GST_FANOUT_SHM_MEMORY_TYPE;
  a->mem_map = gst_fanout_shm_memory_map;
  a->mem_unmap = gst_fanout_shm_memory_unmap;
  a->mem_share = gst_fanout_shm_memory_share;
  GST_OBJECT_FLAG_SET (self, GST_ALLOCATOR_FLAG_CUSTOM_ALLOC);
}

static GstAllocator *
gst_fanout_shm_allocator_new (const std::shared_ptr<ShmWriter> &writer)
{
  GstFanoutShmAllocator *self = (GstFanoutShmAllocator *)g_object_new (
      gst_fanout_shm_allocator_get_type (), nullptr);
  gst_object_ref_sink (self);
  self->writer = new std::shared_ptr<ShmWriter> (writer);
  return GST_ALLOCATOR_CAST (self);
}

/* The pool proposed for raw video: a plain pool on that allocator, except
 * that a buffer coming back is freed rather than recycled (tagged memory),
 * so that every acquire gets a fresh region at the ring's write position:
 * a recycled memory would have upstream write over a published frame. */
typedef struct {
  GstBufferPool parent;
} GstFanoutShmPool;

typedef struct {
  GstBufferPoolClass parent_class;
} GstFanoutShmPoolClass;

static GType gst_fanout_shm_pool_get_type (void);
G_DEFINE_TYPE (GstFanoutShmPool, gst_fanout_shm_pool, GST_TYPE_BUFFER_POOL);

static void
gst_fanout_shm_pool_reset_buffer (GstBufferPool *pool,
                                  GstBuffer *buffer) noexcept
{
  GST_BUFFER_POOL_CLASS (gst_fanout_shm_pool_parent_class)
      ->reset_buffer (pool, buffer);
  /* the default release then frees it instead of queueing it */
  GST_BUFFER_FLAG_SET (buffer, GST_BUFFER_FLAG_TAG_MEMORY);
}

static void
gst_fanout_shm_pool_class_init (GstFanoutShmPoolClass *klass)
{
  GST_BUFFER_POOL_CLASS (klass)->reset_buffer
      = gst_fanout_shm_pool_reset_buffer;
}

static void
gst_fanout_shm_pool_init (GstFanoutShmPool *self)
{
}

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

  std::mutex lock; /* writer and allocator lifetime vs getters and the
                      ALLOCATION query */
  std::shared_ptr<ShmWriter> writer;
  GstAllocator *allocator = nullptr; /* ours, between start and stop */

  /* Memories published in place, by slot (streaming thread): each one
   * ref'd and locked exclusively until its slot is reused or the sink
   * stops, so that an upstream pool that recycles buffers finds them not
   * writable and drops them instead of writing over a published frame. */
  std::vector<GstMemory *> held;
  std::atomic<guint64> zero_copy{ 0 }, copied{ 0 }; /* relaxed: statistics */

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
   * GstFanoutShmSink:zero-copy-frames:
   *
   * Frames published in place: upstream wrote them into the ring's memory
   * (the proposed allocator or pool), the sink copied nothing.
   */
  g_object_class_install_property (
      gobject_class, PROP_ZERO_COPY_FRAMES,
      g_param_spec_uint64 (
          "zero-copy-frames", "Zero-copy frames",
          "Frames upstream wrote into shared memory, published without a copy",
          0, G_MAXUINT64, 0,
          (GParamFlags)(G_PARAM_READABLE | G_PARAM_STATIC_STRINGS
                        | GST_PARAM_MUTABLE_PLAYING)));

  /**
   * GstFanoutShmSink:copied-frames:
   *
   * Frames copied into the ring (their memory was not the ring's).
   */
  g_object_class_install_property (
      gobject_class, PROP_COPIED_FRAMES,
      g_param_spec_uint64 (
          "copied-frames", "Copied frames",
          "Frames copied once into shared memory", 0, G_MAXUINT64, 0,
          (GParamFlags)(G_PARAM_READABLE | G_PARAM_STATIC_STRINGS
                        | GST_PARAM_MUTABLE_PLAYING)));

  /**
   * GstFanoutShmSink:stats:
   *
   * A "fanoutshmsink-stats" structure: socket-path, num-readers, published
   * (frames), max-frame-size, too-large (frames refused), zero-copy-frames,
   * copied-frames.
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
        (guint64)priv->too_large.load (std::memory_order_relaxed),
        "zero-copy-frames", G_TYPE_UINT64,
        (guint64)priv->zero_copy.load (std::memory_order_relaxed),
        "copied-frames", G_TYPE_UINT64,
        (guint64)priv->copied.load (std::memory_order_relaxed), nullptr);
    GST_OBJECT_UNLOCK (self);
    g_value_take_boxed (value, s);
    break;
  }
  case PROP_ZERO_COPY_FRAMES:
    g_value_set_uint64 (value,
                        priv->zero_copy.load (std::memory_order_relaxed));
    break;
  case PROP_COPIED_FRAMES:
    g_value_set_uint64 (value, priv->copied.load (std::memory_order_relaxed));
    break;
  default:
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    break;
  }
}

/* Drops the memories held for published slots. Streaming stopped. */
static void
gst_fanout_shm_sink_drop_held (GstFanoutShmSinkPrivate *priv) noexcept
{
  for (GstMemory *&m : priv->held) {
    if (m) {
      gst_memory_unlock (m, GST_LOCK_FLAG_EXCLUSIVE);
      gst_memory_unref (m);
      m = nullptr;
    }
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
  std::shared_ptr<ShmWriter> writer;
  GstAllocator *allocator = nullptr;

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
  try {
    writer = ShmWriter::create (cfg, &error);
    if (writer) {
      priv->held.assign (writer->slots (), nullptr);
      allocator = gst_fanout_shm_allocator_new (writer);
    }
  } catch (const std::bad_alloc &) {
    writer.reset ();
    error = "out of memory";
  }
  if (!writer)
    goto create_failed;

  priv->caps.clear ();
  priv->tags.clear ();
  priv->stream_id.clear ();
  priv->sticky_dirty = true;
  priv->raw = false;
  priv->want_keyframe.store (false, std::memory_order_relaxed);
  priv->zero_copy.store (0, std::memory_order_relaxed);
  priv->copied.store (0, std::memory_order_relaxed);
  GST_INFO_OBJECT (self,
                   "serving '%s' (%u slots, %" G_GUINT64_FORMAT " data bytes)",
                   cfg.socket_path.c_str (), cfg.slots, (guint64)cfg.data_size);
  {
    std::lock_guard<std::mutex> g (priv->lock);
    priv->writer = std::move (writer);
    priv->allocator = allocator;
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
  std::shared_ptr<ShmWriter> writer;
  GstAllocator *allocator;
  {
    std::lock_guard<std::mutex> g (self->priv->lock);
    writer = std::move (self->priv->writer);
    allocator = self->priv->allocator;
    self->priv->allocator = nullptr;
  }
  /* without our lock: readers see the region closed, the socket path is
   * removed; the mapping lives on while upstream holds memories of our
   * allocator */
  if (writer)
    writer->stop ();
  gst_fanout_shm_sink_drop_held (self->priv);
  writer.reset ();
  if (allocator)
    gst_object_unref (allocator);
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

/* Proposes our allocator (memories in the ring's data area) and, for raw
 * video, a pool on it that never recycles (see GstFanoutShmPool). Any
 * other memory is copied, so refusing is never needed. */
static gboolean
gst_fanout_shm_sink_propose_allocation (GstBaseSink *sink,
                                        GstQuery *query) noexcept
{
  GstFanoutShmSink *self = GST_FANOUT_SHM_SINK (sink);
  GstAllocator *allocator = nullptr;
  GstCaps *caps = nullptr;
  gboolean need_pool = FALSE;
  GstVideoInfo info;

  {
    std::lock_guard<std::mutex> g (self->priv->lock);
    if (self->priv->allocator)
      allocator = (GstAllocator *)gst_object_ref (self->priv->allocator);
  }
  if (!allocator)
    return TRUE;
  gst_query_parse_allocation (query, &caps, &need_pool);
  if (need_pool && caps && gst_video_info_from_caps (&info, caps)
      && info.size > 0) {
    GstBufferPool *pool = (GstBufferPool *)g_object_new (
        gst_fanout_shm_pool_get_type (), nullptr);
    gst_object_ref_sink (pool);
    GstStructure *config = gst_buffer_pool_get_config (pool);
    gst_buffer_pool_config_set_params (config, caps, (guint)info.size,
                                       POOL_MIN_BUFFERS, 0);
    gst_buffer_pool_config_set_allocator (config, allocator, nullptr);
    if (gst_buffer_pool_set_config (pool, config))
      gst_query_add_allocation_pool (query, pool, (guint)info.size,
                                     POOL_MIN_BUFFERS, 0);
    gst_object_unref (pool);
  }
  gst_query_add_allocation_param (query, allocator, nullptr);
  gst_object_unref (allocator);
  return TRUE;
}

/* Zero copy: @buffer is one memory of our current allocator whose region
 * is still an outstanding reservation: publish it where it is and hold the
 * memory until its slot comes round again. false: copy it. */
static bool
gst_fanout_shm_sink_publish_in_place (GstFanoutShmSink *self, GstBuffer *buffer,
                                      const ShmMeta &meta) noexcept
{
  GstFanoutShmSinkPrivate *priv = self->priv;
  if (gst_buffer_n_memory (buffer) != 1)
    return false;
  GstMemory *mem = gst_buffer_peek_memory (buffer, 0);
  if (!priv->allocator || mem->allocator != priv->allocator
      || !gst_memory_is_type (mem, GST_FANOUT_SHM_MEMORY_TYPE))
    return false;
  const GstFanoutShmMemory *m = (const GstFanoutShmMemory *)mem;
  const guint64 s = priv->writer->published ();
  if (priv->writer->publish_reserved (meta, m->pos, mem->offset, mem->size)
      != PublishResult::Ok)
    return false;
  GstMemory *&slot = priv->held[s % priv->held.size ()];
  if (slot) {
    gst_memory_unlock (slot, GST_LOCK_FLAG_EXCLUSIVE);
    gst_memory_unref (slot);
  }
  slot = gst_memory_ref (mem);
  gst_memory_lock (slot, GST_LOCK_FLAG_EXCLUSIVE);
  return true;
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
  ShmMeta meta;
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

  {
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
  }
  if (gst_fanout_shm_sink_publish_in_place (self, buffer, meta)) {
    priv->zero_copy.fetch_add (1, std::memory_order_relaxed);
    GST_CAT_LOG_OBJECT (gst_fanout_shm_sink_dataflow, self,
                        "published %" G_GSIZE_FORMAT " bytes in place", size);
    return GST_FLOW_OK;
  }

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
  res = writer->publish (meta, chunks, n);
  if (res == PublishResult::Ok)
    priv->copied.fetch_add (1, std::memory_order_relaxed);
  GST_CAT_LOG_OBJECT (gst_fanout_shm_sink_dataflow, self,
                      "published %" G_GSIZE_FORMAT
                      " bytes (copied), rt %" GST_TIME_FORMAT,
                      size, GST_TIME_ARGS (meta.running_time));
  for (guint i = 0; i < mapped; i++)
    gst_memory_unmap (gst_buffer_peek_memory (buffer, i), &maps[i]);
  if (merged)
    gst_buffer_unref (merged);
  if (res == PublishResult::TooLarge)
    goto too_large;
  if (res == PublishResult::NoRoom) {
    /* reservations held upstream fragment the area: drop this one */
    GST_ELEMENT_WARNING (
        self, RESOURCE, NO_SPACE_LEFT, ("Dropped a frame: no room in the ring"),
        ("%u regions lent upstream leave no place for %" G_GSIZE_FORMAT
         " bytes: raise data-size",
         writer->num_reserved (), size));
  }
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
