/* gst-fanout
 * Copyright (C) 2026 the gst-fanout authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2.1 of the License, or (at your option) any later version.
 */

/**
 * SECTION:element-fanoutshmsrc
 * @title: fanoutshmsrc
 * @see_also: fanoutshmsink, fanoutsrc, shmsrc
 *
 * A live source that reads the shared-memory ring of a fanoutshmsink in
 * another process, at its own pace: when the writer laps it (this process
 * stalled or is slow) it resumes at the newest keyframe
 * (#GstFanoutShmSrc:lag-policy), the first buffer marked DISCONT. The
 * writer never waits for it, and the ring is mapped read-only: a reader
 * can only hurt itself.
 *
 * It may start before the writer and outlive it: it connects to
 * #GstFanoutShmSrc:socket-path, retrying while nobody listens, and when
 * the writer stops or dies it waits for the next one and resumes on it (a
 * warning is posted when a wait passes a second, an error when
 * #GstFanoutShmSrc:wait-timeout expires). A new writer's first frame is
 * marked DISCONT and its caps are set again.
 *
 * It starts on the newest keyframe in the ring with the caps, tags and
 * stream-id in force there. Buffers are re-timed into this pipeline's
 * running time: the first buffer (and the first after a resync or a new
 * writer) plays now, the writer's spacing is kept in between. Each frame
 * is copied once out of the ring into a buffer of this process.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 fanoutshmsrc socket-path=/tmp/cam.sock ! h264parse \
 *   ! avdec_h264 ! videoconvert ! autovideosink
 * ]| Shows what another process writes with
 * `... ! fanoutshmsink socket-path=/tmp/cam.sock`.
 */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstfanoutshmsrc.h"

#include <atomic>
#include <memory>
#include <mutex>
#include <string>

#include "shmring.h"
#include "shmsticky.h"

using namespace gstfanout::shm;

static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE (
    "src", GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS_ANY);

GST_DEBUG_CATEGORY_STATIC (gst_fanout_shm_src_debug);
GST_DEBUG_CATEGORY_STATIC (gst_fanout_shm_src_dataflow);
#define GST_CAT_DEFAULT gst_fanout_shm_src_debug

/**
 * GstFanoutShmLagPolicy:
 * @GST_FANOUT_SHM_LAG_POLICY_DROP_TO_KEYFRAME: resume at the newest
 *   keyframe in the ring, first buffer DISCONT
 * @GST_FANOUT_SHM_LAG_POLICY_DROP_TO_LATEST: resume at the newest frame
 *
 * What a lapped fanoutshmsrc does. There is no lossless policy across
 * processes: it would make the writer trust cursors readers write.
 */
typedef enum {
  GST_FANOUT_SHM_LAG_POLICY_DROP_TO_KEYFRAME = 0,
  GST_FANOUT_SHM_LAG_POLICY_DROP_TO_LATEST = 1,
} GstFanoutShmLagPolicy;

/**
 * GstFanoutShmStartPosition:
 * @GST_FANOUT_SHM_START_POSITION_LATEST_KEYFRAME: the newest keyframe in
 *   the ring (decodable at once), else the next one
 * @GST_FANOUT_SHM_START_POSITION_LATEST: the newest frame
 *
 * Where a fanoutshmsrc starts on a writer.
 */
typedef enum {
  GST_FANOUT_SHM_START_POSITION_LATEST_KEYFRAME = 0,
  GST_FANOUT_SHM_START_POSITION_LATEST = 1,
} GstFanoutShmStartPosition;

static GType
gst_fanout_shm_lag_policy_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    { GST_FANOUT_SHM_LAG_POLICY_DROP_TO_KEYFRAME,
      "Resume at the newest keyframe", "drop-to-keyframe" },
    { GST_FANOUT_SHM_LAG_POLICY_DROP_TO_LATEST, "Resume at the newest frame",
      "drop-to-latest" },
    { 0, NULL, NULL },
  };
  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("GstFanoutShmLagPolicy", values);
    gst_type_mark_as_plugin_api (t, (GstPluginAPIFlags)0);
    g_once_init_leave (&type, t);
  }
  return type;
}

static GType
gst_fanout_shm_start_position_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    { GST_FANOUT_SHM_START_POSITION_LATEST_KEYFRAME,
      "The newest keyframe in the ring", "latest-keyframe" },
    { GST_FANOUT_SHM_START_POSITION_LATEST, "The newest frame", "latest" },
    { 0, NULL, NULL },
  };
  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("GstFanoutShmStartPosition", values);
    gst_type_mark_as_plugin_api (t, (GstPluginAPIFlags)0);
    g_once_init_leave (&type, t);
  }
  return type;
}

