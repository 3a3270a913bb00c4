/* gst-fanout
 * Copyright (C) 2026 the gst-fanout authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2.1 of the License, or (at your option) any later version.
 */

/**
 * SECTION:element-fanout
 * @title: fanout
 *
 * A tee for many readers: the sink pad publishes every buffer, buffer list
 * and serialized event once into a lock-free ring, and each `src_%u` pad
 * reads the ring in its own streaming thread, at its own pace. The writer's
 * cost does not depend on the number of readers, and a slow, blocked or
 * failing reader never stalls the writer or the other readers (except under
 * `lag-policy=block`, which is lossless like `tee ! queue`).
 *
 * A reader that falls a whole ring (`capacity` items) or `max-lag-time`
 * behind is lapped and handled by its pad's `lag-policy`; a new reader starts
 * at its pad's `start-position` (by default the newest keyframe, preceded by
 * the caps, segment and tags in force there). When a reader joins or resyncs
 * and the ring holds no keyframe, an upstream force-key-unit event is sent
 * (`request-keyframe`), at most once per GOP.
 *
 * The ALLOCATION query is aggregated over the linked readers as tee does
 * (largest size and min, merged alignment/prefix/padding, the metas every
 * reader accepts, never a pool). A buffer from a bounded upstream pool
 * (`v4l2src`) is held in the ring while fewer than half of that pool's
 * buffers are held downstream, and copied otherwise, so upstream never runs
 * dry because readers hold buffers.
 *
 * Flow returns as tee's: GST_FLOW_NOT_LINKED while no source pad is linked
 * and `allow-not-linked` is FALSE (TRUE by default, unlike tee); the fatal
 * flow once every reader failed on one. A reader that failed retries at
 * each following keyframe and starts afresh when re-linked.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 videotestsrc is-live=true ! x264enc tune=zerolatency \
 *     key-int-max=30 ! h264parse ! fanout name=f src_1::lag-policy=block \
 *     f. ! queue ! fakesink  f. ! fakesink
 * ]|
 */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstfanout.h"
#include "gstfanoutreader.h"
#include "gstfanouttypes.h"
#include "gstfanoutwriter.h"

#include <gst/video/video.h>

#include <cstdio>
#include <memory>
#include <utility>

using gstfanout::LagPolicy;
using gstfanout::PadReader;
using gstfanout::Ring;
using gstfanout::RingWriter;
using gstfanout::StartPosition;

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE (
    "sink", GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS_ANY);

static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE (
    "src_%u", GST_PAD_SRC, GST_PAD_REQUEST, GST_STATIC_CAPS_ANY);

GST_DEBUG_CATEGORY_STATIC (gst_fanout_debug);
#define GST_CAT_DEFAULT gst_fanout_debug

#define DEFAULT_PROP_CAPACITY 1024
#define DEFAULT_PROP_MAX_LAG_TIME GST_CLOCK_TIME_NONE
#define DEFAULT_PROP_REQUEST_KEYFRAME TRUE
/* Unlike tee (FALSE): a fanout without readers still fills its ring, for
 * the readers that join later at the newest keyframe. */
#define DEFAULT_PROP_ALLOW_NOT_LINKED TRUE

enum {
  PROP_0,
  PROP_CAPACITY,
  PROP_MAX_LAG_TIME,
  PROP_REQUEST_KEYFRAME,
  PROP_NUM_SRC_PADS,
  PROP_STATS,
  PROP_ALLOW_NOT_LINKED,
  PROP_HAS_CHAIN,
  PROP_PULL_MODE,
  PROP_ALLOC_PAD,
};

#define DEFAULT_PROP_LAG_POLICY GST_FANOUT_LAG_POLICY_DROP_TO_KEYFRAME
#define DEFAULT_PROP_START_POSITION GST_FANOUT_START_POSITION_LATEST_KEYFRAME

enum {
  PROP_PAD_0,
  PROP_PAD_LAG_POLICY,
  PROP_PAD_START_POSITION,
  PROP_PAD_PUSHED,
  PROP_PAD_DROPPED,
  PROP_PAD_LAG_ITEMS,
  PROP_PAD_LAG_TIME,
  PROP_PAD_NOT_LINKED,
};

enum {
  SIGNAL_READER_LAGGED,
  SIGNAL_READER_REMOVED,
  LAST_SIGNAL,
};

static guint gst_fanout_signals[LAST_SIGNAL];

/* Lock order: flow_lock, then the element's object lock (settings, the
 * ring pointer, the pad index table), then a pad's object lock; a pad's
 * PadReader lock (inside gstfanoutreader) is never taken with any of them
 * held. Nothing is pushed, no signal emitted and no message posted with
 * any of them held. */
struct _GstFanoutPrivate {
  explicit _GstFanoutPrivate (GstElement *element) noexcept : glue (element)
  {
    g_mutex_init (&flow_lock);
  }
  ~_GstFanoutPrivate () { g_mutex_clear (&flow_lock); }

  /* Settings (object lock). */
  guint capacity = DEFAULT_PROP_CAPACITY;
  GstClockTime max_lag_time = DEFAULT_PROP_MAX_LAG_TIME;
  gboolean request_keyframe = DEFAULT_PROP_REQUEST_KEYFRAME;
  gboolean allow_not_linked = DEFAULT_PROP_ALLOW_NOT_LINKED;
  /* tee's alloc-pad: kept and returned, no effect (as tee). Not a
   * reference: cleared when that pad is released. */
  GstPad *alloc_pad = nullptr;

  /* What the chain returns besides the ring's own result, recomputed by
   * gst_fanout_update_flow (serialized by flow_lock) whenever a pad is
   * requested, released, linked or unlinked, a reader fails or recovers or
   * its downstream starts/stops answering NOT_LINKED, and when
   * allow-not-linked changes: GST_FLOW_OK, GST_FLOW_NOT_LINKED, or the
   * fatal flow every reader failed on. Relaxed: a value read alone by the
   * chain, nothing else is published through it. */
  GMutex flow_lock;
  std::atomic<int> flow{ GST_FLOW_OK };

  /* Pad indexes in use (object lock), as tee names its pads. */
  GHashTable *pad_indexes = g_hash_table_new (nullptr, nullptr);
  guint next_index = 0;

  /* The ring, from READY_TO_PAUSED to PAUSED_TO_READY. `ring` is read by
   * pads joining from any thread (object lock); `writer` and `glue` belong
   * to the sink pad's streaming thread and to change_state. */
  std::shared_ptr<Ring> ring;
  std::unique_ptr<RingWriter> writer;
  gstfanout::WriterGlue glue;
};

/* ---------------------------------------------------------- GstFanoutPad */

struct _GstFanoutPadPrivate final : public gstfanout::PadReaderHooks {
  explicit _GstFanoutPadPrivate (GstPad *pad) noexcept
      : reader (nullptr, pad, this)
  {
    g_mutex_init (&join_lock);
  }
  ~_GstFanoutPadPrivate () { g_mutex_clear (&join_lock); }

  void lagged (PadReader &r, guint64 dropped) noexcept override;
  void need_keyframe (PadReader &r) noexcept override;
  void removed (PadReader &r, gstfanout::RemoveReason reason,
                GstFlowReturn flow) noexcept override;
  void state_changed (PadReader &r) noexcept override;

  PadReader reader;
  /* Serializes joining (activation, link), leaving (deactivation, release)
   * and restarting after a flush: whoever starts or stops the pad's task
   * holds it. Never taken by the reader's task, so stopping may wait for
   * the task while holding it. */
  GMutex join_lock;
  /* Set under join_lock when the pad is being released: an activation
   * racing with the release (a state change walking the element's pads)
   * must not start a reader on a pad about to go away. */
  bool released = false;
  /* The element that made this pad; set once before the pad is added, not
   * a reference (the element owns the pad, and the reader's task runs only
   * while the pad is in it). */
  GstFanout *fanout = nullptr;
};

G_DEFINE_TYPE (GstFanoutPad, gst_fanout_pad, GST_TYPE_PAD);

/* The pad's task: one reader's loop. */
static void
gst_fanout_pad_loop (gpointer data) noexcept
{
  GstFanoutPad *fpad = GST_FANOUT_PAD_CAST (data);
  if (fpad->priv->reader.iterate () != PadReader::Step::Continue)
    gst_pad_pause_task (GST_PAD_CAST (fpad));
}

