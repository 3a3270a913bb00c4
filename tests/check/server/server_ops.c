/* gst-fanout
 * Copyright (C) 2026 the gst-fanout authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2.1 of the License, or (at your option) any later version.
 */

/* fanout-rtsp-server operations: authentication, --max-clients, config
 * file, per-mount transports, multicast, /metrics and /stats, a failing
 * source restarted with backoff, live media reported as not seekable. */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <gst/check/gstcheck.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include "serverutil.h"

#include <string.h>

#define SOURCE "cam=test:320x240@30"
#define MOUNT "/live=cam,codec=h264,gop=2,bitrate=600"

GST_START_TEST (test_auth_digest)
{
  const gchar *args[]
      = { "--source",     SOURCE,   "--mount",     MOUNT, "--user",
          "alice:secret", "--user", "bob:hunter2", NULL };
  TestServer *ts = test_server_start (args);
  gchar *url = test_server_url (ts, "/live");
  RawRtsp *r = raw_rtsp_connect (fanout_server_get_port (ts->server));
  gchar *resp = NULL;
  TestClient *c;

  fail_unless_equals_int (raw_rtsp_request (r, "DESCRIBE", url,
                                            "Accept: application/sdp\r\n",
                                            &resp),
                          401);
  fail_unless (strstr (resp, "WWW-Authenticate: Digest") != NULL, "%s", resp);
  g_free (resp);
  raw_rtsp_free (r);

  c = test_client_new (url, "h264", "tcp", FALSE, "bob", "hunter2");
  fail_unless (test_client_wait_frames (c, 10, 60), "authenticated client: %s",
               c->error ? c->error : "no frames");
  test_client_free (c);

  c = test_client_new (url, "h264", "tcp", FALSE, "bob", "wrong");
  fail_if (test_client_wait_frames (c, 1, 20), "wrong password played");
  test_client_free (c);
  g_free (url);
  test_server_stop (ts);
}

GST_END_TEST;

GST_START_TEST (test_auth_basic)
{
  const gchar *args[] = { "--source",     SOURCE,   "--mount", MOUNT, "--user",
                          "alice:secret", "--auth", "basic",   NULL };
  TestServer *ts = test_server_start (args);
  gchar *url = test_server_url (ts, "/live");
  RawRtsp *r = raw_rtsp_connect (fanout_server_get_port (ts->server));
  gchar *b64 = g_base64_encode ((const guchar *)"alice:secret", 12);
  gchar *hdr = g_strdup_printf ("Accept: application/sdp\r\n"
                                "Authorization: Basic %s\r\n",
                                b64);
  gchar *resp = NULL;

  fail_unless_equals_int (raw_rtsp_request (r, "DESCRIBE", url,
                                            "Accept: application/sdp\r\n",
                                            &resp),
                          401);
  fail_unless (strstr (resp, "WWW-Authenticate: Basic") != NULL, "%s", resp);
  g_free (resp);
  fail_unless_equals_int (raw_rtsp_request (r, "DESCRIBE", url, hdr, &resp),
                          200);
  fail_unless (strstr (resp, "m=video") != NULL, "%s", resp);
  g_free (resp);
  raw_rtsp_free (r);
  g_free (hdr);
  g_free (b64);
  g_free (url);
  test_server_stop (ts);
}

GST_END_TEST;

