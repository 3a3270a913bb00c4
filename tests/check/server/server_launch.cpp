/* gst-fanout
 * Copyright (C) 2026 the gst-fanout authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2.1 of the License, or (at your option) any later version.
 */

/* The server's pure units alone: launch descriptions (fanoutlaunch.h) and
 * the keyframe policy (fanoutkeyunits.h), with no RTSP server and no
 * client. */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

/* C++ headers before gstcheck.h: check's fail() macro would clash. */
#include "fanoutkeyunits.h"
#include "fanoutlaunch.h"

#include <string>

#include <gst/check/gstcheck.h>
#include <gst/video/video.h>

using namespace gstfanout;

static bool
has (const std::string &s, const char *part)
{
  return s.find (part) != std::string::npos;
}

static bool
plan (const char *spec, SourcePlan *p, GError **error)
{
  SourceConfig cfg{ "cam", spec };
  return source_plan (cfg, 123, p, error);
}

GST_START_TEST (test_source_plans)
{
  SourcePlan p;
  GError *err = nullptr;

  fail_unless (plan ("test:320x240@15", &p, nullptr));
  fail_unless (has (p.head, "width=320,height=240,framerate=15/1"), "%s",
               p.head.c_str ());
  fail_unless (p.device.empty ());
  fail_unless_equals_int (p.capacity, 32);

  p = SourcePlan ();
  fail_unless (plan ("launch:videotestsrc is-live=true", &p, nullptr));
  fail_unless_equals_string (p.head.c_str (), "videotestsrc is-live=true");
  fail_unless_equals_int (p.capacity, 64);

  p = SourcePlan ();
  fail_unless (plan ("rtsp://cam:secret@127.0.0.1:9/x", &p, nullptr));
  fail_unless (has (p.head, "rtspsrc name=up location=")
                   && has (p.head, "latency=123"),
               "%s", p.head.c_str ());
  fail_unless_equals_int (p.capacity, 512);

  p = SourcePlan ();
  fail_unless (plan ("v4l2:/dev/video7", &p, nullptr));
  fail_unless_equals_string (p.device.c_str (), "/dev/video7");
  fail_unless (has (p.head + camera_tail (true, false), "h264parse"));
  fail_unless (has (camera_tail (false, false), "videoconvert"));

  p = SourcePlan ();
  fail_unless (plan ("file:///tmp/x.mp4", &p, nullptr));
  fail_unless (has (p.head, "uridecodebin") && has (p.head, "clocksync"));

  /* Bad specs: one clear error each, nothing planned. */
  for (const char *bad : { "test:10x10", "test:320x240@0",
                           "launch:  ", "nonsense", "test:320x" }) {
    p = SourcePlan ();
    fail_if (plan (bad, &p, &err), "%s accepted", bad);
    fail_unless (err != nullptr);
    fail_unless (
        g_error_matches (err, FANOUT_SERVER_ERROR, FANOUT_SERVER_ERROR_USAGE),
        "%s: %s", bad, err->message);
    g_clear_error (&err);
  }
}
GST_END_TEST;

GST_START_TEST (test_mount_descriptions)
{
  MountConfig c;
  c.path = "/live";
  c.width = 640;
  c.height = 360;
  c.fps = 15;
  c.gop = 2.0;
  std::string enc
      = encoder_desc (c, Codec::H264, "cam", true, 30, "cam:/live", false);
  fail_unless (has (enc, "channel=\"cam\""), "%s", enc.c_str ());
  fail_unless (has (enc, "width=640,height=360,framerate=15/1"), "%s",
               enc.c_str ());
  fail_unless (has (enc, "name=enc") && has (enc, "key-int-max=30"), "%s",
               enc.c_str ());
  fail_unless (has (enc, "channel=\"cam:/live\""), "%s", enc.c_str ());
  fail_if (has (enc, "decodebin"), "raw input decoded: %s", enc.c_str ());
  fail_unless (has (encoder_desc (c, Codec::H264, "cam", false, 30, "r", false),
                    "decodebin"));
  /* two GOPs at the output rate, at least 64 */
  fail_unless_equals_int (mount_ring_capacity (c, 30), 68);
  c.gop = 0.5;
  fail_unless_equals_int (mount_ring_capacity (c, 30), 64);

  std::string iso = media_desc ("cam:/live", Codec::H265, Mode::Isolated, "");
  fail_unless (has (iso, "rtpinfo-at-keyframe=true") && has (iso, "rtph265pay")
                   && has (iso, "name=pay0"),
               "%s", iso.c_str ());
  std::string shared = media_desc ("cam", Codec::Vp8, Mode::Shared, "");
  fail_if (has (shared, "rtpinfo-at-keyframe"), "%s", shared.c_str ());
  fail_unless (has (shared, "rtpvp8pay"), "%s", shared.c_str ());
}
GST_END_TEST;