#define DEFAULT_PROP_SOCKET_PATH NULL
#define DEFAULT_PROP_LAG_POLICY GST_FANOUT_SHM_LAG_POLICY_DROP_TO_KEYFRAME
#define DEFAULT_PROP_START_POSITION                                            \
  GST_FANOUT_SHM_START_POSITION_LATEST_KEYFRAME
#define DEFAULT_PROP_WAIT_TIMEOUT GST_CLOCK_TIME_NONE
#define DEFAULT_PROP_EOS_ON_WRITER_EOS TRUE
/* Connection retries while nobody listens, and the read slice. */
#define RETRY_MS 20

enum {
  PROP_0,
  PROP_SOCKET_PATH,
  PROP_LAG_POLICY,
  PROP_START_POSITION,
  PROP_WAIT_TIMEOUT,
  PROP_EOS_ON_WRITER_EOS,
  PROP_IS_LIVE,
  PROP_STATS,
};

/* Copies a frame straight into a GstBuffer of this process. Buffers come
 * from a pool sized for the largest frame seen (rounded up to 64 KiB), so
 * that steady-state frames reuse memory downstream gave back instead of
 * faulting in fresh pages for every frame (1.4 MB for 720p raw). The pool
 * restores a buffer's full size when it returns. Streaming thread only. */
class BufferSink final : public ShmSink
{
public:
  ~BufferSink () override
  {
    reset ();
    drop_pool ();
  }
  uint8_t *prepare (size_t size) noexcept override
  {
    if (buf_ && size <= map_.size)
      return map_.data;
    reset ();
    if (!pool_ || size > pool_size_)
      make_pool (size);
    if (!pool_
        || gst_buffer_pool_acquire_buffer (pool_, &buf_, nullptr)
               != GST_FLOW_OK)
      buf_ = gst_buffer_new_allocate (nullptr, size ? size : 1, nullptr);
    if (!buf_ || !gst_buffer_map (buf_, &map_, GST_MAP_WRITE)) {
      reset ();
      return nullptr;
    }
    return map_.data;
  }
  /* The buffer holding the last frame, resized to @size (transfer full). */
  GstBuffer *take (size_t size) noexcept
  {
    if (!buf_) {
      return gst_buffer_new ();
    }
    gst_buffer_unmap (buf_, &map_);
    GstBuffer *b = buf_;
    buf_ = nullptr;
    gst_buffer_resize (b, 0, (gssize)size);
    return b;
  }

private:
  void reset () noexcept
  {
    if (buf_) {
      gst_buffer_unmap (buf_, &map_);
      gst_buffer_unref (buf_);
      buf_ = nullptr;
    }
  }
  void drop_pool () noexcept
  {
    if (pool_) {
      gst_buffer_pool_set_active (pool_, FALSE);
      gst_object_unref (pool_);
      pool_ = nullptr;
    }
  }
  void make_pool (size_t size) noexcept
  {
    drop_pool ();
    const size_t chunk = 64 * 1024;
    pool_size_ = (size + chunk - 1) / chunk * chunk;
    if (pool_size_ == 0)
      pool_size_ = chunk;
    pool_ = gst_buffer_pool_new ();
    GstStructure *config = gst_buffer_pool_get_config (pool_);
    /* no caps needed; at most 0 = as many as downstream holds */
    gst_buffer_pool_config_set_params (config, nullptr, (guint)pool_size_, 0,
                                       0);
    if (!gst_buffer_pool_set_config (pool_, config)
        || !gst_buffer_pool_set_active (pool_, TRUE))
      drop_pool ();
  }
  GstBuffer *buf_ = nullptr;
  GstMapInfo map_ = GST_MAP_INFO_INIT;
  GstBufferPool *pool_ = nullptr;
  size_t pool_size_ = 0;
};

/* Lock order: the object lock guards Settings; `lock` guards the reader's
 * lifetime against unlock () and the getters (never held while calling
 * out). create () uses the reader without it: only create () replaces it,
 * under the lock. */
