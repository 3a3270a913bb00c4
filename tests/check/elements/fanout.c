/* gst-fanout
 * Copyright (C) 2026 the gst-fanout authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2.1 of the License, or (at your option) any later version.
 */

/* Unit tests for the fanout element: one GstHarness on the sink pad, one per
 * src_%u pad. Slow readers are pad probes that hold the reader's push until
 * the test lets go (never sleeps); "the writer never waits" is shown by the
 * writer finishing all its pushes while a reader is stalled. */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <gst/video/video.h>
#include <valgrind/valgrind.h>

#define H264_CAPS "video/x-h264,stream-format=byte-stream,alignment=au"
#define RAW_CAPS "video/x-raw,format=I420,width=16,height=16,framerate=30/1"
#define BARRIER "fanout-test-barrier"

/* Loop counts shrink under valgrind; assertions never do. */
static guint
scaled (guint n)
{
  return RUNNING_ON_VALGRIND ? MAX (n / 10, 2) : n;
}

static GstBuffer *
make_buffer (guint i, gboolean keyframe)
{
  GstBuffer *buf = gst_buffer_new_allocate (NULL, 16, NULL);
  gst_buffer_memset (buf, 0, (guint8)i, 16);
  GST_BUFFER_PTS (buf) = i * 10 * GST_MSECOND;
  GST_BUFFER_DURATION (buf) = 10 * GST_MSECOND;
  if (!keyframe)
    GST_BUFFER_FLAG_SET (buf, GST_BUFFER_FLAG_DELTA_UNIT);
  return buf;
}

/* The input harness: fanout's sink pad. @capacity 0 keeps the default. */
static GstHarness *
new_input (guint capacity, const gchar *caps)
{
  GstElement *e = gst_element_factory_make ("fanout", NULL);
  GstHarness *h;

  fail_unless (e != NULL);
  if (capacity)
    g_object_set (e, "capacity", capacity, NULL);
  h = gst_harness_new_with_element (e, "sink", NULL);
  gst_object_unref (e);
  if (caps)
    gst_harness_set_src_caps_str (h, caps);
  return h;
}

/* A reader harness on a new src_%u pad. */
static GstHarness *
new_reader (GstHarness *in)
{
  return gst_harness_new_with_element (in->element, NULL, "src_%u");
}

static GstPad *
reader_pad (GstHarness *r)
{
  return gst_pad_get_peer (r->sinkpad);
}

static void
push (GstHarness *in, guint i, gboolean keyframe)
{
  fail_unless_equals_int (gst_harness_push (in, make_buffer (i, keyframe)),
                          GST_FLOW_OK);
}

static void
push_barrier (GstHarness *in)
{
  fail_unless (gst_harness_push_event (
      in, gst_event_new_custom (GST_EVENT_CUSTOM_DOWNSTREAM,
                                gst_structure_new_empty (BARRIER))));
}

static gboolean
is_barrier (GstEvent *ev)
{
  return GST_EVENT_TYPE (ev) == GST_EVENT_CUSTOM_DOWNSTREAM
         && gst_event_has_name (ev, BARRIER);
}

/* Waits until @r received the barrier (so every buffer before it has been
 * chained), dropping the events before it. */
static void
wait_barrier (GstHarness *r)
{
  for (;;) {
    GstEvent *ev = gst_harness_pull_event (r);
    gboolean done;
    fail_unless (ev != NULL, "no barrier within the harness timeout");
    done = is_barrier (ev);
    gst_event_unref (ev);
    if (done)
      return;
  }
}

static void
wait_event_type (GstHarness *r, GstEventType type)
{
  for (;;) {
    GstEvent *ev = gst_harness_pull_event (r);
    gboolean done;
    fail_unless (ev != NULL, "no %s within the harness timeout",
                 gst_event_type_get_name (type));
    done = GST_EVENT_TYPE (ev) == type;
    gst_event_unref (ev);
    if (done)
      return;
  }
}

static guint64
pad_u64 (GstHarness *r, const gchar *prop)
{
  GstPad *pad = reader_pad (r);
  guint64 v = 0;
  g_object_get (pad, prop, &v, NULL);
  gst_object_unref (pad);
  return v;
}

static guint64
ring_u64 (GstElement *e, const gchar *field)
{
  GstStructure *s = NULL;
  guint64 v = 0;
  g_object_get (e, "stats", &s, NULL);
  fail_unless (s != NULL);
  fail_unless (gst_structure_get_uint64 (s, field, &v));
  gst_structure_free (s);
  return v;
}

/* Upstream force-key-unit events the input harness received so far (other
 * upstream events, such as RECONFIGURE, are dropped). */
static guint
count_fku (GstHarness *in)
{
  GstEvent *ev;
  guint n = 0;
  while ((ev = gst_harness_try_pull_upstream_event (in))) {
    if (gst_video_event_is_force_key_unit (ev))
      n++;
    gst_event_unref (ev);
  }
  return n;
}

/* Waits for the next upstream force-key-unit event. */
static void
wait_fku (GstHarness *in)
{
  for (;;) {
    GstEvent *ev = gst_harness_pull_upstream_event (in);
    gboolean done;
    fail_unless (ev != NULL, "no force-key-unit within the harness timeout");
    done = gst_video_event_is_force_key_unit (ev);
    gst_event_unref (ev);
    if (done)
      return;
  }
}

/* ------------------------------------------------------------ slow readers */

/* Holds a reader's pushes in a blocking probe until gate_open (). */
typedef struct {
  GMutex lock;
  GCond cond;
  gboolean blocked;
  GstPad *pad;
  gulong id;
} Gate;

static GstPadProbeReturn
gate_probe (GstPad *pad, GstPadProbeInfo *info, gpointer user_data)
{
  Gate *g = user_data;
  g_mutex_lock (&g->lock);
  g->blocked = TRUE;
  g_cond_broadcast (&g->cond);
  g_mutex_unlock (&g->lock);
  return GST_PAD_PROBE_OK; /* stay blocked until the probe is removed */
}

static void
gate_close (Gate *g, GstHarness *r)
{
  g_mutex_init (&g->lock);
  g_cond_init (&g->cond);
  g->blocked = FALSE;
  g->pad = reader_pad (r);
  g->id
      = gst_pad_add_probe (g->pad,
                           GST_PAD_PROBE_TYPE_BLOCK | GST_PAD_PROBE_TYPE_BUFFER
                               | GST_PAD_PROBE_TYPE_BUFFER_LIST,
                           gate_probe, g, NULL);
}

static void
gate_wait_blocked (Gate *g)
{
  gint64 end = g_get_monotonic_time () + 60 * G_TIME_SPAN_SECOND;
  g_mutex_lock (&g->lock);
  while (!g->blocked)
    fail_unless (g_cond_wait_until (&g->cond, &g->lock, end),
                 "reader never reached the gate");
  g_mutex_unlock (&g->lock);
}

static void
gate_open (Gate *g)
{
  if (g->id)
    gst_pad_remove_probe (g->pad, g->id);
  g->id = 0;
}

static void
gate_clear (Gate *g)
{
  gate_open (g);
  gst_object_unref (g->pad);
  g_mutex_clear (&g->lock);
  g_cond_clear (&g->cond);
}

/* Signal recorders. */
typedef struct {
  GMutex lock;
  GCond cond;
  guint64 lagged_total;
  guint lagged_calls;
  guint removed_calls;
  gchar *last_reason;
  GstPad *last_removed;
} Signals;

static void
on_lagged (GstElement *e, GstPad *pad, guint64 dropped, Signals *s)
{
  g_mutex_lock (&s->lock);
  s->lagged_total += dropped;
  s->lagged_calls++;
  g_cond_broadcast (&s->cond);
  g_mutex_unlock (&s->lock);
}

static void
on_removed (GstElement *e, GstPad *pad, const gchar *reason, Signals *s)
{
  g_mutex_lock (&s->lock);
  s->removed_calls++;
  g_free (s->last_reason);
  s->last_reason = g_strdup (reason);
  gst_object_replace ((GstObject **)&s->last_removed, GST_OBJECT (pad));
  g_cond_broadcast (&s->cond);
  g_mutex_unlock (&s->lock);
}

static void
signals_connect (Signals *s, GstElement *e)
{
  memset (s, 0, sizeof (*s));
  g_mutex_init (&s->lock);
  g_cond_init (&s->cond);
  g_signal_connect (e, "reader-lagged", G_CALLBACK (on_lagged), s);
  g_signal_connect (e, "reader-removed", G_CALLBACK (on_removed), s);
}

static void
signals_wait_removed (Signals *s, guint n)
{
  gint64 end = g_get_monotonic_time () + 60 * G_TIME_SPAN_SECOND;
  g_mutex_lock (&s->lock);
  while (s->removed_calls < n)
    fail_unless (g_cond_wait_until (&s->cond, &s->lock, end),
                 "reader-removed not emitted");
  g_mutex_unlock (&s->lock);
}

static void
signals_wait_lagged (Signals *s, guint n)
{
  gint64 end = g_get_monotonic_time () + 60 * G_TIME_SPAN_SECOND;
  g_mutex_lock (&s->lock);
  while (s->lagged_calls < n)
    fail_unless (g_cond_wait_until (&s->cond, &s->lock, end),
                 "reader-lagged not emitted");
  g_mutex_unlock (&s->lock);
}

static void
signals_clear (Signals *s, GstElement *e)
{
  g_signal_handlers_disconnect_by_data (e, s);
  g_free (s->last_reason);
  gst_object_replace ((GstObject **)&s->last_removed, NULL);
  g_mutex_clear (&s->lock);
  g_cond_clear (&s->cond);
}

static GstFlowReturn
drop_chain (GstPad *pad, GstObject *parent, GstBuffer *buf)
{
  gst_buffer_unref (buf);
  return GST_FLOW_OK;
}

/* ------------------------------------------------------------------ tests */

GST_START_TEST (test_request_pad_naming)
{
  GstElement *e = gst_element_factory_make ("fanout", NULL);
  GstPad *p0, *p1, *p5, *dup, *p6, *again;
  gint n;

  p0 = gst_element_request_pad_simple (e, "src_%u");
  p1 = gst_element_request_pad_simple (e, "src_%u");
  p5 = gst_element_request_pad_simple (e, "src_5");
  fail_unless_equals_string (GST_OBJECT_NAME (p0), "src_0");
  fail_unless_equals_string (GST_OBJECT_NAME (p1), "src_1");
  fail_unless_equals_string (GST_OBJECT_NAME (p5), "src_5");
  fail_unless (
      GST_IS_PAD (p0)
      && g_type_is_a (G_OBJECT_TYPE (p0), g_type_from_name ("GstFanoutPad")));

  /* a duplicate is refused (core warns about asking for it, too) */
  ASSERT_CRITICAL (dup = gst_element_request_pad_simple (e, "src_5"));
  fail_unless (dup == NULL);

  /* automatic names continue after the highest requested one */
  p6 = gst_element_request_pad_simple (e, "src_%u");
  fail_unless_equals_string (GST_OBJECT_NAME (p6), "src_6");

  g_object_get (e, "num-src-pads", &n, NULL);
  fail_unless_equals_int (n, 4);

  /* a released name can be requested again */
  gst_element_release_request_pad (e, p0);
  gst_object_unref (p0);
  again = gst_element_request_pad_simple (e, "src_0");
  fail_unless (again != NULL);
  fail_unless_equals_string (GST_OBJECT_NAME (again), "src_0");
  g_object_get (e, "num-src-pads", &n, NULL);
  fail_unless_equals_int (n, 4);

  gst_object_unref (again);
  gst_object_unref (p1);
  gst_object_unref (p5);
  gst_object_unref (p6);
  gst_object_unref (e);
}

GST_END_TEST;

