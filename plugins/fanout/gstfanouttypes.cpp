/* gst-fanout
 * Copyright (C) 2026 the gst-fanout authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2.1 of the License, or (at your option) any later version.
 */

/* The GEnum types and their conversions; see gstfanouttypes.h. */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstfanouttypes.h"

/* ------------------------------------------------------------ enum types */

GType
gst_fanout_lag_policy_get_type (void)
{
  static gsize type = 0;
  static const GEnumValue values[] = {
    { GST_FANOUT_LAG_POLICY_DROP_TO_KEYFRAME,
      "Resume at the newest keyframe in the ring (DISCONT)",
      "drop-to-keyframe" },
    { GST_FANOUT_LAG_POLICY_DROP_TO_LATEST,
      "Resume at the newest item in the ring (DISCONT)", "drop-to-latest" },
    { GST_FANOUT_LAG_POLICY_BLOCK,
      "The writer waits for this reader (lossless)", "block" },
    { GST_FANOUT_LAG_POLICY_DISCONNECT, "The reader is ended and reported",
      "disconnect" },
    { 0, nullptr, nullptr },
  };
  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("GstFanoutLagPolicy", values);
    gst_type_mark_as_plugin_api (t, (GstPluginAPIFlags)0);
    g_once_init_leave (&type, t);
  }
  return (GType)type;
}

GType
gst_fanout_start_position_get_type (void)
{
  static gsize type = 0;
  static const GEnumValue values[] = {
    { GST_FANOUT_START_POSITION_LATEST_KEYFRAME,
      "Newest keyframe in the ring, else the next one", "latest-keyframe" },
    { GST_FANOUT_START_POSITION_LATEST, "Newest item in the ring", "latest" },
    { GST_FANOUT_START_POSITION_OLDEST, "Oldest item still in the ring",
      "oldest" },
    { 0, nullptr, nullptr },
  };
  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("GstFanoutStartPosition", values);
    gst_type_mark_as_plugin_api (t, (GstPluginAPIFlags)0);
    g_once_init_leave (&type, t);
  }
  return (GType)type;
}

GType
gst_fanout_pull_mode_get_type (void)
{
  static gsize type = 0;
  static const GEnumValue values[] = {
    { GST_FANOUT_PULL_MODE_NEVER, "Never activate in pull mode", "never" },
    { GST_FANOUT_PULL_MODE_SINGLE,
      "Single pull mode (tee's; refused by fanout)", "single" },
    { 0, nullptr, nullptr },
  };
  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("GstFanoutPullMode", values);
    gst_type_mark_as_plugin_api (t, (GstPluginAPIFlags)0);
    g_once_init_leave (&type, t);
  }
  return (GType)type;
}

namespace gstfanout
{

static_assert (int (LagPolicy::DropToKeyframe)
               == GST_FANOUT_LAG_POLICY_DROP_TO_KEYFRAME);
static_assert (int (LagPolicy::DropToLatest)
               == GST_FANOUT_LAG_POLICY_DROP_TO_LATEST);
static_assert (int (LagPolicy::Block) == GST_FANOUT_LAG_POLICY_BLOCK);
static_assert (int (LagPolicy::Disconnect) == GST_FANOUT_LAG_POLICY_DISCONNECT);
static_assert (int (StartPosition::LatestKeyframe)
               == GST_FANOUT_START_POSITION_LATEST_KEYFRAME);
static_assert (int (StartPosition::Latest) == GST_FANOUT_START_POSITION_LATEST);
static_assert (int (StartPosition::Oldest) == GST_FANOUT_START_POSITION_OLDEST);

LagPolicy
lag_policy_from_gst (GstFanoutLagPolicy p) noexcept
{
  return LagPolicy (int (p));
}

GstFanoutLagPolicy
lag_policy_to_gst (LagPolicy p) noexcept
{
  return GstFanoutLagPolicy (int (p));
}

StartPosition
start_position_from_gst (GstFanoutStartPosition p) noexcept
{
  return StartPosition (int (p));
}

GstFanoutStartPosition
start_position_to_gst (StartPosition p) noexcept
{
  return GstFanoutStartPosition (int (p));
}

} // namespace gstfanout
