/* gst-fanout
 * Copyright (C) 2026 the gst-fanout authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2.1 of the License, or (at your option) any later version.
 */

/* SIGHUP re-reads --config and applies removed mounts (test_sighup_reload).
 *
 * A source that is not available at start (a camera not plugged in, a
 * relayed server not up yet, a launch pipeline that fails) is a runtime
 * condition: the server starts, serves its other mounts, answers 503 on the
 * source's mounts and retries with its backoff; a relay whose origin comes
 * up later serves without a restart. What no retry fixes stays exit 2. */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <gst/check/gstcheck.h>

#include "serverutil.h"

#include <glib/gstdio.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#define A(...) ((const gchar *[]){ __VA_ARGS__, NULL })

/* The status code of a DESCRIBE of @path on @port. */
static gint
describe_status (guint port, const gchar *path)
{
  RawRtsp *r = raw_rtsp_connect (port);
  gchar *url = g_strdup_printf ("rtsp://127.0.0.1:%u%s", port, path);
  gint code = raw_rtsp_request (r, "DESCRIBE", url,
                                "Accept: application/sdp\r\n", NULL);
  g_free (url);
  raw_rtsp_free (r);
  return code;
}

/* A closed port on 127.0.0.1 (free when this returns). */
static guint
closed_port (void)
{
  GSocket *holder = NULL;
  guint port = find_port (&holder);
  g_object_unref (holder);
  return port;
}

static guint
count_lines_with (const gchar *text, const gchar *needle)
{
  guint n = 0;
  const gchar *p = text;
  while ((p = strstr (p, needle))) {
    n++;
    p += strlen (needle);
  }
  return n;
}

typedef struct {
  GCancellable *cancel;
  gint stop; /* g_atomic_int */
  gint64 deadline;
} Watchdog;

static gpointer
watchdog_thread (gpointer data)
{
  Watchdog *w = data;
  while (!g_atomic_int_get (&w->stop) && g_get_monotonic_time () < w->deadline)
    g_usleep (50 * 1000);
  if (!g_atomic_int_get (&w->stop))
    g_cancellable_cancel (w->cancel);
  return NULL;
}

/* Reads the spawned server's output lines into @seen until one contains
 * @needle (TRUE), or the output ends or 60 s pass (FALSE). */
static gboolean
read_until (GDataInputStream *out, GString *seen, const gchar *needle)
{
  Watchdog w = { g_cancellable_new (), 0,
                 g_get_monotonic_time () + 60 * G_USEC_PER_SEC };
  GThread *t = g_thread_new ("watchdog", watchdog_thread, &w);
  gboolean hit = FALSE;
  gchar *line;

  while (
      !hit
      && (line = g_data_input_stream_read_line (out, NULL, w.cancel, NULL))) {
    hit = strstr (line, needle) != NULL;
    g_string_append_printf (seen, "%s\n", line);
    g_free (line);
  }
  g_atomic_int_set (&w.stop, 1);
  g_thread_join (t);
  g_object_unref (w.cancel);
  return hit;
}

/* The binary with a camera that is not plugged in: one log line naming the
 * camera, /live plays, /cam answers 503 while the server keeps retrying
 * (several attempts pass, the line is not repeated), SIGTERM exits 0. */