GST_START_TEST (test_every_reader_gets_everything)
{
  GstHarness *in = new_input (0, RAW_CAPS);
  GstHarness *r[3];
  GstBuffer *kept;
  guint i, k, n = 20;

  for (k = 0; k < 3; k++)
    r[k] = new_reader (in);

  kept = make_buffer (0, TRUE);
  fail_unless_equals_int (gst_harness_push (in, gst_buffer_ref (kept)),
                          GST_FLOW_OK);
  for (i = 1; i < n; i++)
    push (in, i, TRUE);

  for (k = 0; k < 3; k++) {
    GstEvent *ev;
    /* sticky events first, in order */
    ev = gst_harness_pull_event (r[k]);
    fail_unless_equals_int (GST_EVENT_TYPE (ev), GST_EVENT_STREAM_START);
    gst_event_unref (ev);
    ev = gst_harness_pull_event (r[k]);
    fail_unless_equals_int (GST_EVENT_TYPE (ev), GST_EVENT_CAPS);
    gst_event_unref (ev);
    ev = gst_harness_pull_event (r[k]);
    fail_unless_equals_int (GST_EVENT_TYPE (ev), GST_EVENT_SEGMENT);
    gst_event_unref (ev);

    for (i = 0; i < n; i++) {
      GstBuffer *b = gst_harness_pull (r[k]);
      fail_unless (b != NULL);
      fail_unless_equals_uint64 (GST_BUFFER_PTS (b), i * 10 * GST_MSECOND);
      fail_if (GST_BUFFER_FLAG_IS_SET (b, GST_BUFFER_FLAG_DISCONT));
      if (i == 0)
        fail_unless (b == kept, "the reader got a copy, not the buffer");
      gst_buffer_unref (b);
    }
  }
  /* the counters are updated after each push returns: wait for a barrier */
  push_barrier (in);
  for (k = 0; k < 3; k++) {
    wait_barrier (r[k]);
    fail_unless_equals_uint64 (pad_u64 (r[k], "pushed"), n);
    fail_unless_equals_uint64 (pad_u64 (r[k], "dropped"), 0);
  }
  fail_unless_equals_uint64 (ring_u64 (in->element, "writer-waits"), 0);

  for (k = 0; k < 3; k++)
    gst_harness_teardown (r[k]);
  gst_harness_teardown (in);
  /* the ring released its reference with the element */
  ASSERT_MINI_OBJECT_REFCOUNT (kept, "kept buffer", 1);
  gst_buffer_unref (kept);
}

GST_END_TEST;

GST_START_TEST (test_sticky_events_on_late_pad)
{
  GstHarness *in = new_input (0, RAW_CAPS);
  GstHarness *early = new_reader (in), *late;
  GstTagList *tags = gst_tag_list_new (GST_TAG_TITLE, "fanout", NULL);
  GstCaps *expect_caps = gst_caps_from_string (RAW_CAPS);
  GstEvent *ev;
  GstBuffer *b;
  GstCaps *caps;
  guint i;

  fail_unless (gst_harness_push_event (in, gst_event_new_tag (tags)));
  for (i = 0; i < 5; i++)
    push (in, i, TRUE);

  late = new_reader (in);
  push (in, 5, TRUE);

  /* raw video: every buffer is a sync point, so the late reader starts at
   * the newest one in the ring (buffer 4), after the sticky events */
  ev = gst_harness_pull_event (late);
  fail_unless_equals_int (GST_EVENT_TYPE (ev), GST_EVENT_STREAM_START);
  gst_event_unref (ev);
  ev = gst_harness_pull_event (late);
  fail_unless_equals_int (GST_EVENT_TYPE (ev), GST_EVENT_CAPS);
  gst_event_parse_caps (ev, &caps);
  fail_unless (gst_caps_is_equal (caps, expect_caps));
  gst_event_unref (ev);
  ev = gst_harness_pull_event (late);
  fail_unless_equals_int (GST_EVENT_TYPE (ev), GST_EVENT_SEGMENT);
  gst_event_unref (ev);
  ev = gst_harness_pull_event (late);
  fail_unless_equals_int (GST_EVENT_TYPE (ev), GST_EVENT_TAG);
  gst_event_unref (ev);

  b = gst_harness_pull (late);
  fail_unless_equals_uint64 (GST_BUFFER_PTS (b), 40 * GST_MSECOND);
  gst_buffer_unref (b);
  b = gst_harness_pull (late);
  fail_unless_equals_uint64 (GST_BUFFER_PTS (b), 50 * GST_MSECOND);
  gst_buffer_unref (b);

  /* the early reader got all six */
  for (i = 0; i < 6; i++) {
    b = gst_harness_pull (early);
    fail_unless_equals_uint64 (GST_BUFFER_PTS (b), i * 10 * GST_MSECOND);
    gst_buffer_unref (b);
  }

  gst_caps_unref (expect_caps);
  gst_harness_teardown (late);
  gst_harness_teardown (early);
  gst_harness_teardown (in);
}

GST_END_TEST;

/* A child-added handler sets a pad property before the reader joins (when
 * its pad gets linked): the path gst-launch's f.src_N::prop=... takes. */
typedef struct {
  const gchar *prop, *value;
} PadSetting;

static void
set_on_child_added (GstChildProxy *proxy, GObject *child, const gchar *name,
                    gpointer user_data)
{
  PadSetting *ps = user_data;
  gst_util_set_object_arg (child, ps->prop, ps->value);
}

static GstHarness *
new_reader_with (GstHarness *in, const gchar *prop, const gchar *value)
{
  PadSetting ps = { prop, value };
  gulong id = g_signal_connect (in->element, "child-added",
                                G_CALLBACK (set_on_child_added), &ps);
  GstHarness *r = new_reader (in);
  g_signal_handler_disconnect (in->element, id);
  return r;
}

static GstHarness *
new_reader_at (GstHarness *in, const gchar *start)
{
  return new_reader_with (in, "start-position", start);
}

static void
check_first (GstHarness *r, guint expect_index, gboolean expect_key)
{
  GstEvent *ev;
  GstBuffer *b;
  /* caps and segment precede the first buffer */
  ev = gst_harness_pull_event (r);
  fail_unless_equals_int (GST_EVENT_TYPE (ev), GST_EVENT_STREAM_START);
  gst_event_unref (ev);
  ev = gst_harness_pull_event (r);
  fail_unless_equals_int (GST_EVENT_TYPE (ev), GST_EVENT_CAPS);
  gst_event_unref (ev);
  ev = gst_harness_pull_event (r);
  fail_unless_equals_int (GST_EVENT_TYPE (ev), GST_EVENT_SEGMENT);
  gst_event_unref (ev);
  b = gst_harness_pull (r);
  fail_unless_equals_uint64 (GST_BUFFER_PTS (b),
                             expect_index * 10 * GST_MSECOND);
  fail_unless_equals_int (
      !GST_BUFFER_FLAG_IS_SET (b, GST_BUFFER_FLAG_DELTA_UNIT), expect_key);
  gst_buffer_unref (b);
}

GST_START_TEST (test_start_positions)
{
  GstHarness *in = new_input (16, H264_CAPS);
  GstHarness *rk, *rl, *ro;
  GstPad *pad;
  guint i;
  gint start = -1;

  /* K D D K D D */
  for (i = 0; i < 6; i++)
    push (in, i, i % 3 == 0);

  rk = new_reader_at (in, "latest-keyframe");
  rl = new_reader_at (in, "latest");
  ro = new_reader_at (in, "oldest");
  pad = reader_pad (ro);
  g_object_get (pad, "start-position", &start, NULL);
  fail_unless_equals_int (start, 2);
  gst_object_unref (pad);

  check_first (rk, 3, TRUE);
  check_first (rl, 5, FALSE);
  check_first (ro, 0, TRUE);
  /* no keyframe request: the ring held a keyframe */
  fail_unless_equals_int (count_fku (in), 0);

  gst_harness_teardown (rk);
  gst_harness_teardown (rl);
  gst_harness_teardown (ro);
  gst_harness_teardown (in);
}

GST_END_TEST;

GST_START_TEST (test_force_key_unit_once_per_join)
{
  GstHarness *in = new_input (4, H264_CAPS);
  GstHarness *r1, *r2, *r3;
  GstBuffer *b;
  guint i;

  /* K D D D D D: the keyframe has left the 4-item ring */
  for (i = 0; i < 6; i++)
    push (in, i, i == 0);

  /* first join without a keyframe in the ring: one request upstream */
  r1 = new_reader (in);
  wait_fku (in);

  /* a second join in the same GOP asks for nothing more */
  r2 = new_reader (in);

  push (in, 6, TRUE);
  push (in, 7, FALSE);
  /* both start at the new keyframe; by then both checked the ring */
  b = gst_harness_pull (r1);
  fail_unless_equals_uint64 (GST_BUFFER_PTS (b), 60 * GST_MSECOND);
  gst_buffer_unref (b);
  b = gst_harness_pull (r2);
  fail_unless_equals_uint64 (GST_BUFFER_PTS (b), 60 * GST_MSECOND);
  gst_buffer_unref (b);
  fail_unless_equals_int (count_fku (in), 0);

  /* a join with a keyframe in the ring asks for nothing */
  r3 = new_reader (in);
  b = gst_harness_pull (r3);
  fail_unless_equals_uint64 (GST_BUFFER_PTS (b), 60 * GST_MSECOND);
  gst_buffer_unref (b);
  fail_unless_equals_int (count_fku (in), 0);

  /* readers' own requests: one per GOP reaches upstream */
  fail_unless (gst_harness_push_upstream_event (
      r1, gst_video_event_new_upstream_force_key_unit (GST_CLOCK_TIME_NONE,
                                                       TRUE, 1)));
  fail_unless (gst_harness_push_upstream_event (
      r2, gst_video_event_new_upstream_force_key_unit (GST_CLOCK_TIME_NONE,
                                                       TRUE, 1)));
  fail_unless_equals_int (count_fku (in), 1);
  /* after the next keyframe, a new request goes through */
  push (in, 8, TRUE);
  fail_unless (gst_harness_push_upstream_event (
      r3, gst_video_event_new_upstream_force_key_unit (GST_CLOCK_TIME_NONE,
                                                       TRUE, 2)));
  fail_unless_equals_int (count_fku (in), 1);

  gst_harness_teardown (r1);
  gst_harness_teardown (r2);
  gst_harness_teardown (r3);
  gst_harness_teardown (in);
}

GST_END_TEST;

GST_START_TEST (test_upstream_events_go_upstream)
{
  GstHarness *in = new_input (0, RAW_CAPS);
  GstHarness *a = new_reader (in), *b = new_reader (in);
  GstEvent *ev;
  guint seen = 0;

  fail_unless (gst_harness_push_upstream_event (
      a, gst_event_new_custom (GST_EVENT_CUSTOM_UPSTREAM,
                               gst_structure_new_empty ("from-a"))));
  fail_unless (gst_harness_push_upstream_event (
      b, gst_event_new_custom (GST_EVENT_CUSTOM_UPSTREAM,
                               gst_structure_new_empty ("from-b"))));
  while ((ev = gst_harness_try_pull_upstream_event (in))) {
    if (gst_event_has_name (ev, "from-a") || gst_event_has_name (ev, "from-b"))
      seen++;
    gst_event_unref (ev);
  }
  fail_unless_equals_int (seen, 2);
  gst_harness_teardown (a);
  gst_harness_teardown (b);
  gst_harness_teardown (in);
}

GST_END_TEST;

