/* gst-fanout
 * Copyright (C) 2026 the gst-fanout authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2.1 of the License, or (at your option) any later version.
 */

/* fanoutsink / fanoutsrc: real writer and reader pipelines in one process.
 *
 * Most writers are `appsrc is-live=true ! fanoutsink`, fed by a thread that
 * numbers every buffer (GST_BUFFER_OFFSET) and marks all but every
 * KEY_INTERVAL-th as DELTA_UNIT on non-raw caps, so that a reader can check
 * "keyframe first, then contiguous data" exactly. The force-key-unit test
 * uses videotestsrc ! x264enc. Nothing here asserts timing: waits are on
 * conditions with generous deadlines (a loaded 2-core machine, valgrind). */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>

#include <gst/check/gstcheck.h>
#include <gst/video/video.h>

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define HAVE_VALGRIND_H 1
#endif
#endif
#ifndef HAVE_VALGRIND_H
#define RUNNING_ON_VALGRIND 0
#endif

#define KEY_INTERVAL 10
#define WAIT_SECONDS 120

/* Under valgrind (or FANOUT_TEST_SMALL=1) counts shrink, assertions stay. */
static gboolean
small_run (void)
{
  return RUNNING_ON_VALGRIND || g_getenv ("FANOUT_TEST_SMALL") != NULL;
}

static gint64
make_deadline (void)
{
  return g_get_monotonic_time ()
         + (gint64)WAIT_SECONDS * G_TIME_SPAN_SECOND * (small_run () ? 10 : 1);
}

static void
assert_no_error (GstElement *pipeline)
{
  GstBus *bus = gst_element_get_bus (pipeline);
  GstMessage *msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);

  if (msg) {
    GError *err = NULL;
    gchar *dbg = NULL;

    gst_message_parse_error (msg, &err, &dbg);
    fail ("%s: unexpected error: %s (%s)", GST_OBJECT_NAME (pipeline),
          err->message, dbg ? dbg : "");
  }
  gst_object_unref (bus);
}

/* Waits for a message of @types; NULL on deadline. */
static GstMessage *
wait_message (GstElement *pipeline, GstMessageType types)
{
  GstBus *bus = gst_element_get_bus (pipeline);
  GstMessage *msg = gst_bus_timed_pop_filtered (
      bus, (GstClockTime)WAIT_SECONDS * GST_SECOND * (small_run () ? 10 : 1),
      types);

  gst_object_unref (bus);
  return msg;
}

/* ------------------------------------------------------------------ writer */

typedef struct {
  GstElement *pipeline;
  GstElement *appsrc;
  GstElement *sink;
  GThread *thread;
  gint stop;   /* atomic */
  gint pushed; /* atomic: buffers accepted by appsrc */
  guint64 first_offset;
  guint interval_us;
  gint n_added;   /* atomic: reader-added signals */
  gint n_removed; /* atomic: reader-removed signals */
} Writer;

static void
on_reader_added (GstElement *sink, GstElement *reader, Writer *w)
{
  fail_unless (GST_IS_ELEMENT (reader));
  g_atomic_int_inc (&w->n_added);
}

static void
on_reader_removed (GstElement *sink, GstElement *reader, const gchar *reason,
                   Writer *w)
{
  fail_unless (GST_IS_ELEMENT (reader));
  fail_unless (reason != NULL);
  g_atomic_int_inc (&w->n_removed);
}

static gpointer
writer_thread (gpointer data)
{
  Writer *w = data;
  guint64 n = w->first_offset;

  while (!g_atomic_int_get (&w->stop)) {
    GstBuffer *buf = gst_buffer_new_allocate (NULL, 64, NULL);
    GstFlowReturn ret = GST_FLOW_ERROR;

    gst_buffer_memset (buf, 0, (guint8)n, 64);
    GST_BUFFER_OFFSET (buf) = n;
    if (n % KEY_INTERVAL != 0)
      GST_BUFFER_FLAG_SET (buf, GST_BUFFER_FLAG_DELTA_UNIT);
    g_signal_emit_by_name (w->appsrc, "push-buffer", buf, &ret);
    gst_buffer_unref (buf);
    if (ret != GST_FLOW_OK)
      break;
    n++;
    g_atomic_int_inc (&w->pushed);
    /* pacing of a live source, not synchronisation */
    g_usleep (w->interval_us);
  }
  return NULL;
}

static Writer *
writer_new (const gchar *channel, gint version, guint capacity,
            guint64 first_offset)
{
  Writer *w = g_new0 (Writer, 1);
  gchar *desc = g_strdup_printf (
      "appsrc name=src is-live=true format=time "
      "do-timestamp=true caps=application/x-fanout-test,version=(int)%d "
      "! fanoutsink name=sink channel=%s capacity=%u",
      version, channel, capacity);
  GError *err = NULL;

  w->pipeline = gst_parse_launch (desc, &err);
  fail_unless (w->pipeline != NULL, "%s: %s", desc, err ? err->message : "");
  g_free (desc);
  w->appsrc = gst_bin_get_by_name (GST_BIN (w->pipeline), "src");
  w->sink = gst_bin_get_by_name (GST_BIN (w->pipeline), "sink");
  w->first_offset = first_offset;
  w->interval_us = 2000;
  g_signal_connect (w->sink, "reader-added", G_CALLBACK (on_reader_added), w);
  g_signal_connect (w->sink, "reader-removed", G_CALLBACK (on_reader_removed),
                    w);
  return w;
}

static void
writer_start (Writer *w)
{
  fail_if (gst_element_set_state (w->pipeline, GST_STATE_PLAYING)
           == GST_STATE_CHANGE_FAILURE);
  w->thread = g_thread_new ("writer", writer_thread, w);
}

static void
writer_wait_pushed (Writer *w, gint n)
{
  gint64 end = make_deadline ();

  while (g_atomic_int_get (&w->pushed) < n) {
    fail_if (g_get_monotonic_time () > end, "writer stuck at %d buffers",
             g_atomic_int_get (&w->pushed));
    assert_no_error (w->pipeline);
    g_usleep (5000);
  }
}

