/* gst-fanout
 * Copyright (C) 2026 the gst-fanout authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2.1 of the License, or (at your option) any later version.
 */

/* fanout-rtsp-server against faulty and hostile clients (issue 14), with
 * real clients (rtspsrc, ffprobe) and raw RTSP on 127.0.0.1: requests that
 * would build a second media for a mount, request bodies, silent sessions,
 * --max-clients per session, session control from another connection. */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <gst/check/gstcheck.h>
#include <glib/gstdio.h>
#include <gst/rtp/gstrtpbuffer.h>

#include "serverutil.h"

#include <json-glib/json-glib.h>
#include <libsoup/soup.h>
#include <math.h>

#include <glib-unix.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define SOURCE "cam=test:320x240@30"
#define MOUNT "/live=cam,codec=h264,gop=2,bitrate=600"

/* ---------------------------------------------------------------- */
/* A good client: an rtspsrc TestClient whose SSRC is watched too.   */

/* Starts @n viewers (alternately TCP and UDP, or @protocols) and waits for
 * their first frames; their frame counts start from here. */
static TestViewer **
viewers_start (const gchar *url, guint n, const gchar *const *protocols)
{
  TestViewer **v = g_new0 (TestViewer *, n + 1);
  guint i;

  test_client_latency_ms = 2000;
  for (i = 0; i < n; i++)
    v[i] = test_viewer_new (url,
                            protocols[i % g_strv_length ((gchar **)protocols)]);
  for (i = 0; i < n; i++)
    fail_unless (test_client_wait_frames (v[i]->c, 5, 90),
                 "viewer %u (%s) got no frames: %s", i, v[i]->protocols,
                 v[i]->c->error ? v[i]->c->error : "none");
  for (i = 0; i < n; i++) {
    test_client_reset_rtp (v[i]->c);
    g_mutex_lock (&v[i]->lock);
    v[i]->ssrc_changes = 0;
    g_mutex_unlock (&v[i]->lock);
  }
  return v;
}

/* Every viewer kept >= 99% of the frames of the @secs window (from RTP
 * timestamps: losses, not scheduling), on one RTP stream (no new SSRC),
 * and still receives: the timestamps cover the window but for the
 * jitterbuffer's 2 s still to come out. */
static void
viewers_check (TestViewer **v, gdouble secs, const gchar *what)
{
  GString *all = g_string_new (NULL);
  gboolean ok = TRUE;
  guint i;

  for (i = 0; v[i]; i++) {
    guint64 got, exp;
    gdouble r = test_client_rtp_ratio (v[i]->c, &got, &exp);
    guint changes;
    g_mutex_lock (&v[i]->lock);
    changes = v[i]->ssrc_changes;
    g_mutex_unlock (&v[i]->lock);
    g_string_append_printf (all,
                            " %u(%s):%" G_GUINT64_FORMAT "/%" G_GUINT64_FORMAT
                            " ssrc-changes=%u",
                            i, v[i]->protocols, got, exp, changes);
    if (r < 0.99 || changes > 0 || exp < (secs - 3) * 30 * 0.9
        || exp > secs * 45)
      ok = FALSE;
  }
  GST_INFO ("%s: %.1f s window:%s", what, secs, all->str);
  fail_unless (ok, "%s: a viewer lost frames or its stream (%.1f s):%s", what,
               secs, all->str);
  g_string_free (all, TRUE);
}

static void
viewers_free (TestViewer **v)
{
  guint i;

  for (i = 0; v[i]; i++)
    test_viewer_free (v[i]);
  g_free (v);
  test_client_latency_ms = 300;
}

/* ---------------------------------------------------------------- */
/* Raw RTSP helpers                                                  */

/* Reads what the server sends for about @ms; returns the RTP packets seen
 * on interleaved channel @channel. */
static guint
raw_drain (RawRtsp *r, guint8 channel, guint ms)
{
  GSocket *sock = g_socket_connection_get_socket (r->conn);
  gint64 end = g_get_monotonic_time () + ms * 1000;
  guint packets = 0;

  while (g_get_monotonic_time () < end) {
    guint8 hdr[4];
    gsize got = 0;
    guint len;
    gchar *skip;
    if (!g_socket_condition_timed_wait (sock, G_IO_IN, 100 * 1000, NULL, NULL))
      continue;
    if (!g_input_stream_read_all (r->in, hdr, 4, &got, NULL, NULL) || got != 4)
      break;
    if (hdr[0] != '$')
      break; /* a response or garbage: not expected here */
    len = (hdr[2] << 8) | hdr[3];
    skip = g_malloc (len);
    if (!g_input_stream_read_all (r->in, skip, len, &got, NULL, NULL)
        || got != len) {
      g_free (skip);
      break;
    }
    g_free (skip);
    if (hdr[1] == channel)
      packets++;
  }
  return packets;
}

static gint
raw_setup_tcp (RawRtsp *r, const gchar *ctrl, guint channel)
{
  gchar *t
      = g_strdup_printf ("Transport: RTP/AVP/TCP;unicast;interleaved=%u-%u\r\n",
                         channel, channel + 1);
  gint code = raw_rtsp_request (r, "SETUP", ctrl, t, NULL);
  g_free (t);
  return code;
}

static gint
run_argv (gchar **argv, gchar **out)
{
  gchar *err = NULL;
  gint status = -1;

  fail_unless (g_spawn_sync (NULL, argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL,
                             out, &err, &status, NULL));
  GST_INFO ("%s: status %d: %s", argv[2], status, err);
  g_free (err);
  return status;
}

/* ---------------------------------------------------------------- */
/* 14.1: requests that make gst-rtsp-server build a second media for a
 * mount must not cut off its viewers.                               */

static void
check_second_media (const gchar *mode)
{
  const gchar *args[]
      = { "--source", SOURCE, "--mount", MOUNT, "--mode", mode, NULL };
  const gchar *protos[] = { "tcp", "udp", NULL };
  TestServer *ts = test_server_start (args);
  guint port = fanout_server_get_port (ts->server);
  gchar *url = test_server_url (ts, "/live");
  gchar *ctrl = g_strdup_printf ("%s/stream=0", url);
  gchar *query = g_strdup_printf ("%s?probe=1", url);
  gchar *query_ctrl = g_strdup_printf ("%s/stream=0?probe=1", url);
  gint64 t0 = g_get_monotonic_time ();
  TestViewer **v = viewers_start (url, 2, protos);
  RawRtsp *r;
  TestClient *q;
  gchar *out = NULL;
  gchar *ffprobe[] = { (gchar *)"timeout",
                       (gchar *)"30",
                       (gchar *)"ffprobe",
                       (gchar *)"-v",
                       (gchar *)"error",
                       (gchar *)"-rtsp_transport",
                       (gchar *)"tcp",
                       (gchar *)"-show_entries",
                       (gchar *)"stream=codec_name",
                       (gchar *)"-of",
                       (gchar *)"default=noprint_wrappers=1",
                       query,
                       NULL };

  t0 = g_get_monotonic_time ();

  /* 1. SETUP without DESCRIBE (one request), then PLAY. */
  r = raw_rtsp_connect (port);
  fail_unless_equals_int (raw_setup_tcp (r, ctrl, 0), 200);
  fail_unless_equals_int (raw_rtsp_request (r, "PLAY", url, NULL, NULL), 200);
  fail_unless (raw_drain (r, 0, 1500) > 0, "SETUP-only client got nothing");
  raw_rtsp_free (r);

  /* 2. A query string: ffprobe (a real client), then raw requests. */
  fail_unless_equals_int (run_argv (ffprobe, &out), 0);
  fail_unless (strstr (out, "codec_name=h264") != NULL, "%s", out);
  g_free (out);
  r = raw_rtsp_connect (port);
  fail_unless_equals_int (raw_setup_tcp (r, query_ctrl, 0), 200);
  fail_unless_equals_int (raw_rtsp_request (r, "PLAY", url, NULL, NULL), 200);
  fail_unless (raw_drain (r, 0, 1500) > 0, "query-string client got nothing");
  raw_rtsp_free (r);

  /* 3. A second session on one connection: DESCRIBE, SETUP, PLAY, then a
   * SETUP without the Session header and a PLAY of that session. */
  r = raw_rtsp_connect (port);
  fail_unless_equals_int (raw_rtsp_play_tcp (r, url, NULL), 200);
  g_clear_pointer (&r->session, g_free);
  fail_unless_equals_int (raw_setup_tcp (r, ctrl, 2), 200);
  fail_unless_equals_int (raw_rtsp_request (r, "PLAY", url, NULL, NULL), 200);
  fail_unless (raw_drain (r, 2, 1500) > 0, "second session got nothing");
  raw_rtsp_free (r);

  /* 4. An rtspsrc client with a query string plays a while. */
  test_client_latency_ms = 300;
  q = test_client_new (query, "h264", "udp", FALSE, NULL, NULL);
  fail_unless (test_client_wait_frames (q, 30, 60), "query client: %s",
               q->error ? q->error : "no frames");
  test_client_free (q);
  test_client_latency_ms = 2000;

  /* The viewers play on for a while after the last of them left. */
  g_usleep (4 * G_USEC_PER_SEC);
  viewers_check (v, (g_get_monotonic_time () - t0) / 1e6, mode);
  viewers_free (v);
  g_free (query_ctrl);
  g_free (query);
  g_free (ctrl);
  g_free (url);
  test_server_stop (ts);
}

