/* gst-fanout
 * Copyright (C) 2026 the gst-fanout authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2.1 of the License, or (at your option) any later version.
 */

/* fanout-rtsp-server with real clients on 127.0.0.1: the server runs
 * in-process on service "0", clients are rtspsrc pipelines (and ffprobe). */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <gst/check/gstcheck.h>

#include "serverutil.h"

#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#define SOURCE "cam=test:320x240@30"
#define MOUNT "/live=cam,codec=h264,gop=2,bitrate=600"

static const gchar *shared_args[]
    = { "--source", SOURCE, "--mount", MOUNT, "--mode", "shared", NULL };

static const gchar *isolated_args[]
    = { "--source", SOURCE, "--mount", MOUNT, "--mode", "isolated", NULL };

static guint
env_uint (const gchar *name, guint def)
{
  const gchar *v = g_getenv (name);
  return v ? (guint)g_ascii_strtoull (v, NULL, 10) : def;
}

static void
check_decode (const gchar *const *args, const gchar *protocols)
{
  TestServer *ts = test_server_start (args);
  gchar *url = test_server_url (ts, "/live");
  TestClient *c = test_client_new (url, "h264", protocols, TRUE, NULL, NULL);

  fail_unless (test_client_wait_frames (c, 30, 60),
               "%s client decoded %" G_GUINT64_FORMAT " frames (error: %s)",
               protocols, c->decoded, c->error ? c->error : "none");
  fail_unless_equals_int (c->width, 320);
  fail_unless_equals_int (c->height, 240);
  fail_unless (c->got_key);
  test_client_free (c);
  g_free (url);
  test_server_stop (ts);
}

GST_START_TEST (test_shared_udp_decodes)
{
  check_decode (shared_args, "udp");
}

GST_END_TEST;

GST_START_TEST (test_shared_tcp_decodes)
{
  check_decode (shared_args, "tcp");
}

GST_END_TEST;

GST_START_TEST (test_isolated_udp_decodes)
{
  check_decode (isolated_args, "udp");
}

GST_END_TEST;

GST_START_TEST (test_isolated_tcp_decodes)
{
  check_decode (isolated_args, "tcp");
}

GST_END_TEST;

/* N clients (half UDP, half TCP) each receive >= 99% of the frames sent in
 * the window, counted from RTP timestamps (losses only, not scheduling). */
static void
check_many_clients (const gchar *const *args)
{
  guint n = env_uint ("SERVER_TEST_CLIENTS", 20);
  guint secs = env_uint ("SERVER_TEST_SECONDS", 10);
  TestServer *ts = test_server_start (args);
  gchar *url = test_server_url (ts, "/live");
  TestClient **c = g_new0 (TestClient *, n);
  GString *all = g_string_new (NULL);
  gdouble worst = 1.0;
  guint64 shortest = G_MAXUINT64;
  guint i;

  test_client_latency_ms = 2000;
  for (i = 0; i < n; i++)
    c[i] = test_client_new (url, "h264", i % 2 ? "tcp" : "udp", FALSE, NULL,
                            NULL);
  for (i = 0; i < n; i++)
    fail_unless (test_client_wait_frames (c[i], 5, 90),
                 "client %u got no frames (error: %s)", i,
                 c[i]->error ? c[i]->error : "none");
  fail_unless_equals_int (fanout_server_get_n_clients (ts->server, "/live"), n);
  for (i = 0; i < n; i++)
    test_client_reset_rtp (c[i]);
  g_usleep (secs * G_USEC_PER_SEC);
  /* every client's figures in the message, so that a failure tells whether
   * the loss is everyone's (the server) or some clients' */
  for (i = 0; i < n; i++) {
    guint64 got, exp;
    gdouble r = test_client_rtp_ratio (c[i], &got, &exp);
    g_string_append_printf (all,
                            " %u(%s):%" G_GUINT64_FORMAT "/%" G_GUINT64_FORMAT,
                            i, i % 2 ? "tcp" : "udp", got, exp);
    worst = MIN (worst, r);
    shortest = MIN (shortest, exp);
  }
  fail_unless (shortest >= secs * 30 / 2, "window too short:%s", all->str);
  if (worst < 0.99) {
    /* the server's view (source ring and per-media drops) */
    gchar *stats = fanout_server_get_stats_json (ts->server);
    fail ("a client got < 99%% of the frames:%s\nserver: %s", all->str, stats);
    g_free (stats);
  }
  g_string_free (all, TRUE);
  for (i = 0; i < n; i++)
    test_client_free (c[i]);
  g_free (c);
  test_client_latency_ms = 300;
  g_free (url);
  test_server_stop (ts);
}

