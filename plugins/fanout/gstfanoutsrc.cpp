/* gst-fanout
 * Copyright (C) 2026 the gst-fanout authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2.1 of the License, or (at your option) any later version.
 */

/**
 * SECTION:element-fanoutsrc
 * @title: fanoutsrc
 * @see_also: fanoutsink, fanout
 *
 * A live source that reads one cursor of the ring of a named channel,
 * written by a fanoutsink of the same process (the channel registry is per
 * process). Each fanoutsrc reads at its own pace: a slow reader is handled
 * by its #GstFanoutSrc:lag-policy and never holds the writer or the other
 * readers back (except under lag-policy=block).
 *
 * A fanoutsrc may start before the writer exists: it waits up to
 * #GstFanoutSrc:wait-timeout, posting one warning when the wait passes a
 * second and an error when the timeout expires. It starts at
 * #GstFanoutSrc:start-position (by default the newest keyframe in the ring,
 * decodable at once) and sends an upstream force-key-unit across the
 * channel when it starts or resyncs and the ring holds no keyframe.
 *
 * With timestamp-mode=running-time (the default) the stream is mapped into
 * this pipeline's running time (the writer's segment, shifted so that the
 * first buffer plays now; buffers are not copied), keeping the writer's
 * spacing, so a reader pipeline started at any time plays at once. With
 * timestamp-mode=clock the writer's running time is mapped through clock
 * time (writer running time + writer base time - our base time): readers of
 * several channels written on one clock (audio and video) get their capture
 * clock times, in sync whenever each started; while the writer's base time
 * is unknown or its clock is another, running-time is used for that
 * stretch. Writer EOS, restarts and caps changes reach the reader in order;
 * with eos-on-writer-eos=false the writer's EOS is not forwarded and the
 * reader waits for the next writer.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 videotestsrc is-live=true ! x264enc tune=zerolatency \
 *   ! fanoutsink channel=cam \
 *   fanoutsrc channel=cam ! decodebin ! videoconvert ! autovideosink
 * ]| The reader chain (usually a pipeline of its own in the application)
 * shows what the writer chain encodes into channel "cam".
 */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstfanoutsrc.h"

#include <gst/video/video.h>

#include <memory>
#include <string>

#include "gstfanoutchannel.h"
#include "gstfanoutreader.h"
#include "gstfanouttypes.h"

using namespace gstfanout;

static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE (
    "src", GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS_ANY);

GST_DEBUG_CATEGORY_STATIC (gst_fanout_src_debug);
GST_DEBUG_CATEGORY_STATIC (gst_fanout_src_dataflow);
#define GST_CAT_DEFAULT gst_fanout_src_debug

#define DEFAULT_PROP_CHANNEL NULL
#define DEFAULT_PROP_LAG_POLICY GST_FANOUT_LAG_POLICY_DROP_TO_KEYFRAME
#define DEFAULT_PROP_START_POSITION GST_FANOUT_START_POSITION_LATEST_KEYFRAME
#define DEFAULT_PROP_TIMESTAMP_MODE GST_FANOUT_SRC_TIMESTAMP_MODE_RUNNING_TIME
#define DEFAULT_PROP_WAIT_TIMEOUT GST_CLOCK_TIME_NONE
#define DEFAULT_PROP_EOS_ON_WRITER_EOS TRUE
#define DEFAULT_PROP_REQUEST_KEYFRAME TRUE

enum {
  PROP_0,
  PROP_CHANNEL,
  PROP_LAG_POLICY,
  PROP_START_POSITION,
  PROP_TIMESTAMP_MODE,
  PROP_WAIT_TIMEOUT,
  PROP_EOS_ON_WRITER_EOS,
  PROP_REQUEST_KEYFRAME,
  PROP_IS_LIVE,
  PROP_PUSHED,
  PROP_DROPPED,
  PROP_LAG_ITEMS,
  PROP_LAG_TIME,
  PROP_STATS,
};

GType
gst_fanout_src_timestamp_mode_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    { GST_FANOUT_SRC_TIMESTAMP_MODE_RUNNING_TIME,
      "Re-time into this pipeline's running time", "running-time" },
    { GST_FANOUT_SRC_TIMESTAMP_MODE_PASSTHROUGH,
      "Keep the writer's timestamps and segments", "passthrough" },
    { GST_FANOUT_SRC_TIMESTAMP_MODE_CLOCK,
      "Map the writer's running time through clock time (writer running "
      "time + writer base time - our base time: the capture clock time, "
      "lip sync across channels on one clock); running-time while the "
      "writer's base time is unknown or its clock is another",
      "clock" },
    { 0, NULL, NULL },
  };

  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("GstFanoutSrcTimestampMode", values);
    gst_type_mark_as_plugin_api (t, (GstPluginAPIFlags)0);
    g_once_init_leave (&type, t);
  }
  return type;
}

/* Lock order: task_lock, then the object lock; the channel registry lock is
 * never taken with either held. Nothing is called out (push, message,
 * channel) while holding task_lock or the object lock. */
struct GstFanoutSrcPrivate final : public PadReaderHooks {
  GstFanoutSrcPrivate (GstFanoutSrc *s) noexcept
      : self (s), reader (GST_ELEMENT_CAST (s), s->srcpad, this)
  {
    g_mutex_init (&task_lock);
    gst_segment_init (&wseg, GST_FORMAT_UNDEFINED);
  }
  ~GstFanoutSrcPrivate () override { g_mutex_clear (&task_lock); }

  GstMiniObject *transform (PadReader &r, GstMiniObject *obj) noexcept override;
  void lagged (PadReader &r, guint64 dropped) noexcept override;
  void need_keyframe (PadReader &r) noexcept override;
  void removed (PadReader &r, RemoveReason reason,
                GstFlowReturn flow) noexcept override;

  void reset_timing () noexcept;
  GstMiniObject *retime (GstMiniObject *obj) noexcept;
  bool clock_offset (GstClockTimeDiff *target) noexcept;
  void push_segment (GstClockTimeDiff off) noexcept;
  GstClockTime now () noexcept;

  GstFanoutSrc *self;

