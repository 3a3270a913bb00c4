/* gst-fanout
 * Copyright (C) 2026 the gst-fanout authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2.1 of the License, or (at your option) any later version.
 */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <gst/gst.h>

#include "gstfanout.h"
#include "gstfanoutshmsink.h"
#include "gstfanoutshmsrc.h"
#include "gstfanoutsink.h"
#include "gstfanoutsrc.h"
#include "gstpayloadbatch.h"

static gboolean
plugin_init (GstPlugin *plugin) noexcept
{
  gboolean ret = FALSE;

  ret |= GST_ELEMENT_REGISTER (payloadbatch, plugin);
  ret |= GST_ELEMENT_REGISTER (fanout, plugin);
  ret |= GST_ELEMENT_REGISTER (fanoutsink, plugin);
  ret |= GST_ELEMENT_REGISTER (fanoutsrc, plugin);
  ret |= GST_ELEMENT_REGISTER (fanoutshmsink, plugin);
  ret |= GST_ELEMENT_REGISTER (fanoutshmsrc, plugin);

  return ret;
}

GST_PLUGIN_DEFINE (
    GST_VERSION_MAJOR, GST_VERSION_MINOR, fanout,
    "Broadcast one live stream to many readers through a lock-free ring",
    plugin_init, VERSION, GST_LICENSE, GST_PACKAGE_NAME, GST_PACKAGE_ORIGIN)
