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
#include <gst/rtp/gstrtpbuffer.h>

#include "serverutil.h"

#include <stdio.h>
#include <string.h>

#define SOURCE "cam=test:320x240@30"
#define MOUNT "/live=cam,codec=h264,gop=2,bitrate=600"

/* ---------------------------------------------------------------- */
/* A good client: an rtspsrc TestClient whose SSRC is watched too.   */

typedef struct {
  TestClient *c;
  const gchar *protocols;
  GMutex lock;
  gboolean have_ssrc;
  guint32 ssrc;
  guint ssrc_changes;
} Viewer;

static GstPadProbeReturn
ssrc_probe (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  Viewer *v = data;
  GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info);
  GstRTPBuffer rtp = GST_RTP_BUFFER_INIT;

  if (!buf || !gst_rtp_buffer_map (buf, GST_MAP_READ, &rtp))
    return GST_PAD_PROBE_OK;
  g_mutex_lock (&v->lock);
  if (v->have_ssrc && gst_rtp_buffer_get_ssrc (&rtp) != v->ssrc)
    v->ssrc_changes++;
  v->ssrc = gst_rtp_buffer_get_ssrc (&rtp);
  v->have_ssrc = TRUE;
  g_mutex_unlock (&v->lock);
  gst_rtp_buffer_unmap (&rtp);
  return GST_PAD_PROBE_OK;
}

static Viewer *
viewer_new (const gchar *url, const gchar *protocols)
{
  Viewer *v = g_new0 (Viewer, 1);
  GstElement *depay;
  GstPad *pad;

  g_mutex_init (&v->lock);
  v->protocols = protocols;
  v->c = test_client_new (url, "h264", protocols, FALSE, NULL, NULL);
  depay = gst_bin_get_by_name (GST_BIN (v->c->pipeline), "depay");
  pad = gst_element_get_static_pad (depay, "sink");
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, ssrc_probe, v, NULL);
  gst_object_unref (pad);
  gst_object_unref (depay);
  return v;
}

static void
viewer_free (Viewer *v)
{
  test_client_free (v->c);
  g_mutex_clear (&v->lock);
  g_free (v);
}

/* Starts @n viewers (alternately TCP and UDP, or @protocols) and waits for
 * their first frames; their frame counts start from here. */
static Viewer **
viewers_start (const gchar *url, guint n, const gchar *const *protocols)
{
  Viewer **v = g_new0 (Viewer *, n + 1);
  guint i;

  test_client_latency_ms = 2000;
  for (i = 0; i < n; i++)
    v[i] = viewer_new (url, protocols[i % g_strv_length ((gchar **)protocols)]);
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
viewers_check (Viewer **v, gdouble secs, const gchar *what)
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
viewers_free (Viewer **v)
{
  guint i;

  for (i = 0; v[i]; i++)
    viewer_free (v[i]);
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
  Viewer **v = viewers_start (url, 2, protos);
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

/* This process's resident set (the server runs in it), KiB. */
static guint64
rss_kib (void)
{
  gchar *status = NULL;
  guint64 kib = 0;
  const gchar *p;

  fail_unless (g_file_get_contents ("/proc/self/status", &status, NULL, NULL));
  p = strstr (status, "VmRSS:");
  fail_unless (p != NULL);
  kib = g_ascii_strtoull (p + 6, NULL, 10);
  g_free (status);
  return kib;
}

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
  Viewer **v = viewers_start (url, 1, protos);
  gint64 t0 = g_get_monotonic_time ();
  guint64 rss0 = rss_kib (), rss1;
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
  rss1 = rss_kib ();
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
  Viewer **v = viewers_start (url, 2, protos);
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
  return s;
}

GST_CHECK_MAIN (server_security);
