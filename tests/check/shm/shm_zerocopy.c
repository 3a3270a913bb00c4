/* gst-fanout
 * Copyright (C) 2026 the gst-fanout authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2.1 of the License, or (at your option) any later version.
 */

/* fanoutshmsink's zero-copy path (issue 20): upstream that uses the
 * proposed pool / allocator writes into the ring and nothing is copied;
 * any other memory is copied once. A reader pipeline (fanoutshmsrc, in
 * this process: the protocol does not care) checks every frame's bytes
 * against a checksum the writer side took on the sink pad, in order. */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>
#include <unistd.h>

#include <gst/check/gstcheck.h>

#define N_FRAMES 30
#define WAIT_SECONDS 120
#define RAW_CAPS "video/x-raw,format=I420,width=320,height=240,framerate=30/1"

/* Checksums of the frames seen on one side, in order. */
typedef struct {
  GMutex lock;
  GArray *sums; /* guint64 */
} Sums;

static void
sums_init (Sums *s)
{
  g_mutex_init (&s->lock);
  s->sums = g_array_new (FALSE, FALSE, sizeof (guint64));
}

static void
sums_clear (Sums *s)
{
  g_array_unref (s->sums);
  g_mutex_clear (&s->lock);
}

static guint
sums_len (Sums *s)
{
  guint n;

  g_mutex_lock (&s->lock);
  n = s->sums->len;
  g_mutex_unlock (&s->lock);
  return n;
}

static void
sums_add (Sums *s, GstBuffer *buf)
{
  GstMapInfo map;
  guint64 h = G_GUINT64_CONSTANT (14695981039346656037);
  gsize i;

  fail_unless (gst_buffer_map (buf, &map, GST_MAP_READ));
  for (i = 0; i < map.size; i++) {
    h ^= map.data[i];
    h *= G_GUINT64_CONSTANT (1099511628211);
  }
  h ^= map.size;
  gst_buffer_unmap (buf, &map);
  g_mutex_lock (&s->lock);
  g_array_append_val (s->sums, h);
  g_mutex_unlock (&s->lock);
}

static GstPadProbeReturn
writer_probe (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  sums_add (data, GST_PAD_PROBE_INFO_BUFFER (info));
  return GST_PAD_PROBE_OK;
}

static void
reader_handoff (GstElement *fakesink, GstBuffer *buf, GstPad *pad,
                gpointer data)
{
  sums_add (data, buf);
}

static gchar *
make_path (const gchar *tag)
{
  return g_strdup_printf ("%s/shmzc-%s-%d.sock", g_get_tmp_dir (), tag,
                          (int)getpid ());
}

static GstElement *
reader_start (const gchar *path, Sums *sums)
{
  gchar *desc = g_strdup_printf (
      "fanoutshmsrc socket-path=%s ! fakesink name=out sync=false "
      "signal-handoffs=true",
      path);
  GError *err = NULL;
  GstElement *p = gst_parse_launch (desc, &err);
  GstElement *out;

  fail_unless (p != NULL, "%s", err ? err->message : "");
  g_free (desc);
  out = gst_bin_get_by_name (GST_BIN (p), "out");
  g_signal_connect (out, "handoff", G_CALLBACK (reader_handoff), sums);
  gst_object_unref (out);
  fail_if (gst_element_set_state (p, GST_STATE_PLAYING)
           == GST_STATE_CHANGE_FAILURE);
  return p;
}

/* Prerolls the writer, waits for the reader to be connected (and to have
 * started its cursor), then plays it to EOS. Returns the sink (a ref). */
static GstElement *
writer_run (GstElement *writer, Sums *sums)
{
  GstElement *sink = gst_bin_get_by_name (GST_BIN (writer), "sink");
  GstPad *pad = gst_element_get_static_pad (sink, "sink");
  gint64 end = g_get_monotonic_time () + WAIT_SECONDS * G_TIME_SPAN_SECOND;
  guint readers = 0;
  GstBus *bus;
  GstMessage *msg;

  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, writer_probe, sums, NULL);
  gst_object_unref (pad);
  fail_if (gst_element_set_state (writer, GST_STATE_PAUSED)
           == GST_STATE_CHANGE_FAILURE);
  while (readers == 0) {
    fail_if (g_get_monotonic_time () > end, "no reader connected");
    g_usleep (5000);
    g_object_get (sink, "num-readers", &readers, NULL);
  }
  g_usleep (200000); /* the reader's cursor starts at the next frame */
  fail_if (gst_element_set_state (writer, GST_STATE_PLAYING)
           == GST_STATE_CHANGE_FAILURE);
  bus = gst_element_get_bus (writer);
  msg = gst_bus_timed_pop_filtered (bus, WAIT_SECONDS * GST_SECOND,
                                    GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  fail_unless (msg != NULL, "writer timed out");
  fail_unless_equals_int (GST_MESSAGE_TYPE (msg), GST_MESSAGE_EOS);
  gst_message_unref (msg);
  gst_object_unref (bus);
  return sink;
}

/* Every frame the writer published reached the reader, in order, with the
 * writer's bytes. */
