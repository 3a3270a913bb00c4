/* gst-fanout
 * Copyright (C) 2026 the gst-fanout authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2.1 of the License, or (at your option) any later version.
 */

/* Codecs a mount serves, with real clients on 127.0.0.1: H.265 passed
 * through (codec=copy, and auto choosing copy) and encoded (codec=h265);
 * a source without video refused with one clear error. */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <gst/check/gstcheck.h>

#include "serverutil.h"

#include <string.h>

/* An H.265 camera-like source: parameter sets with every keyframe. */
#define H265_SOURCE                                                            \
  "h=launch:videotestsrc is-live=true ! "                                      \
  "video/x-raw,width=320,height=240,framerate=30/1 ! x265enc "                 \
  "tune=zerolatency speed-preset=ultrafast key-int-max=30 ! h265parse "        \
  "config-interval=-1"

static void
check_h265_mount (const gchar *const *args, const gchar *path,
                  const gchar *protocols)
{
  TestServer *ts = test_server_start (args);
  gchar *url = test_server_url (ts, path);
  TestClient *c = test_client_new (url, "h265", protocols, TRUE, NULL, NULL);
  gchar *stats;

  fail_unless (test_client_wait_frames (c, 30, 60),
               "%s client of %s decoded %" G_GUINT64_FORMAT " frames (%s)",
               protocols, path, c->decoded, c->error ? c->error : "no error");
  fail_unless_equals_int (c->width, 320);
  fail_unless_equals_int (c->height, 240);
  fail_unless (c->first_is_key, "first H.265 frame was not a keyframe");
  stats = fanout_server_get_stats_json (ts->server);
  fail_unless (strstr (stats, "\"h265\"") != NULL, "codec not h265 in %s",
               stats);
  g_free (stats);
  test_client_free (c);
  g_free (url);
  test_server_stop (ts);
}

GST_START_TEST (test_h265_copy)
{
  static const gchar *args[]
      = { "--source", H265_SOURCE, "--mount", "/live=h,codec=copy", NULL };
  check_h265_mount (args, "/live", "tcp");
}

GST_END_TEST;

/* codec=auto (the default) passes H.265 through as it does H.264. */
GST_START_TEST (test_h265_auto_is_copy)
{
  static const gchar *args[] = { "--source", H265_SOURCE, "--mount", "/live=h",
                                 "--mode",   "shared",    NULL };
  check_h265_mount (args, "/live", "udp");
}

GST_END_TEST;

GST_START_TEST (test_h265_encoded)
{
  static const gchar *args[] = { "--source", "t=test:320x240@30", "--mount",
                                 "/live=t,codec=h265,gop=1,bitrate=500", NULL };
  check_h265_mount (args, "/live", "udp");
}

GST_END_TEST;

/* A mount on an audio-only source: the server refuses it in one line
 * naming the mount, the source and what it carries, instead of serving an
 * SDP no client can play. */
GST_START_TEST (test_source_without_video)
{
  static const gchar *args[]
      = { "--source", "a=launch:audiotestsrc is-live=true", "--mount",
          "/live=a", NULL };
  GError *err = NULL;
  TestServer *ts = test_server_try_start (args, &err);

  fail_unless (ts == NULL, "a mount on an audio-only source started");
  fail_unless (err != NULL);
  fail_unless (strstr (err->message, "mount /live") != NULL, "%s",
               err->message);
  fail_unless (strstr (err->message, "carries no video") != NULL, "%s",
               err->message);
  fail_unless (strstr (err->message, "audio/x-raw") != NULL, "%s",
               err->message);
  g_error_free (err);
}

GST_END_TEST;

static Suite *
server_codecs_suite (void)
{
  Suite *s = suite_create ("server-codecs");
  TCase *tc = tcase_create ("general");

  tcase_set_timeout (tc, 300);
  tcase_add_checked_fixture (tc, test_filter_client_warnings, NULL);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_h265_copy);
  tcase_add_test (tc, test_h265_auto_is_copy);
  tcase_add_test (tc, test_h265_encoded);
  tcase_add_test (tc, test_source_without_video);
  return s;
}

GST_CHECK_MAIN (server_codecs);