GST_START_TEST (test_missing_camera_binary)
{
  GError *err = NULL;
  GSubprocess *proc = g_subprocess_new (
      G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_MERGE, &err,
      server_binary (), "--port", "0", "--address", "127.0.0.1", "--source",
      "cam=v4l2:/dev/video99", "--mount", "/cam=cam", "--source",
      "t=test:320x240@15", "--mount", "/live=t", NULL);
  GDataInputStream *out;
  GString *seen = g_string_new (NULL);
  gchar *line, *url = NULL;
  guint port = 0;
  TestClient *c;

  fail_unless (proc != NULL, "spawn: %s", err ? err->message : "?");
  out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (proc));
  if (read_until (out, seen, "ffplay")) {
    const gchar *p = strstr (seen->str, "Serving ");
    if (p)
      url = g_strndup (p + 8, strcspn (p + 8, "\n"));
  }
  fail_unless (url != NULL, "the server did not serve; its output:\n%s",
               seen->str);
  fail_unless (sscanf (url, "rtsp://127.0.0.1:%u/", &port) == 1, "url %s", url);
  fail_unless (strstr (seen->str, "camera /dev/video99 for source cam does "
                                  "not exist")
                   && strstr (seen->str, "retrying in 0.5 s"),
               "no log line for the camera:\n%s", seen->str);

  fail_unless_equals_int (describe_status (port, "/cam"), 503);
  g_free (url);
  url = g_strdup_printf ("rtsp://127.0.0.1:%u/live", port);
  c = test_client_new (url, "h264", "tcp", FALSE, NULL, NULL);
  fail_unless (test_client_wait_frames (c, 10, 60), "client: %s",
               c->error ? c->error : "no frames");
  /* retries at 0.5, 1.5 and 3.5 s: still unavailable, still one line */
  g_usleep (4 * G_USEC_PER_SEC);
  fail_unless_equals_int (describe_status (port, "/cam"), 503);
  test_client_free (c);

  g_subprocess_send_signal (proc, SIGTERM);
  fail_unless (g_subprocess_wait (proc, NULL, NULL));
  fail_unless (g_subprocess_get_if_exited (proc));
  fail_unless_equals_int (g_subprocess_get_exit_status (proc), 0);
  while ((line = g_data_input_stream_read_line (out, NULL, NULL, NULL))) {
    g_string_append_printf (seen, "%s\n", line);
    g_free (line);
  }
  fail_unless_equals_int (count_lines_with (seen->str, "does not exist"), 1);
  g_free (url);
  g_string_free (seen, TRUE);
  g_object_unref (out);
  g_object_unref (proc);
}

GST_END_TEST;

/* A relay whose origin is not up at start: the server starts, /relay
 * answers 503 and /live plays; once an origin server listens on that port,
 * /relay serves the origin's stream (after the backoff), no restart. */
GST_START_TEST (test_relay_origin_comes_up)
{
  guint port = closed_port ();
  gchar *spec = g_strdup_printf ("up=rtsp://127.0.0.1:%u/x", port);
  gchar *origin_port = g_strdup_printf ("%u", port);
  TestServer *relay, *origin;
  guint relay_port;
  gchar *url;
  TestClient *c;
  gint code = 0;
  gint64 deadline;

  relay = test_server_start (A ("--source", spec, "--mount",
                                "/relay=up,codec=copy", "--source",
                                "t=test:320x240@15", "--mount", "/live=t"));
  relay_port = fanout_server_get_port (relay->server);
  fail_unless_equals_int (describe_status (relay_port, "/relay"), 503);
  url = test_server_url (relay, "/live");
  c = test_client_new (url, "h264", "tcp", FALSE, NULL, NULL);
  fail_unless (test_client_wait_frames (c, 5, 60), "client: %s",
               c->error ? c->error : "no frames");
  test_client_free (c);
  g_free (url);
  fail_unless_equals_int (describe_status (relay_port, "/relay"), 503);

  origin = test_server_start (A ("--port", origin_port, "--source",
                                 "o=test:320x240@15", "--mount", "/x=o"));
  /* backoff: 0.5 s doubling to 10 s; bounded well above that */
  deadline = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;
  while (g_get_monotonic_time () < deadline
         && (code = describe_status (relay_port, "/relay")) == 503)
    g_usleep (200 * 1000);
  fail_unless_equals_int (code, 200);
  url = test_server_url (relay, "/relay");
  c = test_client_new (url, "h264", "tcp", FALSE, NULL, NULL);
  fail_unless (test_client_wait_frames (c, 10, 60), "relay client: %s",
               c->error ? c->error : "no frames");
  test_client_free (c);
  g_free (url);

  test_server_stop (relay);
  test_server_stop (origin);
  g_free (origin_port);
  g_free (spec);
}

