/* gst-fanout
 * Copyright (C) 2026 the gst-fanout authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2.1 of the License, or (at your option) any later version.
 */

/* fanout-rtsp-server: sources captured once, mounts and clients on
 * gst-rtsp-server, /metrics and /stats on libsoup 3.
 *
 *   source pipeline   SOURCE ! ... ! fanoutsink channel=NAME
 *   mount encoder     fanoutsrc channel=NAME ! ... ! ENCODER name=enc
 *                       ! fanoutsink channel=NAME:/PATH   (codec != copy)
 *   mount media       ( fanoutsrc channel=NAME:/PATH ! PAYLOADER name=pay0 )
 *                     one per mount. Isolated: its frames also go into the
 *                     mount's RTP ring, and a sender thread gives each
 *                     client its own cursor on it (fanoutsender.h).
 *
 * Threads: the server's main context (RTSP accept, HTTP, bus watches,
 * retries), gst-rtsp-server's client and media threads (client signals),
 * streaming threads (pad probes), isolated mounts' sender threads. Locks,
 * in order: Server::lock (clients and their state), Mount::lock (join
 * bookkeeping, live medias), then the sender's own. Nothing calls out
 * (state change, event, signal) while holding either of the first two. */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "fanoutserverprivate.h"
#include "fanoutwhep.h"

#include <gst/gst.h>
#include <gst/base/gstbasesink.h>
#include <gst/video/video.h>
#include <gst/rtsp-server/rtsp-server.h>
#include <libsoup/soup.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <cstdarg>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "gstfanoutraii.h"

GST_DEBUG_CATEGORY_STATIC (fanout_server_debug);
#define GST_CAT_DEFAULT fanout_server_debug

namespace gstfanout
{

static const char *const kWriter = "fanoutsink";
static const char *const kReader = "fanoutsrc";

static bool
element_exists (const char *name) noexcept
{
  GstElementFactory *f = gst_element_factory_find (name);
  if (!f)
    return false;
  gst_object_unref (f);
  return true;
}

static std::string
quote (const std::string &s)
{
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\')
      out += '\\';
    out += c;
  }
  return out + "\"";
}

/* The writer end of channel @channel (element named "ring") holding
 * @capacity items: a few raw frames (they are large and their readers are
 * encoders that keep up), or a GOP or more of encoded frames (a new reader
 * starts at the newest keyframe). */
static std::string
writer_desc (const std::string &channel, guint capacity)
{
  return std::string (kWriter) + " name=ring capacity="
         + std::to_string (capacity) + " channel=" + quote (channel);
}

/* A reader of channel @channel (element named "ringsrc"). */
static std::string
reader_desc (const std::string &channel)
{
  return std::string (kReader) + " name=ringsrc channel=" + quote (channel);
}

struct Server;

/* Reads a numeric property of any integer type, 0 when absent. */
guint64
get_uint_prop (gpointer obj, const char *name) noexcept
{
  GParamSpec *ps
      = g_object_class_find_property (G_OBJECT_GET_CLASS (obj), name);
  if (!ps)
    return 0;
  GValue v = G_VALUE_INIT, u = G_VALUE_INIT;
  g_value_init (&v, ps->value_type);
  g_value_init (&u, G_TYPE_UINT64);
  g_object_get_property (G_OBJECT (obj), name, &v);
  guint64 r = 0;
  if (g_value_transform (&v, &u))
    r = g_value_get_uint64 (&u);
  g_value_unset (&v);
  g_value_unset (&u);
  return r;
}

static void log_line (const Server *s, const char *fmt, ...)
    G_GNUC_PRINTF (2, 3);

static void
log_line (const Server *s, const char *fmt, ...)
{
  if (s && s->cfg.quiet)
    return;
  va_list ap;
  va_start (ap, fmt);
  gchar *msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  GDateTime *now = g_date_time_new_now_utc ();
  gchar *ts = g_date_time_format (now, "%H:%M:%S");
  g_printerr ("%s fanout-rtsp-server: %s\n", ts, msg);
  g_free (ts);
  g_date_time_unref (now);
  g_free (msg);
}

/* Plain scanning, no GRegex: it is called from every client thread, and
 * GLib 2.74's PCRE2 JIT crashed under that (seen in the hostile test). */
std::string
redact (const std::string &in)
{
  std::string s = in;
  /* scheme://user:PASSWORD@host */
  for (size_t pos = 0; (pos = s.find ("://", pos)) != std::string::npos;) {
    size_t start = pos + 3;
    size_t end = s.find_first_of ("/?# \t\r\n\"'", start);
    if (end == std::string::npos)
      end = s.size ();
    size_t at = s.rfind ('@', end == 0 ? 0 : end - 1);
    if (at != std::string::npos && at >= start && at < end) {
      size_t colon = s.find (':', start);
      if (colon != std::string::npos && colon < at) {
        s.replace (colon + 1, at - colon - 1, "***");
        end = colon + 1 + 3 + (end - at);
      }
    }
    pos = end;
  }
  /* NAME=VALUE settings of launch descriptions */
  static const char *const keys[]
      = { "user-pw=", "proxy-pw=", "password=", "passwd=" };
  for (const char *k : keys) {
    size_t klen = strlen (k);
    for (size_t pos = 0; pos + klen <= s.size ();) {
      if (g_ascii_strncasecmp (s.c_str () + pos, k, klen) != 0
          || (pos > 0
              && (g_ascii_isalnum (s[pos - 1]) || s[pos - 1] == '-'
                  || s[pos - 1] == '_'))) {
        pos++;
        continue;
      }
      size_t v = pos + klen, e;
      if (v < s.size () && s[v] == '\\')
        v++;
      if (v < s.size () && (s[v] == '"' || s[v] == '\'')) {
        e = s.find (s[v], v + 1);
        e = e == std::string::npos ? s.size () : e + 1;
      } else {
        e = s.find_first_of (" \t\r\n", v);
        if (e == std::string::npos)
          e = s.size ();
      }
      s.replace (pos + klen, e - pos - klen, "***");
      pos += klen + 3;
    }
  }
  return s;
}

std::string
log_safe (const char *s, gsize max)
{
  std::string r;
  for (const char *p = s ? s : ""; *p && r.size () < max; p++)
    r += (guchar)*p < 0x20 || *p == 0x7f ? '?' : *p;
  if (s && strlen (s) > max)
    r += "...";
  return r;
}

/* ------------------------------------------------------------------ */
/* Descriptions                                                        */

static const char *
h264_encoder () noexcept
{
  if (element_exists ("x264enc"))
    return "x264enc";
  if (element_exists ("openh264enc"))
    return "openh264enc";
  return nullptr;
}

/* Checks that @codec can be produced and payloaded. */
static bool
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

/* The part of a source pipeline before the writer. */
static bool
source_head (Source &s, std::string *head, GError **error) noexcept
{
  const std::string &spec = s.cfg.spec;
  if (spec == "test" || g_str_has_prefix (spec.c_str (), "test:")) {
    guint w = 1280, h = 720, fps = 30;
    if (spec.size () > 5) {
      char tail = 0;
      int n = sscanf (spec.c_str () + 5, "%ux%u@%u%c", &w, &h, &fps, &tail);
      if ((n != 2 && n != 3) || w < 16 || h < 16 || w > 7680 || h > 4320
          || fps == 0 || fps > 240) {
        g_set_error (error, FANOUT_SERVER_ERROR, FANOUT_SERVER_ERROR_USAGE,
                     "bad test source '%s' for %s: %s", spec.c_str (),
                     s.cfg.name.c_str (), kTestSpecHelp);
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
    s.v4l2 = true;
    s.device = spec.size () > 5 ? spec.substr (5) : "/dev/video0";
    if (!element_exists ("v4l2src")) {
      g_set_error (error, FANOUT_SERVER_ERROR, FANOUT_SERVER_ERROR_MISSING,
                   "source %s needs v4l2src, which is not installed: install "
                   "gstreamer1.0-plugins-good",
                   s.cfg.name.c_str ());
      return false;
    }
    /* Completed in source_prepare () once the camera is there and its
     * formats are known: a camera not plugged in yet is waited for. */
    *head = "v4l2src device=" + quote (s.device);
    return true;
  }
  if (g_str_has_prefix (spec.c_str (), "launch:")) {
    s.capacity = 64; /* raw or encoded: 2 s at 30 fps */
    *head = spec.substr (7);
    if (head->find_first_not_of (" \t") == std::string::npos) {
      g_set_error (error, FANOUT_SERVER_ERROR, FANOUT_SERVER_ERROR_USAGE,
                   "empty launch source for %s: write launch:PIPELINE, e.g. "
                   "launch:videotestsrc is-live=true",
                   s.cfg.name.c_str ());
      return false;
    }
    return true;
  }
  if (g_str_has_prefix (spec.c_str (), "rtsp://")
      || g_str_has_prefix (spec.c_str (), "rtsps://")
      || g_str_has_prefix (spec.c_str (), "rtspt://")) {
    /* Relay: depayload and parse, never decode; mounts copy or re-encode. */
    s.capacity = 512; /* encoded: several GOPs */
    /* Depayloaded, never decoded or re-parsed: decodebin stops at the
     * first element whose caps match (the depayloader's, AU-aligned), so
     * a frame goes on the moment its last packet came. parsebin waited
     * for the next frame to end each one: a frame (33 ms at 30 fps) more
     * per hop (docs/benchmarks/relay-chain.md). Other codecs are decoded
     * (a mount then encodes them). The jitter buffer's latency is how long
     * a missing or late packet is waited for. */
    *head = "rtspsrc location=" + quote (spec) + " latency="
            + std::to_string (s.runner.server->cfg.relay_latency_ms)
            + " ! decodebin caps=\"video/x-h264,alignment=au;"
              "video/x-h265,alignment=au;image/jpeg;video/x-vp8;video/x-vp9\"";
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
                   redact (spec).c_str (), s.cfg.name.c_str ());
      return false;
    }
    /* clocksync paces files to the clock, as a camera would be. */
    *head = "uridecodebin uri=" + quote (spec) + " ! videoconvert ! clocksync";
    return true;
  }
  g_set_error (error, FANOUT_SERVER_ERROR, FANOUT_SERVER_ERROR_USAGE,
               "unknown source '%s' for %s: use test, v4l2[:DEVICE], "
               "rtsp://HOST/PATH, a URI (file:///...) or launch:PIPELINE",
               redact (spec).c_str (), s.cfg.name.c_str ());
  return false;
}

/* Opens the camera once to read its formats: its own H.264 or MJPEG is
 * passed through, else raw video. A busy or broken camera fails here. */
static bool
probe_v4l2 (Source &s, std::string *head, GError **error) noexcept
{
  GstElement *src = gst_element_factory_make ("v4l2src", nullptr);
  if (!src) {
    g_set_error (error, FANOUT_SERVER_ERROR, FANOUT_SERVER_ERROR_MISSING,
                 "cannot create v4l2src: install gstreamer1.0-plugins-good");
    return false;
  }
  g_object_set (src, "device", s.device.c_str (), nullptr);
  if (gst_element_set_state (src, GST_STATE_READY)
      == GST_STATE_CHANGE_FAILURE) {
    gst_element_set_state (src, GST_STATE_NULL);
    gst_object_unref (src);
    g_set_error (error, FANOUT_SERVER_ERROR, FANOUT_SERVER_ERROR_MISSING,
                 "cannot open camera %s for source %s (busy or not a "
                 "camera): close the program using it, or pick another "
                 "device from --list-devices",
                 s.device.c_str (), s.cfg.name.c_str ());
    return false;
  }
  GstPad *pad = gst_element_get_static_pad (src, "src");
  GstCaps *caps = gst_pad_query_caps (pad, nullptr);
  bool h264 = false, jpeg = false;
  for (guint i = 0; i < gst_caps_get_size (caps); i++) {
    const char *n = gst_structure_get_name (gst_caps_get_structure (caps, i));
    h264 = h264 || g_str_equal (n, "video/x-h264");
    jpeg = jpeg || g_str_equal (n, "image/jpeg");
  }
  gst_caps_unref (caps);
  gst_object_unref (pad);
  gst_element_set_state (src, GST_STATE_NULL);
  gst_object_unref (src);
  if (h264 || jpeg)
    s.capacity = 512; /* the camera's own encoding: several GOPs */
  if (h264)
    *head += " ! video/x-h264 ! h264parse config-interval=-1";
  else if (jpeg)
    *head += " ! image/jpeg ! jpegparse";
  else
    *head += " ! videoconvert";
  return true;
}

/* Completes the source's pipeline once: a camera must be there (else a
 * SOURCE error: waited for) and is probed (a device that cannot be opened
 * is a MISSING error). */
static bool
source_prepare (Source &s, GError **error) noexcept
{
  if (s.prepared)
    return true;
  if (s.v4l2) {
    if (!g_file_test (s.device.c_str (), G_FILE_TEST_EXISTS)) {
      g_set_error (error, FANOUT_SERVER_ERROR, FANOUT_SERVER_ERROR_SOURCE,
                   "camera %s for source %s does not exist: plug it in, or "
                   "pick one from fanout-rtsp-server --list-devices",
                   s.device.c_str (), s.cfg.name.c_str ());
      return false;
    }
    if (!probe_v4l2 (s, &s.runner.desc, error))
      return false;
  }
  s.runner.desc += " ! " + writer_desc (s.channel, s.capacity);
  s.prepared = true;
  return true;
}

static std::string
encoder_chain (const Mount &m, guint src_fps)
{
  guint fps = m.cfg.fps ? m.cfg.fps : (src_fps ? src_fps : 30);
  guint keyint = MAX (1u, (guint)std::lround (m.cfg.gop * fps));
  gchar *d = nullptr;
  switch (m.codec) {
  case Codec::Mjpeg:
    d = g_strdup_printf ("jpegenc name=enc quality=85");
    break;
  case Codec::H265:
    d = g_strdup_printf ("x265enc name=enc tune=zerolatency "
                         "speed-preset=ultrafast bitrate=%u key-int-max=%u "
                         "! h265parse config-interval=-1",
                         m.cfg.bitrate, keyint);
    break;
  case Codec::Vp8:
    d = g_strdup_printf ("vp8enc name=enc deadline=1 cpu-used=8 "
                         "end-usage=cbr target-bitrate=%u "
                         "keyframe-max-dist=%u lag-in-frames=0 "
                         "error-resilient=default",
                         m.cfg.bitrate * 1000, keyint);
    break;
  default:
    if (g_str_equal (h264_encoder (), "x264enc"))
      d = g_strdup_printf ("x264enc name=enc tune=zerolatency "
                           "speed-preset=ultrafast bitrate=%u aud=false "
                           "key-int-max=%u ! video/x-h264,profile=baseline "
                           "! h264parse config-interval=-1",
                           m.cfg.bitrate, keyint);
    else
      d = g_strdup_printf ("openh264enc name=enc complexity=low "
                           "bitrate=%u gop-size=%u ! h264parse "
                           "config-interval=-1",
                           m.cfg.bitrate * 1000, keyint);
    break;
  }
  std::string r = d;
  g_free (d);
  return r;
}