GST_START_TEST (test_shared_many_clients)
{
  check_many_clients (shared_args);
}

GST_END_TEST;

GST_START_TEST (test_isolated_many_clients)
{
  check_many_clients (isolated_args);
}

GST_END_TEST;

/* A client joining mid-GOP (GOP 2 s, media already playing for another
 * client) starts decoding at a keyframe well before the next scheduled one:
 * the server asks the encoder for one on PLAY. Join latency is logged
 * (timing belongs in the benchmark). */
static void
check_join_mid_gop (const gchar *const *args, gboolean first_must_be_key)
{
  TestServer *ts = test_server_start (args);
  gchar *url = test_server_url (ts, "/live");
  TestClient *a = test_client_new (url, "h264", "udp", FALSE, NULL, NULL);
  TestClient *b;

  fail_unless (test_client_wait_frames (a, 20, 60));
  /* 20 frames after a keyframe: mid-GOP (60 frames) */
  b = test_client_new (url, "h264", "tcp", TRUE, NULL, NULL);
  fail_unless (test_client_wait_frames (b, 1, 60), "late client: %s",
               b->error ? b->error : "no frame");
  fail_unless (b->got_key);
  if (first_must_be_key)
    fail_unless (b->first_is_key, "first frame was not a keyframe");
  /* Without the requested keyframe it would wait ~40 frames. */
  fail_unless (b->deltas_before_key < 15,
               "%" G_GUINT64_FORMAT " delta frames before the first keyframe",
               b->deltas_before_key);
  g_printerr ("join: first keyframe %.1f ms, first decoded frame %.1f ms "
              "after PLAY (%" G_GUINT64_FORMAT " delta frames before it)\n",
              (b->first_key_us - b->play_us) / 1000.0,
              (b->first_frame_us - b->play_us) / 1000.0, b->deltas_before_key);
  test_client_free (b);
  test_client_free (a);
  g_free (url);
  test_server_stop (ts);
}

GST_START_TEST (test_shared_join_mid_gop)
{
  check_join_mid_gop (shared_args, FALSE);
}

GST_END_TEST;

GST_START_TEST (test_isolated_join_mid_gop)
{
  check_join_mid_gop (isolated_args, TRUE);
}

GST_END_TEST;

/* The next RTP packet a raw TCP client reads (RTCP skipped). FALSE on
 * error. */
static gboolean
read_first_rtp (RawRtsp *r, guint16 *seq, guint32 *ts, guint8 *nal)
{
  /* RTCP (channel 1) keeps coming even when RTP does not: a deadline. */
  gint64 deadline = g_get_monotonic_time () + 20 * G_TIME_SPAN_SECOND;
  for (;;) {
    guint8 hdr[4];
    guint8 *pkt;
    gsize got = 0, len;
    gboolean ok;
    if (g_get_monotonic_time () > deadline)
      return FALSE;
    if (!g_input_stream_read_all (r->in, hdr, 4, &got, NULL, NULL) || got != 4
        || hdr[0] != '$')
      return FALSE;
    len = (hdr[2] << 8) | hdr[3];
    pkt = g_malloc (len);
    ok = g_input_stream_read_all (r->in, pkt, len, &got, NULL, NULL)
         && got == len;
    if (ok && hdr[1] == 0 && len > 13) {
      *seq = (pkt[2] << 8) | pkt[3];
      *ts = ((guint32)pkt[4] << 24) | (pkt[5] << 16) | (pkt[6] << 8) | pkt[7];
      *nal = pkt[12] & 0x1f;
      g_free (pkt);
      return TRUE;
    }
    g_free (pkt);
    if (!ok)
      return FALSE;
  }
}

/* A TCP client that stops reading after PLAY does not reduce the frames of
 * a normal client. */