  /* Settings (object lock); lag-policy and start-position live in the
   * PadReader (any thread). Relaxed atomics: settings read by the task. */
  std::string channel_name;
  GstFanoutSrcTimestampMode ts_mode_setting = DEFAULT_PROP_TIMESTAMP_MODE;
  GstClockTime wait_timeout = DEFAULT_PROP_WAIT_TIMEOUT;
  std::atomic<bool> eos_on_writer_eos{ DEFAULT_PROP_EOS_ON_WRITER_EOS };
  std::atomic<bool> request_keyframe{ DEFAULT_PROP_REQUEST_KEYFRAME };

  /* The channel: set on NULL->READY and cleared on READY->NULL under the
   * object lock; the task (which only runs in between) reads it freely. */
  ChannelRef channel;
  bool detached = false; /* left the channel early (reader ended) */

  PadReader reader;

  GMutex task_lock;     /* orders task (re)starts against pause/stop */
  bool playing = false; /* task_lock: the task may run */
  /* Set (release) under task_lock by pause/stop before waking the task;
   * read (acquire) by the task and by channel waits. */
  std::atomic<bool> interrupt{ false };
  /* The reader ended (error, lapped, timeout): release store by the task,
   * acquire loads by change_state. */
  std::atomic<bool> ended{ false };

  /* Task-thread state, reset on READY->PAUSED. */
  bool joined = false;
  GstFanoutSrcTimestampMode ts_mode = DEFAULT_PROP_TIMESTAMP_MODE;
  gint64 wait_start = 0;
  bool warned = false;
  GstClockTime applied_max_lag = GST_CLOCK_TIME_NONE;
  GstSegment wseg; /* the writer's segment in force */
  bool have_offset = false;
  bool segment_pending = false; /* a writer segment not pushed yet */
  guint32 segment_seqnum = 0;
  GstClockTimeDiff offset = 0; /* ours = writer running time + offset */
  /* our running time of the last buffer out (negative in clock mode for
   * one captured before this pipeline started); kNoLastOut for none */
  static constexpr GstClockTimeDiff kNoLastOut = G_MININT64;
  GstClockTimeDiff last_out = kNoLastOut;

  /* timestamp-mode=clock (task thread). Our own clock and base time are
   * re-read (object lock) once after each PAUSED->PLAYING, which sets
   * clock_stale (release; the task's exchange is acquire). own_clock is a
   * reference, compared for identity with the writer's published clock. */
  std::atomic<bool> clock_stale{ true };
  ObjRef<GstClock> own_clock;
  GstClockTime own_base = GST_CLOCK_TIME_NONE;
  enum class ClockState { Unknown, Mapped, NoBase, OtherClock };
  ClockState clock_state = ClockState::Unknown; /* logged on changes */
};

#define gst_fanout_src_parent_class parent_class
G_DEFINE_TYPE_WITH_CODE (GstFanoutSrc, gst_fanout_src, GST_TYPE_ELEMENT,
                         GST_DEBUG_CATEGORY_INIT (gst_fanout_src_debug,
                                                  "fanoutsrc", 0,
                                                  "fanoutsrc element");
                         GST_DEBUG_CATEGORY_INIT (gst_fanout_src_dataflow,
                                                  "fanoutsrc_dataflow", 0,
                                                  "fanoutsrc per-buffer logs"));
GST_ELEMENT_REGISTER_DEFINE (fanoutsrc, "fanoutsrc", GST_RANK_NONE,
                             GST_TYPE_FANOUT_SRC);

static void gst_fanout_src_finalize (GObject *object) noexcept;
static void gst_fanout_src_set_property (GObject *object, guint prop_id,
                                         const GValue *value,
                                         GParamSpec *pspec) noexcept;
static void gst_fanout_src_get_property (GObject *object, guint prop_id,
                                         GValue *value,
                                         GParamSpec *pspec) noexcept;
static GstStateChangeReturn
gst_fanout_src_change_state (GstElement *element,
                             GstStateChange transition) noexcept;
static gboolean gst_fanout_src_activate_mode (GstPad *pad, GstObject *parent,
                                              GstPadMode mode,
                                              gboolean active) noexcept;
static gboolean gst_fanout_src_src_event (GstPad *pad, GstObject *parent,
                                          GstEvent *event) noexcept;
static gboolean gst_fanout_src_src_query (GstPad *pad, GstObject *parent,
                                          GstQuery *query) noexcept;
static void gst_fanout_src_loop (gpointer data) noexcept;