GST_START_TEST (test_isolated_second_media)
{
  check_second_media ("isolated");
}

GST_END_TEST;

GST_START_TEST (test_shared_second_media)
{
  check_second_media ("shared");
}

GST_END_TEST;

/* ---------------------------------------------------------------- */
/* 14.2: request bodies are bounded.                                 */

/* Reads a response status line within @timeout_s (0 when none). */
static gint
raw_read_status (RawRtsp *r, guint timeout_s)
{
  GSocket *sock = g_socket_connection_get_socket (r->conn);
  GString *line = g_string_new (NULL);
  gint code = 0;

  g_socket_set_timeout (sock, timeout_s);
  while (!g_str_has_suffix (line->str, "\r\n") && line->len < 256) {
    guint8 ch;
    if (g_input_stream_read (r->in, &ch, 1, NULL, NULL) != 1)
      break;
    g_string_append_c (line, ch);
  }
  if (sscanf (line->str, "RTSP/1.0 %d", &code) != 1)
    code = 0;
  g_string_free (line, TRUE);
  g_socket_set_timeout (sock, 0);
  return code;
}

#define BODY_BYTES (200u << 20)

GST_START_TEST (test_request_body_bounded)
{
  const gchar *args[] = { "--source", SOURCE, "--mount", MOUNT, NULL };
  const gchar *protos[] = { "tcp", NULL };
  TestServer *ts = test_server_start (args);
  guint port = fanout_server_get_port (ts->server);
  gchar *url = test_server_url (ts, "/live");
  TestViewer **v = viewers_start (url, 1, protos);
  gint64 t0 = g_get_monotonic_time ();
  guint64 rss0 = test_rss_kib (), rss1;
  RawRtsp *r[2];
  gsize sent[2] = { 0, 0 };
  gboolean open[2] = { TRUE, TRUE };
  gchar *chunk = g_malloc (64 * 1024);
  guint i;

  memset (chunk, 'x', 64 * 1024);
  for (i = 0; i < 2; i++) {
    gchar *head = g_strdup_printf (
        "SET_PARAMETER %s RTSP/1.0\r\nCSeq: 1\r\n"
        "Content-Type: text/parameters\r\nContent-Length: %u\r\n\r\n",
        url, BODY_BYTES);
    r[i] = raw_rtsp_connect (port);
    g_socket_set_timeout (g_socket_connection_get_socket (r[i]->conn), 5);
    fail_unless (g_output_stream_write_all (r[i]->out, head, strlen (head),
                                            NULL, NULL, NULL));
    g_free (head);
  }
  /* Both bodies at once, until the server stops taking them. */
  while ((open[0] && sent[0] < BODY_BYTES) || (open[1] && sent[1] < BODY_BYTES))
    for (i = 0; i < 2; i++) {
      gsize n = 0;
      if (!open[i] || sent[i] >= BODY_BYTES)
        continue;
      if (!g_output_stream_write_all (r[i]->out, chunk, 64 * 1024, &n, NULL,
                                      NULL))
        open[i] = FALSE;
      sent[i] += n;
    }
  rss1 = test_rss_kib ();
  for (i = 0; i < 2; i++) {
    gint code = raw_read_status (r[i], 5);
    GST_INFO ("connection %u: %" G_GSIZE_FORMAT " bytes taken, status %d", i,
              sent[i], code);
    g_printerr ("body: connection %u: %" G_GSIZE_FORMAT
                " bytes taken, status %d\n",
                i, sent[i], code);
    fail_unless (code == 413 || code == 400 || (!open[i] && code == 0),
                 "200 MiB body: status %d after %" G_GSIZE_FORMAT " bytes",
                 code, sent[i]);
    raw_rtsp_free (r[i]);
  }
  g_printerr ("body: RSS %" G_GUINT64_FORMAT " -> %" G_GUINT64_FORMAT " KiB\n",
              rss0, rss1);
  fail_unless (rss1 < rss0 + 32 * 1024,
               "two 200 MiB bodies took RSS from %" G_GUINT64_FORMAT
               " to %" G_GUINT64_FORMAT " KiB",
               rss0, rss1);
  /* the viewer played on meanwhile, and plays on */
  g_usleep (4 * G_USEC_PER_SEC);
  viewers_check (v, (g_get_monotonic_time () - t0) / 1e6, "body");
  viewers_free (v);
  g_free (chunk);
  g_free (url);
  test_server_stop (ts);
}

GST_END_TEST;

/* ---------------------------------------------------------------- */
/* 14.3: a silent UDP session is reclaimed.                          */

/* Two UDP sockets on 127.0.0.1 for a raw client's RTP and RTCP. */
typedef struct {
  GSocket *rtp, *rtcp;
  guint rtp_port, rtcp_port;
} UdpPair;

static GSocket *
udp_bind (guint *port)
{
  GSocket *s = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM,
                             G_SOCKET_PROTOCOL_UDP, NULL);
  GInetAddress *lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  GSocketAddress *sa = g_inet_socket_address_new (lo, 0);
  GSocketAddress *bound;

  fail_unless (g_socket_bind (s, sa, FALSE, NULL));
  bound = g_socket_get_local_address (s, NULL);
  *port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
  g_object_unref (bound);
  g_object_unref (sa);
  g_object_unref (lo);
  g_socket_set_blocking (s, FALSE);
  return s;
}

static void
udp_pair_init (UdpPair *u)
{
  GSocket *a, *b;
  guint pa, pb;

  a = udp_bind (&pa);
  b = udp_bind (&pb);
  /* client_port=RTP-RTCP: the lower one carries RTP */
  if (pa < pb) {
    u->rtp = a, u->rtp_port = pa, u->rtcp = b, u->rtcp_port = pb;
  } else {
    u->rtp = b, u->rtp_port = pb, u->rtcp = a, u->rtcp_port = pa;
  }
}

