/* gst-fanout
 * Copyright (C) 2026 the gst-fanout authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2.1 of the License, or (at your option) any later version.
 */

/* fanout-rtsp-server under hostile input (issue 14): more than a thousand
 * malformed and abusive requests over many connections (garbage, huge
 * headers and bodies, bad CSeq, methods, versions and Transport,
 * interleaved data on channels never set up, PLAY before SETUP, TEARDOWN
 * of another connection's session, ".." and query strings, NUL bytes,
 * HTTP-tunnel junk, slowloris) while four good clients (2 TCP, 2 UDP
 * rtspsrc) and a raw TCP client play. The server must answer throughout
 * (an OPTIONS probe every second), the good clients keep >= 99% of their
 * frames on one RTP stream, the raw client keeps receiving, and the
 * process's RSS grows by less than 64 MiB. About a minute. */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <gst/check/gstcheck.h>
#include <gst/rtp/gstrtpbuffer.h>

#include "serverutil.h"

#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#define SOURCE "cam=test:320x240@30"
#define MOUNT "/live=cam,codec=h264,gop=2,bitrate=600"

static guint
env_uint (const gchar *name, guint def)
{
  const gchar *v = g_getenv (name);
  return v ? (guint)g_ascii_strtoull (v, NULL, 10) : def;
}

/* ---------------------------------------------------------------- */
/* Good clients                                                      */

/* ---------------------------------------------------------------- */
/* Abusive connections                                               */

typedef struct {
  guint port;
  gchar *url;    /* rtsp://127.0.0.1:PORT/live */
  gchar *victim; /* the raw victim's session id */
  gint64 deadline;
  gint requests; /* g_atomic: abusive requests sent */
  gint answered; /* g_atomic: of them, answered with a status line */
  gint target;
} Abuse;

/* A blocking connection with a 3 s timeout, or NULL. */
static GSocket *
conn_open (guint port)
{
  GSocket *s = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
                             G_SOCKET_PROTOCOL_TCP, NULL);
  GInetAddress *lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  GSocketAddress *sa = g_inet_socket_address_new (lo, port);
  gboolean ok;

  g_socket_set_timeout (s, 3);
  ok = g_socket_connect (s, sa, NULL, NULL);
  g_object_unref (sa);
  g_object_unref (lo);
  if (!ok) {
    g_object_unref (s);
    return NULL;
  }
  return s;
}

static gboolean
conn_send (GSocket *s, const gchar *data, gsize len)
{
  while (len > 0) {
    gssize n = g_socket_send (s, data, len, NULL, NULL);
    if (n <= 0)
      return FALSE;
    data += n;
    len -= n;
  }
  return TRUE;
}

/* Reads until the end of a response's headers, the connection's end or the
 * timeout; returns the status code (0: none). Skips interleaved frames. */
static gint
conn_status (GSocket *s)
{
  GString *r = g_string_new (NULL);
  gint code = 0;
  gchar buf[4096];

  while (r->len < 64 * 1024 && !strstr (r->str, "\r\n\r\n")) {
    gssize n = g_socket_receive (s, buf, sizeof buf - 1, NULL, NULL);
    if (n <= 0)
      break;
    g_string_append_len (r, buf, n);
  }
  {
    const gchar *p = strstr (r->str, "RTSP/1.0 ");
    if (!p)
      p = strstr (r->str, "HTTP/1.");
    if (p)
      sscanf (strchr (p, ' ') + 1, "%d", &code);
  }
  g_string_free (r, TRUE);
  return code;
}

/* Sends one raw request (any bytes) on a fresh connection, reads its answer
 * (or the close) and closes. */
static void
one_shot (Abuse *a, const gchar *data, gsize len)
{
  GSocket *s = conn_open (a->port);
  if (!s)
    return;
  g_atomic_int_inc (&a->requests);
  if (conn_send (s, data, len) && conn_status (s) > 0)
    g_atomic_int_inc (&a->answered);
  g_socket_close (s, NULL);
  g_object_unref (s);
}

static void one_req (Abuse *a, const gchar *fmt, ...) G_GNUC_PRINTF (2, 3);

static void
one_req (Abuse *a, const gchar *fmt, ...)
{
  va_list ap;
  gchar *req;

  va_start (ap, fmt);
  req = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  one_shot (a, req, strlen (req));
  g_free (req);
}

