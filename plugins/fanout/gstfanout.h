/* gst-fanout
 * Copyright (C) 2026 the gst-fanout authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2.1 of the License, or (at your option) any later version.
 */

#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

#define GST_TYPE_FANOUT_PAD (gst_fanout_pad_get_type ())
#define GST_FANOUT_PAD(obj)                                                    \
  (G_TYPE_CHECK_INSTANCE_CAST ((obj), GST_TYPE_FANOUT_PAD, GstFanoutPad))
#define GST_IS_FANOUT_PAD(obj)                                                 \
  (G_TYPE_CHECK_INSTANCE_TYPE ((obj), GST_TYPE_FANOUT_PAD))
#define GST_FANOUT_PAD_CAST(obj) ((GstFanoutPad *)(obj))

typedef struct _GstFanoutPad GstFanoutPad;
typedef struct _GstFanoutPadClass GstFanoutPadClass;
typedef struct _GstFanoutPadPrivate GstFanoutPadPrivate;

/**
 * GstFanoutPad:
 *
 * A `fanout` source pad: one reader of the ring, with its own streaming
 * task, lag policy, start position and statistics.
 */
struct _GstFanoutPad {
  GstPad parent;

  /*< private >*/
  GstFanoutPadPrivate *priv;
};

struct _GstFanoutPadClass {
  GstPadClass parent_class;
};

G_GNUC_INTERNAL GType gst_fanout_pad_get_type (void);

#define GST_TYPE_FANOUT (gst_fanout_get_type ())
#define GST_FANOUT(obj)                                                        \
  (G_TYPE_CHECK_INSTANCE_CAST ((obj), GST_TYPE_FANOUT, GstFanout))
#define GST_IS_FANOUT(obj) (G_TYPE_CHECK_INSTANCE_TYPE ((obj), GST_TYPE_FANOUT))
#define GST_FANOUT_CAST(obj) ((GstFanout *)(obj))

typedef struct _GstFanout GstFanout;
typedef struct _GstFanoutClass GstFanoutClass;
typedef struct _GstFanoutPrivate GstFanoutPrivate;

/**
 * GstFanout:
 *
 * Opaque #GstFanout data structure.
 */
struct _GstFanout {
  GstElement element;

  /*< private >*/
  GstPad *sinkpad;
  GstFanoutPrivate *priv;
};

struct _GstFanoutClass {
  GstElementClass parent_class;
};

G_GNUC_INTERNAL GType gst_fanout_get_type (void);

GST_ELEMENT_REGISTER_DECLARE (fanout);

G_END_DECLS