GST_START_TEST (test_buffer_list_is_one_item)
{
  GstHarness *in = new_input (0, H264_CAPS);
  GstHarness *r = new_reader (in), *late;
  GstBufferList *list = gst_buffer_list_new ();
  guint64 before, after;
  GstBuffer *b;
  guint i;

  push (in, 0, TRUE);
  push_barrier (in);
  wait_barrier (r);
  gst_buffer_unref (gst_harness_pull (r));
  before = ring_u64 (in->element, "written");
  /* a keyframe list: its first buffer has no DELTA_UNIT */
  for (i = 1; i <= 3; i++)
    gst_buffer_list_add (list, make_buffer (i, i == 1));
  fail_unless_equals_int (gst_pad_push_list (in->srcpad, list), GST_FLOW_OK);
  after = ring_u64 (in->element, "written");
  fail_unless_equals_uint64 (after - before, 1);
  push (in, 4, FALSE);

  for (i = 1; i <= 4; i++) {
    b = gst_harness_pull (r);
    fail_unless_equals_uint64 (GST_BUFFER_PTS (b), i * 10 * GST_MSECOND);
    gst_buffer_unref (b);
  }
  push_barrier (in);
  wait_barrier (r);
  fail_unless_equals_uint64 (pad_u64 (r, "pushed"), 5);

  /* the list is the newest sync point: a late reader starts with it */
  late = new_reader (in);
  push (in, 5, FALSE);
  b = gst_harness_pull (late);
  fail_unless_equals_uint64 (GST_BUFFER_PTS (b), 10 * GST_MSECOND);
  gst_buffer_unref (b);

  gst_harness_teardown (late);
  gst_harness_teardown (r);
  gst_harness_teardown (in);
}

GST_END_TEST;

/* Unlinking and relinking a running reader while no data flows (its task
 * sleeps in the ring) neither hangs nor restarts it. */
GST_START_TEST (test_relink_idle_reader)
{
  GstHarness *in = new_input (0, RAW_CAPS);
  GstHarness *r = new_reader (in);
  GstPad *pad = reader_pad (r);
  GstBuffer *b;

  push (in, 0, TRUE);
  gst_buffer_unref (gst_harness_pull (r));
  fail_unless (gst_pad_unlink (pad, r->sinkpad));
  fail_unless_equals_int (gst_pad_link (pad, r->sinkpad), GST_PAD_LINK_OK);
  push (in, 1, TRUE);
  b = gst_harness_pull (r);
  fail_unless_equals_uint64 (GST_BUFFER_PTS (b), 10 * GST_MSECOND);
  gst_buffer_unref (b);
  gst_object_unref (pad);
  gst_harness_teardown (r);
  gst_harness_teardown (in);
}

GST_END_TEST;

typedef struct {
  GMutex lock;
  GCond cond;
  gboolean seen;
} Seen;

static GstPadProbeReturn
barrier_probe (GstPad *pad, GstPadProbeInfo *info, gpointer user_data)
{
  Seen *s = user_data;
  if (is_barrier (GST_PAD_PROBE_INFO_EVENT (info))) {
    g_mutex_lock (&s->lock);
    s->seen = TRUE;
    g_cond_broadcast (&s->cond);
    g_mutex_unlock (&s->lock);
  }
  return GST_PAD_PROBE_OK;
}

/* A branch whose downstream is flushing (not started yet) drops, keeps
 * reading, and delivers again once downstream starts. */
GST_START_TEST (test_downstream_flushing_branch)
{
  GstHarness *in = new_input (0, RAW_CAPS);
  GstHarness *r = new_reader (in), *other = new_reader (in);
  Seen seen = { 0 };
  GstPad *pad;
  GstBuffer *b;
  gulong probe;
  gint64 end;

  push (in, 0, TRUE);
  gst_buffer_unref (gst_harness_pull (r));
  gst_pad_set_active (r->sinkpad, FALSE);
  g_mutex_init (&seen.lock);
  g_cond_init (&seen.cond);
  pad = reader_pad (r);
  probe = gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM,
                             barrier_probe, &seen, NULL);
  push (in, 1, TRUE);
  push (in, 2, TRUE);
  push_barrier (in);
  /* the reader passed the barrier (its downstream refused it all) */
  end = g_get_monotonic_time () + 60 * G_TIME_SPAN_SECOND;
  g_mutex_lock (&seen.lock);
  while (!seen.seen)
    fail_unless (g_cond_wait_until (&seen.cond, &seen.lock, end));
  g_mutex_unlock (&seen.lock);
  wait_barrier (other);
  gst_pad_set_active (r->sinkpad, TRUE);
  push (in, 3, TRUE);
  b = gst_harness_pull (r);
  fail_unless_equals_uint64 (GST_BUFFER_PTS (b), 30 * GST_MSECOND);
  gst_buffer_unref (b);
  push_barrier (in);
  wait_barrier (other);
  /* r's probe has seen this barrier too: nothing more passes it until the
   * probe is removed, and it must be before seen.lock is cleared (the
   * reader's task still pushes events at teardown). */
  wait_barrier (r);
  fail_unless_equals_int (gst_harness_buffers_received (other), 4);
  fail_unless_equals_int (gst_harness_buffers_received (r), 2);
  gst_pad_remove_probe (pad, probe);
  gst_object_unref (pad);
  g_mutex_clear (&seen.lock);
  g_cond_clear (&seen.cond);
  gst_harness_teardown (other);
  gst_harness_teardown (r);
  gst_harness_teardown (in);
}

GST_END_TEST;

GST_START_TEST (test_request_keyframe_off)
{
  GstHarness *in = new_input (4, H264_CAPS);
  GstHarness *r;
  GstBuffer *b;
  guint i;

  g_object_set (in->element, "request-keyframe", FALSE, NULL);
  for (i = 0; i < 6; i++)
    push (in, i, i == 0);
  r = new_reader (in);
  push (in, 6, TRUE);
  b = gst_harness_pull (r);
  fail_unless_equals_uint64 (GST_BUFFER_PTS (b), 60 * GST_MSECOND);
  gst_buffer_unref (b);
  fail_unless_equals_int (count_fku (in), 0);
  gst_harness_teardown (r);
  gst_harness_teardown (in);
}

GST_END_TEST;

/* A slow reader (held in a probe) under @policy while the fast one gets
 * everything and the writer never waits. Returns the slow harness. */
typedef struct {
  GstHarness *in, *fast, *slow;
  Gate gate;
  Signals sig;
  guint n;
} Lag;

static void
lag_setup (Lag *l, const gchar *policy, const gchar *fast_policy,
           const gchar *caps, guint n)
{
  l->n = n;
  l->in = new_input (8, caps);
  signals_connect (&l->sig, l->in->element);
  l->fast = new_reader_with (l->in, "lag-policy", fast_policy);
  l->slow = new_reader_with (l->in, "lag-policy", policy);
  gate_close (&l->gate, l->slow);
}

static void
lag_run_writer (Lag *l, guint key_every)
{
  guint i;
  /* the slow reader stalls on the first buffer */
  push (l->in, 0, TRUE);
  gate_wait_blocked (&l->gate);
  /* the writer finishes every push while it is stalled; it goes at the
   * fast reader's pace (so that one is never lapped whatever the load) */
  for (i = 0; i < l->n; i++) {
    GstBuffer *b;
    if (i > 0)
      push (l->in, i, i % key_every == 0);
    b = gst_harness_pull (l->fast);
    fail_unless_equals_uint64 (GST_BUFFER_PTS (b), i * 10 * GST_MSECOND);
    fail_if (GST_BUFFER_FLAG_IS_SET (b, GST_BUFFER_FLAG_DISCONT));
    gst_buffer_unref (b);
  }
  fail_unless_equals_uint64 (ring_u64 (l->in->element, "writer-waits"), 0);
}

static void
lag_teardown (Lag *l)
{
  gate_clear (&l->gate);
  signals_clear (&l->sig, l->in->element);
  gst_harness_teardown (l->fast);
  gst_harness_teardown (l->slow);
  gst_harness_teardown (l->in);
}

/* Pulls what the slow reader got after the gate opened; checks the resync
 * shape and returns the number of buffers. */
static guint
lag_drain_slow (Lag *l, gboolean expect_key_after_gap)
{
  guint got = 0;
  GstClockTime last = GST_CLOCK_TIME_NONE;
  gboolean gap_seen = FALSE;
  GstBuffer *b;

  /* let it go, wait until it resynced, then one more keyframe and a
   * barrier to know it is done */
  gate_open (&l->gate);
  signals_wait_lagged (&l->sig, 1);
  push (l->in, l->n, TRUE);
  push_barrier (l->in);
  wait_barrier (l->slow);
  while ((b = gst_harness_try_pull (l->slow))) {
    if (GST_CLOCK_TIME_IS_VALID (last)
        && GST_BUFFER_PTS (b) != last + 10 * GST_MSECOND) {
      /* first buffer after a gap: DISCONT, and a keyframe if asked */
      fail_unless (GST_BUFFER_FLAG_IS_SET (b, GST_BUFFER_FLAG_DISCONT),
                   "no DISCONT after a gap");
      if (expect_key_after_gap)
        fail_if (GST_BUFFER_FLAG_IS_SET (b, GST_BUFFER_FLAG_DELTA_UNIT));
      gap_seen = TRUE;
    }
    last = GST_BUFFER_PTS (b);
    got++;
    gst_buffer_unref (b);
  }
  fail_unless (gap_seen, "the slow reader was never lapped");
  return got;
}

GST_START_TEST (test_lag_drop_to_keyframe)
{
  Lag l;
  guint got;
  guint64 dropped;

  lag_setup (&l, "drop-to-keyframe", "drop-to-keyframe", H264_CAPS, 40);
  lag_run_writer (&l, 5);
  got = lag_drain_slow (&l, TRUE);
  dropped = pad_u64 (l.slow, "dropped");
  fail_unless (dropped > 0);
  /* every item was either pushed or counted as dropped */
  fail_unless_equals_uint64 (got + dropped, l.n + 1);
  fail_unless_equals_uint64 (pad_u64 (l.slow, "pushed"), got);
  /* signals match the figures */
  fail_unless (l.sig.lagged_calls >= 1);
  fail_unless_equals_uint64 (l.sig.lagged_total, dropped);
  lag_teardown (&l);
}

GST_END_TEST;

GST_START_TEST (test_lag_drop_to_latest)
{
  Lag l;
  guint got;
  guint64 dropped;

  lag_setup (&l, "drop-to-latest", "drop-to-keyframe", H264_CAPS, 40);
  lag_run_writer (&l, 5);
  got = lag_drain_slow (&l, FALSE);
  dropped = pad_u64 (l.slow, "dropped");
  fail_unless (dropped > 0);
  fail_unless_equals_uint64 (got + dropped, l.n + 1);
  fail_unless_equals_uint64 (l.sig.lagged_total, dropped);
  lag_teardown (&l);
}

GST_END_TEST;

GST_START_TEST (test_lag_disconnect)
{
  Lag l;
  GstBus *bus = gst_bus_new ();
  GstMessage *msg;
  GstPad *slow_pad;
  GError *err = NULL;
  gchar *dbg = NULL;

  lag_setup (&l, "disconnect", "drop-to-keyframe", H264_CAPS, 40);
  gst_element_set_bus (l.in->element, bus);
  lag_run_writer (&l, 5);
  slow_pad = reader_pad (l.slow);
  gate_open (&l.gate);
  signals_wait_removed (&l.sig, 1);
  fail_unless_equals_string (l.sig.last_reason, "lapped");
  fail_unless (l.sig.last_removed == slow_pad);

  msg = gst_bus_timed_pop_filtered (bus, 60 * GST_SECOND, GST_MESSAGE_WARNING);
  fail_unless (msg != NULL);
  gst_message_parse_warning (msg, &err, &dbg);
  fail_unless (strstr (err->message, GST_OBJECT_NAME (slow_pad)) != NULL);
  g_clear_error (&err);
  g_free (dbg);
  gst_message_unref (msg);

  /* the writer and the fast reader go on */
  push (l.in, 100, TRUE);
  {
    GstBuffer *b = gst_harness_pull (l.fast);
    fail_unless_equals_uint64 (GST_BUFFER_PTS (b), 1000 * GST_MSECOND);
    gst_buffer_unref (b);
  }
  /* the slow one got only the buffer it held */
  fail_unless_equals_int (gst_harness_buffers_received (l.slow), 1);

  gst_object_unref (slow_pad);
  gst_element_set_bus (l.in->element, NULL);
  gst_object_unref (bus);
  lag_teardown (&l);
}