/* Stops feeding; with @eos sends EOS and waits for the EOS message. */
static void
writer_stop (Writer *w, gboolean eos)
{
  g_atomic_int_set (&w->stop, 1);
  if (w->thread)
    g_thread_join (w->thread);
  w->thread = NULL;
  if (eos) {
    GstFlowReturn ret;
    GstMessage *msg;

    g_signal_emit_by_name (w->appsrc, "end-of-stream", &ret);
    fail_unless_equals_int (ret, GST_FLOW_OK);
    msg = wait_message (w->pipeline, GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
    fail_unless (msg != NULL);
    fail_unless_equals_int (GST_MESSAGE_TYPE (msg), GST_MESSAGE_EOS);
    gst_message_unref (msg);
  }
  fail_unless_equals_int (gst_element_set_state (w->pipeline, GST_STATE_NULL),
                          GST_STATE_CHANGE_SUCCESS);
}

static void
writer_free (Writer *w)
{
  if (w->thread)
    writer_stop (w, FALSE);
  gst_element_set_state (w->pipeline, GST_STATE_NULL);
  gst_object_unref (w->appsrc);
  gst_object_unref (w->sink);
  ASSERT_OBJECT_REFCOUNT (w->pipeline, "writer", 1);
  gst_object_unref (w->pipeline);
  g_free (w);
}

static guint
writer_num_readers (Writer *w)
{
  guint n = 0;

  g_object_get (w->sink, "num-readers", &n, NULL);
  return n;
}

/* ------------------------------------------------------------------ reader */

typedef struct {
  GstElement *pipeline;
  GstElement *src;
  GstElement *sink;
  GMutex lock;
  GCond cond;
  /* guarded by lock */
  guint n_buffers;
  guint64 first_offset;
  guint64 last_offset;
  gboolean first_was_key;
  gboolean caps_before_data;
  gboolean segment_before_data;
  gboolean have_caps;
  gboolean have_segment;
  guint gaps;     /* non-contiguous offsets, not at a restart */
  guint restarts; /* offset jumps after new caps */
  guint discont_after_first;
  guint n_eos;
  guint n_caps;
  gint caps_versions[8];
  GstFormat segment_format;
  GstClockTime first_pts;
  GstClockTime last_pts;
  gboolean pts_backwards;
  gboolean new_caps_pending;
  GList *events_after_eos; /* event types seen after an EOS */
} Reader;

static GstPadProbeReturn
reader_probe (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  Reader *r = data;

  g_mutex_lock (&r->lock);
  if (GST_PAD_PROBE_INFO_TYPE (info) & GST_PAD_PROBE_TYPE_BUFFER) {
    GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info);
    guint64 off = GST_BUFFER_OFFSET (buf);

    if (r->n_buffers == 0) {
      r->first_offset = off;
      r->first_was_key
          = !GST_BUFFER_FLAG_IS_SET (buf, GST_BUFFER_FLAG_DELTA_UNIT);
      r->caps_before_data = r->have_caps;
      r->segment_before_data = r->have_segment;
      r->first_pts = GST_BUFFER_PTS (buf);
    } else {
      if (GST_BUFFER_FLAG_IS_SET (buf, GST_BUFFER_FLAG_DISCONT)
          && !r->new_caps_pending)
        r->discont_after_first++;
      if (off != r->last_offset + 1) {
        if (r->new_caps_pending
            && !GST_BUFFER_FLAG_IS_SET (buf, GST_BUFFER_FLAG_DELTA_UNIT))
          r->restarts++;
        else
          r->gaps++;
      }
      if (GST_BUFFER_PTS_IS_VALID (buf) && GST_CLOCK_TIME_IS_VALID (r->last_pts)
          && GST_BUFFER_PTS (buf) < r->last_pts)
        r->pts_backwards = TRUE;
    }
    r->new_caps_pending = FALSE;
    r->last_offset = off;
    r->last_pts = GST_BUFFER_PTS (buf);
    r->n_buffers++;
  } else {
    GstEvent *ev = GST_PAD_PROBE_INFO_EVENT (info);

    if (r->n_eos > 0)
      r->events_after_eos = g_list_append (
          r->events_after_eos, GINT_TO_POINTER (GST_EVENT_TYPE (ev)));
    switch (GST_EVENT_TYPE (ev)) {
    case GST_EVENT_CAPS: {
      GstCaps *caps;
      gint v = 0;

      gst_event_parse_caps (ev, &caps);
      gst_structure_get_int (gst_caps_get_structure (caps, 0), "version", &v);
      if (r->n_caps < G_N_ELEMENTS (r->caps_versions))
        r->caps_versions[r->n_caps] = v;
      r->n_caps++;
      r->have_caps = TRUE;
      if (r->n_buffers > 0)
        r->new_caps_pending = TRUE;
      break;
    }
    case GST_EVENT_SEGMENT: {
      const GstSegment *seg;

      gst_event_parse_segment (ev, &seg);
      r->segment_format = seg->format;
      r->have_segment = TRUE;
      break;
    }
    case GST_EVENT_EOS:
      r->n_eos++;
      break;
    default:
      break;
    }
  }
  g_cond_broadcast (&r->cond);
  g_mutex_unlock (&r->lock);
  return GST_PAD_PROBE_OK;
}

/* @sink: a sink description ("fakesink sync=false" when NULL). */
static Reader *
reader_new (const gchar *channel, const gchar *props, const gchar *sink)
{
  Reader *r = g_new0 (Reader, 1);
  gchar *desc = g_strdup_printf ("fanoutsrc name=src channel=%s %s ! %s "
                                 "name=sink",
                                 channel, props ? props : "",
                                 sink ? sink : "fakesink sync=false");
  GError *err = NULL;
  GstPad *pad;

  r->pipeline = gst_parse_launch (desc, &err);
  fail_unless (r->pipeline != NULL, "%s: %s", desc, err ? err->message : "");
  g_free (desc);
  r->src = gst_bin_get_by_name (GST_BIN (r->pipeline), "src");
  r->sink = gst_bin_get_by_name (GST_BIN (r->pipeline), "sink");
  g_mutex_init (&r->lock);
  g_cond_init (&r->cond);
  r->last_pts = GST_CLOCK_TIME_NONE;
  r->first_pts = GST_CLOCK_TIME_NONE;
  pad = gst_element_get_static_pad (r->src, "src");
  gst_pad_add_probe (
      pad, GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM,
      reader_probe, r, NULL);
  gst_object_unref (pad);
  return r;
}

static void
reader_start (Reader *r)
{
  GstStateChangeReturn ret
      = gst_element_set_state (r->pipeline, GST_STATE_PLAYING);

  /* a live source: no preroll */
  fail_unless (ret == GST_STATE_CHANGE_SUCCESS
                   || ret == GST_STATE_CHANGE_NO_PREROLL
                   || ret == GST_STATE_CHANGE_ASYNC,
               "state change returned %d", ret);
}