/* Two GOPs of encoded frames (at least 64 items). */
static guint
mount_ring_capacity (const Mount &m, guint src_fps)
{
  guint fps = m.cfg.fps ? m.cfg.fps : (src_fps ? src_fps : 30);
  return MAX (64u, (guint)std::lround (2.0 * m.cfg.gop * fps) + 8);
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

/* ------------------------------------------------------------------ */
/* Runners                                                             */

static gboolean runner_bus_cb (GstBus *, GstMessage *msg,
                               gpointer data) noexcept;

static GstPadProbeReturn
writer_probe (GstPad *, GstPadProbeInfo *info, gpointer data) noexcept
{
  auto *r = static_cast<Runner *> (data);
  if (info->type & GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM) {
    GstEvent *ev = GST_PAD_PROBE_INFO_EVENT (info);
    if (GST_EVENT_TYPE (ev) == GST_EVENT_CAPS) {
      GstCaps *caps = nullptr;
      gst_event_parse_caps (ev, &caps);
      std::lock_guard<std::mutex> g (r->caps_lock);
      gst_caps_replace (&r->caps, caps);
    }
    return GST_PAD_PROBE_OK;
  }
  bool key = true;
  if (info->type & GST_PAD_PROBE_TYPE_BUFFER)
    key = !GST_BUFFER_FLAG_IS_SET (GST_PAD_PROBE_INFO_BUFFER (info),
                                   GST_BUFFER_FLAG_DELTA_UNIT);
  if (key) {
    {
      std::lock_guard<std::mutex> g (r->kf_lock);
      r->keyframes.fetch_add (1, std::memory_order_relaxed); /* under lock */
    }
    r->kf_cond.notify_all ();
  }
  /* release: the caps stored above are visible to whoever sees true. */
  if (!r->got_buffer.load (std::memory_order_relaxed))
    r->got_buffer.store (true, std::memory_order_release);
  return GST_PAD_PROBE_OK;
}

/* Builds and starts the pipeline (no waiting). */
static bool
runner_start (Runner &r, GError **error) noexcept
{
  GError *err = nullptr;
  GstElement *p = gst_parse_launch_full (r.desc.c_str (), nullptr,
                                         GST_PARSE_FLAG_FATAL_ERRORS, &err);
  if (!p) {
    g_set_error (error, FANOUT_SERVER_ERROR, FANOUT_SERVER_ERROR_USAGE,
                 "%s: pipeline '%s' is not valid (%s): fix the description",
                 r.label.c_str (), redact (r.desc).c_str (),
                 redact (err ? err->message : "?").c_str ());
    g_clear_error (&err);
    return false;
  }
  r.set_pipeline (p);
  r.got_buffer.store (false, std::memory_order_relaxed); /* no reader yet */
  GstElement *ring = gst_bin_get_by_name (GST_BIN (p), "ring");
  if (ring) {
    GstPad *pad = gst_element_get_static_pad (ring, "sink");
    gst_pad_add_probe (pad,
                       (GstPadProbeType)(GST_PAD_PROBE_TYPE_BUFFER
                                         | GST_PAD_PROBE_TYPE_BUFFER_LIST
                                         | GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM),
                       writer_probe, &r, nullptr);
    gst_object_unref (pad);
    gst_object_unref (ring);
  }
  GstBus *bus = gst_element_get_bus (p);
  r.bus_source = gst_bus_create_watch (bus);
  g_source_set_callback (
      r.bus_source, (GSourceFunc)(void (*) (void))runner_bus_cb, &r, nullptr);
  g_source_attach (r.bus_source, r.server->context);
  gst_object_unref (bus);
  r.started_us = g_get_monotonic_time ();
  if (gst_element_set_state (p, GST_STATE_PLAYING)
      == GST_STATE_CHANGE_FAILURE) {
    /* The bus holds the reason; the caller reads it. */
    GST_DEBUG ("%s: state change failed", r.label.c_str ());
  }
  return true;
}

static void
runner_stop (Runner &r) noexcept
{
  if (r.retry_source) {
    g_source_destroy (r.retry_source);
    g_source_unref (r.retry_source);
    r.retry_source = nullptr;
  }
  if (r.bus_source) {
    g_source_destroy (r.bus_source);
    g_source_unref (r.bus_source);
    r.bus_source = nullptr;
  }
  if (GstElement *p = r.pipeline) {
    r.set_pipeline (nullptr);
    gst_element_set_state (p, GST_STATE_NULL);
    gst_object_unref (p);
  }
}

static void encoder_restarted (Mount *m) noexcept;
static gboolean runner_retry_cb (gpointer data) noexcept;

/* Arms the next attempt after the backoff (unless one is armed) and
 * doubles the backoff. */
static void
runner_schedule_retry (Runner &r) noexcept
{
  if (!r.retry_source) {
    r.retry_source = g_timeout_source_new (r.backoff_ms);
    g_source_set_callback (r.retry_source, runner_retry_cb, &r, nullptr);
    g_source_attach (r.retry_source, r.server->context);
  }
  r.backoff_ms = MIN (r.backoff_ms * 2, kBackoffMaxMs);
}

/* Logs why the runner is down and when it tries again. A source that has
 * never been up says so in one line (its mounts answer 503 until it is up);
 * retries that fail the same way, or fail on the bus once that line is out,
 * go to the debug log (@from_bus: the pipeline posted the error). */
static void
runner_log_down (Runner &r, const char *why, bool from_bus) noexcept
{
  Source *src = r.source;
  if (src && !src->up) {
    if (src->down_why == why || (from_bus && !src->down_why.empty ())) {
      GST_INFO ("%s: %s; retrying in %.1f s", r.label.c_str (), why,
                r.backoff_ms / 1000.0);
      return;
    }
    src->down_why = why;
    /* Our own messages name the source already. */
    std::string named = "for " + r.label;
    std::string head = g_str_has_prefix (why, r.label.c_str ())
                               || strstr (why, named.c_str ())
                           ? std::string ()
                           : r.label + " (" + redact (src->cfg.spec) + "): ";
    log_line (r.server,
              "%s%s; not available: retrying in %.1f s (then up to every "
              "%u s), its mounts answer 503 until it is up",
              head.c_str (), redact (why).c_str (), r.backoff_ms / 1000.0,
              kBackoffMaxMs / 1000);
    return;
  }
  log_line (r.server, "%s: %s; retrying in %.1f s", r.label.c_str (),
            redact (why).c_str (), r.backoff_ms / 1000.0);
}

static gboolean
runner_retry_cb (gpointer data) noexcept
{
  auto *r = static_cast<Runner *> (data);
  g_source_unref (r->retry_source);
  r->retry_source = nullptr;
  GError *err = nullptr;
  r->restarts++;
  if (r->source && !r->source->up)
    GST_INFO ("%s: attempt %u", r->label.c_str (), r->restarts);
  else
    log_line (r->server, "%s: restarting (attempt %u)", r->label.c_str (),
              r->restarts);
  bool was_prepared = r->source && r->source->prepared;
  if (r->source && !source_prepare (*r->source, &err)) {
    runner_log_down (*r, err->message, false);
    g_error_free (err);
    runner_schedule_retry (*r);
    return G_SOURCE_REMOVE;
  }
  if (r->source && !was_prepared && !r->source->down_why.empty ()) {
    /* The camera is there now: a failure from here on is news. */
    log_line (r->server, "%s: %s is there now, starting", r->label.c_str (),
              r->source->device.c_str ());
    r->source->down_why.clear ();
  }
  if (!runner_start (*r, &err)) {
    runner_log_down (*r, err->message, false);
    g_error_free (err);
    runner_schedule_retry (*r);
    return G_SOURCE_REMOVE;
  }
  if (r->mount)
    encoder_restarted (r->mount);
  return G_SOURCE_REMOVE;
}

/* The pipeline failed or ended: let its readers see EOS, stop it and try
 * again after the backoff. */
static void
runner_fail (Runner &r, const char *why) noexcept
{
  if (!r.pipeline)
    return;
  gint64 ran = g_get_monotonic_time () - r.started_us;
  if (r.got_buffer.load (std::memory_order_acquire)
      && ran > 10 * G_TIME_SPAN_SECOND)
    r.backoff_ms = kBackoffMinMs;
  runner_log_down (r, why, true);
  GstElement *ring = gst_bin_get_by_name (GST_BIN (r.pipeline), "ring");
  if (ring) {
    GstPad *pad = gst_element_get_static_pad (ring, "sink");
    gst_pad_send_event (pad, gst_event_new_eos ());
    gst_object_unref (pad);
    gst_object_unref (ring);
  }
  GSource *keep_retry = r.retry_source;
  r.retry_source = nullptr;
  runner_stop (r);
  r.retry_source = keep_retry;
  runner_schedule_retry (r);
}

static gboolean
runner_bus_cb (GstBus *, GstMessage *msg, gpointer data) noexcept
{
  auto *r = static_cast<Runner *> (data);
  switch (GST_MESSAGE_TYPE (msg)) {
  case GST_MESSAGE_ERROR: {
    GError *err = nullptr;
    gst_message_parse_error (msg, &err, nullptr);
    gchar *why = g_strdup_printf ("failed: %s", err ? err->message : "?");
    g_clear_error (&err);
    runner_fail (*r, why);
    g_free (why);
    /* The bus source is gone with the pipeline. */
    return G_SOURCE_REMOVE;
  }
  case GST_MESSAGE_EOS:
    /* A file that played to its end is looped at once, not backed off. */
    if (r->got_buffer.load (std::memory_order_acquire))
      r->backoff_ms = kBackoffMinMs;
    runner_fail (*r, "ended");
    return G_SOURCE_REMOVE;
  case GST_MESSAGE_WARNING: {
    GError *err = nullptr;
    gst_message_parse_warning (msg, &err, nullptr);
    GST_WARNING ("%s: %s", r->label.c_str (), err ? err->message : "?");
    g_clear_error (&err);
    break;
  }
  default:
    break;
  }
  return G_SOURCE_CONTINUE;
}

/* Starts a source and waits for its first buffer (or its error). */
static bool
source_start_and_wait (Source &s, GError **error) noexcept
{
  if (!runner_start (s.runner, error))
    return false;
  GstBus *bus = gst_element_get_bus (s.runner.pipeline);
  gint64 deadline = g_get_monotonic_time () + kSourceStartTimeoutUs;
  bool ok = false;
  while (g_get_monotonic_time () < deadline) {
    if (s.runner.got_buffer.load (std::memory_order_acquire)) {
      ok = true;
      break;
    }
    GstMessage *m = gst_bus_timed_pop_filtered (
        bus, 20 * GST_MSECOND,
        (GstMessageType)(GST_MESSAGE_ERROR | GST_MESSAGE_EOS));
    if (!m)
      continue;
    if (GST_MESSAGE_TYPE (m) == GST_MESSAGE_ERROR) {
      GError *err = nullptr;
      gchar *dbg = nullptr;
      gst_message_parse_error (m, &err, &dbg);
      GST_DEBUG ("%s: %s (%s)", s.runner.label.c_str (),
                 err ? err->message : "?", dbg ? dbg : "");
      const char *fix = "check the source spec";
      /* A missing plugin is fixed by installing it, not by retrying. */
      int code = FANOUT_SERVER_ERROR_SOURCE;
      if (err && err->domain == GST_CORE_ERROR
          && err->code == GST_CORE_ERROR_MISSING_PLUGIN) {
        fix = "install the missing plugin";
        code = FANOUT_SERVER_ERROR_MISSING;
      } else if (g_str_has_prefix (s.cfg.spec.c_str (), "rtsp"))
        fix = "start that server first or fix the address";
      g_set_error (error, FANOUT_SERVER_ERROR, code,
                   "source %s (%s) failed to start: %s: %s",
                   s.cfg.name.c_str (), redact (s.cfg.spec).c_str (),
                   redact (err ? err->message : "unknown error").c_str (), fix);
      g_clear_error (&err);
      g_free (dbg);
      gst_message_unref (m);
      break;
    }
    g_set_error (error, FANOUT_SERVER_ERROR, FANOUT_SERVER_ERROR_SOURCE,
                 "source %s (%s) ended before its first frame: give a "
                 "source that produces video",
                 s.cfg.name.c_str (), redact (s.cfg.spec).c_str ());
    gst_message_unref (m);
    break;
  }
  gst_object_unref (bus);
  if (!ok && error && !*error)
    g_set_error (error, FANOUT_SERVER_ERROR, FANOUT_SERVER_ERROR_SOURCE,
                 "source %s (%s) produced no frame in %d s: check that it "
                 "is reachable and produces video",
                 s.cfg.name.c_str (), redact (s.cfg.spec).c_str (),
                 (int)(kSourceStartTimeoutUs / G_TIME_SPAN_SECOND));
  return ok;
}

/* ------------------------------------------------------------------ */
/* Media probes: frames, bytes, join latency, not seekable             */

static void
record_join (Mount *m, double secs) noexcept
{
  guint i = 0;
  while (i < kNumJoinBuckets && secs > kJoinBuckets[i])
    i++;
  m->join_bucket[i]++;
  m->join_count++;
  m->join_sum += secs;
  if (m->recent_joins.size () >= 1024)
    m->recent_joins.erase (m->recent_joins.begin ());
  m->recent_joins.push_back (secs);
}

static GstPadProbeReturn
pay_sink_probe (GstPad *, GstPadProbeInfo *info, gpointer data) noexcept
{
  auto *mi = static_cast<MediaInfo *> (data);
  Mount *m = mi->mount;
  GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info);
  m->frames.fetch_add (1, std::memory_order_relaxed); /* counter */
  mi->frame_key
      = buf && !GST_BUFFER_FLAG_IS_SET (buf, GST_BUFFER_FLAG_DELTA_UNIT);
  if (mi->frame_key) {
    m->keyframes.fetch_add (1, std::memory_order_relaxed); /* counter */
    gint64 now = g_get_monotonic_time ();
    std::lock_guard<std::mutex> g (m->lock);
    auto it = m->pending.begin ();
    while (it != m->pending.end ()) {
      if (it->media == mi->media) {
        record_join (m, (now - it->play_us) / 1e6);
        it = m->pending.erase (it);
      } else {
        ++it;
      }
    }
  }
  return GST_PAD_PROBE_OK;
}

static gboolean
add_size (GstBuffer **buf, guint, gpointer data) noexcept
{
  *static_cast<guint64 *> (data) += gst_buffer_get_size (*buf);
  return TRUE;
}

