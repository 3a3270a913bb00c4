/* gst-fanout
 * Copyright (C) 2026 the gst-fanout authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2.1 of the License, or (at your option) any later version.
 */

/* Sources that come and go (issue 18 item 4, issue 16 item 3), with real
 * clients on 127.0.0.1: a file source loops seamlessly (its clients stay,
 * their timestamps keep increasing); a relay whose origin stops and comes
 * back keeps its clients (they resume); an origin that comes back with
 * another stream (another size, another codec) ends the clients of a
 * codec=copy mount cleanly, and new clients play the new stream. Every
 * wait is bounded; nothing here claims a timing. */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <gst/check/gstcheck.h>
#include <gst/rtp/gstrtpbuffer.h>

#include "serverutil.h"

#include <glib/gstdio.h>
#include <string.h>

#define A(...) ((const gchar *[]){ __VA_ARGS__, NULL })

/* ---------------------------------------------------------------- */

/* Watches a client's RTP timestamps (depayloader input): how many went
 * backwards. */
typedef struct {
  GMutex lock;
  gboolean have;
  guint32 last;
  guint64 packets, backwards;
} TsWatch;

static GstPadProbeReturn
ts_probe (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  TsWatch *w = data;
  GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info);
  GstRTPBuffer rtp = GST_RTP_BUFFER_INIT;
  guint32 ts;

  if (!buf || !gst_rtp_buffer_map (buf, GST_MAP_READ, &rtp))
    return GST_PAD_PROBE_OK;
  ts = gst_rtp_buffer_get_timestamp (&rtp);
  gst_rtp_buffer_unmap (&rtp);
  g_mutex_lock (&w->lock);
  /* modulo 2^32: a step back is a negative signed difference */
  if (w->have && (gint32)(ts - w->last) < 0)
    w->backwards++;
  w->have = TRUE;
  w->last = ts;
  w->packets++;
  g_mutex_unlock (&w->lock);
  return GST_PAD_PROBE_OK;
}

static void
ts_watch_attach (TsWatch *w, TestClient *c)
{
  GstElement *depay = gst_bin_get_by_name (GST_BIN (c->pipeline), "depay");
  GstPad *pad = gst_element_get_static_pad (depay, "sink");

  g_mutex_init (&w->lock);
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, ts_probe, w, NULL);
  gst_object_unref (pad);
  gst_object_unref (depay);
}

/* Once armed, whether the first frame the client's depayloader gives is a
 * keyframe (what a client needs after its source came back). */
typedef struct {
  GMutex lock;
  gboolean armed, seen, key;
} KeyWatch;

static GstPadProbeReturn
key_probe (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  KeyWatch *w = data;
  GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info);

  (void)pad;
  g_mutex_lock (&w->lock);
  if (w->armed && !w->seen && buf) {
    w->seen = TRUE;
    w->key = !GST_BUFFER_FLAG_IS_SET (buf, GST_BUFFER_FLAG_DELTA_UNIT);
  }
  g_mutex_unlock (&w->lock);
  return GST_PAD_PROBE_OK;
}

static void
key_watch_attach (KeyWatch *w, TestClient *c)
{
  GstElement *depay = gst_bin_get_by_name (GST_BIN (c->pipeline), "depay");
  GstPad *pad = gst_element_get_static_pad (depay, "src");

  g_mutex_init (&w->lock);
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, key_probe, w, NULL);
  gst_object_unref (pad);
  gst_object_unref (depay);
}

/* Frames the client has (decoded, or depayloaded when not decoding). */
static guint64
client_frames (TestClient *c)
{
  guint64 n;

  g_mutex_lock (&c->lock);
  n = c->decoded ? c->decoded : c->depay_buffers;
  g_mutex_unlock (&c->lock);
  return n;
}

/* The value of metric line @prefix ("name{labels} "), -1 when absent. */
static gint64
metric_value (TestServer *ts, const gchar *prefix)
{
  gchar *m = fanout_server_get_metrics (ts->server);
  const gchar *p = strstr (m, prefix);
  gint64 v = p ? g_ascii_strtoll (p + strlen (prefix), NULL, 10) : -1;

  g_free (m);
  return v;
}