GST_END_TEST;

static gpointer
push_thread (gpointer data)
{
  Lag *l = data;
  guint i;
  for (i = 1; i < l->n; i++)
    fail_unless_equals_int (
        gst_harness_push (l->in, make_buffer (i, i % 5 == 0)), GST_FLOW_OK);
  push_barrier (l->in);
  return NULL;
}

GST_START_TEST (test_lag_block)
{
  Lag l;
  GThread *t;
  GstBuffer *b;
  guint i;
  gint64 end;

  /* the fast one is lossless too: it is not paced in this test */
  lag_setup (&l, "block", "block", H264_CAPS, 40);
  push (l.in, 0, TRUE);
  gate_wait_blocked (&l.gate);
  t = g_thread_new ("writer", push_thread, &l);

  /* the writer waits for the stalled block reader: wait for the ring to
   * say so (a real state, polled with a generous bound) */
  end = g_get_monotonic_time () + 60 * G_TIME_SPAN_SECOND;
  while (ring_u64 (l.in->element, "writer-waits") == 0) {
    fail_unless (g_get_monotonic_time () < end, "the writer never waited");
    g_usleep (1000);
  }
  gate_open (&l.gate);
  g_thread_join (t);

  /* lossless for both */
  wait_barrier (l.slow);
  for (i = 0; i < l.n; i++) {
    b = gst_harness_pull (l.slow);
    fail_unless_equals_uint64 (GST_BUFFER_PTS (b), i * 10 * GST_MSECOND);
    fail_if (GST_BUFFER_FLAG_IS_SET (b, GST_BUFFER_FLAG_DISCONT));
    gst_buffer_unref (b);
    b = gst_harness_pull (l.fast);
    fail_unless_equals_uint64 (GST_BUFFER_PTS (b), i * 10 * GST_MSECOND);
    gst_buffer_unref (b);
  }
  fail_unless_equals_uint64 (pad_u64 (l.slow, "dropped"), 0);
  fail_unless_equals_int (l.sig.lagged_calls, 0);
  lag_teardown (&l);
}

GST_END_TEST;

GST_START_TEST (test_max_lag_time)
{
  GstHarness *in = new_input (1024, RAW_CAPS);
  GstHarness *fast = new_reader (in), *slow = new_reader (in);
  Gate gate;
  GstBuffer *b;
  guint i, got = 0, n = 40;
  guint64 dropped;

  /* the ring never laps the slow reader here: only the time bound does */
  g_object_set (in->element, "max-lag-time", 50 * GST_MSECOND, NULL);
  gate_close (&gate, slow);
  /* paced by the fast reader, which never falls behind */
  for (i = 0; i < n; i++) {
    push (in, i, TRUE);
    if (i == 0)
      gate_wait_blocked (&gate);
    gst_buffer_unref (gst_harness_pull (fast));
  }
  push_barrier (in);
  fail_unless (pad_u64 (slow, "lag-items") > 0);
  fail_unless (pad_u64 (slow, "lag-time") > 50 * GST_MSECOND);
  gate_open (&gate);
  wait_barrier (slow);
  while ((b = gst_harness_try_pull (slow))) {
    got++;
    gst_buffer_unref (b);
  }
  dropped = pad_u64 (slow, "dropped");
  fail_unless (dropped > 0);
  fail_unless_equals_uint64 (got + dropped, n);
  /* the fast reader was never behind by more than the bound */
  wait_barrier (fast);
  fail_unless_equals_int (gst_harness_buffers_received (fast), n);
  fail_unless_equals_uint64 (pad_u64 (fast, "dropped"), 0);
  fail_unless_equals_uint64 (pad_u64 (fast, "lag-items"), 0);

  gate_clear (&gate);
  gst_harness_teardown (fast);
  gst_harness_teardown (slow);
  gst_harness_teardown (in);
}

GST_END_TEST;

static GstPadProbeReturn
fail_flow_probe (GstPad *pad, GstPadProbeInfo *info, gpointer user_data)
{
  /* HANDLED: the probe owns the buffer */
  gst_buffer_unref (GST_PAD_PROBE_INFO_BUFFER (info));
  GST_PAD_PROBE_INFO_DATA (info) = NULL;
  GST_PAD_PROBE_INFO_FLOW_RETURN (info) = GPOINTER_TO_INT (user_data);
  return GST_PAD_PROBE_HANDLED;
}

/* Downstream answers NOT_LINKED (linked pad, nothing behind it): the
 * reader drops quietly, counts, and goes on; the other reader is not
 * affected. */
GST_START_TEST (test_not_linked)
{
  GstHarness *in = new_input (0, RAW_CAPS);
  GstHarness *r = new_reader (in), *nl = new_reader (in);
  GstPad *nl_pad = reader_pad (nl);
  guint i, n = 10;

  gst_pad_add_probe (nl_pad, GST_PAD_PROBE_TYPE_BUFFER, fail_flow_probe,
                     GINT_TO_POINTER (GST_FLOW_NOT_LINKED), NULL);
  for (i = 0; i < n; i++)
    push (in, i, TRUE);
  push_barrier (in);

  /* the barrier is an event: it passes, after every buffer before it */
  wait_barrier (nl);
  fail_unless_equals_uint64 (pad_u64 (nl, "not-linked"), n);
  fail_unless_equals_uint64 (pad_u64 (nl, "pushed"), 0);
  fail_unless_equals_int (gst_harness_buffers_received (nl), 0);
  wait_barrier (r);
  fail_unless_equals_int (gst_harness_buffers_in_queue (r), n);
  fail_unless_equals_uint64 (pad_u64 (r, "not-linked"), 0);

  /* still reading: a later buffer is counted too */
  push (in, n, TRUE);
  push_barrier (in);
  wait_barrier (nl);
  fail_unless_equals_uint64 (pad_u64 (nl, "not-linked"), n + 1);

  gst_object_unref (nl_pad);
  gst_harness_teardown (r);
  gst_harness_teardown (nl);
  gst_harness_teardown (in);
}

GST_END_TEST;

static void
check_reader_error (GstFlowReturn flow, const gchar *reason)
{
  GstHarness *in = new_input (0, RAW_CAPS);
  GstHarness *good = new_reader (in), *bad = new_reader (in);
  GstBus *bus = gst_bus_new ();
  GstPad *bad_pad = reader_pad (bad);
  Signals sig;
  GstMessage *msg;
  GError *err = NULL;
  gchar *dbg = NULL;
  guint i;

  signals_connect (&sig, in->element);
  gst_element_set_bus (in->element, bus);
  gst_pad_add_probe (bad_pad, GST_PAD_PROBE_TYPE_BUFFER, fail_flow_probe,
                     GINT_TO_POINTER (flow), NULL);

  push (in, 0, TRUE);
  signals_wait_removed (&sig, 1);
  fail_unless_equals_string (sig.last_reason, reason);
  fail_unless (sig.last_removed == bad_pad);

  msg = gst_bus_timed_pop_filtered (bus, 60 * GST_SECOND, GST_MESSAGE_WARNING);
  fail_unless (msg != NULL);
  gst_message_parse_warning (msg, &err, &dbg);
  /* names the pad and the flow */
  fail_unless (strstr (err->message, GST_OBJECT_NAME (bad_pad)) != NULL);
  fail_unless (strstr (err->message, gst_flow_get_name (flow)) != NULL);
  g_clear_error (&err);
  g_free (dbg);
  gst_message_unref (msg);

  /* the writer and the other reader go on */
  for (i = 1; i < 10; i++)
    push (in, i, TRUE);
  push_barrier (in);
  wait_barrier (good);
  fail_unless_equals_int (gst_harness_buffers_in_queue (good), 10);
  fail_unless_equals_int (gst_harness_buffers_received (bad), 0);

  signals_clear (&sig, in->element);
  gst_element_set_bus (in->element, NULL);
  gst_object_unref (bus);
  gst_object_unref (bad_pad);
  gst_harness_teardown (good);
  gst_harness_teardown (bad);
  gst_harness_teardown (in);
}

GST_START_TEST (test_not_negotiated_ends_one_reader)
{
  check_reader_error (GST_FLOW_NOT_NEGOTIATED, "not-negotiated");
}

GST_END_TEST;

GST_START_TEST (test_error_ends_one_reader)
{
  check_reader_error (GST_FLOW_ERROR, "error");
}

GST_END_TEST;

GST_START_TEST (test_eos)
{
  GstHarness *in = new_input (0, RAW_CAPS);
  GstHarness *r[3];
  guint i, k, n = 10;

  for (k = 0; k < 3; k++)
    r[k] = new_reader (in);
  for (i = 0; i < n; i++)
    push (in, i, TRUE);
  fail_unless (gst_harness_push_event (in, gst_event_new_eos ()));
  for (k = 0; k < 3; k++) {
    /* EOS arrives after all the data before it */
    wait_event_type (r[k], GST_EVENT_EOS);
    fail_unless_equals_int (gst_harness_buffers_in_queue (r[k]), n);
  }
  /* a reader joining after EOS gets EOS at once */
  {
    GstHarness *late = new_reader (in);
    wait_event_type (late, GST_EVENT_EOS);
    gst_harness_teardown (late);
  }
  for (k = 0; k < 3; k++)
    gst_harness_teardown (r[k]);
  gst_harness_teardown (in);
}

GST_END_TEST;

GST_START_TEST (test_flush)
{
  GstHarness *in = new_input (0, RAW_CAPS);
  GstHarness *a = new_reader (in), *b = new_reader (in);
  Gate gate;
  GstBuffer *buf;
  GstSegment segment;
  guint i;

  gate_close (&gate, b);
  push (in, 0, TRUE);
  gate_wait_blocked (&gate);
  for (i = 1; i < 4; i++)
    push (in, i, TRUE);
  for (i = 0; i < 4; i++)
    gst_buffer_unref (gst_harness_pull (a));

  /* FLUSH_START reaches every reader, even the one stuck downstream */
  fail_unless (gst_harness_push_event (in, gst_event_new_flush_start ()));
  wait_event_type (a, GST_EVENT_FLUSH_START);
  wait_event_type (b, GST_EVENT_FLUSH_START);
  gate_open (&gate);
  fail_unless (gst_harness_push_event (in, gst_event_new_flush_stop (TRUE)));
  wait_event_type (a, GST_EVENT_FLUSH_STOP);
  wait_event_type (b, GST_EVENT_FLUSH_STOP);

  gst_segment_init (&segment, GST_FORMAT_TIME);
  fail_unless (gst_harness_push_event (in, gst_event_new_segment (&segment)));
  push (in, 10, TRUE);

  /* the ring was reset: the stalled reader resumes with new data only */
  buf = gst_harness_pull (b);
  fail_unless_equals_uint64 (GST_BUFFER_PTS (buf), 100 * GST_MSECOND);
  gst_buffer_unref (buf);
  buf = gst_harness_pull (a);
  fail_unless_equals_uint64 (GST_BUFFER_PTS (buf), 100 * GST_MSECOND);
  gst_buffer_unref (buf);
  fail_unless_equals_int (gst_harness_buffers_received (b), 1);

  gate_clear (&gate);
  gst_harness_teardown (a);
  gst_harness_teardown (b);
  gst_harness_teardown (in);
}

GST_END_TEST;

