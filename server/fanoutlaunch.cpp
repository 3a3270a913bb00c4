/* gst-fanout
 * Copyright (C) 2026 the gst-fanout authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2.1 of the License, or (at your option) any later version.
 */

/* fanout-rtsp-server: the launch descriptions of sources, mount encoders
 * and mount medias (fanoutlaunch.h). */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "fanoutlaunch.h"
#include "fanoutenv.h"
#include "fanoututil.h"

#include <cmath>
#include <cstdio>

namespace gstfanout
{

static const char *const kWriter = "fanoutsink";
static const char *const kReader = "fanoutsrc";

/* The writer end of channel @channel (element named "ring") holding
 * @capacity items: a few raw frames (they are large and their readers are
 * encoders that keep up), or a GOP or more of encoded frames (a new reader
 * starts at the newest keyframe). */
std::string
writer_desc (const std::string &channel, guint capacity)
{
  return std::string (kWriter) + " name=ring capacity="
         + std::to_string (capacity) + " channel=" + quote (channel);
}

/* A reader of channel @channel (element named "ringsrc"). The writer's
 * end is not the reader's: when the source restarts, the reader goes on
 * with the next writer (a discontinuity, timestamps still increasing). */
std::string
reader_desc (const std::string &channel, const char *name, bool clock)
{
  return std::string (kReader) + " name=" + name
         + (clock ? " timestamp-mode=clock" : "")
         + " eos-on-writer-eos=false channel=" + quote (channel);
}

std::string
audio_channel (const std::string &channel)
{
  return channel + ":audio"; /* mount rings are NAME:/PATH */
}

/* Encoded audio is a few kB per 20 ms frame; raw 10 ms buffers from a
 * microphone: 256 items is 2.5 to 5 s. */
static const guint kAudioRingItems = 256;

std::string
audio_writer_desc (const std::string &channel)
{
  return std::string (kWriter)
         + " name=audioring capacity=" + std::to_string (kAudioRingItems)
         + " channel=" + quote (audio_channel (channel));
}

guint
video_pt (Codec c) noexcept
{
  return c == Codec::Mjpeg ? 26 : 96;
}

Codec
passthrough_codec (const char *name) noexcept
{
  if (g_str_equal (name, "video/x-h264"))
    return Codec::H264;
  if (g_str_equal (name, "video/x-h265"))
    return Codec::H265;
  if (g_str_equal (name, "image/jpeg"))
    return Codec::Mjpeg;
  if (g_str_equal (name, "video/x-vp8"))
    return Codec::Vp8;
  return Codec::Auto;
}

const char *
h264_encoder () noexcept
{
  if (element_exists ("x264enc"))
    return "x264enc";
  if (element_exists ("openh264enc"))
    return "openh264enc";
  return nullptr;
}

bool
check_codec (Codec codec, const std::string &path, GError **error) noexcept
{
  const char *need = nullptr, *pkg = nullptr;
  switch (codec) {
  case Codec::Auto:
  case Codec::H264:
    if (!h264_encoder ())
      need = "x264enc or openh264enc", pkg = "gstreamer1.0-plugins-ugly";
    else if (!element_exists ("rtph264pay") || !element_exists ("h264parse"))
      need = "rtph264pay and h264parse",
      pkg = "gstreamer1.0-plugins-good and -bad";
    break;
  case Codec::H265:
    if (!element_exists ("x265enc"))
      need = "x265enc", pkg = "gstreamer1.0-plugins-bad";
    else if (!element_exists ("rtph265pay") || !element_exists ("h265parse"))
      need = "rtph265pay and h265parse",
      pkg = "gstreamer1.0-plugins-good and -bad";
    break;
  case Codec::Mjpeg:
    if (!element_exists ("jpegenc") || !element_exists ("rtpjpegpay"))
      need = "jpegenc and rtpjpegpay", pkg = "gstreamer1.0-plugins-good";
    break;
  case Codec::Vp8:
    if (!element_exists ("vp8enc") || !element_exists ("rtpvp8pay"))
      need = "vp8enc and rtpvp8pay", pkg = "gstreamer1.0-plugins-good";
    break;
  case Codec::Copy:
    break;
  }
  if (need) {
    g_set_error (error, FANOUT_SERVER_ERROR, FANOUT_SERVER_ERROR_MISSING,
                 "codec %s for mount %s needs %s, which is not installed: "
                 "install %s or pick another codec=",
                 codec_name (codec), path.c_str (), need, pkg);
    return false;
  }
  return true;
}

static const char *const kTestSpecHelp
    = "use test, test:WxH or test:WxH@FPS, e.g. test:1280x720@30";

/* The audio of a test or camera SPEC after its '+': tone (a test tone),
 * alsa[:DEVICE] or pulse[:DEVICE] (a microphone). Raw audio: a mount
 * encodes it (Opus). */
static bool
audio_capture (const SourceConfig &cfg, const std::string &a, SourcePlan *plan,
               GError **error)
{
  const char *el = nullptr, *pkg = nullptr;
  std::string dev;
  if (a == "tone") {
    plan->audio = "audiotestsrc is-live=true wave=sine freq=440 volume=0.2 "
                  "samplesperbuffer=480";
    return true;
  }
  if (a == "alsa" || g_str_has_prefix (a.c_str (), "alsa:"))
    el = "alsasrc", pkg = "gstreamer1.0-alsa", dev = a.substr (4);
  else if (a == "pulse" || g_str_has_prefix (a.c_str (), "pulse:"))
    el = "pulsesrc", pkg = "gstreamer1.0-pulseaudio", dev = a.substr (5);
  if (!el) {
    g_set_error (error, FANOUT_SERVER_ERROR, FANOUT_SERVER_ERROR_USAGE,
                 "unknown audio '%s' in source %s: write SPEC+tone, "
                 "SPEC+alsa[:DEVICE] or SPEC+pulse[:DEVICE], e.g. "
                 "v4l2:/dev/video0+alsa:hw:1",
                 a.c_str (), cfg.name.c_str ());
    return false;
  }
  if (!element_exists (el)) {
    g_set_error (error, FANOUT_SERVER_ERROR, FANOUT_SERVER_ERROR_MISSING,
                 "source %s needs %s for its audio, which is not installed: "
                 "install %s",
                 cfg.name.c_str (), el, pkg);
    return false;
  }
  plan->audio = std::string (el) + " do-timestamp=true";
  if (!dev.empty ())
    plan->audio += " device=" + quote (dev.substr (1));
  return true;
}

/* A launch: description carries audio when an element in it is named
 * "audio": the end of its audio branch. */
static bool
names_audio (const std::string &d)
{
  for (size_t at = d.find ("name=audio"); at != std::string::npos;
       at = d.find ("name=audio", at + 1)) {
    bool start = at == 0 || d[at - 1] == ' ' || d[at - 1] == '\t';
    size_t end = at + 10;
    if (start && (end == d.size () || d[end] == ' ' || d[end] == '\t'))
      return true;
  }
  return false;
}

static bool
source_plan_unguarded (const SourceConfig &cfg, guint relay_latency_ms,
                       SourcePlan *plan, GError **error)
{
  std::string spec = cfg.spec;
  std::string *head = &plan->head;
  if (spec == "test" || g_str_has_prefix (spec.c_str (), "test:")
      || spec == "v4l2" || g_str_has_prefix (spec.c_str (), "v4l2:")
      || g_str_has_prefix (spec.c_str (), "test+")
      || g_str_has_prefix (spec.c_str (), "v4l2+")) {
    size_t plus = spec.find ('+');
    if (plus != std::string::npos) {
      if (!audio_capture (cfg, spec.substr (plus + 1), plan, error))
        return false;
      spec.resize (plus);
    }
  }
  if (spec == "test" || g_str_has_prefix (spec.c_str (), "test:")) {
    guint w = 1280, h = 720, fps = 30;
    if (spec.size () > 5) {
      char tail = 0;
      int n = sscanf (spec.c_str () + 5, "%ux%u@%u%c", &w, &h, &fps, &tail);
      if ((n != 2 && n != 3) || w < 16 || h < 16 || w > 7680 || h > 4320
          || fps == 0 || fps > 240) {
        g_set_error (error, FANOUT_SERVER_ERROR, FANOUT_SERVER_ERROR_USAGE,
                     "bad test source '%s' for %s: %s", spec.c_str (),
                     cfg.name.c_str (), kTestSpecHelp);
        return false;
      }
    }
    /* A moving SMPTE pattern with two text overlays: real detail, so that
     * an encoder spends the bitrate it is given. */
    gchar *d = g_strdup_printf (
        "videotestsrc is-live=true pattern=smpte horizontal-speed=4 "
        "! video/x-raw,format=I420,width=%u,height=%u,framerate=%u/1 %s",
        w, h, fps,
        element_exists ("clockoverlay")
            ? "! timeoverlay halignment=left valignment=bottom "
              "font-desc=\"Sans 20\" ! clockoverlay halignment=right "
              "valignment=top font-desc=\"Sans 20\" time-format=\"%H:%M:%S\""
            : "");
    *head = d;
    g_free (d);
    return true;
  }
  if (spec == "v4l2" || g_str_has_prefix (spec.c_str (), "v4l2:")) {
    plan->device = spec.size () > 5 ? spec.substr (5) : "/dev/video0";
    if (!element_exists ("v4l2src")) {
      g_set_error (error, FANOUT_SERVER_ERROR, FANOUT_SERVER_ERROR_MISSING,
                   "source %s needs v4l2src, which is not installed: install "
                   "gstreamer1.0-plugins-good",
                   cfg.name.c_str ());
      return false;
    }
    /* Completed by camera_tail () once the camera is there and its
     * formats are known: a camera not plugged in yet is waited for. */
    *head = "v4l2src device=" + quote (plan->device);
    return true;
  }
  if (g_str_has_prefix (spec.c_str (), "launch:")) {
    plan->capacity = 64; /* raw or encoded: 2 s at 30 fps */
    *head = spec.substr (7);
    if (names_audio (*head))
      plan->audio = "audio. ! queue max-size-buffers=0 max-size-bytes=0 "
                    "max-size-time=500000000 leaky=downstream";
    if (head->find_first_not_of (" \t") == std::string::npos) {
      g_set_error (error, FANOUT_SERVER_ERROR, FANOUT_SERVER_ERROR_USAGE,
                   "empty launch source for %s: write launch:PIPELINE, e.g. "
                   "launch:videotestsrc is-live=true",
                   cfg.name.c_str ());
      return false;
    }
    return true;
  }
  if (g_str_has_prefix (spec.c_str (), "rtsp://")
      || g_str_has_prefix (spec.c_str (), "rtsps://")
      || g_str_has_prefix (spec.c_str (), "rtspt://")) {
    /* Relay: depayload and parse, never decode; mounts copy or re-encode. */
    plan->capacity = 512; /* encoded: several GOPs */
    /* Depayloaded, never decoded or re-parsed: decodebin stops at the
     * first element whose caps match (the depayloader's, AU-aligned), so
     * a frame goes on the moment its last packet came. parsebin waited
     * for the next frame to end each one: a frame (33 ms at 30 fps) more
     * per hop (docs/benchmarks/relay-chain.md). Other codecs are decoded
     * (a mount then encodes them). The jitter buffer's latency is how long
     * a missing or late packet is waited for. */
    /* Audio (when upstream has it) the same way: what RTSP carries as it
     * is stays encoded (a mount passes it through), the rest is decoded. */
    *head = "rtspsrc name=up location=" + quote (spec)
            + " latency=" + std::to_string (relay_latency_ms)
            + " up. ! application/x-rtp,media=video"
              " ! decodebin caps=\"video/x-h264,alignment=au;"
              "video/x-h265,alignment=au;image/jpeg;video/x-vp8;video/x-vp9\"";
    plan->audio = "up. ! capsfilter name=audiohead "
                  "caps=application/x-rtp,media=audio ! decodebin "
                  "caps=\"audio/x-opus;audio/mpeg,mpegversion=4;audio/x-alaw;"
                  "audio/x-mulaw;audio/x-raw\"";
    plan->audio_maybe = true;
    plan->on_demand = true;
    return true;
  }
  if (gst_uri_is_valid (spec.c_str ())) {
    gchar *proto = gst_uri_get_protocol (spec.c_str ());
    bool ok = gst_uri_protocol_is_supported (GST_URI_SRC, proto);
    g_free (proto);
    if (!ok) {
      g_set_error (error, FANOUT_SERVER_ERROR, FANOUT_SERVER_ERROR_MISSING,
                   "no element reads URI %s (source %s): install the plugin "
                   "for that protocol or use launch:PIPELINE",
                   redact (spec).c_str (), cfg.name.c_str ());
      return false;
    }
    /* clocksync paces files to the clock, as a camera would be; a file
     * starts over at its end (Runner::loop), paced again from there. */
    plan->loop = true;
    *head = "uridecodebin name=file uri=" + quote (spec)
            + " file. ! videoconvert ! clocksync name=pace sync-to-first=true";
    /* Its audio, if it has some, paced with the video's offset (the
     * runner copies pace's ts-offset to audiopace): one offset for both,
     * after each loop too. */
    plan->audio = "file. ! audioconvert name=audiohead ! audioresample "
                  "! clocksync name=audiopace";
    plan->audio_maybe = true;
    return true;
  }
  g_set_error (error, FANOUT_SERVER_ERROR, FANOUT_SERVER_ERROR_USAGE,
               "unknown source '%s' for %s: use test, v4l2[:DEVICE], "
               "rtsp://HOST/PATH, a URI (file:///...) or launch:PIPELINE",
               redact (spec).c_str (), cfg.name.c_str ());
  return false;
}

bool
source_plan (const SourceConfig &cfg, guint relay_latency_ms, SourcePlan *plan,
             GError **error) noexcept
{
  return guarded_or_error ("source_plan", error, [&] {
    return source_plan_unguarded (cfg, relay_latency_ms, plan, error);
  });
}

/* The encoder of an encoding mount (named "enc") and its parser. */
static std::string
encoder_chain (const MountConfig &c, Codec codec, guint src_fps)
{
  guint fps = c.fps ? c.fps : (src_fps ? src_fps : 30);
  guint keyint = MAX (1u, (guint)std::lround (c.gop * fps));
  gchar *d = nullptr;
  switch (codec) {
  case Codec::Mjpeg:
    d = g_strdup_printf ("jpegenc name=enc quality=85");
    break;
  case Codec::H265:
    d = g_strdup_printf ("x265enc name=enc tune=zerolatency "
                         "speed-preset=ultrafast bitrate=%u key-int-max=%u "
                         "! h265parse config-interval=-1",
                         c.bitrate, keyint);
    break;
  case Codec::Vp8:
    d = g_strdup_printf ("vp8enc name=enc deadline=1 cpu-used=8 "
                         "end-usage=cbr target-bitrate=%u "
                         "keyframe-max-dist=%u lag-in-frames=0 "
                         "error-resilient=default",
                         c.bitrate * 1000, keyint);
    break;
  default:
    if (g_str_equal (h264_encoder (), "x264enc"))
      d = g_strdup_printf ("x264enc name=enc tune=zerolatency "
                           "speed-preset=ultrafast bitrate=%u aud=false "
                           "key-int-max=%u ! video/x-h264,profile=baseline "
                           "! h264parse config-interval=-1",
                           c.bitrate, keyint);
    else
      d = g_strdup_printf ("openh264enc name=enc complexity=low "
                           "bitrate=%u gop-size=%u ! h264parse "
                           "config-interval=-1",
                           c.bitrate * 1000, keyint);
    break;
  }
  std::string r = d;
  g_free (d);
  return r;
}

guint
mount_ring_capacity (const MountConfig &c, guint src_fps)
{
  guint fps = c.fps ? c.fps : (src_fps ? src_fps : 30);
  return MAX (64u, (guint)std::lround (2.0 * c.gop * fps) + 8);
}

/* pay0 of a mount's media: the payloader in a fanoutpaybin, which hands
 * each frame to gst-rtsp-server as one buffer list (see fanoutpaybin.cpp).
 * Isolated clients start on the newest keyframe: RTP-Info names it. */
static std::string
payloader_for (Codec c, Mode mode)
{
  std::string d = "fanoutpaybin name=pay0 ";
  if (mode == Mode::Isolated)
    d += "rtpinfo-at-keyframe=true ";
  switch (c) {
  case Codec::Mjpeg:
    return d + "payloader=\"rtpjpegpay pt=26\"";
  case Codec::Vp8:
    return d + "payloader=\"rtpvp8pay pt=96\"";
  case Codec::H265:
    return d + "payloader=\"rtph265pay pt=96 config-interval=-1\"";
  default:
    return d + "payloader=\"rtph264pay pt=96 config-interval=-1\"";
  }
}

std::string
camera_tail (bool h264, bool jpeg)
{
  if (h264)
    return " ! video/x-h264 ! h264parse config-interval=-1";
  if (jpeg)
    return " ! image/jpeg ! jpegparse";
  return " ! videoconvert";
}

std::string
encoder_desc (const MountConfig &c, Codec codec, const std::string &channel,
              bool raw, guint src_fps, const std::string &ring, bool clock)
{
  std::string d = reader_desc (channel, "ringsrc", clock);
  if (!raw)
    d += " ! decodebin";
  d += " ! videoconvert";
  std::string caps_s = "video/x-raw,format=I420";
  if (c.width) {
    d += " ! videoscale";
    caps_s += ",width=" + std::to_string (c.width)
              + ",height=" + std::to_string (c.height);
  }
  if (c.fps) {
    d += " ! videorate";
    caps_s += ",framerate=" + std::to_string (c.fps) + "/1";
  }
  return d + " ! " + caps_s + " ! " + encoder_chain (c, codec, src_fps) + " ! "
         + writer_desc (ring, mount_ring_capacity (c, src_fps));
}

/* pay1: what RTSP carries as it is goes through (AAC as RFC 3640, which
 * ffmpeg and GStreamer play), the rest is encoded to Opus. */
std::string
audio_media_desc (const MountConfig &c, const std::string &channel,
                  const GstCaps *caps, GError **error)
{
  const GstStructure *st = gst_caps_get_size (caps) > 0
                               ? gst_caps_get_structure (caps, 0)
                               : nullptr;
  const char *name = st ? gst_structure_get_name (st) : "";
  gint mpegversion = 0;
  const char *pay = nullptr;
  if (g_str_equal (name, "audio/x-opus"))
    pay = "rtpopuspay name=pay1 pt=97";
  else if (g_str_equal (name, "audio/mpeg")
           && gst_structure_get_int (st, "mpegversion", &mpegversion)
           && (mpegversion == 4 || mpegversion == 2))
    pay = "aacparse ! audio/mpeg,stream-format=raw ! rtpmp4gpay name=pay1 "
          "pt=97";
  else if (g_str_equal (name, "audio/x-alaw"))
    pay = "rtppcmapay name=pay1";
  else if (g_str_equal (name, "audio/x-mulaw"))
    pay = "rtppcmupay name=pay1";
  std::string d = reader_desc (channel, "audioringsrc", true) + " ! ";
  if (pay && c.audio != Audio::Opus)
    return d + pay;
  if (c.audio == Audio::Copy) {
    gchar *cs = gst_caps_to_string (caps);
    g_set_error (error, FANOUT_SERVER_ERROR, FANOUT_SERVER_ERROR_USAGE,
                 "mount %s: audio=copy cannot pass %s through (RTSP carries "
                 "Opus, AAC, PCMA and PCMU as they are): use audio=auto "
                 "(encodes Opus) or audio=off",
                 c.path.c_str (), cs);
    g_free (cs);
    return "";
  }
  if (!element_exists ("opusenc") || !element_exists ("rtpopuspay")) {
    g_set_error (error, FANOUT_SERVER_ERROR, FANOUT_SERVER_ERROR_MISSING,
                 "mount %s: its audio needs opusenc and rtpopuspay, which are "
                 "not installed: install gstreamer1.0-plugins-base and -good, "
                 "or use audio=off",
                 c.path.c_str ());
    return "";
  }
  return d + opus_encode_chain (caps, c.audio_bitrate)
         + " ! rtpopuspay name=pay1 pt=97";
}

std::string
opus_encode_chain (const GstCaps *caps, guint kbps)
{
  const GstStructure *st = caps && gst_caps_get_size (caps) > 0
                               ? gst_caps_get_structure (caps, 0)
                               : nullptr;
  bool raw = st && gst_structure_has_name (st, "audio/x-raw");
  /* 20 ms frames: one RTP packet each. */
  return std::string (raw ? "" : "decodebin ! ")
         + "audioconvert ! audioresample ! opusenc bitrate="
         + std::to_string (kbps * 1000) + " frame-size=20";
}

std::string
media_desc (const std::string &ring, Codec codec, Mode mode,
            const std::string &audio)
{
  return "( " + reader_desc (ring, "ringsrc", !audio.empty ()) + " ! "
         + payloader_for (codec, mode) + (audio.empty () ? "" : " " + audio)
         + " )";
}

} // namespace gstfanout