/* Stops the reader's task in two steps: 1. unblock the loop (interrupt
 * wakes a waiting pop), 2. stop the task and wait for it; then the cursor
 * goes. join_lock held; any thread but the task's. */
static void
gst_fanout_pad_stop (GstFanoutPad *fpad) noexcept
{
  PadReader &r = fpad->priv->reader;
  r.interrupt ();
  gst_pad_stop_task (GST_PAD_CAST (fpad));
  r.leave ();
  r.interrupt_done ();
}

/* FLUSH_START, after the ring is flushing: waits for the current iteration
 * and leaves the task paused. */
static void
gst_fanout_pad_pause (GstFanoutPad *fpad) noexcept
{
  PadReader &r = fpad->priv->reader;
  r.interrupt ();
  gst_pad_pause_task (GST_PAD_CAST (fpad));
  r.interrupt_done ();
}

/* FLUSH_STOP, after the ring is reset: restarts a reader that has a cursor
 * and did not end; under join_lock, so a concurrent stop either sees the
 * started task (and stops it) or we see no cursor (and start nothing). */
static void
gst_fanout_pad_resume (GstFanoutPad *fpad) noexcept
{
  GstFanoutPadPrivate *fp = fpad->priv;
  gstfanout::GMutexLock l (&fp->join_lock);
  if (fp->released || !fp->reader.running () || fp->reader.ended ())
    return;
  fp->reader.resync ();
  gst_pad_start_task (GST_PAD_CAST (fpad), gst_fanout_pad_loop, fpad, nullptr);
}

static void
gst_fanout_pad_set_property (GObject *object, guint prop_id,
                             const GValue *value, GParamSpec *pspec) noexcept
{
  GstFanoutPad *pad = GST_FANOUT_PAD (object);

  switch (prop_id) {
  case PROP_PAD_LAG_POLICY:
    pad->priv->reader.set_lag_policy (gstfanout::lag_policy_from_gst (
        (GstFanoutLagPolicy)g_value_get_enum (value)));
    break;
  case PROP_PAD_START_POSITION:
    pad->priv->reader.set_start_position (gstfanout::start_position_from_gst (
        (GstFanoutStartPosition)g_value_get_enum (value)));
    break;
  default:
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    break;
  }
}

static void
gst_fanout_pad_get_property (GObject *object, guint prop_id, GValue *value,
                             GParamSpec *pspec) noexcept
{
  GstFanoutPad *pad = GST_FANOUT_PAD (object);

  switch (prop_id) {
  case PROP_PAD_LAG_POLICY:
    g_value_set_enum (
        value, gstfanout::lag_policy_to_gst (pad->priv->reader.lag_policy ()));
    break;
  case PROP_PAD_START_POSITION:
    g_value_set_enum (value, gstfanout::start_position_to_gst (
                                 pad->priv->reader.start_position ()));
    break;
  case PROP_PAD_PUSHED:
    g_value_set_uint64 (value, pad->priv->reader.stats ().pushed);
    break;
  case PROP_PAD_DROPPED:
    g_value_set_uint64 (value, pad->priv->reader.stats ().dropped);
    break;
  case PROP_PAD_LAG_ITEMS:
    g_value_set_uint64 (value, pad->priv->reader.stats ().lag_items);
    break;
  case PROP_PAD_LAG_TIME:
    g_value_set_uint64 (value, pad->priv->reader.stats ().lag_time);
    break;
  case PROP_PAD_NOT_LINKED:
    g_value_set_uint64 (value, pad->priv->reader.stats ().not_linked);
    break;
  default:
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    break;
  }
}

static void
gst_fanout_pad_dispose (GObject *object) noexcept
{
  GstFanoutPad *pad = GST_FANOUT_PAD (object);

  /* Normally stopped when the pad was deactivated (release); make sure no
   * task runs our reader once the pad goes away. */
  if (pad->priv) {
    gstfanout::GMutexLock l (&pad->priv->join_lock);
    pad->priv->released = true;
    gst_fanout_pad_stop (pad);
  }

  G_OBJECT_CLASS (gst_fanout_pad_parent_class)->dispose (object);
}

static void
gst_fanout_pad_finalize (GObject *object) noexcept
{
  GstFanoutPad *pad = GST_FANOUT_PAD (object);

  delete pad->priv;
  pad->priv = nullptr;

  G_OBJECT_CLASS (gst_fanout_pad_parent_class)->finalize (object);
}

static void
gst_fanout_pad_class_init (GstFanoutPadClass *klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);

  gobject_class->set_property = gst_fanout_pad_set_property;
  gobject_class->get_property = gst_fanout_pad_get_property;
  gobject_class->dispose = gst_fanout_pad_dispose;
  gobject_class->finalize = gst_fanout_pad_finalize;

  /**
   * GstFanoutPad:lag-policy:
   *
   * What this reader does when the writer laps it. Applies at once.
   */
  g_object_class_install_property (
      gobject_class, PROP_PAD_LAG_POLICY,
      g_param_spec_enum ("lag-policy", "Lag policy",
                         "What this reader does when the writer laps it",
                         GST_TYPE_FANOUT_LAG_POLICY, DEFAULT_PROP_LAG_POLICY,
                         (GParamFlags)(G_PARAM_READWRITE
                                       | G_PARAM_STATIC_STRINGS
                                       | GST_PARAM_MUTABLE_PLAYING)));
  /**
   * GstFanoutPad:start-position:
   *
   * Where this reader starts when it joins the ring (its pad active and
   * linked, whichever comes last).
   */
  g_object_class_install_property (
      gobject_class, PROP_PAD_START_POSITION,
      g_param_spec_enum (
          "start-position", "Start position",
          "Where this reader starts reading when it joins (pad active and "
          "linked)",
          GST_TYPE_FANOUT_START_POSITION, DEFAULT_PROP_START_POSITION,
          (GParamFlags)(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS
                        | GST_PARAM_MUTABLE_PLAYING)));
  /**
   * GstFanoutPad:pushed:
   *
   * Buffers pushed downstream (a buffer list counts its buffers).
   */
  g_object_class_install_property (
      gobject_class, PROP_PAD_PUSHED,
      g_param_spec_uint64 (
          "pushed", "Pushed", "Buffers pushed downstream by this reader", 0,
          G_MAXUINT64, 0,
          (GParamFlags)(G_PARAM_READABLE | G_PARAM_STATIC_STRINGS
                        | GST_PARAM_MUTABLE_PLAYING)));
  /**
   * GstFanoutPad:dropped:
   *
   * Ring items this reader skipped because it was lapped.
   */
  g_object_class_install_property (
      gobject_class, PROP_PAD_DROPPED,
      g_param_spec_uint64 (
          "dropped", "Dropped",
          "Ring items this reader skipped because it was lapped", 0,
          G_MAXUINT64, 0,
          (GParamFlags)(G_PARAM_READABLE | G_PARAM_STATIC_STRINGS
                        | GST_PARAM_MUTABLE_PLAYING)));
  /**
   * GstFanoutPad:lag-items:
   *
   * Ring items published but not read yet by this reader.
   */
  g_object_class_install_property (
      gobject_class, PROP_PAD_LAG_ITEMS,
      g_param_spec_uint64 (
          "lag-items", "Lag (items)",
          "Ring items published but not read yet by this reader", 0,
          G_MAXUINT64, 0,
          (GParamFlags)(G_PARAM_READABLE | G_PARAM_STATIC_STRINGS
                        | GST_PARAM_MUTABLE_PLAYING)));
  /**
   * GstFanoutPad:lag-time:
   *
   * Running time between the newest item and this reader's last one (ns).
   */
  g_object_class_install_property (
      gobject_class, PROP_PAD_LAG_TIME,
      g_param_spec_uint64 (
          "lag-time", "Lag (time)",
          "Running time between the newest item and this reader's (ns)", 0,
          G_MAXUINT64, 0,
          (GParamFlags)(G_PARAM_READABLE | G_PARAM_STATIC_STRINGS
                        | GST_PARAM_MUTABLE_PLAYING)));
  /**
   * GstFanoutPad:not-linked:
   *
   * Buffers dropped because downstream returned NOT_LINKED.
   */
  g_object_class_install_property (
      gobject_class, PROP_PAD_NOT_LINKED,
      g_param_spec_uint64 (
          "not-linked", "Not linked",
          "Buffers dropped because downstream is not linked", 0, G_MAXUINT64, 0,
          (GParamFlags)(G_PARAM_READABLE | G_PARAM_STATIC_STRINGS
                        | GST_PARAM_MUTABLE_PLAYING)));
}