static GstPadProbeReturn
pay_src_probe (GstPad *, GstPadProbeInfo *info, gpointer data) noexcept
{
  auto *mi = static_cast<MediaInfo *> (data);
  if (info->type & GST_PAD_PROBE_TYPE_QUERY_UPSTREAM) {
    /* A shared live media is never rewound for a client: not seekable. */
    GstQuery *q = GST_PAD_PROBE_INFO_QUERY (info);
    if (GST_QUERY_TYPE (q) == GST_QUERY_SEEKING) {
      GstFormat fmt;
      gst_query_parse_seeking (q, &fmt, nullptr, nullptr, nullptr);
      gst_query_set_seeking (q, fmt, FALSE, 0, -1);
      return GST_PAD_PROBE_HANDLED;
    }
    return GST_PAD_PROBE_OK;
  }
  guint64 n = 0;
  /* Isolated: every frame also goes to the sender, which is where each
   * client gets it from (see drop_rtp_probe). */
  Sender *sender = mi->mount->sender.get ();
  if (info->type & GST_PAD_PROBE_TYPE_BUFFER) {
    GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info);
    n = gst_buffer_get_size (buf);
    if (sender) {
      GstBufferList *one = gst_buffer_list_new_sized (1);
      gst_buffer_list_add (one, gst_buffer_ref (buf));
      sender->push (mi->media, one, mi->frame_key);
      gst_buffer_list_unref (one);
    }
  } else if (info->type & GST_PAD_PROBE_TYPE_BUFFER_LIST) {
    GstBufferList *list = GST_PAD_PROBE_INFO_BUFFER_LIST (info);
    gst_buffer_list_foreach (list, add_size, &n);
    /* fanoutpaybin pushes one list per frame (see fanoutpaybin.cpp) */
    if (sender)
      sender->push (mi->media, list, mi->frame_key);
  }
  mi->mount->bytes.fetch_add (n, std::memory_order_relaxed); /* counter */
  return GST_PAD_PROBE_OK;
}

static void wait_fresh_keyframe (Mount *m) noexcept;

/* ------------------------------------------------------------------ */
/* Idle saving: an encoding mount without media pauses its encoder.   */

static gboolean
encoder_idle_cb (gpointer data) noexcept
{
  auto *m = static_cast<Mount *> (data);
  std::lock_guard<std::mutex> sl (m->encoder_state_lock);
  bool pause = false;
  {
    std::lock_guard<std::mutex> g (m->lock);
    /* A resume that came first took the source away (and its ref). */
    if (m->idle_source != g_main_current_source ())
      return G_SOURCE_REMOVE;
    g_source_unref (std::exchange (m->idle_source, nullptr));
    pause = m->live_medias == 0 && !m->encoder_paused;
    if (pause) {
      m->encoder_paused = true;
      m->idle_pauses++;
    }
  }
  /* The server context: the one that sets and clears the pipeline. */
  if (pause && m->encoder.pipeline) {
    gst_element_set_state (m->encoder.pipeline, GST_STATE_PAUSED);
    log_line (m->encoder.server, "mount %s: no client for %u s, encoder paused",
              m->cfg.path.c_str (), m->encoder.server->cfg.idle_pause_s);
  }
  return G_SOURCE_REMOVE;
}

/* With m->lock held: the last media went away, pause after the grace. */
static void
encoder_arm_idle_locked (Mount *m) noexcept
{
  guint secs = m->encoder.server->cfg.idle_pause_s;
  if (m->encoder.desc.empty () || !secs || m->live_medias > 0 || m->idle_source
      || m->encoder_paused)
    return;
  m->idle_source = g_timeout_source_new_seconds (secs);
  g_source_set_callback (m->idle_source, encoder_idle_cb, m, nullptr);
  g_source_attach (m->idle_source, m->encoder.server->context);
}

/* The encoder pipeline was started again (it failed): it runs, and pauses
 * again after the grace when it still has no media. */
static void
encoder_restarted (Mount *m) noexcept
{
  std::lock_guard<std::mutex> sl (m->encoder_state_lock);
  std::lock_guard<std::mutex> g (m->lock);
  m->encoder_paused = false;
  encoder_arm_idle_locked (m);
}

/* A media of @m is being configured (a client thread): count it and, if
 * the encoder was paused, resume it before the media waits for a fresh
 * keyframe. */
static void
encoder_media_added (Mount *m, MediaInfo *mi) noexcept
{
  std::lock_guard<std::mutex> sl (m->encoder_state_lock);
  bool resume = false;
  GSource *idle = nullptr;
  {
    std::lock_guard<std::mutex> g (m->lock);
    m->live_medias++;
    mi->live = true;
    idle = std::exchange (m->idle_source, nullptr);
    resume = std::exchange (m->encoder_paused, false);
  }
  if (idle) {
    g_source_destroy (idle);
    g_source_unref (idle);
  }
  if (!resume)
    return;
  ObjRef<GstElement> pipeline (m->encoder.ref_pipeline ());
  if (pipeline) {
    gst_element_set_state (pipeline.get (), GST_STATE_PLAYING);
    log_line (m->encoder.server, "mount %s: client coming, encoder resumed",
              m->cfg.path.c_str ());
  }
}

static void
media_unprepared_cb (GstRTSPMedia *media, gpointer data) noexcept
{
  auto *m = static_cast<Mount *> (data);
  MediaInfo *gone = nullptr, *mi = nullptr;
  {
    std::lock_guard<std::mutex> g (m->lock);
    for (auto it = m->medias.begin (); it != m->medias.end (); ++it)
      if ((*it)->media == media) {
        gone = *it;
        m->medias.erase (it);
        break;
      }
    m->pending.erase (
        std::remove_if (m->pending.begin (), m->pending.end (),
                        [media] (const Join &j) { return j.media == media; }),
        m->pending.end ());
    mi = static_cast<MediaInfo *> (
        g_object_get_data (G_OBJECT (media), "fanout-media-info"));
    if (mi && mi->live) {
      mi->live = false;
      m->live_medias--;
      encoder_arm_idle_locked (m);
    }
  }
  /* Its frames are no longer published: a newer media takes over. */
  if (mi)
    if (auto sender = mi->sender.lock ())
      sender->detach (media);
  if (gone) {
    guint64 dropped = get_uint_prop (gone->ringsrc, "dropped");
    std::lock_guard<std::mutex> g (m->lock);
    m->drops_done += dropped;
  }
  /* The probes hold gone as user data until the pads die; the element ref
   * keeps them alive, so gone is freed with the media (see configure). */
}

/* On an isolated media's sinks: RTP packets go no further (each client
 * gets them from its own cursor), RTCP does (second byte 200-204). */
static GstPadProbeReturn
drop_rtp_probe (GstPad *, GstPadProbeInfo *info, gpointer) noexcept
{
  GstBuffer *b = nullptr;
  if (info->type & GST_PAD_PROBE_TYPE_BUFFER_LIST) {
    GstBufferList *list = GST_PAD_PROBE_INFO_BUFFER_LIST (info);
    b = gst_buffer_list_length (list) ? gst_buffer_list_get (list, 0) : nullptr;
  } else {
    b = GST_PAD_PROBE_INFO_BUFFER (info);
  }
  guint8 head[2] = { 0, 0 };
  if (b && gst_buffer_extract (b, 0, head, 2) == 2 && head[1] >= 200
      && head[1] <= 204)
    return GST_PAD_PROBE_OK;
  return GST_PAD_PROBE_DROP;
}

/* gst-rtsp-server adds its sinks when a PLAY completes the pipeline; they
 * are set up here as they come, before any data. Without a last sample on
 * them, gst-rtsp-server 1.22 takes RTP-Info from fanoutpaybin's stats: the
 * packet a joining client gets first. Isolated (@data non-null): its own
 * fan-out sends no RTP to anyone (RTCP still goes out). */
static void
sink_added_cb (GstBin *, GstBin *, GstElement *e, gpointer data) noexcept
{
  if (!GST_IS_BASE_SINK (e))
    return;
  gst_base_sink_set_last_sample_enabled (GST_BASE_SINK (e), FALSE);
  if (!data)
    return;
  GstPad *pad = gst_element_get_static_pad (e, "sink");
  if (!pad)
    return;
  gst_pad_add_probe (pad,
                     (GstPadProbeType)(GST_PAD_PROBE_TYPE_BUFFER
                                       | GST_PAD_PROBE_TYPE_BUFFER_LIST),
                     drop_rtp_probe, nullptr, nullptr);
  gst_object_unref (pad);
}

static void
media_prepared_cb (GstRTSPMedia *media, gpointer data) noexcept
{
  auto *m = static_cast<Mount *> (data);
  auto *mi = static_cast<MediaInfo *> (
      g_object_get_data (G_OBJECT (media), "fanout-media-info"));
  if (!mi)
    return;
  std::lock_guard<std::mutex> g (m->lock);
  if (std::find (m->medias.begin (), m->medias.end (), mi) == m->medias.end ())
    m->medias.push_back (mi);
}

static void
media_info_free (gpointer data) noexcept
{
  auto *mi = static_cast<MediaInfo *> (data);
  if (auto sender = mi->sender.lock ())
    sender->detach (mi->media);
  if (mi->ringsrc)
    gst_object_unref (mi->ringsrc);
  delete mi;
}

/* The source ended (it failed or reached its end, and is restarted): this
 * media saw EOS and will not play again. Isolated: its frames stop, a newer
 * media's may be published. New clients get another media (see
 * retire_dead_medias). Its streaming thread. */
static GstPadProbeReturn
ringsrc_eos_probe (GstPad *, GstPadProbeInfo *info, gpointer data) noexcept
{
  auto *mi = static_cast<MediaInfo *> (data);
  if (GST_EVENT_TYPE (GST_PAD_PROBE_INFO_EVENT (info)) != GST_EVENT_EOS)
    return GST_PAD_PROBE_OK;
  mi->ended.store (true, std::memory_order_release);
  if (auto sender = mi->sender.lock ())
    sender->detach (mi->media);
  return GST_PAD_PROBE_OK;
}

static void
media_configure_cb (GstRTSPMediaFactory *, GstRTSPMedia *media,
                    gpointer data) noexcept
{
  auto *m = static_cast<Mount *> (data);
  GstElement *bin = gst_rtsp_media_get_element (media);
  GstElement *pay = gst_bin_get_by_name (GST_BIN (bin), "pay0");
  GstElement *ringsrc = gst_bin_get_by_name (GST_BIN (bin), "ringsrc");
  ObjRef<GstElement> bin_ref (bin);
  if (!pay || !ringsrc) {
    if (pay)
      gst_object_unref (pay);
    if (ringsrc)
      gst_object_unref (ringsrc);
    return;
  }
  auto *mi = new MediaInfo{ m, media, ringsrc, false };
  {
    GstPad *rpad = gst_element_get_static_pad (ringsrc, "src");
    gst_pad_add_probe (rpad, GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM,
                       ringsrc_eos_probe, mi, nullptr);
    gst_object_unref (rpad);
  }
  /* mi lives as long as the media object. */
  g_object_set_data_full (G_OBJECT (media), "fanout-media-info", mi,
                          media_info_free);
  GstPad *sink = gst_element_get_static_pad (pay, "sink");
  gst_pad_add_probe (sink, GST_PAD_PROBE_TYPE_BUFFER, pay_sink_probe, mi,
                     nullptr);
  gst_object_unref (sink);
  GstPad *src = gst_element_get_static_pad (pay, "src");
  gst_pad_add_probe (src,
                     (GstPadProbeType)(GST_PAD_PROBE_TYPE_BUFFER
                                       | GST_PAD_PROBE_TYPE_BUFFER_LIST
                                       | GST_PAD_PROBE_TYPE_QUERY_UPSTREAM),
                     pay_src_probe, mi, nullptr);
  gst_object_unref (src);
  gst_object_unref (pay);
  /* Listed (for stats) from "prepared" to "unprepared": a media that never
   * prepared is never listed, so the list never outlives a media. */
  g_signal_connect (media, "prepared", G_CALLBACK (media_prepared_cb), m);
  g_signal_connect (media, "unprepared", G_CALLBACK (media_unprepared_cb), m);
  if (m->sender) {
    mi->sender = m->sender;
    m->sender->attach (media);
  }
  if (GstObject *pipeline = gst_object_get_parent (GST_OBJECT (bin))) {
    g_signal_connect (pipeline, "deep-element-added",
                      G_CALLBACK (sink_added_cb), m->sender.get ());
    gst_object_unref (pipeline);
  }
  encoder_media_added (m, mi);
  wait_fresh_keyframe (m);
}

/* ------------------------------------------------------------------ */
/* Clients                                                             */

static Mount *
find_mount (Server *s, const char *abspath) noexcept
{
  if (!abspath)
    return nullptr;
  Mount *best = nullptr;
  size_t best_len = 0;
  for (auto &m : s->mounts) {
    const std::string &p = m->cfg.path;
    if (g_str_has_prefix (abspath, p.c_str ())
        && (abspath[p.size ()] == '\0' || abspath[p.size ()] == '/')
        && p.size () > best_len) {
      best = m.get ();
      best_len = p.size ();
    }
  }
  return best;
}

static ClientState *
client_state (GstRTSPClient *client) noexcept
{
  return static_cast<ClientState *> (
      g_object_get_data (G_OBJECT (client), "fanout-client"));
}

static const char *
transport_name (GstRTSPStreamTransport *trans) noexcept
{
  const GstRTSPTransport *t
      = trans ? gst_rtsp_stream_transport_get_transport (trans) : nullptr;
  if (!t)
    return "-";
  return t->lower_transport == GST_RTSP_LOWER_TRANS_TCP         ? "tcp"
         : t->lower_transport == GST_RTSP_LOWER_TRANS_UDP_MCAST ? "multicast"
                                                                : "udp";
}

static std::string
session_id (GstRTSPSession *session)
{
  const gchar *id
      = session ? gst_rtsp_session_get_sessionid (session) : nullptr;
  return id ? id : "";
}

/* The authenticated user of a request ("" without authentication). */
static std::string
ctx_user (const GstRTSPContext *ctx)
{
  const gchar *u = ctx && ctx->token
                       ? gst_rtsp_token_get_string (ctx->token, kTokenUser)
                       : nullptr;
  return u ? u : "";
}

/* The record of session @id on @m, or nullptr. With s->lock held. */
static SessionState *
find_session_locked (Server *s, const std::string &id, Mount *m) noexcept
{
  auto range = s->sessions.equal_range (id);
  for (auto it = range.first; it != range.second; ++it)
    if (it->second.mount == m)
      return &it->second;
  return nullptr;
}

/* A request that would add a session on @m (@new_session: a session too)
 * beyond --max-clients, or beyond this connection's share: 503. */
