/* gst-fanout
 * Copyright (C) 2026 the gst-fanout authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2.1 of the License, or (at your option) any later version.
 */

/* WHEP offer logic (server/fanoutwhepoffer.h): the payload a browser's
 * offer gives our H.264 or VP8 stream, and the caps webrtcbin gets for it.
 * Offers as Chromium 156 and webrtcbin 1.22 write them (trimmed). */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <gst/check/gstcheck.h>

#include "fanoutwhepoffer.h"

/* Chromium: VP8 first, H.264 in several payloads, with
 * level-asymmetry-allowed=1 (webrtcbin then reads "profile"). */
static const char kChrome[]
    = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
      "m=video 9 UDP/TLS/RTP/SAVPF 96 97 103 104 107 108 109 35\r\n"
      "c=IN IP4 0.0.0.0\r\na=mid:0\r\na=recvonly\r\n"
      "a=rtpmap:96 VP8/90000\r\na=rtcp-fb:96 nack pli\r\n"
      "a=rtpmap:97 rtx/90000\r\na=fmtp:97 apt=96\r\n"
      "a=rtpmap:103 H264/90000\r\na=rtcp-fb:103 nack pli\r\n"
      "a=fmtp:103 level-asymmetry-allowed=1;packetization-mode=1;"
      "profile-level-id=42001f\r\n"
      "a=rtpmap:104 H264/90000\r\n"
      "a=fmtp:104 level-asymmetry-allowed=1;packetization-mode=0;"
      "profile-level-id=42e01f\r\n"
      "a=rtpmap:107 H264/90000\r\n"
      "a=fmtp:107 level-asymmetry-allowed=1;packetization-mode=1;"
      "profile-level-id=640c1f\r\n"
      "a=rtpmap:108 H264/90000\r\na=rtcp-fb:108 nack pli\r\n"
      "a=fmtp:108 level-asymmetry-allowed=1;packetization-mode=1;"
      "profile-level-id=42e01f\r\n"
      "a=rtpmap:109 rtx/90000\r\na=fmtp:109 apt=108\r\n"
      "a=rtpmap:35 AV1/90000\r\n";

/* webrtcbin as a receiver: one H.264 payload, no level-asymmetry. */
static const char kWebrtcbin[]
    = "v=0\r\no=- 1 0 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"
      "m=video 9 UDP/TLS/RTP/SAVPF 102\r\nc=IN IP4 0.0.0.0\r\na=mid:video0\r\n"
      "a=recvonly\r\na=rtpmap:102 H264/90000\r\n"
      "a=fmtp:102 packetization-mode=1;profile-level-id=42e01f\r\n";

/* Only H.264 packetization-mode=0 and VP8. */
static const char kNoMode1[]
    = "v=0\r\no=- 1 0 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"
      "m=video 9 UDP/TLS/RTP/SAVPF 96 104\r\nc=IN IP4 0.0.0.0\r\n"
      "a=rtpmap:96 VP8/90000\r\na=rtpmap:104 H264/90000\r\n"
      "a=fmtp:104 packetization-mode=0;profile-level-id=42e01f\r\n";

/* Chromium with an audio transceiver: audio first here (the order is the
 * page's addTransceiver order), Opus in 111 among others. */
static const char kChromeAudio[]
    = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
      "a=group:BUNDLE 0 1\r\n"
      "m=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126\r\n"
      "c=IN IP4 0.0.0.0\r\na=mid:0\r\na=recvonly\r\n"
      "a=rtpmap:111 opus/48000/2\r\na=rtcp-fb:111 transport-cc\r\n"
      "a=fmtp:111 minptime=10;useinbandfec=1\r\n"
      "a=rtpmap:63 red/48000/2\r\na=fmtp:63 111/111\r\n"
      "a=rtpmap:9 G722/8000\r\na=rtpmap:0 PCMU/8000\r\n"
      "a=rtpmap:8 PCMA/8000\r\na=rtpmap:13 CN/8000\r\n"
      "a=rtpmap:110 telephone-event/48000\r\n"
      "a=rtpmap:126 telephone-event/8000\r\n"
      "m=video 9 UDP/TLS/RTP/SAVPF 96 108\r\n"
      "c=IN IP4 0.0.0.0\r\na=mid:1\r\na=recvonly\r\n"
      "a=rtpmap:96 VP8/90000\r\na=rtpmap:108 H264/90000\r\n"
      "a=fmtp:108 level-asymmetry-allowed=1;packetization-mode=1;"
      "profile-level-id=42e01f\r\n";

