/* gst-fanout
 * Copyright (C) 2026 the gst-fanout authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2.1 of the License, or (at your option) any later version.
 */

#pragma once

#include <gst/base/gstbasesink.h>
#include <gst/gst.h>

G_BEGIN_DECLS

#define GST_TYPE_FANOUT_SHM_SINK (gst_fanout_shm_sink_get_type ())
#define GST_FANOUT_SHM_SINK(obj)                                               \
  (G_TYPE_CHECK_INSTANCE_CAST ((obj), GST_TYPE_FANOUT_SHM_SINK,                \
                               GstFanoutShmSink))
#define GST_IS_FANOUT_SHM_SINK(obj)                                            \
  (G_TYPE_CHECK_INSTANCE_TYPE ((obj), GST_TYPE_FANOUT_SHM_SINK))

typedef struct _GstFanoutShmSink GstFanoutShmSink;
typedef struct _GstFanoutShmSinkClass GstFanoutShmSinkClass;

/**
 * GstFanoutShmSink:
 *
 * The writer of a shared-memory ring read by fanoutshmsrc elements of other
 * processes.
 */
struct _GstFanoutShmSink {
  GstBaseSink parent;

  /*< private >*/
  struct GstFanoutShmSinkPrivate *priv;
};

struct _GstFanoutShmSinkClass {
  GstBaseSinkClass parent_class;
};

G_GNUC_INTERNAL GType gst_fanout_shm_sink_get_type (void);

GST_ELEMENT_REGISTER_DECLARE (fanoutshmsink);

G_END_DECLS
