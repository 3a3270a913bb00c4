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

#define GST_TYPE_FANOUT_SINK (gst_fanout_sink_get_type ())
#define GST_FANOUT_SINK(obj)                                                   \
  (G_TYPE_CHECK_INSTANCE_CAST ((obj), GST_TYPE_FANOUT_SINK, GstFanoutSink))
#define GST_IS_FANOUT_SINK(obj)                                                \
  (G_TYPE_CHECK_INSTANCE_TYPE ((obj), GST_TYPE_FANOUT_SINK))
#define GST_FANOUT_SINK_CAST(obj) ((GstFanoutSink *)(obj))

typedef struct _GstFanoutSink GstFanoutSink;
typedef struct _GstFanoutSinkClass GstFanoutSinkClass;

/**
 * GstFanoutSink:
 *
 * The writer of a named channel shared with fanoutsrc elements of the same
 * process.
 */
struct _GstFanoutSink {
  GstElement element;

  /*< private >*/
  GstPad *sinkpad;
  struct GstFanoutSinkPrivate *priv;
};

struct _GstFanoutSinkClass {
  GstElementClass parent_class;
};

G_GNUC_INTERNAL GType gst_fanout_sink_get_type (void);

GST_ELEMENT_REGISTER_DECLARE (fanoutsink);

G_END_DECLS