static void
check_stalled_client (const gchar *const *args)
{
  TestServer *ts = test_server_start (args);
  gchar *url = test_server_url (ts, "/live");
  guint secs = env_uint ("SERVER_TEST_SECONDS", 10);
  TestClient *good;
  RawRtsp *stalled;
  guint64 got, exp;
  gdouble r;
  GSocket *sock;

  test_client_latency_ms = 2000;
  good = test_client_new (url, "h264", "tcp", FALSE, NULL, NULL);

  fail_unless (test_client_wait_frames (good, 5, 60));
  stalled = raw_rtsp_connect (fanout_server_get_port (ts->server));
  sock = g_socket_connection_get_socket (stalled->conn);
  g_socket_set_option (sock, SOL_SOCKET, SO_RCVBUF, 4096, NULL);
  fail_unless_equals_int (raw_rtsp_play_tcp (stalled, url, NULL), 200);
  /* From here on the stalled client never reads. */
  test_client_reset_rtp (good);
  g_usleep (secs * G_USEC_PER_SEC);
  r = test_client_rtp_ratio (good, &got, &exp);
  fail_unless (exp >= secs * 30 / 2);
  fail_unless (r >= 0.99,
               "good client got %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT
               " frames beside a stalled one",
               got, exp);
  raw_rtsp_free (stalled);
  test_client_free (good);
  test_client_latency_ms = 300;
  g_free (url);
  test_server_stop (ts);
}

GST_START_TEST (test_shared_stalled_tcp_client)
{
  check_stalled_client (shared_args);
}

GST_END_TEST;

GST_START_TEST (test_isolated_stalled_tcp_client)
{
  check_stalled_client (isolated_args);
}

GST_END_TEST;

/* RTP-Info names the packet a client joining a playing mount gets first,
 * so that its jitter buffer has no gap to wait out (rtspsrc would wait its
 * whole latency). Isolated: exactly that packet, the start of a keyframe
 * (SPS first). Shared: a frame still on its way to the clients can come
 * first, never a later packet. */
static void
check_rtp_info (const gchar *const *args, gboolean isolated)
{
  TestServer *ts = test_server_start (args);
  gchar *url = test_server_url (ts, "/live");
  TestClient *a = test_client_new (url, "h264", "tcp", FALSE, NULL, NULL);
  guint i;

  fail_unless (test_client_wait_frames (a, 10, 60));
  for (i = 0; i < 3; i++) {
    RawRtsp *r = raw_rtsp_connect (fanout_server_get_port (ts->server));
    gchar *resp = NULL;
    const gchar *info;
    guint base_seq = 0, base_ts = 0;
    guint16 seq = 0;
    guint32 rtptime = 0;
    guint8 nal = 0;
    gint16 ahead;

    fail_unless_equals_int (raw_rtsp_play_tcp (r, url, &resp), 200);
    info = strstr (resp, "RTP-Info:");
    fail_unless (info != NULL, "no RTP-Info in %s", resp);
    fail_unless (
        sscanf (strstr (info, "seq="), "seq=%u;rtptime=%u", &base_seq, &base_ts)
            == 2,
        "%s", info);
    fail_unless (read_first_rtp (r, &seq, &rtptime, &nal));
    ahead = (gint16)(seq - (guint16)base_seq);
    if (isolated) {
      fail_unless_equals_int (seq, base_seq);
      fail_unless_equals_uint64 (rtptime, base_ts);
      fail_unless (nal == 7 || nal == 5 || nal == 24, "NAL type %u", nal);
    } else {
      fail_unless (ahead <= 0 && ahead > -64,
                   "first packet %u, RTP-Info seq %u", seq, base_seq);
    }
    g_free (resp);
    raw_rtsp_free (r);
  }
  test_client_free (a);
  g_free (url);
  test_server_stop (ts);
}

GST_START_TEST (test_shared_rtp_info)
{
  check_rtp_info (shared_args, FALSE);
}

GST_END_TEST;

GST_START_TEST (test_isolated_rtp_info)
{
  check_rtp_info (isolated_args, TRUE);
}

GST_END_TEST;