/* Waits until @r received @n buffers in total. */
static void
reader_wait_buffers (Reader *r, guint n)
{
  gint64 end = make_deadline ();

  g_mutex_lock (&r->lock);
  while (r->n_buffers < n) {
    if (!g_cond_wait_until (&r->cond, &r->lock, end))
      fail ("%s: %u buffers of %u", GST_OBJECT_NAME (r->pipeline), r->n_buffers,
            n);
  }
  g_mutex_unlock (&r->lock);
}

/* Waits until @r received a buffer with offset >= @off. */
static void
reader_wait_offset (Reader *r, guint64 off)
{
  gint64 end = make_deadline ();

  g_mutex_lock (&r->lock);
  while (r->n_buffers == 0 || r->last_offset < off) {
    if (!g_cond_wait_until (&r->cond, &r->lock, end))
      fail ("%s: at offset %" G_GUINT64_FORMAT
            ", waiting for %" G_GUINT64_FORMAT,
            GST_OBJECT_NAME (r->pipeline), r->last_offset, off);
  }
  g_mutex_unlock (&r->lock);
}

static void
reader_free (Reader *r)
{
  fail_unless_equals_int (gst_element_set_state (r->pipeline, GST_STATE_NULL),
                          GST_STATE_CHANGE_SUCCESS);
  gst_object_unref (r->src);
  gst_object_unref (r->sink);
  ASSERT_OBJECT_REFCOUNT (r->pipeline, "reader", 1);
  gst_object_unref (r->pipeline);
  g_list_free (r->events_after_eos);
  g_mutex_clear (&r->lock);
  g_cond_clear (&r->cond);
  g_free (r);
}

/* Keyframe first (preceded by caps and segment), then contiguous data. */
static void
assert_clean_start (Reader *r)
{
  g_mutex_lock (&r->lock);
  fail_unless (r->n_buffers > 0);
  fail_unless (r->first_was_key,
               "first buffer (offset %" G_GUINT64_FORMAT ") is a delta unit",
               r->first_offset);
  fail_unless_equals_int (r->first_offset % KEY_INTERVAL, 0);
  fail_unless (r->caps_before_data);
  fail_unless (r->segment_before_data);
  fail_unless_equals_int (r->gaps, 0);
  fail_unless_equals_int (r->discont_after_first, 0);
  fail_if (r->pts_backwards);
  g_mutex_unlock (&r->lock);
}

/* ------------------------------------------------------------------- tests */

GST_START_TEST (test_properties)
{
  GstElement *sink = gst_element_factory_make ("fanoutsink", NULL);
  GstElement *src = gst_element_factory_make ("fanoutsrc", NULL);
  guint capacity, n;
  GstClockTime t;
  gboolean b;
  gint e;
  GstStructure *s;

  fail_unless (sink != NULL);
  fail_unless (src != NULL);

  g_object_get (sink, "capacity", &capacity, "num-readers", &n, "max-lag-time",
                &t, "stats", &s, NULL);
  fail_unless_equals_int (capacity, 1024);
  fail_unless_equals_int (n, 0);
  fail_unless_equals_uint64 (t, GST_CLOCK_TIME_NONE);
  fail_unless (s != NULL);
  gst_structure_free (s);

  g_object_get (src, "is-live", &b, NULL);
  fail_unless (b);
  g_object_get (src, "wait-timeout", &t, NULL);
  fail_unless_equals_uint64 (t, GST_CLOCK_TIME_NONE);
  g_object_get (src, "eos-on-writer-eos", &b, NULL);
  fail_unless (b);
  g_object_get (src, "lag-policy", &e, NULL);
  fail_unless_equals_int (e, 0); /* drop-to-keyframe */
  g_object_get (src, "start-position", &e, NULL);
  fail_unless_equals_int (e, 0); /* latest-keyframe */
  g_object_get (src, "timestamp-mode", &e, NULL);
  fail_unless_equals_int (e, 0); /* running-time */

  /* no channel: a clear state change failure, not a crash */
  fail_unless_equals_int (gst_element_set_state (sink, GST_STATE_READY),
                          GST_STATE_CHANGE_FAILURE);
  fail_unless_equals_int (gst_element_set_state (src, GST_STATE_READY),
                          GST_STATE_CHANGE_FAILURE);
  gst_element_set_state (sink, GST_STATE_NULL);
  gst_element_set_state (src, GST_STATE_NULL);
  gst_object_unref (sink);
  gst_object_unref (src);
}

GST_END_TEST;

GST_START_TEST (test_late_readers_start_on_keyframe)
{
  Writer *w = writer_new ("late", 1, 1024, 0);
  Reader *r[3];
  guint want = small_run () ? 30 : 60;
  gint i;
  GstQuery *q;
  gboolean live;

  writer_start (w);
  for (i = 0; i < 3; i++) {
    /* each reader joins at another point of the stream, mid-GOP or not */
    writer_wait_pushed (w, 7 + i * 23);
    r[i] = reader_new ("late", NULL, NULL);
    reader_start (r[i]);
  }
  for (i = 0; i < 3; i++)
    reader_wait_buffers (r[i], want);

  fail_unless_equals_int (writer_num_readers (w), 3);
  fail_unless_equals_int (g_atomic_int_get (&w->n_added), 3);
  for (i = 0; i < 3; i++) {
    guint64 pushed, dropped;

    assert_clean_start (r[i]);
    g_mutex_lock (&r[i]->lock);
    fail_unless_equals_int (r[i]->segment_format, GST_FORMAT_TIME);
    g_mutex_unlock (&r[i]->lock);
    g_object_get (r[i]->src, "pushed", &pushed, "dropped", &dropped, NULL);
    /* the probe counts a buffer before its push returns */
    fail_unless (pushed + 1 >= want);
    fail_unless_equals_uint64 (dropped, 0);

    /* answered as a live source */
    q = gst_query_new_latency ();
    {
      GstPad *pad = gst_element_get_static_pad (r[i]->src, "src");

      fail_unless (gst_pad_query (pad, q));
      gst_object_unref (pad);
    }
    gst_query_parse_latency (q, &live, NULL, NULL);
    fail_unless (live);
    gst_query_unref (q);
    assert_no_error (r[i]->pipeline);
  }

  {
    GstStructure *s = NULL;

    g_object_get (w->sink, "stats", &s, NULL);
    fail_unless (s != NULL);
    fail_unless (gst_structure_has_field (s, "num-readers"));
    gst_structure_free (s);
  }

  for (i = 0; i < 3; i++)
    reader_free (r[i]);
  fail_unless_equals_int (writer_num_readers (w), 0);
  fail_unless_equals_int (g_atomic_int_get (&w->n_removed), 3);
  assert_no_error (w->pipeline);
  writer_stop (w, TRUE);
  writer_free (w);
}