static void
gst_fanout_src_class_init (GstFanoutSrcClass *klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);

  gobject_class->finalize = gst_fanout_src_finalize;
  gobject_class->set_property = gst_fanout_src_set_property;
  gobject_class->get_property = gst_fanout_src_get_property;

  /**
   * GstFanoutSrc:channel:
   *
   * The channel to read (the name a fanoutsink of this process writes).
   */
  g_object_class_install_property (
      gobject_class, PROP_CHANNEL,
      g_param_spec_string (
          "channel", "Channel",
          "Name of the channel to read (written by a fanoutsink of this "
          "process)",
          DEFAULT_PROP_CHANNEL,
          (GParamFlags)(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS
                        | GST_PARAM_MUTABLE_READY)));

  /**
   * GstFanoutSrc:lag-policy:
   *
   * What happens when the writer laps this reader.
   */
  g_object_class_install_property (
      gobject_class, PROP_LAG_POLICY,
      g_param_spec_enum ("lag-policy", "Lag policy",
                         "What happens when the writer laps this reader",
                         GST_TYPE_FANOUT_LAG_POLICY, DEFAULT_PROP_LAG_POLICY,
                         (GParamFlags)(G_PARAM_READWRITE
                                       | G_PARAM_STATIC_STRINGS
                                       | GST_PARAM_MUTABLE_PLAYING)));

  /**
   * GstFanoutSrc:start-position:
   *
   * Where the reader starts in the ring.
   */
  g_object_class_install_property (
      gobject_class, PROP_START_POSITION,
      g_param_spec_enum (
          "start-position", "Start position",
          "Where the reader starts in the ring", GST_TYPE_FANOUT_START_POSITION,
          DEFAULT_PROP_START_POSITION,
          (GParamFlags)(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS
                        | GST_PARAM_MUTABLE_READY)));

  /**
   * GstFanoutSrc:timestamp-mode:
   *
   * How buffers are timestamped. running-time: the first buffer plays now,
   * then the writer's spacing. clock: our running time = the writer's
   * running time + the writer's base time - our base time, so readers of
   * several channels (audio and video) written on one clock stay in sync
   * whenever they started; while the writer is not PLAYING or runs on
   * another clock, running-time is used for that stretch (logged). In both
   * re-timing modes a buffer never goes out before one already pushed.
   * passthrough: the writer's timestamps and segments.
   */
  g_object_class_install_property (
      gobject_class, PROP_TIMESTAMP_MODE,
      g_param_spec_enum (
          "timestamp-mode", "Timestamp mode",
          "Re-time buffers into this pipeline's running time (first buffer "
          "plays now), map them through clock time (clock: writer running "
          "time + writer base time - our base time, lip sync across "
          "channels on one clock; running-time while the writer's base time "
          "or clock is not ours), or keep the writer's timestamps",
          GST_TYPE_FANOUT_SRC_TIMESTAMP_MODE, DEFAULT_PROP_TIMESTAMP_MODE,
          (GParamFlags)(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS
                        | GST_PARAM_MUTABLE_READY)));

  /**
   * GstFanoutSrc:wait-timeout:
   *
   * How long to wait for a writer before failing (ns).
   */
  g_object_class_install_property (
      gobject_class, PROP_WAIT_TIMEOUT,
      g_param_spec_uint64 (
          "wait-timeout", "Wait timeout",
          "How long to wait for a writer on the channel before posting an "
          "error, in ns (GST_CLOCK_TIME_NONE: forever)",
          0, G_MAXUINT64, DEFAULT_PROP_WAIT_TIMEOUT,
          (GParamFlags)(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS
                        | GST_PARAM_MUTABLE_READY)));

  /**
   * GstFanoutSrc:eos-on-writer-eos:
   *
   * Forward the writer's EOS (the reader pipeline then ends); when FALSE
   * the reader drops it and waits for the next writer.
   */
  g_object_class_install_property (
      gobject_class, PROP_EOS_ON_WRITER_EOS,
      g_param_spec_boolean (
          "eos-on-writer-eos", "EOS on writer EOS",
          "Forward the writer's EOS (FALSE: drop it and wait for the next "
          "writer)",
          DEFAULT_PROP_EOS_ON_WRITER_EOS,
          (GParamFlags)(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS
                        | GST_PARAM_MUTABLE_PLAYING)));

  /**
   * GstFanoutSrc:request-keyframe:
   *
   * Send an upstream force-key-unit across the channel when the reader
   * starts or resyncs and the ring holds no keyframe.
   */
  g_object_class_install_property (
      gobject_class, PROP_REQUEST_KEYFRAME,
      g_param_spec_boolean (
          "request-keyframe", "Request keyframe",
          "Ask the writer's upstream for a keyframe when starting or "
          "resyncing without one in the ring",
          DEFAULT_PROP_REQUEST_KEYFRAME,
          (GParamFlags)(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS
                        | GST_PARAM_MUTABLE_PLAYING)));

  /**
   * GstFanoutSrc:is-live:
   *
   * Always TRUE: fanoutsrc is a live source.
   */
  g_object_class_install_property (
      gobject_class, PROP_IS_LIVE,
      g_param_spec_boolean (
          "is-live", "Is live", "Always TRUE: a live source (no preroll)", TRUE,
          (GParamFlags)(G_PARAM_READABLE | G_PARAM_STATIC_STRINGS
                        | GST_PARAM_MUTABLE_PLAYING)));

  /**
   * GstFanoutSrc:pushed:
   *
   * Buffers pushed downstream (a buffer list counts as its length).
   */
  g_object_class_install_property (
      gobject_class, PROP_PUSHED,
      g_param_spec_uint64 (
          "pushed", "Pushed", "Buffers pushed downstream", 0, G_MAXUINT64, 0,
          (GParamFlags)(G_PARAM_READABLE | G_PARAM_STATIC_STRINGS
                        | GST_PARAM_MUTABLE_PLAYING)));

  /**
   * GstFanoutSrc:dropped:
   *
   * Ring items skipped by the lag policy.
   */
  g_object_class_install_property (
      gobject_class, PROP_DROPPED,
      g_param_spec_uint64 (
          "dropped", "Dropped", "Ring items skipped by the lag policy", 0,
          G_MAXUINT64, 0,
          (GParamFlags)(G_PARAM_READABLE | G_PARAM_STATIC_STRINGS
                        | GST_PARAM_MUTABLE_PLAYING)));

  /**
   * GstFanoutSrc:lag-items:
   *
   * Items published but not read yet.
   */
  g_object_class_install_property (
      gobject_class, PROP_LAG_ITEMS,
      g_param_spec_uint64 (
          "lag-items", "Lag items", "Items published but not read yet", 0,
          G_MAXUINT64, 0,
          (GParamFlags)(G_PARAM_READABLE | G_PARAM_STATIC_STRINGS
                        | GST_PARAM_MUTABLE_PLAYING)));

  /**
   * GstFanoutSrc:lag-time:
   *
   * Writer running time between the newest item and this reader's.
   */
  g_object_class_install_property (
      gobject_class, PROP_LAG_TIME,
      g_param_spec_uint64 (
          "lag-time", "Lag time",
          "Writer running time between the newest item and this reader (ns)", 0,
          G_MAXUINT64, 0,
          (GParamFlags)(G_PARAM_READABLE | G_PARAM_STATIC_STRINGS
                        | GST_PARAM_MUTABLE_PLAYING)));

  /**
   * GstFanoutSrc:stats:
   *
   * A "fanoutsrc-stats" structure: channel, pushed, dropped, lag-items,
   * lag-time, lapped, not-linked, keyframe-requests, running, ended.
   */
  g_object_class_install_property (
      gobject_class, PROP_STATS,
      g_param_spec_boxed (
          "stats", "Statistics", "This reader's statistics", GST_TYPE_STRUCTURE,
          (GParamFlags)(G_PARAM_READABLE | G_PARAM_STATIC_STRINGS
                        | GST_PARAM_MUTABLE_PLAYING)));

  gst_element_class_set_static_metadata (
      element_class, "Fan-out channel source", "Source/Generic",
      "Reads a named in-process channel written by a fanoutsink, at its own "
      "pace, as a live source",
      "the gst-fanout authors");
  gst_element_class_add_static_pad_template (element_class, &src_template);

  element_class->change_state = gst_fanout_src_change_state;

  gst_type_mark_as_plugin_api (GST_TYPE_FANOUT_SRC_TIMESTAMP_MODE,
                               (GstPluginAPIFlags)0);
}