GST_END_TEST;

/* A launch pipeline that fails at start (its device is absent) does not
 * stop the server either: its mount answers DESCRIBE with 503, the other
 * serves. A SETUP without DESCRIBE is refused too, with 400: gst-rtsp-server
 * 1.22 builds the media before our pre-setup check runs. */
GST_START_TEST (test_launch_source_fails)
{
  TestServer *ts = test_server_start (
      A ("--source", "bad=launch:v4l2src device=/dev/video98", "--mount",
         "/bad=bad", "--source", "t=test:320x240@15", "--mount", "/live=t"));
  guint port = fanout_server_get_port (ts->server);
  RawRtsp *r;
  gchar *url;

  fail_unless_equals_int (describe_status (port, "/bad"), 503);
  r = raw_rtsp_connect (port);
  url = g_strdup_printf ("rtsp://127.0.0.1:%u/bad/stream=0", port);
  fail_unless_equals_int (
      raw_rtsp_request (r, "SETUP", url,
                        "Transport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n",
                        NULL),
      400);
  g_free (url);
  raw_rtsp_free (r);
  fail_unless_equals_int (describe_status (port, "/live"), 200);
  test_server_stop (ts);
}

GST_END_TEST;

/* The status code of an HTTP request (@method @path, @body as
 * application/sdp when not NULL) to 127.0.0.1:@port. */
static guint
http_status (guint port, const gchar *method, const gchar *path,
             const gchar *body)
{
  GSocketClient *client = g_socket_client_new ();
  GSocketConnection *conn
      = g_socket_client_connect_to_host (client, "127.0.0.1", port, NULL, NULL);
  gchar *req, buf[256];
  gssize n;
  guint code = 0;

  fail_unless (conn != NULL);
  req = g_strdup_printf ("%s %s HTTP/1.0\r\nHost: 127.0.0.1\r\n%s"
                         "Content-Length: %u\r\n\r\n%s",
                         method, path,
                         body ? "Content-Type: application/sdp\r\n" : "",
                         body ? (guint)strlen (body) : 0u, body ? body : "");
  fail_unless (g_output_stream_write_all (
      g_io_stream_get_output_stream (G_IO_STREAM (conn)), req, strlen (req),
      NULL, NULL, NULL));
  n = g_input_stream_read (g_io_stream_get_input_stream (G_IO_STREAM (conn)),
                           buf, sizeof buf - 1, NULL, NULL);
  if (n > 0) {
    buf[n] = '\0';
    sscanf (buf, "HTTP/1.%*d %u", &code);
  }
  g_free (req);
  g_object_unref (conn);
  g_object_unref (client);
  return code;
}

/* The HTTP outputs of a mount whose source is not up: 503 too (WHEP offer,
 * MPEG-TS), while the other mount's MPEG-TS output answers. */
GST_START_TEST (test_http_outputs_wait)
{
  TestServer *ts = test_server_start (
      A ("--http-port", "0", "--source", "cam=v4l2:/dev/video97", "--mount",
         "/cam=cam", "--source", "t=test:320x240@15", "--mount", "/live=t"));
  guint hp = fanout_server_get_http_port (ts->server);

  fail_unless (hp != 0);
  fail_unless_equals_int (http_status (hp, "GET", "/cam.ts", NULL), 503);
  fail_unless_equals_int (http_status (hp, "POST", "/cam/whep", "v=0\r\n"),
                          503);
  fail_unless_equals_int (http_status (hp, "GET", "/live.ts", NULL), 200);
  test_server_stop (ts);
}

GST_END_TEST;

/* What a restart cannot fix still fails the start: an element that does
 * not exist in a launch source, a device that is no camera. */