static void
udp_pair_clear (UdpPair *u)
{
  g_object_unref (u->rtp);
  g_object_unref (u->rtcp);
}

/* Packets waiting on @s (read and dropped). */
static guint
udp_drain (GSocket *s)
{
  gchar buf[2048];
  guint n = 0;

  while (g_socket_receive (s, buf, sizeof buf, NULL, NULL) > 0)
    n++;
  return n;
}

static gint
raw_setup_udp (RawRtsp *r, const gchar *ctrl, const UdpPair *u)
{
  gchar *t
      = g_strdup_printf ("Transport: RTP/AVP;unicast;client_port=%u-%u\r\n",
                         u->rtp_port, u->rtcp_port);
  gint code = raw_rtsp_request (r, "SETUP", ctrl, t, NULL);
  g_free (t);
  return code;
}

static guint
mount_clients (TestServer *ts)
{
  return fanout_server_get_n_clients (ts->server, "/live");
}

/* The count follows a response closely (gst-rtsp-server signals a SETUP
 * after its response is out): the count once it is @n, or after 5 s. */
static guint
wait_clients (TestServer *ts, guint n)
{
  gint64 end = g_get_monotonic_time () + 5 * G_TIME_SPAN_SECOND;
  while (mount_clients (ts) != n && g_get_monotonic_time () < end)
    g_usleep (10 * 1000);
  return mount_clients (ts);
}

static void
check_silent_udp (const gchar *mode)
{
  const guint timeout = 3;
  const gchar *args[]
      = { "--source",          SOURCE, "--mount", MOUNT, "--mode", mode,
          "--session-timeout", "3",    NULL };
  const gchar *protos[] = { "udp", "tcp", NULL };
  TestServer *ts = test_server_start (args);
  gchar *url = test_server_url (ts, "/live");
  gchar *ctrl = g_strdup_printf ("%s/stream=0", url);
  TestViewer **v = viewers_start (url, 2, protos);
  gint64 t0 = g_get_monotonic_time (), last_req, last_pkt, end;
  RawRtsp *r = raw_rtsp_connect (fanout_server_get_port (ts->server));
  UdpPair u;
  guint got = 0;

  udp_pair_init (&u);
  fail_unless_equals_int (raw_rtsp_request (r, "DESCRIBE", url,
                                            "Accept: application/sdp\r\n",
                                            NULL),
                          200);
  fail_unless_equals_int (raw_setup_udp (r, ctrl, &u), 200);
  fail_unless_equals_int (raw_rtsp_request (r, "PLAY", url, NULL, NULL), 200);
  last_req = last_pkt = g_get_monotonic_time ();
  fail_unless_equals_int (wait_clients (ts, 3), 3);
  /* From here on the raw client sends nothing (no RTCP, no keep-alive)
   * and keeps its RTSP connection open. Packets must stop within the
   * timeout, gst-rtsp-server's 5 s of grace and a few seconds. */
  end = last_req + (timeout + 5 + 8) * G_TIME_SPAN_SECOND;
  while (g_get_monotonic_time () < end) {
    guint n = udp_drain (u.rtp);
    udp_drain (u.rtcp);
    if (n) {
      got += n;
      last_pkt = g_get_monotonic_time ();
    } else if (g_get_monotonic_time () - last_pkt > 2 * G_TIME_SPAN_SECOND
               && mount_clients (ts) == 2) {
      break;
    }
    g_usleep (20 * 1000);
  }
  g_printerr ("silent %s UDP session: %u packets, the last %.1f s after its "
              "last request (timeout %u s)\n",
              mode, got, (last_pkt - last_req) / 1e6, timeout);
  fail_unless (got > 0, "the raw UDP client was never served");
  fail_unless (last_pkt - last_req < (timeout + 5 + 4) * G_TIME_SPAN_SECOND,
               "a silent UDP session was served %.1f s (timeout %u s)",
               (last_pkt - last_req) / 1e6, timeout);
  fail_unless_equals_int (wait_clients (ts, 2), 2);
  /* the viewers (RTCP and keep-alives) were not reclaimed */
  viewers_check (v, (g_get_monotonic_time () - t0) / 1e6, "silent udp");
  viewers_free (v);
  raw_rtsp_free (r);
  udp_pair_clear (&u);
  g_free (ctrl);
  g_free (url);
  test_server_stop (ts);
}

GST_START_TEST (test_isolated_silent_udp_reclaimed)
{
  check_silent_udp ("isolated");
}

GST_END_TEST;

GST_START_TEST (test_shared_silent_udp_reclaimed)
{
  check_silent_udp ("shared");
}

GST_END_TEST;

/* ---------------------------------------------------------------- */
/* 14.7: --max-clients counts sessions, not connections.             */

GST_START_TEST (test_max_clients_counts_sessions)
{
  const gchar *args[]
      = { "--source", SOURCE, "--mount", MOUNT, "--max-clients", "2", NULL };
  TestServer *ts = test_server_start (args);
  guint port = fanout_server_get_port (ts->server);
  gchar *url = test_server_url (ts, "/live");
  gchar *ctrl = g_strdup_printf ("%s/stream=0", url);
  RawRtsp *r = raw_rtsp_connect (port), *other;
  gchar *first = NULL;
  guint i, ok = 0;

  fail_unless_equals_int (raw_rtsp_request (r, "DESCRIBE", url,
                                            "Accept: application/sdp\r\n",
                                            NULL),
                          200);
  /* Six sessions asked for on one connection: two granted. */
  for (i = 0; i < 6; i++) {
    gint code;
    g_clear_pointer (&r->session, g_free);
    code = raw_setup_tcp (r, ctrl, 2 * i);
    fail_unless (code == 200 || code == 503, "SETUP %u: %d", i, code);
    if (code == 200 && ok++ == 0)
      first = g_strdup (r->session);
  }
  fail_unless_equals_int (ok, 2);
  fail_unless_equals_int (wait_clients (ts, 2), 2);
  other = raw_rtsp_connect (port);
  fail_unless_equals_int (raw_rtsp_request (other, "DESCRIBE", url,
                                            "Accept: application/sdp\r\n",
                                            NULL),
                          503);
  /* A TEARDOWN frees a place. */
  g_free (r->session);
  r->session = first;
  fail_unless_equals_int (raw_rtsp_request (r, "TEARDOWN", url, NULL, NULL),
                          200);
  fail_unless_equals_int (wait_clients (ts, 1), 1);
  fail_unless_equals_int (raw_setup_tcp (other, ctrl, 0), 200);
  fail_unless_equals_int (wait_clients (ts, 2), 2);
  raw_rtsp_free (other);
  raw_rtsp_free (r);
  g_free (ctrl);
  g_free (url);
  test_server_stop (ts);
}

GST_END_TEST;

/* Without --max-clients one connection still holds at most 8 sessions. */
GST_START_TEST (test_sessions_per_connection_bounded)
{
  const gchar *args[] = { "--source", SOURCE, "--mount", MOUNT, NULL };
  TestServer *ts = test_server_start (args);
  gchar *url = test_server_url (ts, "/live");
  gchar *ctrl = g_strdup_printf ("%s/stream=0", url);
  RawRtsp *r = raw_rtsp_connect (fanout_server_get_port (ts->server));
  guint i, ok = 0;

  for (i = 0; i < 12; i++) {
    g_clear_pointer (&r->session, g_free);
    ok += raw_setup_tcp (r, ctrl, 2 * i) == 200;
  }
  fail_unless_equals_int (ok, 8);
  fail_unless_equals_int (wait_clients (ts, 8), 8);
  raw_rtsp_free (r);
  /* they end with the connection */
  for (i = 0; i < 500 && mount_clients (ts) > 0; i++)
    g_usleep (10 * 1000);
  fail_unless_equals_int (wait_clients (ts, 0), 0);
  g_free (ctrl);
  g_free (url);
  test_server_stop (ts);
}