/* Audio: where a source's comes from, and what a mount makes of it. */
GST_START_TEST (test_audio_descriptions)
{
  GError *err = nullptr;
  SourcePlan p;
  fail_unless (plan ("test:320x240@30+tone", &p, nullptr));
  fail_unless (has (p.audio, "audiotestsrc") && !p.audio_maybe, "%s",
               p.audio.c_str ());
  fail_unless (has (p.head, "width=320,height=240") && !has (p.head, "tone"),
               "%s", p.head.c_str ());
  p = SourcePlan ();
  fail_unless (plan ("test", &p, nullptr));
  fail_unless (p.audio.empty ());
  p = SourcePlan ();
  fail_unless (plan ("launch:audiotestsrc is-live=true ! opusenc name=audio "
                     "videotestsrc is-live=true",
                     &p, nullptr));
  fail_unless (has (p.audio, "audio. ! queue"), "%s", p.audio.c_str ());
  p = SourcePlan ();
  fail_unless (plan ("launch:videotestsrc name=audiofoo", &p, nullptr));
  fail_unless (p.audio.empty (), "%s", p.audio.c_str ());
  p = SourcePlan ();
  fail_unless (plan ("rtsp://127.0.0.1:1/x", &p, nullptr));
  fail_unless (p.audio_maybe && has (p.audio, "media=audio"), "%s",
               p.audio.c_str ());
  fail_unless (has (p.head, "media=video"), "%s", p.head.c_str ());
  p = SourcePlan ();
  fail_if (plan ("test+trumpet", &p, &err));
  fail_unless (
      g_error_matches (err, FANOUT_SERVER_ERROR, FANOUT_SERVER_ERROR_USAGE));
  fail_unless (has (err->message, "SPEC+tone"), "%s", err->message);
  g_clear_error (&err);

  MountConfig c;
  c.path = "/live";
  GstCaps *opus
      = gst_caps_from_string ("audio/x-opus,channel-mapping-family=0");
  GstCaps *raw = gst_caps_from_string ("audio/x-raw,format=S16LE,rate=48000");
  GstCaps *aac = gst_caps_from_string ("audio/mpeg,mpegversion=4");
  GstCaps *alaw = gst_caps_from_string ("audio/x-alaw,rate=8000");
  GstCaps *vorbis = gst_caps_from_string ("audio/x-vorbis");
  std::string a = audio_media_desc (c, "cam:audio", opus, nullptr);
  fail_unless (has (a, "rtpopuspay name=pay1") && !has (a, "opusenc"), "%s",
               a.c_str ());
  fail_unless (has (a, "channel=\"cam:audio\""), "%s", a.c_str ());
  a = audio_media_desc (c, "cam:audio", raw, nullptr);
  fail_unless (has (a, "opusenc bitrate=64000") && has (a, "name=pay1"), "%s",
               a.c_str ());
  a = audio_media_desc (c, "cam:audio", aac, nullptr);
  fail_unless (has (a, "rtpmp4gpay name=pay1"), "%s", a.c_str ());
  a = audio_media_desc (c, "cam:audio", alaw, nullptr);
  fail_unless (has (a, "rtppcmapay name=pay1"), "%s", a.c_str ());
  a = audio_media_desc (c, "cam:audio", vorbis, nullptr);
  fail_unless (has (a, "decodebin ! audioconvert") && has (a, "opusenc"), "%s",
               a.c_str ());
  c.audio = Audio::Opus;
  c.audio_bitrate = 32;
  a = audio_media_desc (c, "cam:audio", aac, nullptr);
  fail_unless (has (a, "opusenc bitrate=32000"), "%s", a.c_str ());
  c.audio = Audio::Copy;
  a = audio_media_desc (c, "cam:audio", raw, &err);
  fail_unless (a.empty ());
  fail_unless (
      g_error_matches (err, FANOUT_SERVER_ERROR, FANOUT_SERVER_ERROR_USAGE));
  fail_unless (has (err->message, "audio=auto"), "%s", err->message);
  g_clear_error (&err);

  std::string m = media_desc ("cam", Codec::H264, Mode::Isolated,
                              "fanoutsrc name=x ! rtpopuspay name=pay1");
  fail_unless (has (m, "name=pay0") && has (m, "name=pay1"), "%s", m.c_str ());
  fail_unless (has (m, "timestamp-mode=clock"), "%s", m.c_str ());
  for (GstCaps *cp : { opus, raw, aac, alaw, vorbis })
    gst_caps_unref (cp);
}
GST_END_TEST;