struct GstFanoutShmSrcPrivate {
  /* Settings (object lock); relaxed atomics where create () reads them. */
  std::string socket_path;
  std::atomic<int> lag_policy{ DEFAULT_PROP_LAG_POLICY };
  std::atomic<int> start_position{ DEFAULT_PROP_START_POSITION };
  GstClockTime wait_timeout = DEFAULT_PROP_WAIT_TIMEOUT;
  std::atomic<bool> eos_on_writer_eos{ DEFAULT_PROP_EOS_ON_WRITER_EOS };

  std::mutex lock;
  std::unique_ptr<ShmReader> reader;
  /* unlock () ran (seq_cst: checked by the connect loop after it) */
  std::atomic<bool> flushing{ false };

  /* create () thread state, reset on start. */
  BufferSink sink;
  std::string caps, tags;
  bool new_writer = true;
  bool have_offset = false;
  GstClockTimeDiff offset = 0;
  GstClockTime last_out = GST_CLOCK_TIME_NONE;

  /* Stats: relaxed counters. */
  std::atomic<guint64> pushed{ 0 }, dropped{ 0 }, lapped{ 0 }, writers{ 0 };
  guint64 old_dropped = 0, old_lapped = 0; /* of readers gone (lock) */
};

#define gst_fanout_shm_src_parent_class parent_class
G_DEFINE_TYPE_WITH_CODE (
    GstFanoutShmSrc, gst_fanout_shm_src, GST_TYPE_PUSH_SRC,
    GST_DEBUG_CATEGORY_INIT (gst_fanout_shm_src_debug, "fanoutshmsrc", 0,
                             "fanoutshmsrc element");
    GST_DEBUG_CATEGORY_INIT (gst_fanout_shm_src_dataflow,
                             "fanoutshmsrc_dataflow", 0,
                             "fanoutshmsrc per-buffer logs"));
GST_ELEMENT_REGISTER_DEFINE (fanoutshmsrc, "fanoutshmsrc", GST_RANK_NONE,
                             GST_TYPE_FANOUT_SHM_SRC);

static void gst_fanout_shm_src_finalize (GObject *object) noexcept;
static void gst_fanout_shm_src_set_property (GObject *object, guint prop_id,
                                             const GValue *value,
                                             GParamSpec *pspec) noexcept;
static void gst_fanout_shm_src_get_property (GObject *object, guint prop_id,
                                             GValue *value,
                                             GParamSpec *pspec) noexcept;
static gboolean gst_fanout_shm_src_start (GstBaseSrc *src) noexcept;
static gboolean gst_fanout_shm_src_stop (GstBaseSrc *src) noexcept;
static gboolean gst_fanout_shm_src_unlock (GstBaseSrc *src) noexcept;
static gboolean gst_fanout_shm_src_unlock_stop (GstBaseSrc *src) noexcept;
static gboolean gst_fanout_shm_src_query (GstBaseSrc *src,
                                          GstQuery *query) noexcept;
static GstFlowReturn gst_fanout_shm_src_create (GstPushSrc *src,
                                                GstBuffer **buf) noexcept;