GST_END_TEST;

/* ---------------------------------------------------------------- */
/* 14.8: a session is controlled only from its own connection.       */

static gchar *
basic_header (const gchar *userpass)
{
  gchar *b64 = g_base64_encode ((const guchar *)userpass, strlen (userpass));
  gchar *h = g_strdup_printf ("Authorization: Basic %s\r\n", b64);
  g_free (b64);
  return h;
}

GST_START_TEST (test_session_control_other_connection)
{
  const gchar *args[]
      = { "--source", SOURCE,    "--mount", MOUNT,   "--auth", "basic",
          "--user",   "alice:a", "--user",  "bob:b", NULL };
  const gchar *methods[]
      = { "PAUSE", "PLAY", "TEARDOWN", "GET_PARAMETER", "SET_PARAMETER" };
  TestServer *ts = test_server_start (args);
  guint port = fanout_server_get_port (ts->server);
  gchar *url = test_server_url (ts, "/live");
  gchar *ctrl = g_strdup_printf ("%s/stream=0", url);
  gchar *alice = basic_header ("alice:a"), *bob = basic_header ("bob:b");
  gchar *setup_hdr = g_strdup_printf (
      "%sTransport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n", alice);
  RawRtsp *a = raw_rtsp_connect (port);
  guint i, round;

  fail_unless_equals_int (raw_rtsp_request (a, "SETUP", ctrl, setup_hdr, NULL),
                          200);
  fail_unless_equals_int (raw_rtsp_request (a, "PLAY", url, alice, NULL), 200);
  fail_unless (raw_drain (a, 0, 500) > 0);
  /* Another user, then the same user, on other connections. */
  for (round = 0; round < 2; round++) {
    RawRtsp *b = raw_rtsp_connect (port);
    b->session = g_strdup (a->session);
    for (i = 0; i < G_N_ELEMENTS (methods); i++) {
      gint code
          = raw_rtsp_request (b, methods[i], url, round ? alice : bob, NULL);
      fail_unless (code == 454,
                   "round %u: %s of another connection's "
                   "session: %d",
                   round, methods[i], code);
    }
    raw_rtsp_free (b);
    /* alice's session was not touched */
    fail_unless (raw_drain (a, 0, 1000) > 0, "round %u: alice stopped", round);
    fail_unless_equals_int (wait_clients (ts, 1), 1);
  }
  /* her own connection controls it */
  fail_unless_equals_int (raw_rtsp_request (a, "TEARDOWN", url, alice, NULL),
                          200);
  fail_unless_equals_int (wait_clients (ts, 0), 0);
  raw_rtsp_free (a);
  g_free (setup_hdr);
  g_free (alice);
  g_free (bob);
  g_free (ctrl);
  g_free (url);
  test_server_stop (ts);
}

GST_END_TEST;

/* ---------------------------------------------------------------- */
/* 14.6 and observability: HTTP address, auth, redaction, metrics.   */

/* GET http://127.0.0.1:@port@path with @userpass (NULL: none); returns
 * the status, the body in @body. */
static guint
http_get_status (guint port, const gchar *path, const gchar *userpass,
                 gchar **body)
{
  SoupSession *session = soup_session_new ();
  gchar *uri = g_strdup_printf ("http://127.0.0.1:%u%s", port, path);
  SoupMessage *msg = soup_message_new ("GET", uri);
  GBytes *b;
  guint status;

  if (userpass) {
    gchar *b64 = g_base64_encode ((const guchar *)userpass, strlen (userpass));
    gchar *h = g_strdup_printf ("Basic %s", b64);
    soup_message_headers_replace (soup_message_get_request_headers (msg),
                                  "Authorization", h);
    g_free (h);
    g_free (b64);
  }
  b = soup_session_send_and_read (session, msg, NULL, NULL);
  status = soup_message_get_status (msg);
  if (body)
    *body = b ? g_strndup (g_bytes_get_data (b, NULL), g_bytes_get_size (b))
              : g_strdup ("");
  if (b)
    g_bytes_unref (b);
  g_object_unref (msg);
  g_object_unref (session);
  g_free (uri);
  return status;
}

/* The local address a TCP socket listening on @port is bound to, from
 * /proc/net/tcp (IPv4, as "A.B.C.D"), or NULL. */
static gchar *
listen_address (guint port)
{
  gchar *tcp = NULL, **lines, *found = NULL;
  guint i;

  fail_unless (g_file_get_contents ("/proc/net/tcp", &tcp, NULL, NULL));
  lines = g_strsplit (tcp, "\n", -1);
  for (i = 1; lines[i] && !found; i++) {
    guint a, p, st;
    if (sscanf (lines[i], " %*u: %8x:%4x %*8x:%*4x %2x", &a, &p, &st) == 3
        && p == port && st == 0x0A)
      found = g_strdup_printf ("%u.%u.%u.%u", a & 0xff, (a >> 8) & 0xff,
                               (a >> 16) & 0xff, a >> 24);
  }
  g_strfreev (lines);
  g_free (tcp);
  return found;
}

/* A strict reader of the Prometheus text format (0.0.4): every line a
 * HELP, TYPE or sample; names and label names well formed; label values
 * with only \\, \" and \n escapes; values numbers; one TYPE and HELP per
 * family, before its samples; a family's samples together; no duplicate
 * series; counters named *_total; histograms' _bucket (with le), _sum,
 * _count. Fails the test with the offending line. Returns the samples. */