static void
gst_fanout_src_init (GstFanoutSrc *self)
{
  self->srcpad = gst_pad_new_from_static_template (&src_template, "src");
  gst_pad_set_activatemode_function (self->srcpad,
                                     gst_fanout_src_activate_mode);
  gst_pad_set_event_function (self->srcpad, gst_fanout_src_src_event);
  gst_pad_set_query_function (self->srcpad, gst_fanout_src_src_query);
  gst_element_add_pad (GST_ELEMENT_CAST (self), self->srcpad);

  self->priv = new GstFanoutSrcPrivate (self);
  GST_OBJECT_FLAG_SET (self, GST_ELEMENT_FLAG_SOURCE);
}

static void
gst_fanout_src_finalize (GObject *object) noexcept
{
  GstFanoutSrc *self = GST_FANOUT_SRC (object);

  delete self->priv;
  self->priv = nullptr;

  G_OBJECT_CLASS (parent_class)->finalize (object);
}

static void
gst_fanout_src_set_property (GObject *object, guint prop_id,
                             const GValue *value, GParamSpec *pspec) noexcept
{
  GstFanoutSrc *self = GST_FANOUT_SRC (object);
  GstFanoutSrcPrivate *priv = self->priv;

  switch (prop_id) {
  case PROP_CHANNEL: {
    const gchar *s = g_value_get_string (value);
    GST_OBJECT_LOCK (self);
    try {
      priv->channel_name = s ? s : "";
    } catch (const std::bad_alloc &) {
      GST_ERROR_OBJECT (self, "out of memory");
    }
    GST_OBJECT_UNLOCK (self);
    break;
  }
  case PROP_LAG_POLICY:
    priv->reader.set_lag_policy (
        lag_policy_from_gst ((GstFanoutLagPolicy)g_value_get_enum (value)));
    break;
  case PROP_START_POSITION:
    priv->reader.set_start_position (start_position_from_gst (
        (GstFanoutStartPosition)g_value_get_enum (value)));
    break;
  case PROP_TIMESTAMP_MODE:
    GST_OBJECT_LOCK (self);
    priv->ts_mode_setting = (GstFanoutSrcTimestampMode)g_value_get_enum (value);
    GST_OBJECT_UNLOCK (self);
    break;
  case PROP_WAIT_TIMEOUT:
    GST_OBJECT_LOCK (self);
    priv->wait_timeout = g_value_get_uint64 (value);
    GST_OBJECT_UNLOCK (self);
    break;
  case PROP_EOS_ON_WRITER_EOS:
    /* relaxed: a setting */
    priv->eos_on_writer_eos.store (g_value_get_boolean (value),
                                   std::memory_order_relaxed);
    break;
  case PROP_REQUEST_KEYFRAME:
    /* relaxed: a setting */
    priv->request_keyframe.store (g_value_get_boolean (value),
                                  std::memory_order_relaxed);
    break;
  default:
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    break;
  }
}

static void
gst_fanout_src_get_property (GObject *object, guint prop_id, GValue *value,
                             GParamSpec *pspec) noexcept
{
  GstFanoutSrc *self = GST_FANOUT_SRC (object);
  GstFanoutSrcPrivate *priv = self->priv;

  switch (prop_id) {
  case PROP_CHANNEL:
    GST_OBJECT_LOCK (self);
    g_value_set_string (value, priv->channel_name.empty ()
                                   ? nullptr
                                   : priv->channel_name.c_str ());
    GST_OBJECT_UNLOCK (self);
    break;
  case PROP_LAG_POLICY:
    g_value_set_enum (value, lag_policy_to_gst (priv->reader.lag_policy ()));
    break;
  case PROP_START_POSITION:
    g_value_set_enum (value,
                      start_position_to_gst (priv->reader.start_position ()));
    break;
  case PROP_TIMESTAMP_MODE:
    GST_OBJECT_LOCK (self);
    g_value_set_enum (value, priv->ts_mode_setting);
    GST_OBJECT_UNLOCK (self);
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
  case PROP_REQUEST_KEYFRAME:
    g_value_set_boolean (
        value, priv->request_keyframe.load (std::memory_order_relaxed));
    break;
  case PROP_IS_LIVE:
    g_value_set_boolean (value, TRUE);
    break;
  case PROP_PUSHED:
    g_value_set_uint64 (value, priv->reader.stats ().pushed);
    break;
  case PROP_DROPPED:
    g_value_set_uint64 (value, priv->reader.stats ().dropped);
    break;
  case PROP_LAG_ITEMS:
    g_value_set_uint64 (value, priv->reader.stats ().lag_items);
    break;
  case PROP_LAG_TIME:
    g_value_set_uint64 (value, priv->reader.stats ().lag_time);
    break;
  case PROP_STATS: {
    GstStructure *s
        = reader_stats_to_structure ("fanoutsrc-stats", priv->reader.stats ());
    GST_OBJECT_LOCK (self);
    gst_structure_set (s, "channel", G_TYPE_STRING, priv->channel_name.c_str (),
                       nullptr);
    GST_OBJECT_UNLOCK (self);
    g_value_take_boxed (value, s);
    break;
  }
  default:
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    break;
  }
}

/* --- reader hooks (the task thread, no lock held) --------------------- */

GstClockTime
GstFanoutSrcPrivate::now () noexcept
{
  GstClock *clock = gst_element_get_clock (GST_ELEMENT_CAST (self));
  if (!clock)
    return GST_CLOCK_TIME_NONE;
  GstClockTime base = gst_element_get_base_time (GST_ELEMENT_CAST (self));
  GstClockTime t = gst_clock_get_time (clock);
  gst_object_unref (clock);
  return t > base ? t - base : 0;
}

void
GstFanoutSrcPrivate::reset_timing () noexcept
{
  gst_segment_init (&wseg, GST_FORMAT_UNDEFINED);
  have_offset = false;
  segment_pending = false;
  offset = 0;
  last_out = kNoLastOut;
  clock_state = ClockState::Unknown;
}