GST_END_TEST;

GST_START_TEST (test_reader_before_writer)
{
  Reader *r = reader_new ("early", NULL, NULL);
  Writer *w;

  reader_start (r);
  /* it waits (no data, no error) until a writer comes */
  assert_no_error (r->pipeline);

  w = writer_new ("early", 1, 1024, 3); /* the stream starts mid-GOP */
  writer_start (w);
  fail_unless_equals_int (writer_num_readers (w), 1);
  reader_wait_buffers (r, 30);
  assert_clean_start (r);
  reader_free (r);
  writer_stop (w, FALSE);
  writer_free (w);
}

GST_END_TEST;

GST_START_TEST (test_wait_timeout)
{
  Reader *r = reader_new ("nobody", "wait-timeout=1200000000", NULL);
  GstMessage *msg;
  GError *err = NULL;
  gchar *dbg = NULL;

  reader_start (r);
  /* one warning when the wait passes a second, then the error */
  msg = wait_message (r->pipeline, GST_MESSAGE_WARNING | GST_MESSAGE_ERROR);
  fail_unless (msg != NULL);
  fail_unless_equals_int (GST_MESSAGE_TYPE (msg), GST_MESSAGE_WARNING);
  gst_message_parse_warning (msg, &err, &dbg);
  fail_unless (strstr (err->message, "nobody") != NULL, "%s", err->message);
  g_clear_error (&err);
  g_free (dbg);
  gst_message_unref (msg);

  msg = wait_message (r->pipeline, GST_MESSAGE_WARNING | GST_MESSAGE_ERROR);
  fail_unless (msg != NULL);
  fail_unless_equals_int (GST_MESSAGE_TYPE (msg), GST_MESSAGE_ERROR);
  gst_message_parse_error (msg, &err, &dbg);
  fail_unless (strstr (err->message, "nobody") != NULL, "%s", err->message);
  g_clear_error (&err);
  g_free (dbg);
  gst_message_unref (msg);

  reader_free (r);
}

GST_END_TEST;