GST_START_TEST (test_caps_queries)
{
  GstHarness *in = new_input (0, NULL);
  GstHarness *a = new_reader (in), *b = new_reader (in);
  GstPad *unlinked = gst_element_request_pad_simple (in->element, "src_%u");
  GstCaps *caps, *expect, *filter;

  gst_harness_set_sink_caps_str (a, "video/x-raw,format={I420,NV12}");
  gst_harness_set_sink_caps_str (b, "video/x-raw,format={NV12,YUY2}");

  /* the intersection over the linked readers (the unlinked one is
   * ignored) */
  filter = gst_caps_from_string ("video/x-raw");
  caps = gst_pad_peer_query_caps (in->srcpad, filter);
  expect = gst_caps_from_string ("video/x-raw,format=NV12");
  fail_unless (gst_caps_is_equal (caps, expect), "got %" GST_PTR_FORMAT, caps);
  gst_caps_unref (caps);
  gst_caps_unref (expect);
  gst_caps_unref (filter);

  caps = gst_caps_from_string ("video/x-raw,format=NV12");
  fail_unless (gst_pad_peer_query_accept_caps (in->srcpad, caps));
  gst_caps_unref (caps);
  caps = gst_caps_from_string ("video/x-raw,format=I420");
  fail_if (gst_pad_peer_query_accept_caps (in->srcpad, caps));
  gst_caps_unref (caps);

  gst_element_release_request_pad (in->element, unlinked);
  gst_object_unref (unlinked);
  gst_harness_teardown (a);
  gst_harness_teardown (b);
  gst_harness_teardown (in);
}

GST_END_TEST;

/* ------------------------------------------------ allocation, as tee */

/* What a hand-made reader peer answers to an ALLOCATION query. */
typedef struct {
  gboolean fail;
  guint size, min;
  gsize align, prefix, padding;
  GType metas[3];
  GstStructure *params[3]; /* of metas[i], may be NULL; owned */
} AllocAnswer;

static gboolean
answer_query (GstPad *pad, GstObject *parent, GstQuery *query)
{
  AllocAnswer *a = g_object_get_data (G_OBJECT (pad), "answer");
  GstAllocationParams params;
  guint i;

  if (GST_QUERY_TYPE (query) != GST_QUERY_ALLOCATION)
    return gst_pad_query_default (pad, parent, query);
  if (a->fail)
    return FALSE;
  gst_allocation_params_init (&params);
  params.align = a->align;
  params.prefix = a->prefix;
  params.padding = a->padding;
  gst_query_add_allocation_param (query, NULL, &params);
  if (a->size) {
    /* a downstream pool: fanout must never hand it upstream */
    GstBufferPool *pool = gst_buffer_pool_new ();
    gst_query_add_allocation_pool (query, pool, a->size, a->min, 0);
    gst_object_unref (pool);
  }
  for (i = 0; i < G_N_ELEMENTS (a->metas) && a->metas[i]; i++)
    gst_query_add_allocation_meta (query, a->metas[i], a->params[i]);
  return TRUE;
}

/* A reader of @e linked to a bare sink pad answering with @a. */
static GstPad *
answering_reader (GstElement *e, AllocAnswer *a, GstPad **sink)
{
  GstPad *pad = gst_element_request_pad_simple (e, "src_%u");
  *sink = gst_pad_new ("sink", GST_PAD_SINK);
  g_object_set_data (G_OBJECT (*sink), "answer", a);
  gst_pad_set_query_function (*sink, answer_query);
  gst_pad_set_chain_function (*sink, drop_chain);
  fail_unless_equals_int (gst_pad_link (pad, *sink), GST_PAD_LINK_OK);
  return pad;
}

static GstQuery *
query_allocation (GstElement *e, gboolean expect)
{
  GstPad *sink = gst_element_get_static_pad (e, "sink");
  GstCaps *caps = gst_caps_from_string (RAW_CAPS);
  GstQuery *q = gst_query_new_allocation (caps, TRUE);
  fail_unless_equals_int (gst_pad_query (sink, q), expect);
  gst_caps_unref (caps);
  gst_object_unref (sink);
  return q;
}

static void
answer_clear (AllocAnswer *a)
{
  guint i;
  for (i = 0; i < G_N_ELEMENTS (a->params); i++)
    if (a->params[i])
      gst_structure_free (a->params[i]);
}

/* Aggregated over the linked readers as tee 1.22 does: largest size and
 * min (plus one for several readers), no pool, the largest alignment,
 * prefix and padding, only the metas every reader accepts (with equal
 * parameters). */
GST_START_TEST (test_allocation_query_aggregated)
{
  GstElement *e = gst_element_factory_make ("fanout", NULL);
  AllocAnswer a = { FALSE, 1000, 2, 7, 16, 0 },
              b = { FALSE, 2000, 1, 15, 0, 32 };
  GstPad *pa, *pb, *sa, *sb;
  GstQuery *q;
  GstBufferPool *pool = NULL;
  GstAllocationParams params;
  const GstStructure *mp;
  guint size, min, max, idx;

  a.metas[0] = GST_VIDEO_META_API_TYPE;
  a.metas[1] = GST_VIDEO_CROP_META_API_TYPE;
  a.metas[2] = GST_VIDEO_AFFINE_TRANSFORMATION_META_API_TYPE;
  a.params[2] = gst_structure_new ("p", "v", G_TYPE_INT, 1, NULL);
  b.metas[0] = GST_VIDEO_AFFINE_TRANSFORMATION_META_API_TYPE;
  b.params[0] = gst_structure_new ("p", "v", G_TYPE_INT, 1, NULL);
  b.metas[1] = GST_VIDEO_META_API_TYPE;
  pa = answering_reader (e, &a, &sa);

  /* one reader: its answer, without its pool */
  q = query_allocation (e, TRUE);
  fail_unless_equals_int (gst_query_get_n_allocation_pools (q), 1);
  gst_query_parse_nth_allocation_pool (q, 0, &pool, &size, &min, &max);
  fail_unless (pool == NULL);
  fail_unless_equals_int (size, 1000);
  fail_unless_equals_int (min, 2);
  fail_unless_equals_int (gst_query_get_n_allocation_metas (q), 3);
  gst_query_unref (q);

  /* two readers */
  pb = answering_reader (e, &b, &sb);
  q = query_allocation (e, TRUE);
  fail_unless_equals_int (gst_query_get_n_allocation_pools (q), 1);
  gst_query_parse_nth_allocation_pool (q, 0, &pool, &size, &min, &max);
  fail_unless (pool == NULL);
  fail_unless_equals_int (size, 2000);
  fail_unless_equals_int (min, 3);
  fail_unless_equals_int (gst_query_get_n_allocation_params (q), 1);
  gst_query_parse_nth_allocation_param (q, 0, NULL, &params);
  fail_unless_equals_int (params.align, 15);
  fail_unless_equals_int (params.prefix, 16);
  fail_unless_equals_int (params.padding, 32);
  fail_unless_equals_int (gst_query_get_n_allocation_metas (q), 2);
  fail_unless (
      gst_query_find_allocation_meta (q, GST_VIDEO_META_API_TYPE, NULL));
  fail_unless (
      !gst_query_find_allocation_meta (q, GST_VIDEO_CROP_META_API_TYPE, NULL));
  fail_unless (gst_query_find_allocation_meta (
      q, GST_VIDEO_AFFINE_TRANSFORMATION_META_API_TYPE, &idx));
  gst_query_parse_nth_allocation_meta (q, idx, &mp);
  fail_unless (mp != NULL && gst_structure_is_equal (mp, a.params[2]));
  gst_query_unref (q);

  /* different parameters: 1.22 cannot merge them, the meta is dropped */
  gst_structure_set (b.params[0], "v", G_TYPE_INT, 2, NULL);
  q = query_allocation (e, TRUE);
  fail_unless_equals_int (gst_query_get_n_allocation_metas (q), 1);
  fail_unless (
      gst_query_find_allocation_meta (q, GST_VIDEO_META_API_TYPE, NULL));
  gst_query_unref (q);

  gst_element_release_request_pad (e, pa);
  gst_element_release_request_pad (e, pb);
  gst_object_unref (pa);
  gst_object_unref (pb);
  gst_object_unref (sa);
  gst_object_unref (sb);
  answer_clear (&a);
  answer_clear (&b);
  gst_object_unref (e);
}

GST_END_TEST;

/* A failing or unlinked reader fails the query unless allow-not-linked
 * (the default) lets it be ignored. */
GST_START_TEST (test_allocation_query_failing_reader)
{
  GstElement *e = gst_element_factory_make ("fanout", NULL);
  AllocAnswer good = { FALSE, 500, 1 }, bad = { TRUE };
  GstPad *pg, *pb, *sg, *sb, *unlinked;
  GstQuery *q;
  guint size, min;

  pg = answering_reader (e, &good, &sg);
  pb = answering_reader (e, &bad, &sb);
  q = query_allocation (e, TRUE);
  gst_query_parse_nth_allocation_pool (q, 0, NULL, &size, &min, NULL);
  fail_unless_equals_int (size, 500);
  fail_unless_equals_int (min, 1); /* one reader answered */
  gst_query_unref (q);

  g_object_set (e, "allow-not-linked", FALSE, NULL);
  gst_query_unref (query_allocation (e, FALSE));
  bad.fail = FALSE;
  gst_query_unref (query_allocation (e, TRUE));

  unlinked = gst_element_request_pad_simple (e, "src_%u");
  gst_query_unref (query_allocation (e, FALSE));
  g_object_set (e, "allow-not-linked", TRUE, NULL);
  gst_query_unref (query_allocation (e, TRUE));

  gst_element_release_request_pad (e, unlinked);
  gst_element_release_request_pad (e, pg);
  gst_element_release_request_pad (e, pb);
  gst_object_unref (unlinked);
  gst_object_unref (pg);
  gst_object_unref (pb);
  gst_object_unref (sg);
  gst_object_unref (sb);
  gst_object_unref (e);
}

GST_END_TEST;

/* Isolation with a pooled upstream (as v4l2src's few buffers): a reader
 * stalled while holding a pooled buffer, and the ring keeping every item
 * until it is overwritten, never leave upstream's pool dry. Buffers are
 * held (zero-copy) while the pool has room, copied otherwise. */
GST_START_TEST (test_pooled_upstream_never_runs_dry)
{
  GstHarness *in = new_input (0, RAW_CAPS);
  GstHarness *stalled = new_reader (in), *r = new_reader (in);
  GstBufferPool *pool = gst_buffer_pool_new ();
  GstStructure *config = gst_buffer_pool_get_config (pool);
  GstBufferPoolAcquireParams ap = { 0 };
  GstBuffer *first = NULL;
  Gate gate;
  guint i, n = 100;

  gst_buffer_pool_config_set_params (config, NULL, 16, 0, 4);
  fail_unless (gst_buffer_pool_set_config (pool, config));
  fail_unless (gst_buffer_pool_set_active (pool, TRUE));
  ap.flags = GST_BUFFER_POOL_ACQUIRE_FLAG_DONTWAIT;
  gate_close (&gate, stalled);

  for (i = 0; i < n; i++) {
    GstBuffer *b = NULL, *o;
    guint8 byte;
    /* the writer's source never waits for a buffer: none is missing */
    fail_unless (gst_buffer_pool_acquire_buffer (pool, &b, &ap) == GST_FLOW_OK,
                 "the pool ran dry at buffer %u", i);
    gst_buffer_memset (b, 0, (guint8)i, 16);
    GST_BUFFER_PTS (b) = i * 10 * GST_MSECOND;
    if (i == 0)
      first = b; /* compared, not dereferenced */
    fail_unless_equals_int (gst_harness_push (in, b), GST_FLOW_OK);
    if (i == 0)
      gate_wait_blocked (&gate); /* holds buffer 0 in its push */
    /* the other reader keeps going, in order, with the data */
    o = gst_harness_pull (r);
    fail_unless (o != NULL);
    fail_unless_equals_uint64 (GST_BUFFER_PTS (o), i * 10 * GST_MSECOND);
    gst_buffer_extract (o, 0, &byte, 1);
    fail_unless_equals_int (byte, (guint8)i);
    if (i == 0)
      fail_unless (o == first, "zero-copy while the pool has room");
    gst_buffer_unref (o);
  }
  /* all but the two held ones were copied */
  fail_unless_equals_uint64 (ring_u64 (in->element, "pool-copies"), n - 2);

  gate_clear (&gate);
  push_barrier (in);
  wait_barrier (stalled);
  fail_unless_equals_int (gst_harness_buffers_received (stalled), n);
  gst_harness_teardown (stalled);
  gst_harness_teardown (r);
  gst_harness_teardown (in);
  fail_unless (gst_buffer_pool_set_active (pool, FALSE));
  gst_object_unref (pool);
}