/* A buffer whose header (timestamps, flags) we may change, sharing @buf's
 * memory (transfer full); only for untimed buffers. A GstParentBufferMeta
 * keeps @buf alive (its memory out of its pool) as long as the copy. */
static GstBuffer *
writable_header (GstBuffer *buf) noexcept
{
  if (gst_buffer_is_writable (buf))
    return buf;
  GstBuffer *out = gst_buffer_new ();
  gst_buffer_copy_into (out, buf,
                        GstBufferCopyFlags (GST_BUFFER_COPY_FLAGS
                                            | GST_BUFFER_COPY_TIMESTAMPS
                                            | GST_BUFFER_COPY_META),
                        0, (gsize)-1);
  const guint n = gst_buffer_n_memory (buf);
  for (guint i = 0; i < n; i++)
    gst_buffer_append_memory (out,
                              gst_memory_ref (gst_buffer_peek_memory (buf, i)));
  gst_buffer_add_parent_buffer_meta (out, buf);
  gst_buffer_unref (buf);
  return out;
}

/* Pushes the writer's segment shifted by @off in running time (or, for
 * untimed data, a TIME segment from 0), so that downstream computes our
 * running time from the writer's timestamps: buffers are never touched.
 * The streaming thread, no lock held. */
void
GstFanoutSrcPrivate::push_segment (GstClockTimeDiff off) noexcept
{
  GstSegment seg;
  if (wseg.format == GST_FORMAT_TIME) {
    gst_segment_copy_into (&wseg, &seg);
    if (gst_segment_offset_running_time (&seg, GST_FORMAT_TIME, off) == FALSE)
      GST_WARNING_OBJECT (self,
                          "cannot shift the segment by %" GST_STIME_FORMAT,
                          GST_STIME_ARGS (off));
  } else {
    gst_segment_init (&seg, GST_FORMAT_TIME);
  }
  GstEvent *event = gst_event_new_segment (&seg);
  if (segment_seqnum)
    gst_event_set_seqnum (event, segment_seqnum);
  segment_pending = false;
  GST_DEBUG_OBJECT (self, "pushing %" GST_SEGMENT_FORMAT, &seg);
  gst_pad_push_event (self->srcpad, event);
}

/* Running-time mode. The offset (ours = writer running time + offset) is
 * chosen at the first buffer, after a new writer segment and at a DISCONT
 * (resync), so that this buffer plays now and never before what was already
 * pushed; in between the writer's spacing is kept exactly. It is applied
 * through the segment (gst_segment_offset_running_time), so buffers pass
 * untouched: no per-reader copy. */
GstMiniObject *
GstFanoutSrcPrivate::retime (GstMiniObject *obj) noexcept
{
  GstBuffer *first = GST_IS_BUFFER (obj)
                         ? GST_BUFFER_CAST (obj)
                         : gst_buffer_list_get (GST_BUFFER_LIST_CAST (obj), 0);
  GstClockTime pts = GST_BUFFER_PTS (first), dts = GST_BUFFER_DTS (first);
  GstClockTime ref = GST_CLOCK_TIME_NONE;

  if (wseg.format == GST_FORMAT_TIME) {
    if (GST_CLOCK_TIME_IS_VALID (dts))
      ref = gst_segment_to_running_time (&wseg, GST_FORMAT_TIME, dts);
    if (!GST_CLOCK_TIME_IS_VALID (ref) && GST_CLOCK_TIME_IS_VALID (pts))
      ref = gst_segment_to_running_time (&wseg, GST_FORMAT_TIME, pts);
  }

  if (!GST_CLOCK_TIME_IS_VALID (ref)) {
    /* untimed data: stamp single buffers with the time they are read */
    if (segment_pending || !have_offset) {
      wseg.format = GST_FORMAT_UNDEFINED; /* a TIME segment from 0 */
      push_segment (0);
      have_offset = true;
      offset = 0;
    }
    if (GST_IS_BUFFER (obj)) {
      GstBuffer *buf = writable_header (GST_BUFFER_CAST (obj));
      GST_BUFFER_PTS (buf) = now ();
      GST_BUFFER_DTS (buf) = GST_CLOCK_TIME_NONE;
      obj = GST_MINI_OBJECT_CAST (buf);
    }
    return obj;
  }

  const GstClockTimeDiff r = GstClockTimeDiff (ref);
  GstClockTimeDiff target;
  if (ts_mode == GST_FANOUT_SRC_TIMESTAMP_MODE_CLOCK
      && clock_offset (&target)) {
    /* clock mode: the offset is the clock's, whatever the buffer's age;
     * never before what was pushed: when the target would go back, keep
     * the current offset while it is still monotonic, else clamp (as
     * running-time mode does), until the target catches up */
    if (!have_offset || offset != target) {
      GstClockTimeDiff off = target;
      if (last_out != kNoLastOut && r + target < last_out)
        off = have_offset && r + offset >= last_out ? offset : last_out - r;
      if (!have_offset || off != offset) {
        GST_DEBUG_OBJECT (
            self,
            "writer running time %" GST_TIME_FORMAT
            ": clock offset %" GST_STIME_FORMAT ", applied %" GST_STIME_FORMAT,
            GST_TIME_ARGS (ref), GST_STIME_ARGS (target), GST_STIME_ARGS (off));
        segment_pending = true;
      }
      offset = off;
      have_offset = true;
    }
  } else if (!have_offset
             || GST_BUFFER_FLAG_IS_SET (first, GST_BUFFER_FLAG_DISCONT)) {
    /* running-time mode (and clock mode's fallback) */
    GstClockTime t = now ();
    GstClockTimeDiff off
        = GST_CLOCK_TIME_IS_VALID (t) ? GST_CLOCK_DIFF (ref, t) : 0;
    if (last_out != kNoLastOut && r + off < last_out)
      off = last_out - r;
    GST_DEBUG_OBJECT (
        self,
        "writer running time %" GST_TIME_FORMAT " plays at %" GST_TIME_FORMAT
        " (offset %" GST_STIME_FORMAT ")",
        GST_TIME_ARGS (ref), GST_TIME_ARGS (t), GST_STIME_ARGS (off));
    if (!have_offset || off != offset)
      segment_pending = true;
    offset = off;
    have_offset = true;
  }
  if (segment_pending)
    push_segment (offset);
  last_out = r + offset;
  return obj;
}