static guint
check_prometheus (const gchar *text)
{
  gchar **lines = g_strsplit (text, "\n", -1);
  GHashTable *types
      = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  GHashTable *helps
      = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  GHashTable *series
      = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  GHashTable *done
      = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  GRegex *name_re = g_regex_new ("^[a-zA-Z_:][a-zA-Z0-9_:]*$", 0, 0, NULL);
  GRegex *label_re = g_regex_new ("^[a-zA-Z_][a-zA-Z0-9_]*$", 0, 0, NULL);
  gchar *current = NULL;
  guint i, samples = 0;

  fail_unless (g_str_has_suffix (text, "\n"), "no final newline");
  for (i = 0; lines[i]; i++) {
    const gchar *l = lines[i];
    if (!lines[i + 1] && *l == '\0')
      break; /* after the final newline */
    fail_if (*l == '\0', "line %u: empty", i + 1);
    if (g_str_has_prefix (l, "# HELP ") || g_str_has_prefix (l, "# TYPE ")) {
      gboolean help = l[2] == 'H';
      const gchar *n = l + 7, *sp = strchr (n, ' ');
      gchar *name;
      fail_unless (sp != NULL, "line %u: %s", i + 1, l);
      name = g_strndup (n, sp - n);
      fail_unless (g_regex_match (name_re, name, 0, NULL), "line %u: %s", i + 1,
                   l);
      fail_if (g_hash_table_contains (done, name),
               "line %u: family %s again after other families", i + 1, name);
      if (help) {
        fail_if (g_hash_table_contains (helps, name), "line %u: second HELP",
                 i + 1);
        g_hash_table_add (helps, g_strdup (name));
      } else {
        const gchar *t = sp + 1;
        fail_if (g_hash_table_contains (types, name), "line %u: second TYPE",
                 i + 1);
        fail_unless (g_str_equal (t, "counter") || g_str_equal (t, "gauge")
                         || g_str_equal (t, "histogram")
                         || g_str_equal (t, "summary")
                         || g_str_equal (t, "untyped"),
                     "line %u: type %s", i + 1, t);
        if (g_str_equal (t, "counter"))
          fail_unless (g_str_has_suffix (name, "_total"),
                       "line %u: counter %s not named *_total", i + 1, name);
        else
          fail_if (g_str_has_suffix (name, "_total"),
                   "line %u: %s %s named *_total", i + 1, t, name);
        g_hash_table_insert (types, g_strdup (name), g_strdup (t));
      }
      if (!current || !g_str_equal (current, name)) {
        if (current)
          g_hash_table_add (done, current);
        current = name;
      } else {
        g_free (name);
      }
      continue;
    }
    fail_if (l[0] == '#', "line %u: comment %s", i + 1, l);
    {
      /* name{labels} value */
      const gchar *p = l;
      gchar *name, *family, *key, *end = NULL;
      const gchar *type;
      GString *labels = g_string_new (NULL);
      gboolean has_le = FALSE;
      gdouble v;
      while (*p && *p != '{' && *p != ' ')
        p++;
      name = g_strndup (l, p - l);
      fail_unless (g_regex_match (name_re, name, 0, NULL), "line %u: %s", i + 1,
                   l);
      if (*p == '{') {
        p++;
        while (*p != '}') {
          const gchar *eq = strchr (p, '=');
          gchar *ln;
          fail_unless (eq != NULL && eq[1] == '"', "line %u: %s", i + 1, l);
          ln = g_strndup (p, eq - p);
          fail_unless (g_regex_match (label_re, ln, 0, NULL),
                       "line %u: label name %s", i + 1, ln);
          has_le = has_le || g_str_equal (ln, "le");
          g_string_append_printf (labels, "%s=", ln);
          g_free (ln);
          p = eq + 2;
          while (*p != '"') {
            fail_unless (*p != '\0', "line %u: unterminated value: %s", i + 1,
                         l);
            if (*p == '\\') {
              fail_unless (p[1] == '\\' || p[1] == '"' || p[1] == 'n',
                           "line %u: bad escape \\%c: %s", i + 1, p[1], l);
              g_string_append_c (labels, p[1]);
              p += 2;
              continue;
            }
            g_string_append_c (labels, *p++);
          }
          g_string_append_c (labels, ',');
          p++;
          if (*p == ',')
            p++;
          else
            fail_unless (*p == '}', "line %u: %s", i + 1, l);
        }
        p++;
      }
      fail_unless (*p == ' ', "line %u: %s", i + 1, l);
      p++;
      if (g_str_equal (p, "+Inf") || g_str_equal (p, "-Inf")
          || g_str_equal (p, "NaN")) {
        v = 0;
      } else {
        v = g_ascii_strtod (p, &end);
        fail_unless (end != p && *end == '\0' && isfinite (v),
                     "line %u: value %s", i + 1, p);
      }
      /* the family this sample belongs to */
      family = g_strdup (name);
      type = g_hash_table_lookup (types, family);
      if (!type) {
        const gchar *sfx[] = { "_bucket", "_sum", "_count" };
        guint k;
        for (k = 0; k < 3 && !type; k++)
          if (g_str_has_suffix (name, sfx[k])) {
            gchar *f = g_strndup (name, strlen (name) - strlen (sfx[k]));
            const gchar *t = g_hash_table_lookup (types, f);
            if (t && g_str_equal (t, "histogram")) {
              g_free (family);
              family = f;
              type = t;
              fail_unless (k != 0 || has_le, "line %u: bucket without le",
                           i + 1);
            } else {
              g_free (f);
            }
          }
      }
      fail_unless (type != NULL, "line %u: sample of %s before its TYPE", i + 1,
                   name);
      fail_unless (current && g_str_equal (current, family),
                   "line %u: sample of %s outside its family", i + 1, family);
      fail_unless (g_hash_table_contains (helps, family),
                   "line %u: %s has no HELP", i + 1, family);
      key = g_strdup_printf ("%s{%s}", name, labels->str);
      fail_if (g_hash_table_contains (series, key), "line %u: duplicate %s",
               i + 1, key);
      g_hash_table_add (series, key);
      g_string_free (labels, TRUE);
      g_free (family);
      g_free (name);
      samples++;
    }
  }
  g_free (current);
  g_regex_unref (name_re);
  g_regex_unref (label_re);
  g_hash_table_unref (types);
  g_hash_table_unref (helps);
  g_hash_table_unref (series);
  g_hash_table_unref (done);
  g_strfreev (lines);
  return samples;
}

/* JSON integers: every member of @o that holds a whole number is an
 * integer node, recursively. */
static void
check_json_ints (JsonNode *n, const gchar *where)
{
  if (JSON_NODE_HOLDS_OBJECT (n)) {
    JsonObject *o = json_node_get_object (n);
    GList *m = json_object_get_members (o), *l;
    for (l = m; l; l = l->next) {
      gchar *w = g_strdup_printf ("%s.%s", where, (gchar *)l->data);
      JsonNode *c = json_object_get_member (o, l->data);
      const gchar *k = l->data;
      /* fractional by nature */
      if (!g_str_has_suffix (k, "_ms") && !g_str_has_suffix (k, "_s"))
        fail_if (JSON_NODE_HOLDS_VALUE (c)
                     && json_node_get_value_type (c) == G_TYPE_DOUBLE,
                 "%s is a float", w);
      check_json_ints (c, w);
      g_free (w);
    }
    g_list_free (m);
  } else if (JSON_NODE_HOLDS_ARRAY (n)) {
    JsonArray *a = json_node_get_array (n);
    guint i;
    for (i = 0; i < json_array_get_length (a); i++)
      check_json_ints (json_array_get_element (a, i), where);
  }
}

GST_START_TEST (test_metrics_strict)
{
  const gchar *args[] = { "--source",    SOURCE, "--mount", "/a\"b\\c=cam",
                          "--mount",     MOUNT,  "--mode",  "isolated",
                          "--http-port", "0",    NULL };
  TestServer *ts = test_server_start (args);
  guint hport = fanout_server_get_http_port (ts->server);
  gchar *url = test_server_url (ts, "/live");
  TestClient *c = test_client_new (url, "h264", "udp", FALSE, NULL, NULL);
  gchar *metrics = NULL, *stats = NULL;
  JsonParser *parser = json_parser_new ();
  guint n;

  fail_unless (test_client_wait_frames (c, 10, 60));
  fail_unless_equals_int (http_get_status (hport, "/metrics", NULL, &metrics),
                          200);
  n = check_prometheus (metrics);
  g_printerr ("metrics: %u samples pass the strict reader\n", n);
  fail_unless (strstr (metrics, "fanout_clients{mount=\"/a\\\"b\\\\c\"} 0\n")
                   != NULL,
               "%s", metrics);
  fail_unless (strstr (metrics, "fanout_build_info{version=\"") != NULL);
  fail_unless (strstr (metrics, "fanout_transport_clients{mount=\"/live\","
                                "transport=\"udp\"} 1\n")
                   != NULL,
               "%s", metrics);
  fail_unless (strstr (metrics, "fanout_ring_readers{ring=\"cam\"}") != NULL,
               "%s", metrics);
  fail_if (strstr (metrics, "stat=") != NULL, "%s", metrics);
  fail_unless_equals_int (http_get_status (hport, "/stats", NULL, &stats), 200);
  fail_unless (json_parser_load_from_data (parser, stats, -1, NULL));
  check_json_ints (json_parser_get_root (parser), "stats");
  g_object_unref (parser);
  g_free (stats);
  g_free (metrics);
  test_client_free (c);
  g_free (url);
  test_server_stop (ts);
}

