/* gst-fanout
 * Copyright (C) 2026 the gst-fanout authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2.1 of the License, or (at your option) any later version.
 */

/* What every unit of the server may read of it: the settings it was
 * started with and the main context its sources, timers and bus watches
 * run on; and its log line. Owned by the server (Server derives from it);
 * runners, sources and mounts hold a const pointer. */

#pragma once

#include "fanoutconfig.h"

#include <gst/gst.h>

GST_DEBUG_CATEGORY_EXTERN (fanout_server_debug);

namespace gstfanout
{

struct ServerEnv {
  /* Set by fanout_server_new, never changed after (a reload compares
   * against it and applies only what it can live). */
  FanoutServerConfig cfg;
  /* Set by fanout_server_start (a reference), before anything runs on it. */
  GMainContext *context = nullptr;
};

/* One line on stderr, "HH:MM:SS fanout-rtsp-server: ...", unless the
 * server is quiet (@env nullptr: always). Any thread. */
void log_line (const ServerEnv *env, const char *fmt, ...) G_GNUC_PRINTF (2, 3);

} // namespace gstfanout