GST_START_TEST (test_writer_restart_with_new_caps)
{
  Reader *keep = reader_new ("restart", "eos-on-writer-eos=false", NULL);
  Reader *end = reader_new ("restart", NULL, NULL);
  Writer *w;
  GstMessage *msg;
  GstBus *bus;

  reader_start (keep);
  reader_start (end);

  w = writer_new ("restart", 1, 1024, 0);
  writer_start (w);
  writer_wait_pushed (w, 30);
  reader_wait_buffers (keep, 20);
  reader_wait_buffers (end, 20);
  /* the writer ends its stream, then its pipeline goes to NULL */
  writer_stop (w, TRUE);
  writer_free (w);

  /* the default reader posts EOS after all its data */
  msg = wait_message (end->pipeline, GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  fail_unless (msg != NULL);
  fail_unless_equals_int (GST_MESSAGE_TYPE (msg), GST_MESSAGE_EOS);
  gst_message_unref (msg);
  g_mutex_lock (&end->lock);
  fail_unless_equals_int (end->n_eos, 1);
  fail_unless_equals_int (end->gaps, 0);
  g_mutex_unlock (&end->lock);

  /* a new writer with new caps; the other reader goes on */
  w = writer_new ("restart", 2, 1024, 1000);
  writer_start (w);
  reader_wait_offset (keep, 1040);
  writer_stop (w, FALSE);
  writer_free (w);

  g_mutex_lock (&keep->lock);
  fail_unless_equals_int (keep->n_eos, 0);
  fail_unless_equals_int (keep->gaps, 0);
  fail_unless_equals_int (keep->restarts, 1);
  fail_unless (keep->n_caps >= 2);
  fail_unless_equals_int (keep->caps_versions[0], 1);
  fail_unless_equals_int (keep->caps_versions[keep->n_caps - 1], 2);
  fail_unless (keep->first_was_key);
  g_mutex_unlock (&keep->lock);
  bus = gst_element_get_bus (keep->pipeline);
  fail_if (gst_bus_have_pending (bus)
           && (msg = gst_bus_pop_filtered (bus, GST_MESSAGE_EOS)) != NULL);
  gst_object_unref (bus);
  assert_no_error (keep->pipeline);

  reader_free (keep);
  reader_free (end);
}

GST_END_TEST;

GST_START_TEST (test_second_writer_rejected)
{
  Writer *w1 = writer_new ("dup", 1, 64, 0);
  Writer *w2 = writer_new ("dup", 1, 64, 0);
  GstMessage *msg;
  GError *err = NULL;
  gchar *dbg = NULL;

  writer_start (w1);
  writer_wait_pushed (w1, 5);

  fail_unless_equals_int (
      gst_element_set_state (w2->pipeline, GST_STATE_PLAYING),
      GST_STATE_CHANGE_FAILURE);
  msg = wait_message (w2->pipeline, GST_MESSAGE_ERROR);
  fail_unless (msg != NULL);
  gst_message_parse_error (msg, &err, &dbg);
  fail_unless (strstr (err->message, "dup") != NULL, "%s", err->message);
  g_clear_error (&err);
  g_free (dbg);
  gst_message_unref (msg);
  gst_element_set_state (w2->pipeline, GST_STATE_NULL);
  assert_no_error (w1->pipeline);

  /* once the first writer is gone, the channel is free again */
  writer_stop (w1, FALSE);
  writer_free (w1);
  writer_start (w2);
  writer_wait_pushed (w2, 5);
  writer_stop (w2, FALSE);
  writer_free (w2);
}

GST_END_TEST;

GST_START_TEST (test_blocked_reader_does_not_slow_others)
{
  const guint capacity = 32;
  Writer *w = writer_new ("blocked", 1, capacity, 0);
  /* never pulled: its streaming thread blocks after max-buffers */
  Reader *stuck = reader_new (
      "blocked", NULL,
      "appsink sync=false max-buffers=1 drop=false emit-signals=false");
  /* lossless (the writer waits for it), so that its "got everything" does
   * not depend on the scheduling of a loaded machine */
  Reader *fast = reader_new ("blocked", "lag-policy=block", NULL);
  guint want = 20 * capacity;
  guint64 dropped = 0;
  GstSample *sample;
  gint i;

  w->interval_us = 1000;
  writer_start (w);
  reader_start (stuck);
  reader_start (fast);
  reader_wait_buffers (stuck, 2);

  /* the writer goes on far past a full ring while the stuck reader holds
   * its place: the writer never waits for it; the other reader gets all */
  writer_wait_pushed (w, want);
  reader_wait_buffers (fast, want - 2 * capacity);
  assert_clean_start (fast);
  g_object_get (fast->src, "dropped", &dropped, NULL);
  fail_unless_equals_uint64 (dropped, 0);

  /* unblock: the stuck reader resyncs on a keyframe, DISCONT, counted */
  for (i = 0; i < 5; i++) {
    g_signal_emit_by_name (stuck->sink, "pull-sample", &sample);
    fail_unless (sample != NULL);
    gst_sample_unref (sample);
  }
  g_mutex_lock (&stuck->lock);
  fail_unless (stuck->gaps > 0);
  fail_unless (stuck->discont_after_first > 0);
  g_mutex_unlock (&stuck->lock);
  g_object_get (stuck->src, "dropped", &dropped, NULL);
  fail_unless (dropped > 0);

  assert_no_error (w->pipeline);
  assert_no_error (fast->pipeline);
  reader_free (stuck);
  reader_free (fast);
  writer_stop (w, FALSE);
  writer_free (w);
}

GST_END_TEST;

/* lag-policy=disconnect: a lapped reader ends (warning, EOS) and the writer
 * announces it with reader-removed; the others go on. */
GST_START_TEST (test_disconnect_policy)
{
  const guint capacity = 32;
  Writer *w = writer_new ("disc", 1, capacity, 0);
  Reader *stuck = reader_new (
      "disc", "lag-policy=disconnect",
      "appsink sync=false max-buffers=1 drop=false emit-signals=false");
  GstMessage *msg;
  GstSample *sample;

  w->interval_us = 1000;
  writer_start (w);
  reader_start (stuck);
  reader_wait_buffers (stuck, 2);
  fail_unless_equals_int (writer_num_readers (w), 1);
  writer_wait_pushed (w, 4 * capacity + g_atomic_int_get (&w->pushed));

  /* unblock it: its next read finds itself lapped */
  g_signal_emit_by_name (stuck->sink, "pull-sample", &sample);
  fail_unless (sample != NULL);
  gst_sample_unref (sample);
  msg = wait_message (stuck->pipeline, GST_MESSAGE_WARNING);
  fail_unless (msg != NULL);
  gst_message_unref (msg);
  g_mutex_lock (&stuck->lock);
  while (stuck->n_eos == 0)
    fail_unless (
        g_cond_wait_until (&stuck->cond, &stuck->lock, make_deadline ()));
  g_mutex_unlock (&stuck->lock);
  fail_unless_equals_int (g_atomic_int_get (&w->n_removed), 1);
  fail_unless_equals_int (writer_num_readers (w), 0);

  reader_free (stuck);
  /* it had left already: no second reader-removed */
  fail_unless_equals_int (g_atomic_int_get (&w->n_removed), 1);
  assert_no_error (w->pipeline);
  writer_stop (w, FALSE);
  writer_free (w);
}

GST_END_TEST;

GST_START_TEST (test_many_reader_pipelines)
{
  Writer *w = writer_new ("many", 1, 64, 0);
  guint total = small_run () ? 20 : 200;
  guint batch = 10, done = 0;
  Reader *r[10];
  guint i;

  w->interval_us = 1000;
  writer_start (w);
  writer_wait_pushed (w, 5);
  while (done < total) {
    for (i = 0; i < batch; i++) {
      r[i] = reader_new ("many", i % 2 ? "start-position=latest" : NULL, NULL);
      reader_start (r[i]);
    }
    for (i = 0; i < batch; i++) {
      /* every third one is torn down without waiting for data */
      if ((done + i) % 3 != 0)
        reader_wait_buffers (r[i], 2);
    }
    for (i = 0; i < batch; i++) {
      assert_no_error (r[i]->pipeline);
      reader_free (r[i]);
    }
    done += batch;
  }
  fail_unless_equals_int (writer_num_readers (w), 0);
  fail_unless_equals_int (g_atomic_int_get (&w->n_added), total);
  fail_unless_equals_int (g_atomic_int_get (&w->n_removed), total);
  /* and the writer is still running */
  i = g_atomic_int_get (&w->pushed);
  writer_wait_pushed (w, i + 5);
  assert_no_error (w->pipeline);
  writer_stop (w, FALSE);
  writer_free (w);
}

GST_END_TEST;

static GstPadProbeReturn
count_keyframes (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info);

  if (!GST_BUFFER_FLAG_IS_SET (buf, GST_BUFFER_FLAG_DELTA_UNIT))
    g_atomic_int_inc ((gint *)data);
  g_atomic_int_inc ((gint *)data + 1);
  return GST_PAD_PROBE_OK;
}

static GstPadProbeReturn
count_fku (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  GstEvent *ev = GST_PAD_PROBE_INFO_EVENT (info);

  if (gst_video_event_is_force_key_unit (ev))
    g_atomic_int_inc ((gint *)data);
  return GST_PAD_PROBE_OK;
}

GST_START_TEST (test_force_key_unit_crosses_channel)
{
  /* a GOP far longer than the test, and a ring too small to hold the
   * first keyframe by the time the reader joins */
  GstElement *wp = gst_parse_launch (
      "videotestsrc is-live=true "
      "! video/x-raw,width=64,height=48,framerate=30/1 "
      "! x264enc name=enc tune=zerolatency speed-preset=ultrafast "
      "key-int-max=100000 ! fanoutsink name=sink channel=fku capacity=8",
      NULL);
  GstElement *sink = gst_bin_get_by_name (GST_BIN (wp), "sink");
  GstPad *pad = gst_element_get_static_pad (sink, "sink");
  gint counts[2] = { 0, 0 }; /* keyframes, buffers at the writer */
  gint fku = 0;
  gint64 end = make_deadline ();
  Reader *r;

  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, count_keyframes, counts,
                     NULL);
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_EVENT_UPSTREAM, count_fku, &fku,
                     NULL);
  fail_if (gst_element_set_state (wp, GST_STATE_PLAYING)
           == GST_STATE_CHANGE_FAILURE);
  while (g_atomic_int_get (&counts[1]) < 20) {
    fail_if (g_get_monotonic_time () > end);
    assert_no_error (wp);
    g_usleep (10000);
  }
  fail_unless_equals_int (g_atomic_int_get (&counts[0]), 1);

  r = reader_new ("fku", NULL, NULL);
  reader_start (r);
  reader_wait_buffers (r, 3);
  g_mutex_lock (&r->lock);
  fail_unless (r->first_was_key);
  g_mutex_unlock (&r->lock);
  fail_unless (g_atomic_int_get (&fku) >= 1);
  fail_unless (g_atomic_int_get (&counts[0]) >= 2);
  assert_no_error (wp);
  assert_no_error (r->pipeline);

  reader_free (r);
  gst_element_set_state (wp, GST_STATE_NULL);
  gst_object_unref (pad);
  gst_object_unref (sink);
  gst_object_unref (wp);
}