/* Waits (at most @timeout_s) until metric @prefix reaches @at_least. */
static gboolean
wait_metric_at_least (TestServer *ts, const gchar *prefix, gint64 at_least,
                      guint timeout_s)
{
  gint64 end = g_get_monotonic_time () + timeout_s * G_TIME_SPAN_SECOND;

  while (g_get_monotonic_time () < end) {
    if (metric_value (ts, prefix) >= at_least)
      return TRUE;
    g_usleep (100 * 1000);
  }
  return FALSE;
}

/* Waits until the client ended (EOS or an error: its server closed the
 * session), at most @timeout_s. */
static gboolean
wait_client_end (TestClient *c, guint timeout_s)
{
  test_client_wait_frames (c, G_MAXUINT64, timeout_s);
  return c->eos || c->error != NULL;
}

/* A 3 s H.264 MP4 file in a new temporary directory (@dir, to remove). */
static gchar *
make_file (gchar **dir)
{
  GError *err = NULL;
  gchar *path, *desc;
  GstElement *p;
  GstBus *bus;
  GstMessage *m;

  *dir = g_dir_make_tmp ("fanout-restart-XXXXXX", &err);
  fail_unless (*dir != NULL, "tmp dir: %s", err ? err->message : "?");
  path = g_build_filename (*dir, "rec3.mp4", NULL);
  desc = g_strdup_printf (
      "videotestsrc num-buffers=90 pattern=smpte ! "
      "video/x-raw,format=I420,width=320,height=240,framerate=30/1 ! "
      "x264enc speed-preset=ultrafast ! mp4mux ! filesink location=\"%s\"",
      path);
  p = gst_parse_launch (desc, &err);
  fail_unless (p != NULL, "file pipeline: %s", err ? err->message : "?");
  g_free (desc);
  gst_element_set_state (p, GST_STATE_PLAYING);
  bus = gst_element_get_bus (p);
  m = gst_bus_timed_pop_filtered (bus, 60 * GST_SECOND,
                                  GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  fail_unless (m && GST_MESSAGE_TYPE (m) == GST_MESSAGE_EOS,
               "the file was not written");
  gst_message_unref (m);
  gst_object_unref (bus);
  gst_element_set_state (p, GST_STATE_NULL);
  gst_object_unref (p);
  return path;
}

/* Stops @origin: @relay restarts its source (retrying while the origin is
 * away) and its client @c stays (no EOS, no error). */
static void
stop_origin (TestServer *origin, TestServer *relay, TestClient *c,
             const gchar *mode)
{
  test_server_stop (origin);
  fail_unless (
      wait_metric_at_least (
          relay, "fanout_source_restarts_total{source=\"up\"} ", 1, 60),
      "the relay did not restart its source");
  test_client_wait_frames (c, G_MAXUINT64, 1);
  fail_if (c->eos || c->error, "%s client ended with its origin: %s", mode,
           c->error ? c->error : "EOS");
}

/* ---------------------------------------------------------------- */

/* A 3 s file source loops: a client stays through two loops (no EOS, no
 * error), its frames keep coming after them, its RTP timestamps never go
 * back; the loops are counted as loops, not restarts. */
GST_START_TEST (test_file_loops_seamlessly)
{
  gchar *dir = NULL, *file = make_file (&dir);
  gchar *uri = g_filename_to_uri (file, NULL, NULL);
  gchar *spec = g_strdup_printf ("f=%s", uri);
  TestServer *ts
      = test_server_start (A ("--source", spec, "--mount", "/live=f,gop=1"));
  gchar *url = test_server_url (ts, "/live");
  TestClient *c = test_client_new (url, "h264", "tcp", FALSE, NULL, NULL);
  TsWatch w = { 0 };
  guint64 before;
  gchar *stats;

  ts_watch_attach (&w, c);
  fail_unless (test_client_wait_frames (c, 10, 60), "client: %s",
               c->error ? c->error
               : c->eos ? "EOS"
                        : "no frames");
  /* two ends of the file while the client plays (3 s each) */
  fail_unless (wait_metric_at_least (
                   ts, "fanout_source_loops_total{source=\"f\"} ", 2, 60),
               "the file did not loop twice");
  before = client_frames (c);
  fail_unless (test_client_wait_frames (c, before + 15, 60),
               "client after two loops (%" G_GUINT64_FORMAT " frames): %s",
               before,
               c->error ? c->error
               : c->eos ? "EOS"
                        : "no frames");
  g_mutex_lock (&w.lock);
  fail_unless (w.packets > 0);
  fail_unless (w.backwards == 0,
               "RTP timestamps went back %" G_GUINT64_FORMAT " times",
               w.backwards);
  g_mutex_unlock (&w.lock);
  fail_unless_equals_int (
      (gint)metric_value (ts, "fanout_source_restarts_total{source=\"f\"} "),
      0);
  stats = fanout_server_get_stats_json (ts->server);
  fail_unless (strstr (stats, "\"loops\"") != NULL, "%s", stats);
  g_free (stats);

  test_client_free (c);
  g_mutex_clear (&w.lock);
  test_server_stop (ts);
  g_free (url);
  g_free (spec);
  g_free (uri);
  g_unlink (file);
  g_rmdir (dir);
  g_free (file);
  g_free (dir);
}

GST_END_TEST;

/* A relay's origin stops and comes back on the same port with the same
 * stream: the relay reconnects with its backoff; its client stays (no EOS,
 * no error while the origin is away) and gets frames again, its RTP
 * timestamps still increasing. */
static void
check_origin_restart (const gchar *mode)
{
  guint port = find_port (NULL);
  gchar *port_s = g_strdup_printf ("%u", port);
  gchar *spec = g_strdup_printf ("up=rtsp://127.0.0.1:%u/x", port);
  const gchar *origin_args[]
      = { "--port",  port_s, "--source", "o=test:320x240@15",
          "--mount", "/x=o", NULL };
  TestServer *origin = test_server_start (origin_args);
  TestServer *relay = test_server_start (
      A ("--source", spec, "--mount", "/relay=up,codec=copy", "--mode", mode));
  gchar *url = test_server_url (relay, "/relay");
  TestClient *c = test_client_new (url, "h264", "tcp", FALSE, NULL, NULL);
  TsWatch w = { 0 };
  KeyWatch k = { 0 };
  guint64 before;

  ts_watch_attach (&w, c);
  key_watch_attach (&k, c);
  fail_unless (test_client_wait_frames (c, 10, 60), "%s client: %s", mode,
               c->error ? c->error
               : c->eos ? "EOS"
                        : "no frames");
  stop_origin (origin, relay, c, mode);
  before = client_frames (c);
  /* Nothing comes while the origin is away (stop_origin waited 1 s more):
   * the next frame is the first of the new run. */
  g_mutex_lock (&k.lock);
  k.armed = TRUE;
  g_mutex_unlock (&k.lock);

  origin = test_server_start (origin_args);
  fail_unless (test_client_wait_frames (c, before + 10, 90),
               "%s client after the origin's return (%" G_GUINT64_FORMAT
               " frames before): %s",
               mode, before,
               c->error ? c->error
               : c->eos ? "EOS"
                        : "no frames");
  g_mutex_lock (&w.lock);
  fail_unless (w.backwards == 0,
               "%s: RTP timestamps went back %" G_GUINT64_FORMAT " times", mode,
               w.backwards);
  g_mutex_unlock (&w.lock);
  /* A discontinuity, then a keyframe: the client decodes on at once. */
  g_mutex_lock (&k.lock);
  fail_unless (k.seen && k.key,
               "%s: the first frame after the origin's return is %s", mode,
               k.seen ? "a delta frame" : "missing");
  g_mutex_unlock (&k.lock);

  test_client_free (c);
  g_mutex_clear (&w.lock);
  g_mutex_clear (&k.lock);
  test_server_stop (relay);
  test_server_stop (origin);
  g_free (url);
  g_free (spec);
  g_free (port_s);
}

GST_START_TEST (test_relay_survives_origin_restart_isolated)
{
  check_origin_restart ("isolated");
}

GST_END_TEST;

GST_START_TEST (test_relay_survives_origin_restart_shared)
{
  check_origin_restart ("shared");
}

GST_END_TEST;

/* The origin comes back with another stream (@origin2: its source and
 * mount): the codec=copy mount's client, which stayed while the origin was
 * away, is ended cleanly (EOS or its session closed, not a hang); a new
 * client plays the new stream (@codec2, @width2 wide); /stats says why. */
static void
check_origin_changes (const gchar *mode, const gchar *source2,
                      const gchar *mount2, const gchar *codec2, gint width2)
{
  guint port = find_port (NULL);
  gchar *port_s = g_strdup_printf ("%u", port);
  gchar *spec = g_strdup_printf ("up=rtsp://127.0.0.1:%u/x", port);
  TestServer *origin = test_server_start (
      A ("--port", port_s, "--source", "o=test:320x240@15", "--mount", "/x=o"));
  TestServer *relay = test_server_start (
      A ("--source", spec, "--mount", "/relay=up,codec=copy", "--mode", mode));
  gchar *url = test_server_url (relay, "/relay");
  TestClient *c = test_client_new (url, "h264", "tcp", TRUE, NULL, NULL);
  gchar *stats = NULL;
  gboolean why;
  gint64 end;

  fail_unless (test_client_wait_frames (c, 10, 60), "%s client: %s", mode,
               c->error ? c->error
               : c->eos ? "EOS"
                        : "no frames");
  fail_unless_equals_int (c->width, 320);
  stop_origin (origin, relay, c, mode);

  origin = test_server_start (
      A ("--port", port_s, "--source", source2, "--mount", mount2));
  fail_unless (wait_client_end (c, 90),
               "%s: the old client was not ended (%" G_GUINT64_FORMAT
               " frames, %dx%d)",
               mode, client_frames (c), c->width, c->height);
  GST_INFO ("old client ended with %s", c->eos ? "EOS" : c->error);
  test_client_free (c);

  c = test_client_new (url, codec2, "tcp", TRUE, NULL, NULL);
  fail_unless (test_client_wait_frames (c, 10, 60), "%s new client: %s", mode,
               c->error ? c->error
               : c->eos ? "EOS"
                        : "no frames");
  fail_unless_equals_int (c->width, width2);
  /* said once the old sessions are closed (after the clients' grace) */
  end = g_get_monotonic_time () + 30 * G_TIME_SPAN_SECOND;
  do {
    g_free (stats);
    g_usleep (100 * 1000);
    stats = fanout_server_get_stats_json (relay->server);
    why = strstr (stats, "\"last_restart\"")
          && strstr (stats, "its clients ended");
  } while (!why && g_get_monotonic_time () < end);
  fail_unless (why, "/stats does not say why: %s", stats);
  g_free (stats);

  test_client_free (c);
  test_server_stop (relay);
  test_server_stop (origin);
  g_free (url);
  g_free (spec);
  g_free (port_s);
}

GST_START_TEST (test_origin_new_size_ends_copy_clients)
{
  check_origin_changes ("isolated", "o=test:640x480@15", "/x=o", "h264", 640);
}

GST_END_TEST;

GST_START_TEST (test_origin_new_codec_ends_copy_clients)
{
  GstElementFactory *f = gst_element_factory_find ("x265enc");

  if (!f) {
    GST_WARNING ("x265enc not installed: skipped");
    return;
  }
  gst_object_unref (f);
  check_origin_changes ("shared", "o=test:320x240@15", "/x=o,codec=h265",
                        "h265", 320);
}

GST_END_TEST;

/* The value of @key ("\"open\":") in /stats, as text ("true"), or "". */
static gchar *
stats_word (TestServer *ts, const gchar *key)
{
  gchar *stats = fanout_server_get_stats_json (ts->server);
  gchar *flat = g_strdelimit (g_strdup (stats), " \n", '\a');
  GString *o = g_string_new (NULL);
  const gchar *p;
  gchar *r;

  /* json-glib may pretty-print: drop the spaces and newlines */
  for (p = flat; *p; p++)
    if (*p != '\a')
      g_string_append_c (o, *p);
  p = strstr (o->str, key);
  r = p ? g_strndup (p + strlen (key), strcspn (p + strlen (key), ",}"))
        : g_strdup ("");
  g_string_free (o, TRUE);
  g_free (flat);
  g_free (stats);
  return r;
}

/* Waits (at most @timeout_s) until /stats gives @key the value @want. */
static gboolean
wait_stats_word (TestServer *ts, const gchar *key, const gchar *want,
                 guint timeout_s)
{
  gint64 end = g_get_monotonic_time () + timeout_s * G_TIME_SPAN_SECOND;

  while (g_get_monotonic_time () < end) {
    gchar *v = stats_word (ts, key);
    gboolean ok = g_str_equal (v, want);
    g_free (v);
    if (ok)
      return TRUE;
    g_usleep (100 * 1000);
  }
  return FALSE;
}

/* Waits (at most @timeout_s) until metric @prefix is exactly @value. */
static gboolean
wait_metric_is (TestServer *ts, const gchar *prefix, gint64 value,
                guint timeout_s)
{
  gint64 end = g_get_monotonic_time () + timeout_s * G_TIME_SPAN_SECOND;

  while (g_get_monotonic_time () < end) {
    if (metric_value (ts, prefix) == value)
      return TRUE;
    g_usleep (100 * 1000);
  }
  return FALSE;
}

/* A relay's upstream is opened on demand (issue 16 item 3): with
 * --relay-linger 1 the edge closes its connection to the origin once it
 * has no viewer (the origin counts no client), a viewer opens it again and
 * plays, and after it left the edge closes again; twice, in both modes.
 * Bounded waits only: nothing here claims how fast. */
static void
check_relay_on_demand (const gchar *mode)
{
  TestServer *origin = test_server_start (
      A ("--source", "o=test:320x240@15", "--mount", "/x=o,gop=1"));
  gchar *up = test_server_url (origin, "/x");
  gchar *spec = g_strdup_printf ("up=%s", up);
  TestServer *edge = test_server_start (
      A ("--source", spec, "--relay-linger", "1", "--mount",
         "/live=up,codec=copy", "--mode", mode));
  gchar *url = test_server_url (edge, "/live");
  const gchar *origin_clients = "fanout_clients{mount=\"/x\"} ";
  gchar *opens;

  fail_unless (wait_stats_word (edge, "\"open\":", "false", 30),
               "%s: the edge kept its upstream open without a viewer", mode);
  fail_unless (wait_metric_is (origin, origin_clients, 0, 30),
               "%s: the origin still counts the edge", mode);
  for (guint round = 1; round <= 2; round++) {
    TestClient *c = test_client_new (url, "h264", "tcp", TRUE, NULL, NULL);
    gchar *want = g_strdup_printf ("%u", round);
    fail_unless (test_client_wait_frames (c, 10, 60),
                 "%s round %u: a viewer of a closed relay got no frames: %s",
                 mode, round,
                 c->error ? c->error
                 : c->eos ? "EOS"
                          : "none");
    fail_unless (metric_value (origin, origin_clients) == 1,
                 "%s round %u: the origin does not count the edge", mode,
                 round);
    opens = stats_word (edge, "\"opens\":");
    fail_unless (g_str_equal (opens, want), "%s round %u: opens %s", mode,
                 round, opens);
    g_free (opens);
    g_free (want);
    test_client_free (c);
    fail_unless (wait_stats_word (edge, "\"open\":", "false", 30),
                 "%s round %u: the edge did not close after its viewer", mode,
                 round);
    fail_unless (wait_metric_is (origin, origin_clients, 0, 30),
                 "%s round %u: the origin still counts the edge", mode, round);
  }
  test_server_stop (edge);
  test_server_stop (origin);
  g_free (url);
  g_free (spec);
  g_free (up);
}

GST_START_TEST (test_relay_on_demand_isolated)
{
  check_relay_on_demand ("isolated");
}

GST_END_TEST;

GST_START_TEST (test_relay_on_demand_shared)
{
  check_relay_on_demand ("shared");
}

GST_END_TEST;

static Suite *
server_restart_suite (void)
{
  Suite *s = suite_create ("server-restart");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_add_checked_fixture (tc, test_filter_client_warnings, NULL);
  tcase_add_test (tc, test_file_loops_seamlessly);
  tcase_add_test (tc, test_relay_survives_origin_restart_isolated);
  tcase_add_test (tc, test_relay_on_demand_isolated);
  tcase_add_test (tc, test_relay_on_demand_shared);
  tcase_add_test (tc, test_relay_survives_origin_restart_shared);
  tcase_add_test (tc, test_origin_new_size_ends_copy_clients);
  tcase_add_test (tc, test_origin_new_codec_ends_copy_clients);
  return s;
}

GST_CHECK_MAIN (server_restart);
