/* gst-fanout
 * Copyright (C) 2026 the gst-fanout authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2.1 of the License, or (at your option) any later version.
 */

/* /metrics (Prometheus text) and /stats (JSON) over the server's state,
 * and their HTTP handler. Built on the server context: the getters of
 * fanoutserver.h that return them marshal there from other threads. */

#pragma once

#include <libsoup/soup.h>

namespace gstfanout
{

struct Server;

/* The /metrics and /stats handler (@data: the FanoutServer). Server
 * context. */
void stats_http_cb (SoupServer *server, SoupServerMessage *msg,
                    const char *path, GHashTable *query,
                    gpointer data) noexcept;

} // namespace gstfanout
