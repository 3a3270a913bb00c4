/* gst-fanout
 * Copyright (C) 2026 the gst-fanout authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2.1 of the License, or (at your option) any later version.
 */

/* The medias of a mount: gst-rtsp-server builds one per mount (the
 * factory's launch line, fanoutfactory.h); here each is watched as it is
 * configured, prepared and unprepared: frames, bytes and join latency
 * (probes on its payloader), not seekable, isolated delivery (its frames
 * published to the mount's sender, its own sinks sending RTCP only), and
 * the end of a media whose source ended.
 *
 * Threads: the media signals come on gst-rtsp-server's client and media
 * threads, the probes on the media's streaming threads. */

#pragma once

#include "fanoutmount.h"

#include <gst/rtsp-server/rtsp-server.h>

namespace gstfanout
{

/* The factory's "media-configure" (@data: the Mount). */
void media_configure_cb (GstRTSPMediaFactory *factory, GstRTSPMedia *media,
                         gpointer data) noexcept;
/* A media of @m that ended (its source failed and came back) or failed is
 * retired: new clients get a new one. Before a request builds or finds the
 * mount's media; a client thread. */
void media_retire_dead (Mount *m) noexcept;

} // namespace gstfanout
