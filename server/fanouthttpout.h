/* gst-fanout
 * Copyright (C) 2026 the gst-fanout authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2.1 of the License, or (at your option) any later version.
 */

/* HTTP outputs for players without RTSP (Debian's VLC, ffplay, Safari):
 * GET /PATH.ts is MPEG-TS, chunked, each HTTP viewer on its own cursor of
 * the mount's encoded ring, muxed for it (mpegtsmux costs little; the
 * encode is shared). GET /PATH/index.m3u8 and /PATH/segNNNNN.ts are HLS:
 * one hlssink2 per mount writing one-GOP MPEG-TS segments into a temp dir
 * (6 in the playlist, 10 on disk), started by the first request and
 * stopped 30 s after the last. Main context only. */

#pragma once

#include "fanoutserverprivate.h"

namespace gstfanout
{

struct HttpOut;

HttpOut *http_out_new (Server *s) noexcept;
void http_out_free (HttpOut *h) noexcept;
/* TRUE when @path is one of ours (the reply is set or under way). */
bool http_out_handle (HttpOut *h, SoupServerMessage *msg,
                      const char *path) noexcept;
/* HTTP viewers of @m now (MPEG-TS; HLS players are not counted). Any
 * thread. */
guint http_out_n_viewers (HttpOut *h, const Mount *m) noexcept;

} // namespace gstfanout