/* webrtcbin as a receiver of audio: OPUS in 97 (upper case). */
static const char kWebrtcbinAudio[]
    = "v=0\r\no=- 1 0 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"
      "m=audio 9 UDP/TLS/RTP/SAVPF 97\r\nc=IN IP4 0.0.0.0\r\n"
      "a=mid:audio0\r\na=recvonly\r\na=rtpmap:97 OPUS/48000/2\r\n"
      "a=fmtp:97 sprop-stereo=0\r\n";

/* Audio without Opus, a rejected audio m-line with Opus, one the offerer
 * only sends (a microphone), an inactive one, and Opus at another rate. */
static const char kNoOpus[]
    = "v=0\r\no=- 1 0 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"
      "m=audio 9 UDP/TLS/RTP/SAVPF 0 8\r\nc=IN IP4 0.0.0.0\r\n"
      "a=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n"
      "m=audio 0 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\n"
      "a=rtpmap:111 opus/48000/2\r\n"
      "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\n"
      "a=sendonly\r\na=rtpmap:111 opus/48000/2\r\n"
      "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\n"
      "a=inactive\r\na=rtpmap:111 opus/48000/2\r\n"
      "m=audio 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\n"
      "a=rtpmap:96 opus/16000\r\n";

static GstSDPMessage *
parse (const char *text)
{
  GstSDPMessage *sdp = NULL;
  fail_unless_equals_int (gst_sdp_message_new_from_text (text, &sdp),
                          GST_SDP_OK);
  return sdp;
}

static guint
pick (const char *text, const char *encoding, GstCaps **caps, gchar **plid)
{
  GstSDPMessage *sdp = parse (text);
  guint pt = fanout_whep_pick_payload (gst_sdp_message_get_media (sdp, 0),
                                       encoding, caps, plid);
  gst_sdp_message_free (sdp);
  return pt;
}

GST_START_TEST (test_chrome_h264_constrained_baseline)
{
  GstCaps *caps = NULL, *stream;
  gchar *plid = NULL;
  GstStructure *st;
  gint pt = 0;

  /* 108 (42e01f, mode 1), not 103 (baseline), 104 (mode 0) nor 107 (high),
   * nor VP8 that comes first. */
  fail_unless_equals_int (pick (kChrome, "H264", &caps, &plid), 108);
  fail_unless (caps != NULL);
  st = gst_caps_get_structure (caps, 0);
  fail_unless_equals_string (gst_structure_get_name (st), "application/x-rtp");
  fail_unless_equals_string (gst_structure_get_string (st, "media"), "video");
  fail_unless_equals_string (gst_structure_get_string (st, "encoding-name"),
                             "H264");
  fail_unless_equals_string (
      gst_structure_get_string (st, "packetization-mode"), "1");
  fail_unless (gst_structure_get_int (st, "payload", &pt));
  fail_unless_equals_int (pt, 108);
  /* Neither profile field: the stream names its own. */
  fail_if (gst_structure_has_field (st, "profile-level-id"));
  fail_if (gst_structure_has_field (st, "profile"));
  /* The stream's caps (x264 constrained baseline, level 3.0) intersect. */
  stream = gst_caps_from_string (
      "application/x-rtp,media=video,clock-rate=90000,encoding-name=H264,"
      "packetization-mode=(string)1,profile-level-id=(string)42c01e,"
      "profile=(string)constrained-baseline,payload=108");
  fail_unless (gst_caps_can_intersect (caps, stream));
  gst_caps_unref (stream);
  /* level-asymmetry-allowed=1: webrtcbin drops the level, so do we. */
  fail_unless (plid == NULL);
  gst_caps_unref (caps);
}
GST_END_TEST;

GST_START_TEST (test_webrtcbin_keeps_profile_level_id)
{
  GstCaps *caps = NULL;
  gchar *plid = NULL;
  fail_unless_equals_int (pick (kWebrtcbin, "H264", &caps, &plid), 102);
  /* No level-asymmetry: webrtcbin compares the offer's profile-level-id
   * with the stream's, which must then say the same. */
  fail_unless_equals_string (plid, "42e01f");
  fail_if (gst_structure_has_field (gst_caps_get_structure (caps, 0),
                                    "profile-level-id"));
  g_free (plid);
  gst_caps_unref (caps);
}
GST_END_TEST;

