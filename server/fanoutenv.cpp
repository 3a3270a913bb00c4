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

namespace
{
struct Invocation {
  void (*fn) (gpointer);
  gpointer data;
  GMutex lock;
  GCond cond;
  bool done = false; /* under lock */
};

gboolean
invoke_cb (gpointer p) noexcept
{
  auto *inv = static_cast<Invocation *> (p);
  inv->fn (inv->data);
  g_mutex_lock (&inv->lock);
  inv->done = true;
  g_cond_signal (&inv->cond);
  g_mutex_unlock (&inv->lock);
  return G_SOURCE_REMOVE;
}
} // namespace

void
run_on_context (const ServerEnv *env, void (*fn) (gpointer),
                gpointer data) noexcept
{
  GMainContext *ctx = env ? env->context : nullptr;
  if (!ctx || g_main_context_acquire (ctx)) {
    fn (data);
    if (ctx)
      g_main_context_release (ctx);
    return;
  }
  Invocation inv{ fn, data, {}, {} };
  g_mutex_init (&inv.lock);
  g_cond_init (&inv.cond);
  GSource *src = g_idle_source_new ();
  g_source_set_priority (src, G_PRIORITY_DEFAULT);
  g_source_set_callback (src, invoke_cb, &inv, nullptr);
  g_source_attach (src, ctx);
  g_source_unref (src);
  g_mutex_lock (&inv.lock);
  while (!inv.done)
    g_cond_wait (&inv.cond, &inv.lock);
  g_mutex_unlock (&inv.lock);
  g_mutex_clear (&inv.lock);
  g_cond_clear (&inv.cond);
}

} // namespace gstfanout
