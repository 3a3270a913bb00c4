/* gst-fanout
 * Copyright (C) 2026 the gst-fanout authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2.1 of the License, or (at your option) any later version.
 */

/* One writer pipeline and N reader pipelines in this process, one way of
 * sharing a live raw video stream between pipelines:
 *
 *   fanout:  videotestsrc ! fanoutsink channel=c   | N x fanoutsrc ! fakesink
 *   inter:   videotestsrc ! intervideosink         | N x intervideosrc ! ...
 *   appsrc:  videotestsrc ! appsink (callback pushes every sample into each
 *            reader's appsrc)                      | N x appsrc ! fakesink
 *
 * Usage: bench-fanoutsinksrc MODE N [SECONDS [WARMUP]]
 * Prints one JSON object: CPU seconds used during the measured window (all
 * threads of the process), buffers received per reader per second, RSS and
 * threads at the end. Run by run.py, one process per point. */

#include <gst/app/gstappsink.h>
#include <gst/app/gstappsrc.h>
#include <gst/gst.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <dirent.h>

#define CAPS "video/x-raw,format=I420,width=640,height=480,framerate=30/1"

typedef struct {
  GstElement *pipeline;
  GstElement *appsrc; /* appsrc mode */
  gint count;         /* atomic: buffers at the reader's sink */
} Reader;

static Reader *readers;
static guint n_readers;

static GstPadProbeReturn
count_probe (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  g_atomic_int_inc ((gint *)data);
  return GST_PAD_PROBE_OK;
}

static GstFlowReturn
on_new_sample (GstAppSink *sink, gpointer data)
{
  GstSample *sample = gst_app_sink_pull_sample (sink);
  GstBuffer *buf;
  guint i;

  if (!sample)
    return GST_FLOW_EOS;
  buf = gst_sample_get_buffer (sample);
  for (i = 0; i < n_readers; i++)
    gst_app_src_push_buffer (GST_APP_SRC (readers[i].appsrc),
                             gst_buffer_ref (buf));
  gst_sample_unref (sample);
  return GST_FLOW_OK;
}

static double
cpu_seconds (void)
{
  struct rusage ru;

  getrusage (RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec
         + ru.ru_stime.tv_usec / 1e6;
}

static long
rss_kb (void)
{
  FILE *f = fopen ("/proc/self/status", "r");
  char line[256];
  long kb = -1;

  if (!f)
    return -1;
  while (fgets (line, sizeof line, f))
    if (strncmp (line, "VmRSS:", 6) == 0)
      kb = strtol (line + 6, NULL, 10);
  fclose (f);
  return kb;
}

static int
n_threads (void)
{
  DIR *d = opendir ("/proc/self/task");
  struct dirent *e;
  int n = 0;

  if (!d)
    return -1;
  while ((e = readdir (d)))
    if (e->d_name[0] != '.')
      n++;
  closedir (d);
  return n;
}

static GstElement *
launch (const gchar *desc)
{
  GError *err = NULL;
  GstElement *p = gst_parse_launch (desc, &err);

  if (!p) {
    g_printerr ("%s: %s\n", desc, err->message);
    exit (1);
  }
  return p;
}

static gint
total_count (void)
{
  gint sum = 0;
  guint i;

  for (i = 0; i < n_readers; i++)
    sum += g_atomic_int_get (&readers[i].count);
  return sum;
}

static void
check_errors (GstElement *p)
{
  GstBus *bus = gst_element_get_bus (p);
  GstMessage *m = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);

  if (m) {
    GError *err = NULL;

    gst_message_parse_error (m, &err, NULL);
    g_printerr ("%s: error: %s\n", GST_OBJECT_NAME (p), err->message);
    exit (1);
  }
  gst_object_unref (bus);
}