static GstRTSPStatusCode
check_capacity (ClientState *cs, Mount *m, bool new_session,
                const GstRTSPContext *ctx) noexcept
{
  Server *s = cs->server;
  if (new_session) {
    guint held = 0;
    {
      std::lock_guard<std::mutex> g (s->lock);
      for (auto &[id, conn] : s->owners)
        held += conn == cs->id;
    }
    if (held >= kMaxSessionsPerConnection) {
      log_line (s,
                "client %s (user %s) refused on %s: %u sessions on one "
                "connection already",
                cs->address.c_str (), ctx_user (ctx).c_str (),
                m->cfg.path.c_str (), held);
      return GST_RTSP_STS_SERVICE_UNAVAILABLE;
    }
  }
  if (m->max_clients <= 0)
    return GST_RTSP_STS_OK;
  int clients;
  {
    std::lock_guard<std::mutex> g (m->lock);
    clients = m->clients;
  }
  if (clients >= m->max_clients) {
    log_line (s, "client %s refused on %s: %d clients already (max-clients)",
              cs->address.c_str (), m->cfg.path.c_str (), clients);
    return GST_RTSP_STS_SERVICE_UNAVAILABLE;
  }
  return GST_RTSP_STS_OK;
}

/* Digest: gst-rtsp-server checks the response against the uri= the client
 * names, not against the request's URL, so a response captured for one
 * URL opened another. A Digest header whose uri= is not the request's URL
 * is refused (401). */
static GstRTSPStatusCode
check_digest_uri (ClientState *cs, const GstRTSPContext *ctx) noexcept
{
  if (cs->server->cfg.users.empty () || cs->server->cfg.basic || !ctx->request)
    return GST_RTSP_STS_OK;
  gchar *h = nullptr;
  if (gst_rtsp_message_get_header (ctx->request, GST_RTSP_HDR_AUTHORIZATION, &h,
                                   0)
          != GST_RTSP_OK
      || !h || g_ascii_strncasecmp (h, "Digest ", 7) != 0)
    return GST_RTSP_STS_OK;
  GstRTSPMethod method;
  const gchar *url = nullptr;
  if (gst_rtsp_message_parse_request (ctx->request, &method, &url, nullptr)
          != GST_RTSP_OK
      || !url)
    return GST_RTSP_STS_OK;
  const char *u = strstr (h, "uri=\"");
  const char *e = u ? strchr (u + 5, '"') : nullptr;
  if (u && e && std::string (u + 5, e - u - 5) == url)
    return GST_RTSP_STS_OK;
  log_line (cs->server,
            "client %s (user %s): %s %s: Digest response for another uri= "
            "refused",
            cs->address.c_str (), ctx_user (ctx).c_str (),
            gst_rtsp_method_as_text (method), redact (log_safe (url)).c_str ());
  return GST_RTSP_STS_UNAUTHORIZED;
}

/* A request naming a session (its Session header) that another connection
 * set up is answered as if there were no such session: knowing a session
 * id does not make one its owner. */
static GstRTSPStatusCode
check_owner (ClientState *cs, const GstRTSPContext *ctx,
             const char *method) noexcept
{
  /* (every request that can name a session comes here first) */
  if (check_digest_uri (cs, ctx) != GST_RTSP_STS_OK)
    return GST_RTSP_STS_UNAUTHORIZED;
  if (!ctx->session)
    return GST_RTSP_STS_OK;
  Server *s = cs->server;
  std::string id = session_id (ctx->session);
  {
    std::lock_guard<std::mutex> g (s->lock);
    auto it = s->owners.find (id);
    if (it != s->owners.end () && it->second == cs->id)
      return GST_RTSP_STS_OK;
  }
  log_line (s,
            "client %s (user %s): %s of another connection's session "
            "refused (454)",
            cs->address.c_str (), ctx_user (ctx).c_str (), method);
  return GST_RTSP_STS_SESSION_NOT_FOUND;
}

/* gst-rtsp-server makes a connection watch every session its requests
 * name, before any hook can refuse them, and when that connection closes
 * it tears down the TCP transports of every session it watches: one
 * request naming someone else's session, then a disconnect, cut that
 * session off. So after each request a connection stops watching the
 * sessions it does not own (with drop-backlog, the default, unwatching
 * only drops a reference). */
static GstRTSPFilterResult
unwatch_foreign (GstRTSPClient *client, GstRTSPSession *session,
                 gpointer data) noexcept
{
  auto *cs = static_cast<ClientState *> (data);
  std::string id = session_id (session);
  {
    std::lock_guard<std::mutex> g (cs->server->lock);
    auto it = cs->server->owners.find (id);
    if (it != cs->server->owners.end () && it->second == cs->id)
      return GST_RTSP_FILTER_KEEP;
  }
  GST_DEBUG ("client %p stops watching session %s", (void *)client,
             id.c_str ());
  return GST_RTSP_FILTER_REMOVE;
}

/* The user name a request's Authorization header claims ("" if none). */
static std::string
claimed_user (GstRTSPMessage *request)
{
  gchar *h = nullptr;
  if (!request
      || gst_rtsp_message_get_header (request, GST_RTSP_HDR_AUTHORIZATION, &h,
                                      0)
             != GST_RTSP_OK
      || !h)
    return "";
  if (g_ascii_strncasecmp (h, "Basic ", 6) == 0) {
    gsize len = 0;
    guchar *dec = g_base64_decode (h + 6, &len);
    std::string up ((const char *)dec, len);
    g_free (dec);
    return up.substr (0, up.find (':'));
  }
  const char *u = strstr (h, "username=\"");
  if (!u)
    return "";
  u += 10;
  const char *e = strchr (u, '"');
  return e ? std::string (u, e - u) : std::string ();
}

static void
send_message_cb (GstRTSPClient *client, GstRTSPContext *ctx,
                 GstRTSPMessage *msg, gpointer) noexcept
{
  ClientState *cs = client_state (client);
  if (!cs)
    return;
  GList *gone = gst_rtsp_client_session_filter (client, unwatch_foreign, cs);
  g_list_free_full (gone, g_object_unref);
  /* Every refused request is logged: client, user, method, path, status
   * (what fail2ban reads). */
  if (!msg || gst_rtsp_message_get_type (msg) != GST_RTSP_MESSAGE_RESPONSE
      || msg->type_data.response.code < 400)
    return;
  GstRTSPMethod method = GST_RTSP_INVALID;
  const gchar *uri = nullptr;
  if (ctx && ctx->request
      && gst_rtsp_message_get_type (ctx->request) == GST_RTSP_MESSAGE_REQUEST)
    gst_rtsp_message_parse_request (ctx->request, &method, &uri, nullptr);
  std::string user = ctx_user (ctx);
  if (user.empty ()) {
    user = claimed_user (ctx ? ctx->request : nullptr);
    if (!user.empty () && msg->type_data.response.code == 401)
      user += " (refused)";
  }
  log_line (cs->server, "client %s (user %s): %s %s: %d %s",
            cs->address.c_str (),
            user.empty () ? "-" : log_safe (user.c_str (), 64).c_str (),
            method == GST_RTSP_INVALID ? "?" : gst_rtsp_method_as_text (method),
            redact (log_safe (uri)).c_str (), msg->type_data.response.code,
            gst_rtsp_status_as_text (msg->type_data.response.code));
}

static void factory_retire (GstRTSPMediaFactory *factory) noexcept;

/* A media of @m that ended (its source failed and came back) or failed
 * stays in gst-rtsp-server's cache while a client holds it: new clients
 * would get that dead media (no frames, or 503). Before a request builds or
 * finds the mount's media, a dead one is retired: the factory's key
 * changes, the next construct builds a new media. */
static void
retire_dead_medias (Mount *m) noexcept
{
  bool retire = false;
  {
    std::lock_guard<std::mutex> g (m->lock);
    for (MediaInfo *mi : m->medias) {
      if (mi->retired)
        continue;
      if (mi->ended.load (std::memory_order_acquire)
          || gst_rtsp_media_get_status (mi->media)
                 == GST_RTSP_MEDIA_STATUS_ERROR) {
        mi->retired = true;
        retire = true;
      }
    }
  }
  if (retire && m->factory) {
    factory_retire (m->factory);
    log_line (m->encoder.server,
              "mount %s: its media ended with its source; new clients get a "
              "new one",
              m->cfg.path.c_str ());
  }
}

static GstRTSPStatusCode
pre_describe_cb (GstRTSPClient *client, GstRTSPContext *ctx, gpointer) noexcept
{
  ClientState *cs = client_state (client);
  if (cs && check_digest_uri (cs, ctx) != GST_RTSP_STS_OK)
    return GST_RTSP_STS_UNAUTHORIZED;
  Mount *m
      = cs && ctx->uri ? find_mount (cs->server, ctx->uri->abspath) : nullptr;
  if (!m)
    return GST_RTSP_STS_OK;
  retire_dead_medias (m);
  {
    /* This connection plays the mount already: it may describe it. */
    std::lock_guard<std::mutex> g (cs->server->lock);
    for (auto &[id, ss] : cs->server->sessions)
      if (ss.conn == cs->id && ss.mount == m)
        return GST_RTSP_STS_OK;
  }
  return check_capacity (cs, m, false, ctx);
}

static GstRTSPStatusCode
pre_setup_cb (GstRTSPClient *client, GstRTSPContext *ctx, gpointer) noexcept
{
  ClientState *cs = client_state (client);
  if (!cs)
    return GST_RTSP_STS_OK;
  GstRTSPStatusCode owner = check_owner (cs, ctx, "SETUP");
  if (owner != GST_RTSP_STS_OK)
    return owner;
  Mount *m = ctx->uri ? find_mount (cs->server, ctx->uri->abspath) : nullptr;
  if (!m)
    return GST_RTSP_STS_OK;
  /* (a SETUP without DESCRIBE found its media already: for the next ones) */
  retire_dead_medias (m);
  if (ctx->session) {
    std::string id = session_id (ctx->session);
    std::lock_guard<std::mutex> g (cs->server->lock);
    if (find_session_locked (cs->server, id, m))
      return GST_RTSP_STS_OK; /* a transport of a session counted */
  }
  return check_capacity (cs, m, ctx->session == nullptr, ctx);
}

/* The mount's bound on forced keyframes (0: none), and the oldest keyframe
 * a joining isolated client starts on instead of asking for one: half of
 * it. */
static gint64
key_unit_interval_us (const Mount *m) noexcept
{
  return (gint64)m->encoder.server->cfg.key_unit_interval_ms
         * G_TIME_SPAN_MILLISECOND;
}

static bool
newest_keyframe_fresh (const Mount *m) noexcept
{
  return m->sender->newest_keyframe_age_us () <= key_unit_interval_us (m) / 2;
}

static void request_key_unit (Mount *m, bool bounded) noexcept;

/* Isolated encoding mount: this client's cursor starts on the newest
 * keyframe in the ring. One at most half the key-unit interval old will do
 * (a short burst, video that much behind live); else the one asked for at
 * SETUP (or now, if that one is already out and old) is waited for: at most
 * the rest of the interval. Only when the media plays already (the first
 * PLAY starts it; its frames come after). */
static GstRTSPStatusCode
pre_play_cb (GstRTSPClient *client, GstRTSPContext *ctx, gpointer) noexcept
{
  ClientState *cs = client_state (client);
  if (!cs)
    return GST_RTSP_STS_OK;
  GstRTSPStatusCode owner = check_owner (cs, ctx, "PLAY");
  if (owner != GST_RTSP_STS_OK)
    return owner;
  Mount *m = ctx->uri ? find_mount (cs->server, ctx->uri->abspath) : nullptr;
  if (!m || !m->sender || m->encoder.desc.empty () || !ctx->sessmedia)
    return GST_RTSP_STS_OK;
  guint64 mark = 0;
  {
    std::string id = session_id (ctx->session);
    std::lock_guard<std::mutex> g (cs->server->lock);
    SessionState *ss = find_session_locked (cs->server, id, m);
    if (!ss)
      return GST_RTSP_STS_OK;
    mark = ss->kf_mark;
  }
  GstRTSPStream *stream = gst_rtsp_media_get_stream (
      gst_rtsp_session_media_get_media (ctx->sessmedia), 0);
  /* Blocking: the media holds its first frame until this PLAY. */
  if (!stream || gst_rtsp_stream_is_blocking (stream)
      || newest_keyframe_fresh (m))
    return GST_RTSP_STS_OK;
  if (m->sender->keyframes () > mark) {
    /* The one asked for at SETUP came and is old now (a slow PLAY). */
    mark = m->sender->keyframes ();
    request_key_unit (m, true);
  }
  m->sender->wait_keyframe_after (mark,
                                  key_unit_interval_us (m) + kKeyUnitWaitUs);
  return GST_RTSP_STS_OK;
}

static GstRTSPStatusCode
pre_pause_cb (GstRTSPClient *client, GstRTSPContext *ctx, gpointer) noexcept
{
  ClientState *cs = client_state (client);
  return cs ? check_owner (cs, ctx, "PAUSE") : GST_RTSP_STS_OK;
}

static GstRTSPStatusCode
pre_teardown_cb (GstRTSPClient *client, GstRTSPContext *ctx, gpointer) noexcept
{
  ClientState *cs = client_state (client);
  return cs ? check_owner (cs, ctx, "TEARDOWN") : GST_RTSP_STS_OK;
}

/* GET_PARAMETER and SET_PARAMETER with a Session header are keep-alives. */
static GstRTSPStatusCode
pre_get_parameter_cb (GstRTSPClient *client, GstRTSPContext *ctx,
                      gpointer) noexcept
{
  ClientState *cs = client_state (client);
  return cs ? check_owner (cs, ctx, "GET_PARAMETER") : GST_RTSP_STS_OK;
}

static GstRTSPStatusCode
pre_set_parameter_cb (GstRTSPClient *client, GstRTSPContext *ctx,
                      gpointer) noexcept
{
  ClientState *cs = client_state (client);
  return cs ? check_owner (cs, ctx, "SET_PARAMETER") : GST_RTSP_STS_OK;
}

static void
setup_cb (GstRTSPClient *client, GstRTSPContext *ctx, gpointer) noexcept
{
  ClientState *cs = client_state (client);
  if (!cs || !ctx->uri || !ctx->session)
    return;
  Server *s = cs->server;
  Mount *m = find_mount (s, ctx->uri->abspath);
  if (!m)
    return;
  std::string id = session_id (ctx->session);
  bool isolated_enc = m->sender && !m->encoder.desc.empty ();
  /* Isolated: this client's cursor will start at a fresh keyframe: the
   * newest one if it is young, else one asked for now (within the mount's
   * bound), so that it is in the ring by its PLAY. */
  guint64 mark = isolated_enc ? m->sender->keyframes () : 0;
  bool count = false;
  {
    std::lock_guard<std::mutex> g (s->lock);
    SessionState *ss = find_session_locked (s, id, m);
    if (!ss) {
      SessionState n{ id, cs->id, cs->address, ctx_user (ctx), m };
      n.setup_us = g_get_monotonic_time ();
      ss = &s->sessions.emplace (id, std::move (n))->second;
      count = true;
    }
    ss->transport = transport_name (ctx->trans);
    ss->kf_mark = mark;
  }
  if (count) {
    std::lock_guard<std::mutex> g (m->lock);
    m->clients++;
  }
  if (isolated_enc && !newest_keyframe_fresh (m))
    request_key_unit (m, true);
}

