/* gst-fanout
 * Copyright (C) 2026 the gst-fanout authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2.1 of the License, or (at your option) any later version.
 */

/* fanoutpaybin: "PAYLOADER ! payloadbatch" in one bin that gst-rtsp-server
 * takes as a media's pay0, so that each frame leaves the payloader as one
 * buffer list instead of one push per NAL unit (x264 in zerolatency mode
 * cuts a frame into slices: 2-3 pushes per frame).
 *
 * Why it matters: gst-rtsp-server sends TCP-interleaved data from a send
 * thread fed through an appsink that holds one sample; every push is a
 * hand-off between two threads. One push per frame is the fewest hand-offs
 * there can be. UDP clients get one sendmmsg per frame from multiudpsink.
 *
 * gst-rtsp-server reads and writes a few properties of its payloader
 * ("pt", "mtu", and "stats" for RTP-Info). Given a bin as pay0 it talks to
 * the child named "pay" when that one is a payloader, else to the first
 * payloader inside: the bin's "pay" is a face without pads (FanoutPayFace)
 * that forwards those properties to the bin, and the bin to its payloader.
 * The rest of the payloader is set in the description.
 *
 * RTP-Info: gst-rtsp-server 1.22 takes its seq from "stats"'s
 * "seqnum-offset" and its rtptime from "timestamp" when its sinks hold no
 * sample (the server turns their last sample off). The bin's "stats" puts
 * there the packet a joining client gets first, so that its jitter buffer
 * has no gap to wait out (rtspsrc would wait its whole latency): the next
 * packet, or with rtpinfo-at-keyframe=true (isolated mounts, whose clients
 * each start on the newest keyframe: fanoutsender.h) that keyframe's first
 * packet. */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "fanoutpaybin.h"

#include <gst/gst.h>
#include <gst/rtp/gstrtpbuffer.h>

GST_DEBUG_CATEGORY_STATIC (fanout_pay_bin_debug);
#define GST_CAT_DEFAULT fanout_pay_bin_debug

struct FanoutPayBin {
  GstBin parent;
  GstElement *pay;   /* owned by the bin */
  GstElement *batch; /* owned by the bin */
  GstPad *sink, *src;
  gboolean in_key; /* the frame in the payloader is a keyframe (streaming) */
  /* Under the object lock. */
  gboolean rtpinfo_at_key;
  gboolean watching_keys; /* the probes below are installed */
  gboolean have_key;      /* the newest keyframe's first packet: */
  guint key_seq, key_ts;
};

struct FanoutPayBinClass {
  GstBinClass parent_class;
};

/* The bin's child "pay": what gst-rtsp-server takes for the payloader. */
struct FanoutPayFace {
  GstElement parent;
};

struct FanoutPayFaceClass {
  GstElementClass parent_class;
};

enum {
  FACE_PROP_0,
  FACE_PROP_PT,
  FACE_PROP_MTU,
  FACE_PROP_STATS,
  FACE_PROP_SEQNUM,
  FACE_PROP_TIMESTAMP,
  FACE_PROP_SEQNUM_OFFSET
};

static GType fanout_pay_face_get_type (void);
G_DEFINE_TYPE (FanoutPayFace, fanout_pay_face, GST_TYPE_ELEMENT)

static void
fanout_pay_face_init (FanoutPayFace *)
{
}

/* The payloader (FACE_PROP_SEQNUM...) or the bin (the others) of @face, a
 * new reference, or nullptr. */
static GObject *
fanout_pay_face_target (GObject *face, guint prop_id)
{
  GstObject *bin = gst_object_get_parent (GST_OBJECT (face));
  if (!bin || prop_id < FACE_PROP_SEQNUM)
    return G_OBJECT (bin);
  GstElement *pay = gst_bin_get_by_name (GST_BIN (bin), "payloader");
  gst_object_unref (bin);
  return G_OBJECT (pay);
}

static void
fanout_pay_face_set_property (GObject *object, guint prop_id,
                              const GValue *value, GParamSpec *pspec)
{
  GObject *t = fanout_pay_face_target (object, prop_id);
  if (t) {
    g_object_set_property (t, g_param_spec_get_name (pspec), value);
    g_object_unref (t);
  }
}

static void
fanout_pay_face_get_property (GObject *object, guint prop_id, GValue *value,
                              GParamSpec *pspec)
{
  GObject *t = fanout_pay_face_target (object, prop_id);
  if (t) {
    g_object_get_property (t, g_param_spec_get_name (pspec), value);
    g_object_unref (t);
  }
}