static void
gst_fanout_pad_init (GstFanoutPad *pad)
{
  pad->priv = new _GstFanoutPadPrivate (GST_PAD_CAST (pad));
}

/* ------------------------------------------------------------- GstFanout */

static void gst_fanout_child_proxy_init (gpointer g_iface,
                                         gpointer iface_data) noexcept;

#define gst_fanout_parent_class parent_class
G_DEFINE_TYPE_WITH_CODE (GstFanout, gst_fanout, GST_TYPE_ELEMENT,
                         G_IMPLEMENT_INTERFACE (GST_TYPE_CHILD_PROXY,
                                                gst_fanout_child_proxy_init);
                         GST_DEBUG_CATEGORY_INIT (gst_fanout_debug, "fanout", 0,
                                                  "fanout element"));
GST_ELEMENT_REGISTER_DEFINE (fanout, "fanout", GST_RANK_NONE, GST_TYPE_FANOUT);

static void gst_fanout_dispose (GObject *object) noexcept;
static void gst_fanout_finalize (GObject *object) noexcept;
static void gst_fanout_set_property (GObject *object, guint prop_id,
                                     const GValue *value,
                                     GParamSpec *pspec) noexcept;
static void gst_fanout_get_property (GObject *object, guint prop_id,
                                     GValue *value, GParamSpec *pspec) noexcept;
static GstStateChangeReturn
gst_fanout_change_state (GstElement *element,
                         GstStateChange transition) noexcept;
static GstPad *gst_fanout_request_new_pad (GstElement *element,
                                           GstPadTemplate *templ,
                                           const gchar *name,
                                           const GstCaps *caps) noexcept;
static void gst_fanout_release_pad (GstElement *element, GstPad *pad) noexcept;

static GstFlowReturn gst_fanout_chain (GstPad *pad, GstObject *parent,
                                       GstBuffer *buffer) noexcept;
static GstFlowReturn gst_fanout_chain_list (GstPad *pad, GstObject *parent,
                                            GstBufferList *list) noexcept;
static gboolean gst_fanout_sink_event (GstPad *pad, GstObject *parent,
                                       GstEvent *event) noexcept;
static gboolean gst_fanout_sink_query (GstPad *pad, GstObject *parent,
                                       GstQuery *query) noexcept;
static gboolean gst_fanout_src_activate_mode (GstPad *pad, GstObject *parent,
                                              GstPadMode mode,
                                              gboolean active) noexcept;
static GstPadLinkReturn gst_fanout_src_link (GstPad *pad, GstObject *parent,
                                             GstPad *peer) noexcept;
static gboolean gst_fanout_pad_join (GstFanout *self,
                                     GstFanoutPad *fpad) noexcept;
static gboolean gst_fanout_src_event (GstPad *pad, GstObject *parent,
                                      GstEvent *event) noexcept;
static gboolean gst_fanout_src_query (GstPad *pad, GstObject *parent,
                                      GstQuery *query) noexcept;
static void gst_fanout_update_flow (GstFanout *self) noexcept;
static void gst_fanout_src_linked (GstPad *pad, GstPad *peer,
                                   GstFanout *self) noexcept;

static void
gst_fanout_class_init (GstFanoutClass *klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);

  gobject_class->dispose = gst_fanout_dispose;
  gobject_class->finalize = gst_fanout_finalize;
  gobject_class->set_property = gst_fanout_set_property;
  gobject_class->get_property = gst_fanout_get_property;

  /**
   * GstFanout:capacity:
   *
   * Ring size in items (a buffer, a buffer list or a serialized event is one
   * item), rounded up to a power of two when the element goes to PAUSED. 0
   * is refused with an error at that point.
   */
  g_object_class_install_property (
      gobject_class, PROP_CAPACITY,
      g_param_spec_uint (
          "capacity", "Capacity",
          "Ring size in items (rounded up to a power of two; 0 is an error)", 0,
          1u << 26, DEFAULT_PROP_CAPACITY,
          (GParamFlags)(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS
                        | GST_PARAM_MUTABLE_READY)));
  /**
   * GstFanout:max-lag-time:
   *
   * A reader further behind than this in running time is treated as lapped
   * (its lag policy applies; not under `block`). -1: no bound.
   */
  g_object_class_install_property (
      gobject_class, PROP_MAX_LAG_TIME,
      g_param_spec_uint64 (
          "max-lag-time", "Max lag time",
          "A reader further behind than this (ns of running time) is "
          "treated as lapped (-1 = no bound)",
          0, G_MAXUINT64, DEFAULT_PROP_MAX_LAG_TIME,
          (GParamFlags)(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS
                        | GST_PARAM_MUTABLE_PLAYING)));
  /**
   * GstFanout:request-keyframe:
   *
   * Send an upstream force-key-unit event when a reader joins or resyncs
   * and the ring holds no keyframe (at most once per GOP).
   */
  g_object_class_install_property (
      gobject_class, PROP_REQUEST_KEYFRAME,
      g_param_spec_boolean (
          "request-keyframe", "Request keyframe",
          "Ask upstream for a keyframe when a reader joins or resyncs and "
          "the ring holds none",
          DEFAULT_PROP_REQUEST_KEYFRAME,
          (GParamFlags)(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS
                        | GST_PARAM_MUTABLE_PLAYING)));
  /**
   * GstFanout:num-src-pads:
   *
   * The number of source pads (readers).
   */
  g_object_class_install_property (
      gobject_class, PROP_NUM_SRC_PADS,
      g_param_spec_int ("num-src-pads", "Num Src Pads",
                        "The number of source pads", 0, G_MAXINT, 0,
                        (GParamFlags)(G_PARAM_READABLE | G_PARAM_STATIC_STRINGS
                                      | GST_PARAM_MUTABLE_PLAYING)));
  /**
   * GstFanout:allow-not-linked:
   *
   * As tee's: when FALSE, the chain returns GST_FLOW_NOT_LINKED while no
   * source pad is linked to a peer that takes data (a reader whose last
   * push returned NOT_LINKED counts as not linked). The data is still
   * published to the ring. Unlike tee the default is TRUE: a fanout with no
   * reader keeps filling its ring for the readers that join later. Also
   * lets the ALLOCATION query ignore unlinked and failing readers.
   */
  g_object_class_install_property (
      gobject_class, PROP_ALLOW_NOT_LINKED,
      g_param_spec_boolean (
          "allow-not-linked", "Allow not linked",
          "Return GST_FLOW_OK (not NOT_LINKED) while no source pad is "
          "linked; ignore unlinked or failing readers in ALLOCATION queries",
          DEFAULT_PROP_ALLOW_NOT_LINKED,
          (GParamFlags)(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS
                        | GST_PARAM_MUTABLE_PLAYING)));
  /**
   * GstFanout:has-chain:
   *
   * tee's property, for launch lines written for tee: always TRUE (fanout
   * is always pushed to); setting FALSE is refused with a warning.
   */
  g_object_class_install_property (
      gobject_class, PROP_HAS_CHAIN,
      g_param_spec_boolean ("has-chain", "Has Chain",
                            "Always TRUE: fanout can only be pushed to "
                            "(FALSE is refused with a warning)",
                            TRUE,
                            (GParamFlags)(G_PARAM_READWRITE
                                          | G_PARAM_STATIC_STRINGS
                                          | GST_PARAM_MUTABLE_READY)));
  /**
   * GstFanout:pull-mode:
   *
   * tee's property, for launch lines written for tee: always `never`
   * (readers are pushed from the ring); `single` is refused with a
   * warning.
   */
  g_object_class_install_property (
      gobject_class, PROP_PULL_MODE,
      g_param_spec_enum ("pull-mode", "Pull mode",
                         "Always never: fanout's src pads cannot be pulled "
                         "(single is refused with a warning)",
                         GST_TYPE_FANOUT_PULL_MODE, GST_FANOUT_PULL_MODE_NEVER,
                         (GParamFlags)(G_PARAM_READWRITE
                                       | G_PARAM_STATIC_STRINGS
                                       | GST_PARAM_MUTABLE_READY)));
  /**
   * GstFanout:alloc-pad:
   *
   * tee's property, which has no effect in tee either: one of this
   * element's source pads may be set and read back; ALLOCATION queries are
   * aggregated over every linked reader regardless.
   */
  g_object_class_install_property (
      gobject_class, PROP_ALLOC_PAD,
      g_param_spec_object ("alloc-pad", "Allocation Src Pad",
                           "As tee's: has no effect (ALLOCATION queries are "
                           "aggregated over every linked reader)",
                           GST_TYPE_PAD,
                           (GParamFlags)(G_PARAM_READWRITE
                                         | G_PARAM_STATIC_STRINGS
                                         | GST_PARAM_MUTABLE_PLAYING)));
  /**
   * GstFanout:stats:
   *
   * A `application/x-fanout-stats` structure: `capacity`, `written`,
   * `readers`, `sleeps`, `wakeups`, `writer-waits` for the ring,
   * `pool-copies` (buffers of a bounded upstream pool copied rather than
   * held, see the element documentation), and one
   * field per source pad (named as the pad) holding a structure with its
   * `pushed`, `dropped`, `lag-items`, `lag-time`, `lapped`, `not-linked`,
   * `keyframe-requests`, `running` and `ended`.
   */
  g_object_class_install_property (
      gobject_class, PROP_STATS,
      g_param_spec_boxed ("stats", "Statistics",
                          "Ring and per-reader statistics", GST_TYPE_STRUCTURE,
                          (GParamFlags)(G_PARAM_READABLE
                                        | G_PARAM_STATIC_STRINGS
                                        | GST_PARAM_MUTABLE_PLAYING)));

  /**
   * GstFanout::reader-lagged:
   * @fanout: the element
   * @pad: the source pad whose reader was lapped
   * @dropped: the number of ring items it skipped
   *
   * Emitted from the reader's streaming thread when it resyncs after being
   * lapped.
   */
  gst_fanout_signals[SIGNAL_READER_LAGGED] = g_signal_new (
      "reader-lagged", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, nullptr,
      nullptr, nullptr, G_TYPE_NONE, 2, GST_TYPE_PAD, G_TYPE_UINT64);
  /**
   * GstFanout::reader-removed:
   * @fanout: the element
   * @pad: the source pad whose reader ended
   * @reason: "released", "lapped" (lag-policy=disconnect),
   *   "not-negotiated", "error" or "no-memory"
   *
   * Emitted when a reader ends: its pad was released, or it ended by itself
   * (then from its streaming thread; the pad stays until released). A
   * reader that failed on a fatal flow ("not-negotiated", "error") keeps
   * its pad and cursor: it retries at each following keyframe and starts
   * afresh when its pad is linked again.
   */
  gst_fanout_signals[SIGNAL_READER_REMOVED] = g_signal_new (
      "reader-removed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
      nullptr, nullptr, nullptr, G_TYPE_NONE, 2, GST_TYPE_PAD, G_TYPE_STRING);

  gst_element_class_set_static_metadata (
      element_class, "Fan-out", "Generic",
      "Sends one stream to many readers through a lock-free ring, each at "
      "its own pace",
      "the gst-fanout authors");
  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template_with_gtype (
      element_class, &src_template, GST_TYPE_FANOUT_PAD);

  element_class->change_state = GST_DEBUG_FUNCPTR (gst_fanout_change_state);
  element_class->request_new_pad
      = GST_DEBUG_FUNCPTR (gst_fanout_request_new_pad);
  element_class->release_pad = GST_DEBUG_FUNCPTR (gst_fanout_release_pad);

  gst_type_mark_as_plugin_api (GST_TYPE_FANOUT_PAD, (GstPluginAPIFlags)0);
  gst_type_mark_as_plugin_api (GST_TYPE_FANOUT_LAG_POLICY,
                               (GstPluginAPIFlags)0);
  gst_type_mark_as_plugin_api (GST_TYPE_FANOUT_START_POSITION,
                               (GstPluginAPIFlags)0);
  gst_type_mark_as_plugin_api (GST_TYPE_FANOUT_PULL_MODE, (GstPluginAPIFlags)0);
}