static gboolean
deferred_key_unit_cb (gpointer data) noexcept
{
  auto *m = static_cast<Mount *> (data);
  {
    std::lock_guard<std::mutex> g (m->lock);
    g_source_unref (m->deferred_key_unit);
    m->deferred_key_unit = nullptr;
    m->last_key_unit_us = g_get_monotonic_time ();
  }
  request_key_unit (m, false);
  return G_SOURCE_REMOVE;
}

/* Instant join: ask the mount's encoder for a keyframe now. For joining
 * clients (@bounded) at most once per key-unit interval: clients joining
 * together share one; a request within the interval after one that is
 * already out is deferred to the interval's end. For a new media (its
 * reader must start fresh) always. */
static void
request_key_unit (Mount *m, bool bounded) noexcept
{
  const gint64 interval = key_unit_interval_us (m);
  ObjRef<GstElement> pipeline (m->encoder.ref_pipeline ());
  if (!pipeline)
    return;
  gint64 now = g_get_monotonic_time ();
  {
    std::lock_guard<std::mutex> g (m->lock);
    if (bounded) {
      if (m->last_key_unit_us && now - m->last_key_unit_us < interval) {
        /* One was asked for less than an interval ago. Still to come: this
         * client shares it. Already out: ask again when the interval is
         * over (clients joining until then share that one). */
        guint64 kf = m->encoder.keyframes.load (std::memory_order_relaxed);
        if (kf > m->kf_at_request && !m->deferred_key_unit) {
          gint64 wait_ms = (m->last_key_unit_us + interval - now) / 1000 + 1;
          m->deferred_key_unit = g_timeout_source_new ((guint)wait_ms);
          g_source_set_callback (m->deferred_key_unit, deferred_key_unit_cb, m,
                                 nullptr);
          g_source_attach (m->deferred_key_unit, m->encoder.server->context);
        }
        return;
      }
      m->last_key_unit_us = now;
    }
    m->kf_at_request = m->encoder.keyframes.load (std::memory_order_relaxed);
  }
  GstElement *enc = gst_bin_get_by_name (GST_BIN (pipeline.get ()), "enc");
  if (!enc)
    return;
  GstPad *pad = gst_element_get_static_pad (enc, "src");
  m->key_unit_requests.fetch_add (1, std::memory_order_relaxed); /* counter */
  gst_pad_send_event (pad, gst_video_event_new_upstream_force_key_unit (
                               GST_CLOCK_TIME_NONE, TRUE, 0));
  gst_object_unref (pad);
  gst_object_unref (enc);
}

/* A new media of an encoding mount starts reading its ring at the newest
 * keyframe: make that one fresh (requested now), so that the client's video
 * is not older than live. Blocks the client's thread for about one frame
 * (at most kFreshKeyWaitUs: an encoder resumed from its idle pause on a
 * loaded machine may take longer than a frame, and the media would else
 * start on the frames from before the pause). */
static void
wait_fresh_keyframe (Mount *m) noexcept
{
  if (m->encoder.desc.empty ())
    return;
  request_key_unit (m, false);
  guint64 mark;
  {
    std::lock_guard<std::mutex> g (m->lock);
    mark = m->kf_at_request;
  }
  Runner &r = m->encoder;
  std::unique_lock<std::mutex> lk (r.kf_lock);
  r.kf_cond.wait_for (
      lk, std::chrono::microseconds (kFreshKeyWaitUs), [&r, mark] {
        return r.keyframes.load (std::memory_order_relaxed) > mark;
      });
}

/* Viewers outside gst-rtsp-server (fanoutwhep.cpp) count as medias. */
void
mount_hold_encoder (Mount *m, bool hold) noexcept
{
  if (hold) {
    MediaInfo mi{ m, nullptr, nullptr };
    encoder_media_added (m, &mi);
    return;
  }
  std::lock_guard<std::mutex> g (m->lock);
  m->live_medias--;
  encoder_arm_idle_locked (m);
}

void
mount_request_key_unit (Mount *m) noexcept
{
  request_key_unit (m, true);
}

/* Isolated mount: this session's transport is served by the mount's sender
 * from now on, on its own cursor (the media's frames never reach
 * gst-rtsp-server's own fan-out: see pay_src_probe). */
static bool
isolated_play (Server *s, Mount *m, GstRTSPClient *client, GstRTSPContext *ctx,
               const std::string &id, gint64 play_us) noexcept
{
  if (!ctx->sessmedia || !ctx->session) {
    GST_WARNING ("isolated PLAY without a session");
    return false;
  }
  GstRTSPStreamTransport *trans
      = gst_rtsp_session_media_get_transport (ctx->sessmedia, 0);
  if (!trans) {
    GST_WARNING ("isolated PLAY without a transport");
    return false;
  }
  std::shared_ptr<SenderClient> old;
  {
    std::lock_guard<std::mutex> g (s->lock);
    SessionState *ss = find_session_locked (s, id, m);
    if (!ss)
      return false;
    old = std::exchange (ss->sent, nullptr);
  }
  m->sender->remove (old); /* PLAY after PAUSE */
  /* The client's cursor starts on the newest keyframe, in the ring. */
  std::shared_ptr<SenderClient> sc
      = m->sender->add (client, ctx->session, trans, play_us);
  if (!sc) {
    GST_WARNING ("isolated PLAY: transport not served");
    return false;
  }
  {
    std::lock_guard<std::mutex> g (s->lock);
    if (SessionState *ss = find_session_locked (s, id, m)) {
      ss->sent = sc;
      return true;
    }
  }
  m->sender->remove (sc); /* the session ended meanwhile */
  return false;
}

static void
play_cb (GstRTSPClient *client, GstRTSPContext *ctx, gpointer) noexcept
{
  ClientState *cs = client_state (client);
  if (!cs || !ctx->uri || !ctx->session)
    return;
  Server *s = cs->server;
  Mount *m = find_mount (s, ctx->uri->abspath);
  if (!m)
    return;
  std::string id = session_id (ctx->session);
  gint64 now = g_get_monotonic_time ();
  bool isolated = m->sender && isolated_play (s, m, client, ctx, id, now);
  GstRTSPMedia *media = ctx->sessmedia
                            ? gst_rtsp_session_media_get_media (ctx->sessmedia)
                            : ctx->media;
  if (media && !isolated) {
    std::lock_guard<std::mutex> g (m->lock);
    m->pending.push_back (Join{ media, now });
  }
  guint64 frames = isolated ? 0 : m->frames.load (std::memory_order_relaxed);
  std::string trans = "-";
  {
    std::lock_guard<std::mutex> g (s->lock);
    if (SessionState *ss = find_session_locked (s, id, m)) {
      ss->play_us = now;
      ss->frames_at_play = frames;
      trans = ss->transport;
    }
  }
  if (!isolated)
    request_key_unit (m, true);
  log_line (s, "client %s (user %s) playing %s over %s", cs->address.c_str (),
            ctx_user (ctx).c_str (), m->cfg.path.c_str (), trans.c_str ());
}

/* PAUSE: an isolated session's delivery stops until its next PLAY. */
static void
pause_cb (GstRTSPClient *client, GstRTSPContext *ctx, gpointer) noexcept
{
  ClientState *cs = client_state (client);
  if (!cs || !ctx->uri || !ctx->session)
    return;
  Server *s = cs->server;
  Mount *m = find_mount (s, ctx->uri->abspath);
  if (!m || !m->sender)
    return;
  std::string id = session_id (ctx->session);
  std::shared_ptr<SenderClient> sc;
  {
    std::lock_guard<std::mutex> g (s->lock);
    if (SessionState *ss = find_session_locked (s, id, m))
      sc = std::exchange (ss->sent, nullptr);
  }
  m->sender->remove (sc);
}

/* A session record ended (removed from Server::sessions): uncount it, end
 * its delivery and log it. No lock held. */
static void
session_leave (Server *s, SessionState &ss, const char *how) noexcept
{
  Mount *m = ss.mount;
  gint64 now = g_get_monotonic_time ();
  guint64 frames = 0, drops = 0;
  {
    std::lock_guard<std::mutex> g (m->lock);
    m->clients--;
  }
  if (ss.play_us)
    frames = m->frames.load (std::memory_order_relaxed) - ss.frames_at_play;
  if (ss.sent) {
    /* Isolated: the session's own cursor counts its frames and drops. */
    if (m->sender)
      m->sender->remove (ss.sent);
    drops = ss.sent->drops ();
    frames = ss.sent->frames.load (std::memory_order_relaxed);
  }
  log_line (s,
            "client %s (user %s) %s %s: %s, %.1f s, %" G_GUINT64_FORMAT
            " frames, %" G_GUINT64_FORMAT " drops",
            ss.address.c_str (), ss.user.empty () ? "-" : ss.user.c_str (), how,
            m->cfg.path.c_str (), ss.transport.c_str (),
            (now - ss.setup_us) / 1e6, frames, drops);
}

/* Ends the records of session @id: on @only, or on every mount. */
static void
sessions_end (Server *s, const std::string &id, Mount *only,
              const char *how) noexcept
{
  std::vector<SessionState> gone;
  {
    std::lock_guard<std::mutex> g (s->lock);
    auto range = s->sessions.equal_range (id);
    for (auto it = range.first; it != range.second;) {
      if (!only || it->second.mount == only) {
        try {
          gone.push_back (std::move (it->second));
        } catch (const std::bad_alloc &) {
        }
        it = s->sessions.erase (it);
      } else {
        ++it;
      }
    }
  }
  for (auto &ss : gone)
    session_leave (s, ss, how);
}

static void
teardown_cb (GstRTSPClient *client, GstRTSPContext *ctx, gpointer) noexcept
{
  ClientState *cs = client_state (client);
  if (!cs || !ctx->session)
    return;
  Mount *m = ctx->uri ? find_mount (cs->server, ctx->uri->abspath) : nullptr;
  sessions_end (cs->server, session_id (ctx->session), m, "left");
}

/* Set while the server context expires sessions (pool_cleanup_cb). */
static thread_local bool in_cleanup = false;

/* A session left the pool: its TEARDOWN, its connection's close or its
 * timeout. */
static void
session_removed_cb (GstRTSPSessionPool *, GstRTSPSession *session,
                    gpointer data) noexcept
{
  auto *s = static_cast<Server *> (data);
  std::string id = session_id (session);
  sessions_end (s, id, nullptr, in_cleanup ? "timed out on" : "ended on");
  for (auto &m : s->mounts) {
    std::shared_ptr<Sender> sender;
    {
      /* a mount completed late sets it under the lock (mount_complete) */
      std::lock_guard<std::mutex> g (m->lock);
      sender = m->sender;
    }
    if (sender)
      sender->remove_session (session);
  }
  std::lock_guard<std::mutex> g (s->lock);
  s->owners.erase (id);
}

/* The session pool's watch: a session may have timed out. */
static gboolean
pool_cleanup_cb (GstRTSPSessionPool *pool, gpointer) noexcept
{
  in_cleanup = true;
  guint n = gst_rtsp_session_pool_cleanup (pool);
  in_cleanup = false;
  if (n)
    GST_DEBUG ("%u sessions timed out", n);
  return G_SOURCE_CONTINUE;
}

/* Shared mode: gst-rtsp-server drops what a TCP client cannot take, but a
 * client that took nothing for ~30 s was never served again while its
 * session lived on, counted (issue 14.5). A connection whose kernel send
 * queue never shrank for kStallTimeoutUs (the client reads nothing, or
 * less than the stream) is closed: its sessions end with it. Isolated
 * clients resync by themselves (fanoutsender). Server context. */
static gboolean
stall_check_cb (gpointer data) noexcept
{
  auto *s = static_cast<Server *> (data);
  gint64 now = g_get_monotonic_time ();
  std::vector<std::pair<GstRTSPClient *, std::string>> stalled;
  {
    std::lock_guard<std::mutex> g (s->lock);
    std::set<guint64> watched;
    for (auto &[id, ss] : s->sessions)
      if (ss.mount->mode == Mode::Shared && ss.transport == "tcp" && ss.play_us)
        watched.insert (ss.conn);
    for (ClientState *cs : s->clients) {
      int outq = -1;
      int fd = cs->socket ? g_socket_get_fd (cs->socket) : -1;
      if (watched.count (cs->id) && fd >= 0 && ioctl (fd, SIOCOUTQ, &outq) < 0)
        outq = -1;
      /* A client that reads drains its queue now and then; one that
       * does not only sees it grow (the kernel's send buffer grows to
       * its limit) or stay. */
      int prev = std::exchange (cs->stall_outq, outq);
      if (outq <= 0 || outq < prev) {
        cs->stall_since_us = 0;
        continue;
      }
      if (!cs->stall_since_us) {
        cs->stall_since_us = now;
      } else if (now - cs->stall_since_us >= kStallTimeoutUs) {
        cs->stall_since_us = 0;
        try {
          stalled.emplace_back (GST_RTSP_CLIENT (g_object_ref (cs->client)),
                                cs->address);
        } catch (const std::bad_alloc &) {
          g_object_unref (cs->client);
        }
      }
    }
  }
  for (auto &[client, address] : stalled) {
    log_line (s,
              "client %s took nothing for %" G_GINT64_FORMAT
              " s (shared mode, TCP): disconnected",
              address.c_str (), kStallTimeoutUs / G_TIME_SPAN_SECOND);
    gst_rtsp_client_close (client);
    g_object_unref (client);
  }
  return G_SOURCE_CONTINUE;
}

/* gst-rtsp-server creates a session (its first SETUP): its timeout, and
 * this connection as its owner. */
static void
new_session_cb (GstRTSPClient *client, GstRTSPSession *session,
                gpointer) noexcept
{
  ClientState *cs = client_state (client);
  if (!cs)
    return;
  gst_rtsp_session_set_timeout (session, cs->server->cfg.session_timeout_s);
  std::lock_guard<std::mutex> g (cs->server->lock);
  cs->server->owners[session_id (session)] = cs->id;
}

/* The connection closed: its sessions end with it (gst-rtsp-server would
 * keep a UDP session until it times out, with no one left to control it). */
