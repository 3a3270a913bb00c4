/* gst-fanout
 * Copyright (C) 2026 the gst-fanout authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2.1 of the License, or (at your option) any later version.
 */

/* Audio beside the video (issue 18 item 1), with real clients on
 * 127.0.0.1: a source's audio is captured once and every mount serves it
 * as pay1 (raw audio encoded to Opus, what RTSP carries as it is passed
 * through), in shared and isolated modes, over UDP and TCP; ffprobe sees
 * both streams and rtspsrc decodes both; a relay passes its upstream's
 * audio through; audio=off serves video only; audio=copy of raw audio is
 * refused at start in one line. Every wait is bounded; nothing here
 * claims a timing. */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <gst/check/gstcheck.h>

#include "serverutil.h"

#include <glib/gstdio.h>
#include <string.h>

#define A(...) ((const gchar *[]){ __VA_ARGS__, NULL })

/* ---------------------------------------------------------------- */

/* An RTSP client that decodes both streams: rtspsrc's video and audio
 * pads each to a decodebin and a counting fakesink. */
typedef struct {
  GstElement *pipeline;
  gint video, audio; /* decoded buffers (atomic) */
} AvClient;

static void
count_cb (GstElement *sink, GstBuffer *buf, GstPad *pad, gpointer data)
{
  (void)sink;
  (void)buf;
  (void)pad;
  g_atomic_int_inc ((gint *)data);
}

static AvClient *
av_client_new (const gchar *url, const gchar *protocols)
{
  AvClient *c = g_new0 (AvClient, 1);
  gchar *desc
      = g_strdup_printf ("rtspsrc name=s location=%s protocols=%s latency=100 "
                         "s. ! application/x-rtp,media=video ! decodebin "
                         "! fakesink name=v sync=false signal-handoffs=true "
                         "s. ! application/x-rtp,media=audio ! decodebin "
                         "! fakesink name=a sync=false signal-handoffs=true",
                         url, protocols);
  GError *err = NULL;
  GstElement *v, *a;

  c->pipeline = gst_parse_launch (desc, &err);
  fail_unless (c->pipeline != NULL, "%s: %s", desc, err ? err->message : "?");
  g_free (desc);
  v = gst_bin_get_by_name (GST_BIN (c->pipeline), "v");
  a = gst_bin_get_by_name (GST_BIN (c->pipeline), "a");
  g_signal_connect (v, "handoff", G_CALLBACK (count_cb), &c->video);
  g_signal_connect (a, "handoff", G_CALLBACK (count_cb), &c->audio);
  gst_object_unref (v);
  gst_object_unref (a);
  gst_element_set_state (c->pipeline, GST_STATE_PLAYING);
  return c;
}

/* Waits (at most @timeout_s) for @nv video frames and @na audio buffers
 * decoded; an error on the client's bus fails at once. */
static gboolean
av_client_wait (AvClient *c, gint nv, gint na, guint timeout_s)
{
  gint64 end = g_get_monotonic_time () + timeout_s * G_TIME_SPAN_SECOND;
  GstBus *bus = gst_element_get_bus (c->pipeline);
  gboolean ok = FALSE;

  while (g_get_monotonic_time () < end) {
    GstMessage *m;
    if (g_atomic_int_get (&c->video) >= nv
        && g_atomic_int_get (&c->audio) >= na) {
      ok = TRUE;
      break;
    }
    m = gst_bus_timed_pop_filtered (bus, 50 * GST_MSECOND, GST_MESSAGE_ERROR);
    if (m) {
      GError *err = NULL;
      gst_message_parse_error (m, &err, NULL);
      GST_WARNING ("client error: %s", err ? err->message : "?");
      g_clear_error (&err);
      gst_message_unref (m);
      break;
    }
  }
  gst_object_unref (bus);
  return ok;
}

static void
av_client_free (AvClient *c)
{
  gst_element_set_state (c->pipeline, GST_STATE_NULL);
  gst_object_unref (c->pipeline);
  g_free (c);
}

/* ffprobe's streams of @url (codec_type and codec_name lines), or NULL. */
static gchar *
ffprobe_streams (const gchar *url)
{
  gchar *argv[] = { (gchar *)"timeout",
                    (gchar *)"60",
                    (gchar *)"ffprobe",
                    (gchar *)"-v",
                    (gchar *)"error",
                    (gchar *)"-rtsp_transport",
                    (gchar *)"tcp",
                    (gchar *)"-show_entries",
                    (gchar *)"stream=codec_type,codec_name,sample_rate",
                    (gchar *)"-of",
                    (gchar *)"default=noprint_wrappers=1",
                    (gchar *)url,
                    NULL };
  gchar *out = NULL, *err = NULL;
  gint status = -1;

  fail_unless (g_spawn_sync (NULL, argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL,
                             &out, &err, &status, NULL));
  fail_unless (g_spawn_check_wait_status (status, NULL), "ffprobe %s: %s", url,
               err);
  g_free (err);
  return out;
}

