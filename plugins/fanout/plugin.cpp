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

#ifdef HAVE_ELEMENT_PAYLOADBATCH
#include "gstpayloadbatch.h"
#endif
#ifdef HAVE_ELEMENT_FANOUT
#include "gstfanout.h"
#endif
#ifdef HAVE_ELEMENT_FANOUTSINK
#include "gstfanoutsink.h"
#include "gstfanoutsrc.h"
#endif

static gboolean
plugin_init (GstPlugin *plugin) noexcept
{
  gboolean ret = FALSE;

#ifdef HAVE_ELEMENT_PAYLOADBATCH
  ret |= GST_ELEMENT_REGISTER (payloadbatch, plugin);
#endif
#ifdef HAVE_ELEMENT_FANOUT
  ret |= GST_ELEMENT_REGISTER (fanout, plugin);
#endif
#ifdef HAVE_ELEMENT_FANOUTSINK
  ret |= GST_ELEMENT_REGISTER (fanoutsink, plugin);
  ret |= GST_ELEMENT_REGISTER (fanoutsrc, plugin);
#endif

  return ret;
}

GST_PLUGIN_DEFINE (
    GST_VERSION_MAJOR, GST_VERSION_MINOR, fanout,
    "Broadcast one live stream to many readers through a lock-free ring",
    plugin_init, VERSION, GST_LICENSE, GST_PACKAGE_NAME, GST_PACKAGE_ORIGIN)