static void
gst_fanout_init (GstFanout *self)
{
  self->priv = new _GstFanoutPrivate (GST_ELEMENT_CAST (self));

  self->sinkpad = gst_pad_new_from_static_template (&sink_template, "sink");
  gst_pad_set_chain_function (self->sinkpad,
                              GST_DEBUG_FUNCPTR (gst_fanout_chain));
  gst_pad_set_chain_list_function (self->sinkpad,
                                   GST_DEBUG_FUNCPTR (gst_fanout_chain_list));
  gst_pad_set_event_function (self->sinkpad,
                              GST_DEBUG_FUNCPTR (gst_fanout_sink_event));
  gst_pad_set_query_function (self->sinkpad,
                              GST_DEBUG_FUNCPTR (gst_fanout_sink_query));
  /* caps and accept-caps: the intersection over the linked readers. */
  GST_PAD_SET_PROXY_CAPS (self->sinkpad);
  gst_element_add_pad (GST_ELEMENT_CAST (self), self->sinkpad);
}

static void
gst_fanout_dispose (GObject *object) noexcept
{
  GstElement *element = GST_ELEMENT_CAST (object);

  /* Release every request pad (stops its task, frees its cursor). */
  for (;;) {
    GST_OBJECT_LOCK (element);
    GstPad *pad = element->srcpads
                      ? GST_PAD_CAST (gst_object_ref (element->srcpads->data))
                      : nullptr;
    GST_OBJECT_UNLOCK (element);
    if (!pad)
      break;
    gst_element_release_request_pad (element, pad);
    gst_object_unref (pad);
  }

  G_OBJECT_CLASS (parent_class)->dispose (object);
}

static void
gst_fanout_finalize (GObject *object) noexcept
{
  GstFanout *self = GST_FANOUT (object);

  g_hash_table_unref (self->priv->pad_indexes);
  delete self->priv;
  self->priv = nullptr;

  G_OBJECT_CLASS (parent_class)->finalize (object);
}

/* Source pads, each with a reference, taken under the object lock. */
static GList *
gst_fanout_ref_src_pads (GstFanout *self) noexcept
{
  GST_OBJECT_LOCK (self);
  GList *pads = g_list_copy_deep (GST_ELEMENT_CAST (self)->srcpads,
                                  (GCopyFunc)gst_object_ref, nullptr);
  GST_OBJECT_UNLOCK (self);
  return pads;
}