/* "pt", "mtu" and "stats": what gst-rtsp-server reads of a payloader, on
 * the bin and on its face alike. */
static void
install_payloader_props (GObjectClass *klass, guint pt, guint mtu, guint stats)
{
  const auto rw = (GParamFlags)(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  const auto ro = (GParamFlags)(G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_property (
      klass, pt,
      g_param_spec_uint ("pt", "Payload type", "The payloader's payload type",
                         0, 0x7f, 96, ro));
  g_object_class_install_property (klass, mtu,
                                   g_param_spec_uint ("mtu", "MTU",
                                                      "The payloader's MTU", 28,
                                                      G_MAXUINT, 1400, rw));
  g_object_class_install_property (
      klass, stats,
      g_param_spec_boxed ("stats", "Statistics",
                          "The payloader's statistics, seqnum-offset and "
                          "timestamp naming the packet a joining client "
                          "gets first",
                          GST_TYPE_STRUCTURE, ro));
}

static void
fanout_pay_face_class_init (FanoutPayFaceClass *klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  gobject_class->set_property = fanout_pay_face_set_property;
  gobject_class->get_property = fanout_pay_face_get_property;
  const auto rw = (GParamFlags)(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  const auto ro = (GParamFlags)(G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  install_payloader_props (gobject_class, FACE_PROP_PT, FACE_PROP_MTU,
                           FACE_PROP_STATS);
  g_object_class_install_property (
      gobject_class, FACE_PROP_SEQNUM,
      g_param_spec_uint ("seqnum", "Sequence number", "The last one sent", 0,
                         G_MAXUINT16, 0, ro));
  g_object_class_install_property (gobject_class, FACE_PROP_TIMESTAMP,
                                   g_param_spec_uint ("timestamp", "Timestamp",
                                                      "The last one sent", 0,
                                                      G_MAXUINT, 0, ro));
  g_object_class_install_property (
      gobject_class, FACE_PROP_SEQNUM_OFFSET,
      g_param_spec_int ("seqnum-offset", "Sequence number offset",
                        "The payloader's first sequence number (-1: random)",
                        -1, G_MAXUINT16, -1, rw));
  /* gst-rtsp-server recognises a payloader by its class. */
  gst_element_class_set_static_metadata (
      GST_ELEMENT_CLASS (klass), "Batching RTP payloader face",
      "Codec/Payloader/Network/RTP",
      "The properties of a fanoutpaybin, for gst-rtsp-server",
      "the gst-fanout authors");
}

enum {
  PROP_0,
  PROP_PAYLOADER,
  PROP_PT,
  PROP_MTU,
  PROP_STATS,
  PROP_RTPINFO_AT_KEY
};

static GType fanout_pay_bin_get_type (void);
G_DEFINE_TYPE (FanoutPayBin, fanout_pay_bin, GST_TYPE_BIN)

static void
fanout_pay_bin_init (FanoutPayBin *self)
{
  GstPadTemplate *st = gst_element_class_get_pad_template (
      GST_ELEMENT_GET_CLASS (self), "sink");
  GstPadTemplate *rt = gst_element_class_get_pad_template (
      GST_ELEMENT_GET_CLASS (self), "src");
  self->sink = gst_ghost_pad_new_no_target_from_template ("sink", st);
  self->src = gst_ghost_pad_new_no_target_from_template ("src", rt);
  gst_element_add_pad (GST_ELEMENT (self), self->sink);
  gst_element_add_pad (GST_ELEMENT (self), self->src);
  gst_bin_add (GST_BIN (self),
               GST_ELEMENT (g_object_new (fanout_pay_face_get_type (), "name",
                                          "pay", nullptr)));
  /* Batches end at the RTP marker bit (the end of a frame); the bound
   * only caps a list (1024 packets: a frame of about 1.4 MB). */
  self->batch = gst_element_factory_make ("payloadbatch", "batch");
  if (self->batch) {
    g_object_set (self->batch, "max-buffers", 1024u, "max-bytes", 0u, nullptr);
    gst_bin_add (GST_BIN (self), self->batch);
  }
}

/* @desc: one payloader element, e.g. "rtph264pay pt=96". */
static GstPadProbeReturn
fanout_pay_bin_in_probe (GstPad *, GstPadProbeInfo *info, gpointer data)
{
  auto *self = static_cast<FanoutPayBin *> (data);
  self->in_key = !GST_BUFFER_FLAG_IS_SET (GST_PAD_PROBE_INFO_BUFFER (info),
                                          GST_BUFFER_FLAG_DELTA_UNIT);
  return GST_PAD_PROBE_OK;
}

/* The first list out of a keyframe: remember its first packet. */
static GstPadProbeReturn
fanout_pay_bin_out_probe (GstPad *, GstPadProbeInfo *info, gpointer data)
{
  auto *self = static_cast<FanoutPayBin *> (data);
  if (!self->in_key)
    return GST_PAD_PROBE_OK;
  self->in_key = FALSE;
  GstBuffer *first = nullptr;
  if (info->type & GST_PAD_PROBE_TYPE_BUFFER_LIST) {
    GstBufferList *list = GST_PAD_PROBE_INFO_BUFFER_LIST (info);
    if (gst_buffer_list_length (list) > 0)
      first = gst_buffer_list_get (list, 0);
  } else {
    first = GST_PAD_PROBE_INFO_BUFFER (info);
  }
  GstRTPBuffer rtp = GST_RTP_BUFFER_INIT;
  if (first && gst_rtp_buffer_map (first, GST_MAP_READ, &rtp)) {
    guint seq = gst_rtp_buffer_get_seq (&rtp);
    guint ts = gst_rtp_buffer_get_timestamp (&rtp);
    gst_rtp_buffer_unmap (&rtp);
    GST_OBJECT_LOCK (self);
    self->have_key = TRUE;
    self->key_seq = seq;
    self->key_ts = ts;
    GST_OBJECT_UNLOCK (self);
  }
  return GST_PAD_PROBE_OK;
}

/* With rtpinfo-at-keyframe and a payloader: follow keyframes through it
 * (two probes per frame, on the streaming thread, only where stats need
 * them). Once. */
static void
fanout_pay_bin_watch_keys (FanoutPayBin *self)
{
  GST_OBJECT_LOCK (self);
  bool watch = self->pay && self->rtpinfo_at_key && !self->watching_keys;
  self->watching_keys = self->watching_keys || watch;
  GST_OBJECT_UNLOCK (self);
  if (!watch)
    return;
  GstPad *psink = gst_element_get_static_pad (self->pay, "sink");
  GstPad *bsrc = gst_element_get_static_pad (self->batch, "src");
  gst_pad_add_probe (psink, GST_PAD_PROBE_TYPE_BUFFER, fanout_pay_bin_in_probe,
                     self, nullptr);
  gst_pad_add_probe (bsrc,
                     (GstPadProbeType)(GST_PAD_PROBE_TYPE_BUFFER
                                       | GST_PAD_PROBE_TYPE_BUFFER_LIST),
                     fanout_pay_bin_out_probe, self, nullptr);
  gst_object_unref (psink);
  gst_object_unref (bsrc);
}

static void
fanout_pay_bin_set_payloader (FanoutPayBin *self, const gchar *desc)
{
  if (self->pay || !desc || !self->batch)
    return;
  GError *err = nullptr;
  GstElement *pay = gst_parse_launch_full (desc, nullptr,
                                           GST_PARSE_FLAG_FATAL_ERRORS, &err);
  if (!pay || GST_IS_BIN (pay)) {
    GST_ERROR_OBJECT (self, "bad payloader '%s': %s", desc,
                      err ? err->message : "not one element");
    g_clear_error (&err);
    if (pay)
      gst_object_unref (pay);
    return;
  }
  gst_element_set_name (pay, "payloader");
  gst_bin_add (GST_BIN (self), pay);
  self->pay = pay;
  GstPad *psink = gst_element_get_static_pad (pay, "sink");
  GstPad *bsrc = gst_element_get_static_pad (self->batch, "src");
  gst_ghost_pad_set_target (GST_GHOST_PAD (self->sink), psink);
  gst_ghost_pad_set_target (GST_GHOST_PAD (self->src), bsrc);
  gst_object_unref (psink);
  gst_object_unref (bsrc);
  gst_element_link (pay, self->batch);
  fanout_pay_bin_watch_keys (self);
}

static void
fanout_pay_bin_set_property (GObject *object, guint prop_id,
                             const GValue *value, GParamSpec *pspec)
{
  auto *self = reinterpret_cast<FanoutPayBin *> (object);
  switch (prop_id) {
  case PROP_PAYLOADER:
    fanout_pay_bin_set_payloader (self, g_value_get_string (value));
    break;
  case PROP_MTU:
    if (self->pay)
      g_object_set_property (G_OBJECT (self->pay), "mtu", value);
    break;
  case PROP_RTPINFO_AT_KEY:
    GST_OBJECT_LOCK (self);
    self->rtpinfo_at_key = g_value_get_boolean (value);
    GST_OBJECT_UNLOCK (self);
    fanout_pay_bin_watch_keys (self);
    break;
  default:
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    break;
  }
}

static void
fanout_pay_bin_get_property (GObject *object, guint prop_id, GValue *value,
                             GParamSpec *pspec)
{
  auto *self = reinterpret_cast<FanoutPayBin *> (object);
  switch (prop_id) {
  case PROP_PAYLOADER:
    g_value_set_string (value, nullptr);
    break;
  case PROP_PT:
  case PROP_MTU:
    if (self->pay)
      g_object_get_property (G_OBJECT (self->pay),
                             g_param_spec_get_name (pspec), value);
    break;
  case PROP_STATS: {
    if (!self->pay)
      break;
    GstStructure *st = nullptr;
    g_object_get (self->pay, "stats", &st, nullptr);
    guint seq = 0;
    GST_OBJECT_LOCK (self);
    if (st && self->rtpinfo_at_key && self->have_key) {
      /* No running time: RTP-Info keeps this timestamp as it is. */
      gst_structure_set (st, "seqnum-offset", G_TYPE_UINT, self->key_seq,
                         "timestamp", G_TYPE_UINT, self->key_ts, "running-time",
                         G_TYPE_UINT64, GST_CLOCK_TIME_NONE, nullptr);
    } else if (st && gst_structure_get_uint (st, "seqnum", &seq)) {
      /* The next packet: a client that joins gets that one first. */
      gst_structure_set (st, "seqnum-offset", G_TYPE_UINT, (seq + 1) & 0xffff,
                         nullptr);
    }
    GST_OBJECT_UNLOCK (self);
    g_value_take_boxed (value, st);
    break;
  }
  case PROP_RTPINFO_AT_KEY:
    GST_OBJECT_LOCK (self);
    g_value_set_boolean (value, self->rtpinfo_at_key);
    GST_OBJECT_UNLOCK (self);
    break;
  default:
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    break;
  }
}

static void
fanout_pay_bin_class_init (FanoutPayBinClass *klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  gobject_class->set_property = fanout_pay_bin_set_property;
  gobject_class->get_property = fanout_pay_bin_get_property;
  const auto rw = (GParamFlags)(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_property (
      gobject_class, PROP_PAYLOADER,
      g_param_spec_string (
          "payloader", "Payloader", "The payloader, as a launch line element",
          nullptr, (GParamFlags)(G_PARAM_WRITABLE | G_PARAM_STATIC_STRINGS)));
  install_payloader_props (gobject_class, PROP_PT, PROP_MTU, PROP_STATS);
  g_object_class_install_property (
      gobject_class, PROP_RTPINFO_AT_KEY,
      g_param_spec_boolean ("rtpinfo-at-keyframe", "RTP-Info at keyframe",
                            "Make stats name the newest keyframe's first "
                            "packet instead of the next one",
                            FALSE, rw));
  static GstStaticPadTemplate sink_t = GST_STATIC_PAD_TEMPLATE (
      "sink", GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS_ANY);
  static GstStaticPadTemplate src_t
      = GST_STATIC_PAD_TEMPLATE ("src", GST_PAD_SRC, GST_PAD_ALWAYS,
                                 GST_STATIC_CAPS ("application/x-rtp"));
  gst_element_class_add_static_pad_template (element_class, &sink_t);
  gst_element_class_add_static_pad_template (element_class, &src_t);
  gst_element_class_set_static_metadata (
      element_class, "Batching RTP payloader", "Codec/Payloader/Network/RTP",
      "A payloader followed by payloadbatch: one buffer list per frame",
      "the gst-fanout authors");
}

namespace gstfanout
{

bool
pay_bin_register () noexcept
{
  GST_DEBUG_CATEGORY_INIT (fanout_pay_bin_debug, "fanoutpaybin", 0,
                           "fanout-rtsp-server batching payloader bin");
  return gst_element_register (nullptr, "fanoutpaybin", GST_RANK_NONE,
                               fanout_pay_bin_get_type ());
}

} // namespace gstfanout