/* Several requests on one connection: @reqs, each answered or not. */
static void
multi_req (Abuse *a, const gchar *const *reqs)
{
  GSocket *s = conn_open (a->port);
  guint i;

  if (!s)
    return;
  for (i = 0; reqs[i]; i++) {
    g_atomic_int_inc (&a->requests);
    if (!conn_send (s, reqs[i], strlen (reqs[i])))
      break;
    if (conn_status (s) > 0)
      g_atomic_int_inc (&a->answered);
  }
  g_socket_close (s, NULL);
  g_object_unref (s);
}

#define NKINDS 24

static void
abuse_kind (Abuse *a, guint kind, GRand *rand)
{
  const gchar *u = a->url;
  gchar *ctrl = g_strdup_printf ("%s/stream=0", u);

  switch (kind) {
  case 0: { /* garbage */
    gchar junk[1024];
    guint i;
    for (i = 0; i < sizeof junk; i++)
      junk[i] = (gchar)g_rand_int_range (rand, 0, 256);
    one_shot (a, junk, sizeof junk);
    break;
  }
  case 1: { /* one 100 KB header line */
    GString *r = g_string_new (NULL);
    g_string_append_printf (r, "OPTIONS %s RTSP/1.0\r\nCSeq: 1\r\nX-Long: ", u);
    while (r->len < 100 * 1024)
      g_string_append (r, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    g_string_append (r, "\r\n\r\n");
    one_shot (a, r->str, r->len);
    g_string_free (r, TRUE);
    break;
  }
  case 2: { /* 2000 header lines */
    GString *r = g_string_new (NULL);
    guint i;
    g_string_append_printf (r, "DESCRIBE %s RTSP/1.0\r\nCSeq: 1\r\n", u);
    for (i = 0; i < 2000; i++)
      g_string_append_printf (r, "X-H%u: %u\r\n", i, i);
    g_string_append (r, "\r\n");
    one_shot (a, r->str, r->len);
    g_string_free (r, TRUE);
    break;
  }
  case 3: { /* a 10 MiB body announced, 1 MiB sent */
    GSocket *s = conn_open (a->port);
    gchar *head = g_strdup_printf ("SET_PARAMETER %s RTSP/1.0\r\nCSeq: 1\r\n"
                                   "Content-Length: 10485760\r\n\r\n",
                                   u);
    gchar *chunk = g_malloc0 (64 * 1024);
    guint i;
    if (s) {
      g_atomic_int_inc (&a->requests);
      conn_send (s, head, strlen (head));
      for (i = 0; i < 16 && conn_send (s, chunk, 64 * 1024); i++)
        ;
      if (conn_status (s) > 0)
        g_atomic_int_inc (&a->answered);
      g_socket_close (s, NULL);
      g_object_unref (s);
    }
    g_free (chunk);
    g_free (head);
    break;
  }
  case 4:
    one_req (a, "OPTIONS %s RTSP/1.0\r\nCSeq: abc\r\n\r\n", u);
    break;
  case 5:
    one_req (a, "DESCRIBE %s RTSP/1.0\r\n\r\n", u); /* no CSeq */
    break;
  case 6:
    one_req (a, "FOO %s RTSP/1.0\r\nCSeq: 1\r\n\r\n", u);
    break;
  case 7:
    one_req (a, "OPTIONS %s RTSP/9.9\r\nCSeq: 1\r\n\r\n", u);
    break;
  case 8: { /* bad Transports on one connection */
    gchar *r1 = g_strdup_printf (
        "SETUP %s RTSP/1.0\r\nCSeq: 1\r\nTransport: garbage;;;=\r\n\r\n", ctrl);
    gchar *r2
        = g_strdup_printf ("SETUP %s RTSP/1.0\r\nCSeq: 2\r\nTransport: "
                           "RTP/AVP;unicast;client_port=70000-70001\r\n\r\n",
                           ctrl);
    gchar *r3
        = g_strdup_printf ("SETUP %s RTSP/1.0\r\nCSeq: 3\r\nTransport: "
                           "RTP/AVP/TCP;unicast;interleaved=300-301\r\n\r\n",
                           ctrl);
    gchar *r4 = g_strdup_printf (
        "SETUP %s RTSP/1.0\r\nCSeq: 4\r\nTransport: "
        "RTP/AVP/TCP;unicast;interleaved=0-1;mode=record\r\n\r\n",
        ctrl);
    const gchar *reqs[] = { r1, r2, r3, r4, NULL };
    multi_req (a, reqs);
    g_free (r1);
    g_free (r2);
    g_free (r3);
    g_free (r4);
    break;
  }
  case 9: { /* interleaved data on channels never set up, then a request */
    gchar *opt = g_strdup_printf ("OPTIONS %s RTSP/1.0\r\nCSeq: 1\r\n\r\n", u);
    GString *r = g_string_new (NULL);
    guint i;
    for (i = 0; i < 20; i++) {
      guint8 h[4] = { '$', (guint8)(i * 13), 0, 64 };
      gchar body[64];
      memset (body, 0x80, sizeof body);
      g_string_append_len (r, (gchar *)h, 4);
      g_string_append_len (r, body, sizeof body);
    }
    g_string_append (r, opt);
    one_shot (a, r->str, r->len);
    g_string_free (r, TRUE);
    g_free (opt);
    break;
  }
  case 10:
    one_req (a, "PLAY %s RTSP/1.0\r\nCSeq: 1\r\n\r\n", u); /* before SETUP */
    break;
  case 11:
    one_req (a, "PLAY %s RTSP/1.0\r\nCSeq: 1\r\nSession: 12345678\r\n\r\n", u);
    break;
  case 12: { /* the victim's session from another connection */
    const gchar *m[] = { "TEARDOWN", "PAUSE", "PLAY", "GET_PARAMETER" };
    one_req (a, "%s %s RTSP/1.0\r\nCSeq: 1\r\nSession: %s\r\n\r\n",
             m[g_rand_int_range (rand, 0, 4)], u, a->victim);
    break;
  }
  case 13:
    one_req (a,
             "DESCRIBE rtsp://127.0.0.1:%u/../../../etc/passwd RTSP/1.0\r\n"
             "CSeq: 1\r\n\r\n",
             a->port);
    break;
  case 14:
    one_req (a,
             "DESCRIBE %s/../live/..%%2f..%%2fx?a=1&b=../.. RTSP/1.0\r\n"
             "CSeq: 1\r\n\r\n",
             u);
    break;
  case 15: { /* NUL bytes */
    gchar *r = g_strdup_printf ("OPTIONS %s RTSP/1.0\r\nCSeq: 1\r\nX: a_b\r\n"
                                "\r\n",
                                u);
    gsize len = strlen (r);
    *strchr (r, '_') = '\0';
    r[8] = '\0';
    one_shot (a, r, len);
    g_free (r);
    break;
  }
  case 16: /* HTTP tunnel junk: a GET without a POST */
    one_req (a,
             "GET /live HTTP/1.0\r\nx-sessioncookie: %u\r\n"
             "Accept: application/x-rtsp-tunnelled\r\n\r\n",
             g_rand_int (rand));
    break;
  case 17: /* ... a POST with garbage base64 for no GET */
    one_req (a,
             "POST /live HTTP/1.0\r\nx-sessioncookie: %u\r\n"
             "Content-Type: application/x-rtsp-tunnelled\r\n"
             "Content-Length: 32767\r\n\r\n!!!!not*base64!!!!",
             g_rand_int (rand));
    break;
  case 18: { /* SETUP without DESCRIBE, PLAY, gone */
    gchar *r1 = g_strdup_printf ("SETUP %s RTSP/1.0\r\nCSeq: 1\r\nTransport: "
                                 "RTP/AVP/TCP;unicast;interleaved=0-1\r\n\r\n",
                                 ctrl);
    const gchar *reqs[] = { r1, NULL };
    multi_req (a, reqs);
    g_free (r1);
    break;
  }
  case 19: { /* sessions piled on one connection */
    gchar *r[11];
    guint i;
    for (i = 0; i < 10; i++)
      r[i] = g_strdup_printf ("SETUP %s RTSP/1.0\r\nCSeq: %u\r\nTransport: "
                              "RTP/AVP/TCP;unicast;interleaved=%u-%u\r\n\r\n",
                              ctrl, i + 1, 2 * i, 2 * i + 1);
    r[10] = NULL;
    multi_req (a, (const gchar *const *)r);
    for (i = 0; i < 10; i++)
      g_free (r[i]);
    break;
  }
  case 20:
    one_req (a,
             "DESCRIBE %s RTSP/1.0\r\nCSeq: 1\r\n"
             "Authorization: Digest ,,,,username=\"\r\n\r\n",
             u);
    break;
  case 21: { /* an 8 KB URL */
    GString *r = g_string_new ("DESCRIBE ");
    g_string_append (r, u);
    while (r->len < 8 * 1024)
      g_string_append (r, "/xxxxxxxxxxxxxxx");
    g_string_append (r, " RTSP/1.0\r\nCSeq: 1\r\n\r\n");
    one_shot (a, r->str, r->len);
    g_string_free (r, TRUE);
    break;
  }
  case 22:
    one_req (a,
             "SET_PARAMETER %s RTSP/1.0\r\nCSeq: 1\r\n"
             "Content-Length: -5\r\n\r\n",
             u);
    break;
  case 23:
    one_req (a, "describe %s rtsp/1.0\r\ncseq: 1\r\n\r\n", u);
    break;
  }
  g_free (ctrl);
}

static gpointer
abuse_thread (gpointer data)
{
  Abuse *a = data;
  GRand *rand = g_rand_new ();
  guint k = g_rand_int_range (rand, 0, NKINDS);

  while (g_get_monotonic_time () < a->deadline
         && g_atomic_int_get (&a->requests) < a->target)
    abuse_kind (a, k++ % NKINDS, rand);
  g_rand_free (rand);
  return NULL;
}

/* Slowloris: one byte of a request every 300 ms until the deadline. */
static gpointer
slowloris_thread (gpointer data)
{
  Abuse *a = data;
  while (g_get_monotonic_time () < a->deadline) {
    GSocket *s = conn_open (a->port);
    const gchar *req = "OPTIONS * RTSP/1.0\r\nCSeq: 1\r\nX-Slow: ";
    gsize i = 0;
    if (!s)
      break;
    g_atomic_int_inc (&a->requests);
    while (g_get_monotonic_time () < a->deadline) {
      gchar c = req[i < strlen (req) ? i : strlen (req) - 1];
      if (!conn_send (s, &c, 1))
        break;
      i++;
      g_usleep (300 * 1000);
    }
    g_socket_close (s, NULL);
    g_object_unref (s);
  }
  return NULL;
}

/* An OPTIONS on a fresh connection: its status, and how long it took. */
static gint
probe (guint port, gint64 *took_us)
{
  gint64 t0 = g_get_monotonic_time ();
  GSocket *s = conn_open (port);
  const gchar *req = "OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n\r\n";
  gint code = 0;

  if (s) {
    if (conn_send (s, req, strlen (req)))
      code = conn_status (s);
    g_socket_close (s, NULL);
    g_object_unref (s);
  }
  *took_us = g_get_monotonic_time () - t0;
  return code;
}

GST_START_TEST (test_hostile_input)
{
  const gchar *args[] = { "--source", SOURCE, "--mount", MOUNT, NULL };
  const gchar *protos[] = { "tcp", "udp", "tcp", "udp" };
  guint secs = env_uint ("HOSTILE_TEST_SECONDS", 40);
  TestServer *ts = test_server_start (args);
  guint port = fanout_server_get_port (ts->server);
  gchar *url = test_server_url (ts, "/live");
  TestViewer *v[4];
  RawRtsp *victim;
  GThread *threads[6];
  Abuse a = { 0 };
  guint64 rss0, rss1, rss_max = 0;
  gint64 t0, worst_probe = 0;
  guint probes = 0, failed_probes = 0, i;
  GString *all = g_string_new (NULL);
  gboolean ok = TRUE;
  gdouble window;

  test_client_latency_ms = 2000;
  for (i = 0; i < 4; i++)
    v[i] = test_viewer_new (url, protos[i]);
  for (i = 0; i < 4; i++)
    fail_unless (test_client_wait_frames (v[i]->c, 5, 90), "viewer %u (%s): %s",
                 i, protos[i], v[i]->c->error ? v[i]->c->error : "no frames");
  victim = raw_rtsp_connect (port);
  fail_unless_equals_int (raw_rtsp_play_tcp (victim, url, NULL), 200);
  g_socket_set_option (g_socket_connection_get_socket (victim->conn),
                       SOL_SOCKET, SO_RCVBUF, 1 << 20, NULL);
  /* warm: the first seconds of a pipeline allocate */
  g_usleep (2 * G_USEC_PER_SEC);
  for (i = 0; i < 4; i++) {
    test_client_reset_rtp (v[i]->c);
    g_mutex_lock (&v[i]->lock);
    v[i]->ssrc_changes = 0;
    g_mutex_unlock (&v[i]->lock);
  }
  rss0 = test_rss_kib ();
  t0 = g_get_monotonic_time ();

  a.port = port;
  a.url = url;
  a.victim = victim->session;
  a.target = (gint)env_uint ("HOSTILE_TEST_REQUESTS", 1500);
  a.deadline = t0 + secs * G_TIME_SPAN_SECOND;
  for (i = 0; i < 4; i++)
    threads[i] = g_thread_new ("abuse", abuse_thread, &a);
  for (; i < 6; i++)
    threads[i] = g_thread_new ("slowloris", slowloris_thread, &a);
  /* The server answers throughout; the victim's data is read meanwhile. */
  while (g_get_monotonic_time () < a.deadline
         && g_atomic_int_get (&a.requests) < a.target) {
    gint64 took;
    gint code = probe (port, &took);
    guint64 rss = test_rss_kib ();
    probes++;
    if (code != 200)
      failed_probes++;
    worst_probe = MAX (worst_probe, took);
    rss_max = MAX (rss_max, rss);
    {
      /* keep the victim's socket drained */
      GSocket *vs = g_socket_connection_get_socket (victim->conn);
      gchar buf[65536];
      g_socket_set_blocking (vs, FALSE);
      while (g_socket_receive (vs, buf, sizeof buf, NULL, NULL) > 0)
        ;
      g_socket_set_blocking (vs, TRUE);
    }
    g_usleep (G_USEC_PER_SEC);
  }
  /* the slowloris threads end at the deadline */
  a.deadline = g_get_monotonic_time ();
  for (i = 0; i < 6; i++)
    g_thread_join (threads[i]);
  g_usleep (3 * G_USEC_PER_SEC);
  rss1 = test_rss_kib ();
  rss_max = MAX (rss_max, rss1);
  window = (g_get_monotonic_time () - t0) / 1e6;

  g_printerr ("hostile: %d requests (%d answered with a status) in %.1f s; "
              "%u probes, %u failed, slowest %.0f ms; RSS %" G_GUINT64_FORMAT
              " -> %" G_GUINT64_FORMAT " KiB (max %" G_GUINT64_FORMAT ")\n",
              g_atomic_int_get (&a.requests), g_atomic_int_get (&a.answered),
              window, probes, failed_probes, worst_probe / 1000.0, rss0, rss1,
              rss_max);
  for (i = 0; i < 4; i++) {
    guint64 got, exp;
    gdouble r = test_client_rtp_ratio (v[i]->c, &got, &exp);
    guint changes;
    g_mutex_lock (&v[i]->lock);
    changes = v[i]->ssrc_changes;
    g_mutex_unlock (&v[i]->lock);
    g_string_append_printf (all,
                            " %u(%s):%" G_GUINT64_FORMAT "/%" G_GUINT64_FORMAT
                            " ssrc-changes=%u",
                            i, protos[i], got, exp, changes);
    if (r < 0.99 || changes || exp < (window - 3) * 30 * 0.9)
      ok = FALSE;
  }
  g_printerr ("hostile: viewers%s\n", all->str);
  fail_unless (g_atomic_int_get (&a.requests) >= 1000, "only %d requests",
               g_atomic_int_get (&a.requests));
  fail_unless (failed_probes == 0, "%u of %u OPTIONS probes failed",
               failed_probes, probes);
  fail_unless (ok, "a good client lost frames:%s", all->str);
  /* the victim still plays */
  {
    GSocket *vs = g_socket_connection_get_socket (victim->conn);
    gchar buf[4];
    gsize got = 0;
    gchar *skip;
    guint frames = 0;
    g_socket_set_timeout (vs, 5);
    while (frames < 50
           && g_input_stream_read_all (victim->in, buf, 4, &got, NULL, NULL)
           && got == 4) {
      guint len = ((guint8)buf[2] << 8) | (guint8)buf[3];
      fail_unless (buf[0] == '$', "victim: not interleaved data");
      skip = g_malloc (len);
      fail_unless (
          g_input_stream_read_all (victim->in, skip, len, &got, NULL, NULL));
      g_free (skip);
      frames++;
    }
    fail_unless (frames == 50, "the victim's session stopped");
  }
  fail_unless (rss_max < rss0 + 64 * 1024,
               "RSS grew from %" G_GUINT64_FORMAT " to %" G_GUINT64_FORMAT
               " KiB",
               rss0, rss_max);
  /* the abusive sessions ended with their connections */
  {
    gint64 end = g_get_monotonic_time () + 10 * G_TIME_SPAN_SECOND;
    while (fanout_server_get_n_clients (ts->server, "/live") != 5
           && g_get_monotonic_time () < end)
      g_usleep (50 * 1000);
    fail_unless_equals_int (fanout_server_get_n_clients (ts->server, "/live"),
                            5);
  }
  g_string_free (all, TRUE);
  raw_rtsp_free (victim);
  for (i = 0; i < 4; i++)
    test_viewer_free (v[i]);
  test_client_latency_ms = 300;
  g_free (url);
  test_server_stop (ts);
}

GST_END_TEST;

static Suite *
server_hostile_suite (void)
{
  Suite *s = suite_create ("server-hostile");
  TCase *tc = tcase_create ("general");

  tcase_set_timeout (tc, 300);
  tcase_add_checked_fixture (tc, test_filter_client_warnings, NULL);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_hostile_input);
  return s;
}

GST_CHECK_MAIN (server_hostile);