GST_START_TEST (test_max_clients)
{
  const gchar *args[] = { "--source", SOURCE,
                          "--mount",  "/live=cam,codec=h264,max-clients=1",
                          "--mount",  "/other=cam,codec=mjpeg",
                          NULL };
  TestServer *ts = test_server_start (args);
  gchar *url = test_server_url (ts, "/live");
  gchar *other = test_server_url (ts, "/other");
  TestClient *a = test_client_new (url, "h264", "tcp", FALSE, NULL, NULL);
  RawRtsp *r;

  fail_unless (test_client_wait_frames (a, 5, 60));
  r = raw_rtsp_connect (fanout_server_get_port (ts->server));
  fail_unless_equals_int (raw_rtsp_request (r, "DESCRIBE", url,
                                            "Accept: application/sdp\r\n",
                                            NULL),
                          503);
  /* the limit is per mount */
  fail_unless_equals_int (raw_rtsp_request (r, "DESCRIBE", other,
                                            "Accept: application/sdp\r\n",
                                            NULL),
                          200);
  raw_rtsp_free (r);
  test_client_free (a);
  g_free (other);
  g_free (url);
  test_server_stop (ts);
}

GST_END_TEST;

GST_START_TEST (test_config_file)
{
  gchar *path = g_build_filename (g_get_tmp_dir (), "fanout-test.conf", NULL);
  const gchar *args[] = { "--config", path, NULL };
  TestServer *ts;
  gchar *url;
  TestClient *c;

  fail_unless (g_file_set_contents (
      path,
      "[server]\nmode=isolated\n\n"
      "[source cam]\nspec=test:320x240@30\n\n"
      "[mount /cfg]\nsource=cam\ncodec=mjpeg\nsize=160x120\n",
      -1, NULL));
  ts = test_server_start (args);
  url = test_server_url (ts, "/cfg");
  c = test_client_new (url, "mjpeg", "tcp", TRUE, NULL, NULL);
  fail_unless (test_client_wait_frames (c, 10, 60), "client: %s",
               c->error ? c->error : "no frames");
  fail_unless_equals_int (c->width, 160);
  fail_unless_equals_int (c->height, 120);
  test_client_free (c);
  g_free (url);
  test_server_stop (ts);
  g_unlink (path);
  g_free (path);
}

GST_END_TEST;

GST_START_TEST (test_transport_per_mount)
{
  const gchar *args[] = { "--source", SOURCE, "--mount",
                          "/tcponly=cam,codec=h264,transport=tcp", NULL };
  TestServer *ts = test_server_start (args);
  gchar *url = test_server_url (ts, "/tcponly");
  gchar *ctrl = g_strdup_printf ("%s/stream=0", url);
  TestClient *c = test_client_new (url, "h264", "tcp", FALSE, NULL, NULL);
  RawRtsp *r;

  fail_unless (test_client_wait_frames (c, 5, 60), "tcp client: %s",
               c->error ? c->error : "no frames");
  r = raw_rtsp_connect (fanout_server_get_port (ts->server));
  fail_unless_equals_int (raw_rtsp_request (r, "DESCRIBE", url,
                                            "Accept: application/sdp\r\n",
                                            NULL),
                          200);
  fail_unless_equals_int (
      raw_rtsp_request (
          r, "SETUP", ctrl,
          "Transport: RTP/AVP;unicast;client_port=40000-40001\r\n", NULL),
      461);
  raw_rtsp_free (r);
  test_client_free (c);
  g_free (ctrl);
  g_free (url);
  test_server_stop (ts);
}

GST_END_TEST;

GST_START_TEST (test_multicast)
{
  const gchar *args[] = { "--source",
                          SOURCE,
                          "--mount",
                          "/mc=cam,codec=h264,transport=multicast",
                          "--multicast-range",
                          "224.3.0.10-224.3.0.20:45000-45100",
                          NULL };
  TestServer *ts = test_server_start (args);
  gchar *url = test_server_url (ts, "/mc");
  gchar *ctrl = g_strdup_printf ("%s/stream=0", url);
  RawRtsp *r = raw_rtsp_connect (fanout_server_get_port (ts->server));
  gchar *resp = NULL;

  fail_unless_equals_int (raw_rtsp_request (r, "DESCRIBE", url,
                                            "Accept: application/sdp\r\n",
                                            NULL),
                          200);
  fail_unless_equals_int (raw_rtsp_request (r, "SETUP", ctrl,
                                            "Transport: RTP/AVP;multicast\r\n",
                                            &resp),
                          200);
  fail_unless (strstr (resp, "multicast;destination=224.3.0.") != NULL, "%s",
               resp);
  fail_unless (strstr (resp, "port=450") != NULL, "%s", resp);
  g_free (resp);
  fail_unless_equals_int (raw_rtsp_request (r, "PLAY", url, NULL, NULL), 200);
  raw_rtsp_free (r);
  g_free (ctrl);
  g_free (url);
  test_server_stop (ts);
}

