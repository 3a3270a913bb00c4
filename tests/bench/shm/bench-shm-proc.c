/* gst-fanout
 * Copyright (C) 2026 the gst-fanout authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2.1 of the License, or (at your option) any later version.
 */

/* One process of the shm benchmark (run by run.py, never a test): runs a
 * pipeline that has an element named "count" with a "handoff" signal
 * (identity, or fakesink signal-handoffs=true), waits WARMUP seconds, then
 * measures for SECONDS: frames through "count", this process's CPU time,
 * and the longest gap between two frames. Prints one JSON line.
 *
 *   bench-shm-proc WARMUP SECONDS 'PIPELINE DESCRIPTION' */

#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>

#include <gst/gst.h>

static gint frames;       /* atomic */
static gint64 last_us;    /* handoff thread only */
static gint64 max_gap_us; /* atomic-free: read after the window, see below */
static gint measuring;    /* atomic */

static void
on_handoff (GstElement *e, GstBuffer *buf, gpointer data)
{
  gint64 now = g_get_monotonic_time ();

  g_atomic_int_inc (&frames);
  if (g_atomic_int_get (&measuring) && last_us && now - last_us > max_gap_us)
    max_gap_us = now - last_us;
  last_us = now;
}

static double
cpu_seconds (void)
{
  struct rusage ru;

  getrusage (RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec
         + ru.ru_stime.tv_usec / 1e6;
}

int
main (int argc, char **argv)
{
  GstElement *pipeline, *count;
  GError *err = NULL;
  double warmup, seconds, cpu0, cpu1;
  gint f0, f1;
  gint64 t0, t1;
  GstBus *bus;
  GstMessage *msg;

  gst_init (&argc, &argv);
  if (argc != 4) {
    fprintf (stderr, "usage: %s WARMUP SECONDS PIPELINE\n", argv[0]);
    return 2;
  }
  warmup = g_ascii_strtod (argv[1], NULL);
  seconds = g_ascii_strtod (argv[2], NULL);
  pipeline = gst_parse_launch (argv[3], &err);
  if (!pipeline) {
    fprintf (stderr, "%s\n", err->message);
    return 2;
  }
  count = gst_bin_get_by_name (GST_BIN (pipeline), "count");
  if (!count) {
    fprintf (stderr, "no element named count\n");
    return 2;
  }
  g_signal_connect (count, "handoff", G_CALLBACK (on_handoff), NULL);
  gst_element_set_state (pipeline, GST_STATE_PLAYING);
  bus = gst_element_get_bus (pipeline);

  msg = gst_bus_timed_pop_filtered (bus, (GstClockTime)(warmup * GST_SECOND),
                                    GST_MESSAGE_ERROR);
  if (msg)
    goto error;
  f0 = g_atomic_int_get (&frames);
  cpu0 = cpu_seconds ();
  t0 = g_get_monotonic_time ();
  g_atomic_int_set (&measuring, 1);
  msg = gst_bus_timed_pop_filtered (bus, (GstClockTime)(seconds * GST_SECOND),
                                    GST_MESSAGE_ERROR);
  if (msg)
    goto error;
  g_atomic_int_set (&measuring, 0);
  f1 = g_atomic_int_get (&frames);
  cpu1 = cpu_seconds ();
  t1 = g_get_monotonic_time ();
  /* the gap is only read here, after the window; a frame racing with this
   * read changes it by one frame interval at most */
  {
    gint64 gap = max_gap_us;
    if (last_us && t1 - last_us > gap)
      gap = t1 - last_us; /* stalled at the end of the window */
    printf ("{\"frames\": %d, \"cpu_s\": %.4f, \"wall_s\": %.4f, "
            "\"max_gap_ms\": %.1f}\n",
            f1 - f0, cpu1 - cpu0, (t1 - t0) / 1e6, gap / 1e3);
  }
  fflush (stdout);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (count);
  gst_object_unref (bus);
  gst_object_unref (pipeline);
  return 0;

error : {
  gchar *dbg = NULL;
  gst_message_parse_error (msg, &err, &dbg);
  fprintf (stderr, "error: %s (%s)\n", err->message, dbg ? dbg : "");
  printf ("{\"error\": \"%s\"}\n", err->message);
  return 1;
}
}
