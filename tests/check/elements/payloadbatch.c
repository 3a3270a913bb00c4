/* gst-fanout
 * Copyright (C) 2026 the gst-fanout authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2.1 of the License, or (at your option) any later version.
 */

/* Unit tests for payloadbatch: GstHarness + test clock, plus real payloaders
 * and a loopback UDP pipeline. */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <gst/check/gsttestclock.h>
#include <gst/rtp/gstrtpbuffer.h>

#include <string.h>

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#endif
#ifndef RUNNING_ON_VALGRIND
#define RUNNING_ON_VALGRIND 0
#endif

#define WAIT_SECONDS 120

/* ------------------------------------------------------------------------ */
/* Recorder: what leaves payloadbatch's src pad, as a compact log.
 * A list is "[o1 o2 ...]" (buffer offsets), a single buffer "o", an event
 * its type name (when events are recorded). */

typedef struct {
  GMutex lock;
  GCond cond;
  GString *log;
  GArray *lens;  /* guint: length of each pushed list (1 for a buffer) */
  guint lists;   /* lists pushed */
  guint buffers; /* buffers pushed, in lists or alone */
  gboolean events;
  GstPad *pad;
  gulong probe;
} Recorder;

static GstPadProbeReturn
recorder_probe (GstPad *pad, GstPadProbeInfo *info, gpointer user_data)
{
  Recorder *rec = user_data;

  g_mutex_lock (&rec->lock);
  if (info->type & GST_PAD_PROBE_TYPE_BUFFER_LIST) {
    GstBufferList *list = GST_PAD_PROBE_INFO_BUFFER_LIST (info);
    guint i, n = gst_buffer_list_length (list);

    g_string_append_c (rec->log, '[');
    for (i = 0; i < n; i++)
      g_string_append_printf (
          rec->log, "%s%" G_GUINT64_FORMAT, i ? " " : "",
          GST_BUFFER_OFFSET (gst_buffer_list_get (list, i)));
    g_string_append (rec->log, "] ");
    g_array_append_val (rec->lens, n);
    rec->lists++;
    rec->buffers += n;
  } else if (info->type & GST_PAD_PROBE_TYPE_BUFFER) {
    guint one = 1;

    g_string_append_printf (
        rec->log, "%" G_GUINT64_FORMAT " ",
        GST_BUFFER_OFFSET (GST_PAD_PROBE_INFO_BUFFER (info)));
    g_array_append_val (rec->lens, one);
    rec->buffers++;
  } else if ((info->type
              & (GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM
                 | GST_PAD_PROBE_TYPE_EVENT_FLUSH))
             && rec->events) {
    g_string_append_printf (
        rec->log, "%s ", GST_EVENT_TYPE_NAME (GST_PAD_PROBE_INFO_EVENT (info)));
  }
  g_cond_broadcast (&rec->cond);
  g_mutex_unlock (&rec->lock);
  return GST_PAD_PROBE_OK;
}

static Recorder *
recorder_new (GstElement *element, gboolean events)
{
  Recorder *rec = g_new0 (Recorder, 1);

  g_mutex_init (&rec->lock);
  g_cond_init (&rec->cond);
  rec->log = g_string_new (NULL);
  rec->lens = g_array_new (FALSE, FALSE, sizeof (guint));
  rec->events = events;
  rec->pad = gst_element_get_static_pad (element, "src");
  rec->probe = gst_pad_add_probe (rec->pad,
                                  GST_PAD_PROBE_TYPE_DATA_DOWNSTREAM
                                      | GST_PAD_PROBE_TYPE_EVENT_FLUSH,
                                  recorder_probe, rec, NULL);
  return rec;
}

static void
recorder_free (Recorder *rec)
{
  gst_pad_remove_probe (rec->pad, rec->probe);
  gst_object_unref (rec->pad);
  g_string_free (rec->log, TRUE);
  g_array_unref (rec->lens);
  g_cond_clear (&rec->cond);
  g_mutex_clear (&rec->lock);
  g_free (rec);
}

/* The log so far, without the trailing space. */
static gchar *
recorder_log (Recorder *rec)
{
  gchar *s;

  g_mutex_lock (&rec->lock);
  s = g_strdup (rec->log->str);
  g_mutex_unlock (&rec->lock);
  return g_strchomp (s);
}

#define assert_log(rec, expected)                                              \
  G_STMT_START                                                                 \
  {                                                                            \
    gchar *_log = recorder_log (rec);                                          \
    fail_unless_equals_string (_log, expected);                                \
    g_free (_log);                                                             \
  }                                                                            \
  G_STMT_END

/* Waits (generously) until @n lists have been pushed. */
static gboolean
recorder_wait_lists (Recorder *rec, guint n)
{
  gint64 deadline = g_get_monotonic_time () + WAIT_SECONDS * G_TIME_SPAN_SECOND;
  gboolean ok = TRUE;

  g_mutex_lock (&rec->lock);
  while (rec->lists < n && ok)
    ok = g_cond_wait_until (&rec->cond, &rec->lock, deadline);
  ok = rec->lists >= n;
  g_mutex_unlock (&rec->lock);
  return ok;
}

/* ------------------------------------------------------------------------ */
/* Helpers */

static GstBuffer *
make_buffer (guint64 offset, GstClockTime pts, gsize size, gboolean delta)
{
  GstBuffer *buf = gst_buffer_new_allocate (NULL, size, NULL);

  gst_buffer_memset (buf, 0, (guint8)offset, size);
  GST_BUFFER_OFFSET (buf) = offset;
  GST_BUFFER_PTS (buf) = pts;
  if (delta)
    GST_BUFFER_FLAG_SET (buf, GST_BUFFER_FLAG_DELTA_UNIT);
  return buf;
}