GST_END_TEST;

static gchar *
http_get (guint port, const gchar *path)
{
  SoupSession *session = soup_session_new ();
  gchar *uri = g_strdup_printf ("http://127.0.0.1:%u%s", port, path);
  SoupMessage *msg = soup_message_new ("GET", uri);
  GError *err = NULL;
  GBytes *body = soup_session_send_and_read (session, msg, NULL, &err);
  gchar *out;

  fail_unless (body != NULL, "GET %s: %s", uri, err ? err->message : "?");
  fail_unless_equals_int (soup_message_get_status (msg), 200);
  out = g_strndup (g_bytes_get_data (body, NULL), g_bytes_get_size (body));
  g_bytes_unref (body);
  g_object_unref (msg);
  g_object_unref (session);
  g_free (uri);
  return out;
}

GST_START_TEST (test_http_metrics_and_stats)
{
  const gchar *args[]
      = { "--source", SOURCE, "--mount", MOUNT, "--http-port", "0", NULL };
  TestServer *ts = test_server_start (args);
  gchar *url = test_server_url (ts, "/live");
  guint hport = fanout_server_get_http_port (ts->server);
  TestClient *c = test_client_new (url, "h264", "udp", FALSE, NULL, NULL);
  gchar *metrics, *stats;
  JsonParser *parser;
  JsonObject *root, *mount;

  fail_unless (hport > 0);
  fail_unless (test_client_wait_frames (c, 10, 60));
  metrics = http_get (hport, "/metrics");
  fail_unless (strstr (metrics, "fanout_clients{mount=\"/live\"} 1\n") != NULL,
               "%s", metrics);
  fail_unless (strstr (metrics, "# TYPE fanout_join_latency_seconds "
                                "histogram")
                   != NULL,
               "%s", metrics);
  fail_unless (
      strstr (metrics, "fanout_join_latency_seconds_count{mount=\"/live\"} 1\n")
          != NULL,
      "%s", metrics);
  fail_unless (strstr (metrics, "fanout_source_up{source=\"cam\"} 1") != NULL,
               "%s", metrics);
  stats = http_get (hport, "/stats");
  parser = json_parser_new ();
  fail_unless (json_parser_load_from_data (parser, stats, -1, NULL), "%s",
               stats);
  root = json_node_get_object (json_parser_get_root (parser));
  mount = json_array_get_object_element (
      json_object_get_array_member (root, "mounts"), 0);
  fail_unless_equals_string (json_object_get_string_member (mount, "path"),
                             "/live");
  fail_unless_equals_int (json_object_get_int_member (mount, "clients"), 1);
  fail_unless (json_object_get_int_member (mount, "frames") > 0);
  fail_unless_equals_int (
      json_array_get_length (json_object_get_array_member (root, "clients")),
      1);
  g_object_unref (parser);
  g_free (stats);
  g_free (metrics);
  test_client_free (c);
  g_free (url);
  test_server_stop (ts);
}

GST_END_TEST;

/* The mount's /stats entry: "encoder" state, idle pauses and the number of
 * frames its encoder has written to its ring. */