static void
closed_cb (GstRTSPClient *client, gpointer) noexcept
{
  ClientState *cs = client_state (client);
  if (!cs)
    return;
  Server *s = cs->server;
  std::vector<std::string> ids;
  {
    std::lock_guard<std::mutex> g (s->lock);
    for (auto &[id, conn] : s->owners)
      if (conn == cs->id)
        ids.push_back (id);
    for (auto &[id, ss] : s->sessions)
      if (ss.conn == cs->id
          && std::find (ids.begin (), ids.end (), id) == ids.end ())
        ids.push_back (id);
  }
  for (auto &id : ids)
    sessions_end (s, id, nullptr, "disconnected from");
  if (GstRTSPSessionPool *pool = gst_rtsp_client_get_session_pool (client)) {
    for (auto &id : ids)
      if (GstRTSPSession *sess
          = gst_rtsp_session_pool_find (pool, id.c_str ())) {
        gst_rtsp_session_pool_remove (pool, sess);
        g_object_unref (sess);
      }
    g_object_unref (pool);
  }
  log_line (s, "client %s disconnected", cs->address.c_str ());
  {
    std::lock_guard<std::mutex> g (s->lock);
    s->clients.erase (cs);
  }
  g_signal_handlers_disconnect_by_data (client, s);
  g_object_set_data (G_OBJECT (client), "fanout-client", nullptr);
}

static void
client_state_free (gpointer data) noexcept
{
  delete static_cast<ClientState *> (data);
}

static void
client_connected_cb (GstRTSPServer *, GstRTSPClient *client,
                     gpointer data) noexcept
{
  auto *s = static_cast<Server *> (data);
  auto *cs = new ClientState{ s, client };
  cs->connected_us = g_get_monotonic_time ();
  GstRTSPConnection *conn = gst_rtsp_client_get_connection (client);
  if (conn) {
    GSocket *sock = gst_rtsp_connection_get_read_socket (conn);
    /* Joins over TCP pay no Nagle delay (~40 ms) before the first packet. */
    if (sock
        && !g_socket_set_option (sock, IPPROTO_TCP, TCP_NODELAY, 1, nullptr))
      GST_WARNING ("cannot set TCP_NODELAY");
    if (sock)
      cs->socket = G_SOCKET (g_object_ref (sock));
    GSocketAddress *addr
        = sock ? g_socket_get_remote_address (sock, nullptr) : nullptr;
    if (addr && G_IS_INET_SOCKET_ADDRESS (addr)) {
      gchar *ip = g_inet_address_to_string (
          g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (addr)));
      cs->address = std::string (ip) + ":"
                    + std::to_string (g_inet_socket_address_get_port (
                        G_INET_SOCKET_ADDRESS (addr)));
      g_free (ip);
    } else {
      cs->address = gst_rtsp_connection_get_ip (conn);
    }
    if (addr)
      g_object_unref (addr);
  }
  g_object_set_data_full (G_OBJECT (client), "fanout-client", cs,
                          client_state_free);
  {
    std::lock_guard<std::mutex> g (s->lock);
    cs->id = s->next_conn++;
    s->clients.insert (cs);
  }
  g_signal_connect (client, "pre-describe-request",
                    G_CALLBACK (pre_describe_cb), s);
  g_signal_connect (client, "pre-setup-request", G_CALLBACK (pre_setup_cb), s);
  g_signal_connect (client, "pre-play-request", G_CALLBACK (pre_play_cb), s);
  g_signal_connect (client, "pre-pause-request", G_CALLBACK (pre_pause_cb), s);
  g_signal_connect (client, "pre-teardown-request",
                    G_CALLBACK (pre_teardown_cb), s);
  g_signal_connect (client, "pre-get-parameter-request",
                    G_CALLBACK (pre_get_parameter_cb), s);
  g_signal_connect (client, "pre-set-parameter-request",
                    G_CALLBACK (pre_set_parameter_cb), s);
  g_signal_connect (client, "new-session", G_CALLBACK (new_session_cb), s);
  g_signal_connect (client, "setup-request", G_CALLBACK (setup_cb), s);
  g_signal_connect (client, "play-request", G_CALLBACK (play_cb), s);
  g_signal_connect (client, "pause-request", G_CALLBACK (pause_cb), s);
  g_signal_connect (client, "teardown-request", G_CALLBACK (teardown_cb), s);
  g_signal_connect (client, "send-message", G_CALLBACK (send_message_cb), s);
  g_signal_connect (client, "closed", G_CALLBACK (closed_cb), s);
  log_line (s, "client %s connected", cs->address.c_str ());
}

/* ------------------------------------------------------------------ */
/* The mount's media factory: one media per mount                      */

/* gst-rtsp-server caches a shared media under a key made of the request
 * URL's port, path and query: a query string, a SETUP without DESCRIBE
 * (path ".../stream=0", the client's cache empty) or a second session on
 * one connection each built a second media of the mount. A mount is one
 * live view whatever the URL says: the key is the mount's, and changes
 * only when the server retires a media that failed (fanout_media_factory_
 * retire), so that new clients are not handed a broken one. */
struct FanoutMediaFactory {
  GstRTSPMediaFactory parent;
  gchar *path;     /* the mount's path (owned) */
  gint generation; /* g_atomic_int: bumped by retire */
};

struct FanoutMediaFactoryClass {
  GstRTSPMediaFactoryClass parent_class;
};

static GType fanout_media_factory_get_type (void);
#define FANOUT_TYPE_MEDIA_FACTORY (fanout_media_factory_get_type ())
#define FANOUT_MEDIA_FACTORY(obj)                                              \
  (G_TYPE_CHECK_INSTANCE_CAST ((obj), FANOUT_TYPE_MEDIA_FACTORY,               \
                               FanoutMediaFactory))

G_DEFINE_TYPE (FanoutMediaFactory, fanout_media_factory,
               GST_TYPE_RTSP_MEDIA_FACTORY)

static gchar *
fanout_media_factory_gen_key (GstRTSPMediaFactory *factory,
                              const GstRTSPUrl *) noexcept
{
  FanoutMediaFactory *self = FANOUT_MEDIA_FACTORY (factory);
  return g_strdup_printf ("%s#%d", self->path,
                          g_atomic_int_get (&self->generation));
}

static void
fanout_media_factory_finalize (GObject *object) noexcept
{
  g_free (FANOUT_MEDIA_FACTORY (object)->path);
  G_OBJECT_CLASS (fanout_media_factory_parent_class)->finalize (object);
}

/* No launch line yet: the mount's source is not up. No media makes
 * gst-rtsp-server answer 503 Service Unavailable (the default would log a
 * critical warning for the missing launch line and answer 400). */
static GstRTSPMedia *
fanout_media_factory_construct (GstRTSPMediaFactory *factory,
                                const GstRTSPUrl *url) noexcept
{
  gchar *launch = gst_rtsp_media_factory_get_launch (factory);
  if (!launch) {
    GST_DEBUG ("mount %s: source not up yet",
               FANOUT_MEDIA_FACTORY (factory)->path);
    return nullptr;
  }
  g_free (launch);
  return GST_RTSP_MEDIA_FACTORY_CLASS (fanout_media_factory_parent_class)
      ->construct (factory, url);
}

static void
fanout_media_factory_class_init (FanoutMediaFactoryClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = fanout_media_factory_finalize;
  GST_RTSP_MEDIA_FACTORY_CLASS (klass)->gen_key = fanout_media_factory_gen_key;
  GST_RTSP_MEDIA_FACTORY_CLASS (klass)->construct
      = fanout_media_factory_construct;
}

static void
fanout_media_factory_init (FanoutMediaFactory *)
{
}

static void
factory_retire (GstRTSPMediaFactory *factory) noexcept
{
  g_atomic_int_inc (&FANOUT_MEDIA_FACTORY (factory)->generation);
}

static GstRTSPMediaFactory *
fanout_media_factory_new (const std::string &path) noexcept
{
  auto *f = static_cast<FanoutMediaFactory *> (
      g_object_new (FANOUT_TYPE_MEDIA_FACTORY, nullptr));
  f->path = g_strdup (path.c_str ());
  return GST_RTSP_MEDIA_FACTORY (f);
}

} // namespace gstfanout

using namespace gstfanout;

/* ------------------------------------------------------------------ */
/* C API                                                               */

/* No source: the test source; no mount: one per source. */
static void
config_defaults (FanoutServerConfig &c)
{
  if (c.sources.empty ())
    c.sources.push_back (SourceConfig{ "cam", "test" });
  if (c.mounts.empty ()) {
    for (auto &src : c.sources) {
      MountConfig m;
      m.path = c.sources.size () == 1 ? "/live" : "/" + src.name;
      m.source = src.name;
      c.mounts.push_back (m);
    }
  }
}

FanoutServer *
fanout_server_new (const FanoutServerConfig *config, GError **error)
{
  if (!fanout_server_debug)
    GST_DEBUG_CATEGORY_INIT (fanout_server_debug, "fanoutserver", 0,
                             "fanout-rtsp-server");
  auto fs = std::make_unique<FanoutServer> ();
  Server &s = fs->s;
  s.cfg = *config;
  FanoutServerConfig &c = s.cfg;

  static const bool pay_bin = pay_bin_register ();
  if (!pay_bin) {
    g_set_error (error, FANOUT_SERVER_ERROR, FANOUT_SERVER_ERROR_MISSING,
                 "cannot register the fanoutpaybin element");
    return nullptr;
  }
  for (const char *e : { kWriter, kReader, "payloadbatch" })
    if (!element_exists (e)) {
      g_set_error (error, FANOUT_SERVER_ERROR, FANOUT_SERVER_ERROR_MISSING,
                   "the %s element is not available: install gst-fanout's "
                   "plugin or point GST_PLUGIN_PATH at its build directory",
                   e);
      return nullptr;
    }
  config_defaults (c);
  if (!c.tls_cert.empty () || !c.tls_key.empty ()) {
    GError *err = nullptr;
    if (c.tls_cert.empty () || c.tls_key.empty ()) {
      g_set_error (error, FANOUT_SERVER_ERROR, FANOUT_SERVER_ERROR_USAGE,
                   "RTSPS needs both --tls-cert and --tls-key: give the "
                   "missing one");
      return nullptr;
    }
    s.tls = g_tls_certificate_new_from_files (c.tls_cert.c_str (),
                                              c.tls_key.c_str (), &err);
    if (!s.tls) {
      g_set_error (error, FANOUT_SERVER_ERROR, FANOUT_SERVER_ERROR_USAGE,
                   "cannot use --tls-cert %s / --tls-key %s (%s): give a PEM "
                   "certificate and its private key",
                   c.tls_cert.c_str (), c.tls_key.c_str (),
                   err ? err->message : "?");
      g_clear_error (&err);
      return nullptr;
    }
  }
  for (auto &sc : c.sources) {
    auto src = std::make_unique<Source> ();
    src->cfg = sc;
    src->channel = sc.name;
    src->runner.server = &s;
    src->runner.source = src.get ();
    src->runner.label = "source " + sc.name;
    std::string head;
    if (!source_head (*src, &head, error))
      return nullptr;
    src->runner.desc = head;
    s.sources.push_back (std::move (src));
  }
  for (auto &mc : c.mounts) {
    Source *src = nullptr;
    for (auto &x : s.sources)
      if (x->cfg.name == mc.source)
        src = x.get ();
    if (!src) {
      g_set_error (error, FANOUT_SERVER_ERROR, FANOUT_SERVER_ERROR_USAGE,
                   "mount %s uses source '%s', which is not defined: add "
                   "--source %s=SPEC",
                   mc.path.c_str (), mc.source.c_str (), mc.source.c_str ());
      return nullptr;
    }
    if (!check_codec (mc.codec, mc.path, error))
      return nullptr;
    if (mc.codec == Codec::Copy && (mc.width || mc.fps)) {
      g_set_error (error, FANOUT_SERVER_ERROR, FANOUT_SERVER_ERROR_USAGE,
                   "mount %s: codec=copy passes the source through and "
                   "cannot change size or fps: drop them or pick codec=h264",
                   mc.path.c_str ());
      return nullptr;
    }
    auto m = std::make_unique<Mount> ();
    m->cfg = mc;
    m->source = src;
    m->mode = mc.mode_set ? mc.mode : c.mode;
    if ((mc.transports & GST_RTSP_LOWER_TRANS_UDP_MCAST)
        && m->mode == Mode::Isolated) {
      /* A cursor per client would send one multicast copy per client. */
      if (mc.mode_set) {
        g_set_error (error, FANOUT_SERVER_ERROR, FANOUT_SERVER_ERROR_USAGE,
                     "mount %s: transport=multicast sends one stream to all "
                     "clients, mode=isolated one stream per client: use "
                     "mode=shared or drop multicast",
                     mc.path.c_str ());
        return nullptr;
      }
      m->mode = Mode::Shared; /* --mode isolated is for unicast mounts */
    }
    m->max_clients = mc.max_clients >= 0 ? mc.max_clients : c.max_clients;
    m->encoder.server = &s;
    m->encoder.mount = m.get ();
    m->encoder.label = "mount " + mc.path;
    s.mounts.push_back (std::move (m));
  }
  return fs.release ();
}

/* The sender's join callback: an isolated client's first frame is out. */
static void
sender_join_cb (gpointer data, double secs) noexcept
{
  auto *m = static_cast<Mount *> (data);
  std::lock_guard<std::mutex> g (m->lock);
  record_join (m, secs);
}

/* Builds what the mount serves from what its source carries (it is up):
 * codec, encoder, isolated delivery, then the factory's launch line, which
 * makes the mount serve (fanout_media_factory_construct). */