GST_END_TEST;

/* ------------------------------------------------- flow returns, as tee */

GST_START_TEST (test_allow_not_linked)
{
  GstHarness *in = new_input (0, RAW_CAPS);
  GstHarness *r;
  GstPad *unlinked;
  gboolean allow;
  guint64 written;

  /* fanout's default, unlike tee's: no reader is fine */
  g_object_get (in->element, "allow-not-linked", &allow, NULL);
  fail_unless (allow);
  push (in, 0, TRUE);
  written = ring_u64 (in->element, "written");

  g_object_set (in->element, "allow-not-linked", FALSE, NULL);
  fail_unless_equals_int (gst_harness_push (in, make_buffer (1, TRUE)),
                          GST_FLOW_NOT_LINKED);
  unlinked = gst_element_request_pad_simple (in->element, "src_%u");
  fail_unless_equals_int (gst_harness_push (in, make_buffer (2, TRUE)),
                          GST_FLOW_NOT_LINKED);
  /* still published: the ring has every buffer */
  fail_unless_equals_uint64 (ring_u64 (in->element, "written"), written + 2);

  r = new_reader (in);
  push (in, 3, TRUE);
  gst_harness_teardown (r); /* releases its pad */
  fail_unless_equals_int (gst_harness_push (in, make_buffer (4, TRUE)),
                          GST_FLOW_NOT_LINKED);
  g_object_set (in->element, "allow-not-linked", TRUE, NULL);
  push (in, 5, TRUE);

  gst_element_release_request_pad (in->element, unlinked);
  gst_object_unref (unlinked);
  gst_harness_teardown (in);
}

GST_END_TEST;

/* A linked reader whose downstream answers NOT_LINKED counts as not linked
 * (as tee) once its push returned: the result reaches the writer one
 * buffer later (fanout is asynchronous). */
GST_START_TEST (test_not_linked_downstream_returned)
{
  GstHarness *in = new_input (0, RAW_CAPS);
  GstHarness *r = new_reader (in);
  GstPad *pad = reader_pad (r);
  gulong id;

  g_object_set (in->element, "allow-not-linked", FALSE, NULL);
  id = gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, fail_flow_probe,
                          GINT_TO_POINTER (GST_FLOW_NOT_LINKED), NULL);
  /* unchecked: the reader may push (and fail) before the chain returns,
   * so even this call may already report it */
  gst_harness_push (
      in, make_buffer (0, TRUE)); /* the reader has not answered yet */
  push_barrier (in);
  wait_barrier (r);
  fail_unless_equals_int (gst_harness_push (in, make_buffer (1, TRUE)),
                          GST_FLOW_NOT_LINKED);
  gst_pad_remove_probe (pad, id);
  gst_harness_push (in, make_buffer (2, TRUE)); /* either answer */
  push_barrier (in);
  wait_barrier (r);
  push (in, 3, TRUE);
  gst_object_unref (pad);
  gst_harness_teardown (r);
  gst_harness_teardown (in);
}

GST_END_TEST;

/* When every reader failed on a fatal flow, the chain returns it (as
 * queue); a failed reader retries at the next keyframe and recovers when
 * its downstream does. */
GST_START_TEST (test_fatal_flow_when_every_reader_failed)
{
  GstHarness *in = new_input (0, H264_CAPS);
  GstHarness *a = new_reader (in), *b = new_reader (in);
  GstPad *pa = reader_pad (a), *pb = reader_pad (b);
  GstBus *bus = gst_bus_new ();
  Signals sig;
  GstBuffer *got;
  gulong ida;

  signals_connect (&sig, in->element);
  gst_element_set_bus (in->element, bus);
  ida = gst_pad_add_probe (pa, GST_PAD_PROBE_TYPE_BUFFER, fail_flow_probe,
                           GINT_TO_POINTER (GST_FLOW_ERROR), NULL);
  gst_pad_add_probe (pb, GST_PAD_PROBE_TYPE_BUFFER, fail_flow_probe,
                     GINT_TO_POINTER (GST_FLOW_NOT_NEGOTIATED), NULL);
  /* unchecked: the reader may push (and fail) before the chain returns,
   * so even this call may already report it */
  gst_harness_push (in, make_buffer (0, TRUE));
  signals_wait_removed (&sig, 2);
  /* the last one to fail gives the flow */
  fail_unless (gst_harness_push (in, make_buffer (1, FALSE)) < GST_FLOW_EOS);

  /* a's downstream recovers: deltas are skipped, the keyframe goes */
  gst_pad_remove_probe (pa, ida);
  gst_harness_push (in, make_buffer (2, FALSE));
  gst_harness_push (in, make_buffer (3, TRUE));
  got = gst_harness_pull (a);
  fail_unless (got != NULL);
  fail_unless_equals_uint64 (GST_BUFFER_PTS (got), 30 * GST_MSECOND);
  fail_unless (GST_BUFFER_FLAG_IS_SET (got, GST_BUFFER_FLAG_DISCONT));
  gst_buffer_unref (got);
  push_barrier (in);
  wait_barrier (a);
  push (in, 4, FALSE);
  got = gst_harness_pull (a);
  fail_unless_equals_uint64 (GST_BUFFER_PTS (got), 40 * GST_MSECOND);
  gst_buffer_unref (got);
  /* one warning per failure, none per retry */
  push_barrier (in);
  wait_barrier (b);
  fail_unless_equals_int (sig.removed_calls, 2);
  {
    guint warnings = 0;
    GstMessage *m;
    while ((m = gst_bus_pop_filtered (bus, GST_MESSAGE_WARNING))) {
      warnings++;
      gst_message_unref (m);
    }
    fail_unless_equals_int (warnings, 2);
  }

  signals_clear (&sig, in->element);
  gst_element_set_bus (in->element, NULL);
  gst_object_unref (bus);
  gst_object_unref (pa);
  gst_object_unref (pb);
  gst_harness_teardown (a);
  gst_harness_teardown (b);
  gst_harness_teardown (in);
}

GST_END_TEST;

/* A failed reader whose pad is linked again starts afresh at once, at its
 * start position (the newest keyframe in the ring), without waiting for a
 * new keyframe. */
GST_START_TEST (test_relink_restarts_failed_reader)
{
  GstHarness *in = new_input (0, H264_CAPS);
  GstHarness *r = new_reader (in);
  GstPad *pad = reader_pad (r);
  Signals sig;
  GstBuffer *got;
  gulong id;

  signals_connect (&sig, in->element);
  id = gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, fail_flow_probe,
                          GINT_TO_POINTER (GST_FLOW_ERROR), NULL);
  /* unchecked: the reader may push (and fail) before the chain returns,
   * so even this call may already report it */
  gst_harness_push (in, make_buffer (0, TRUE));
  signals_wait_removed (&sig, 1);
  gst_harness_push (in, make_buffer (1, FALSE));
  gst_pad_remove_probe (pad, id);
  fail_unless (gst_pad_unlink (pad, r->sinkpad));
  fail_unless_equals_int (gst_pad_link (pad, r->sinkpad), GST_PAD_LINK_OK);
  got = gst_harness_pull (r);
  fail_unless (got != NULL);
  fail_unless_equals_uint64 (GST_BUFFER_PTS (got), 0);
  gst_buffer_unref (got);
  got = gst_harness_pull (r);
  fail_unless_equals_uint64 (GST_BUFFER_PTS (got), 10 * GST_MSECOND);
  gst_buffer_unref (got);
  push (in, 2, FALSE);

  signals_clear (&sig, in->element);
  gst_object_unref (pad);
  gst_harness_teardown (r);
  gst_harness_teardown (in);
}

GST_END_TEST;

/* tee's other properties: has-chain and pull-mode are refused with a
 * warning when they ask for pulling; alloc-pad is kept, no effect. */
GST_START_TEST (test_tee_properties)
{
  GstElement *e = gst_element_factory_make ("fanout", NULL);
  GstElement *p;
  GstPad *pad, *foreign = gst_pad_new ("src", GST_PAD_SRC), *got = NULL;
  gboolean has_chain = FALSE;
  gint mode = -1;
  GError *err = NULL;

  ASSERT_WARNING (g_object_set (e, "has-chain", FALSE, NULL));
  g_object_get (e, "has-chain", &has_chain, NULL);
  fail_unless (has_chain);
  ASSERT_WARNING (
      gst_util_set_object_arg (G_OBJECT (e), "pull-mode", "single"));
  g_object_get (e, "pull-mode", &mode, NULL);
  fail_unless_equals_int (mode, 0);

  pad = gst_element_request_pad_simple (e, "src_%u");
  g_object_set (e, "alloc-pad", pad, NULL);
  g_object_get (e, "alloc-pad", &got, NULL);
  fail_unless (got == pad);
  gst_object_unref (got);
  g_object_set (e, "alloc-pad", foreign, NULL); /* not ours: ignored */
  g_object_get (e, "alloc-pad", &got, NULL);
  fail_unless (got == pad);
  gst_object_unref (got);
  gst_element_release_request_pad (e, pad);
  g_object_get (e, "alloc-pad", &got, NULL);
  fail_unless (got == NULL);
  gst_object_unref (pad);
  gst_object_unref (foreign);
  gst_object_unref (e);

  /* a tee launch line with fanout in its place */
  p = gst_parse_launch ("fakesrc num-buffers=3 ! fanout allow-not-linked=true "
                        "has-chain=true pull-mode=never name=t "
                        "t. ! fakesink t. ! fakesink",
                        &err);
  fail_unless (p != NULL && err == NULL);
  gst_object_unref (p);
}

GST_END_TEST;

/* gst_element_add_pad refuses the new pad (a pad of that name exists) and
 * drops it: the error path must not touch it afterwards. */
GST_START_TEST (test_request_pad_add_failed)
{
  GstElement *e = gst_element_factory_make ("fanout", NULL);
  GstPad *squat = gst_pad_new ("src_3", GST_PAD_SRC), *pad = NULL, *next;
  gint n;

  fail_unless (gst_element_add_pad (e, squat));
  ASSERT_CRITICAL (pad = gst_element_request_pad_simple (e, "src_3"));
  fail_unless (pad == NULL);
  fail_unless (gst_element_remove_pad (e, squat));
  next = gst_element_request_pad_simple (e, "src_%u");
  fail_unless (next != NULL);
  g_object_get (e, "num-src-pads", &n, NULL);
  fail_unless_equals_int (n, 1);
  gst_element_release_request_pad (e, next);
  gst_object_unref (next);
  gst_object_unref (e);
}

GST_END_TEST;

typedef struct {
  GstElement *element;
  gint stop;
  gint cycles;
} Cycler;

/* Requests a reader, links every other one, releases it: tee's
 * gst_harness_stress_requestpad_start, with a cycle count. */