GST_END_TEST;

GST_START_TEST (test_http_address_auth_redaction)
{
  const gchar *src_args[] = { "--source", SOURCE, "--mount", MOUNT, NULL };
  TestServer *cam = test_server_start (src_args);
  gchar *spec = g_strdup_printf ("relay=rtsp://cam:topsecret@127.0.0.1:%u/live",
                                 fanout_server_get_port (cam->server));
  const gchar *args[]
      = { "--source", spec,     "--address", "0.0.0.0", "--http-port",
          "0",        "--user", "alice:a",   NULL };
  const gchar *args2[]
      = { "--source", spec, "--http-port", "0", "--stats-addresses", NULL };
  TestServer *ts = test_server_start (args);
  guint hport = fanout_server_get_http_port (ts->server);
  gchar *url = test_server_url (ts, "/live");
  gchar *addr = listen_address (hport), *body = NULL;
  TestClient *c;

  /* HTTP on loopback even though RTSP listens everywhere */
  fail_unless_equals_string (addr, "127.0.0.1");
  g_free (addr);
  /* the --user users, Basic */
  fail_unless_equals_int (http_get_status (hport, "/stats", NULL, NULL), 401);
  fail_unless_equals_int (http_get_status (hport, "/metrics", "alice:b", NULL),
                          401);
  fail_unless_equals_int (http_get_status (hport, "/metrics", "alice:a", &body),
                          200);
  g_free (body);
  c = test_client_new (url, "h264", "tcp", FALSE, "alice", "a");
  fail_unless (test_client_wait_frames (c, 5, 60), "relay client: %s",
               c->error ? c->error : "no frames");
  fail_unless_equals_int (http_get_status (hport, "/stats", "alice:a", &body),
                          200);
  fail_unless (strstr (body, "rtsp://cam:***@127.0.0.1:") != NULL, "%s", body);
  fail_if (strstr (body, "topsecret") != NULL, "%s", body);
  fail_if (strstr (body, "\"address\"") != NULL, "%s", body);
  g_free (body);
  test_client_free (c);
  g_free (url);
  test_server_stop (ts);

  /* client addresses when asked */
  ts = test_server_start (args2);
  hport = fanout_server_get_http_port (ts->server);
  url = test_server_url (ts, "/live");
  c = test_client_new (url, "h264", "tcp", FALSE, NULL, NULL);
  fail_unless (test_client_wait_frames (c, 5, 60));
  fail_unless_equals_int (http_get_status (hport, "/stats", NULL, &body), 200);
  fail_unless (strstr (body, "\"address\" : \"127.0.0.1:") != NULL, "%s", body);
  g_free (body);
  test_client_free (c);
  g_free (url);
  test_server_stop (ts);
  test_server_stop (cam);
  g_free (spec);
}

GST_END_TEST;

/* The binary's log: secrets redacted in the startup lines and in errors;
 * refused requests logged with method, path and user. */
GST_START_TEST (test_log_redaction)
{
  const gchar *src_args[] = { "--source", SOURCE, "--mount", MOUNT, NULL };
  TestServer *cam = test_server_start (src_args);
  guint port = find_port (NULL);
  gchar *spec = g_strdup_printf ("relay=rtsp://cam:topsecret@127.0.0.1:%u/live",
                                 fanout_server_get_port (cam->server));
  gchar *port_s = g_strdup_printf ("%u", port);
  const gchar *args[]
      = { "--source", spec, "--port", port_s, "--user", "alice:a", NULL };
  const gchar *bad[] = { "--source", "relay=rtsp://cam:topsecret@127.0.0.1:1/x",
                         "--port", "0", NULL };
  gchar *err = NULL, *url = g_strdup_printf ("rtsp://127.0.0.1:%u/live", port);
  GError *e = NULL;
  GPtrArray *argv = g_ptr_array_new ();
  GPid pid;
  gint errfd;
  gint64 end;
  GString *log = g_string_new (NULL);
  guint i;

  /* 1. a relay source that is not up (a runtime condition: the server
   * waits for it, see server_sources.c): its log line, no secret */
  run_server_binary (bad, NULL, &err, 4);
  fail_unless (strstr (err, "not available") != NULL, "%s", err);
  fail_unless (strstr (err, "cam:***@") != NULL, "%s", err);
  fail_if (strstr (err, "topsecret") != NULL, "%s", err);
  g_free (err);

  /* 2. a running server: its startup lines and a refused request */
  g_ptr_array_add (argv, (gpointer)server_binary ());
  for (i = 0; args[i]; i++)
    g_ptr_array_add (argv, (gpointer)args[i]);
  g_ptr_array_add (argv, NULL);
  fail_unless (g_spawn_async_with_pipes (NULL, (gchar **)argv->pdata, NULL,
                                         G_SPAWN_DEFAULT, NULL, NULL, &pid,
                                         NULL, NULL, &errfd, &e),
               "%s", e ? e->message : "?");
  g_unix_set_fd_nonblocking (errfd, TRUE, NULL);
  end = g_get_monotonic_time () + 30 * G_TIME_SPAN_SECOND;
  while (g_get_monotonic_time () < end && !strstr (log->str, "mount /live")) {
    gchar buf[4096];
    gssize n = read (errfd, buf, sizeof buf);
    if (n > 0)
      g_string_append_len (log, buf, n);
    else
      g_usleep (50 * 1000);
  }
  fail_unless (strstr (log->str, "mount /live") != NULL, "%s", log->str);
  {
    RawRtsp *r = raw_rtsp_connect (port);
    gchar *b64 = g_base64_encode ((const guchar *)"mallory:x", 9);
    gchar *h = g_strdup_printf ("Authorization: Basic %s\r\n", b64);
    fail_unless_equals_int (raw_rtsp_request (r, "DESCRIBE", url, h, NULL),
                            401);
    g_free (h);
    g_free (b64);
    raw_rtsp_free (r);
  }
  end = g_get_monotonic_time () + 10 * G_TIME_SPAN_SECOND;
  while (g_get_monotonic_time () < end && !strstr (log->str, ": 401 ")) {
    gchar buf[4096];
    gssize n = read (errfd, buf, sizeof buf);
    if (n > 0)
      g_string_append_len (log, buf, n);
    else
      g_usleep (50 * 1000);
  }
  kill (pid, SIGTERM);
  waitpid (pid, NULL, 0);
  g_spawn_close_pid (pid);
  close (errfd);
  fail_unless (strstr (log->str, "rtsp://cam:***@127.0.0.1:") != NULL, "%s",
               log->str);
  fail_if (strstr (log->str, "topsecret") != NULL, "%s", log->str);
  fail_unless (strstr (log->str, "(user mallory (refused)): DESCRIBE ") != NULL
                   && strstr (log->str, "/live: 401 Unauthorized") != NULL,
               "%s", log->str);
  g_string_free (log, TRUE);
  g_ptr_array_free (argv, TRUE);
  g_free (url);
  g_free (port_s);
  g_free (spec);
  test_server_stop (cam);
}

GST_END_TEST;

/* ---------------------------------------------------------------- */
/* 14.4: after a relay's source comes back, new clients are served   */
/* whatever old clients do.                                          */

static gboolean
wait_metric (TestServer *ts, const gchar *line, guint timeout_s)
{
  gint64 end = g_get_monotonic_time () + timeout_s * G_TIME_SPAN_SECOND;
  while (g_get_monotonic_time () < end) {
    gchar *m = fanout_server_get_metrics (ts->server);
    gboolean found = strstr (m, line) != NULL;
    g_free (m);
    if (found)
      return TRUE;
    g_usleep (100 * 1000);
  }
  return FALSE;
}