/* One source, two mounts with different codecs, played at once. */
GST_START_TEST (test_two_mounts_one_source)
{
  const gchar *args[] = { "--source", SOURCE,
                          "--mount",  "/h264=cam,codec=h264,gop=1",
                          "--mount",  "/mjpeg=cam,codec=mjpeg,size=160x120",
                          NULL };
  TestServer *ts = test_server_start (args);
  gchar *u1 = test_server_url (ts, "/h264");
  gchar *u2 = test_server_url (ts, "/mjpeg");
  TestClient *c1 = test_client_new (u1, "h264", "tcp", TRUE, NULL, NULL);
  TestClient *c2 = test_client_new (u2, "mjpeg", "udp", TRUE, NULL, NULL);

  fail_unless (test_client_wait_frames (c1, 20, 60), "h264: %s",
               c1->error ? c1->error : "too few frames");
  fail_unless (test_client_wait_frames (c2, 20, 60), "mjpeg: %s",
               c2->error ? c2->error : "too few frames");
  fail_unless_equals_int (c1->width, 320);
  fail_unless_equals_int (c1->height, 240);
  fail_unless_equals_int (c2->width, 160);
  fail_unless_equals_int (c2->height, 120);
  test_client_free (c1);
  test_client_free (c2);
  g_free (u1);
  g_free (u2);
  test_server_stop (ts);
}

GST_END_TEST;

/* An external client: ffprobe reads codec, size and decodes frames. */
GST_START_TEST (test_ffprobe_client)
{
  TestServer *ts = test_server_start (shared_args);
  gchar *url = test_server_url (ts, "/live");
  gchar *argv[] = { (gchar *)"timeout",
                    (gchar *)"60",
                    (gchar *)"ffprobe",
                    (gchar *)"-v",
                    (gchar *)"error",
                    (gchar *)"-rtsp_transport",
                    (gchar *)"tcp",
                    (gchar *)"-select_streams",
                    (gchar *)"v",
                    (gchar *)"-count_frames",
                    (gchar *)"-read_intervals",
                    (gchar *)"%+2",
                    (gchar *)"-show_entries",
                    (gchar *)"stream=codec_name,width,height,nb_read_frames",
                    (gchar *)"-of",
                    (gchar *)"default=noprint_wrappers=1",
                    url,
                    NULL };
  gchar *out = NULL, *err = NULL;
  gint status = -1;
  guint frames = 0;
  const gchar *p;

  fail_unless (g_spawn_sync (NULL, argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL,
                             &out, &err, &status, NULL));
  fail_unless (g_spawn_check_wait_status (status, NULL), "ffprobe: %s", err);
  fail_unless (strstr (out, "codec_name=h264") != NULL, "%s", out);
  fail_unless (strstr (out, "width=320") != NULL, "%s", out);
  fail_unless (strstr (out, "height=240") != NULL, "%s", out);
  p = strstr (out, "nb_read_frames=");
  fail_unless (p != NULL, "%s", out);
  frames = (guint)g_ascii_strtoull (p + 15, NULL, 10);
  fail_unless (frames >= 10, "ffprobe decoded %u frames", frames);
  g_free (out);
  g_free (err);
  g_free (url);
  test_server_stop (ts);
}

GST_END_TEST;

/* Server B relays server A; a client of B decodes. */
GST_START_TEST (test_relay)
{
  TestServer *a = test_server_start (shared_args);
  gchar *ua = test_server_url (a, "/live");
  const gchar *bargs[]
      = { "--source", NULL, "--mount", "/relay=up,codec=copy", NULL };
  gchar *src = g_strdup_printf ("up=%s", ua);
  TestServer *b;
  gchar *ub;
  TestClient *c;

  bargs[1] = src;
  b = test_server_start (bargs);
  ub = test_server_url (b, "/relay");
  c = test_client_new (ub, "h264", "tcp", TRUE, NULL, NULL);
  fail_unless (test_client_wait_frames (c, 20, 60), "relay client: %s",
               c->error ? c->error : "too few frames");
  fail_unless_equals_int (c->width, 320);
  test_client_free (c);
  test_server_stop (b);
  test_server_stop (a);
  g_free (ub);
  g_free (src);
  g_free (ua);
}

GST_END_TEST;

/* The value of @name{mount="/live"} in the server's metrics. */
static guint64
metric_value (TestServer *ts, const gchar *name)
{
  gchar *text = fanout_server_get_metrics (ts->server);
  gchar *key = g_strdup_printf ("%s{mount=\"/live\"} ", name);
  const gchar *at = strstr (text, key);
  guint64 v;

  fail_unless (at != NULL, "no %s in the metrics", key);
  v = g_ascii_strtoull (at + strlen (key), NULL, 10);
  g_free (key);
  g_free (text);
  return v;
}

