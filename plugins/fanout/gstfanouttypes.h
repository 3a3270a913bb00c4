/* gst-fanout
 * Copyright (C) 2026 the gst-fanout authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2.1 of the License, or (at your option) any later version.
 */

/* The types `fanout`, `fanoutsink` and `fanoutsrc` share: the GEnum types of
 * their properties (C, plugin API), their conversions to the ring's enums,
 * and the keyframe-request timing both the writer glue
 * (gstfanoutwriter.h) and the reader pump (gstfanoutreader.h) use. */

#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

/**
 * GstFanoutLagPolicy:
 * @GST_FANOUT_LAG_POLICY_DROP_TO_KEYFRAME: resume at the newest sync point
 *   (keyframe) in the ring, first buffer marked DISCONT
 * @GST_FANOUT_LAG_POLICY_DROP_TO_LATEST: resume at the newest item, DISCONT
 * @GST_FANOUT_LAG_POLICY_BLOCK: the writer waits for this reader (lossless)
 * @GST_FANOUT_LAG_POLICY_DISCONNECT: the reader is ended and reported
 *
 * What a reader does when the writer laps it.
 */
typedef enum {
  GST_FANOUT_LAG_POLICY_DROP_TO_KEYFRAME = 0,
  GST_FANOUT_LAG_POLICY_DROP_TO_LATEST = 1,
  GST_FANOUT_LAG_POLICY_BLOCK = 2,
  GST_FANOUT_LAG_POLICY_DISCONNECT = 3,
} GstFanoutLagPolicy;

/**
 * GstFanoutStartPosition:
 * @GST_FANOUT_START_POSITION_LATEST_KEYFRAME: the newest sync point in the
 *   ring (decodable at once), else the next one
 * @GST_FANOUT_START_POSITION_LATEST: the newest item in the ring
 * @GST_FANOUT_START_POSITION_OLDEST: the oldest item still in the ring
 *
 * Where a new reader starts reading.
 */
typedef enum {
  GST_FANOUT_START_POSITION_LATEST_KEYFRAME = 0,
  GST_FANOUT_START_POSITION_LATEST = 1,
  GST_FANOUT_START_POSITION_OLDEST = 2,
} GstFanoutStartPosition;

/**
 * GstFanoutPullMode:
 * @GST_FANOUT_PULL_MODE_NEVER: never activate in pull mode (the only mode
 *   fanout has)
 * @GST_FANOUT_PULL_MODE_SINGLE: tee's single-pull mode; refused by fanout
 *   with a warning (its readers are pushed from the ring)
 *
 * `tee`'s pull-mode values, for launch lines written for tee.
 */
typedef enum {
  GST_FANOUT_PULL_MODE_NEVER = 0,
  GST_FANOUT_PULL_MODE_SINGLE = 1,
} GstFanoutPullMode;

#define GST_TYPE_FANOUT_LAG_POLICY (gst_fanout_lag_policy_get_type ())
#define GST_TYPE_FANOUT_PULL_MODE (gst_fanout_pull_mode_get_type ())
#define GST_TYPE_FANOUT_START_POSITION (gst_fanout_start_position_get_type ())

/* Each type marks itself as plugin API when first registered. */
G_GNUC_INTERNAL GType gst_fanout_lag_policy_get_type (void);
G_GNUC_INTERNAL GType gst_fanout_start_position_get_type (void);
G_GNUC_INTERNAL GType gst_fanout_pull_mode_get_type (void);

G_END_DECLS

#ifdef __cplusplus

#include "ring.h"

namespace gstfanout
{

/* Conversions between the GEnum values and the ring's enums (same values,
 * checked in gstfanouttypes.cpp). */
LagPolicy lag_policy_from_gst (GstFanoutLagPolicy p) noexcept;
GstFanoutLagPolicy lag_policy_to_gst (LagPolicy p) noexcept;
StartPosition start_position_from_gst (GstFanoutStartPosition p) noexcept;
GstFanoutStartPosition start_position_to_gst (StartPosition p) noexcept;

/* A keyframe request that brought no sync point after this long (and, for
 * a reader, this many published items) is taken as lost and sent again. */
constexpr gint64 kKeyframeRetryUs = G_USEC_PER_SEC;
constexpr guint64 kKeyframeRetryItems = 32;

} // namespace gstfanout

#endif /* __cplusplus */
