/* gst-fanout
 * Copyright (C) 2026 the gst-fanout authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2.1 of the License, or (at your option) any later version.
 */

/* Cameras: the formats one offers (opened once, before its source
 * starts) and --list-devices (GstDeviceMonitor). */

#pragma once

#include <gst/gst.h>

#include <string>

namespace gstfanout
{

/* Opens camera @device once (for source @source) and says whether it
 * offers H.264 or MJPEG itself. A MISSING error when it cannot be opened
 * (busy, not a camera). Server context (it blocks while the device
 * opens). */
bool camera_probe (const std::string &device, const std::string &source,
                   bool *h264, bool *jpeg, GError **error) noexcept;

} // namespace gstfanout
