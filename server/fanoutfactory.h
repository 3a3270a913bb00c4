/* gst-fanout
 * Copyright (C) 2026 the gst-fanout authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2.1 of the License, or (at your option) any later version.
 */

/* The mounts' media factory: one shared media per mount whatever the
 * request URL says, a new one only after retire (a media that failed), and
 * 503 (no media) while the mount has no launch line (its source is not
 * up). */

#pragma once

#include <gst/rtsp-server/rtsp-server.h>

#include <string>

namespace gstfanout
{

/* A factory for mount @path, without a launch line yet. */
GstRTSPMediaFactory *
fanout_media_factory_new (const std::string &path) noexcept;
/* The next request builds a new media (the current one failed or ended).
 * Any thread. */
void fanout_media_factory_retire (GstRTSPMediaFactory *factory) noexcept;

} // namespace gstfanout
