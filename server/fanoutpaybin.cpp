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
 * ("pt", "mtu", and "stats" for RTP-Info): the bin forwards those to the
 * payloader inside. The rest of the payloader is set in the description. */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "fanoutserverprivate.h"

#include <gst/gst.h>

GST_DEBUG_CATEGORY_STATIC (fanout_pay_bin_debug);
#define GST_CAT_DEFAULT fanout_pay_bin_debug

struct FanoutPayBin {
  GstBin parent;
  GstElement *pay;   /* owned by the bin */
  GstElement *batch; /* owned by the bin */
  GstPad *sink, *src;
};

struct FanoutPayBinClass {
  GstBinClass parent_class;
};

enum { PROP_0, PROP_PAYLOADER, PROP_PT, PROP_MTU, PROP_STATS };

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
  /* Batches end at the RTP marker bit (the end of a frame); the bound
   * only caps a list (1024 packets: a frame of about 1.4 MB). */
  self->batch = gst_element_factory_make ("payloadbatch", "batch");
  if (self->batch) {
    g_object_set (self->batch, "max-buffers", 1024u, "max-bytes", 0u, nullptr);
    gst_bin_add (GST_BIN (self), self->batch);
  }
}

/* @desc: one payloader element, e.g. "rtph264pay pt=96". */
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
  gst_bin_add (GST_BIN (self), pay);
  self->pay = pay;
  GstPad *psink = gst_element_get_static_pad (pay, "sink");
  GstPad *bsrc = gst_element_get_static_pad (self->batch, "src");
  gst_ghost_pad_set_target (GST_GHOST_PAD (self->sink), psink);
  gst_ghost_pad_set_target (GST_GHOST_PAD (self->src), bsrc);
  gst_object_unref (psink);
  gst_object_unref (bsrc);
  gst_element_link (pay, self->batch);
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
  case PROP_STATS:
    if (self->pay)
      g_object_get_property (G_OBJECT (self->pay),
                             g_param_spec_get_name (pspec), value);
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
  const auto ro = (GParamFlags)(G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_property (
      gobject_class, PROP_PAYLOADER,
      g_param_spec_string (
          "payloader", "Payloader", "The payloader, as a launch line element",
          nullptr, (GParamFlags)(G_PARAM_WRITABLE | G_PARAM_STATIC_STRINGS)));
  g_object_class_install_property (
      gobject_class, PROP_PT,
      g_param_spec_uint ("pt", "Payload type", "The payloader's payload type",
                         0, 0x7f, 96, ro));
  g_object_class_install_property (gobject_class, PROP_MTU,
                                   g_param_spec_uint ("mtu", "MTU",
                                                      "The payloader's MTU", 28,
                                                      G_MAXUINT, 1400, rw));
  g_object_class_install_property (
      gobject_class, PROP_STATS,
      g_param_spec_boxed ("stats", "Statistics", "The payloader's statistics",
                          GST_TYPE_STRUCTURE, ro));
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