/* Joins faster than the key-unit interval (a storm: a join every 20 ms)
 * force at most one keyframe per interval, and every joining isolated
 * client still starts on a keyframe (its first RTP packet is SPS, IDR or a
 * STAP-A with them). */
GST_START_TEST (test_isolated_join_storm_bounded_keyframes)
{
  static const gchar *args[] = { "--source",
                                 SOURCE,
                                 "--mount",
                                 "/live=cam,codec=h264,gop=10,bitrate=600",
                                 "--mode",
                                 "isolated",
                                 "--key-unit-interval",
                                 "300",
                                 NULL };
  const guint joins = 30;
  TestServer *ts = test_server_start (args);
  gchar *url = test_server_url (ts, "/live");
  TestClient *a = test_client_new (url, "h264", "tcp", FALSE, NULL, NULL);
  guint64 k0, k1, bound;
  gint64 t0, t1;
  guint i;

  fail_unless (test_client_wait_frames (a, 10, 60));
  k0 = metric_value (ts, "fanout_key_unit_requests_total");
  t0 = g_get_monotonic_time ();
  for (i = 0; i < joins; i++) {
    RawRtsp *r = raw_rtsp_connect (fanout_server_get_port (ts->server));
    guint16 seq = 0;
    guint32 rtptime = 0;
    guint8 nal = 0;

    fail_unless_equals_int (raw_rtsp_play_tcp (r, url, NULL), 200);
    fail_unless (read_first_rtp (r, &seq, &rtptime, &nal),
                 "join %u: no RTP within 20 s of its PLAY", i);
    fail_unless (nal == 7 || nal == 5 || nal == 24,
                 "join %u: first NAL type %u", i, nal);
    raw_rtsp_free (r);
    g_usleep (20 * 1000);
  }
  t1 = g_get_monotonic_time ();
  k1 = metric_value (ts, "fanout_key_unit_requests_total");
  /* One per started interval, and one for a request still deferred. */
  bound = (guint64)((t1 - t0) / (300 * 1000)) + 2;
  g_printerr ("%u joins in %.2f s: %" G_GUINT64_FORMAT
              " keyframes forced (bound %" G_GUINT64_FORMAT ")\n",
              joins, (t1 - t0) / 1e6, k1 - k0, bound);
  fail_unless (k1 - k0 <= bound,
               "%" G_GUINT64_FORMAT " keyframes forced for %u joins in "
               "%.2f s (at most %" G_GUINT64_FORMAT ")",
               k1 - k0, joins, (t1 - t0) / 1e6, bound);
  /* The steady client kept receiving through the storm. */
  fail_unless (a->error == NULL, "steady client: %s", a->error);
  test_client_free (a);
  g_free (url);
  test_server_stop (ts);
}

GST_END_TEST;

static Suite *
server_clients_suite (void)
{
  Suite *s = suite_create ("server-clients");
  TCase *tc = tcase_create ("general");

  tcase_set_timeout (tc, 300);
  tcase_add_checked_fixture (tc, test_filter_client_warnings, NULL);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_shared_udp_decodes);
  tcase_add_test (tc, test_shared_tcp_decodes);
  tcase_add_test (tc, test_isolated_udp_decodes);
  tcase_add_test (tc, test_isolated_tcp_decodes);
  tcase_add_test (tc, test_shared_join_mid_gop);
  tcase_add_test (tc, test_isolated_join_mid_gop);
  tcase_add_test (tc, test_shared_rtp_info);
  tcase_add_test (tc, test_isolated_rtp_info);
  tcase_add_test (tc, test_two_mounts_one_source);
  tcase_add_test (tc, test_ffprobe_client);
  tcase_add_test (tc, test_relay);
  tcase_add_test (tc, test_shared_stalled_tcp_client);
  tcase_add_test (tc, test_isolated_stalled_tcp_client);
  tcase_add_test (tc, test_shared_many_clients);
  tcase_add_test (tc, test_isolated_many_clients);
  tcase_add_test (tc, test_isolated_join_storm_bounded_keyframes);
  return s;
}

GST_CHECK_MAIN (server_clients);