static gpointer
cycle_thread (gpointer data)
{
  Cycler *c = data;
  while (!g_atomic_int_get (&c->stop)) {
    GstPad *pad = gst_element_request_pad_simple (c->element, "src_%u");
    GstPad *sink = NULL;
    fail_unless (pad != NULL);
    if (g_atomic_int_get (&c->cycles) % 2) {
      sink = gst_pad_new ("sink", GST_PAD_SINK);
      gst_pad_set_chain_function (sink, drop_chain);
      gst_pad_set_active (sink, TRUE);
      gst_pad_link (pad, sink);
    }
    gst_element_release_request_pad (c->element, pad);
    gst_object_unref (pad);
    if (sink) {
      gst_pad_set_active (sink, FALSE);
      gst_object_unref (sink);
    }
    g_atomic_int_inc (&c->cycles);
  }
  return NULL;
}

/* At least 2000 request/release cycles (valgrind too) while buffers flow
 * at full speed: no critical (fatal in gstcheck), no leak (valgrind
 * setup), the steady reader loses nothing. */
GST_START_TEST (test_request_pads_stress)
{
  GstHarness *in = new_input (64, RAW_CAPS);
  GstHarness *r = new_reader (in);
  Cycler c = { in->element, 0, 0 };
  GThread *t = g_thread_new ("cycler", cycle_thread, &c);
  guint i;
  gint n;

  for (i = 0; g_atomic_int_get (&c.cycles) < 2000; i++)
    push (in, i, TRUE);
  g_atomic_int_set (&c.stop, 1);
  g_thread_join (t);
  push_barrier (in);
  wait_barrier (r);
  fail_unless_equals_uint64 (pad_u64 (r, "pushed") + pad_u64 (r, "dropped"), i);
  g_object_get (in->element, "num-src-pads", &n, NULL);
  fail_unless_equals_int (n, 1);
  gst_harness_teardown (r);
  gst_harness_teardown (in);
}

GST_END_TEST;

GST_START_TEST (test_latency_query)
{
  GstHarness *in = new_input (0, RAW_CAPS);
  GstHarness *r = new_reader (in);
  GstQuery *q = gst_query_new_latency ();
  gboolean live;
  GstClockTime min, max;

  gst_harness_set_upstream_latency (in, 20 * GST_MSECOND);
  g_object_set (in->element, "max-lag-time", 100 * GST_MSECOND, NULL);
  fail_unless (gst_pad_peer_query (r->sinkpad, q));
  gst_query_parse_latency (q, &live, &min, &max);
  fail_unless (live);
  fail_unless_equals_uint64 (min, 20 * GST_MSECOND);
  /* upstream's max (none: unbounded) stays unbounded */
  fail_if (GST_CLOCK_TIME_IS_VALID (max) && max < min);
  gst_query_unref (q);
  gst_harness_teardown (r);
  gst_harness_teardown (in);
}

GST_END_TEST;

GST_START_TEST (test_stats_structure)
{
  GstHarness *in = new_input (1000, RAW_CAPS);
  GstHarness *a = new_reader (in), *b = new_reader (in);
  GstStructure *s = NULL;
  const GstStructure *pa;
  guint64 v = 0, cap = 0;
  guint readers = 0;
  guint i;

  for (i = 0; i < 5; i++)
    push (in, i, TRUE);
  push_barrier (in);
  wait_barrier (a);
  wait_barrier (b);

  g_object_get (in->element, "stats", &s, NULL);
  fail_unless (gst_structure_get_uint64 (s, "capacity", &cap));
  fail_unless_equals_uint64 (cap, 1024); /* rounded up */
  fail_unless (gst_structure_get_uint (s, "readers", &readers));
  fail_unless_equals_int (readers, 2);
  fail_unless (gst_structure_get_uint64 (s, "written", &v));
  fail_unless (v >= 5);
  pa = gst_value_get_structure (gst_structure_get_value (s, "src_0"));
  fail_unless (pa != NULL);
  fail_unless (gst_structure_get_uint64 (pa, "pushed", &v));
  fail_unless_equals_uint64 (v, 5);
  fail_unless (gst_structure_has_field (s, "src_1"));
  gst_structure_free (s);

  gst_harness_teardown (a);
  gst_harness_teardown (b);
  gst_harness_teardown (in);
}

GST_END_TEST;

GST_START_TEST (test_capacity_zero_refused)
{
  GstElement *e = gst_element_factory_make ("fanout", NULL);
  GstBus *bus = gst_bus_new ();
  GstMessage *msg;
  GError *err = NULL;

  gst_element_set_bus (e, bus);
  g_object_set (e, "capacity", 0, NULL);
  fail_unless_equals_int (gst_element_set_state (e, GST_STATE_PAUSED),
                          GST_STATE_CHANGE_FAILURE);
  msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
  fail_unless (msg != NULL);
  gst_message_parse_error (msg, &err, NULL);
  fail_unless (
      g_error_matches (err, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS));
  g_clear_error (&err);
  gst_message_unref (msg);
  fail_unless_equals_int (gst_element_set_state (e, GST_STATE_NULL),
                          GST_STATE_CHANGE_SUCCESS);
  gst_element_set_bus (e, NULL);
  gst_object_unref (bus);
  gst_object_unref (e);
}

GST_END_TEST;

GST_START_TEST (test_child_proxy_from_launch)
{
  GError *err = NULL;
  GstElement *pipe = gst_parse_launch (
      "fakesrc num-buffers=0 ! fanout name=f "
      "src_0::lag-policy=block src_1::start-position=oldest "
      "f. ! fakesink f. ! fakesink",
      &err);
  GstElement *f;
  GstPad *p0, *p1;
  gint policy = -1, start = -1;

  fail_unless (pipe != NULL && err == NULL);
  f = gst_bin_get_by_name (GST_BIN (pipe), "f");
  p0 = gst_element_get_static_pad (f, "src_0");
  p1 = gst_element_get_static_pad (f, "src_1");
  fail_unless (p0 && p1);
  g_object_get (p0, "lag-policy", &policy, NULL);
  g_object_get (p1, "start-position", &start, NULL);
  fail_unless_equals_int (policy, 2); /* block */
  fail_unless_equals_int (start, 2);  /* oldest */
  policy = -1;
  gst_child_proxy_get (GST_CHILD_PROXY (f), "src_0::lag-policy", &policy, NULL);
  fail_unless_equals_int (policy, 2);

  gst_object_unref (p0);
  gst_object_unref (p1);
  gst_object_unref (f);
  gst_object_unref (pipe);
}

GST_END_TEST;

GST_START_TEST (test_dispose_releases_all)
{
  GstElement *e = gst_element_factory_make ("fanout", NULL);
  GstPad *pads[3];
  guint k;

  fail_unless_equals_int (gst_element_set_state (e, GST_STATE_PLAYING),
                          GST_STATE_CHANGE_SUCCESS);
  for (k = 0; k < 3; k++)
    pads[k] = gst_element_request_pad_simple (e, "src_%u");
  fail_unless_equals_int (gst_element_set_state (e, GST_STATE_NULL),
                          GST_STATE_CHANGE_SUCCESS);
  ASSERT_OBJECT_REFCOUNT (e, "fanout", 1);
  gst_object_unref (e);
  for (k = 0; k < 3; k++) {
    fail_unless (GST_OBJECT_PARENT (pads[k]) == NULL);
    ASSERT_OBJECT_REFCOUNT (pads[k], "released pad", 1);
    gst_object_unref (pads[k]);
  }
}

GST_END_TEST;

GST_START_TEST (test_release_while_pushing)
{
  GstHarness *in = new_input (64, RAW_CAPS);
  GstHarness *r = new_reader (in);
  GstHarnessThread *t;
  guint i, n = scaled (2000);

  t = gst_harness_stress_requestpad_start (
      in,
      gst_element_class_get_pad_template (GST_ELEMENT_GET_CLASS (in->element),
                                          "src_%u"),
      NULL, NULL, TRUE);
  for (i = 0; i < n; i++)
    push (in, i, TRUE);
  gst_harness_stress_thread_stop (t);
  push_barrier (in);
  wait_barrier (r);
  /* the steady reader lost nothing (the ring is never lapped by an
   * unrelated pad's request or release) */
  fail_unless_equals_uint64 (pad_u64 (r, "pushed") + pad_u64 (r, "dropped"), n);
  gst_harness_teardown (r);
  gst_harness_teardown (in);
}

GST_END_TEST;

GST_START_TEST (test_request_release_cycles_while_streaming)
{
  GstHarness *in = new_input (32, RAW_CAPS);
  GstHarnessThread *t;
  GstCaps *caps = gst_caps_from_string (RAW_CAPS);
  GstSegment segment;
  GstBuffer *buf = make_buffer (0, TRUE);
  guint i, cycles = scaled (1000);

  gst_segment_init (&segment, GST_FORMAT_TIME);
  t = gst_harness_stress_push_buffer_start (in, caps, &segment, buf);
  for (i = 0; i < cycles; i++) {
    if (i % 10 == 0) {
      /* a linked reader: gets data, then goes */
      GstHarness *r = new_reader (in);
      GstBuffer *b = gst_harness_pull (r);
      fail_unless (b != NULL);
      gst_buffer_unref (b);
      gst_harness_teardown (r);
    } else {
      /* a reader joins (linked to a bare pad that drops everything) and is
       * released while data flows; every third one blocks the writer */
      GstPad *pad = gst_element_request_pad_simple (in->element, "src_%u");
      GstPad *sink = gst_pad_new ("sink", GST_PAD_SINK);
      fail_unless (pad != NULL);
      gst_pad_set_chain_function (sink, drop_chain);
      gst_pad_set_active (sink, TRUE);
      if (i % 3 == 0)
        gst_util_set_object_arg (G_OBJECT (pad), "lag-policy", "block");
      if (i % 2 == 0)
        fail_unless_equals_int (gst_pad_link (pad, sink), GST_PAD_LINK_OK);
      gst_element_release_request_pad (in->element, pad);
      gst_object_unref (pad);
      gst_pad_set_active (sink, FALSE);
      gst_object_unref (sink);
    }
  }
  gst_harness_stress_thread_stop (t);
  {
    gint n;
    g_object_get (in->element, "num-src-pads", &n, NULL);
    fail_unless_equals_int (n, 0);
  }
  gst_buffer_unref (buf);
  gst_caps_unref (caps);
  gst_harness_teardown (in);
}

GST_END_TEST;

typedef struct {
  GstElement *element;
  gint stop;
  gint cycles;
} Churn;

/* Requests a reader, links it (it joins), releases it; again and again. */
static gpointer
churn_thread (gpointer data)
{
  Churn *c = data;
  while (!g_atomic_int_get (&c->stop)) {
    GstPad *pad = gst_element_request_pad_simple (c->element, "src_%u");
    GstPad *sink;
    fail_unless (pad != NULL);
    sink = gst_pad_new ("sink", GST_PAD_SINK);
    gst_pad_set_chain_function (sink, drop_chain);
    gst_pad_set_active (sink, TRUE);
    if (g_atomic_int_get (&c->cycles) % 2)
      gst_util_set_object_arg (G_OBJECT (pad), "lag-policy", "block");
    gst_pad_link (pad, sink);
    gst_element_release_request_pad (c->element, pad);
    gst_object_unref (pad);
    gst_pad_set_active (sink, FALSE);
    gst_object_unref (sink);
    g_atomic_int_inc (&c->cycles);
  }
  return NULL;
}

/* Flushes while readers join and leave from another thread: no deadlock,
 * no crash, the steady reader resumes after every flush. */