int
main (int argc, char **argv)
{
  const gchar *mode;
  double seconds = 5, warmup = 2, cpu0, cpu1;
  gint count0, count1;
  gint64 t0, t1;
  GstElement *writer;
  gchar *desc;
  guint i;
  long rss_base;

  gst_init (&argc, &argv);
  if (argc < 3) {
    g_printerr ("usage: %s fanout|inter|appsrc N [SECONDS [WARMUP]]\n",
                argv[0]);
    return 2;
  }
  mode = argv[1];
  n_readers = atoi (argv[2]);
  if (argc > 3)
    seconds = atof (argv[3]);
  if (argc > 4)
    warmup = atof (argv[4]);
  readers = g_new0 (Reader, n_readers);
  rss_base = rss_kb ();

  if (strcmp (mode, "fanout") == 0)
    desc = g_strdup ("videotestsrc is-live=true pattern=smpte ! " CAPS
                     " ! fanoutsink channel=bench capacity=32");
  else if (strcmp (mode, "inter") == 0)
    desc = g_strdup ("videotestsrc is-live=true pattern=smpte ! " CAPS
                     " ! intervideosink channel=bench");
  else if (strcmp (mode, "appsrc") == 0)
    desc = g_strdup ("videotestsrc is-live=true pattern=smpte ! " CAPS
                     " ! appsink name=sink sync=false max-buffers=2 drop=true");
  else {
    g_printerr ("unknown mode %s\n", mode);
    return 2;
  }
  writer = launch (desc);
  g_free (desc);
  if (strcmp (mode, "appsrc") == 0) {
    GstElement *sink = gst_bin_get_by_name (GST_BIN (writer), "sink");
    GstAppSinkCallbacks cb = {
      0,
    };

    cb.new_sample = on_new_sample;
    gst_app_sink_set_callbacks (GST_APP_SINK (sink), &cb, NULL, NULL);
    gst_object_unref (sink);
  }

  for (i = 0; i < n_readers; i++) {
    GstElement *sink;
    GstPad *pad;

    if (strcmp (mode, "fanout") == 0)
      desc = g_strdup_printf ("fanoutsrc channel=bench %s ! fakesink "
                              "name=sink sync=false",
                              g_getenv ("BENCH_FANOUTSRC_PROPS")
                                  ? g_getenv ("BENCH_FANOUTSRC_PROPS")
                                  : "");
    else if (strcmp (mode, "inter") == 0)
      desc = g_strdup ("intervideosrc channel=bench ! " CAPS
                       " ! fakesink name=sink sync=false");
    else
      desc = g_strdup ("appsrc name=src is-live=true format=time "
                       "caps=" CAPS " ! fakesink name=sink sync=false");
    readers[i].pipeline = launch (desc);
    g_free (desc);
    readers[i].appsrc
        = gst_bin_get_by_name (GST_BIN (readers[i].pipeline), "src");
    sink = gst_bin_get_by_name (GST_BIN (readers[i].pipeline), "sink");
    pad = gst_element_get_static_pad (sink, "sink");
    gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, count_probe,
                       &readers[i].count, NULL);
    gst_object_unref (pad);
    gst_object_unref (sink);
    gst_element_set_state (readers[i].pipeline, GST_STATE_PLAYING);
  }
  gst_element_set_state (writer, GST_STATE_PLAYING);

  g_usleep ((gulong)(warmup * G_USEC_PER_SEC));
  cpu0 = cpu_seconds ();
  count0 = total_count ();
  t0 = g_get_monotonic_time ();
  g_usleep ((gulong)(seconds * G_USEC_PER_SEC));
  cpu1 = cpu_seconds ();
  count1 = total_count ();
  t1 = g_get_monotonic_time ();

  check_errors (writer);
  for (i = 0; i < n_readers; i++)
    check_errors (readers[i].pipeline);

  {
    double wall = (t1 - t0) / 1e6;
    double cpu = cpu1 - cpu0;
    double per_reader = n_readers ? (count1 - count0) / wall / n_readers : 0;

    printf (
        "{\"mode\": \"%s\", \"readers\": %u, \"wall_s\": %.3f, "
        "\"cpu_s\": %.4f, \"cpu_pct\": %.2f, \"buffers_per_reader_s\": %.2f, "
        "\"cpu_us_per_reader_buffer\": %.2f, \"rss_kb\": %ld, "
        "\"rss_base_kb\": %ld, \"threads\": %d}\n",
        mode, n_readers, wall, cpu, 100.0 * cpu / wall, per_reader,
        count1 > count0 ? cpu * 1e6 / (count1 - count0) : 0.0, rss_kb (),
        rss_base, n_threads ());
    fflush (stdout);
  }

  gst_element_set_state (writer, GST_STATE_NULL);
  for (i = 0; i < n_readers; i++) {
    gst_element_set_state (readers[i].pipeline, GST_STATE_NULL);
    if (readers[i].appsrc)
      gst_object_unref (readers[i].appsrc);
    gst_object_unref (readers[i].pipeline);
  }
  gst_object_unref (writer);
  g_free (readers);
  return 0;
}