static void
gst_fanout_shm_src_class_init (GstFanoutShmSrcClass *klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseSrcClass *basesrc_class = GST_BASE_SRC_CLASS (klass);
  GstPushSrcClass *pushsrc_class = GST_PUSH_SRC_CLASS (klass);

  gobject_class->finalize = gst_fanout_shm_src_finalize;
  gobject_class->set_property = gst_fanout_shm_src_set_property;
  gobject_class->get_property = gst_fanout_shm_src_get_property;

  /**
   * GstFanoutShmSrc:socket-path:
   *
   * The fanoutshmsink's socket ('@name': abstract namespace).
   */
  g_object_class_install_property (
      gobject_class, PROP_SOCKET_PATH,
      g_param_spec_string (
          "socket-path", "Socket path",
          "Unix socket of the fanoutshmsink to read (a leading '@' names an "
          "abstract socket)",
          DEFAULT_PROP_SOCKET_PATH,
          (GParamFlags)(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS
                        | GST_PARAM_MUTABLE_READY)));

  /**
   * GstFanoutShmSrc:lag-policy:
   *
   * What to do when the writer laps this reader.
   */
  g_object_class_install_property (
      gobject_class, PROP_LAG_POLICY,
      g_param_spec_enum (
          "lag-policy", "Lag policy",
          "What to do when the writer laps this reader",
          gst_fanout_shm_lag_policy_get_type (), DEFAULT_PROP_LAG_POLICY,
          (GParamFlags)(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS
                        | GST_PARAM_MUTABLE_PLAYING)));

  /**
   * GstFanoutShmSrc:start-position:
   *
   * Where to start on a writer (also after a writer restart).
   */
  g_object_class_install_property (
      gobject_class, PROP_START_POSITION,
      g_param_spec_enum (
          "start-position", "Start position", "Where to start reading a writer",
          gst_fanout_shm_start_position_get_type (),
          DEFAULT_PROP_START_POSITION,
          (GParamFlags)(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS
                        | GST_PARAM_MUTABLE_READY)));

  /**
   * GstFanoutShmSrc:wait-timeout:
   *
   * How long to wait for a writer (at start, and after one went away)
   * before failing with an error. GST_CLOCK_TIME_NONE: forever.
   */
  g_object_class_install_property (
      gobject_class, PROP_WAIT_TIMEOUT,
      g_param_spec_uint64 ("wait-timeout", "Wait timeout",
                           "How long (ns) to wait for a writer before failing "
                           "(GST_CLOCK_TIME_NONE: forever)",
                           0, G_MAXUINT64, DEFAULT_PROP_WAIT_TIMEOUT,
                           (GParamFlags)(G_PARAM_READWRITE
                                         | G_PARAM_STATIC_STRINGS
                                         | GST_PARAM_MUTABLE_READY)));

  /**
   * GstFanoutShmSrc:eos-on-writer-eos:
   *
   * Forward the writer's EOS (TRUE), or ignore it and wait for the next
   * writer (FALSE).
   */
  g_object_class_install_property (
      gobject_class, PROP_EOS_ON_WRITER_EOS,
      g_param_spec_boolean (
          "eos-on-writer-eos", "EOS on writer EOS",
          "Forward the writer's EOS; FALSE: wait for the next writer instead",
          DEFAULT_PROP_EOS_ON_WRITER_EOS,
          (GParamFlags)(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS
                        | GST_PARAM_MUTABLE_PLAYING)));

  /**
   * GstFanoutShmSrc:is-live:
   *
   * Always TRUE: the source is live.
   */
  g_object_class_install_property (
      gobject_class, PROP_IS_LIVE,
      g_param_spec_boolean (
          "is-live", "Is live", "Always TRUE", TRUE,
          (GParamFlags)(G_PARAM_READABLE | G_PARAM_STATIC_STRINGS)));

  /**
   * GstFanoutShmSrc:stats:
   *
   * A "fanoutshmsrc-stats" structure: socket-path, pushed (buffers),
   * dropped (frames lost to lag), lapped (times resynced), lag (frames
   * published, not read yet), writers (writers connected to so far).
   */
  g_object_class_install_property (
      gobject_class, PROP_STATS,
      g_param_spec_boxed (
          "stats", "Statistics", "Reader statistics", GST_TYPE_STRUCTURE,
          (GParamFlags)(G_PARAM_READABLE | G_PARAM_STATIC_STRINGS
                        | GST_PARAM_MUTABLE_PLAYING)));

  gst_element_class_set_static_metadata (
      element_class, "Fan-out shared-memory source", "Source/Generic",
      "Reads, at its own pace, the shared-memory ring a fanoutshmsink of "
      "another process writes",
      "the gst-fanout authors");
  gst_element_class_add_static_pad_template (element_class, &src_template);

  basesrc_class->start = gst_fanout_shm_src_start;
  basesrc_class->stop = gst_fanout_shm_src_stop;
  basesrc_class->unlock = gst_fanout_shm_src_unlock;
  basesrc_class->unlock_stop = gst_fanout_shm_src_unlock_stop;
  basesrc_class->query = gst_fanout_shm_src_query;
  pushsrc_class->create = gst_fanout_shm_src_create;

  gst_type_mark_as_plugin_api (gst_fanout_shm_lag_policy_get_type (),
                               (GstPluginAPIFlags)0);
  gst_type_mark_as_plugin_api (gst_fanout_shm_start_position_get_type (),
                               (GstPluginAPIFlags)0);
}

static void
gst_fanout_shm_src_init (GstFanoutShmSrc *self)
{
  self->priv = new GstFanoutShmSrcPrivate ();
  gst_base_src_set_live (GST_BASE_SRC (self), TRUE);
  gst_base_src_set_format (GST_BASE_SRC (self), GST_FORMAT_TIME);
}