static gchar *
mount_encoder_state (guint hport, gint64 *pauses, gdouble *items)
{
  gchar *stats = http_get (hport, "/stats");
  JsonParser *parser = json_parser_new ();
  JsonObject *mount;
  gchar *state;

  fail_unless (json_parser_load_from_data (parser, stats, -1, NULL), "%s",
               stats);
  mount = json_array_get_object_element (
      json_object_get_array_member (
          json_node_get_object (json_parser_get_root (parser)), "mounts"),
      0);
  state = g_strdup (json_object_get_string_member (mount, "encoder"));
  *pauses = json_object_get_int_member (mount, "encoder_idle_pauses");
  *items = json_object_get_double_member (
      json_object_get_object_member (mount, "ring"), "items");
  g_object_unref (parser);
  g_free (stats);
  return state;
}

/* Polls /stats until the mount's encoder is in @want (at most 60 s). */
static gboolean
wait_encoder_state (guint hport, const gchar *want, gint64 *pauses,
                    gdouble *items)
{
  gint64 end = g_get_monotonic_time () + 60 * G_TIME_SPAN_SECOND;
  while (g_get_monotonic_time () < end) {
    gchar *state = mount_encoder_state (hport, pauses, items);
    gboolean done = g_str_equal (state, want);
    g_free (state);
    if (done)
      return TRUE;
    g_usleep (100 * 1000);
  }
  return FALSE;
}

/* With no client for --idle-pause seconds a mount's encoder pauses (it
 * writes no frame); a client resumes it at once and plays; when the client
 * leaves it pauses again. */
GST_START_TEST (test_idle_encoder_pause)
{
  const gchar *args[]
      = { "--source", SOURCE,         "--mount", MOUNT, "--http-port",
          "0",        "--idle-pause", "1",       NULL };
  TestServer *ts = test_server_start (args);
  gchar *url = test_server_url (ts, "/live");
  guint hport = fanout_server_get_http_port (ts->server);
  gint64 pauses = 0;
  gdouble items = 0, items_later = 0;
  gchar *state, *metrics;
  TestClient *c;

  fail_unless (wait_encoder_state (hport, "paused", &pauses, &items),
               "the encoder did not pause without clients");
  fail_unless_equals_int (pauses, 1);
  /* A frame or two in the encoder when it paused still come out. */
  g_usleep (G_USEC_PER_SEC / 2);
  g_free (mount_encoder_state (hport, &pauses, &items));
  g_usleep (G_USEC_PER_SEC);
  state = mount_encoder_state (hport, &pauses, &items_later);
  fail_unless_equals_string (state, "paused");
  g_free (state);
  fail_unless (items_later == items, "a paused encoder wrote %g frames",
               items_later - items);
  metrics = http_get (hport, "/metrics");
  fail_unless (strstr (metrics, "fanout_encoder_paused{mount=\"/live\"} 1\n")
                   != NULL,
               "%s", metrics);
  g_free (metrics);

  c = test_client_new (url, "h264", "tcp", TRUE, NULL, NULL);
  fail_unless (test_client_wait_frames (c, 30, 60), "client: %s",
               c->error ? c->error : "no frames");
  fail_unless (c->first_is_key, "the first frame after resuming is a delta");
  state = mount_encoder_state (hport, &pauses, &items_later);
  fail_unless_equals_string (state, "running");
  g_free (state);
  fail_unless (items_later >= items + 30, "%g -> %g frames", items,
               items_later);
  metrics = http_get (hport, "/metrics");
  fail_unless (strstr (metrics, "fanout_encoder_paused{mount=\"/live\"} 0\n")
                   != NULL,
               "%s", metrics);
  g_free (metrics);
  test_client_free (c);

  fail_unless (wait_encoder_state (hport, "paused", &pauses, &items),
               "the encoder did not pause after the client left");
  fail_unless_equals_int (pauses, 2);
  g_free (url);
  test_server_stop (ts);
}

GST_END_TEST;

/* A source that ends (or fails) is restarted with backoff: its client
 * stays (the new run carries the same stream) and plays on after the
 * restart; a client that connects afterwards plays too. */