static void
gst_fanout_set_property (GObject *object, guint prop_id, const GValue *value,
                         GParamSpec *pspec) noexcept
{
  GstFanout *self = GST_FANOUT (object);

  switch (prop_id) {
  case PROP_CAPACITY:
    GST_OBJECT_LOCK (self);
    self->priv->capacity = g_value_get_uint (value);
    GST_OBJECT_UNLOCK (self);
    break;
  case PROP_MAX_LAG_TIME: {
    GstClockTime t = g_value_get_uint64 (value);
    GST_OBJECT_LOCK (self);
    self->priv->max_lag_time = t;
    GST_OBJECT_UNLOCK (self);
    GList *pads = gst_fanout_ref_src_pads (self);
    for (GList *l = pads; l; l = l->next)
      GST_FANOUT_PAD (l->data)->priv->reader.set_max_lag_time (t);
    g_list_free_full (pads, gst_object_unref);
    break;
  }
  case PROP_REQUEST_KEYFRAME:
    GST_OBJECT_LOCK (self);
    self->priv->request_keyframe = g_value_get_boolean (value);
    GST_OBJECT_UNLOCK (self);
    break;
  case PROP_ALLOW_NOT_LINKED:
    GST_OBJECT_LOCK (self);
    self->priv->allow_not_linked = g_value_get_boolean (value);
    GST_OBJECT_UNLOCK (self);
    gst_fanout_update_flow (self);
    break;
  case PROP_HAS_CHAIN:
    if (!g_value_get_boolean (value))
      g_warning ("%s: has-chain=false refused: fanout is always pushed to "
                 "(it has no pull mode); has-chain stays true",
                 GST_OBJECT_NAME (self));
    break;
  case PROP_PULL_MODE:
    if (g_value_get_enum (value) != GST_FANOUT_PULL_MODE_NEVER)
      g_warning ("%s: pull-mode=single refused: fanout's source pads are "
                 "pushed from its ring and cannot be pulled; pull-mode stays "
                 "never",
                 GST_OBJECT_NAME (self));
    break;
  case PROP_ALLOC_PAD: {
    GstPad *pad = GST_PAD_CAST (g_value_get_object (value));
    /* element lock, then the pad's (the usual order): release_pad clears
     * alloc-pad after the pad left the element, so a pad accepted here is
     * either still ours or cleared by that release */
    GST_OBJECT_LOCK (self);
    bool ours = true;
    if (pad) {
      GST_OBJECT_LOCK (pad);
      ours = GST_OBJECT_PARENT (pad) == GST_OBJECT_CAST (self);
      GST_OBJECT_UNLOCK (pad);
    }
    if (ours)
      self->priv->alloc_pad = pad;
    GST_OBJECT_UNLOCK (self);
    if (!ours)
      GST_WARNING_OBJECT (self, "alloc-pad %s is not one of my pads: ignored",
                          GST_OBJECT_NAME (pad));
    break;
  }
  default:
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    break;
  }
}

static GstStructure *
gst_fanout_make_stats (GstFanout *self) noexcept
{
  GST_OBJECT_LOCK (self);
  std::shared_ptr<Ring> ring = self->priv->ring;
  guint capacity = self->priv->capacity;
  GST_OBJECT_UNLOCK (self);

  GstStructure *s = gst_structure_new_empty ("application/x-fanout-stats");
  if (ring) {
    gstfanout::RingStats rs = gstfanout::ring_stats (*ring);
    gst_structure_set (s, "capacity", G_TYPE_UINT64, (guint64)rs.capacity,
                       "written", G_TYPE_UINT64, rs.head, "readers",
                       G_TYPE_UINT, rs.readers, "sleeps", G_TYPE_UINT64,
                       rs.sleeps, "wakeups", G_TYPE_UINT64, rs.wakeups,
                       "writer-waits", G_TYPE_UINT64, rs.writer_waits, nullptr);
    gst_structure_set (s, "pool-copies", G_TYPE_UINT64,
                       self->priv->glue.pool_copies (), nullptr);
  } else {
    gst_structure_set (s, "capacity", G_TYPE_UINT64, (guint64)capacity,
                       "written", G_TYPE_UINT64, (guint64)0, "readers",
                       G_TYPE_UINT, 0u, "sleeps", G_TYPE_UINT64, (guint64)0,
                       "wakeups", G_TYPE_UINT64, (guint64)0, "writer-waits",
                       G_TYPE_UINT64, (guint64)0, "pool-copies", G_TYPE_UINT64,
                       (guint64)0, nullptr);
  }

  GList *pads = gst_fanout_ref_src_pads (self);
  for (GList *l = pads; l; l = l->next) {
    GstFanoutPad *pad = GST_FANOUT_PAD (l->data);
    const gchar *name = GST_OBJECT_NAME (pad);
    GstStructure *ps = gstfanout::reader_stats_to_structure (
        name, pad->priv->reader.stats ());
    gst_structure_set (s, name, GST_TYPE_STRUCTURE, ps, nullptr);
    gst_structure_free (ps);
  }
  g_list_free_full (pads, gst_object_unref);
  return s;
}

static void
gst_fanout_get_property (GObject *object, guint prop_id, GValue *value,
                         GParamSpec *pspec) noexcept
{
  GstFanout *self = GST_FANOUT (object);

  switch (prop_id) {
  case PROP_CAPACITY:
    GST_OBJECT_LOCK (self);
    g_value_set_uint (value, self->priv->capacity);
    GST_OBJECT_UNLOCK (self);
    break;
  case PROP_MAX_LAG_TIME:
    GST_OBJECT_LOCK (self);
    g_value_set_uint64 (value, self->priv->max_lag_time);
    GST_OBJECT_UNLOCK (self);
    break;
  case PROP_REQUEST_KEYFRAME:
    GST_OBJECT_LOCK (self);
    g_value_set_boolean (value, self->priv->request_keyframe);
    GST_OBJECT_UNLOCK (self);
    break;
  case PROP_NUM_SRC_PADS:
    GST_OBJECT_LOCK (self);
    g_value_set_int (value, GST_ELEMENT_CAST (self)->numsrcpads);
    GST_OBJECT_UNLOCK (self);
    break;
  case PROP_STATS:
    g_value_take_boxed (value, gst_fanout_make_stats (self));
    break;
  case PROP_ALLOW_NOT_LINKED:
    GST_OBJECT_LOCK (self);
    g_value_set_boolean (value, self->priv->allow_not_linked);
    GST_OBJECT_UNLOCK (self);
    break;
  case PROP_HAS_CHAIN:
    g_value_set_boolean (value, TRUE);
    break;
  case PROP_PULL_MODE:
    g_value_set_enum (value, GST_FANOUT_PULL_MODE_NEVER);
    break;
  case PROP_ALLOC_PAD:
    GST_OBJECT_LOCK (self);
    g_value_set_object (value, self->priv->alloc_pad);
    GST_OBJECT_UNLOCK (self);
    break;
  default:
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    break;
  }
}

static GstStateChangeReturn
gst_fanout_change_state (GstElement *element,
                         GstStateChange transition) noexcept
{
  GstFanout *self = GST_FANOUT (element);
  GstFanoutPrivate *priv = self->priv;

  switch (transition) {
  case GST_STATE_CHANGE_READY_TO_PAUSED: {
    GST_OBJECT_LOCK (self);
    guint capacity = priv->capacity;
    GST_OBJECT_UNLOCK (self);
    std::string error;
    std::unique_ptr<RingWriter> writer;
    try {
      writer = RingWriter::create (capacity, &error);
    } catch (...) {
      error = "out of memory";
    }
    if (!writer)
      goto no_ring;
    GST_DEBUG_OBJECT (self, "ring of %" G_GSIZE_FORMAT " items (asked %u)",
                      gstfanout::ring_stats (*writer->ring ()).capacity,
                      capacity);
    GST_OBJECT_LOCK (self);
    priv->ring = writer->ring ();
    GST_OBJECT_UNLOCK (self);
    priv->glue.set_writer (writer.get ());
    priv->writer = std::move (writer);
    break;
  no_ring:
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
                       ("Cannot create a ring of capacity %u", capacity),
                       ("%s", error.c_str ()));
    return GST_STATE_CHANGE_FAILURE;
  }
  case GST_STATE_CHANGE_PAUSED_TO_READY:
    /* Unblock a writer that waits for a block reader, so the sink pad can
     * deactivate. */
    priv->glue.set_flushing (true);
    break;
  default:
    break;
  }

  GstStateChangeReturn ret
      = GST_ELEMENT_CLASS (parent_class)->change_state (element, transition);

  if (transition == GST_STATE_CHANGE_PAUSED_TO_READY
      || (transition == GST_STATE_CHANGE_READY_TO_PAUSED
          && ret == GST_STATE_CHANGE_FAILURE)) {
    /* Every pad is inactive now: no reader and no chain call is left. */
    std::shared_ptr<Ring> ring;
    GST_OBJECT_LOCK (self);
    ring = std::move (priv->ring);
    GST_OBJECT_UNLOCK (self);
    priv->glue.set_writer (nullptr);
    priv->writer.reset ();
  }
  return ret;
}

