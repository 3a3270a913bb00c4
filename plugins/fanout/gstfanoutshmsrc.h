/* gst-fanout
 * Copyright (C) 2026 the gst-fanout authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2.1 of the License, or (at your option) any later version.
 */

#pragma once

#include <gst/base/gstpushsrc.h>
#include <gst/gst.h>

G_BEGIN_DECLS

#define GST_TYPE_FANOUT_SHM_SRC (gst_fanout_shm_src_get_type ())
#define GST_FANOUT_SHM_SRC(obj)                                                \
  (G_TYPE_CHECK_INSTANCE_CAST ((obj), GST_TYPE_FANOUT_SHM_SRC, GstFanoutShmSrc))
#define GST_IS_FANOUT_SHM_SRC(obj)                                             \
  (G_TYPE_CHECK_INSTANCE_TYPE ((obj), GST_TYPE_FANOUT_SHM_SRC))

typedef struct _GstFanoutShmSrc GstFanoutShmSrc;
typedef struct _GstFanoutShmSrcClass GstFanoutShmSrcClass;

/**
 * GstFanoutShmSrc:
 *
 * A live source reading the shared-memory ring of a fanoutshmsink in another
 * process.
 */
struct _GstFanoutShmSrc {
  GstPushSrc parent;

  /*< private >*/
  struct GstFanoutShmSrcPrivate *priv;
};

struct _GstFanoutShmSrcClass {
  GstPushSrcClass parent_class;
};

G_GNUC_INTERNAL GType gst_fanout_shm_src_get_type (void);

GST_ELEMENT_REGISTER_DECLARE (fanoutshmsrc);

G_END_DECLS