/* Clock mode: sets @target to the offset that maps the writer's running
 * time to ours through clock time (writer base time - our base time) and
 * returns true, or returns false (running-time fallback) when the writer
 * published no base time (not PLAYING, or gone) or runs on another clock.
 * Each change of that state is logged once. The task thread. */
bool
GstFanoutSrcPrivate::clock_offset (GstClockTimeDiff *target) noexcept
{
  /* acquire: pairs with the release store in change_state */
  if (G_UNLIKELY (clock_stale.exchange (false, std::memory_order_acquire))) {
    own_clock.reset (gst_element_get_clock (GST_ELEMENT_CAST (self)));
    own_base = gst_element_get_base_time (GST_ELEMENT_CAST (self));
  }

  const GstClock *wclock = nullptr;
  GstClockTime wbase = GST_CLOCK_TIME_NONE;
  ClockState st;
  if (!channel || !own_clock || !GST_CLOCK_TIME_IS_VALID (own_base)
      || !channel->writer_clock (&wclock, &wbase))
    st = ClockState::NoBase;
  else if (wclock != own_clock.get ())
    st = ClockState::OtherClock;
  else
    st = ClockState::Mapped;

  if (G_UNLIKELY (st != clock_state)) {
    switch (st) {
    case ClockState::Mapped:
      GST_INFO_OBJECT (self,
                       "clock mode: writer base time %" GST_TIME_FORMAT
                       ", ours %" GST_TIME_FORMAT,
                       GST_TIME_ARGS (wbase), GST_TIME_ARGS (own_base));
      break;
    case ClockState::NoBase:
      GST_INFO_OBJECT (self, "clock mode: the writer's base time is unknown "
                             "(not PLAYING): running-time meanwhile");
      break;
    case ClockState::OtherClock:
      GST_WARNING_OBJECT (self,
                          "clock mode: the writer runs on another clock "
                          "(%p, ours %" GST_PTR_FORMAT "): running-time "
                          "meanwhile",
                          (const void *)wclock, own_clock.get ());
      break;
    case ClockState::Unknown:
      break;
    }
    clock_state = st;
  }
  if (st != ClockState::Mapped)
    return false;
  *target = GST_CLOCK_DIFF (own_base, wbase);
  return true;
}

GstMiniObject *
GstFanoutSrcPrivate::transform (PadReader &r, GstMiniObject *obj) noexcept
{
  const bool passthrough = ts_mode == GST_FANOUT_SRC_TIMESTAMP_MODE_PASSTHROUGH;

  if (GST_IS_EVENT (obj)) {
    GstEvent *event = GST_EVENT_CAST (obj);
    switch (GST_EVENT_TYPE (event)) {
    case GST_EVENT_EOS:
      if (!eos_on_writer_eos.load (std::memory_order_relaxed)) {
        GST_INFO_OBJECT (self, "writer EOS: waiting for the next writer");
        gst_event_unref (event);
        return nullptr;
      }
      GST_INFO_OBJECT (self, "writer EOS");
      break;
    case GST_EVENT_SEGMENT:
      gst_event_copy_segment (event, &wseg);
      if (passthrough)
        return obj;
      /* pushed, shifted, before the next data (see retime ()) */
      have_offset = false;
      segment_pending = true;
      segment_seqnum = gst_event_get_seqnum (event);
      gst_event_unref (event);
      return nullptr;
    case GST_EVENT_STREAM_START:
    case GST_EVENT_CAPS:
    case GST_EVENT_TAG:
      return obj;
    default:
      break;
    }
    /* other serialized events (gap, EOS, custom) need a segment before */
    if (!passthrough && segment_pending
        && (gst_event_type_get_flags (GST_EVENT_TYPE (event))
            & GST_EVENT_TYPE_SERIALIZED))
      push_segment (have_offset ? offset : 0);
    return obj;
  }

  if (passthrough)
    return obj;
  if (GST_IS_BUFFER (obj)
      || (GST_IS_BUFFER_LIST (obj)
          && gst_buffer_list_length (GST_BUFFER_LIST_CAST (obj)) > 0))
    return retime (obj);
  return obj;
}

void
GstFanoutSrcPrivate::lagged (PadReader &r, guint64 dropped) noexcept
{
  GST_DEBUG_OBJECT (self, "lapped: %" G_GUINT64_FORMAT " items dropped",
                    dropped);
}

void
GstFanoutSrcPrivate::need_keyframe (PadReader &r) noexcept
{
  if (!request_keyframe.load (std::memory_order_relaxed) || !channel)
    return;
  GST_DEBUG_OBJECT (self, "no keyframe in the ring: asking the writer");
  channel->send_upstream (gst_video_event_new_upstream_force_key_unit (
      GST_CLOCK_TIME_NONE, TRUE, 0));
}

void
GstFanoutSrcPrivate::removed (PadReader &r, RemoveReason reason,
                              GstFlowReturn flow) noexcept
{
  /* release: see the member comment */
  ended.store (true, std::memory_order_release);
  joined = false;
  /* leave the channel first: the writer's reader-removed comes before
   * anything this pipeline sees */
  if (channel && !detached) {
    detached = true;
    channel->detach_reader (GST_ELEMENT_CAST (self),
                            remove_reason_nick (reason));
  }
  if (reason == RemoveReason::NotNegotiated || reason == RemoveReason::Error)
    GST_ELEMENT_FLOW_ERROR (self, flow);
  /* this reader is over: end its pipeline's stream */
  gst_pad_push_event (self->srcpad, gst_event_new_eos ());
}

/* --- the task --------------------------------------------------------- */

/* Waits for a writer; false when the task must not go on (it is then
 * paused). */