static void
check_relay_return (const gchar *mode)
{
  guint cam_port = find_port (NULL);
  gchar *cam_port_s = g_strdup_printf ("%u", cam_port);
  const gchar *cam_args[]
      = { "--source", SOURCE, "--mount", MOUNT, "--port", cam_port_s, NULL };
  gchar *spec = g_strdup_printf ("relay=rtsp://127.0.0.1:%u/live", cam_port);
  const gchar *args[] = { "--source", spec, "--mode", mode, NULL };
  TestServer *cam = test_server_start (cam_args);
  TestServer *ts = test_server_start (args);
  gchar *url = test_server_url (ts, "/live");
  TestClient *old, *fresh;

  old = test_client_new (url, "h264", "tcp", FALSE, NULL, NULL);
  fail_unless (test_client_wait_frames (old, 5, 60), "old client: %s",
               old->error ? old->error : "no frames");
  /* the camera goes away, and comes back on the same port */
  test_server_stop (cam);
  fail_unless (wait_metric (ts, "fanout_source_up{source=\"relay\"} 0\n", 30),
               "the relay never saw its source go");
  cam = test_server_start (cam_args);
  fail_unless (
      wait_metric (ts, "fanout_source_up{source=\"relay\"} 1\n", 60)
          && !wait_metric (ts,
                           "fanout_source_restarts_total{source=\"relay\"} "
                           "0\n",
                           0),
      "the relay did not restart its source");
  /* the old client lingers (connected, its session alive); a new one
   * plays */
  fresh = test_client_new (url, "h264", "tcp", FALSE, NULL, NULL);
  fail_unless (test_client_wait_frames (fresh, 10, 30),
               "%s: a client after the source's return: %s", mode,
               fresh->error ? fresh->error : "no frames");
  test_client_free (fresh);
  test_client_free (old);
  g_free (url);
  test_server_stop (ts);
  test_server_stop (cam);
  g_free (spec);
  g_free (cam_port_s);
}

GST_START_TEST (test_isolated_relay_source_returns)
{
  check_relay_return ("isolated");
}

GST_END_TEST;

GST_START_TEST (test_shared_relay_source_returns)
{
  check_relay_return ("shared");
}

GST_END_TEST;

/* ---------------------------------------------------------------- */
/* 14.5: a stalled shared-mode TCP client is dropped.                */

GST_START_TEST (test_shared_stalled_tcp_dropped)
{
  const gchar *args[]
      = { "--source", SOURCE, "--mount", MOUNT, "--mode", "shared", NULL };
  const gchar *protos[] = { "tcp", "udp", NULL };
  TestServer *ts = test_server_start (args);
  gchar *url = test_server_url (ts, "/live");
  TestViewer **v = viewers_start (url, 2, protos);
  gint64 t0 = g_get_monotonic_time (), stall, end;
  RawRtsp *r = raw_rtsp_connect (fanout_server_get_port (ts->server));
  GSocket *sock = g_socket_connection_get_socket (r->conn);
  gchar buf[65536];
  gboolean closed = FALSE;

  g_socket_set_option (sock, SOL_SOCKET, SO_RCVBUF, 4096, NULL);
  fail_unless_equals_int (raw_rtsp_play_tcp (r, url, NULL), 200);
  fail_unless_equals_int (wait_clients (ts, 3), 3);
  /* It never reads from here on: dropped after 10 s without taking
   * anything (its session ends with it). */
  stall = g_get_monotonic_time ();
  end = stall + 30 * G_TIME_SPAN_SECOND;
  while (g_get_monotonic_time () < end && mount_clients (ts) != 2)
    g_usleep (100 * 1000);
  g_printerr ("stalled shared TCP client dropped after %.1f s\n",
              (g_get_monotonic_time () - stall) / 1e6);
  fail_unless_equals_int (mount_clients (ts), 2);
  /* what it had buffered, then the end of the connection */
  g_socket_set_timeout (sock, 5);
  end = g_get_monotonic_time () + 60 * G_TIME_SPAN_SECOND;
  while (!closed && g_get_monotonic_time () < end) {
    gssize n = g_socket_receive (sock, buf, sizeof buf, NULL, NULL);
    if (n <= 0)
      closed = TRUE;
  }
  fail_unless (closed, "the stalled client's connection stayed open");
  viewers_check (v, (g_get_monotonic_time () - t0) / 1e6, "stalled");
  viewers_free (v);
  raw_rtsp_free (r);
  g_free (url);
  test_server_stop (ts);
}

GST_END_TEST;

/* ---------------------------------------------------------------- */
/* RTSPS: --tls-cert/--tls-key, a self-signed certificate.           */

static void
handoff_cb (GstElement *sink, GstBuffer *buf, GstPad *pad, gpointer data)
{
  g_atomic_int_inc ((gint *)data);
}

/* rtspsrc over rtsps:// (certificate not validated: self-signed): buffers
 * depayloaded within @timeout_s, or -1 on error. */
static gint
rtsps_frames (const gchar *url, const gchar *user, guint want, guint timeout_s)
{
  gchar *auth = user ? g_strdup_printf (" user-id=%s user-pw=%s", user, user)
                     : g_strdup ("");
  gchar *desc = g_strdup_printf (
      "rtspsrc location=%s protocols=tcp tls-validation-flags=0 latency=300%s "
      "! rtph264depay ! fakesink name=sink signal-handoffs=true sync=false",
      url, auth);
  GstElement *p = gst_parse_launch (desc, NULL);
  GstElement *sink = gst_bin_get_by_name (GST_BIN (p), "sink");
  GstBus *bus = gst_element_get_bus (p);
  gint n = 0;
  gint64 end = g_get_monotonic_time () + timeout_s * G_TIME_SPAN_SECOND;
  gboolean failed = FALSE;

  g_signal_connect (sink, "handoff", G_CALLBACK (handoff_cb), &n);
  gst_element_set_state (p, GST_STATE_PLAYING);
  while (!failed && (guint)g_atomic_int_get (&n) < want
         && g_get_monotonic_time () < end) {
    GstMessage *m
        = gst_bus_timed_pop_filtered (bus, 50 * GST_MSECOND, GST_MESSAGE_ERROR);
    if (m) {
      failed = TRUE;
      gst_message_unref (m);
    }
  }
  gst_element_set_state (p, GST_STATE_NULL);
  gst_object_unref (bus);
  gst_object_unref (sink);
  gst_object_unref (p);
  g_free (desc);
  g_free (auth);
  return failed ? -1 : g_atomic_int_get (&n);
}