GST_START_TEST (test_unfixable_still_fails)
{
  GError *err = NULL;
  TestServer *ts = test_server_try_start (
      A ("--source", "x=launch:nosuchelementzz", "--source", "t=test"), &err);

  fail_unless (ts == NULL);
  fail_unless (err != NULL && strstr (err->message, "not valid"), "%s",
               err ? err->message : "no error");
  g_clear_error (&err);
  ts = test_server_try_start (A ("--source", "cam=v4l2:/dev/null"), &err);
  fail_unless (ts == NULL);
  fail_unless (err != NULL && strstr (err->message, "cannot open camera"), "%s",
               err ? err->message : "no error");
  g_clear_error (&err);
}

GST_END_TEST;

static const gchar *const kConfAB
    = "[source t]\nspec=test:320x240@15\n"
      "[mount /a]\nsource=t\n[mount /b]\nsource=t\n";

/* SIGHUP re-reads --config: a mount dropped from it is unmounted (404)
 * while a client of another mount keeps playing; an added one is named as
 * not applied live; naming the dropped one again mounts it again; a config
 * that does not parse keeps the running one. The server keeps running. */
GST_START_TEST (test_sighup_reload)
{
  gchar *dir = g_dir_make_tmp ("fanout-reload-XXXXXX", NULL);
  gchar *conf = g_build_filename (dir, "server.conf", NULL);
  GError *err = NULL;
  GSubprocess *proc;
  GDataInputStream *out;
  GString *seen = g_string_new (NULL);
  gchar *url;
  guint port = 0;
  TestClient *c;
  guint64 n;
  const gchar *p;

  fail_unless (dir != NULL);
  fail_unless (g_file_set_contents (conf, kConfAB, -1, NULL));
  proc = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE
                               | G_SUBPROCESS_FLAGS_STDERR_MERGE,
                           &err, server_binary (), "--config", conf, "--port",
                           "0", "--address", "127.0.0.1", NULL);
  fail_unless (proc != NULL, "spawn: %s", err ? err->message : "?");
  out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (proc));
  fail_unless (read_until (out, seen, "ffplay"), "no serving:\n%s", seen->str);
  p = strstr (seen->str, "Serving rtsp://127.0.0.1:");
  fail_unless (p && sscanf (p, "Serving rtsp://127.0.0.1:%u/", &port) == 1,
               "%s", seen->str);
  fail_unless_equals_int (describe_status (port, "/b"), 200);
  url = g_strdup_printf ("rtsp://127.0.0.1:%u/a", port);
  c = test_client_new (url, "h264", "tcp", FALSE, NULL, NULL);
  fail_unless (test_client_wait_frames (c, 10, 60), "client: %s",
               c->error ? c->error : "no frames");

  /* /b dropped, /c added */
  fail_unless (
      g_file_set_contents (conf,
                           "[source t]\nspec=test:320x240@15\n"
                           "[mount /a]\nsource=t\n[mount /c]\nsource=t\n",
                           -1, NULL));
  g_subprocess_send_signal (proc, SIGHUP);
  fail_unless (read_until (out, seen, "reload:"), "no reload line:\n%s",
               seen->str);
  fail_unless (strstr (seen->str, "reload: unmounted /b; not applied live, "
                                  "restart to apply: added /c"),
               "%s", seen->str);
  fail_unless_equals_int (describe_status (port, "/b"), 404);
  fail_unless_equals_int (describe_status (port, "/c"), 404);
  fail_unless_equals_int (describe_status (port, "/a"), 200);
  /* the client of /a was not dropped: it keeps receiving frames */
  g_mutex_lock (&c->lock);
  n = c->depay_buffers;
  g_mutex_unlock (&c->lock);
  fail_unless (test_client_wait_frames (c, n + 10, 60), "client: %s",
               c->error ? c->error : "stopped after the reload");

  /* a config that does not parse: one line, nothing changes */
  fail_unless (
      g_file_set_contents (conf, "[mount /a]\nsource=t\ncodec=zz\n", -1, NULL));
  g_subprocess_send_signal (proc, SIGHUP);
  fail_unless (read_until (out, seen, "keeping the running configuration"),
               "%s", seen->str);
  fail_unless_equals_int (describe_status (port, "/a"), 200);

  /* /b named again: mounted again */
  fail_unless (g_file_set_contents (conf, kConfAB, -1, NULL));
  g_subprocess_send_signal (proc, SIGHUP);
  fail_unless (read_until (out, seen, "reload: mounted again /b"), "%s",
               seen->str);
  fail_unless_equals_int (describe_status (port, "/b"), 200);
  test_client_free (c);

  g_subprocess_send_signal (proc, SIGTERM);
  fail_unless (g_subprocess_wait (proc, NULL, NULL));
  fail_unless (g_subprocess_get_if_exited (proc));
  fail_unless_equals_int (g_subprocess_get_exit_status (proc), 0);
  g_unlink (conf);
  g_rmdir (dir);
  g_free (url);
  g_free (conf);
  g_free (dir);
  g_string_free (seen, TRUE);
  g_object_unref (out);
  g_object_unref (proc);
}