GST_END_TEST;

typedef struct {
  GMutex lock;
  GHashTable *pts;       /* offset + 1 -> pts, or running time */
  gboolean running_time; /* store running times (from the segment) */
  GstSegment segment;
} PtsLog;

static GstPadProbeReturn
record_pts (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  PtsLog *log = data;

  g_mutex_lock (&log->lock);
  if (GST_PAD_PROBE_INFO_TYPE (info) & GST_PAD_PROBE_TYPE_BUFFER) {
    GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info);
    GstClockTime t = GST_BUFFER_PTS (buf);

    if (log->running_time)
      t = gst_segment_to_running_time (&log->segment, GST_FORMAT_TIME, t);
    /* offsets are small: store by offset */
    g_hash_table_insert (log->pts,
                         GUINT_TO_POINTER ((guint)GST_BUFFER_OFFSET (buf) + 1),
                         g_memdup2 (&t, sizeof (GstClockTime)));
  } else {
    GstEvent *ev = GST_PAD_PROBE_INFO_EVENT (info);

    if (GST_EVENT_TYPE (ev) == GST_EVENT_SEGMENT)
      gst_event_copy_segment (ev, &log->segment);
  }
  g_mutex_unlock (&log->lock);
  return GST_PAD_PROBE_OK;
}

static void
pts_log_init (PtsLog *log, gboolean running_time, GstElement *element,
              const gchar *pad_name)
{
  GstPad *pad = gst_element_get_static_pad (element, pad_name);

  g_mutex_init (&log->lock);
  log->pts = g_hash_table_new_full (NULL, NULL, NULL, g_free);
  log->running_time = running_time;
  gst_segment_init (&log->segment, GST_FORMAT_TIME);
  gst_pad_add_probe (
      pad, GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM,
      record_pts, log, NULL);
  gst_object_unref (pad);
}

static void
pts_log_clear (PtsLog *log)
{
  g_hash_table_unref (log->pts);
  g_mutex_clear (&log->lock);
}

/* running-time: same spacing as the writer, shifted into this pipeline's
 * running time; passthrough: the writer's timestamps. */
GST_START_TEST (test_timestamp_modes)
{
  Writer *w = writer_new ("ts", 1, 1024, 0);
  Reader *rt = reader_new ("ts", NULL, NULL);
  Reader *pt = reader_new ("ts", "timestamp-mode=passthrough", NULL);
  PtsLog wlog, rlog, plog;
  GHashTableIter it;
  gpointer k, v;
  gboolean have_offset = FALSE;
  GstClockTimeDiff offset = 0;
  guint checked = 0;

  pts_log_init (&wlog, TRUE, w->sink, "sink");
  pts_log_init (&rlog, TRUE, rt->src, "src");
  pts_log_init (&plog, FALSE, pt->src, "src");

  writer_start (w);
  writer_wait_pushed (w, 15);
  reader_start (rt);
  reader_start (pt);
  reader_wait_buffers (rt, 30);
  reader_wait_buffers (pt, 30);
  assert_clean_start (rt);
  assert_clean_start (pt);
  /* stop the readers before reading their logs */
  gst_element_set_state (rt->pipeline, GST_STATE_NULL);
  gst_element_set_state (pt->pipeline, GST_STATE_NULL);

  g_mutex_lock (&wlog.lock);
  g_hash_table_iter_init (&it, rlog.pts);
  while (g_hash_table_iter_next (&it, &k, &v)) {
    GstClockTime *wrt = g_hash_table_lookup (wlog.pts, k);
    GstClockTime *ppts = g_hash_table_lookup (plog.pts, k);
    GstClockTime rrt = *(GstClockTime *)v;

    fail_unless (wrt != NULL);
    fail_unless (GST_CLOCK_TIME_IS_VALID (rrt));
    /* the reader's running time = the writer's + one constant offset */
    if (!have_offset) {
      offset = GST_CLOCK_DIFF (*wrt, rrt);
      have_offset = TRUE;
    }
    fail_unless_equals_int64 (GST_CLOCK_DIFF (*wrt, rrt), offset);
    /* passthrough: the writer's timestamps (its segment starts at 0) */
    if (ppts)
      fail_unless_equals_uint64 (*ppts, *wrt);
    checked++;
  }
  g_mutex_unlock (&wlog.lock);
  fail_unless (checked >= 30);

  reader_free (rt);
  reader_free (pt);
  writer_stop (w, FALSE);
  writer_free (w);
  pts_log_clear (&wlog);
  pts_log_clear (&rlog);
  pts_log_clear (&plog);
}

GST_END_TEST;

/* ------------------------------------------------------ timestamp-mode=clock
 *
 * Real pipelines on the system clock, each with its own base time: writers
 * `videotestsrc is-live=true ! fanoutsink`, readers `fanoutsrc ! fakesink`.
 * A probe logs every buffer with its running time (signed: in clock mode a
 * buffer captured before the reader's pipeline started is negative) and the
 * caps width in force (which writer it came from). The checks are
 * arithmetic on the logged values, never on how long anything took. */

typedef struct {
  GstClockTime pts;
  gint sign; /* of the running time, 0: none */
  GstClockTime rt;
  gint width;
} TsRec;

typedef struct {
  GstElement *pipeline;
  GMutex lock;
  GCond cond;
  GstSegment segment; /* in force */
  gint width;         /* of the caps in force */
  GArray *recs;       /* TsRec */
  GstClockTime base;  /* the pipeline's base time, once PLAYING */
} TsPipe;