static bool
mount_complete (Mount &m, GError **error)
{
  GstCaps *caps = m.source->runner.get_caps ();
  const GstStructure *st = caps && gst_caps_get_size (caps) > 0
                               ? gst_caps_get_structure (caps, 0)
                               : nullptr;
  const char *name = st ? gst_structure_get_name (st) : "";
  bool raw = g_str_has_prefix (name, "video/x-raw");
  Codec passthrough = Codec::Auto;
  if (g_str_equal (name, "video/x-h264"))
    passthrough = Codec::H264;
  else if (g_str_equal (name, "video/x-h265"))
    passthrough = Codec::H265;
  else if (g_str_equal (name, "image/jpeg"))
    passthrough = Codec::Mjpeg;
  else if (g_str_equal (name, "video/x-vp8"))
    passthrough = Codec::Vp8;
  gint fn = 0, fd = 1;
  guint src_fps = 0;
  if (st && gst_structure_get_fraction (st, "framerate", &fn, &fd) && fd > 0
      && fn > 0)
    src_fps = (guint)MAX (1, fn / fd);

  /* A mount serves video: a source without any (audio only, data) would
   * give clients an SDP they cannot play. */
  if (st && !g_str_has_prefix (name, "video/")
      && !g_str_has_prefix (name, "image/")) {
    gchar *cs = caps ? gst_caps_to_string (caps) : g_strdup ("no caps");
    g_set_error (error, FANOUT_SERVER_ERROR, FANOUT_SERVER_ERROR_USAGE,
                 "mount %s: source %s carries no video (%s): a mount serves "
                 "a video source; point it at one, or add video to the "
                 "launch: pipeline",
                 m.cfg.path.c_str (), m.source->cfg.name.c_str (), cs);
    g_free (cs);
    if (caps)
      gst_caps_unref (caps);
    return false;
  }
  m.codec = m.cfg.codec;
  if (m.codec == Codec::Auto)
    m.codec = (passthrough != Codec::Auto && !m.cfg.width && !m.cfg.fps)
                  ? Codec::Copy
                  : Codec::H264;
  if (m.codec == Codec::Copy) {
    if (passthrough == Codec::Auto) {
      gchar *cs = caps ? gst_caps_to_string (caps) : g_strdup ("no caps");
      g_set_error (error, FANOUT_SERVER_ERROR, FANOUT_SERVER_ERROR_USAGE,
                   "mount %s: codec=copy cannot serve source %s, which "
                   "carries %s: pick codec=h264, h265, mjpeg or vp8",
                   m.cfg.path.c_str (), m.source->cfg.name.c_str (), cs);
      g_free (cs);
      if (caps)
        gst_caps_unref (caps);
      return false;
    }
    m.ring = m.source->channel;
    m.media_launch = "( " + reader_desc (m.ring) + " ! "
                     + payloader_for (passthrough, m.mode) + " )";
    m.codec = passthrough;
  } else {
    m.ring = m.source->channel + ":" + m.cfg.path;
    std::string d = reader_desc (m.source->channel);
    if (!raw)
      d += " ! decodebin";
    d += " ! videoconvert";
    std::string caps_s = "video/x-raw,format=I420";
    if (m.cfg.width) {
      d += " ! videoscale";
      caps_s += ",width=" + std::to_string (m.cfg.width)
                + ",height=" + std::to_string (m.cfg.height);
    }
    if (m.cfg.fps) {
      d += " ! videorate";
      caps_s += ",framerate=" + std::to_string (m.cfg.fps) + "/1";
    }
    d += " ! " + caps_s + " ! " + encoder_chain (m, src_fps) + " ! "
         + writer_desc (m.ring, mount_ring_capacity (m, src_fps));
    m.encoder.desc = d;
    m.media_launch = "( " + reader_desc (m.ring) + " ! "
                     + payloader_for (m.codec, m.mode) + " )";
    if (!runner_start (m.encoder, error)) {
      if (caps)
        gst_caps_unref (caps);
      return false;
    }
    std::lock_guard<std::mutex> g (m.lock);
    encoder_arm_idle_locked (&m);
  }
  if (caps)
    gst_caps_unref (caps);

  if (m.mode == Mode::Isolated) {
    /* One media payloads each frame once; the sender gives every client
     * its own cursor on those frames (fanoutsender.h). */
    guint cap = m.encoder.desc.empty () ? m.source->capacity
                                        : mount_ring_capacity (m, src_fps);
    std::string why;
    auto sender = Sender::create (m.cfg.path, cap, sender_join_cb, &m, &why);
    if (!sender) {
      g_set_error (error, FANOUT_SERVER_ERROR, FANOUT_SERVER_ERROR_USAGE,
                   "mount %s: cannot start isolated delivery (%s): use "
                   "mode=shared",
                   m.cfg.path.c_str (), why.c_str ());
      return false;
    }
    /* Under the mount's lock: a mount whose source came up late is
     * completed while session_removed_cb may run on a client thread. */
    std::lock_guard<std::mutex> g (m.lock);
    m.sender = std::move (sender);
  }
  /* Last: the fields above are written before a client thread can build a
   * media (the factory's lock orders them). */
  gst_rtsp_media_factory_set_launch (m.factory, m.media_launch.c_str ());
  return true;
}

/* Mounts the mount's factory. It has no launch line until mount_complete:
 * until then a client is answered 503 Service Unavailable. */
static bool
mount_register (Server &s, Mount &m, GError **error)
{
  GstRTSPMediaFactory *f = fanout_media_factory_new (m.cfg.path);
  gst_rtsp_media_factory_set_shared (f, TRUE);
  guint protocols = m.cfg.transports
                        ? m.cfg.transports
                        : (GST_RTSP_LOWER_TRANS_UDP | GST_RTSP_LOWER_TRANS_TCP);
  gst_rtsp_media_factory_set_protocols (f, (GstRTSPLowerTrans)protocols);
  if (protocols & GST_RTSP_LOWER_TRANS_UDP_MCAST) {
    GstRTSPAddressPool *pool = gst_rtsp_address_pool_new ();
    if (!gst_rtsp_address_pool_add_range (
            pool, s.cfg.mcast_first.c_str (), s.cfg.mcast_last.c_str (),
            s.cfg.mcast_port_min, s.cfg.mcast_port_max, 16)) {
      g_set_error (error, FANOUT_SERVER_ERROR, FANOUT_SERVER_ERROR_USAGE,
                   "mount %s: the multicast range %s-%s is not usable: fix "
                   "--multicast-range",
                   m.cfg.path.c_str (), s.cfg.mcast_first.c_str (),
                   s.cfg.mcast_last.c_str ());
      g_object_unref (pool);
      g_object_unref (f);
      return false;
    }
    gst_rtsp_media_factory_set_address_pool (f, pool);
    g_object_unref (pool);
  }
  if (!s.cfg.users.empty () || s.tls)
    gst_rtsp_media_factory_add_role (
        f, "user", GST_RTSP_PERM_MEDIA_FACTORY_ACCESS, G_TYPE_BOOLEAN, TRUE,
        GST_RTSP_PERM_MEDIA_FACTORY_CONSTRUCT, G_TYPE_BOOLEAN, TRUE, nullptr);
  g_signal_connect (f, "media-configure", G_CALLBACK (media_configure_cb), &m);
  m.factory = f;
  GstRTSPMountPoints *mp = gst_rtsp_server_get_mount_points (s.rtsp);
  gst_rtsp_mount_points_add_factory (mp, m.cfg.path.c_str (),
                                     GST_RTSP_MEDIA_FACTORY (g_object_ref (f)));
  g_object_unref (mp);
  return true;
}

/* HTTP Basic with the --user users. */
static gboolean
http_auth_cb (SoupAuthDomain *, SoupServerMessage *, const char *user,
              const char *password, gpointer data) noexcept
{
  auto *s = static_cast<Server *> (data);
  for (auto &[u, p] : s->cfg.users)
    if (u == user && p == password)
      return TRUE;
  return FALSE;
}

/* Every refused or failed HTTP request is logged: client, method, path,
 * user, status (what fail2ban reads). */
static void
http_finished_cb (SoupServer *, SoupServerMessage *msg, gpointer data) noexcept
{
  auto *s = static_cast<Server *> (data);
  guint status = soup_server_message_get_status (msg);
  if (status < 400)
    return;
  GUri *uri = soup_server_message_get_uri (msg);
  gchar *user
      = s->http_auth ? soup_auth_domain_accepts (s->http_auth, msg) : nullptr;
  std::string who = user ? log_safe (user, 64) : "-";
  if (!user && s->http_auth) {
    /* a refused login: the name it tried */
    const char *h = soup_message_headers_get_one (
        soup_server_message_get_request_headers (msg), "Authorization");
    if (h && g_ascii_strncasecmp (h, "Basic ", 6) == 0) {
      gsize len = 0;
      guchar *dec = g_base64_decode (h + 6, &len);
      std::string up ((const char *)dec, len);
      g_free (dec);
      who = log_safe (up.substr (0, up.find (':')).c_str (), 64) + " (refused)";
    }
  }
  log_line (s, "http %s (user %s): %s %s: %u %s",
            log_safe (soup_server_message_get_remote_host (msg), 64).c_str (),
            who.c_str (),
            log_safe (soup_server_message_get_method (msg), 16).c_str (),
            log_safe (uri ? g_uri_get_path (uri) : "?").c_str (), status,
            soup_status_get_phrase (status));
  g_free (user);
}

/* DESCRIBE or SETUP of a mount whose source is not up: 503 Service
 * Unavailable (gst-rtsp-server would answer 400 for a media it cannot
 * make). Client threads: the factory's launch line, set under its lock
 * once the mount is complete, says whether it serves. */
static GstRTSPStatusCode
mount_unavailable_cb (GstRTSPClient *, GstRTSPContext *ctx,
                      gpointer data) noexcept
{
  auto *s = static_cast<Server *> (data);
  Mount *m = ctx->uri ? find_mount (s, ctx->uri->abspath) : nullptr;
  /* an unmounted one is gst-rtsp-server's 404 */
  if (!m || !m->factory || !m->mounted.load (std::memory_order_relaxed))
    return GST_RTSP_STS_OK;
  if (mount_serving (m))
    return GST_RTSP_STS_OK;
  GST_DEBUG ("mount %s: source not up, 503", m->cfg.path.c_str ());
  return GST_RTSP_STS_SERVICE_UNAVAILABLE;
}

static void
unavailable_client_cb (GstRTSPServer *, GstRTSPClient *client,
                       gpointer data) noexcept
{
  g_signal_connect (client, "pre-describe-request",
                    G_CALLBACK (mount_unavailable_cb), data);
  g_signal_connect (client, "pre-setup-request",
                    G_CALLBACK (mount_unavailable_cb), data);
}

static void
log_mount (const Mount &m) noexcept
{
  if (m.source->up)
    log_line (m.encoder.server, "mount %s: source %s (%s), %s, %s",
              m.cfg.path.c_str (), m.source->cfg.name.c_str (),
              redact (m.source->cfg.spec).c_str (), codec_name (m.codec),
              m.mode == Mode::Shared ? "shared" : "isolated");
  else
    log_line (m.encoder.server,
              "mount %s: source %s (%s) not up yet: 503 until it is",
              m.cfg.path.c_str (), m.source->cfg.name.c_str (),
              redact (m.source->cfg.spec).c_str ());
}

bool
gstfanout::mount_serving (Mount *m) noexcept
{
  if (!m->factory)
    return false;
  gchar *launch = gst_rtsp_media_factory_get_launch (m->factory);
  bool serving = launch != nullptr;
  g_free (launch);
  return serving;
}

/* A source that was not up delivered its first frame: its mounts serve. */
static void
source_came_up (Server &s, Source &src) noexcept
{
  src.up = true;
  src.down_why.clear ();
  src.runner.backoff_ms = kBackoffMinMs;
  log_line (&s, "source %s (%s) is up (attempt %u)", src.cfg.name.c_str (),
            redact (src.cfg.spec).c_str (), src.runner.restarts + 1);
  for (auto &m : s.mounts) {
    if (m->source != &src)
      continue;
    GError *err = nullptr;
    if (mount_complete (*m, &err)) {
      web_output_mount_ready (s.web, m.get ());
      log_mount (*m);
      continue;
    }
    log_line (&s, "%s; mount %s stays unavailable (503)", err->message,
              m->cfg.path.c_str ());
    g_error_free (err);
  }
}

static gboolean
pending_poll_cb (gpointer data) noexcept
{
  auto *s = static_cast<Server *> (data);
  bool waiting = false;
  for (auto &src : s->sources) {
    if (src->up)
      continue;
    /* acquire: pairs with writer_probe's release (the caps). */
    if (src->runner.pipeline
        && src->runner.got_buffer.load (std::memory_order_acquire))
      source_came_up (*s, *src);
    else
      waiting = true;
  }
  if (waiting)
    return G_SOURCE_CONTINUE;
  g_source_unref (s->pending_source);
  s->pending_source = nullptr;
  return G_SOURCE_REMOVE;
}