static void
push_buffer (GstHarness *h, guint64 offset, GstClockTime pts, gsize size)
{
  fail_unless_equals_int (
      gst_harness_push (h, make_buffer (offset, pts, size, FALSE)),
      GST_FLOW_OK);
}

static GstBuffer *
make_rtp (guint64 offset, guint16 seq, guint32 rtptime, gboolean marker)
{
  GstBuffer *buf = gst_rtp_buffer_new_allocate (100, 0, 0);
  GstRTPBuffer rtp = GST_RTP_BUFFER_INIT;

  fail_unless (gst_rtp_buffer_map (buf, GST_MAP_WRITE, &rtp));
  gst_rtp_buffer_set_payload_type (&rtp, 96);
  gst_rtp_buffer_set_seq (&rtp, seq);
  gst_rtp_buffer_set_timestamp (&rtp, rtptime);
  gst_rtp_buffer_set_marker (&rtp, marker);
  gst_rtp_buffer_unmap (&rtp);
  GST_BUFFER_OFFSET (buf) = offset;
  return buf;
}

static GstHarness *
harness_new (const gchar *caps)
{
  GstHarness *h = gst_harness_new ("payloadbatch");

  gst_harness_set_src_caps_str (h, caps);
  return h;
}

static void
push_eos (GstHarness *h)
{
  fail_unless (gst_harness_push_event (h, gst_event_new_eos ()));
}