static guint
count_of (const gchar *hay, const gchar *needle)
{
  guint n = 0;
  for (const gchar *p = strstr (hay, needle); p; p = strstr (p + 1, needle))
    n++;
  return n;
}

/* ---------------------------------------------------------------- */

/* A test source with a tone: both streams in every mode and transport. */
GST_START_TEST (test_tone_both_streams)
{
  TestServer *ts = test_server_start (
      A ("--source", "cam=test:320x240@15+tone", "--mount",
         "/iso=cam,mode=isolated", "--mount", "/shared=cam,mode=shared",
         "--mount", "/mute=cam,audio=off", "--mount",
         "/low=cam,audio-bitrate=16,mode=isolated"));
  const gchar *paths[] = { "/iso", "/shared", "/low" };
  gchar *url, *out;

  for (guint i = 0; i < G_N_ELEMENTS (paths); i++) {
    url = test_server_url (ts, paths[i]);
    out = ffprobe_streams (url);
    fail_unless (strstr (out, "codec_type=video") != NULL
                     && strstr (out, "codec_name=h264") != NULL,
                 "%s: %s", paths[i], out);
    fail_unless (strstr (out, "codec_type=audio") != NULL
                     && strstr (out, "codec_name=opus") != NULL
                     && strstr (out, "sample_rate=48000") != NULL,
                 "%s: %s", paths[i], out);
    g_free (out);
    for (guint t = 0; t < 2; t++) {
      const gchar *proto = t ? "tcp" : "udp";
      AvClient *c = av_client_new (url, proto);
      /* 1.3 s of both at 15 fps and 50 Opus frames a second */
      fail_unless (av_client_wait (c, 20, 65, 30),
                   "%s over %s: %d video frames, %d audio buffers decoded",
                   paths[i], proto, g_atomic_int_get (&c->video),
                   g_atomic_int_get (&c->audio));
      av_client_free (c);
    }
    g_free (url);
  }

  /* /stats says what each mount carries. */
  out = fanout_server_get_stats_json (ts->server);
  fail_unless (strstr (out, "\"audio\":\"opus (encoded from audio/x-raw)\"")
                       != NULL
                   || strstr (out, "\"audio\" : \"opus (encoded from "
                                   "audio/x-raw)\"")
                          != NULL,
               "%s", out);
  fail_unless (strstr (out, "\"audio\":null") != NULL
                   || strstr (out, "\"audio\" : null") != NULL,
               "%s", out);
  g_free (out);

  /* audio=off: the video alone. */
  url = test_server_url (ts, "/mute");
  out = ffprobe_streams (url);
  fail_unless (count_of (out, "codec_type=") == 1
                   && strstr (out, "codec_type=video") != NULL,
               "/mute: %s", out);
  g_free (out);
  g_free (url);
  test_server_stop (ts);
}
GST_END_TEST;

/* A relay passes its upstream's audio through: an origin whose launch:
 * source carries G.711 A-law (an element named audio), an edge with
 * codec=copy; the edge's clients get H.264 and PCMA, both decoded. */
GST_START_TEST (test_relay_passes_audio)
{
  TestServer *origin = test_server_start (
      A ("--source",
         "o=launch:audiotestsrc is-live=true samplesperbuffer=160 "
         "! audio/x-raw,rate=8000,channels=1 ! alawenc name=audio "
         "videotestsrc is-live=true "
         "! video/x-raw,width=320,height=240,framerate=15/1",
         "--mount", "/av=o,gop=1"));
  gchar *up = test_server_url (origin, "/av");
  gchar *spec = g_strdup_printf ("up=%s", up);
  TestServer *edge = test_server_start (
      A ("--source", spec, "--mount", "/live=up,codec=copy", "--mount",
         "/opus=up,codec=copy,audio=opus,mode=shared"));
  gchar *url = test_server_url (edge, "/live");
  gchar *out = ffprobe_streams (url);
  AvClient *c;

  fail_unless (strstr (out, "codec_name=h264") != NULL
                   && strstr (out, "codec_name=pcm_alaw") != NULL
                   && strstr (out, "sample_rate=8000") != NULL,
               "%s", out);
  g_free (out);
  for (guint t = 0; t < 2; t++) {
    const gchar *proto = t ? "tcp" : "udp";
    c = av_client_new (url, proto);
    /* G.711 at 20 ms a packet: 50 a second */
    fail_unless (av_client_wait (c, 20, 65, 30),
                 "edge over %s: %d video frames, %d audio buffers decoded",
                 proto, g_atomic_int_get (&c->video),
                 g_atomic_int_get (&c->audio));
    av_client_free (c);
  }
  g_free (url);

  /* audio=opus: the relay's PCMA encoded once to Opus for its clients. */
  url = test_server_url (edge, "/opus");
  out = ffprobe_streams (url);
  fail_unless (strstr (out, "codec_name=opus") != NULL
                   && strstr (out, "codec_name=h264") != NULL,
               "%s", out);
  g_free (out);
  g_free (url);

  test_server_stop (edge);
  test_server_stop (origin);
  g_free (spec);
  g_free (up);
}
GST_END_TEST;