gboolean
fanout_server_start (FanoutServer *fs, GMainContext *context, GError **error)
{
  Server &s = fs->s;
  g_return_val_if_fail (!s.started, FALSE);
  s.context = context ? g_main_context_ref (context)
                      : g_main_context_ref (g_main_context_default ());
  s.started = true;

  /* 1. Ports, so that a busy port fails before anything runs. */
  s.rtsp = gst_rtsp_server_new ();
  gst_rtsp_server_set_address (s.rtsp, s.cfg.address.c_str ());
  gst_rtsp_server_set_service (s.rtsp, std::to_string (s.cfg.port).c_str ());
  /* Each client's connection refuses a larger request body before
   * buffering it (gst-rtsp-server applies it as it creates the client). */
  gst_rtsp_server_set_content_length_limit (s.rtsp, kMaxRequestBody);
  GError *err = nullptr;
  s.rtsp_source = gst_rtsp_server_create_source (s.rtsp, nullptr, &err);
  if (!s.rtsp_source) {
    g_set_error (error, FANOUT_SERVER_ERROR, FANOUT_SERVER_ERROR_BIND,
                 "cannot listen on %s port %d (%s): stop the program using "
                 "it or pick another with --port",
                 s.cfg.address.c_str (), s.cfg.port, err ? err->message : "?");
    g_clear_error (&err);
    fanout_server_stop (fs);
    return FALSE;
  }
  s.port = (guint)gst_rtsp_server_get_bound_port (s.rtsp);
  if (s.cfg.http_port >= 0) {
    g_main_context_push_thread_default (s.context);
    s.http = soup_server_new ("server-header", "fanout-rtsp-server", nullptr);
    soup_server_add_handler (s.http, "/metrics", stats_http_cb, fs, nullptr);
    soup_server_add_handler (s.http, "/stats", stats_http_cb, fs, nullptr);
    if (!s.cfg.users.empty ()) {
      /* The RTSP users, over Basic (what Prometheus scrapers speak). */
      SoupAuthDomain *domain = soup_auth_domain_basic_new (
          "realm", "fanout-rtsp-server", "auth-callback", http_auth_cb,
          "auth-data", &s, nullptr);
      soup_auth_domain_add_path (domain, "/metrics");
      soup_auth_domain_add_path (domain, "/stats");
      soup_server_add_auth_domain (s.http, domain);
      s.http_auth = domain;
    }
    g_signal_connect (s.http, "request-finished", G_CALLBACK (http_finished_cb),
                      &s);
    GInetAddress *ia
        = g_inet_address_new_from_string (s.cfg.http_address.c_str ());
    GSocketAddress *sa = g_inet_socket_address_new (ia, s.cfg.http_port);
    gboolean ok
        = soup_server_listen (s.http, sa, (SoupServerListenOptions)0, &err);
    g_object_unref (sa);
    g_object_unref (ia);
    g_main_context_pop_thread_default (s.context);
    if (!ok) {
      g_set_error (error, FANOUT_SERVER_ERROR, FANOUT_SERVER_ERROR_BIND,
                   "cannot serve HTTP on %s port %d (%s): stop the program "
                   "using it or pick another with --http-port",
                   s.cfg.http_address.c_str (), s.cfg.http_port,
                   err ? err->message : "?");
      g_clear_error (&err);
      fanout_server_stop (fs);
      return FALSE;
    }
    GSList *uris = soup_server_get_uris (s.http);
    if (uris)
      s.http_port = (guint)g_uri_get_port ((GUri *)uris->data);
    g_slist_free_full (uris, (GDestroyNotify)g_uri_unref);
    log_line (&s, "HTTP /metrics and /stats on %s port %u (%s)",
              s.cfg.http_address.c_str (), s.http_port,
              s.cfg.users.empty () ? "no authentication"
                                   : "the --user users, Basic");
  }

  /* 2. Sources, each captured once; wait for their first frame. One that
   * is not available (camera not plugged in, relayed server not up, a
   * pipeline failing) is retried with the backoff while the others serve;
   * what no retry fixes (no such element or plugin, a device that is not
   * a camera) stops the server. */
  for (auto &src : s.sources) {
    if (source_prepare (*src, &err) && source_start_and_wait (*src, &err)) {
      src->up = true;
      continue;
    }
    if (!g_error_matches (err, FANOUT_SERVER_ERROR,
                          FANOUT_SERVER_ERROR_SOURCE)) {
      g_propagate_error (error, err);
      fanout_server_stop (fs);
      return FALSE;
    }
    runner_stop (src->runner);
    runner_log_down (src->runner, err->message, false);
    g_clear_error (&err);
    runner_schedule_retry (src->runner);
    if (!s.pending_source) {
      s.pending_source = g_timeout_source_new (kPendingPollMs);
      g_source_set_callback (s.pending_source, pending_poll_cb, &s, nullptr);
      g_source_attach (s.pending_source, s.context);
    }
  }

  /* 3. Mounts (their codec may depend on what a source carries). */
  if (s.cfg.basic && !s.tls)
    log_line (nullptr, /* even with --quiet */
              "WARNING: --auth basic sends every password in clear over "
              "plain TCP: add --tls-cert/--tls-key (RTSPS), or use digest");
  if (s.tls && s.cfg.users.empty ()) {
    /* RTSPS for everyone: the auth object carries the certificate, and
     * its default token lets anonymous clients in. */
    GstRTSPAuth *auth = gst_rtsp_auth_new ();
    gst_rtsp_auth_set_tls_certificate (auth, s.tls);
    GstRTSPToken *token = gst_rtsp_token_new (GST_RTSP_TOKEN_MEDIA_FACTORY_ROLE,
                                              G_TYPE_STRING, "user", nullptr);
    gst_rtsp_auth_set_default_token (auth, token);
    gst_rtsp_token_unref (token);
    gst_rtsp_server_set_auth (s.rtsp, auth);
    g_object_unref (auth);
  }
  if (!s.cfg.users.empty ()) {
    GstRTSPAuth *auth = gst_rtsp_auth_new ();
    if (s.tls)
      gst_rtsp_auth_set_tls_certificate (auth, s.tls);
    gst_rtsp_auth_set_supported_methods (
        auth, s.cfg.basic ? GST_RTSP_AUTH_BASIC : GST_RTSP_AUTH_DIGEST);
    for (auto &[user, pass] : s.cfg.users) {
      /* The user's name rides along: logs and session owners name it. */
      GstRTSPToken *token = gst_rtsp_token_new (
          GST_RTSP_TOKEN_MEDIA_FACTORY_ROLE, G_TYPE_STRING, "user", kTokenUser,
          G_TYPE_STRING, user.c_str (), nullptr);
      if (s.cfg.basic) {
        gchar *basic = gst_rtsp_auth_make_basic (user.c_str (), pass.c_str ());
        gst_rtsp_auth_add_basic (auth, basic, token);
        g_free (basic);
      } else {
        gst_rtsp_auth_add_digest (auth, user.c_str (), pass.c_str (), token);
      }
      gst_rtsp_token_unref (token);
    }
    gst_rtsp_server_set_auth (s.rtsp, auth);
    g_object_unref (auth);
  }
  for (auto &m : s.mounts)
    if (!mount_register (s, *m, error)
        || (m->source->up && !mount_complete (*m, error))) {
      fanout_server_stop (fs);
      return FALSE;
    }

  /* 4. Accept clients. */
  g_signal_connect (s.rtsp, "client-connected",
                    G_CALLBACK (client_connected_cb), &s);
  g_signal_connect (s.rtsp, "client-connected",
                    G_CALLBACK (unavailable_client_cb), &s);
  GstRTSPSessionPool *pool = gst_rtsp_server_get_session_pool (s.rtsp);
  g_signal_connect (pool, "session-removed", G_CALLBACK (session_removed_cb),
                    &s);
  /* Nothing else expires sessions: dispatched when one may have timed
   * out. */
  s.cleanup_source = gst_rtsp_session_pool_create_watch (pool);
  g_source_set_callback (s.cleanup_source,
                         (GSourceFunc)(void (*) (void))pool_cleanup_cb, &s,
                         nullptr);
  g_source_attach (s.cleanup_source, s.context);
  g_object_unref (pool);
  s.stall_source = g_timeout_source_new (kStallCheckMs);
  g_source_set_callback (s.stall_source, stall_check_cb, &s, nullptr);
  g_source_attach (s.stall_source, s.context);
  g_source_attach (s.rtsp_source, s.context);
  if (s.http)
    s.web = web_output_start (fs); /* WHEP, status page, HTTP outputs */
  for (auto &m : s.mounts)
    log_mount (*m);
  return TRUE;
}

static std::string
join_names (const std::vector<std::string> &v)
{
  std::string r;
  for (const auto &x : v)
    r += (r.empty () ? "" : ", ") + x;
  return r;
}

void
fanout_server_reload (FanoutServer *fs, const FanoutServerConfig *config)
{
  Server &s = fs->s;
  if (!s.rtsp)
    return;
  FanoutServerConfig c = *config;
  config_defaults (c);
  std::vector<std::string> removed, remounted, not_live;
  if (c.sources != s.cfg.sources)
    not_live.push_back ("sources");
  /* Everything but the sources and mounts: the server settings. */
  FanoutServerConfig settings = c;
  settings.sources = s.cfg.sources;
  settings.mounts = s.cfg.mounts;
  if (!(settings == s.cfg))
    not_live.push_back ("server settings");
  GstRTSPMountPoints *mp = gst_rtsp_server_get_mount_points (s.rtsp);
  for (auto &m : s.mounts) {
    const MountConfig *nc = nullptr;
    for (const auto &x : c.mounts)
      if (x.path == m->cfg.path)
        nc = &x;
    if (!nc) {
      if (m->mounted.load (std::memory_order_relaxed) && m->factory) {
        gst_rtsp_mount_points_remove_factory (mp, m->cfg.path.c_str ());
        m->mounted.store (false, std::memory_order_relaxed);
        removed.push_back (m->cfg.path);
      }
    } else if (!(*nc == m->cfg)) {
      not_live.push_back ("changed " + m->cfg.path);
    } else if (!m->mounted.load (std::memory_order_relaxed) && m->factory) {
      gst_rtsp_mount_points_add_factory (
          mp, m->cfg.path.c_str (),
          GST_RTSP_MEDIA_FACTORY (g_object_ref (m->factory)));
      m->mounted.store (true, std::memory_order_relaxed);
      remounted.push_back (m->cfg.path);
    }
  }
  g_object_unref (mp);
  for (const auto &x : c.mounts) {
    bool known = false;
    for (auto &m : s.mounts)
      known = known || m->cfg.path == x.path;
    if (!known)
      not_live.push_back ("added " + x.path);
  }
  std::string line = "reload:";
  if (!removed.empty ())
    line += " unmounted " + join_names (removed) + ";";
  if (!remounted.empty ())
    line += " mounted again " + join_names (remounted) + ";";
  if (!not_live.empty ())
    line += " not applied live, restart to apply: " + join_names (not_live)
            + ";";
  if (removed.empty () && remounted.empty () && not_live.empty ())
    line += " no change;";
  line.pop_back ();
  log_line (&s, "%s", line.c_str ());
}

static GstRTSPFilterResult
remove_client (GstRTSPServer *, GstRTSPClient *, gpointer) noexcept
{
  return GST_RTSP_FILTER_REMOVE;
}

static GstRTSPFilterResult
remove_session (GstRTSPSessionPool *, GstRTSPSession *, gpointer) noexcept
{
  return GST_RTSP_FILTER_REMOVE;
}

void
fanout_server_stop (FanoutServer *fs)
{
  Server &s = fs->s;
  if (s.pending_source) {
    g_source_destroy (s.pending_source);
    g_source_unref (s.pending_source);
    s.pending_source = nullptr;
  }
  web_output_stop (std::exchange (s.web, nullptr));
  if (s.http) {
    g_signal_handlers_disconnect_by_data (s.http, &s);
    if (s.http_auth) {
      soup_server_remove_auth_domain (s.http, s.http_auth);
      g_object_unref (s.http_auth);
      s.http_auth = nullptr;
    }
    soup_server_disconnect (s.http);
    g_object_unref (s.http);
    s.http = nullptr;
  }
  for (GSource **src : { &s.cleanup_source, &s.stall_source })
    if (*src) {
      g_source_destroy (*src);
      g_source_unref (*src);
      *src = nullptr;
    }
  if (s.rtsp) {
    g_signal_handlers_disconnect_by_data (s.rtsp, &s);
    /* Clients first, then what is left of the sessions. A client's own
     * thread tears its sessions down when its watch goes (the "closed"
     * signal comes after); unpreparing those medias from here at the same
     * time races with it: gst-rtsp-server 1.22 can then send into a client
     * already finalized and abort. So wait for every "closed" (bounded),
     * clients closing by themselves included. */
    gst_rtsp_server_client_filter (s.rtsp, remove_client, nullptr);
    if (s.rtsp_source) {
      g_source_destroy (s.rtsp_source);
      g_source_unref (s.rtsp_source);
      s.rtsp_source = nullptr;
    }
    gint64 end = g_get_monotonic_time () + kStopClientsWaitUs;
    while (g_get_monotonic_time () < end) {
      if (s.context)
        while (g_main_context_iteration (s.context, FALSE))
          ;
      {
        std::lock_guard<std::mutex> g (s.lock);
        if (s.clients.empty ())
          break;
      }
      g_usleep (5000);
    }
    GstRTSPSessionPool *pool = gst_rtsp_server_get_session_pool (s.rtsp);
    g_signal_handlers_disconnect_by_data (pool, &s);
    gst_rtsp_session_pool_filter (pool, remove_session, nullptr);
    g_object_unref (pool);
    {
      std::lock_guard<std::mutex> g (s.lock);
      for (ClientState *cs : s.clients) {
        g_signal_handlers_disconnect_by_data (cs->client, &s);
        g_object_steal_data (G_OBJECT (cs->client), "fanout-client");
        delete cs;
      }
      s.clients.clear ();
      s.sessions.clear ();
      s.owners.clear ();
    }
    for (auto &m : s.mounts)
      if (m->factory) {
        g_signal_handlers_disconnect_by_data (m->factory, m.get ());
        GstRTSPMountPoints *mp = gst_rtsp_server_get_mount_points (s.rtsp);
        gst_rtsp_mount_points_remove_factory (mp, m->cfg.path.c_str ());
        g_object_unref (mp);
        g_object_unref (m->factory);
        m->factory = nullptr;
      }
    g_object_unref (s.rtsp);
    s.rtsp = nullptr;
  }
  for (auto &m : s.mounts) {
    GSource *d = nullptr, *idle = nullptr;
    {
      std::lock_guard<std::mutex> g (m->lock);
      d = std::exchange (m->deferred_key_unit, nullptr);
      idle = std::exchange (m->idle_source, nullptr);
    }
    for (GSource *src : { d, idle })
      if (src) {
        g_source_destroy (src);
        g_source_unref (src);
      }
    if (m->sender)
      m->sender->stop ();
    runner_stop (m->encoder);
  }
  for (auto &src : s.sources)
    runner_stop (src->runner);
}

void
fanout_server_free (FanoutServer *fs)
{
  if (!fs)
    return;
  fanout_server_stop (fs);
  /* Medias still alive (a client thread finishing) keep MediaInfo, which
   * points at the mount: disconnect those signals first. */
  for (auto &m : fs->s.mounts) {
    std::lock_guard<std::mutex> g (m->lock);
    for (MediaInfo *mi : m->medias)
      g_signal_handlers_disconnect_by_data (mi->media, m.get ());
  }
  if (fs->s.context)
    g_main_context_unref (fs->s.context);
  delete fs;
}

guint
fanout_server_get_port (FanoutServer *fs)
{
  return fs->s.port;
}

guint
fanout_server_get_http_port (FanoutServer *fs)
{
  return fs->s.http_port;
}

gchar *
fanout_server_get_url (FanoutServer *fs, const gchar *path)
{
  const std::string &a = fs->s.cfg.address;
  const char *host = (a == "0.0.0.0" || a == "::") ? "127.0.0.1" : a.c_str ();
  if (!path)
    path = fs->s.mounts.empty () ? "/" : fs->s.mounts[0]->cfg.path.c_str ();
  const char *scheme = fs->s.tls ? "rtsps" : "rtsp";
  if (strchr (host, ':'))
    return g_strdup_printf ("%s://[%s]:%u%s", scheme, host, fs->s.port, path);
  return g_strdup_printf ("%s://%s:%u%s", scheme, host, fs->s.port, path);
}

gchar *
fanout_server_get_http_url (FanoutServer *fs)
{
  if (!fs->s.http_port)
    return nullptr;
  const std::string &a = fs->s.cfg.http_address;
  const char *host = (a == "0.0.0.0" || a == "::") ? "127.0.0.1" : a.c_str ();
  if (strchr (host, ':'))
    return g_strdup_printf ("http://[%s]:%u", host, fs->s.http_port);
  return g_strdup_printf ("http://%s:%u", host, fs->s.http_port);
}

guint
fanout_server_get_n_mounts (FanoutServer *fs)
{
  return (guint)fs->s.mounts.size ();
}

const gchar *
fanout_server_get_mount_path (FanoutServer *fs, guint index)
{
  return index < fs->s.mounts.size () ? fs->s.mounts[index]->cfg.path.c_str ()
                                      : nullptr;
}

guint
fanout_server_get_n_clients (FanoutServer *fs, const gchar *path)
{
  for (auto &m : fs->s.mounts)
    if (m->cfg.path == path) {
      std::lock_guard<std::mutex> g (m->lock);
      return (guint)MAX (0, m->clients);
    }
  return 0;
}