GST_START_TEST (test_source_restarts)
{
  const gchar *args[] = { "--source",
                          "cam=launch:videotestsrc is-live=true num-buffers=90 "
                          "! video/x-raw,width=320,height=240,framerate=30/1",
                          "--mount", MOUNT, NULL };
  TestServer *ts = test_server_start (args);
  gchar *url = test_server_url (ts, "/live");
  gint64 end = g_get_monotonic_time () + 60 * G_TIME_SPAN_SECOND;
  gboolean restarted = FALSE;
  TestClient *c = test_client_new (url, "h264", "tcp", FALSE, NULL, NULL);
  TestClient *fresh;
  guint64 before;

  fail_unless (test_client_wait_frames (c, 3, 60), "client: %s",
               c->error ? c->error : "no frames");
  /* the source runs 3 s, then restarts */
  while (!restarted && g_get_monotonic_time () < end) {
    gchar *m = fanout_server_get_metrics (ts->server);
    restarted = strstr (m, "fanout_source_restarts_total{source=\"cam\"} 0\n")
                == NULL;
    g_free (m);
    g_usleep (50000);
  }
  fail_unless (restarted);
  before = c->depay_buffers;
  fail_unless (test_client_wait_frames (c, before + 10, 60),
               "client across the restart (%" G_GUINT64_FORMAT
               " frames before): %s",
               before,
               c->error ? c->error
               : c->eos ? "EOS"
                        : "no frames");
  fresh = test_client_new (url, "h264", "tcp", FALSE, NULL, NULL);
  fail_unless (test_client_wait_frames (fresh, 3, 60),
               "client after restart: %s",
               fresh->error ? fresh->error : "no frames");
  test_client_free (fresh);
  test_client_free (c);
  g_free (url);
  test_server_stop (ts);
}

GST_END_TEST;

GST_START_TEST (test_not_seekable)
{
  const gchar *args[] = { "--source", SOURCE, "--mount", MOUNT, NULL };
  TestServer *ts = test_server_start (args);
  gchar *url = test_server_url (ts, "/live");
  gchar *ctrl = g_strdup_printf ("%s/stream=0", url);
  RawRtsp *r = raw_rtsp_connect (fanout_server_get_port (ts->server));
  gchar *resp = NULL;

  fail_unless_equals_int (raw_rtsp_request (r, "DESCRIBE", url,
                                            "Accept: application/sdp\r\n",
                                            &resp),
                          200);
  fail_unless (strstr (resp, "a=range:npt=now-") != NULL, "%s", resp);
  g_free (resp);
  fail_unless_equals_int (
      raw_rtsp_request (r, "SETUP", ctrl,
                        "Transport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n",
                        NULL),
      200);
  fail_unless_equals_int (
      raw_rtsp_request (r, "PLAY", url, "Range: npt=0-\r\n", &resp), 200);
  fail_if (strstr (resp, "Range: npt=0") != NULL, "%s", resp);
  g_free (resp);
  raw_rtsp_free (r);
  g_free (ctrl);
  g_free (url);
  test_server_stop (ts);
}

GST_END_TEST;

static Suite *
server_ops_suite (void)
{
  Suite *s = suite_create ("server-ops");
  TCase *tc = tcase_create ("general");

  tcase_set_timeout (tc, 300);
  tcase_add_checked_fixture (tc, test_filter_client_warnings, NULL);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_auth_digest);
  tcase_add_test (tc, test_auth_basic);
  tcase_add_test (tc, test_max_clients);
  tcase_add_test (tc, test_config_file);
  tcase_add_test (tc, test_transport_per_mount);
  tcase_add_test (tc, test_multicast);
  tcase_add_test (tc, test_http_metrics_and_stats);
  tcase_add_test (tc, test_idle_encoder_pause);
  tcase_add_test (tc, test_source_restarts);
  tcase_add_test (tc, test_not_seekable);
  return s;
}

GST_CHECK_MAIN (server_ops);