/* The encoder is a real pipeline whose "enc" counts the force-key-unit
 * events it receives (an identity's sink pad probe stands in for x264enc:
 * the policy, not the encoder, is under test). */
static GstPadProbeReturn
count_fku (GstPad *, GstPadProbeInfo *info, gpointer data)
{
  GstEvent *ev = GST_PAD_PROBE_INFO_EVENT (info);
  if (gst_video_event_is_force_key_unit (ev))
    g_atomic_int_inc ((gint *)data);
  return GST_PAD_PROBE_OK;
}

GST_START_TEST (test_key_units_bounded)
{
  ServerEnv env;
  Runner enc;
  gint seen = 0;
  GMainContext *ctx = g_main_context_new ();

  env.context = ctx;
  enc.env = &env;
  enc.label = "mount /t";
  enc.desc = "fakesrc is-live=true ! identity name=enc ! fakesink sync=false";
  GstElement *p = gst_parse_launch (enc.desc.c_str (), nullptr);
  fail_unless (p != nullptr);
  enc.set_pipeline (p);
  GstElement *id = gst_bin_get_by_name (GST_BIN (p), "enc");
  GstPad *src = gst_element_get_static_pad (id, "src");
  gst_pad_add_probe (src, GST_PAD_PROBE_TYPE_EVENT_UPSTREAM, count_fku, &seen,
                     nullptr);
  gst_object_unref (src);
  gst_object_unref (id);
  /* (events reach a pad only while it is active) */
  gst_element_set_state (p, GST_STATE_PLAYING);
  {
    /* a long interval: nothing here runs into its end */
    KeyUnits keys (&enc, 60000);

    /* Joins together share one request. */
    guint64 mark = keys.request (true);
    for (int i = 0; i < 10; i++)
      fail_unless_equals_int (keys.request (true), mark);
    fail_unless_equals_int (g_atomic_int_get (&seen), 1);
    fail_unless_equals_int (keys.n_requests (), 1);

    /* Once it is out, the next join is deferred to the interval's end (a
     * timer on the server context), not sent. */
    keys.encoded ();
    fail_unless (keys.wait_encoded_after (mark, 0));
    keys.request (true);
    fail_unless_equals_int (g_atomic_int_get (&seen), 1);
    fail_unless (g_main_context_pending (ctx) == FALSE);

    /* A new media always asks. */
    guint64 fresh = keys.request (false);
    fail_unless_equals_int (fresh, 1);
    fail_unless_equals_int (g_atomic_int_get (&seen), 2);
    fail_if (keys.wait_encoded_after (fresh, 1000));

    /* Published keyframes: fresh for half the interval, until a reset. */
    fail_if (keys.published_fresh ());
    keys.published (g_get_monotonic_time ());
    fail_unless (keys.published_fresh ());
    fail_unless (keys.wait_published_after (0, 0));
    keys.published_reset ();
    fail_if (keys.published_fresh ());
    keys.stop (); /* the deferred request goes */
  }
  /* No pipeline (the encoder restarting): nothing is asked. */
  {
    KeyUnits keys (&enc, 0);
    enc.set_pipeline (nullptr);
    keys.request (false);
    fail_unless_equals_int (keys.n_requests (), 0);
  }
  gst_element_set_state (p, GST_STATE_NULL);
  gst_object_unref (p);
  g_main_context_unref (ctx);
}
GST_END_TEST;

static Suite *
server_launch_suite (void)
{
  Suite *s = suite_create ("server_launch");
  TCase *tc = tcase_create ("general");
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_source_plans);
  tcase_add_test (tc, test_mount_descriptions);
  tcase_add_test (tc, test_audio_descriptions);
  tcase_add_test (tc, test_key_units_bounded);
  return s;
}

GST_CHECK_MAIN (server_launch);