/* Runs @desc to EOS; returns FALSE on error or timeout. */
static gboolean
run_to_eos (GstElement *pipeline)
{
  GstBus *bus = gst_element_get_bus (pipeline);
  GstMessage *msg;
  gboolean ok;

  fail_if (gst_element_set_state (pipeline, GST_STATE_PLAYING)
           == GST_STATE_CHANGE_FAILURE);
  msg = gst_bus_timed_pop_filtered (bus, WAIT_SECONDS * GST_SECOND,
                                    GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  ok = msg && GST_MESSAGE_TYPE (msg) == GST_MESSAGE_EOS;
  if (msg && !ok) {
    GError *err = NULL;
    gchar *dbg = NULL;
    gst_message_parse_error (msg, &err, &dbg);
    GST_ERROR ("pipeline error: %s (%s)", err->message, dbg);
    g_error_free (err);
    g_free (dbg);
  }
  if (msg)
    gst_message_unref (msg);
  gst_object_unref (bus);
  return ok;
}

/* ------------------------------------------------------------------------ */
/* Size bounds */

GST_START_TEST (test_max_buffers)
{
  GstHarness *h = harness_new ("application/octet-stream");
  Recorder *rec = recorder_new (h->element, FALSE);
  guint i;

  g_object_set (h->element, "boundary", 0, "max-buffers", 4, "max-bytes", 0,
                NULL);
  for (i = 0; i < 10; i++)
    push_buffer (h, i, i * GST_MSECOND, 10);
  assert_log (rec, "[0 1 2 3] [4 5 6 7]");
  push_eos (h);
  assert_log (rec, "[0 1 2 3] [4 5 6 7] [8 9]");
  fail_unless_equals_int (gst_harness_buffers_received (h), 10);

  recorder_free (rec);
  gst_harness_teardown (h);
}
GST_END_TEST;

GST_START_TEST (test_max_bytes)
{
  GstHarness *h = harness_new ("application/octet-stream");
  Recorder *rec = recorder_new (h->element, FALSE);
  guint i;

  g_object_set (h->element, "boundary", 0, "max-buffers", 0, "max-bytes", 1000,
                NULL);
  /* a buffer that would take the batch past 1000 bytes starts the next */
  for (i = 0; i < 7; i++)
    push_buffer (h, i, 0, 300);
  assert_log (rec, "[0 1 2] [3 4 5]");
  /* reaching max-bytes exactly closes the batch at once */
  push_buffer (h, 7, 0, 1000);
  assert_log (rec, "[0 1 2] [3 4 5] [6] [7]");
  push_buffer (h, 8, 0, 400);
  push_buffer (h, 9, 0, 600);
  assert_log (rec, "[0 1 2] [3 4 5] [6] [7] [8 9]");

  recorder_free (rec);
  gst_harness_teardown (h);
}
GST_END_TEST;

GST_START_TEST (test_bounds_together)
{
  GstHarness *h = harness_new ("application/octet-stream");
  Recorder *rec = recorder_new (h->element, FALSE);

  g_object_set (h->element, "boundary", 0, "max-buffers", 3, "max-bytes", 1000,
                NULL);
  push_buffer (h, 0, 0, 100);
  push_buffer (h, 1, 0, 100);
  push_buffer (h, 2, 0, 100); /* max-buffers */
  push_buffer (h, 3, 0, 600);
  push_buffer (h, 4, 0, 600); /* max-bytes: starts a new batch */
  push_buffer (h, 5, 0, 100);
  assert_log (rec, "[0 1 2] [3]");
  push_buffer (h, 6, 0, 100); /* max-buffers again */
  assert_log (rec, "[0 1 2] [3] [4 5 6]");
  push_eos (h);
  assert_log (rec, "[0 1 2] [3] [4 5 6]");

  recorder_free (rec);
  gst_harness_teardown (h);
}
GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* Boundaries */

GST_START_TEST (test_frame_boundary_pts)
{
  GstHarness *h = harness_new ("video/x-h264, stream-format=byte-stream");
  Recorder *rec = recorder_new (h->element, FALSE);

  /* defaults: boundary=frame, max-buffers=64, max-bytes=65536 */
  push_buffer (h, 0, 0, 100);
  push_buffer (h, 1, 0, 100);
  push_buffer (h, 2, 0, 100);
  assert_log (rec, "");
  push_buffer (h, 3, 10 * GST_MSECOND, 100);
  assert_log (rec, "[0 1 2]");
  push_buffer (h, 4, 10 * GST_MSECOND, 100);
  push_buffer (h, 5, 20 * GST_MSECOND, 100);
  assert_log (rec, "[0 1 2] [3 4]");
  push_eos (h);
  assert_log (rec, "[0 1 2] [3 4] [5]");

  recorder_free (rec);
  gst_harness_teardown (h);
}
GST_END_TEST;

GST_START_TEST (test_frame_boundary_rtp_marker)
{
  GstHarness *h
      = harness_new ("application/x-rtp, media=video, "
                     "clock-rate=90000, encoding-name=H264, payload=96");
  Recorder *rec = recorder_new (h->element, FALSE);

  fail_unless_equals_int (gst_harness_push (h, make_rtp (0, 10, 1000, FALSE)),
                          GST_FLOW_OK);
  fail_unless_equals_int (gst_harness_push (h, make_rtp (1, 11, 1000, FALSE)),
                          GST_FLOW_OK);
  assert_log (rec, "");
  /* the marker closes the frame at once: no added latency */
  fail_unless_equals_int (gst_harness_push (h, make_rtp (2, 12, 1000, TRUE)),
                          GST_FLOW_OK);
  assert_log (rec, "[0 1 2]");
  fail_unless_equals_int (gst_harness_push (h, make_rtp (3, 13, 4000, TRUE)),
                          GST_FLOW_OK);
  assert_log (rec, "[0 1 2] [3]");
  /* no marker (rtpmp2tpay): a new RTP timestamp starts a new frame */
  fail_unless_equals_int (gst_harness_push (h, make_rtp (4, 14, 7000, FALSE)),
                          GST_FLOW_OK);
  fail_unless_equals_int (gst_harness_push (h, make_rtp (5, 15, 7000, FALSE)),
                          GST_FLOW_OK);
  fail_unless_equals_int (gst_harness_push (h, make_rtp (6, 16, 10000, FALSE)),
                          GST_FLOW_OK);
  assert_log (rec, "[0 1 2] [3] [4 5]");
  push_eos (h);
  assert_log (rec, "[0 1 2] [3] [4 5] [6]");

  recorder_free (rec);
  gst_harness_teardown (h);
}
GST_END_TEST;

typedef struct {
  GPtrArray *buffers;
  GstCaps *caps;
} Collected;

static void
collect_handoff (GstElement *sink, GstBuffer *buf, GstPad *pad,
                 gpointer user_data)
{
  Collected *c = user_data;

  if (!c->caps)
    c->caps = gst_pad_get_current_caps (pad);
  g_ptr_array_add (c->buffers, gst_buffer_ref (buf));
}

/* Runs a real payloader from videotestsrc and checks that every batch is
 * exactly one frame: it ends at the marker bit and holds one RTP timestamp,
 * and that every packet comes out once, in order. */
static void
check_real_payloader (const gchar *desc, guint frames)
{
  GstElement *pipeline;
  GstElement *sink;
  Collected c
      = { g_ptr_array_new_with_free_func ((GDestroyNotify)gst_buffer_unref),
          NULL };
  GstHarness *h;
  Recorder *rec;
  guint i, j, k, markers = 0;
  gint last_seq = -1;

  pipeline = gst_parse_launch (desc, NULL);
  fail_unless (pipeline != NULL, "could not build %s", desc);
  sink = gst_bin_get_by_name (GST_BIN (pipeline), "sink");
  g_object_set (sink, "signal-handoffs", TRUE, NULL);
  g_signal_connect (sink, "handoff", G_CALLBACK (collect_handoff), &c);
  fail_unless (run_to_eos (pipeline));
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (sink);
  gst_object_unref (pipeline);
  fail_unless (c.caps != NULL);
  fail_unless (c.buffers->len > frames, "only %u packets", c.buffers->len);

  h = gst_harness_new ("payloadbatch");
  gst_harness_set_src_caps (h, gst_caps_ref (c.caps));
  rec = recorder_new (h->element, FALSE);
  /* frame boundaries only */
  g_object_set (h->element, "max-buffers", 100000, "max-bytes", 0, NULL);
  for (i = 0; i < c.buffers->len; i++) {
    GstBuffer *buf = g_ptr_array_index (c.buffers, i);
    GstRTPBuffer rtp = GST_RTP_BUFFER_INIT;
    fail_unless (gst_rtp_buffer_map (buf, GST_MAP_READ, &rtp));
    markers += gst_rtp_buffer_get_marker (&rtp);
    gst_rtp_buffer_unmap (&rtp);
    fail_unless_equals_int (gst_harness_push (h, gst_buffer_ref (buf)),
                            GST_FLOW_OK);
  }
  /* every frame ended with a marker: nothing is left pending */
  fail_unless_equals_int (markers, frames);
  fail_unless_equals_int (rec->lists, frames);
  fail_unless_equals_int (rec->buffers, c.buffers->len);

  k = 0;
  for (i = 0; i < rec->lens->len; i++) {
    guint len = g_array_index (rec->lens, guint, i);
    guint32 ts = 0;
    for (j = 0; j < len; j++, k++) {
      GstBuffer *out = gst_harness_pull (h);
      GstRTPBuffer rtp = GST_RTP_BUFFER_INIT;
      fail_unless (out == g_ptr_array_index (c.buffers, k));
      fail_unless (gst_rtp_buffer_map (out, GST_MAP_READ, &rtp));
      if (j == 0)
        ts = gst_rtp_buffer_get_timestamp (&rtp);
      fail_unless_equals_int (gst_rtp_buffer_get_timestamp (&rtp), ts);
      fail_unless_equals_int (gst_rtp_buffer_get_marker (&rtp), j == len - 1);
      if (last_seq >= 0)
        fail_unless_equals_int (gst_rtp_buffer_get_seq (&rtp),
                                (last_seq + 1) & 0xffff);
      last_seq = gst_rtp_buffer_get_seq (&rtp);
      gst_rtp_buffer_unmap (&rtp);
      gst_buffer_unref (out);
    }
  }
  fail_unless_equals_int (k, c.buffers->len);

  recorder_free (rec);
  gst_harness_teardown (h);
  /* the harness let go of every packet */
  for (i = 0; i < c.buffers->len; i++)
    ASSERT_BUFFER_REFCOUNT (g_ptr_array_index (c.buffers, i), "packet", 1);
  g_ptr_array_unref (c.buffers);
  gst_caps_unref (c.caps);
}

GST_START_TEST (test_frame_boundary_real_payloaders)
{
  check_real_payloader (
      "videotestsrc num-buffers=5 pattern=smpte ! "
      "video/x-raw,width=320,height=240,framerate=30/1 ! "
      "x264enc speed-preset=ultrafast tune=zerolatency key-int-max=3 ! "
      "rtph264pay mtu=400 ! fakesink name=sink sync=false",
      5);
  check_real_payloader (
      "videotestsrc num-buffers=5 pattern=smpte ! "
      "video/x-raw,format=I420,width=320,height=240,framerate=30/1 ! jpegenc ! "
      "rtpjpegpay mtu=400 ! fakesink name=sink sync=false",
      5);
}
GST_END_TEST;

GST_START_TEST (test_keyframe_boundary)
{
  GstHarness *h = harness_new ("video/x-h264, stream-format=byte-stream");
  Recorder *rec = recorder_new (h->element, FALSE);
  const gboolean delta[] = { FALSE, TRUE, TRUE, FALSE, TRUE, FALSE };
  guint i;

  g_object_set (h->element, "boundary", 2, NULL);
  for (i = 0; i < G_N_ELEMENTS (delta); i++)
    fail_unless_equals_int (
        gst_harness_push (h, make_buffer (i, i * GST_MSECOND, 100, delta[i])),
        GST_FLOW_OK);
  assert_log (rec, "[0 1 2] [3 4]");
  push_eos (h);
  assert_log (rec, "[0 1 2] [3 4] [5]");

  recorder_free (rec);
  gst_harness_teardown (h);
}
GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* Time bound */

/* The timer thread exists only while a time bound applies: an element per
 * RTSP client (fanout-rtsp-server's fanoutpaybin) costs no idle thread. */
GST_START_TEST (test_timer_thread_only_with_max_latency)
{
  GstHarness *h = harness_new ("application/octet-stream");
  GstPad *src = gst_element_get_static_pad (h->element, "src");
  GstTask *task;

  fail_unless (GST_PAD_TASK (src) == NULL);
  g_object_set (h->element, "max-latency", 10 * GST_MSECOND, NULL);
  task = GST_PAD_TASK (src);
  fail_unless (task != NULL);
  fail_unless_equals_int (gst_task_get_state (task), GST_TASK_STARTED);

  /* deactivated, it stops; activated again with the bound, it starts */
  fail_unless_equals_int (gst_element_set_state (h->element, GST_STATE_NULL),
                          GST_STATE_CHANGE_SUCCESS);
  fail_unless (GST_PAD_TASK (src) == NULL);
  gst_harness_play (h);
  task = GST_PAD_TASK (src);
  fail_unless (task != NULL);
  fail_unless_equals_int (gst_task_get_state (task), GST_TASK_STARTED);

  gst_object_unref (src);
  gst_harness_teardown (h);
}
GST_END_TEST;

GST_START_TEST (test_timeout_push)
{
  GstHarness *h = harness_new ("application/octet-stream");
  Recorder *rec = recorder_new (h->element, FALSE);
  GstTestClock *clock = gst_harness_get_testclock (h);
  GstClockID id;

  g_object_set (h->element, "boundary", 0, "max-latency", 10 * GST_MSECOND,
                NULL);
  push_buffer (h, 0, 0, 100);
  push_buffer (h, 1, 0, 100);

  /* the element waits on its clock for the batch's first buffer + 10 ms */
  gst_test_clock_wait_for_next_pending_id (clock, &id);
  fail_unless_equals_uint64 (gst_clock_id_get_time (id), 10 * GST_MSECOND);
  gst_clock_id_unref (id);
  assert_log (rec, "");

  /* time runs out with no new buffer: the batch is pushed */
  fail_unless (gst_test_clock_crank (clock));
  fail_unless (recorder_wait_lists (rec, 1));
  assert_log (rec, "[0 1]");

  /* a buffer arriving after the deadline closes the old batch itself */
  push_buffer (h, 2, 0, 100);
  gst_test_clock_wait_for_next_pending_id (clock, &id);
  fail_unless_equals_uint64 (gst_clock_id_get_time (id), 20 * GST_MSECOND);
  gst_clock_id_unref (id);
  gst_test_clock_set_time (clock, 25 * GST_MSECOND);
  push_buffer (h, 3, 0, 100);
  fail_unless (recorder_wait_lists (rec, 2));
  assert_log (rec, "[0 1] [2]");

  gst_object_unref (clock);
  recorder_free (rec);
  gst_harness_teardown (h);
}
GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* Events, lists, flushing, state */

GST_START_TEST (test_events_flush_in_order)
{
  GstHarness *h = harness_new ("application/octet-stream");
  Recorder *rec = recorder_new (h->element, TRUE);
  GstSegment segment;

  g_object_set (h->element, "boundary", 0, NULL);
  push_buffer (h, 0, 0, 10);
  push_buffer (h, 1, 0, 10);
  /* out-of-band: passes without touching the batch */
  fail_unless (gst_harness_push_event (
      h, gst_event_new_custom (GST_EVENT_CUSTOM_DOWNSTREAM_OOB,
                               gst_structure_new_empty ("oob"))));
  assert_log (rec, "custom-downstream-oob");
  /* serialized: the batch first, then the event */
  fail_unless (gst_harness_push_event (
      h, gst_event_new_custom (GST_EVENT_CUSTOM_DOWNSTREAM,
                               gst_structure_new_empty ("ser"))));
  assert_log (rec, "custom-downstream-oob [0 1] custom-downstream");
  push_buffer (h, 2, 0, 10);
  gst_harness_set_src_caps_str (h, "application/x-other");
  assert_log (rec, "custom-downstream-oob [0 1] custom-downstream [2] caps "
                   "segment");
  push_buffer (h, 3, 0, 10);
  gst_segment_init (&segment, GST_FORMAT_TIME);
  segment.base = GST_SECOND;
  fail_unless (gst_harness_push_event (h, gst_event_new_segment (&segment)));
  push_buffer (h, 4, 0, 10);
  push_eos (h);
  assert_log (rec, "custom-downstream-oob [0 1] custom-downstream [2] caps "
                   "segment [3] segment [4] eos");

  recorder_free (rec);
  gst_harness_teardown (h);
}
GST_END_TEST;

static void
list_destroyed (gpointer data, GstMiniObject *obj)
{
  *(gboolean *)data = TRUE;
}

GST_START_TEST (test_buffer_lists_in)
{
  GstHarness *h = harness_new ("video/x-h264, stream-format=byte-stream");
  Recorder *rec = recorder_new (h->element, FALSE);
  GstBufferList *list;
  GstBuffer *held;
  gboolean destroyed = FALSE;
  guint i;

  g_object_set (h->element, "max-buffers", 4, NULL);
  list = gst_buffer_list_new ();
  for (i = 0; i < 6; i++)
    gst_buffer_list_add (
        list, make_buffer (i, i == 5 ? 10 * GST_MSECOND : 0, 10, FALSE));
  held = gst_buffer_ref (gst_buffer_list_get (list, 0));
  gst_mini_object_weak_ref (GST_MINI_OBJECT_CAST (list), list_destroyed,
                            &destroyed);
  fail_unless_equals_int (gst_pad_push_list (h->srcpad, list), GST_FLOW_OK);
  /* the incoming list is split and re-batched by the same rules */
  fail_unless (destroyed);
  assert_log (rec, "[0 1 2 3] [4]");

  list = gst_buffer_list_new ();
  gst_buffer_list_add (list, make_buffer (6, 10 * GST_MSECOND, 10, FALSE));
  gst_buffer_list_add (list, make_buffer (7, 10 * GST_MSECOND, 10, FALSE));
  fail_unless_equals_int (gst_pad_push_list (h->srcpad, list), GST_FLOW_OK);
  push_eos (h);
  assert_log (rec, "[0 1 2 3] [4] [5 6 7]");

  recorder_free (rec);
  gst_harness_teardown (h);
  ASSERT_BUFFER_REFCOUNT (held, "held", 1);
  gst_buffer_unref (held);
}
GST_END_TEST;

GST_START_TEST (test_flush_mid_batch)
{
  GstHarness *h = harness_new ("application/octet-stream");
  Recorder *rec = recorder_new (h->element, TRUE);
  GstSegment segment;

  g_object_set (h->element, "boundary", 0, NULL);
  push_buffer (h, 0, 0, 10);
  push_buffer (h, 1, 0, 10);
  /* the streaming thread is idle: the batch goes out before the flush */
  fail_unless (gst_harness_push_event (h, gst_event_new_flush_start ()));
  assert_log (rec, "[0 1] flush-start");
  fail_unless (gst_harness_push_event (h, gst_event_new_flush_stop (TRUE)));
  gst_segment_init (&segment, GST_FORMAT_TIME);
  fail_unless (gst_harness_push_event (h, gst_event_new_segment (&segment)));
  push_buffer (h, 2, 0, 10);
  push_buffer (h, 3, 0, 10);
  push_eos (h);
  assert_log (rec, "[0 1] flush-start flush-stop segment [2 3] eos");
  fail_unless_equals_int (gst_harness_buffers_received (h), 4);

  recorder_free (rec);
  gst_harness_teardown (h);
}
GST_END_TEST;

/* Waits for the element's clock wait that ends at @time (skipping a wait
 * that was just unscheduled and is on its way out). */
static GstClockID
wait_for_clock_id_at (GstTestClock *clock, GstClockTime time)
{
  gint64 deadline = g_get_monotonic_time () + WAIT_SECONDS * G_TIME_SPAN_SECOND;

  while (g_get_monotonic_time () < deadline) {
    GstClockID id;
    gst_test_clock_wait_for_next_pending_id (clock, &id);
    if (gst_clock_id_get_time (id) == time)
      return id;
    gst_clock_id_unref (id);
    g_thread_yield ();
  }
  fail ("no clock wait at %" GST_TIME_FORMAT, GST_TIME_ARGS (time));
  return NULL;
}

GST_START_TEST (test_flush_cancels_timer)
{
  GstHarness *h = harness_new ("application/octet-stream");
  Recorder *rec = recorder_new (h->element, TRUE);
  GstTestClock *clock = gst_harness_get_testclock (h);
  GstSegment segment;
  GstClockID id;

  g_object_set (h->element, "boundary", 0, "max-latency", GST_SECOND, NULL);
  push_buffer (h, 0, 0, 10);
  id = wait_for_clock_id_at (clock, GST_SECOND);
  gst_clock_id_unref (id);

  /* the flush pushes the batch and cancels the armed wait */
  fail_unless (gst_harness_push_event (h, gst_event_new_flush_start ()));
  fail_unless (gst_harness_push_event (h, gst_event_new_flush_stop (TRUE)));
  gst_segment_init (&segment, GST_FORMAT_TIME);
  fail_unless (gst_harness_push_event (h, gst_event_new_segment (&segment)));
  assert_log (rec, "[0] flush-start flush-stop segment");

  /* a new batch arms a new wait, from its own first buffer */
  gst_test_clock_set_time (clock, 100 * GST_MSECOND);
  push_buffer (h, 1, 0, 10);
  id = wait_for_clock_id_at (clock, 1100 * GST_MSECOND);
  gst_test_clock_set_time (clock, 1100 * GST_MSECOND);
  fail_unless (gst_test_clock_process_id (clock, id)); /* takes id */
  fail_unless (recorder_wait_lists (rec, 2));
  assert_log (rec, "[0] flush-start flush-stop segment [1]");

  gst_object_unref (clock);
  recorder_free (rec);
  gst_harness_teardown (h);
}
GST_END_TEST;

GST_START_TEST (test_state_change_mid_batch)
{
  GstHarness *h = harness_new ("application/octet-stream");
  GstTestClock *clock = gst_harness_get_testclock (h);
  GstBuffer *held[3];
  GstClockID id;
  guint i;

  /* a pending batch and an armed timer wait when the element stops */
  g_object_set (h->element, "boundary", 0, "max-latency", GST_SECOND, NULL);
  for (i = 0; i < 3; i++) {
    held[i] = make_buffer (i, 0, 10, FALSE);
    gst_buffer_ref (held[i]);
    fail_unless_equals_int (gst_harness_push (h, held[i]), GST_FLOW_OK);
  }
  gst_test_clock_wait_for_next_pending_id (clock, &id);
  gst_clock_id_unref (id);

  fail_unless_equals_int (gst_element_set_state (h->element, GST_STATE_NULL),
                          GST_STATE_CHANGE_SUCCESS);
  fail_unless_equals_int (gst_harness_buffers_received (h), 0);
  for (i = 0; i < 3; i++) {
    ASSERT_BUFFER_REFCOUNT (held[i], "held", 1);
    gst_buffer_unref (held[i]);
  }

  /* and it starts again cleanly */
  gst_harness_play (h);
  gst_harness_set_src_caps_str (h, "application/octet-stream");
  g_object_set (h->element, "max-latency", (guint64)0, NULL);
  push_buffer (h, 3, 0, 10);
  push_eos (h);
  fail_unless_equals_int (gst_harness_buffers_received (h), 1);

  gst_object_unref (clock);
  gst_harness_teardown (h);
}
GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* Queries, passthrough, stats */

GST_START_TEST (test_latency_query)
{
  GstHarness *h = harness_new ("application/octet-stream");

  gst_harness_set_upstream_latency (h, 5 * GST_MSECOND);
  fail_unless_equals_uint64 (gst_harness_query_latency (h), 5 * GST_MSECOND);
  g_object_set (h->element, "max-latency", 20 * GST_MSECOND, NULL);
  fail_unless_equals_uint64 (gst_harness_query_latency (h), 25 * GST_MSECOND);
  g_object_set (h->element, "passthrough", TRUE, NULL);
  fail_unless_equals_uint64 (gst_harness_query_latency (h), 5 * GST_MSECOND);

  gst_harness_teardown (h);
}
GST_END_TEST;

GST_START_TEST (test_passthrough)
{
  GstHarness *h = harness_new ("application/octet-stream");
  Recorder *rec = recorder_new (h->element, FALSE);
  GstBufferList *list;

  g_object_set (h->element, "boundary", 0, "passthrough", TRUE, NULL);
  push_buffer (h, 0, 0, 10);
  push_buffer (h, 1, 0, 10);
  list = gst_buffer_list_new ();
  gst_buffer_list_add (list, make_buffer (2, 0, 10, FALSE));
  gst_buffer_list_add (list, make_buffer (3, 0, 10, FALSE));
  fail_unless_equals_int (gst_pad_push_list (h->srcpad, list), GST_FLOW_OK);
  assert_log (rec, "0 1 [2 3]");

  /* switching on passthrough mid-batch pushes the batch first */
  g_object_set (h->element, "passthrough", FALSE, NULL);
  push_buffer (h, 4, 0, 10);
  push_buffer (h, 5, 0, 10);
  g_object_set (h->element, "passthrough", TRUE, NULL);
  push_buffer (h, 6, 0, 10);
  assert_log (rec, "0 1 [2 3] [4 5] 6");

  recorder_free (rec);
  gst_harness_teardown (h);
}
GST_END_TEST;

GST_START_TEST (test_stats)
{
  GstHarness *h = harness_new ("application/octet-stream");
  guint64 batches, buffers;
  gdouble average;
  guint i;

  g_object_set (h->element, "boundary", 0, "max-buffers", 4, NULL);
  g_object_get (h->element, "batches", &batches, "buffers", &buffers,
                "average-batch", &average, NULL);
  fail_unless_equals_uint64 (batches, 0);
  fail_unless_equals_uint64 (buffers, 0);
  fail_unless_equals_float (average, 0.0);

  for (i = 0; i < 10; i++)
    push_buffer (h, i, 0, 10);
  push_eos (h);
  g_object_get (h->element, "batches", &batches, "buffers", &buffers,
                "average-batch", &average, NULL);
  fail_unless_equals_uint64 (batches, 3);
  fail_unless_equals_uint64 (buffers, 10);
  fail_unless_equals_float (average, 10.0 / 3.0);

  gst_harness_teardown (h);
}
GST_END_TEST;

GST_START_TEST (test_caps_proxied)
{
  GstHarness *h = gst_harness_new ("payloadbatch");
  GstCaps *want, *caps, *other;

  gst_harness_set_sink_caps_str (h, "application/x-rtp, media=video");
  want = gst_caps_from_string ("application/x-rtp, media=video");
  caps = gst_pad_peer_query_caps (h->srcpad, NULL);
  fail_unless (gst_caps_is_equal (caps, want), "caps %" GST_PTR_FORMAT, caps);
  fail_unless (gst_pad_peer_query_accept_caps (h->srcpad, want));
  other = gst_caps_from_string ("audio/x-raw");
  fail_if (gst_pad_peer_query_accept_caps (h->srcpad, other));

  gst_caps_unref (other);
  gst_caps_unref (caps);
  gst_caps_unref (want);
  gst_harness_teardown (h);
}
GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* Bad input */

GST_START_TEST (test_zero_bounds_refused)
{
  GstElement *pb = gst_element_factory_make ("payloadbatch", NULL);
  GstBus *bus = gst_bus_new ();
  GstMessage *msg;
  GError *err = NULL;

  gst_element_set_bus (pb, bus);
  g_object_set (pb, "max-buffers", 0, "max-bytes", 0, NULL);
  fail_unless_equals_int (gst_element_set_state (pb, GST_STATE_READY),
                          GST_STATE_CHANGE_SUCCESS);
  fail_unless_equals_int (gst_element_set_state (pb, GST_STATE_PAUSED),
                          GST_STATE_CHANGE_FAILURE);
  msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
  fail_unless (msg != NULL);
  gst_message_parse_error (msg, &err, NULL);
  fail_unless (
      g_error_matches (err, GST_LIBRARY_ERROR, GST_LIBRARY_ERROR_SETTINGS));
  fail_unless (strstr (err->message, "max-buffers") != NULL);
  g_error_free (err);
  gst_message_unref (msg);

  /* one bound is enough */
  g_object_set (pb, "max-bytes", 1000, NULL);
  fail_unless (gst_element_set_state (pb, GST_STATE_PAUSED)
               != GST_STATE_CHANGE_FAILURE);

  gst_element_set_state (pb, GST_STATE_NULL);
  gst_element_set_bus (pb, NULL);
  gst_object_unref (bus);
  gst_object_unref (pb);
}
GST_END_TEST;

GST_START_TEST (test_frame_untimestamped_warns_once)
{
  GstHarness *h = harness_new ("video/x-h264, stream-format=byte-stream");
  Recorder *rec = recorder_new (h->element, FALSE);
  GstBus *bus = gst_bus_new ();
  GstMessage *msg;
  guint i, warnings = 0;

  gst_element_set_bus (h->element, bus);
  g_object_set (h->element, "max-buffers", 3, NULL);
  for (i = 0; i < 7; i++)
    push_buffer (h, i, GST_CLOCK_TIME_NONE, 10);
  /* falls back to max-buffers */
  assert_log (rec, "[0 1 2] [3 4 5]");
  while ((msg = gst_bus_pop_filtered (bus, GST_MESSAGE_WARNING))) {
    GError *err = NULL;
    gst_message_parse_warning (msg, &err, NULL);
    fail_unless (strstr (err->message, "boundary=frame") != NULL);
    g_error_free (err);
    gst_message_unref (msg);
    warnings++;
  }
  fail_unless_equals_int (warnings, 1);

  recorder_free (rec);
  gst_element_set_bus (h->element, NULL);
  gst_object_unref (bus);
  gst_harness_teardown (h);
}
GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* A real pipeline over loopback UDP */

typedef struct {
  GMutex lock;
  GCond cond;
  GArray *seqs; /* guint16 */
} SeqLog;

static void
seqlog_add (SeqLog *log, GstBuffer *buf)
{
  GstRTPBuffer rtp = GST_RTP_BUFFER_INIT;
  guint16 seq;

  fail_unless (gst_rtp_buffer_map (buf, GST_MAP_READ, &rtp));
  seq = gst_rtp_buffer_get_seq (&rtp);
  gst_rtp_buffer_unmap (&rtp);
  g_mutex_lock (&log->lock);
  g_array_append_val (log->seqs, seq);
  g_cond_broadcast (&log->cond);
  g_mutex_unlock (&log->lock);
}

static void
receiver_handoff (GstElement *sink, GstBuffer *buf, GstPad *pad,
                  gpointer user_data)
{
  seqlog_add (user_data, buf);
}

/* What rtph264pay hands payloadbatch: buffers and buffer lists. */
static GstPadProbeReturn
sender_probe (GstPad *pad, GstPadProbeInfo *info, gpointer user_data)
{
  if (info->type & GST_PAD_PROBE_TYPE_BUFFER_LIST) {
    GstBufferList *list = GST_PAD_PROBE_INFO_BUFFER_LIST (info);
    guint i;
    for (i = 0; i < gst_buffer_list_length (list); i++)
      seqlog_add (user_data, gst_buffer_list_get (list, i));
  } else {
    seqlog_add (user_data, GST_PAD_PROBE_INFO_BUFFER (info));
  }
  return GST_PAD_PROBE_OK;
}

GST_START_TEST (test_udp_pipeline)
{
  SeqLog sent = { 0 }, received = { 0 };
  GstElement *rx, *tx, *udpsrc, *sink, *pb;
  GstPad *pbsink;
  gint port = 0;
  guint frames = RUNNING_ON_VALGRIND ? 15 : 60;
  guint64 batches, buffers;
  gint64 deadline;
  gchar *desc;
  guint i;

  g_mutex_init (&sent.lock);
  g_cond_init (&sent.cond);
  sent.seqs = g_array_new (FALSE, FALSE, sizeof (guint16));
  g_mutex_init (&received.lock);
  g_cond_init (&received.cond);
  received.seqs = g_array_new (FALSE, FALSE, sizeof (guint16));

  /* receiver first, on an ephemeral port, with a big receive buffer */
  rx = gst_parse_launch (
      "udpsrc name=src address=127.0.0.1 port=0 "
      "buffer-size=4194304 caps=application/x-rtp ! "
      "fakesink name=sink sync=false async=false signal-handoffs=true",
      NULL);
  fail_unless (rx != NULL);
  sink = gst_bin_get_by_name (GST_BIN (rx), "sink");
  g_signal_connect (sink, "handoff", G_CALLBACK (receiver_handoff), &received);
  fail_if (gst_element_set_state (rx, GST_STATE_PLAYING)
           == GST_STATE_CHANGE_FAILURE);
  fail_if (gst_element_get_state (rx, NULL, NULL, WAIT_SECONDS * GST_SECOND)
           == GST_STATE_CHANGE_FAILURE);
  udpsrc = gst_bin_get_by_name (GST_BIN (rx), "src");
  g_object_get (udpsrc, "port", &port, NULL);
  fail_unless (port > 0);

  /* sender paced at 30 fps (sync=true), so a loaded machine keeps up */
  desc = g_strdup_printf (
      "videotestsrc num-buffers=%u pattern=smpte ! "
      "video/x-raw,width=320,height=240,framerate=30/1 ! "
      "x264enc speed-preset=ultrafast tune=zerolatency key-int-max=15 ! "
      "rtph264pay mtu=500 ! payloadbatch name=pb ! "
      "udpsink host=127.0.0.1 port=%d sync=true",
      frames, port);
  tx = gst_parse_launch (desc, NULL);
  g_free (desc);
  fail_unless (tx != NULL);
  pb = gst_bin_get_by_name (GST_BIN (tx), "pb");
  pbsink = gst_element_get_static_pad (pb, "sink");
  gst_pad_add_probe (pbsink,
                     GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST,
                     sender_probe, &sent, NULL);
  fail_unless (run_to_eos (tx));
  g_object_get (pb, "batches", &batches, "buffers", &buffers, NULL);

  /* every packet arrives, in order */
  fail_unless (sent.seqs->len > frames);
  fail_unless_equals_uint64 (buffers, sent.seqs->len);
  fail_unless_equals_uint64 (batches, frames);
  deadline = g_get_monotonic_time () + WAIT_SECONDS * G_TIME_SPAN_SECOND;
  g_mutex_lock (&received.lock);
  while (received.seqs->len < sent.seqs->len
         && g_cond_wait_until (&received.cond, &received.lock, deadline))
    ;
  g_mutex_unlock (&received.lock);

  gst_element_set_state (tx, GST_STATE_NULL);
  gst_element_set_state (rx, GST_STATE_NULL);
  fail_unless_equals_int (received.seqs->len, sent.seqs->len);
  for (i = 0; i < sent.seqs->len; i++)
    fail_unless_equals_int (g_array_index (received.seqs, guint16, i),
                            g_array_index (sent.seqs, guint16, i));
  for (i = 1; i < received.seqs->len; i++)
    fail_unless_equals_int (g_array_index (received.seqs, guint16, i),
                            (g_array_index (received.seqs, guint16, i - 1) + 1)
                                & 0xffff);

  gst_object_unref (pbsink);
  gst_object_unref (pb);
  gst_object_unref (tx);
  gst_object_unref (udpsrc);
  gst_object_unref (sink);
  gst_object_unref (rx);
  g_array_unref (sent.seqs);
  g_array_unref (received.seqs);
  g_cond_clear (&sent.cond);
  g_mutex_clear (&sent.lock);
  g_cond_clear (&received.cond);
  g_mutex_clear (&received.lock);
}
GST_END_TEST;

static Suite *
payloadbatch_suite (void)
{
  Suite *s = suite_create ("payloadbatch");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_max_buffers);
  tcase_add_test (tc, test_max_bytes);
  tcase_add_test (tc, test_bounds_together);
  tcase_add_test (tc, test_frame_boundary_pts);
  tcase_add_test (tc, test_frame_boundary_rtp_marker);
  tcase_add_test (tc, test_frame_boundary_real_payloaders);
  tcase_add_test (tc, test_keyframe_boundary);
  tcase_add_test (tc, test_timer_thread_only_with_max_latency);
  tcase_add_test (tc, test_timeout_push);
  tcase_add_test (tc, test_events_flush_in_order);
  tcase_add_test (tc, test_buffer_lists_in);
  tcase_add_test (tc, test_flush_mid_batch);
  tcase_add_test (tc, test_flush_cancels_timer);
  tcase_add_test (tc, test_state_change_mid_batch);
  tcase_add_test (tc, test_latency_query);
  tcase_add_test (tc, test_passthrough);
  tcase_add_test (tc, test_stats);
  tcase_add_test (tc, test_caps_proxied);
  tcase_add_test (tc, test_zero_bounds_refused);
  tcase_add_test (tc, test_frame_untimestamped_warns_once);
  tcase_add_test (tc, test_udp_pipeline);
  return s;
}

GST_CHECK_MAIN (payloadbatch);