GST_START_TEST (test_flush_while_readers_come_and_go)
{
  GstHarness *in = new_input (16, RAW_CAPS);
  GstHarness *r = new_reader (in);
  Churn c = { in->element, 0, 0 };
  GThread *t = g_thread_new ("churn", churn_thread, &c);
  GstSegment segment;
  GstBuffer *b;
  guint i, k, rounds = scaled (200);

  gst_segment_init (&segment, GST_FORMAT_TIME);
  /* at least @rounds flushes, and at least 20 churn cycles meanwhile */
  for (k = 0; k < rounds || g_atomic_int_get (&c.cycles) < 20; k++) {
    for (i = 0; i < 4; i++)
      push (in, k * 4 + i, TRUE);
    fail_unless (gst_harness_push_event (in, gst_event_new_flush_start ()));
    fail_unless (gst_harness_push_event (in, gst_event_new_flush_stop (TRUE)));
    fail_unless (gst_harness_push_event (in, gst_event_new_segment (&segment)));
  }
  g_atomic_int_set (&c.stop, 1);
  g_thread_join (t);

  /* the steady reader reads on after the last flush */
  push (in, 100000, TRUE);
  for (;;) {
    b = gst_harness_pull (r);
    fail_unless (b != NULL);
    if (GST_BUFFER_PTS (b) == 100000 * 10 * GST_MSECOND) {
      gst_buffer_unref (b);
      break;
    }
    gst_buffer_unref (b);
  }
  gst_harness_teardown (r);
  gst_harness_teardown (in);
}

GST_END_TEST;

/* State changes while readers join and leave and data flows. */
static gpointer
state_thread (gpointer data)
{
  Churn *c = data;
  guint i;
  for (i = 0; i < scaled (100); i++) {
    fail_if (gst_element_set_state (c->element, GST_STATE_READY)
             == GST_STATE_CHANGE_FAILURE);
    fail_if (gst_element_set_state (c->element, GST_STATE_PLAYING)
             == GST_STATE_CHANGE_FAILURE);
  }
  return NULL;
}

static gpointer
feed_thread (gpointer data)
{
  Churn *c = data;
  GstPad *sinkpad = gst_element_get_static_pad (c->element, "sink");
  GstPad *src = gst_pad_new ("src", GST_PAD_SRC);
  GstSegment segment;
  guint i = 0;

  gst_segment_init (&segment, GST_FORMAT_TIME);
  gst_pad_set_active (src, TRUE);
  fail_unless_equals_int (gst_pad_link (src, sinkpad), GST_PAD_LINK_OK);
  while (!g_atomic_int_get (&c->stop)) {
    GstFlowReturn ret;
    /* the pad drops its sticky events when fanout restarts: resend, under
     * fanout's stream lock so a deactivation falls between two rounds */
    GST_PAD_STREAM_LOCK (sinkpad);
    gst_pad_push_event (src, gst_event_new_stream_start ("churn"));
    gst_pad_push_event (src, gst_event_new_segment (&segment));
    ret = gst_pad_push (src, make_buffer (i++, TRUE));
    GST_PAD_STREAM_UNLOCK (sinkpad);
    fail_unless (ret == GST_FLOW_OK || ret == GST_FLOW_FLUSHING, "flow %s",
                 gst_flow_get_name (ret));
  }
  gst_pad_set_active (src, FALSE);
  gst_object_unref (src);
  gst_object_unref (sinkpad);
  return NULL;
}

GST_START_TEST (test_state_changes_while_readers_come_and_go)
{
  GstElement *e = gst_element_factory_make ("fanout", NULL);
  Churn c = { e, 0, 0 };
  GThread *churn, *feed, *states;

  g_object_set (e, "capacity", 16, NULL);
  fail_unless (gst_element_set_state (e, GST_STATE_PLAYING)
               != GST_STATE_CHANGE_FAILURE);
  feed = g_thread_new ("feed", feed_thread, &c);
  churn = g_thread_new ("churn", churn_thread, &c);
  states = g_thread_new ("states", state_thread, &c);
  g_thread_join (states);
  g_atomic_int_set (&c.stop, 1);
  g_thread_join (churn);
  g_thread_join (feed);
  fail_unless_equals_int (gst_element_set_state (e, GST_STATE_NULL),
                          GST_STATE_CHANGE_SUCCESS);
  gst_object_unref (e);
}

GST_END_TEST;

/* Real elements: a reader added to a playing x264enc pipeline after the
 * keyframe left the ring asks for one, x264enc makes it, and the reader's
 * first buffer is that keyframe. */
typedef struct {
  GMutex lock;
  GCond cond;
  guint count;
  gint first_is_key; /* -1: nothing yet */
} Watch;

static GstPadProbeReturn
count_probe (GstPad *pad, GstPadProbeInfo *info, gpointer user_data)
{
  Watch *w = user_data;
  g_mutex_lock (&w->lock);
  if (w->count++ == 0)
    w->first_is_key = !GST_BUFFER_FLAG_IS_SET (GST_PAD_PROBE_INFO_BUFFER (info),
                                               GST_BUFFER_FLAG_DELTA_UNIT);
  g_cond_broadcast (&w->cond);
  g_mutex_unlock (&w->lock);
  return GST_PAD_PROBE_OK;
}

static GstPadProbeReturn
fku_probe (GstPad *pad, GstPadProbeInfo *info, gpointer user_data)
{
  if (gst_video_event_is_force_key_unit (GST_PAD_PROBE_INFO_EVENT (info)))
    g_atomic_int_inc ((gint *)user_data);
  return GST_PAD_PROBE_OK;
}

static void
watch_wait (Watch *w, guint n)
{
  gint64 end = g_get_monotonic_time () + 120 * G_TIME_SPAN_SECOND;
  g_mutex_lock (&w->lock);
  while (w->count < n)
    fail_unless (g_cond_wait_until (&w->cond, &w->lock, end),
                 "only %u of %u buffers", w->count, n);
  g_mutex_unlock (&w->lock);
}

GST_START_TEST (test_late_reader_gets_keyframe_from_x264enc)
{
  GstElement *pipe, *f, *sink;
  GstPad *fsink, *src, *sinkpad;
  Watch in_w = { 0 }, late_w = { 0 };
  GstStructure *s = NULL;
  const GstStructure *ps;
  guint64 requests = 0;
  gint fku_sent = 0;
  GError *err = NULL;

  if (!gst_registry_check_feature_version (gst_registry_get (), "x264enc", 1, 0,
                                           0)) {
    GST_INFO ("x264enc not available: skipping");
    return;
  }
  pipe = gst_parse_launch (
      "videotestsrc is-live=true ! video/x-raw,width=64,"
      "height=48,framerate=30/1 ! x264enc tune=zerolatency "
      "speed-preset=ultrafast key-int-max=100000 ! h264parse ! "
      "fanout name=f capacity=8 f. ! fakesink sync=false",
      &err);
  fail_unless (pipe != NULL && err == NULL);
  g_mutex_init (&in_w.lock);
  g_cond_init (&in_w.cond);
  g_mutex_init (&late_w.lock);
  g_cond_init (&late_w.cond);
  late_w.first_is_key = -1;
  f = gst_bin_get_by_name (GST_BIN (pipe), "f");
  fsink = gst_element_get_static_pad (f, "sink");
  gst_pad_add_probe (fsink, GST_PAD_PROBE_TYPE_BUFFER, count_probe, &in_w,
                     NULL);
  gst_pad_add_probe (fsink, GST_PAD_PROBE_TYPE_EVENT_UPSTREAM, fku_probe,
                     &fku_sent, NULL);
  fail_unless (gst_element_set_state (pipe, GST_STATE_PLAYING)
               != GST_STATE_CHANGE_FAILURE);

  /* the first (only scheduled) keyframe has left the 8-item ring */
  watch_wait (&in_w, 20);

  sink = gst_element_factory_make ("fakesink", NULL);
  g_object_set (sink, "sync", FALSE, NULL);
  gst_bin_add (GST_BIN (pipe), sink);
  sinkpad = gst_element_get_static_pad (sink, "sink");
  gst_pad_add_probe (sinkpad, GST_PAD_PROBE_TYPE_BUFFER, count_probe, &late_w,
                     NULL);
  gst_element_sync_state_with_parent (sink);
  src = gst_element_request_pad_simple (f, "src_%u");
  fail_unless_equals_int (gst_pad_link (src, sinkpad), GST_PAD_LINK_OK);

  /* no keyframe is scheduled: the reader only starts if the request went
   * upstream and x264enc honoured it */
  watch_wait (&late_w, 3);
  fail_unless_equals_int (late_w.first_is_key, 1);
  /* one request, repeated only if no keyframe came within a second */
  fail_unless (g_atomic_int_get (&fku_sent) >= 1);
  g_object_get (f, "stats", &s, NULL);
  ps = gst_value_get_structure (
      gst_structure_get_value (s, GST_OBJECT_NAME (src)));
  fail_unless (gst_structure_get_uint64 (ps, "keyframe-requests", &requests));
  fail_unless (requests >= 1);
  gst_structure_free (s);

  fail_unless_equals_int (gst_element_set_state (pipe, GST_STATE_NULL),
                          GST_STATE_CHANGE_SUCCESS);
  gst_object_unref (src);
  gst_object_unref (sinkpad);
  gst_object_unref (fsink);
  gst_object_unref (f);
  gst_object_unref (pipe);
  g_mutex_clear (&in_w.lock);
  g_cond_clear (&in_w.cond);
  g_mutex_clear (&late_w.lock);
  g_cond_clear (&late_w.cond);
}

GST_END_TEST;

static Suite *
fanout_suite (void)
{
  Suite *s = suite_create ("fanout");
  TCase *tc = tcase_create ("general");

  tcase_set_timeout (tc, 600);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_request_pad_naming);
  tcase_add_test (tc, test_every_reader_gets_everything);
  tcase_add_test (tc, test_sticky_events_on_late_pad);
  tcase_add_test (tc, test_start_positions);
  tcase_add_test (tc, test_force_key_unit_once_per_join);
  tcase_add_test (tc, test_request_keyframe_off);
  tcase_add_test (tc, test_downstream_flushing_branch);
  tcase_add_test (tc, test_relink_idle_reader);
  tcase_add_test (tc, test_upstream_events_go_upstream);
  tcase_add_test (tc, test_buffer_list_is_one_item);
  tcase_add_test (tc, test_lag_drop_to_keyframe);
  tcase_add_test (tc, test_lag_drop_to_latest);
  tcase_add_test (tc, test_lag_disconnect);
  tcase_add_test (tc, test_lag_block);
  tcase_add_test (tc, test_max_lag_time);
  tcase_add_test (tc, test_not_linked);
  tcase_add_test (tc, test_not_negotiated_ends_one_reader);
  tcase_add_test (tc, test_error_ends_one_reader);
  tcase_add_test (tc, test_eos);
  tcase_add_test (tc, test_flush);
  tcase_add_test (tc, test_caps_queries);
  tcase_add_test (tc, test_allocation_query_aggregated);
  tcase_add_test (tc, test_allocation_query_failing_reader);
  tcase_add_test (tc, test_pooled_upstream_never_runs_dry);
  tcase_add_test (tc, test_allow_not_linked);
  tcase_add_test (tc, test_not_linked_downstream_returned);
  tcase_add_test (tc, test_fatal_flow_when_every_reader_failed);
  tcase_add_test (tc, test_relink_restarts_failed_reader);
  tcase_add_test (tc, test_tee_properties);
  tcase_add_test (tc, test_request_pad_add_failed);
  tcase_add_test (tc, test_request_pads_stress);
  tcase_add_test (tc, test_latency_query);
  tcase_add_test (tc, test_stats_structure);
  tcase_add_test (tc, test_capacity_zero_refused);
  tcase_add_test (tc, test_child_proxy_from_launch);
  tcase_add_test (tc, test_dispose_releases_all);
  tcase_add_test (tc, test_release_while_pushing);
  tcase_add_test (tc, test_request_release_cycles_while_streaming);
  tcase_add_test (tc, test_flush_while_readers_come_and_go);
  tcase_add_test (tc, test_state_changes_while_readers_come_and_go);
  tcase_add_test (tc, test_late_reader_gets_keyframe_from_x264enc);
  return s;
}

GST_CHECK_MAIN (fanout);