static GstPad *
gst_fanout_request_new_pad (GstElement *element, GstPadTemplate *templ,
                            const gchar *name_templ,
                            const GstCaps *caps) noexcept
{
  GstFanout *self = GST_FANOUT (element);
  GstFanoutPrivate *priv = self->priv;
  guint index = 0;

  GST_OBJECT_LOCK (self);
  if (name_templ && sscanf (name_templ, "src_%u", &index) == 1) {
    if (g_hash_table_contains (priv->pad_indexes, GUINT_TO_POINTER (index)))
      goto duplicate;
    if (index >= priv->next_index)
      priv->next_index = index + 1;
  } else {
    index = priv->next_index;
    while (g_hash_table_contains (priv->pad_indexes, GUINT_TO_POINTER (index)))
      index++;
    priv->next_index = index + 1;
  }
  g_hash_table_add (priv->pad_indexes, GUINT_TO_POINTER (index));
  GstClockTime max_lag;
  max_lag = priv->max_lag_time;
  GST_OBJECT_UNLOCK (self);

  {
    gchar *name = g_strdup_printf ("src_%u", index);
    GstPad *pad = GST_PAD_CAST (g_object_new (GST_TYPE_FANOUT_PAD, "name", name,
                                              "direction", GST_PAD_SRC,
                                              "template", templ, nullptr));
    g_free (name);
    GstFanoutPad *fpad = GST_FANOUT_PAD (pad);
    fpad->priv->fanout = self;
    fpad->priv->reader.set_max_lag_time (max_lag);
    /* As tee keeps pushing to a pad that failed once. */
    fpad->priv->reader.set_retry_after_failure (true);
    /* Emitted by GstPad with no lock held, after the link is complete. */
    g_signal_connect (pad, "linked", G_CALLBACK (gst_fanout_src_linked), self);
    g_signal_connect (pad, "unlinked", G_CALLBACK (gst_fanout_src_linked),
                      self);

    gst_pad_set_activatemode_function (
        pad, GST_DEBUG_FUNCPTR (gst_fanout_src_activate_mode));
    gst_pad_set_event_function (pad, GST_DEBUG_FUNCPTR (gst_fanout_src_event));
    gst_pad_set_link_function (pad, GST_DEBUG_FUNCPTR (gst_fanout_src_link));
    gst_pad_set_query_function (pad, GST_DEBUG_FUNCPTR (gst_fanout_src_query));
    GST_PAD_SET_PROXY_CAPS (pad);

    /* Activate before adding when data may flow, as tee does. The reader
     * joins the ring when the pad is also linked (see
     * gst_fanout_src_link), so properties set on `pad-added` or
     * `child-added` (gst-launch's `f.src_0::start-position=...`) apply. */
    if (GST_PAD_MODE (self->sinkpad) == GST_PAD_MODE_PUSH
        && !gst_pad_set_active (pad, TRUE))
      goto activate_failed;

    /* gst_element_add_pad sinks the floating reference, and on failure
     * drops it: our own reference keeps the pad for the error path. */
    gst_object_ref (pad);
    if (!gst_element_add_pad (element, pad))
      goto add_failed;
    gst_object_unref (pad); /* the element holds it now */

    GST_DEBUG_OBJECT (self, "new reader %" GST_PTR_FORMAT, pad);
    gst_child_proxy_child_added (GST_CHILD_PROXY (self), G_OBJECT (pad),
                                 GST_OBJECT_NAME (pad));
    gst_fanout_update_flow (self);

    return pad;

  activate_failed:
    GST_WARNING_OBJECT (self, "could not activate %" GST_PTR_FORMAT, pad);
    gst_object_unref (gst_object_ref_sink (pad));
    GST_OBJECT_LOCK (self);
    g_hash_table_remove (priv->pad_indexes, GUINT_TO_POINTER (index));
    GST_OBJECT_UNLOCK (self);
    return nullptr;

  add_failed:
    /* Only our reference is left (the element dropped its own). */
    GST_WARNING_OBJECT (self, "could not add %" GST_PTR_FORMAT, pad);
    {
      GstFanoutPadPrivate *fp = fpad->priv;
      gstfanout::GMutexLock l (&fp->join_lock);
      fp->released = true;
    }
    gst_pad_set_active (pad, FALSE);
    gst_object_unref (pad);
    GST_OBJECT_LOCK (self);
    g_hash_table_remove (priv->pad_indexes, GUINT_TO_POINTER (index));
    GST_OBJECT_UNLOCK (self);
    return nullptr;
  }

  /* ERRORS */
duplicate:
  GST_OBJECT_UNLOCK (self);
  GST_WARNING_OBJECT (self, "pad %s already exists: refused", name_templ);
  return nullptr;
}

static void
gst_fanout_release_pad (GstElement *element, GstPad *pad) noexcept
{
  GstFanout *self = GST_FANOUT (element);
  guint index;

  GST_DEBUG_OBJECT (self, "releasing %" GST_PTR_FORMAT, pad);
  gst_object_ref (pad);
  GST_OBJECT_LOCK (self);
  if (sscanf (GST_OBJECT_NAME (pad), "src_%u", &index) == 1)
    g_hash_table_remove (self->priv->pad_indexes, GUINT_TO_POINTER (index));
  GST_OBJECT_UNLOCK (self);

  /* No reader starts on this pad any more, then deactivation stops the
   * reader's task and frees its cursor. */
  {
    GstFanoutPadPrivate *fp = GST_FANOUT_PAD (pad)->priv;
    gstfanout::GMutexLock l (&fp->join_lock);
    fp->released = true;
  }
  gst_pad_set_active (pad, FALSE);
  gchar *name = gst_pad_get_name (pad);
  gst_element_remove_pad (element, pad);
  GST_OBJECT_LOCK (self);
  if (self->priv->alloc_pad == pad) /* after the pad left: see alloc-pad */
    self->priv->alloc_pad = nullptr;
  GST_OBJECT_UNLOCK (self);
  gst_child_proxy_child_removed (GST_CHILD_PROXY (self), G_OBJECT (pad), name);
  g_free (name);
  g_signal_handlers_disconnect_by_data (pad, self);
  gst_fanout_update_flow (self);
  g_signal_emit (
      self, gst_fanout_signals[SIGNAL_READER_REMOVED], 0, pad,
      gstfanout::remove_reason_nick (gstfanout::RemoveReason::Released));
  gst_object_unref (pad);
}

/* ------------------------------------------------------------- sink pad */

/* The chain's result once the ring took the data (@ret): NOT_LINKED or the
 * fatal flow every reader failed on, as gst_fanout_update_flow found it. */
static GstFlowReturn
gst_fanout_chain_result (GstFanout *self, GstFlowReturn ret) noexcept
{
  if (G_UNLIKELY (ret != GST_FLOW_OK))
    return ret;
  /* relaxed: see the member comment */
  ret = GstFlowReturn (self->priv->flow.load (std::memory_order_relaxed));
  if (G_UNLIKELY (ret != GST_FLOW_OK))
    GST_LOG_OBJECT (self, "published; returning %s", gst_flow_get_name (ret));
  return ret;
}

static GstFlowReturn
gst_fanout_chain (GstPad *pad, GstObject *parent, GstBuffer *buffer) noexcept
{
  GstFanout *self = GST_FANOUT (parent);
  return gst_fanout_chain_result (self, self->priv->glue.push_buffer (buffer));
}

static GstFlowReturn
gst_fanout_chain_list (GstPad *pad, GstObject *parent,
                       GstBufferList *list) noexcept
{
  GstFanout *self = GST_FANOUT (parent);
  return gst_fanout_chain_result (self, self->priv->glue.push_list (list));
}

/* Recomputes priv->flow; see its comment. Any thread, no lock held. */
static void
gst_fanout_update_flow (GstFanout *self) noexcept
{
  GstFanoutPrivate *priv = self->priv;
  gstfanout::GMutexLock l (&priv->flow_lock);
  guint n = 0, n_failed = 0;
  bool alive = false;
  GstFlowReturn fatal = GST_FLOW_OK;

  GST_OBJECT_LOCK (self);
  const gboolean allow = priv->allow_not_linked;
  for (GList *p = GST_ELEMENT_CAST (self)->srcpads; p; p = p->next) {
    if (G_UNLIKELY (!GST_IS_FANOUT_PAD (p->data)))
      continue; /* a pad somebody else added */
    GstFanoutPad *fpad = GST_FANOUT_PAD (p->data);
    PadReader &r = fpad->priv->reader;
    n++;
    if (r.failed ()) {
      n_failed++;
      fatal = r.fail_flow ();
    } else if (!alive && !r.ended () && !r.downstream_not_linked ()
               && gst_pad_is_linked (GST_PAD_CAST (fpad))) {
      alive = true;
    }
  }
  GST_OBJECT_UNLOCK (self);

  GstFlowReturn flow;
  if (alive)
    flow = GST_FLOW_OK;
  else if (n > 0 && n_failed == n)
    flow = fatal;
  else
    flow = allow ? GST_FLOW_OK : GST_FLOW_NOT_LINKED;
  GST_DEBUG_OBJECT (self, "%u readers, %u failed, alive %d: chain returns %s",
                    n, n_failed, alive, gst_flow_get_name (flow));
  priv->flow.store (flow, std::memory_order_relaxed); /* see member */
}

