/* gst-fanout
 * Copyright (C) 2026 the gst-fanout authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2.1 of the License, or (at your option) any later version.
 */

/* Helpers for the server tests: an in-process server on service "0" running
 * on its own main context thread, real rtspsrc clients, and a raw RTSP
 * client for status codes and stalled connections. */

#pragma once

#include <gst/gst.h>
#include <gio/gio.h>

#include "fanoutserver.h"

G_BEGIN_DECLS

typedef struct {
  FanoutServer *server;
  GMainContext *context;
  GMainLoop *loop;
  GThread *thread;
} TestServer;

/* Starts a server with @args (NULL-terminated, "--port 0 --quiet" added);
 * fails the test when it does not start. */
TestServer *test_server_start (const gchar *const *args);
/* Same, but returns NULL and sets @error instead of failing. */
TestServer *test_server_try_start (const gchar *const *args, GError **error);
void test_server_stop (TestServer *ts);
gchar *test_server_url (TestServer *ts, const gchar *path);

/* A client pipeline: rtspsrc ! depayloader ! [decoder ! fakesink]. */
typedef struct {
  GstElement *pipeline;
  GMutex lock;
  /* RTP level (depayloader sink): frames = packets with the marker bit. */
  guint64 rtp_frames;
  gboolean have_ts;
  guint32 first_ts, last_ts;
  guint64 ts_wraps;
  /* depayloader output */
  guint64 depay_buffers;
  gboolean first_is_key;
  gboolean got_first;
  gboolean got_key;
  guint64 deltas_before_key; /* delta frames received before the first key */
  gint64 first_key_us;
  gint64 play_us;        /* pipeline set to PLAYING */
  gint64 first_frame_us; /* first decoded frame */
  guint64 decoded;
  gint width, height;
  gchar *error; /* first error message, if any */
  gboolean eos;
  gboolean counting; /* count RTP frames only while TRUE */
} TestClient;

/* rtspsrc latency (ms) of the clients created next (default 300). A longer
 * one keeps a starved client's jitterbuffer from dropping late packets on a
 * loaded machine, where frame counts matter more than timing. */
extern guint test_client_latency_ms;

/* @codec: "h264", "h265" or "mjpeg"; @protocols: "tcp", "udp", "udp-mcast";
 * @decode: decode to raw video (caps and first-frame checks). */
TestClient *test_client_new (const gchar *url, const gchar *codec,
                             const gchar *protocols, gboolean decode,
                             const gchar *user, const gchar *password);
void test_client_free (TestClient *c);
/* Waits until @n frames are decoded (or depayloaded when not decoding), an
 * error happens or @timeout_s passes. Returns TRUE when reached. */
gboolean test_client_wait_frames (TestClient *c, guint64 n, guint timeout_s);
/* Frames received / frames expected from the RTP timestamp span (30 fps). */
gdouble test_client_rtp_ratio (TestClient *c, guint64 *received,
                               guint64 *expected);
void test_client_reset_rtp (TestClient *c);

/* A client whose RTP SSRC is watched too (a change means another RTP
 * stream: the server switched media under it). */
typedef struct {
  TestClient *c;
  const gchar *protocols;
  GMutex lock;
  gboolean have_ssrc;
  guint32 ssrc;
  guint ssrc_changes;
} TestViewer;

/* An H.264 client over @protocols, not decoding. */
TestViewer *test_viewer_new (const gchar *url, const gchar *protocols);
void test_viewer_free (TestViewer *v);

/* This process's resident set (an in-process server runs in it), KiB. */
guint64 test_rss_kib (void);

/* Raw RTSP over a TCP socket. */
typedef struct {
  GSocketConnection *conn;
  GInputStream *in;
  GOutputStream *out;
  gint cseq;
  gchar *session;
} RawRtsp;

RawRtsp *raw_rtsp_connect (guint port);
/* Sends a request and reads the response; returns the status code (0 on
 * failure); @headers: extra header lines, each ending in \r\n. */
gint raw_rtsp_request (RawRtsp *r, const gchar *method, const gchar *url,
                       const gchar *headers, gchar **response);
/* DESCRIBE, SETUP (TCP interleaved, channels 0-1) and PLAY of @url's
 * stream 0: the first status code that is not 200, else PLAY's, whose whole
 * response goes to @play_response when not NULL. */
gint raw_rtsp_play_tcp (RawRtsp *r, const gchar *url, gchar **play_response);
void raw_rtsp_free (RawRtsp *r);

/* The built fanout-rtsp-server binary (env FANOUT_RTSP_SERVER). */
const gchar *server_binary (void);
/* Runs the binary to completion; returns its exit status; @err_out: stderr. */
gint run_server_binary (const gchar *const *args,
                        const gchar *const *envp_extra, gchar **err_out,
                        guint timeout_s);

/* A free TCP port on 127.0.0.1, kept bound (busy) in @holder if non-NULL. */
guint find_port (GSocket **holder);

/* Checked fixture: filters the warning rtspsrc 1.22 prints over TCP about
 * its own funnel's sticky event order (a client-side bug, not the
 * server's). */
void test_filter_client_warnings (void);

G_END_DECLS