static void
gst_fanout_shm_src_finalize (GObject *object) noexcept
{
  GstFanoutShmSrc *self = GST_FANOUT_SHM_SRC (object);

  delete self->priv;
  self->priv = nullptr;
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

static void
gst_fanout_shm_src_set_property (GObject *object, guint prop_id,
                                 const GValue *value,
                                 GParamSpec *pspec) noexcept
{
  GstFanoutShmSrc *self = GST_FANOUT_SHM_SRC (object);
  GstFanoutShmSrcPrivate *priv = self->priv;

  switch (prop_id) {
  case PROP_SOCKET_PATH: {
    const gchar *s = g_value_get_string (value);
    GST_OBJECT_LOCK (self);
    try {
      priv->socket_path = s ? s : "";
    } catch (const std::bad_alloc &) {
      GST_ERROR_OBJECT (self, "out of memory");
    }
    GST_OBJECT_UNLOCK (self);
    break;
  }
  case PROP_LAG_POLICY: {
    const int p = g_value_get_enum (value);
    priv->lag_policy.store (p, std::memory_order_relaxed);
    std::lock_guard<std::mutex> g (priv->lock);
    if (priv->reader)
      priv->reader->set_policy (p == GST_FANOUT_SHM_LAG_POLICY_DROP_TO_LATEST
                                    ? ShmLagPolicy::DropToLatest
                                    : ShmLagPolicy::DropToKeyframe);
    break;
  }
  case PROP_START_POSITION:
    priv->start_position.store (g_value_get_enum (value),
                                std::memory_order_relaxed);
    break;
  case PROP_WAIT_TIMEOUT:
    GST_OBJECT_LOCK (self);
    priv->wait_timeout = g_value_get_uint64 (value);
    GST_OBJECT_UNLOCK (self);
    break;
  case PROP_EOS_ON_WRITER_EOS:
    priv->eos_on_writer_eos.store (g_value_get_boolean (value),
                                   std::memory_order_relaxed);
    break;
  default:
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    break;
  }
}

static void
gst_fanout_shm_src_get_property (GObject *object, guint prop_id, GValue *value,
                                 GParamSpec *pspec) noexcept
{
  GstFanoutShmSrc *self = GST_FANOUT_SHM_SRC (object);
  GstFanoutShmSrcPrivate *priv = self->priv;

  switch (prop_id) {
  case PROP_SOCKET_PATH:
    GST_OBJECT_LOCK (self);
    g_value_set_string (value, priv->socket_path.empty ()
                                   ? nullptr
                                   : priv->socket_path.c_str ());
    GST_OBJECT_UNLOCK (self);
    break;
  case PROP_LAG_POLICY:
    g_value_set_enum (value, priv->lag_policy.load (std::memory_order_relaxed));
    break;
  case PROP_START_POSITION:
    g_value_set_enum (value,
                      priv->start_position.load (std::memory_order_relaxed));
    break;
  case PROP_WAIT_TIMEOUT:
    GST_OBJECT_LOCK (self);
    g_value_set_uint64 (value, priv->wait_timeout);
    GST_OBJECT_UNLOCK (self);
    break;
  case PROP_EOS_ON_WRITER_EOS:
    g_value_set_boolean (
        value, priv->eos_on_writer_eos.load (std::memory_order_relaxed));
    break;
  case PROP_IS_LIVE:
    g_value_set_boolean (value, TRUE);
    break;
  case PROP_STATS: {
    guint64 dropped, lapped, lag = 0;
    {
      std::lock_guard<std::mutex> g (priv->lock);
      dropped = priv->old_dropped;
      lapped = priv->old_lapped;
      if (priv->reader) {
        dropped += priv->reader->dropped ();
        lapped += priv->reader->lapped ();
        lag = priv->reader->lag ();
      }
    }
    GST_OBJECT_LOCK (self);
    GstStructure *s = gst_structure_new (
        "fanoutshmsrc-stats", "socket-path", G_TYPE_STRING,
        priv->socket_path.c_str (), "pushed", G_TYPE_UINT64,
        (guint64)priv->pushed.load (std::memory_order_relaxed), "dropped",
        G_TYPE_UINT64, dropped, "lapped", G_TYPE_UINT64, lapped, "lag",
        G_TYPE_UINT64, lag, "writers", G_TYPE_UINT64,
        (guint64)priv->writers.load (std::memory_order_relaxed), nullptr);
    GST_OBJECT_UNLOCK (self);
    g_value_take_boxed (value, s);
    break;
  }
  default:
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    break;
  }
}

/* Replaces the reader (nullptr: none), keeping its figures. */
static void
gst_fanout_shm_src_set_reader (GstFanoutShmSrc *self,
                               std::unique_ptr<ShmReader> reader) noexcept
{
  GstFanoutShmSrcPrivate *priv = self->priv;
  std::unique_ptr<ShmReader> old;
  {
    std::lock_guard<std::mutex> g (priv->lock);
    old = std::move (priv->reader);
    if (old) {
      priv->old_dropped += old->dropped ();
      priv->old_lapped += old->lapped ();
    }
    priv->reader = std::move (reader);
    /* an unlock () that ran before this reader existed still applies */
    if (priv->reader && priv->flushing.load ())
      priv->reader->interrupt ();
  }
  /* unmapped here, without the lock */
}

static gboolean
gst_fanout_shm_src_start (GstBaseSrc *src) noexcept
{
  GstFanoutShmSrc *self = GST_FANOUT_SHM_SRC (src);
  GstFanoutShmSrcPrivate *priv = self->priv;

  GST_OBJECT_LOCK (self);
  const bool empty = priv->socket_path.empty ();
  GST_OBJECT_UNLOCK (self);
  if (empty) {
    GST_ELEMENT_ERROR (self, RESOURCE, NOT_FOUND, ("No socket path given"),
                       ("set fanoutshmsrc socket-path= to the "
                        "fanoutshmsink's socket-path"));
    return FALSE;
  }
  try {
    priv->caps.clear ();
    priv->tags.clear ();
  } catch (...) {
  }
  priv->new_writer = true;
  priv->have_offset = false;
  priv->offset = 0;
  priv->last_out = GST_CLOCK_TIME_NONE;
  return TRUE;
}

static gboolean
gst_fanout_shm_src_stop (GstBaseSrc *src) noexcept
{
  gst_fanout_shm_src_set_reader (GST_FANOUT_SHM_SRC (src), nullptr);
  return TRUE;
}

static gboolean
gst_fanout_shm_src_unlock (GstBaseSrc *src) noexcept
{
  GstFanoutShmSrcPrivate *priv = GST_FANOUT_SHM_SRC (src)->priv;
  std::lock_guard<std::mutex> g (priv->lock);
  priv->flushing.store (true);
  if (priv->reader)
    priv->reader->interrupt ();
  return TRUE;
}

static gboolean
gst_fanout_shm_src_unlock_stop (GstBaseSrc *src) noexcept
{
  GstFanoutShmSrcPrivate *priv = GST_FANOUT_SHM_SRC (src)->priv;
  std::lock_guard<std::mutex> g (priv->lock);
  priv->flushing.store (false);
  if (priv->reader)
    priv->reader->clear_interrupt ();
  return TRUE;
}

static gboolean
gst_fanout_shm_src_query (GstBaseSrc *src, GstQuery *query) noexcept
{
  if (GST_QUERY_TYPE (query) == GST_QUERY_LATENCY) {
    /* live; buffers are stamped when read, and the ring can hold them
     * (no upper bound of ours) */
    gst_query_set_latency (query, TRUE, 0, GST_CLOCK_TIME_NONE);
    return TRUE;
  }
  return GST_BASE_SRC_CLASS (parent_class)->query (src, query);
}

static GstClockTime
gst_fanout_shm_src_now (GstFanoutShmSrc *self) noexcept
{
  GstClock *clock = gst_element_get_clock (GST_ELEMENT_CAST (self));
  if (!clock)
    return GST_CLOCK_TIME_NONE;
  GstClockTime base = gst_element_get_base_time (GST_ELEMENT_CAST (self));
  GstClockTime t = gst_clock_get_time (clock);
  gst_object_unref (clock);
  return t > base ? t - base : 0;
}

/* Connects (retrying while nobody listens) until a writer answers, the
 * element is unlocked (FLUSHING) or wait-timeout expires (ERROR). */
static GstFlowReturn
gst_fanout_shm_src_connect (GstFanoutShmSrc *self) noexcept
{
  GstFanoutShmSrcPrivate *priv = self->priv;
  std::string path, error;
  GstClockTime timeout;
  ShmReaderOptions opts;
  const gint64 start = g_get_monotonic_time ();
  bool warned = false;

  try {
    GST_OBJECT_LOCK (self);
    path = priv->socket_path;
    timeout = priv->wait_timeout;
    GST_OBJECT_UNLOCK (self);
  } catch (const std::bad_alloc &) {
    GST_OBJECT_UNLOCK (self);
    return GST_FLOW_ERROR;
  }
  opts.policy = priv->lag_policy.load (std::memory_order_relaxed)
                        == GST_FANOUT_SHM_LAG_POLICY_DROP_TO_LATEST
                    ? ShmLagPolicy::DropToLatest
                    : ShmLagPolicy::DropToKeyframe;
  opts.start = priv->start_position.load (std::memory_order_relaxed)
                       == GST_FANOUT_SHM_START_POSITION_LATEST
                   ? ShmStart::Latest
                   : ShmStart::LatestKeyframe;

  for (;;) {
    if (priv->flushing.load ())
      return GST_FLOW_FLUSHING;
    bool refused = false;
    std::unique_ptr<ShmReader> r
        = ShmReader::connect (path, opts, &error, &refused);
    if (r) {
      priv->writers.fetch_add (1, std::memory_order_relaxed);
      GST_INFO_OBJECT (self, "reading the writer on '%s'", path.c_str ());
      gst_fanout_shm_src_set_reader (self, std::move (r));
      if (warned)
        GST_ELEMENT_INFO (self, RESOURCE, OPEN_READ,
                          ("Writer on '%s' found", path.c_str ()), (NULL));
      return GST_FLOW_OK;
    }
    if (!refused)
      goto connect_failed;
    const gint64 waited_us = g_get_monotonic_time () - start;
    if (GST_CLOCK_TIME_IS_VALID (timeout)
        && (GstClockTime)waited_us * 1000 >= timeout)
      goto timeout;
    if (!warned && waited_us >= G_USEC_PER_SEC) {
      warned = true;
      GST_ELEMENT_WARNING (self, RESOURCE, OPEN_READ,
                           ("Waiting for a writer on '%s'", path.c_str ()),
                           ("%s; start fanoutshmsink socket-path=%s",
                            error.c_str (), path.c_str ()));
    }
    g_usleep (RETRY_MS * 1000);
  }

  /* ERRORS */
connect_failed : {
  GST_ELEMENT_ERROR (self, RESOURCE, OPEN_READ,
                     ("Cannot read shared memory from '%s'", path.c_str ()),
                     ("%s", error.c_str ()));
  return GST_FLOW_ERROR;
}
timeout : {
  GST_ELEMENT_ERROR (self, RESOURCE, OPEN_READ,
                     ("No writer on '%s' within wait-timeout", path.c_str ()),
                     ("%s; waited %" GST_TIME_FORMAT
                      ": start fanoutshmsink socket-path=%s "
                      "or raise wait-timeout",
                      error.c_str (), GST_TIME_ARGS (timeout), path.c_str ()));
  return GST_FLOW_ERROR;
}
}

/* Sets caps and pushes tags from the sticky blob (streaming thread). */
static bool
gst_fanout_shm_src_apply_sticky (GstFanoutShmSrc *self,
                                 const std::string &blob) noexcept
{
  GstFanoutShmSrcPrivate *priv = self->priv;
  std::string caps, tags;
  try {
    sticky_lookup (blob, "caps", &caps);
    sticky_lookup (blob, "tags", &tags);
  } catch (const std::bad_alloc &) {
    return false;
  }
  if (caps != priv->caps && !caps.empty ()) {
    GstCaps *c = gst_caps_from_string (caps.c_str ());
    if (!c) {
      GST_ELEMENT_ERROR (self, STREAM, FORMAT,
                         ("The writer's caps are invalid"),
                         ("'%s'", caps.c_str ()));
      return false;
    }
    GST_DEBUG_OBJECT (self, "caps %" GST_PTR_FORMAT, c);
    const gboolean ok = gst_base_src_set_caps (GST_BASE_SRC (self), c);
    gst_caps_unref (c);
    if (!ok)
      return false;
    priv->caps.swap (caps);
  }
  if (tags != priv->tags && !tags.empty ()) {
    GstTagList *tl = gst_tag_list_new_from_string (tags.c_str ());
    if (tl) {
      gst_tag_list_set_scope (tl, GST_TAG_SCOPE_STREAM);
      gst_pad_push_event (GST_BASE_SRC_PAD (self), gst_event_new_tag (tl));
    }
    priv->tags.swap (tags);
  }
  return true;
}

static GstFlowReturn
gst_fanout_shm_src_create (GstPushSrc *psrc, GstBuffer **outbuf) noexcept
{
  GstFanoutShmSrc *self = GST_FANOUT_SHM_SRC (psrc);
  GstFanoutShmSrcPrivate *priv = self->priv;
  ShmFrame frame;

  for (;;) {
    if (!priv->reader) {
      GstFlowReturn ret = gst_fanout_shm_src_connect (self);
      if (ret != GST_FLOW_OK)
        return ret;
      priv->new_writer = true;
    }
    ReadResult res = priv->reader->read (frame, priv->sink, -1);
    switch (res) {
    case ReadResult::Ok:
      break;
    case ReadResult::Interrupted:
      return GST_FLOW_FLUSHING;
    case ReadResult::WriterGone:
      GST_INFO_OBJECT (self, "the writer went away: waiting for the next");
      gst_fanout_shm_src_set_reader (self, nullptr);
      continue;
    case ReadResult::Timeout:
      continue;
    case ReadResult::Error:
      GST_ELEMENT_ERROR (self, STREAM, FAILED,
                         ("Cannot read the writer's shared memory"),
                         ("%s", priv->reader->error ().c_str ()));
      return GST_FLOW_ERROR;
    }

    if (frame.meta.flags & SHM_ITEM_EOS) {
      if (priv->eos_on_writer_eos.load (std::memory_order_relaxed)) {
        GST_INFO_OBJECT (self, "writer EOS");
        return GST_FLOW_EOS;
      }
      continue;
    }
    if ((frame.sticky_changed || priv->new_writer)
        && !gst_fanout_shm_src_apply_sticky (self, priv->reader->sticky ()))
      return GST_FLOW_NOT_NEGOTIATED;

    GstBuffer *buf = priv->sink.take (frame.size);
    GST_BUFFER_FLAGS (buf) = frame.meta.buffer_flags
                             & ~(GST_BUFFER_FLAG_DISCONT | GST_BUFFER_FLAG_GAP
                                 | GST_BUFFER_FLAG_RESYNC);
    const bool discont = frame.dropped_before > 0 || priv->new_writer;
    if (discont)
      GST_BUFFER_FLAG_SET (buf, GST_BUFFER_FLAG_DISCONT);

    /* re-time: ours = writer running time + offset, re-anchored at a new
     * writer and at every resync, never before what was pushed */
    const GstClockTime rt = frame.meta.running_time;
    const GstClockTime now = gst_fanout_shm_src_now (self);
    if (GST_CLOCK_TIME_IS_VALID (rt)) {
      if (!priv->have_offset || discont) {
        GstClockTimeDiff off
            = GST_CLOCK_TIME_IS_VALID (now) ? GST_CLOCK_DIFF (rt, now) : 0;
        if (GST_CLOCK_TIME_IS_VALID (priv->last_out)
            && (GstClockTimeDiff)rt + off < (GstClockTimeDiff)priv->last_out)
          off = GST_CLOCK_DIFF (rt, priv->last_out);
        priv->offset = off;
        priv->have_offset = true;
      }
      GstClockTimeDiff out = (GstClockTimeDiff)rt + priv->offset;
      GST_BUFFER_PTS (buf) = out > 0 ? (GstClockTime)out : 0;
      if (GST_CLOCK_TIME_IS_VALID (frame.meta.dts)
          && GST_CLOCK_TIME_IS_VALID (frame.meta.pts)) {
        GstClockTimeDiff d
            = out - GST_CLOCK_DIFF (frame.meta.dts, frame.meta.pts);
        GST_BUFFER_DTS (buf) = d > 0 ? (GstClockTime)d : 0;
      }
    } else {
      GST_BUFFER_PTS (buf) = now;
    }
    GST_BUFFER_DURATION (buf) = frame.meta.duration;
    if (GST_BUFFER_PTS_IS_VALID (buf))
      priv->last_out = GST_BUFFER_PTS (buf);
    priv->new_writer = false;
    priv->pushed.fetch_add (1, std::memory_order_relaxed);
    GST_CAT_LOG_OBJECT (gst_fanout_shm_src_dataflow, self,
                        "frame %" G_GUINT64_FORMAT " (%" G_GSIZE_FORMAT
                        " bytes, %" G_GUINT64_FORMAT
                        " dropped before) at %" GST_TIME_FORMAT,
                        frame.seq, frame.size, frame.dropped_before,
                        GST_TIME_ARGS (GST_BUFFER_PTS (buf)));
    *outbuf = buf;
    return GST_FLOW_OK;
  }
}