static void
gst_fanout_src_linked (GstPad *pad, GstPad *peer, GstFanout *self) noexcept
{
  gst_fanout_update_flow (self);
}

static gboolean
gst_fanout_sink_event (GstPad *pad, GstObject *parent, GstEvent *event) noexcept
{
  GstFanout *self = GST_FANOUT (parent);

  switch (GST_EVENT_TYPE (event)) {
  case GST_EVENT_FLUSH_START: {
    /* 1. the ring flushes: every reader (and a writer waiting for a block
     * reader) wakes; 2. downstream flushes, so no reader stays in a push;
     * 3. the readers' tasks pause. */
    self->priv->glue.handle_event (gst_event_ref (event));
    GList *pads = gst_fanout_ref_src_pads (self);
    for (GList *l = pads; l; l = l->next)
      gst_pad_push_event (GST_PAD_CAST (l->data), gst_event_ref (event));
    for (GList *l = pads; l; l = l->next)
      gst_fanout_pad_pause (GST_FANOUT_PAD (l->data));
    g_list_free_full (pads, gst_object_unref);
    gst_event_unref (event);
    return TRUE;
  }
  case GST_EVENT_FLUSH_STOP: {
    /* The ring forgets everything, then each reader restarts after the
     * newest item. */
    self->priv->glue.handle_event (gst_event_ref (event));
    GList *pads = gst_fanout_ref_src_pads (self);
    for (GList *l = pads; l; l = l->next) {
      gst_pad_push_event (GST_PAD_CAST (l->data), gst_event_ref (event));
      gst_fanout_pad_resume (GST_FANOUT_PAD (l->data));
    }
    g_list_free_full (pads, gst_object_unref);
    gst_event_unref (event);
    return TRUE;
  }
  default:
    break;
  }

  const guint flags = gst_event_type_get_flags (GST_EVENT_TYPE (event));
  if (flags & GST_EVENT_TYPE_SERIALIZED)
    return self->priv->glue.handle_event (event);
  /* Out-of-band downstream events go to every reader at once, as tee. */
  return gst_pad_event_default (pad, parent, event);
}

/* Keeps in @agg the metas that @q (one reader's answer) also has, with
 * equal parameters (GStreamer 1.22 has no way to merge two sets). */
static void
gst_fanout_intersect_metas (GstQuery *agg, GstQuery *q) noexcept
{
  for (guint i = 0; i < gst_query_get_n_allocation_metas (agg);) {
    const GstStructure *ap = nullptr, *qp = nullptr;
    GType api = gst_query_parse_nth_allocation_meta (agg, i, &ap);
    guint qi;
    bool keep = gst_query_find_allocation_meta (q, api, &qi);
    if (keep) {
      gst_query_parse_nth_allocation_meta (q, qi, &qp);
      keep = (!ap && !qp) || (ap && qp && gst_structure_is_equal (ap, qp));
    }
    if (keep)
      i++;
    else
      gst_query_remove_nth_allocation_meta (agg, i);
  }
}

/* The ALLOCATION query, aggregated over the linked readers as tee does:
 * the largest size, the largest min (plus one with several readers), no
 * pool (pool = NULL: a downstream pool is never proposed upstream, readers
 * hold buffers for long), the largest alignment, prefix and padding, and
 * only the metas every reader accepts. An unlinked reader, or one whose
 * query fails, fails the whole query unless allow-not-linked. */
static gboolean
gst_fanout_query_allocation (GstFanout *self, GstQuery *query) noexcept
{
  GST_OBJECT_LOCK (self);
  const gboolean allow = self->priv->allow_not_linked;
  GST_OBJECT_UNLOCK (self);
  GstCaps *caps = nullptr;
  gst_query_parse_allocation (query, &caps, nullptr);

  GstAllocationParams params;
  gst_allocation_params_init (&params);
  guint size = 0, min = 0, n = 0;
  gboolean ok = TRUE;
  GstQuery *agg = gst_query_new_allocation (caps, FALSE); /* the metas */
  GList *pads = gst_fanout_ref_src_pads (self);
  for (GList *l = pads; l && ok; l = l->next) {
    GstPad *pad = GST_PAD_CAST (l->data);
    GstPad *peer = gst_pad_get_peer (pad);
    if (!peer) {
      GST_DEBUG_OBJECT (pad, "not linked: %s", allow ? "ignored" : "failing");
      ok = allow;
      continue;
    }
    GstQuery *q = gst_query_new_allocation (caps, FALSE);
    const gboolean res = gst_pad_query (peer, q);
    gst_object_unref (peer);
    if (!res) {
      GST_DEBUG_OBJECT (pad, "allocation query failed: %s",
                        allow ? "ignored" : "failing");
      gst_query_unref (q);
      ok = allow;
      continue;
    }
    for (guint i = 0; i < gst_query_get_n_allocation_params (q); i++) {
      GstAllocationParams p;
      gst_query_parse_nth_allocation_param (q, i, nullptr, &p);
      params.align = MAX (params.align, p.align);
      params.prefix = MAX (params.prefix, p.prefix);
      params.padding = MAX (params.padding, p.padding);
    }
    if (gst_query_get_n_allocation_pools (q) > 0) {
      guint psize, pmin;
      gst_query_parse_nth_allocation_pool (q, 0, nullptr, &psize, &pmin,
                                           nullptr);
      size = MAX (size, psize);
      min = MAX (min, pmin);
    }
    if (n == 0) {
      for (guint i = 0; i < gst_query_get_n_allocation_metas (q); i++) {
        const GstStructure *mp = nullptr;
        GType api = gst_query_parse_nth_allocation_meta (q, i, &mp);
        gst_query_add_allocation_meta (agg, api, mp);
      }
    } else {
      gst_fanout_intersect_metas (agg, q);
    }
    n++;
    gst_query_unref (q);
  }
  g_list_free_full (pads, gst_object_unref);

  if (ok) {
    if (n > 1)
      min++; /* as tee: one more, so no reader's thread starves */
    if (params.align || params.prefix || params.padding)
      gst_query_add_allocation_param (query, nullptr, &params);
    if (size)
      gst_query_add_allocation_pool (query, nullptr, size, min, 0);
    for (guint i = 0; i < gst_query_get_n_allocation_metas (agg); i++) {
      const GstStructure *mp = nullptr;
      GType api = gst_query_parse_nth_allocation_meta (agg, i, &mp);
      gst_query_add_allocation_meta (query, api, mp);
    }
    GST_DEBUG_OBJECT (
        self,
        "allocation over %u readers: size %u min %u align %" G_GSIZE_FORMAT
        " prefix %" G_GSIZE_FORMAT " padding %" G_GSIZE_FORMAT ", %u metas",
        n, size, min, params.align, params.prefix, params.padding,
        gst_query_get_n_allocation_metas (agg));
  }
  gst_query_unref (agg);
  return ok;
}

static gboolean
gst_fanout_sink_query (GstPad *pad, GstObject *parent, GstQuery *query) noexcept
{
  switch (GST_QUERY_TYPE (query)) {
  case GST_QUERY_ALLOCATION:
    return gst_fanout_query_allocation (GST_FANOUT (parent), query);
  default:
    /* caps, accept-caps (proxied to the readers' peers), the rest. */
    return gst_pad_query_default (pad, parent, query);
  }
}

/* -------------------------------------------------------------- src pads */