static GstPadProbeReturn
ts_probe (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  TsPipe *p = data;

  g_mutex_lock (&p->lock);
  if (GST_PAD_PROBE_INFO_TYPE (info) & GST_PAD_PROBE_TYPE_BUFFER) {
    GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info);
    TsRec rec = { GST_BUFFER_PTS (buf), 0, GST_CLOCK_TIME_NONE, p->width };

    if (p->segment.format == GST_FORMAT_TIME
        && GST_CLOCK_TIME_IS_VALID (rec.pts))
      rec.sign = gst_segment_to_running_time_full (&p->segment, GST_FORMAT_TIME,
                                                   rec.pts, &rec.rt);
    g_array_append_val (p->recs, rec);
    g_cond_broadcast (&p->cond);
  } else {
    GstEvent *ev = GST_PAD_PROBE_INFO_EVENT (info);

    if (GST_EVENT_TYPE (ev) == GST_EVENT_SEGMENT) {
      gst_event_copy_segment (ev, &p->segment);
    } else if (GST_EVENT_TYPE (ev) == GST_EVENT_CAPS) {
      GstCaps *caps;

      gst_event_parse_caps (ev, &caps);
      gst_structure_get_int (gst_caps_get_structure (caps, 0), "width",
                             &p->width);
    }
  }
  g_mutex_unlock (&p->lock);
  return GST_PAD_PROBE_OK;
}

/* @desc names the probed element "probed"; its pad @pad_name is logged. */
static TsPipe *
ts_pipe_new (const gchar *desc, const gchar *pad_name)
{
  TsPipe *p = g_new0 (TsPipe, 1);
  GError *err = NULL;
  GstElement *e;
  GstPad *pad;

  p->pipeline = gst_parse_launch (desc, &err);
  fail_unless (p->pipeline != NULL && err == NULL, "%s: %s", desc,
               err ? err->message : "");
  g_mutex_init (&p->lock);
  g_cond_init (&p->cond);
  gst_segment_init (&p->segment, GST_FORMAT_UNDEFINED);
  p->recs = g_array_new (FALSE, FALSE, sizeof (TsRec));
  p->base = GST_CLOCK_TIME_NONE;
  e = gst_bin_get_by_name (GST_BIN (p->pipeline), "probed");
  fail_unless (e != NULL);
  pad = gst_element_get_static_pad (e, pad_name);
  gst_pad_add_probe (
      pad, GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM,
      ts_probe, p, NULL);
  gst_object_unref (pad);
  gst_object_unref (e);
  return p;
}

static TsPipe *
ts_writer_new (const gchar *channel, gint width)
{
  gchar *desc = g_strdup_printf (
      "videotestsrc is-live=true ! video/x-raw,format=I420,width=%d,"
      "height=48,framerate=30/1 ! fanoutsink name=probed channel=%s",
      width, channel);
  TsPipe *p = ts_pipe_new (desc, "sink");

  g_free (desc);
  return p;
}

static TsPipe *
ts_reader_new (const gchar *channel, const gchar *props)
{
  gchar *desc = g_strdup_printf (
      "fanoutsrc name=probed channel=%s %s ! fakesink sync=false", channel,
      props);
  TsPipe *p = ts_pipe_new (desc, "src");

  g_free (desc);
  return p;
}

static void
ts_pipe_play (TsPipe *p)
{
  fail_unless (gst_element_set_state (p->pipeline, GST_STATE_PLAYING)
               != GST_STATE_CHANGE_FAILURE);
  fail_unless (
      gst_element_get_state (p->pipeline, NULL, NULL, GST_CLOCK_TIME_NONE)
      != GST_STATE_CHANGE_FAILURE);
  p->base = gst_element_get_base_time (p->pipeline);
  fail_unless (GST_CLOCK_TIME_IS_VALID (p->base));
}

/* Waits until @p logged @n buffers of caps width @width (0: any). */
static void
ts_pipe_wait (TsPipe *p, gint width, guint n)
{
  gint64 deadline = make_deadline ();

  g_mutex_lock (&p->lock);
  for (;;) {
    guint have = 0;

    for (guint i = 0; i < p->recs->len; i++)
      if (!width || g_array_index (p->recs, TsRec, i).width == width)
        have++;
    if (have >= n)
      break;
    if (!g_cond_wait_until (&p->cond, &p->lock, deadline))
      fail ("%s: %u of %u buffers (width %d) before the deadline",
            GST_OBJECT_NAME (p->pipeline), have, n, width);
  }
  g_mutex_unlock (&p->lock);
}

static void
ts_pipe_free (TsPipe *p)
{
  if (p->pipeline) {
    assert_no_error (p->pipeline);
    gst_element_set_state (p->pipeline, GST_STATE_NULL);
    gst_object_unref (p->pipeline);
  }
  g_array_unref (p->recs);
  g_cond_clear (&p->cond);
  g_mutex_clear (&p->lock);
  g_free (p);
}

/* Stops @p's pipeline (its log stays readable). */
static void
ts_pipe_stop (TsPipe *p)
{
  assert_no_error (p->pipeline);
  gst_element_set_state (p->pipeline, GST_STATE_NULL);
  gst_object_unref (p->pipeline);
  p->pipeline = NULL;
}

static gint64
ts_signed_rt (const TsRec *r)
{
  fail_unless (r->sign != 0, "a buffer without running time");
  return r->sign > 0 ? (gint64)r->rt : -(gint64)r->rt;
}

/* (reader running time + reader base time) - (writer running time + writer
 * base time) of reader record @r, which writer @w wrote. */
static GstClockTimeDiff
ts_clock_error (const TsPipe *reader, const TsRec *r, const TsPipe *w)
{
  GstClockTime wrt
      = gst_segment_to_running_time (&w->segment, GST_FORMAT_TIME, r->pts);

  fail_unless (GST_CLOCK_TIME_IS_VALID (wrt));
  return ts_signed_rt (r) + (gint64)reader->base
         - ((gint64)wrt + (gint64)w->base);
}

/* Every buffer of @reader's log from writer @w (by caps width) carries its
 * writer's clock time; returns how many were checked. */
static guint
ts_assert_clock_mapped (TsPipe *reader, TsPipe *w)
{
  guint checked = 0;

  g_mutex_lock (&reader->lock);
  for (guint i = 0; i < reader->recs->len; i++) {
    const TsRec *r = &g_array_index (reader->recs, TsRec, i);
    GstClockTimeDiff err;

    if (r->width != w->width)
      continue;
    err = ts_clock_error (reader, r, w);
    fail_unless (ABS (err) <= GST_MSECOND,
                 "buffer %u (pts %" GST_TIME_FORMAT ") is %" GST_STIME_FORMAT
                 " off its writer's clock time",
                 i, GST_TIME_ARGS (r->pts), GST_STIME_ARGS (err));
    checked++;
  }
  g_mutex_unlock (&reader->lock);
  return checked;
}

/* Two clock-mode readers started at different moments (so with other base
 * times) stamp every buffer with the writer's clock time; a default-mode
 * reader does not (it plays its first buffer "now", here one captured long
 * before: start-position=oldest). */
