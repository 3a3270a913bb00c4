/* gst-fanout
 * Copyright (C) 2026 the gst-fanout authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2.1 of the License, or (at your option) any later version.
 */

/* Small helpers every unit of the server uses: strings fit for logs, and
 * GObject/GStreamer lookups. No state. */

#pragma once

#include <gst/gst.h>

#include <string>

namespace gstfanout
{

/* The element factory @name is installed. Any thread. */
bool element_exists (const char *name) noexcept;
/* @s in double quotes for a launch description (" and \ escaped). */
std::string quote (const std::string &s);
/* Reads a numeric property of any integer type, 0 when absent. */
guint64 get_uint_prop (gpointer obj, const char *name) noexcept;
/* @s with the secrets it may carry replaced by "***": the password of
 * every URL's user info (rtsp://cam:***@host/) and the values of
 * user-pw=, proxy-pw=, password= settings in launch descriptions. */
std::string redact (const std::string &s);
/* @s fit for one log line: control characters become '?', at most @max
 * bytes. */
std::string log_safe (const char *s, gsize max = 200);

} // namespace gstfanout