GST_START_TEST (test_rtsps)
{
  gchar *dir = g_dir_make_tmp ("fanout-tls-XXXXXX", NULL);
  gchar *cert = g_build_filename (dir, "cert.pem", NULL);
  gchar *key = g_build_filename (dir, "key.pem", NULL);
  gchar *openssl[] = { (gchar *)"openssl",
                       (gchar *)"req",
                       (gchar *)"-x509",
                       (gchar *)"-newkey",
                       (gchar *)"rsa:2048",
                       (gchar *)"-nodes",
                       (gchar *)"-keyout",
                       key,
                       (gchar *)"-out",
                       cert,
                       (gchar *)"-days",
                       (gchar *)"1",
                       (gchar *)"-subj",
                       (gchar *)"/CN=127.0.0.1",
                       NULL };
  const gchar *args[]
      = { "--source", SOURCE,      "--mount", MOUNT, "--tls-cert",
          cert,       "--tls-key", key,       NULL };
  const gchar *args_auth[]
      = { "--source", SOURCE,      "--mount", MOUNT,    "--tls-cert",
          cert,       "--tls-key", key,       "--user", "bob:bob",
          "--auth",   "basic",     NULL };
  gint status = -1;
  TestServer *ts;
  gchar *url, *plain, *out = NULL;
  gint n;

  fail_unless (g_spawn_sync (NULL, openssl, NULL,
                             G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL
                                 | G_SPAWN_STDERR_TO_DEV_NULL,
                             NULL, NULL, NULL, NULL, &status, NULL)
                   && status == 0,
               "openssl could not make a certificate");
  ts = test_server_start (args);
  url = test_server_url (ts, "/live");
  fail_unless (g_str_has_prefix (url, "rtsps://"), "%s", url);
  /* rtspsrc, while a connection that never starts its handshake is open */
  {
    RawRtsp *idle = raw_rtsp_connect (fanout_server_get_port (ts->server));
    n = rtsps_frames (url, NULL, 20, 60);
    fail_unless (n >= 20, "rtspsrc over rtsps: %d buffers", n);
    raw_rtsp_free (idle);
  }
  /* ffprobe (ffmpeg does not verify the certificate by default) */
  {
    gchar *ffprobe[] = { (gchar *)"timeout",
                         (gchar *)"30",
                         (gchar *)"ffprobe",
                         (gchar *)"-v",
                         (gchar *)"error",
                         (gchar *)"-show_entries",
                         (gchar *)"stream=codec_name,width",
                         (gchar *)"-of",
                         (gchar *)"default=noprint_wrappers=1",
                         url,
                         NULL };
    fail_unless_equals_int (run_argv (ffprobe, &out), 0);
    fail_unless (strstr (out, "codec_name=h264") != NULL, "%s", out);
    fail_unless (strstr (out, "width=320") != NULL, "%s", out);
    g_free (out);
  }
  /* plain RTSP on the TLS port gets nowhere */
  plain = g_strdup_printf ("rtsp://%s", url + strlen ("rtsps://"));
  {
    RawRtsp *r = raw_rtsp_connect (fanout_server_get_port (ts->server));
    g_socket_set_timeout (g_socket_connection_get_socket (r->conn), 5);
    fail_if (raw_rtsp_request (r, "OPTIONS", plain, NULL, NULL) == 200);
    raw_rtsp_free (r);
  }
  g_free (plain);
  g_free (url);
  test_server_stop (ts);

  /* Basic authentication inside TLS */
  ts = test_server_start (args_auth);
  url = test_server_url (ts, "/live");
  n = rtsps_frames (url, "bob", 10, 60);
  fail_unless (n >= 10, "authenticated rtsps client: %d buffers", n);
  g_free (url);
  test_server_stop (ts);

  g_unlink (cert);
  g_unlink (key);
  g_rmdir (dir);
  g_free (cert);
  g_free (key);
  g_free (dir);
}

GST_END_TEST;

/* --auth basic over plain TCP is warned about, loudly; not with TLS. */
GST_START_TEST (test_basic_plain_warned)
{
  const gchar *args[]
      = { "--source", SOURCE, "--mount", MOUNT,   "--port",  "0",
          "--user",   "a:b",  "--auth",  "basic", "--quiet", NULL };
  gchar *err = NULL;

  run_server_binary (args, NULL, &err, 6);
  fail_unless (strstr (err, "WARNING: --auth basic sends every password in "
                            "clear over plain TCP")
                   != NULL,
               "%s", err);
  g_free (err);
}

GST_END_TEST;

/* Digest: a response made for another uri= does not open this URL. */
static gchar *
md5_hex (const gchar *s)
{
  return g_compute_checksum_for_string (G_CHECKSUM_MD5, s, -1);
}

static gchar *
digest_header (const gchar *resp401, const gchar *method, const gchar *uri)
{
  const gchar *r = strstr (resp401, "realm=\""),
              *n = strstr (resp401, "nonce=\"");
  gchar *realm, *nonce, *a1, *h1, *a2, *h2, *all, *rsp, *h;

  fail_unless (r && n, "%s", resp401);
  realm = g_strndup (r + 7, strchr (r + 7, '"') - (r + 7));
  nonce = g_strndup (n + 7, strchr (n + 7, '"') - (n + 7));
  a1 = g_strdup_printf ("alice:%s:secret", realm);
  h1 = md5_hex (a1);
  a2 = g_strdup_printf ("%s:%s", method, uri);
  h2 = md5_hex (a2);
  all = g_strdup_printf ("%s:%s:%s", h1, nonce, h2);
  rsp = md5_hex (all);
  h = g_strdup_printf ("Authorization: Digest username=\"alice\", "
                       "realm=\"%s\", nonce=\"%s\", uri=\"%s\", "
                       "response=\"%s\"\r\nAccept: application/sdp\r\n",
                       realm, nonce, uri, rsp);
  g_free (realm);
  g_free (nonce);
  g_free (a1);
  g_free (h1);
  g_free (a2);
  g_free (h2);
  g_free (all);
  g_free (rsp);
  return h;
}

GST_START_TEST (test_digest_other_uri_refused)
{
  const gchar *args[] = { "--source", SOURCE,         "--mount",
                          MOUNT,      "--mount",      "/other=cam,codec=mjpeg",
                          "--user",   "alice:secret", NULL };
  TestServer *ts = test_server_start (args);
  gchar *url = test_server_url (ts, "/live");
  gchar *other = test_server_url (ts, "/other");
  RawRtsp *r = raw_rtsp_connect (fanout_server_get_port (ts->server));
  gchar *resp = NULL, *h;

  fail_unless_equals_int (raw_rtsp_request (r, "DESCRIBE", url,
                                            "Accept: application/sdp\r\n",
                                            &resp),
                          401);
  /* the right response for the right URL: 200 */
  h = digest_header (resp, "DESCRIBE", url);
  fail_unless_equals_int (raw_rtsp_request (r, "DESCRIBE", url, h, NULL), 200);
  g_free (h);
  /* a valid response computed for /other, sent to /live: refused */
  h = digest_header (resp, "DESCRIBE", other);
  fail_unless_equals_int (raw_rtsp_request (r, "DESCRIBE", url, h, NULL), 401);
  g_free (h);
  g_free (resp);
  raw_rtsp_free (r);
  g_free (other);
  g_free (url);
  test_server_stop (ts);
}

GST_END_TEST;

static Suite *
server_security_suite (void)
{
  Suite *s = suite_create ("server-security");
  TCase *tc = tcase_create ("general");

  tcase_set_timeout (tc, 300);
  tcase_add_checked_fixture (tc, test_filter_client_warnings, NULL);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_isolated_second_media);
  tcase_add_test (tc, test_shared_second_media);
  tcase_add_test (tc, test_request_body_bounded);
  tcase_add_test (tc, test_isolated_silent_udp_reclaimed);
  tcase_add_test (tc, test_shared_silent_udp_reclaimed);
  tcase_add_test (tc, test_max_clients_counts_sessions);
  tcase_add_test (tc, test_sessions_per_connection_bounded);
  tcase_add_test (tc, test_session_control_other_connection);
  tcase_add_test (tc, test_metrics_strict);
  tcase_add_test (tc, test_http_address_auth_redaction);
  tcase_add_test (tc, test_log_redaction);
  tcase_add_test (tc, test_isolated_relay_source_returns);
  tcase_add_test (tc, test_shared_relay_source_returns);
  tcase_add_test (tc, test_shared_stalled_tcp_dropped);
  tcase_add_test (tc, test_rtsps);
  tcase_add_test (tc, test_basic_plain_warned);
  tcase_add_test (tc, test_digest_other_uri_refused);
  return s;
}

GST_CHECK_MAIN (server_security);