static bool
gst_fanout_src_wait_writer (GstFanoutSrc *self,
                            std::shared_ptr<Ring> *ring) noexcept
{
  GstFanoutSrcPrivate *priv = self->priv;
  GstClockTime timeout;

  GST_OBJECT_LOCK (self);
  timeout = priv->wait_timeout;
  GST_OBJECT_UNLOCK (self);

  if (priv->wait_start == 0)
    priv->wait_start = g_get_monotonic_time ();
  const gint64 deadline
      = GST_CLOCK_TIME_IS_VALID (timeout)
            ? priv->wait_start + gint64 (timeout / GST_USECOND)
            : G_MAXINT64;
  const gint64 warn_at = priv->wait_start + G_USEC_PER_SEC;

  for (;;) {
    gint64 until = priv->warned ? deadline : MIN (deadline, warn_at);
    switch (priv->channel->wait_writer (until, priv->interrupt, ring)) {
    case Channel::WaitResult::Ok:
      return true;
    case Channel::WaitResult::Cancelled:
      gst_pad_pause_task (self->srcpad);
      return false;
    case Channel::WaitResult::Timeout:
      break;
    }
    if (!priv->warned && (until < deadline || timeout > GST_SECOND)) {
      priv->warned = true;
      GST_ELEMENT_WARNING (
          self, RESOURCE, NOT_FOUND,
          ("Waiting for a writer on channel '%s'",
           priv->channel->name ().c_str ()),
          ("no fanoutsink channel=%s in this process after 1 s; waiting "
           "up to %" GST_TIME_FORMAT,
           priv->channel->name ().c_str (), GST_TIME_ARGS (timeout)));
    }
    if (g_get_monotonic_time () >= deadline)
      goto timed_out;
  }

  /* ERRORS */
timed_out : {
  GST_ELEMENT_ERROR (
      self, RESOURCE, NOT_FOUND,
      ("No writer on channel '%s' within %" GST_TIME_FORMAT,
       priv->channel->name ().c_str (), GST_TIME_ARGS (timeout)),
      ("wait-timeout expired; the channel registry is per process"));
  /* release: see the member comment */
  priv->ended.store (true, std::memory_order_release);
  gst_pad_pause_task (self->srcpad);
  return false;
}
}

static void
gst_fanout_src_loop (gpointer data) noexcept
{
  GstFanoutSrc *self = GST_FANOUT_SRC (data);
  GstFanoutSrcPrivate *priv = self->priv;

  /* acquire: pairs with the release stores of ended and interrupt */
  if (G_UNLIKELY (priv->ended.load (std::memory_order_acquire)
                  || priv->interrupt.load (std::memory_order_acquire)))
    goto pause;

  if (G_UNLIKELY (!priv->joined)) {
    std::shared_ptr<Ring> ring;
    if (!gst_fanout_src_wait_writer (self, &ring))
      return;
    priv->applied_max_lag = priv->channel->max_lag_time ();
    priv->reader.set_max_lag_time (priv->applied_max_lag);
    priv->reset_timing ();
    /* under task_lock: a concurrent pause/stop either sees the cursor (and
     * wakes it) or we see its interrupt */
    bool ok;
    {
      GMutexLock l (&priv->task_lock);
      /* acquire: pairs with the release store under task_lock */
      if (priv->interrupt.load (std::memory_order_acquire))
        goto pause;
      ok = priv->reader.join (ring);
    }
    if (!ok)
      goto no_memory;
    priv->joined = true;
    GST_INFO_OBJECT (self, "reading channel '%s'",
                     priv->channel->name ().c_str ());
  }

  {
    GstClockTime ml = priv->channel->max_lag_time ();
    if (G_UNLIKELY (ml != priv->applied_max_lag)) {
      priv->applied_max_lag = ml;
      priv->reader.set_max_lag_time (ml);
    }
  }

  switch (priv->reader.iterate ()) {
  case PadReader::Step::Continue:
    return;
  case PadReader::Step::Flushing:
    /* The writer's ring flushes (a flush or a writer going down): wait for
     * the end, then go on reading. acquire: see above. */
    if (priv->interrupt.load (std::memory_order_acquire)
        || priv->ended.load (std::memory_order_acquire)
        || !priv->channel->wait_not_flushing (priv->interrupt))
      goto pause;
    {
      GMutexLock l (&priv->task_lock);
      if (priv->playing && !priv->interrupt.load (std::memory_order_acquire)
          && !priv->ended.load (std::memory_order_acquire)) {
        GST_DEBUG_OBJECT (self, "writer flush over: reading on");
        return;
      }
    }
    goto pause;
  case PadReader::Step::Interrupted:
  case PadReader::Step::Ended:
    goto pause;
  }
  return;

pause:
  gst_pad_pause_task (self->srcpad);
  return;

  /* ERRORS */
no_memory : {
  GST_ELEMENT_ERROR (self, RESOURCE, NO_SPACE_LEFT,
                     ("Cannot read channel '%s': out of memory",
                      priv->channel->name ().c_str ()),
                     (NULL));
  /* release: see the member comment */
  priv->ended.store (true, std::memory_order_release);
  gst_pad_pause_task (self->srcpad);
}
}

/* Stops the task (PAUSED->READY, waits for it) or pauses it
 * (PLAYING->PAUSED, without waiting: the task may be blocked downstream in
 * a sink's preroll, which only our later deactivation unblocks). */
static void
gst_fanout_src_interrupt (GstFanoutSrc *self, bool stop) noexcept
{
  GstFanoutSrcPrivate *priv = self->priv;

  /* 1. unblock the loop: a channel wait sees interrupt, a ring pop is
   * woken by the reader */
  {
    GMutexLock l (&priv->task_lock);
    priv->playing = false;
    /* release: pairs with the task's acquire loads */
    priv->interrupt.store (true, std::memory_order_release);
  }
  if (!stop) {
    GST_OBJECT_LOCK (self->srcpad);
    if (GST_PAD_TASK (self->srcpad))
      gst_task_pause (GST_PAD_TASK (self->srcpad));
    GST_OBJECT_UNLOCK (self->srcpad);
  }
  if (priv->channel)
    priv->channel->wake_waiters ();
  priv->reader.wake ();
  /* 2. stop the task and wait for it, then free the cursor */
  if (stop) {
    priv->reader.interrupt ();
    gst_pad_stop_task (self->srcpad);
    priv->reader.leave ();
    priv->reader.interrupt_done ();
    priv->joined = false;
  }
}

static gboolean
gst_fanout_src_activate_mode (GstPad *pad, GstObject *parent, GstPadMode mode,
                              gboolean active) noexcept
{
  GstFanoutSrc *self = GST_FANOUT_SRC (parent);

  if (mode != GST_PAD_MODE_PUSH)
    return FALSE;
  /* the task starts in PLAYING (a live source); deactivation stops it after
   * the pad became flushing */
  if (!active)
    gst_fanout_src_interrupt (self, true);
  return TRUE;
}

