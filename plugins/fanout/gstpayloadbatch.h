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

/**
 * GstPayloadBatchBoundary:
 * @GST_PAYLOAD_BATCH_BOUNDARY_NONE: only the size and time bounds close a
 *   batch
 * @GST_PAYLOAD_BATCH_BOUNDARY_FRAME: a batch ends with a frame: at the RTP
 *   marker bit for `application/x-rtp`, at a change of PTS otherwise
 * @GST_PAYLOAD_BATCH_BOUNDARY_KEYFRAME: a new batch starts at every buffer
 *   without the DELTA_UNIT flag
 *
 * Where `payloadbatch` closes a batch besides its size and time bounds.
 */
typedef enum {
  GST_PAYLOAD_BATCH_BOUNDARY_NONE = 0,
  GST_PAYLOAD_BATCH_BOUNDARY_FRAME = 1,
  GST_PAYLOAD_BATCH_BOUNDARY_KEYFRAME = 2,
} GstPayloadBatchBoundary;

#define GST_TYPE_PAYLOAD_BATCH_BOUNDARY (gst_payload_batch_boundary_get_type ())
GType gst_payload_batch_boundary_get_type (void);

#define GST_TYPE_PAYLOAD_BATCH (gst_payload_batch_get_type ())
#define GST_PAYLOAD_BATCH(obj)                                                 \
  (G_TYPE_CHECK_INSTANCE_CAST ((obj), GST_TYPE_PAYLOAD_BATCH, GstPayloadBatch))
#define GST_PAYLOAD_BATCH_CLASS(klass)                                         \
  (G_TYPE_CHECK_CLASS_CAST ((klass), GST_TYPE_PAYLOAD_BATCH,                   \
                            GstPayloadBatchClass))
#define GST_IS_PAYLOAD_BATCH(obj)                                              \
  (G_TYPE_CHECK_INSTANCE_TYPE ((obj), GST_TYPE_PAYLOAD_BATCH))
#define GST_PAYLOAD_BATCH_CAST(obj) ((GstPayloadBatch *)(obj))

typedef struct _GstPayloadBatch GstPayloadBatch;
typedef struct _GstPayloadBatchClass GstPayloadBatchClass;
typedef struct _GstPayloadBatchPrivate GstPayloadBatchPrivate;

/**
 * GstPayloadBatch:
 *
 * Opaque instance structure: C types only, all state in @priv.
 */
struct _GstPayloadBatch {
  GstElement element;

  /*< private >*/
  GstPad *sinkpad;
  GstPad *srcpad;

  GstPayloadBatchPrivate *priv;
};

struct _GstPayloadBatchClass {
  GstElementClass parent_class;
};

GType gst_payload_batch_get_type (void);

GST_ELEMENT_REGISTER_DECLARE (payloadbatch);

G_END_DECLS