static void
check_frames (Sums *wrote, Sums *read)
{
  gint64 end = g_get_monotonic_time () + WAIT_SECONDS * G_TIME_SPAN_SECOND;
  guint i;

  fail_unless_equals_int (sums_len (wrote), N_FRAMES);
  while (sums_len (read) < N_FRAMES) {
    fail_if (g_get_monotonic_time () > end, "reader got %u of %u frames",
             sums_len (read), N_FRAMES);
    g_usleep (5000);
  }
  g_mutex_lock (&read->lock);
  fail_unless_equals_int (read->sums->len, N_FRAMES);
  for (i = 0; i < N_FRAMES; i++)
    fail_unless (g_array_index (read->sums, guint64, i)
                     == g_array_index (wrote->sums, guint64, i),
                 "frame %u differs", i);
  g_mutex_unlock (&read->lock);
}

static void
check_counters (GstElement *sink, guint64 zero_copy, guint64 copied)
{
  guint64 z = G_MAXUINT64, c = G_MAXUINT64, sz = 0, sc = 0;
  GstStructure *stats = NULL;

  g_object_get (sink, "zero-copy-frames", &z, "copied-frames", &c, "stats",
                &stats, NULL);
  fail_unless (stats != NULL);
  fail_unless (gst_structure_get_uint64 (stats, "zero-copy-frames", &sz));
  fail_unless (gst_structure_get_uint64 (stats, "copied-frames", &sc));
  gst_structure_free (stats);
  fail_unless_equals_uint64 (z, zero_copy);
  fail_unless_equals_uint64 (c, copied);
  fail_unless_equals_uint64 (sz, zero_copy);
  fail_unless_equals_uint64 (sc, copied);
}

/* Stops both pipelines and frees what a test made. */
static void
teardown (GstElement *writer, GstElement *reader, Sums *wrote, Sums *read)
{
  fail_unless_equals_int (gst_element_set_state (writer, GST_STATE_NULL),
                          GST_STATE_CHANGE_SUCCESS);
  fail_unless_equals_int (gst_element_set_state (reader, GST_STATE_NULL),
                          GST_STATE_CHANGE_SUCCESS);
  gst_object_unref (writer);
  gst_object_unref (reader);
  sums_clear (wrote);
  sums_clear (read);
}

GST_START_TEST (test_videotestsrc_writes_into_the_ring)
{
  gchar *path = make_path ("vts");
  gchar *desc = g_strdup_printf (
      "videotestsrc num-buffers=%d pattern=ball ! " RAW_CAPS
      " ! fanoutshmsink name=sink socket-path=%s data-size=16777216",
      N_FRAMES, path);
  Sums wrote, read;
  GstElement *reader, *writer, *sink;

  sums_init (&wrote);
  sums_init (&read);
  reader = reader_start (path, &read);
  writer = gst_parse_launch (desc, NULL);
  fail_unless (writer != NULL);
  sink = writer_run (writer, &wrote);

  check_frames (&wrote, &read);
  /* videotestsrc took the proposed pool: nothing was copied */
  check_counters (sink, N_FRAMES, 0);
  gst_object_unref (sink);

  teardown (writer, reader, &wrote, &read);
  g_free (desc);
  g_free (path);
}

GST_END_TEST;

GST_START_TEST (test_system_memory_is_copied)
{
  gchar *path = make_path ("sys");
  gchar *desc = g_strdup_printf (
      "appsrc name=src format=time caps=" RAW_CAPS
      " ! fanoutshmsink name=sink socket-path=%s data-size=16777216",
      path);
  Sums wrote, read;
  GstElement *reader, *writer, *src, *sink;
  GstFlowReturn ret;
  guint i;

  sums_init (&wrote);
  sums_init (&read);
  reader = reader_start (path, &read);
  writer = gst_parse_launch (desc, NULL);
  fail_unless (writer != NULL);
  src = gst_bin_get_by_name (GST_BIN (writer), "src");
  for (i = 0; i < N_FRAMES; i++) {
    /* the system allocator's memory: not the ring's */
    GstBuffer *buf = gst_buffer_new_allocate (NULL, 320 * 240 * 3 / 2, NULL);
    gst_buffer_memset (buf, 0, (guint8)(i * 7 + 1), 320 * 240 * 3 / 2);
    gst_buffer_fill (buf, 0, &i, sizeof (i));
    GST_BUFFER_PTS (buf) = i * GST_SECOND / 30;
    GST_BUFFER_DURATION (buf) = GST_SECOND / 30;
    g_signal_emit_by_name (src, "push-buffer", buf, &ret);
    gst_buffer_unref (buf);
    fail_unless_equals_int (ret, GST_FLOW_OK);
  }
  g_signal_emit_by_name (src, "end-of-stream", &ret);
  sink = writer_run (writer, &wrote);

  check_frames (&wrote, &read);
  check_counters (sink, 0, N_FRAMES);

  gst_object_unref (sink);
  gst_object_unref (src);
  teardown (writer, reader, &wrote, &read);
  g_free (desc);
  g_free (path);
}

GST_END_TEST;

static Suite *
shmzerocopy_suite (void)
{
  Suite *s = suite_create ("shmzerocopy");
  TCase *tc = tcase_create ("general");

  tcase_set_timeout (tc, 300);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_videotestsrc_writes_into_the_ring);
  tcase_add_test (tc, test_system_memory_is_copied);
  return s;
}

GST_CHECK_MAIN (shmzerocopy);