GST_END_TEST;

/* A device path that appears while the server runs is probed at the next
 * retry: here it is no camera (a plain file), which is logged once as the
 * new reason, and the server keeps running and retrying. */
GST_START_TEST (test_device_appears)
{
  gchar *dir = g_dir_make_tmp ("fanout-dev-XXXXXX", NULL);
  gchar *dev = g_build_filename (dir, "video0", NULL);
  gchar *spec = g_strdup_printf ("cam=v4l2:%s", dev);
  gchar *there = g_strdup_printf ("%s is there now", dev);
  gchar *cannot = g_strdup_printf ("cannot open camera %s", dev);
  GError *err = NULL;
  GSubprocess *proc;
  GDataInputStream *out;
  GString *seen = g_string_new (NULL);

  fail_unless (dir != NULL);
  proc = g_subprocess_new (
      G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_MERGE, &err,
      server_binary (), "--port", "0", "--address", "127.0.0.1", "--source",
      spec, "--mount", "/cam=cam", NULL);
  fail_unless (proc != NULL, "spawn: %s", err ? err->message : "?");
  out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (proc));
  fail_unless (read_until (out, seen, "ffplay"), "no serving:\n%s", seen->str);
  fail_unless (strstr (seen->str, "does not exist"), "%s", seen->str);
  fail_unless (g_file_set_contents (dev, "", 0, NULL));
  fail_unless (read_until (out, seen, cannot), "%s", seen->str);
  /* probed, but it did not open: not "there" yet */
  fail_unless (strstr (seen->str, there) == NULL, "%s", seen->str);
  fail_unless (strstr (seen->str, "retrying in"), "%s", seen->str);

  g_subprocess_send_signal (proc, SIGTERM);
  fail_unless (g_subprocess_wait (proc, NULL, NULL));
  fail_unless (g_subprocess_get_if_exited (proc));
  fail_unless_equals_int (g_subprocess_get_exit_status (proc), 0);
  g_unlink (dev);
  g_rmdir (dir);
  g_free (cannot);
  g_free (there);
  g_free (spec);
  g_free (dev);
  g_free (dir);
  g_string_free (seen, TRUE);
  g_object_unref (out);
  g_object_unref (proc);
}

GST_END_TEST;

static Suite *
server_sources_suite (void)
{
  Suite *s = suite_create ("server-sources");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_add_checked_fixture (tc, test_filter_client_warnings, NULL);
  tcase_add_test (tc, test_missing_camera_binary);
  tcase_add_test (tc, test_relay_origin_comes_up);
  tcase_add_test (tc, test_launch_source_fails);
  tcase_add_test (tc, test_unfixable_still_fails);
  tcase_add_test (tc, test_http_outputs_wait);
  tcase_add_test (tc, test_sighup_reload);
  tcase_add_test (tc, test_device_appears);
  return s;
}

GST_CHECK_MAIN (server_sources);
