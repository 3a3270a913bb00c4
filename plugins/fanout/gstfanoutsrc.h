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

#define GST_TYPE_FANOUT_SRC (gst_fanout_src_get_type ())
#define GST_FANOUT_SRC(obj)                                                    \
  (G_TYPE_CHECK_INSTANCE_CAST ((obj), GST_TYPE_FANOUT_SRC, GstFanoutSrc))
#define GST_IS_FANOUT_SRC(obj)                                                 \
  (G_TYPE_CHECK_INSTANCE_TYPE ((obj), GST_TYPE_FANOUT_SRC))
#define GST_FANOUT_SRC_CAST(obj) ((GstFanoutSrc *)(obj))

/**
 * GstFanoutSrcTimestampMode:
 * @GST_FANOUT_SRC_TIMESTAMP_MODE_RUNNING_TIME: map the stream into this
 *   pipeline's running time (the writer's segment shifted so that the first
 *   buffer plays now), keeping the writer's spacing
 * @GST_FANOUT_SRC_TIMESTAMP_MODE_PASSTHROUGH: the writer's timestamps and
 *   segments, unchanged
 * @GST_FANOUT_SRC_TIMESTAMP_MODE_CLOCK: map the writer's running time
 *   through clock time (ours = writer running time + writer base time -
 *   our base time), so that every reader of every writer on one clock
 *   stamps a buffer with its capture clock time (lip sync across
 *   channels); falls back to running-time while the writer's base time is
 *   unknown or its clock is another one
 *
 * How fanoutsrc timestamps what it reads.
 */
typedef enum {
  GST_FANOUT_SRC_TIMESTAMP_MODE_RUNNING_TIME = 0,
  GST_FANOUT_SRC_TIMESTAMP_MODE_PASSTHROUGH = 1,
  GST_FANOUT_SRC_TIMESTAMP_MODE_CLOCK = 2,
} GstFanoutSrcTimestampMode;

#define GST_TYPE_FANOUT_SRC_TIMESTAMP_MODE                                     \
  (gst_fanout_src_timestamp_mode_get_type ())
G_GNUC_INTERNAL GType gst_fanout_src_timestamp_mode_get_type (void);

typedef struct _GstFanoutSrc GstFanoutSrc;
typedef struct _GstFanoutSrcClass GstFanoutSrcClass;

/**
 * GstFanoutSrc:
 *
 * A live source reading one cursor of a named channel written by a
 * fanoutsink of the same process.
 */
struct _GstFanoutSrc {
  GstElement element;

  /*< private >*/
  GstPad *srcpad;
  struct GstFanoutSrcPrivate *priv;
};

struct _GstFanoutSrcClass {
  GstElementClass parent_class;
};

G_GNUC_INTERNAL GType gst_fanout_src_get_type (void);

GST_ELEMENT_REGISTER_DECLARE (fanoutsrc);

G_END_DECLS