GST_START_TEST (test_clock_mode_maps_through_clock_time)
{
  TsPipe *w = ts_writer_new ("clk", 64);
  TsPipe *r1 = ts_reader_new ("clk", "timestamp-mode=clock");
  /* from the oldest item: buffers captured before r2's pipeline started
   * get negative running times, mapped all the same */
  TsPipe *r2
      = ts_reader_new ("clk", "timestamp-mode=clock start-position=oldest");
  TsPipe *r0 = ts_reader_new ("clk", "start-position=oldest");
  GstClockTimeDiff err;

  ts_pipe_play (w);
  ts_pipe_wait (w, 0, 10); /* the writer runs: >= 300 ms of frames */
  ts_pipe_play (r1);
  ts_pipe_wait (r1, 0, 5);
  ts_pipe_play (r2);
  ts_pipe_play (r0);
  ts_pipe_wait (r1, 0, 20);
  ts_pipe_wait (r2, 0, 10);
  ts_pipe_wait (r0, 0, 10);
  ts_pipe_stop (r1);
  ts_pipe_stop (r2);
  ts_pipe_stop (r0);
  ts_pipe_stop (w);

  /* the readers have other base times, their buffers the same clock time */
  fail_unless (r1->base != r2->base);
  fail_unless (ts_assert_clock_mapped (r1, w) >= 20);
  fail_unless (ts_assert_clock_mapped (r2, w) >= 10);

  /* default mode: the first (oldest, >= 300 ms old) buffer plays when it is
   * read, not at its capture clock time */
  g_mutex_lock (&r0->lock);
  err = ts_clock_error (r0, &g_array_index (r0->recs, TsRec, 0), w);
  g_mutex_unlock (&r0->lock);
  fail_unless (err > GST_MSECOND,
               "default mode maps through clock time (%" GST_STIME_FORMAT ")",
               GST_STIME_ARGS (err));

  ts_pipe_free (r1);
  ts_pipe_free (r2);
  ts_pipe_free (r0);
  ts_pipe_free (w);
}

GST_END_TEST;

/* A writer restart (pipeline to NULL, a new one later, with a new base time
 * and running time from 0): a clock-mode reader's timestamps keep
 * increasing, and each writer's buffers carry that writer's clock time. */
GST_START_TEST (test_clock_mode_writer_restart)
{
  TsPipe *w1 = ts_writer_new ("clkr", 64);
  TsPipe *r
      = ts_reader_new ("clkr", "timestamp-mode=clock eos-on-writer-eos=false "
                               "start-position=oldest");
  TsPipe *w2;
  gint64 last = G_MININT64;

  ts_pipe_play (w1);
  ts_pipe_wait (w1, 0, 5);
  ts_pipe_play (r);
  ts_pipe_wait (r, 64, 10);
  ts_pipe_stop (w1);

  /* a gap, so that the new writer's running time restarts well below */
  g_usleep (200 * G_TIME_SPAN_MILLISECOND);
  w2 = ts_writer_new ("clkr", 32);
  ts_pipe_play (w2);
  ts_pipe_wait (r, 32, 10);
  ts_pipe_stop (r);
  ts_pipe_stop (w2);

  g_mutex_lock (&r->lock);
  for (guint i = 0; i < r->recs->len; i++) {
    gint64 t = ts_signed_rt (&g_array_index (r->recs, TsRec, i));

    fail_unless (t > last,
                 "buffer %u at %" G_GINT64_FORMAT " after %" G_GINT64_FORMAT, i,
                 t, last);
    last = t;
  }
  g_mutex_unlock (&r->lock);
  fail_unless (ts_assert_clock_mapped (r, w1) >= 10);
  fail_unless (ts_assert_clock_mapped (r, w2) >= 10);

  ts_pipe_free (r);
  ts_pipe_free (w1);
  ts_pipe_free (w2);
}

GST_END_TEST;

/* A writer on another clock (here the realtime system clock, whose times
 * are decades past the monotonic one): the clock-mode reader falls back to
 * running-time (the first buffer plays now) rather than mapping through a
 * clock it does not run on. */
GST_START_TEST (test_clock_mode_other_clock_falls_back)
{
  TsPipe *w = ts_writer_new ("clko", 64);
  TsPipe *r = ts_reader_new ("clko", "timestamp-mode=clock");
  GstClock *realtime = g_object_new (GST_TYPE_SYSTEM_CLOCK, "clock-type",
                                     GST_CLOCK_TYPE_REALTIME, NULL);
  gint64 last = G_MININT64;

  gst_pipeline_use_clock (GST_PIPELINE (w->pipeline), realtime);
  ts_pipe_play (w);
  ts_pipe_wait (w, 0, 5);
  ts_pipe_play (r);
  ts_pipe_wait (r, 0, 10);
  ts_pipe_stop (r);
  ts_pipe_stop (w);

  g_mutex_lock (&r->lock);
  for (guint i = 0; i < r->recs->len; i++) {
    gint64 t = ts_signed_rt (&g_array_index (r->recs, TsRec, i));

    /* running-time: from about now in the reader's pipeline, increasing;
     * mapped through the other clock it would be decades off */
    fail_unless (t >= 0 && t < 3600 * GST_SECOND,
                 "buffer %u at %" G_GINT64_FORMAT, i, t);
    fail_unless (t > last);
    last = t;
  }
  g_mutex_unlock (&r->lock);

  ts_pipe_free (r);
  ts_pipe_free (w);
  gst_object_unref (realtime);
}

GST_END_TEST;

static Suite *
fanoutsinksrc_suite (void)
{
  Suite *s = suite_create ("fanoutsinksrc");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_set_timeout (tc, small_run () ? 3000 : 300);
  tcase_add_test (tc, test_properties);
  tcase_add_test (tc, test_late_readers_start_on_keyframe);
  tcase_add_test (tc, test_reader_before_writer);
  tcase_add_test (tc, test_wait_timeout);
  tcase_add_test (tc, test_writer_restart_with_new_caps);
  tcase_add_test (tc, test_second_writer_rejected);
  tcase_add_test (tc, test_blocked_reader_does_not_slow_others);
  tcase_add_test (tc, test_disconnect_policy);
  tcase_add_test (tc, test_many_reader_pipelines);
  tcase_add_test (tc, test_force_key_unit_crosses_channel);
  tcase_add_test (tc, test_timestamp_modes);
  tcase_add_test (tc, test_clock_mode_maps_through_clock_time);
  tcase_add_test (tc, test_clock_mode_writer_restart);
  tcase_add_test (tc, test_clock_mode_other_clock_falls_back);
  return s;
}

GST_CHECK_MAIN (fanoutsinksrc);
