/* gst-fanout
 * Copyright (C) 2026 the gst-fanout authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2.1 of the License, or (at your option) any later version.
 */

/* fanout-rtsp-server: the log line (fanoutenv.h). */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "fanoutenv.h"

#include <cstdarg>

GST_DEBUG_CATEGORY (fanout_server_debug);

namespace gstfanout
{

void
log_line (const ServerEnv *s, const char *fmt, ...)
{
  if (s && s->cfg.quiet)
    return;
  va_list ap;
  va_start (ap, fmt);
  gchar *msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  GDateTime *now = g_date_time_new_now_utc ();
  gchar *ts = g_date_time_format (now, "%H:%M:%S");
  g_printerr ("%s fanout-rtsp-server: %s\n", ts, msg);
  g_free (ts);
  g_date_time_unref (now);
  g_free (msg);
}

} // namespace gstfanout