/* NULL->READY: registers on the channel (a writer may come later). */
static gboolean
gst_fanout_src_attach (GstFanoutSrc *self) noexcept
{
  GstFanoutSrcPrivate *priv = self->priv;
  std::string name, error;

  GST_OBJECT_LOCK (self);
  try {
    name = priv->channel_name;
  } catch (const std::bad_alloc &) {
  }
  GST_OBJECT_UNLOCK (self);

  ChannelRef channel
      = Channel::attach_reader (name.c_str (), GST_ELEMENT_CAST (self), &error);
  if (!channel)
    goto attach_failed;
  GST_OBJECT_LOCK (self);
  priv->channel = std::move (channel);
  priv->detached = false;
  GST_OBJECT_UNLOCK (self);
  return TRUE;

  /* ERRORS */
attach_failed : {
  GST_ELEMENT_ERROR (
      self, RESOURCE, SETTINGS,
      ("Cannot read channel '%s': %s", name.c_str (), error.c_str ()), (NULL));
  return FALSE;
}
}

/* READY->NULL. */
static void
gst_fanout_src_detach (GstFanoutSrc *self) noexcept
{
  GstFanoutSrcPrivate *priv = self->priv;
  ChannelRef channel;
  bool detached;

  GST_OBJECT_LOCK (self);
  channel = std::move (priv->channel);
  detached = priv->detached;
  priv->detached = false;
  GST_OBJECT_UNLOCK (self);
  if (channel && !detached)
    channel->detach_reader (GST_ELEMENT_CAST (self),
                            remove_reason_nick (RemoveReason::Released));
}

static GstStateChangeReturn
gst_fanout_src_change_state (GstElement *element,
                             GstStateChange transition) noexcept
{
  GstFanoutSrc *self = GST_FANOUT_SRC (element);
  GstFanoutSrcPrivate *priv = self->priv;
  GstStateChangeReturn ret;

  switch (transition) {
  case GST_STATE_CHANGE_NULL_TO_READY:
    if (!gst_fanout_src_attach (self))
      return GST_STATE_CHANGE_FAILURE;
    break;
  case GST_STATE_CHANGE_READY_TO_PAUSED:
    /* a reader that ended by itself left the channel: join it again */
    if (priv->detached) {
      gst_fanout_src_detach (self);
      if (!gst_fanout_src_attach (self))
        return GST_STATE_CHANGE_FAILURE;
    }
    /* no task runs: its state may be reset from here */
    GST_OBJECT_LOCK (self);
    priv->ts_mode = priv->ts_mode_setting;
    GST_OBJECT_UNLOCK (self);
    priv->own_clock.reset ();
    priv->joined = false;
    priv->wait_start = 0;
    priv->warned = false;
    priv->reset_timing ();
    /* release: no task runs yet */
    priv->ended.store (false, std::memory_order_release);
    break;
  case GST_STATE_CHANGE_PAUSED_TO_PLAYING: {
    GMutexLock l (&priv->task_lock);
    priv->playing = true;
    /* release: the bin set our clock and base time before this call */
    priv->clock_stale.store (true, std::memory_order_release);
    /* release: read by the task it (re)starts */
    priv->interrupt.store (false, std::memory_order_release);
    if (!priv->ended.load (std::memory_order_acquire))
      gst_pad_start_task (self->srcpad, gst_fanout_src_loop, self, nullptr);
    break;
  }
  case GST_STATE_CHANGE_PLAYING_TO_PAUSED:
    gst_fanout_src_interrupt (self, false);
    break;
  default:
    break;
  }

  ret = GST_ELEMENT_CLASS (parent_class)->change_state (element, transition);
  if (ret == GST_STATE_CHANGE_FAILURE) {
    if (transition == GST_STATE_CHANGE_NULL_TO_READY)
      gst_fanout_src_detach (self);
    return ret;
  }

  switch (transition) {
  case GST_STATE_CHANGE_READY_TO_PAUSED:
  case GST_STATE_CHANGE_PLAYING_TO_PAUSED:
    /* a live source: no preroll */
    ret = GST_STATE_CHANGE_NO_PREROLL;
    break;
  case GST_STATE_CHANGE_READY_TO_NULL:
    gst_fanout_src_detach (self);
    priv->own_clock.reset (); /* no task runs */
    break;
  default:
    break;
  }
  return ret;
}

static gboolean
gst_fanout_src_src_event (GstPad *pad, GstObject *parent,
                          GstEvent *event) noexcept
{
  GstFanoutSrc *self = GST_FANOUT_SRC (parent);

  if (gst_video_event_is_force_key_unit (event)) {
    ChannelRef channel;
    GST_OBJECT_LOCK (self);
    channel = self->priv->channel;
    GST_OBJECT_UNLOCK (self);
    GST_DEBUG_OBJECT (self, "forwarding %" GST_PTR_FORMAT " to the writer",
                      event);
    if (!channel) {
      gst_event_unref (event);
      return FALSE;
    }
    return channel->send_upstream (event);
  }

  switch (GST_EVENT_TYPE (event)) {
  case GST_EVENT_SEEK:
    /* a live channel cannot seek */
    gst_event_unref (event);
    return FALSE;
  case GST_EVENT_QOS:
  case GST_EVENT_LATENCY:
  case GST_EVENT_NAVIGATION:
  case GST_EVENT_RECONFIGURE:
    gst_event_unref (event);
    return TRUE;
  default:
    return gst_pad_event_default (pad, parent, event);
  }
}

static gboolean
gst_fanout_src_src_query (GstPad *pad, GstObject *parent,
                          GstQuery *query) noexcept
{
  switch (GST_QUERY_TYPE (query)) {
  case GST_QUERY_LATENCY:
    /* live: the first buffer is mapped to the running time it is read at
     * (then the writer's spacing); nothing is buffered before that */
    gst_query_set_latency (query, TRUE, 0, GST_CLOCK_TIME_NONE);
    return TRUE;
  case GST_QUERY_SEEKING: {
    GstFormat format;
    gst_query_parse_seeking (query, &format, NULL, NULL, NULL);
    gst_query_set_seeking (query, format, FALSE, 0, -1);
    return TRUE;
  }
  default:
    return gst_pad_query_default (pad, parent, query);
  }
}
