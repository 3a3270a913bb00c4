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

#include <exception>

GST_DEBUG_CATEGORY_EXTERN (fanout_server_debug);

namespace gstfanout
{

struct Mount;

struct ServerEnv {
  /* Set by fanout_server_new, never changed after (a reload compares
   * against it and applies only what it can live). */
  FanoutServerConfig cfg;
  /* Set by fanout_server_start (a reference), before anything runs on it. */
  GMainContext *context = nullptr;
  /* The client layer's (fanoutclient.cpp), set by fanout_server_new: ends
   * the sessions of @m set up before @before_us (their connections close)
   * and says how many. Server context. */
  guint (*end_mount_sessions) (const ServerEnv *env, Mount *m,
                               gint64 before_us) noexcept = nullptr;
};

/* One line on stderr, "HH:MM:SS fanout-rtsp-server: ...", unless the
 * server is quiet (@env nullptr: always). Any thread. */
void log_line (const ServerEnv *env, const char *fmt, ...) G_GNUC_PRINTF (2, 3);

/* For every function GLib or GStreamer calls (noexcept): runs @f, and an
 * exception (an allocation that failed: strings, containers) is logged and
 * @fallback returned instead. */
template <typename R, typename F>
R
guarded (const char *where, R fallback, F &&f) noexcept
{
  try {
    return f ();
  } catch (const std::exception &e) {
    GST_CAT_ERROR (fanout_server_debug, "%s: %s", where, e.what ());
  } catch (...) {
    GST_CAT_ERROR (fanout_server_debug, "%s: unknown exception", where);
  }
  return fallback;
}

template <typename F>
void
guarded (const char *where, F &&f) noexcept
{
  guarded (where, 0, [&f] {
    f ();
    return 0;
  });
}

/* guarded () for a function that fails with @error: an exception fails it
 * with an error that says so. */
template <typename F>
bool
guarded_or_error (const char *where, GError **error, F &&f) noexcept
{
  bool ok = guarded (where, false, f);
  if (!ok && error && !*error)
    g_set_error (error, FANOUT_SERVER_ERROR, FANOUT_SERVER_ERROR_USAGE,
                 "%s failed (out of memory)", where);
  return ok;
}

/* Runs @fn (@data) on the server's context and returns when it ran: at
 * once when this thread may own the context (it runs it, or nobody does
 * now), else dispatched there and waited for. Any thread but one the
 * context's owner waits for. */
void run_on_context (const ServerEnv *env, void (*fn) (gpointer),
                     gpointer data) noexcept;

} // namespace gstfanout