GST_START_TEST (test_refused_without_mode_1)
{
  GstCaps *caps = NULL;
  gchar *plid = NULL;
  fail_unless_equals_int (pick (kNoMode1, "H264", &caps, &plid), 0);
  fail_unless (caps == NULL);
  fail_unless (plid == NULL);
  /* The same offer carries VP8 for a VP8 mount. */
  fail_unless_equals_int (pick (kNoMode1, "VP8", &caps, &plid), 96);
  fail_unless_equals_string (
      gst_structure_get_string (gst_caps_get_structure (caps, 0),
                                "encoding-name"),
      "VP8");
  gst_caps_unref (caps);
  g_free (plid);
}
GST_END_TEST;

static guint
pick_opus (const char *text, guint media, GstCaps **caps)
{
  GstSDPMessage *sdp = parse (text);
  guint pt
      = fanout_whep_pick_opus (gst_sdp_message_get_media (sdp, media), caps);
  gst_sdp_message_free (sdp);
  return pt;
}

GST_START_TEST (test_chrome_opus)
{
  GstCaps *caps = NULL, *stream;
  GstStructure *st;
  gint pt = 0;

  fail_unless_equals_int (pick_opus (kChromeAudio, 0, &caps), 111);
  fail_unless (caps != NULL);
  st = gst_caps_get_structure (caps, 0);
  fail_unless_equals_string (gst_structure_get_name (st), "application/x-rtp");
  fail_unless_equals_string (gst_structure_get_string (st, "media"), "audio");
  fail_unless_equals_string (gst_structure_get_string (st, "encoding-name"),
                             "OPUS");
  fail_unless (gst_structure_get_int (st, "payload", &pt));
  fail_unless_equals_int (pt, 111);
  /* What rtpopuspay sends (mono), in the viewer's PT, intersects: the
   * transceiver's codec-preferences and the stream agree. */
  stream = gst_caps_from_string (
      "application/x-rtp,media=audio,clock-rate=48000,encoding-name=OPUS,"
      "encoding-params=(string)2,sprop-stereo=(string)0,payload=111");
  fail_unless (gst_caps_can_intersect (caps, stream));
  gst_caps_unref (stream);
  gst_caps_unref (caps);
  /* The video m-line is no audio; and its H.264 is still found. */
  fail_unless_equals_int (pick_opus (kChromeAudio, 1, &caps), 0);
  fail_unless (caps == NULL);
}
GST_END_TEST;

GST_START_TEST (test_webrtcbin_opus)
{
  GstCaps *caps = NULL;
  gchar *plid = NULL;
  fail_unless_equals_int (pick_opus (kWebrtcbinAudio, 0, &caps), 97);
  fail_unless_equals_string (
      gst_structure_get_string (gst_caps_get_structure (caps, 0), "media"),
      "audio");
  gst_caps_unref (caps);
  caps = NULL;
  /* The video pick is not fooled by an audio m-line (the server looks the
   * video m-line up first) ... */
  fail_unless_equals_int (pick (kChromeAudio, "H264", &caps, &plid), 0);
  fail_unless (caps == NULL);
  /* ... and finds H.264 in the video m-line after it. */
  {
    GstSDPMessage *sdp = parse (kChromeAudio);
    fail_unless_equals_int (
        fanout_whep_pick_payload (gst_sdp_message_get_media (sdp, 1), "H264",
                                  &caps, &plid),
        108);
    gst_sdp_message_free (sdp);
  }
  gst_caps_unref (caps);
  g_free (plid);
}
GST_END_TEST;

GST_START_TEST (test_no_opus)
{
  GstCaps *caps = NULL;
  /* PCMU/PCMA only: video only for that viewer. */
  fail_unless_equals_int (pick_opus (kNoOpus, 0, &caps), 0);
  fail_unless (caps == NULL);
  /* A rejected m-line (port 0) is not taken, Opus or not; nor one that
   * the offerer does not receive; nor "Opus" not at 48 kHz. */
  for (guint i = 1; i <= 4; i++) {
    fail_unless_equals_int (pick_opus (kNoOpus, i, &caps), 0);
    fail_unless (caps == NULL);
  }
}
GST_END_TEST;

static Suite *
whep_offer_suite (void)
{
  Suite *s = suite_create ("whep_offer");
  TCase *tc = tcase_create ("general");
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_chrome_h264_constrained_baseline);
  tcase_add_test (tc, test_webrtcbin_keeps_profile_level_id);
  tcase_add_test (tc, test_refused_without_mode_1);
  tcase_add_test (tc, test_chrome_opus);
  tcase_add_test (tc, test_webrtcbin_opus);
  tcase_add_test (tc, test_no_opus);
  return s;
}

GST_CHECK_MAIN (whep_offer);
