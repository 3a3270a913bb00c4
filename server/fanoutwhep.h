/* gst-fanout
 * Copyright (C) 2026 the gst-fanout authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2.1 of the License, or (at your option) any later version.
 */

/* The server's outputs for browsers and players without RTSP, on its HTTP
 * port (the libsoup server of /metrics):
 *
 *   POST /PATH/whep            WHEP: application/sdp offer -> 201 + answer,
 *   DELETE /PATH/whep/ID       Location /PATH/whep/ID (fanoutwhep.cpp)
 *   GET /                      status page with a player per mount
 *   GET /whep.js               its WHEP client (fanoutstatuspage.cpp)
 *   GET /PATH.ts               MPEG-TS over HTTP, chunked (fanouthttpout.cpp)
 *   GET /PATH/index.m3u8       HLS, segments /PATH/segNNNNN.ts (same file)
 *
 * Every viewer reads the mount's one encode: WebRTC viewers share one RTP
 * payloading per mount (its own ring, "RING:webrtc"), each with its own
 * fanoutsrc cursor, PT rewrite and webrtcbin (ICE, DTLS-SRTP); an HTTP
 * viewer muxes its own cursor on the encoded ring.
 *
 * Threads: everything here is created, changed and freed on the server's
 * main context (HTTP handlers, bus watches, timers); webrtcbin's and
 * streaming threads only post work to it, naming the peer by its id. */

#pragma once

#include "fanoutserverprivate.h"

#include <json-glib/json-glib.h>

namespace gstfanout
{

/* Registers the handlers on fs->s.http (which must exist) once the mounts
 * are set up. Main context. */
WebOutput *web_output_start (FanoutServer *fs) noexcept;
/* Ends every viewer and pipeline; nullptr is fine. Main context. */
void web_output_stop (WebOutput *w) noexcept;
/* @m's source came up late and @m is complete: its ring and codec are
 * known now (server context). */
void web_output_mount_ready (WebOutput *w, const Mount *m) noexcept;

/* WebRTC viewers of @m now (status page, /stats). Any thread. */
guint web_output_n_viewers (WebOutput *w, const Mount *m) noexcept;
/* HTTP (MPEG-TS) viewers of @m now. Any thread. */
guint web_output_n_http_viewers (WebOutput *w, const Mount *m) noexcept;

/* Adds @m's WebRTC/HTTP members to the /stats mount object being built:
 * webrtc_viewers, webrtc_bytes (RTP bytes of the shared payloading),
 * http_viewers. Any thread (the counts are atomic). */
void web_output_add_stats (WebOutput *w, const Mount *m,
                           JsonBuilder *b) noexcept;

/* Status page (fanoutstatuspage.cpp): the HTML of "/" and the WHEP client
 * script of "/whep.js". */
std::string status_page_html (Server &s, WebOutput *w, const std::string &host);
const char *status_page_script () noexcept;

} // namespace gstfanout