static gboolean
gst_fanout_src_activate_mode (GstPad *pad, GstObject *parent, GstPadMode mode,
                              gboolean active) noexcept
{
  GstFanoutPad *fpad = GST_FANOUT_PAD (pad);
  GstFanout *self = fpad->priv->fanout;

  if (mode != GST_PAD_MODE_PUSH || !self)
    return FALSE;

  gstfanout::GMutexLock l (&fpad->priv->join_lock);
  if (!active) {
    gst_fanout_pad_stop (fpad);
    return TRUE;
  }
  if (fpad->priv->released || !gst_pad_is_linked (pad)
      || fpad->priv->reader.running ())
    return TRUE; /* joins when linked (gst_fanout_src_link) */
  return gst_fanout_pad_join (self, fpad);
}

static GstPadLinkReturn
gst_fanout_src_link (GstPad *pad, GstObject *parent, GstPad *peer) noexcept
{
  GstFanoutPad *fpad = GST_FANOUT_PAD (pad);
  GstFanout *self = fpad->priv->fanout;

  /* The peer is set already. Not the stream lock: a running reader holds
   * it while it sleeps for data. join_lock orders this against activation
   * (which clears FLUSHING and sets the mode before calling us) and
   * deactivation (which sets FLUSHING first). */
  gstfanout::GMutexLock l (&fpad->priv->join_lock);
  if (!self || GST_PAD_MODE (pad) != GST_PAD_MODE_PUSH
      || GST_PAD_IS_FLUSHING (pad) || fpad->priv->released)
    return GST_PAD_LINK_OK;
  /* A reader that failed (or was disconnected) starts afresh on its new
   * peer, at its start position. */
  if (fpad->priv->reader.failed () || fpad->priv->reader.ended ()) {
    GST_DEBUG_OBJECT (pad, "re-linked after it ended: rejoining");
    gst_fanout_pad_stop (fpad);
  }
  if (!fpad->priv->reader.running ())
    gst_fanout_pad_join (self, fpad);
  return GST_PAD_LINK_OK;
}

/* Joins the ring at the pad's start position and starts the pad's task:
 * when the pad is active and linked, whichever comes last. join_lock held. */
static gboolean
gst_fanout_pad_join (GstFanout *self, GstFanoutPad *fpad) noexcept
{
  GstPad *pad = GST_PAD_CAST (fpad);

  GST_OBJECT_LOCK (self);
  std::shared_ptr<Ring> ring = self->priv->ring;
  GstClockTime max_lag = self->priv->max_lag_time;
  GST_OBJECT_UNLOCK (self);
  if (!ring)
    goto no_ring;
  fpad->priv->reader.set_max_lag_time (max_lag);
  if (!fpad->priv->reader.join (ring))
    goto no_reader;
  if (!gst_pad_start_task (pad, gst_fanout_pad_loop, fpad, nullptr)) {
    fpad->priv->reader.leave ();
    goto no_reader;
  }
  return TRUE;

  /* ERRORS */
no_ring:
  GST_DEBUG_OBJECT (pad, "element not started: no ring to read");
  return FALSE;
no_reader:
  GST_ELEMENT_ERROR (self, RESOURCE, FAILED,
                     ("Could not start reader %s", GST_OBJECT_NAME (pad)),
                     ("out of memory, or the task did not start"));
  return FALSE;
}

static gboolean
gst_fanout_src_event (GstPad *pad, GstObject *parent, GstEvent *event) noexcept
{
  GstFanout *self = GST_FANOUT_PAD (pad)->priv->fanout;

  if (self && GST_EVENT_TYPE (event) == GST_EVENT_CUSTOM_UPSTREAM
      && gst_video_event_is_force_key_unit (event)) {
    /* Several readers asking within one GOP: one request upstream. */
    if (!self->priv->glue.claim_keyframe_request ()) {
      GST_DEBUG_OBJECT (
          pad, "keyframe already requested: dropping %" GST_PTR_FORMAT, event);
      gst_event_unref (event);
      return TRUE;
    }
    return gst_pad_push_event (self->sinkpad, event);
  }
  return gst_pad_event_default (pad, parent, event);
}

static gboolean
gst_fanout_src_query (GstPad *pad, GstObject *parent, GstQuery *query) noexcept
{
  GstFanout *self = GST_FANOUT_PAD (pad)->priv->fanout;

  switch (GST_QUERY_TYPE (query)) {
  case GST_QUERY_SCHEDULING:
    gst_query_set_scheduling (query, GST_SCHEDULING_FLAG_SEQUENTIAL, 1, -1, 0);
    gst_query_add_scheduling_mode (query, GST_PAD_MODE_PUSH);
    return TRUE;
  case GST_QUERY_LATENCY: {
    if (!self || !gst_pad_peer_query (self->sinkpad, query))
      return FALSE;
    gboolean live;
    GstClockTime min, max;
    gst_query_parse_latency (query, &live, &min, &max);
    /* A reader adds no latency when it keeps up, and may buffer up to the
     * ring (or max-lag-time) when it does not. */
    GST_OBJECT_LOCK (self);
    GstClockTime max_lag = self->priv->max_lag_time;
    GST_OBJECT_UNLOCK (self);
    if (GST_CLOCK_TIME_IS_VALID (max) && GST_CLOCK_TIME_IS_VALID (max_lag))
      max += max_lag;
    else
      max = GST_CLOCK_TIME_NONE;
    gst_query_set_latency (query, live, min, max);
    return TRUE;
  }
  default:
    return gst_pad_query_default (pad, parent, query);
  }
}

/* ------------------------------------------------------------ pad hooks */

void
_GstFanoutPadPrivate::lagged (PadReader &r, guint64 dropped) noexcept
{
  g_signal_emit (fanout, gst_fanout_signals[SIGNAL_READER_LAGGED], 0, r.pad (),
                 dropped);
}

void
_GstFanoutPadPrivate::need_keyframe (PadReader &r) noexcept
{
  GST_OBJECT_LOCK (fanout);
  gboolean want = fanout->priv->request_keyframe;
  GST_OBJECT_UNLOCK (fanout);
  /* Nothing published yet: the first keyframe is on its way anyway. */
  if (!want || fanout->priv->glue.published () == 0
      || !fanout->priv->glue.claim_keyframe_request ())
    return;
  GST_DEBUG_OBJECT (r.pad (), "no keyframe in the ring: asking upstream");
  gst_pad_push_event (fanout->sinkpad,
                      gst_video_event_new_upstream_force_key_unit (
                          GST_CLOCK_TIME_NONE, TRUE, 0));
}

void
_GstFanoutPadPrivate::removed (PadReader &r, gstfanout::RemoveReason reason,
                               GstFlowReturn flow) noexcept
{
  GST_DEBUG_OBJECT (r.pad (), "reader ended: %s (%s)",
                    gstfanout::remove_reason_nick (reason),
                    gst_flow_get_name (flow));
  g_signal_emit (fanout, gst_fanout_signals[SIGNAL_READER_REMOVED], 0, r.pad (),
                 gstfanout::remove_reason_nick (reason));
}

void
_GstFanoutPadPrivate::state_changed (PadReader &r) noexcept
{
  gst_fanout_update_flow (fanout);
}

/* ----------------------------------------------------------- child proxy */

static GObject *
gst_fanout_child_proxy_get_child_by_index (GstChildProxy *proxy,
                                           guint index) noexcept
{
  GstElement *element = GST_ELEMENT_CAST (proxy);
  GST_OBJECT_LOCK (element);
  GObject *obj = G_OBJECT (g_list_nth_data (element->srcpads, index));
  if (obj)
    g_object_ref (obj);
  GST_OBJECT_UNLOCK (element);
  return obj;
}

static guint
gst_fanout_child_proxy_get_children_count (GstChildProxy *proxy) noexcept
{
  GstElement *element = GST_ELEMENT_CAST (proxy);
  GST_OBJECT_LOCK (element);
  guint count = element->numsrcpads;
  GST_OBJECT_UNLOCK (element);
  return count;
}

static void
gst_fanout_child_proxy_init (gpointer g_iface, gpointer iface_data) noexcept
{
  GstChildProxyInterface *iface = (GstChildProxyInterface *)g_iface;

  iface->get_child_by_index = gst_fanout_child_proxy_get_child_by_index;
  iface->get_children_count = gst_fanout_child_proxy_get_children_count;
}