/* A file with H.264 and AAC: its audio is served (decoded once, encoded to
 * Opus) beside its video, across its loops. */
GST_START_TEST (test_file_with_audio_loops)
{
  GError *err = NULL;
  gchar *dir = g_dir_make_tmp ("fanout-audio-XXXXXX", &err);
  gchar *path, *desc, *spec, *url, *out;
  GstElement *p;
  GstBus *bus;
  GstMessage *m;
  TestServer *ts;
  AvClient *c;

  fail_unless (dir != NULL, "tmp dir: %s", err ? err->message : "?");
  path = g_build_filename (dir, "av.mp4", NULL);
  /* 2 s of each */
  desc = g_strdup_printf (
      "videotestsrc num-buffers=30 ! video/x-raw,width=320,height=240,"
      "framerate=15/1 ! x264enc speed-preset=ultrafast key-int-max=15 "
      "! mp4mux name=m ! filesink location=\"%s\" "
      "audiotestsrc num-buffers=100 samplesperbuffer=960 "
      "! audio/x-raw,rate=48000 ! voaacenc ! m.",
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

  spec = g_strdup_printf ("f=file://%s", path);
  ts = test_server_start (A ("--source", spec, "--mount", "/live=f"));
  url = test_server_url (ts, "/live");
  out = ffprobe_streams (url);
  fail_unless (strstr (out, "codec_name=h264") != NULL
                   && strstr (out, "codec_name=opus") != NULL,
               "%s", out);
  g_free (out);
  c = av_client_new (url, "tcp");
  /* past at least one loop of the 2 s file: 4 s of each */
  fail_unless (av_client_wait (c, 60, 200, 60),
               "file: %d video frames, %d audio buffers decoded",
               g_atomic_int_get (&c->video), g_atomic_int_get (&c->audio));
  av_client_free (c);
  test_server_stop (ts);
  g_free (url);
  g_free (spec);
  g_unlink (path);
  g_rmdir (dir);
  g_free (path);
  g_free (dir);
}
GST_END_TEST;

/* What cannot be served is said at start, in one line. */
GST_START_TEST (test_audio_refused_clearly)
{
  GError *err = NULL;
  TestServer *ts
      = test_server_try_start (A ("--source", "cam=test:320x240@15+tone",
                                  "--mount", "/live=cam,audio=copy"),
                               &err);

  fail_unless (ts == NULL);
  fail_unless (err != NULL);
  fail_unless (strstr (err->message, "audio=copy") != NULL
                   && strstr (err->message, "audio=auto") != NULL,
               "%s", err->message);
  g_clear_error (&err);

  ts = test_server_try_start (
      A ("--source", "cam=test:320x240@15+trumpet", "--mount", "/live=cam"),
      &err);
  fail_unless (ts == NULL);
  fail_unless (err != NULL && strstr (err->message, "SPEC+tone") != NULL, "%s",
               err ? err->message : "no error");
  g_clear_error (&err);

  ts = test_server_try_start (
      A ("--source", "cam=test", "--mount", "/live=cam,audio=loud"), &err);
  fail_unless (ts == NULL);
  fail_unless (err != NULL && strstr (err->message, "auto, copy, opus or off"),
               "%s", err ? err->message : "no error");
  g_clear_error (&err);
}
GST_END_TEST;

static Suite *
server_audio_suite (void)
{
  Suite *s = suite_create ("server_audio");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_set_timeout (tc, 300);
  tcase_add_test (tc, test_audio_refused_clearly);
  tcase_add_test (tc, test_tone_both_streams);
  tcase_add_test (tc, test_relay_passes_audio);
  tcase_add_test (tc, test_file_with_audio_loops);
  return s;
}

GST_CHECK_MAIN (server_audio);
