/* gst-fanout
 * Copyright (C) 2026 the gst-fanout authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2.1 of the License, or (at your option) any later version.
 */

/* fanout-rtsp-server configuration: command line (GOptionContext), --source,
 * --mount and --config (GKeyFile) parsing. Every error is one line naming
 * the problem and the fix. */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "fanoutconfig.h"

#include <gio/gio.h>
#include <gst/gst.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

GQuark
fanout_server_error_quark (void)
{
  return g_quark_from_static_string ("fanout-server-error-quark");
}

namespace gstfanout
{

static bool
is_name (const std::string &s) noexcept
{
  if (s.empty ())
    return false;
  for (char c : s)
    if (!g_ascii_isalnum (c) && c != '_' && c != '-' && c != '.')
      return false;
  return true;
}

static bool
parse_uint (const std::string &s, guint64 max, guint64 *out) noexcept
{
  if (s.empty ())
    return false;
  gchar *end = nullptr;
  errno = 0;
  guint64 v = g_ascii_strtoull (s.c_str (), &end, 10);
  if (errno != 0 || end == s.c_str () || *end != '\0' || v > max)
    return false;
  *out = v;
  return true;
}

const char *
codec_name (Codec c) noexcept
{
  switch (c) {
  case Codec::Auto:
    return "auto";
  case Codec::H264:
    return "h264";
  case Codec::H265:
    return "h265";
  case Codec::Mjpeg:
    return "mjpeg";
  case Codec::Vp8:
    return "vp8";
  case Codec::Copy:
    return "copy";
  }
  return "?";
}

static bool
parse_mode (const std::string &v, Mode *mode) noexcept
{
  if (v == "shared")
    *mode = Mode::Shared;
  else if (v == "isolated")
    *mode = Mode::Isolated;
  else
    return false;
  return true;
}

static bool
parse_transports (const std::string &v, guint *out) noexcept
{
  guint t = 0;
  gchar **parts = g_strsplit_set (v.c_str (), "+|", -1);
  bool ok = parts[0] != nullptr;
  for (gchar **p = parts; *p; p++) {
    if (g_str_equal (*p, "udp"))
      t |= GST_RTSP_LOWER_TRANS_UDP;
    else if (g_str_equal (*p, "tcp"))
      t |= GST_RTSP_LOWER_TRANS_TCP;
    else if (g_str_equal (*p, "multicast") || g_str_equal (*p, "mcast"))
      t |= GST_RTSP_LOWER_TRANS_UDP_MCAST;
    else
      ok = false;
  }
  g_strfreev (parts);
  *out = t;
  return ok && t != 0;
}

/* Applies one mount key (shared by --mount and the config file). */
static bool
mount_set (MountConfig &m, const std::string &key, const std::string &val,
           const char *where, GError **error) noexcept
{
  guint64 u = 0;
  if (key == "codec") {
    if (val == "h264")
      m.codec = Codec::H264;
    else if (val == "h265" || val == "hevc")
      m.codec = Codec::H265;
    else if (val == "mjpeg" || val == "jpeg")
      m.codec = Codec::Mjpeg;
    else if (val == "vp8")
      m.codec = Codec::Vp8;
    else if (val == "copy")
      m.codec = Codec::Copy;
    else if (val == "auto")
      m.codec = Codec::Auto;
    else
      goto bad_value;
  } else if (key == "size") {
    guint w = 0, h = 0;
    char tail = 0;
    if (sscanf (val.c_str (), "%ux%u%c", &w, &h, &tail) != 2 || w < 16 || h < 16
        || w > 8192 || h > 8192)
      goto bad_value;
    m.width = w;
    m.height = h;
  } else if (key == "fps") {
    if (!parse_uint (val, 240, &u) || u == 0)
      goto bad_value;
    m.fps = (guint)u;
  } else if (key == "bitrate") {
    if (!parse_uint (val, 1000000, &u) || u == 0)
      goto bad_value;
    m.bitrate = (guint)u;
  } else if (key == "gop") {
    gchar *end = nullptr;
    double d = g_ascii_strtod (val.c_str (), &end);
    if (end == val.c_str () || *end != '\0' || !(d > 0.0) || d > 600.0)
      goto bad_value;
    m.gop = d;
  } else if (key == "mode") {
    if (!parse_mode (val, &m.mode))
      goto bad_value;
    m.mode_set = true;
  } else if (key == "transport" || key == "transports") {
    if (!parse_transports (val, &m.transports))
      goto bad_value;
  } else if (key == "max-clients") {
    if (!parse_uint (val, G_MAXINT, &u))
      goto bad_value;
    m.max_clients = (int)u;
  } else if (key == "source") {
    if (!is_name (val))
      goto bad_value;
    m.source = val;
  } else if (key == "audio") {
    if (val == "auto")
      m.audio = Audio::Auto;
    else if (val == "copy")
      m.audio = Audio::Copy;
    else if (val == "opus")
      m.audio = Audio::Opus;
    else if (val == "off" || val == "none")
      m.audio = Audio::Off;
    else
      goto bad_value;
  } else if (key == "audio-bitrate") {
    if (!parse_uint (val, 512, &u) || u < 6)
      goto bad_value;
    m.audio_bitrate = (guint)u;
  } else {
    g_set_error (error, FANOUT_SERVER_ERROR, FANOUT_SERVER_ERROR_USAGE,
                 "unknown mount key '%s' in %s: use codec, size, fps, "
                 "bitrate, gop, mode, transport, max-clients, audio or "
                 "audio-bitrate",
                 key.c_str (), where);
    return false;
  }
  return true;

bad_value:
  g_set_error (error, FANOUT_SERVER_ERROR, FANOUT_SERVER_ERROR_USAGE,
               "bad value '%s' for mount key '%s' in %s: use %s", val.c_str (),
               key.c_str (), where,
               key == "codec"       ? "h264, h265, mjpeg, vp8, copy or auto"
               : key == "size"      ? "WIDTHxHEIGHT, e.g. size=640x360"
               : key == "gop"       ? "seconds between keyframes, e.g. gop=2"
               : key == "mode"      ? "shared or isolated"
               : key == "transport" ? "udp, tcp, multicast joined by +"
               : key == "source"    ? "a source name"
               : key == "audio"     ? "auto, copy, opus or off"
               : key == "audio-bitrate"
                   ? "Opus kbit/s from 6 to 512, e.g. audio-bitrate=64"
                   : "a positive whole number");
  return false;
}

bool
config_add_source (FanoutServerConfig *c, const char *arg,
                   GError **error) noexcept
{
  const char *eq = strchr (arg, '=');
  std::string name = eq ? std::string (arg, eq - arg) : std::string ();
  if (!eq || !is_name (name) || eq[1] == '\0') {
    g_set_error (error, FANOUT_SERVER_ERROR, FANOUT_SERVER_ERROR_USAGE,
                 "malformed source '%s': write --source NAME=SPEC, e.g. "
                 "--source cam=test or --source cam=v4l2:/dev/video0",
                 arg);
    return false;
  }
  for (auto &s : c->sources)
    if (s.name == name) {
      g_set_error (error, FANOUT_SERVER_ERROR, FANOUT_SERVER_ERROR_USAGE,
                   "source '%s' is defined twice: give each --source its "
                   "own name",
                   name.c_str ());
      return false;
    }
  c->sources.push_back (SourceConfig{ name, eq + 1 });
  return true;
}

bool
config_add_mount (FanoutServerConfig *c, const char *arg,
                  GError **error) noexcept
{
  const char *eq = strchr (arg, '=');
  if (!eq || arg[0] != '/' || eq == arg + 1) {
    g_set_error (error, FANOUT_SERVER_ERROR, FANOUT_SERVER_ERROR_USAGE,
                 "malformed mount '%s': write --mount /PATH=SOURCE[,codec=h264]"
                 "[,size=WxH][,fps=N][,bitrate=KBPS][,gop=SECONDS]",
                 arg);
    return false;
  }
  MountConfig m;
  m.path = std::string (arg, eq - arg);
  if (m.path.find_first_of (" ?#*") != std::string::npos
      || m.path.find ("/stream=") != std::string::npos) {
    g_set_error (error, FANOUT_SERVER_ERROR, FANOUT_SERVER_ERROR_USAGE,
                 "bad mount path '%s': use letters, digits, '-', '_' and '/'",
                 m.path.c_str ());
    return false;
  }
  gchar **parts = g_strsplit (eq + 1, ",", -1);
  bool ok = true;
  m.source = parts[0] ? parts[0] : "";
  if (!is_name (m.source)) {
    g_set_error (error, FANOUT_SERVER_ERROR, FANOUT_SERVER_ERROR_USAGE,
                 "malformed mount '%s': the first item after '=' is the "
                 "source name, e.g. --mount /live=cam,codec=h264",
                 arg);
    ok = false;
  }
  for (gchar **p = parts + (parts[0] ? 1 : 0); ok && *p; p++) {
    const char *kv = strchr (*p, '=');
    if (!kv) {
      g_set_error (error, FANOUT_SERVER_ERROR, FANOUT_SERVER_ERROR_USAGE,
                   "malformed mount option '%s' in '%s': write KEY=VALUE, "
                   "e.g. codec=mjpeg",
                   *p, arg);
      ok = false;
      break;
    }
    std::string where = std::string ("--mount ") + arg;
    ok = mount_set (m, std::string (*p, kv - *p), kv + 1, where.c_str (),
                    error);
  }
  g_strfreev (parts);
  if (!ok)
    return false;
  for (auto &o : c->mounts)
    if (o.path == m.path) {
      g_set_error (error, FANOUT_SERVER_ERROR, FANOUT_SERVER_ERROR_USAGE,
                   "mount path '%s' is used twice: give each mount its own "
                   "path",
                   m.path.c_str ());
      return false;
    }
  c->mounts.push_back (m);
  return true;
}

static bool
set_multicast_range (FanoutServerConfig *c, const char *v,
                     GError **error) noexcept
{
  /* FIRST-LAST[:PORTMIN-PORTMAX] */
  gchar a[64], b[64];
  guint pmin = 5000, pmax = 5999;
  int n = sscanf (v, "%63[0-9.]-%63[0-9.]:%u-%u", a, b, &pmin, &pmax);
  GInetAddress *ia = n >= 2 ? g_inet_address_new_from_string (a) : nullptr;
  GInetAddress *ib = n >= 2 ? g_inet_address_new_from_string (b) : nullptr;
  bool ok = ia && ib && g_inet_address_get_is_multicast (ia)
            && g_inet_address_get_is_multicast (ib) && (n == 2 || n == 4)
            && pmin > 0 && pmin <= pmax && pmax < 65536;
  if (ia)
    g_object_unref (ia);
  if (ib)
    g_object_unref (ib);
  if (!ok) {
    g_set_error (error, FANOUT_SERVER_ERROR, FANOUT_SERVER_ERROR_USAGE,
                 "bad --multicast-range '%s': write FIRST-LAST[:PORT-PORT] "
                 "with multicast addresses, e.g. "
                 "224.3.0.1-224.3.0.20:5000-5999",
                 v);
    return false;
  }
  c->mcast_first = a;
  c->mcast_last = b;
  c->mcast_port_min = pmin;
  c->mcast_port_max = pmax;
  return true;
}

static bool
set_user (FanoutServerConfig *c, const char *v, GError **error) noexcept
{
  const char *colon = strchr (v, ':');
  if (!colon || colon == v || colon[1] == '\0') {
    g_set_error (error, FANOUT_SERVER_ERROR, FANOUT_SERVER_ERROR_USAGE,
                 "malformed --user '%s': write --user NAME:PASSWORD", v);
    return false;
  }
  c->users.emplace_back (std::string (v, colon - v), colon + 1);
  return true;
}

static bool
set_port (const char *opt, const char *v, int *out, bool allow_off,
          GError **error) noexcept
{
  guint64 u = 0;
  if (allow_off && g_str_equal (v, "off")) {
    *out = -1;
    return true;
  }
  if (!parse_uint (v, 65535, &u)) {
    g_set_error (error, FANOUT_SERVER_ERROR, FANOUT_SERVER_ERROR_USAGE,
                 "bad %s '%s': use a port number from 0 to 65535 (0 picks a "
                 "free one)",
                 opt, v);
    return false;
  }
  *out = (int)u;
  return true;
}

/* One server-wide option, by long name without dashes. */
static bool
config_set (FanoutServerConfig *c, const std::string &key, const char *v,
            GError **error) noexcept
{
  guint64 u = 0;
  if (key == "address") {
    GInetAddress *ia = g_inet_address_new_from_string (v);
    if (!ia) {
      g_set_error (error, FANOUT_SERVER_ERROR, FANOUT_SERVER_ERROR_USAGE,
                   "bad --address '%s': use an IP address of this machine, "
                   "e.g. 0.0.0.0 or 127.0.0.1",
                   v);
      return false;
    }
    g_object_unref (ia);
    c->address = v;
  } else if (key == "port") {
    return set_port ("--port", v, &c->port, false, error);
  } else if (key == "http-port") {
    return set_port ("--http-port", v, &c->http_port, true, error);
  } else if (key == "mode") {
    if (!parse_mode (v, &c->mode)) {
      g_set_error (error, FANOUT_SERVER_ERROR, FANOUT_SERVER_ERROR_USAGE,
                   "bad --mode '%s': use shared or isolated", v);
      return false;
    }
  } else if (key == "max-clients") {
    if (!parse_uint (v, G_MAXINT, &u)) {
      g_set_error (error, FANOUT_SERVER_ERROR, FANOUT_SERVER_ERROR_USAGE,
                   "bad --max-clients '%s': use a whole number (0: no limit)",
                   v);
      return false;
    }
    c->max_clients = (int)u;
  } else if (key == "http-address") {
    GInetAddress *ia = g_inet_address_new_from_string (v);
    if (!ia) {
      g_set_error (error, FANOUT_SERVER_ERROR, FANOUT_SERVER_ERROR_USAGE,
                   "bad --http-address '%s': use an IP address of this "
                   "machine, e.g. 127.0.0.1 (the default) or 0.0.0.0",
                   v);
      return false;
    }
    g_object_unref (ia);
    c->http_address = v;
  } else if (key == "stats-addresses") {
    if (g_str_equal (v, "true") || g_str_equal (v, "1"))
      c->stats_addresses = true;
    else if (g_str_equal (v, "false") || g_str_equal (v, "0"))
      c->stats_addresses = false;
    else {
      g_set_error (error, FANOUT_SERVER_ERROR, FANOUT_SERVER_ERROR_USAGE,
                   "bad stats-addresses '%s': use true or false", v);
      return false;
    }
  } else if (key == "tls-cert") {
    c->tls_cert = v;
  } else if (key == "tls-key") {
    c->tls_key = v;
  } else if (key == "session-timeout") {
    if (!parse_uint (v, 86400, &u) || u == 0) {
      g_set_error (error, FANOUT_SERVER_ERROR, FANOUT_SERVER_ERROR_USAGE,
                   "bad --session-timeout '%s': use whole seconds from 1 to "
                   "86400",
                   v);
      return false;
    }
    c->session_timeout_s = (guint)u;
  } else if (key == "idle-pause") {
    if (!parse_uint (v, 86400, &u)) {
      g_set_error (error, FANOUT_SERVER_ERROR, FANOUT_SERVER_ERROR_USAGE,
                   "bad --idle-pause '%s': use whole seconds from 0 to 86400 "
                   "(0: never pause)",
                   v);
      return false;
    }
    c->idle_pause_s = (guint)u;
  } else if (key == "relay-latency") {
    if (!parse_uint (v, 10000, &u)) {
      g_set_error (error, FANOUT_SERVER_ERROR, FANOUT_SERVER_ERROR_USAGE,
                   "bad --relay-latency '%s': use milliseconds from 0 to "
                   "10000",
                   v);
      return false;
    }
    c->relay_latency_ms = (guint)u;
  } else if (key == "relay-linger") {
    if (!parse_uint (v, 86400, &u)) {
      g_set_error (error, FANOUT_SERVER_ERROR, FANOUT_SERVER_ERROR_USAGE,
                   "bad --relay-linger '%s': use whole seconds from 0 to "
                   "86400 (0: relays stay connected)",
                   v);
      return false;
    }
    c->relay_linger_s = (guint)u;
  } else if (key == "key-unit-interval") {
    if (!parse_uint (v, 10000, &u)) {
      g_set_error (error, FANOUT_SERVER_ERROR, FANOUT_SERVER_ERROR_USAGE,
                   "bad --key-unit-interval '%s': use milliseconds from 0 "
                   "to 10000 (0: a keyframe for every join)",
                   v);
      return false;
    }
    c->key_unit_interval_ms = (guint)u;
  } else if (key == "user") {
    return set_user (c, v, error);
  } else if (key == "auth") {
    if (g_str_equal (v, "digest"))
      c->basic = false;
    else if (g_str_equal (v, "basic"))
      c->basic = true;
    else {
      g_set_error (error, FANOUT_SERVER_ERROR, FANOUT_SERVER_ERROR_USAGE,
                   "bad --auth '%s': use digest or basic", v);
      return false;
    }
  } else if (key == "multicast-range") {
    return set_multicast_range (c, v, error);
  } else if (key == "webrtc-ports") {
    guint lo = 0, hi = 0;
    char end = 0;
    if (sscanf (v, "%u-%u%c", &lo, &hi, &end) != 2 || lo == 0 || lo > hi
        || hi > 65535) {
      g_set_error (error, FANOUT_SERVER_ERROR, FANOUT_SERVER_ERROR_USAGE,
                   "bad --webrtc-ports '%s': write MIN-MAX, e.g. 50000-50100 "
                   "(the UDP ports WebRTC viewers' ICE may use)",
                   v);
      return false;
    }
    c->webrtc_port_min = lo;
    c->webrtc_port_max = hi;
  } else if (key == "source") {
    return config_add_source (c, v, error);
  } else if (key == "mount") {
    return config_add_mount (c, v, error);
  } else if (key == "config") {
    return fanout_server_config_load_file (c, v, error);
  } else {
    g_set_error (error, FANOUT_SERVER_ERROR, FANOUT_SERVER_ERROR_USAGE,
                 "unknown setting '%s': see fanout-rtsp-server --help",
                 key.c_str ());
    return false;
  }
  return true;
}

static gboolean
option_cb (const gchar *option_name, const gchar *value, gpointer data,
           GError **error) noexcept
{
  auto *c = static_cast<FanoutServerConfig *> (data);
  const char *key = option_name;
  static const char *const shorts[][2]
      = { { "-s", "source" }, { "-m", "mount" }, { "-a", "address" },
          { "-p", "port" },   { "-u", "user" },  { "-c", "config" },
          { "-q", "quiet" } };
  for (auto &sh : shorts)
    if (g_str_equal (option_name, sh[0]))
      key = sh[1];
  while (*key == '-')
    key++;
  if (g_str_equal (key, "list-devices")) {
    c->list_devices = true;
    return TRUE;
  }
  if (g_str_equal (key, "quiet")) {
    c->quiet = true;
    return TRUE;
  }
  if (g_str_equal (key, "version")) {
    /* like GLib's own --help: print and exit while parsing (the command
     * line only, see make_context) */
    gchar *gst = gst_version_string ();
    g_print ("fanout-rtsp-server %s (%s), %s\n", VERSION, PACKAGE, gst);
    g_free (gst);
    exit (0);
  }
  if (g_str_equal (key, "stats-addresses")) {
    c->stats_addresses = true;
    return TRUE;
  }
  return config_set (c, key, value, error) ? TRUE : FALSE;
}

static GOptionContext *
make_context (FanoutServerConfig *c, bool with_gst) noexcept
{
  static const GOptionEntry entries[] = {
    { "source", 's', 0, G_OPTION_ARG_CALLBACK, (gpointer)option_cb,
      "Capture a source once (repeatable). SPEC: test[:WxH[@FPS]], "
      "v4l2[:DEVICE], rtsp://..., any URI, launch:PIPELINE",
      "NAME=SPEC" },
    { "mount", 'm', 0, G_OPTION_ARG_CALLBACK, (gpointer)option_cb,
      "Serve a source at /PATH (repeatable). Keys: "
      "codec=h264|h265|mjpeg|vp8|copy, "
      "size=WxH, fps=N, bitrate=KBPS, gop=SECONDS, mode=shared|isolated, "
      "transport=udp+tcp+multicast, max-clients=N",
      "/PATH=NAME[,KEY=VALUE...]" },
    { "address", 'a', 0, G_OPTION_ARG_CALLBACK, (gpointer)option_cb,
      "Address to listen on (default 0.0.0.0)", "ADDR" },
    { "port", 'p', 0, G_OPTION_ARG_CALLBACK, (gpointer)option_cb,
      "RTSP port (default 8554; 0 picks a free one)", "PORT" },
    { "mode", 0, 0, G_OPTION_ARG_CALLBACK, (gpointer)option_cb,
      "Client fan-out of every mount: isolated (default) or shared", "MODE" },
    { "max-clients", 0, 0, G_OPTION_ARG_CALLBACK, (gpointer)option_cb,
      "Clients per mount before 503 (default 0: no limit)", "N" },
    { "idle-pause", 0, 0, G_OPTION_ARG_CALLBACK, (gpointer)option_cb,
      "Pause a mount's encoder after this many seconds without a client "
      "(default 5; 0: never)",
      "SECONDS" },
    { "relay-latency", 0, 0, G_OPTION_ARG_CALLBACK, (gpointer)option_cb,
      "Jitter-buffer latency of rtsp:// relay sources, in ms: how long a "
      "missing or late packet is waited for (default 200)",
      "MS" },
    { "relay-linger", 0, 0, G_OPTION_ARG_CALLBACK, (gpointer)option_cb,
      "Close an rtsp:// relay's upstream this many seconds after its last "
      "viewer left; the next viewer opens it again (default 30; 0: stay "
      "connected)",
      "SECONDS" },
    { "key-unit-interval", 0, 0, G_OPTION_ARG_CALLBACK, (gpointer)option_cb,
      "At most one keyframe forced for joining clients per this many ms and "
      "mount; a client joins on a keyframe up to half of it old "
      "(default 300; 0: one for every join)",
      "MS" },
    { "user", 'u', 0, G_OPTION_ARG_CALLBACK, (gpointer)option_cb,
      "Require authentication; add this user (repeatable)", "NAME:PASSWORD" },
    { "auth", 0, 0, G_OPTION_ARG_CALLBACK, (gpointer)option_cb,
      "Authentication method with --user: digest (default) or basic",
      "METHOD" },
    { "multicast-range", 0, 0, G_OPTION_ARG_CALLBACK, (gpointer)option_cb,
      "Multicast addresses and ports for transport=multicast mounts",
      "FIRST-LAST[:PORT-PORT]" },
    { "http-port", 0, 0, G_OPTION_ARG_CALLBACK, (gpointer)option_cb,
      "Serve /metrics and /stats over HTTP on this port (0: a free one)",
      "PORT" },
    { "webrtc-ports", 0, 0, G_OPTION_ARG_CALLBACK, (gpointer)option_cb,
      "UDP ports for WebRTC (WHEP) viewers' ICE, for firewalls (default: "
      "any)",
      "MIN-MAX" },
    { "http-address", 0, 0, G_OPTION_ARG_CALLBACK, (gpointer)option_cb,
      "Address of /metrics and /stats (default 127.0.0.1: this machine "
      "only; with --user they ask for the same users)",
      "ADDR" },
    { "stats-addresses", 0, G_OPTION_FLAG_NO_ARG, G_OPTION_ARG_CALLBACK,
      (gpointer)option_cb, "List client addresses in /stats", nullptr },
    { "tls-cert", 0, 0, G_OPTION_ARG_CALLBACK, (gpointer)option_cb,
      "Serve RTSPS (RTSP over TLS) with this PEM certificate (with "
      "--tls-key)",
      "FILE" },
    { "tls-key", 0, 0, G_OPTION_ARG_CALLBACK, (gpointer)option_cb,
      "The PEM private key of --tls-cert", "FILE" },
    { "session-timeout", 0, 0, G_OPTION_ARG_CALLBACK, (gpointer)option_cb,
      "End a session after this many seconds without a request, RTCP or "
      "keep-alive from its client (default 60; 5 s of grace)",
      "SECONDS" },
    /* a file name: passed as the bytes given, not converted to UTF-8 */
    { "config", 'c', G_OPTION_FLAG_FILENAME, G_OPTION_ARG_CALLBACK,
      (gpointer)option_cb, "Read settings, sources and mounts from a key file",
      "FILE" },
    { "list-devices", 0, G_OPTION_FLAG_NO_ARG, G_OPTION_ARG_CALLBACK,
      (gpointer)option_cb, "List cameras and exit", nullptr },
    { "quiet", 'q', G_OPTION_FLAG_NO_ARG, G_OPTION_ARG_CALLBACK,
      (gpointer)option_cb, "No per-client log lines", nullptr },
    { nullptr, 0, 0, G_OPTION_ARG_NONE, nullptr, nullptr, nullptr },
  };
  GOptionContext *ctx = g_option_context_new (
      "- serve live sources over RTSP, each captured once");
  g_option_context_set_summary (
      ctx, "With no options: the built-in test source at "
           "rtsp://127.0.0.1:8554/live (H.264, keyframe every 2 s).");
  GOptionGroup *group = g_option_group_new ("server", "Server options",
                                            "Show server options", c, nullptr);
  g_option_group_add_entries (group, entries);
  if (with_gst) {
    /* the command line only: --version exits */
    static const GOptionEntry cli_entries[] = {
      { "version", 0, G_OPTION_FLAG_NO_ARG, G_OPTION_ARG_CALLBACK,
        (gpointer)option_cb, "Print the version and exit", nullptr },
      { nullptr, 0, 0, G_OPTION_ARG_NONE, nullptr, nullptr, nullptr },
    };
    g_option_group_add_entries (group, cli_entries);
  }
  g_option_context_set_main_group (ctx, group);
  g_option_context_set_description (
      ctx,
      "Examples:\n"
      "  fanout-rtsp-server\n"
      "      the test source at rtsp://127.0.0.1:8554/live\n"
      "  fanout-rtsp-server --source cam=v4l2:/dev/video0 \\\n"
      "      --mount /hd=cam,codec=h264,size=1280x720 \\\n"
      "      --mount /sd=cam,codec=mjpeg,size=640x360\n"
      "      one camera, opened once, served at /hd and /sd\n"
      "  fanout-rtsp-server --source up=rtsp://camera.local/stream \\\n"
      "      --mount /relay=up,codec=copy --user viewer:secret\n"
      "      relay another server, with a password\n"
      "  fanout-rtsp-server --config /etc/fanout-rtsp-server.conf\n"
      "      settings, sources and mounts from a key file (server.md)\n"
      "\n"
      "Exit status: 0 after SIGINT/SIGTERM, 2 on bad input (one line on "
      "stderr\nnaming the problem and the fix), 1 on an unexpected failure.\n");
  if (with_gst)
    g_option_context_add_group (ctx, gst_init_get_option_group ());
  return ctx;
}

static void
rewrite_option_error (GError **error) noexcept
{
  if (error && *error && (*error)->domain == G_CONVERT_ERROR) {
    /* an argument that is not text in the user's locale */
    gchar *msg = g_strdup_printf (
        "an argument is not valid text in this locale (%s): set LANG or "
        "LC_ALL to a UTF-8 locale, e.g. LANG=C.UTF-8",
        (*error)->message);
    g_clear_error (error);
    g_set_error_literal (error, FANOUT_SERVER_ERROR, FANOUT_SERVER_ERROR_USAGE,
                         msg);
    g_free (msg);
  } else if (error && *error && (*error)->domain == G_OPTION_ERROR) {
    gchar *msg = g_strdup_printf (
        "%s: run fanout-rtsp-server --help for the options", (*error)->message);
    g_clear_error (error);
    g_set_error_literal (error, FANOUT_SERVER_ERROR, FANOUT_SERVER_ERROR_USAGE,
                         msg);
    g_free (msg);
  }
}

} // namespace gstfanout

using namespace gstfanout;

FanoutServerConfig *
fanout_server_config_new (void)
{
  return new FanoutServerConfig ();
}

void
fanout_server_config_free (FanoutServerConfig *config)
{
  delete config;
}

gboolean
fanout_server_config_parse_args (FanoutServerConfig *config, gint *argc,
                                 gchar ***argv, GError **error)
{
  GOptionContext *ctx = make_context (config, true);
  gboolean ok = g_option_context_parse (ctx, argc, argv, error);
  g_option_context_free (ctx);
  if (ok && *argc > 1) {
    g_set_error (error, FANOUT_SERVER_ERROR, FANOUT_SERVER_ERROR_USAGE,
                 "unexpected argument '%s': options start with --, see "
                 "fanout-rtsp-server --help",
                 (*argv)[1]);
    return FALSE;
  }
  rewrite_option_error (error);
  return ok;
}

gboolean
fanout_server_config_parse_strv (FanoutServerConfig *config,
                                 const gchar *const *args, GError **error)
{
  GPtrArray *arr = g_ptr_array_new ();
  g_ptr_array_add (arr, (gpointer) "fanout-rtsp-server");
  for (const gchar *const *a = args; a && *a; a++)
    g_ptr_array_add (arr, (gpointer)*a);
  gint argc = (gint)arr->len;
  /* g_option_context_parse reorders the vector: parse a copy of it. */
  gchar **argv = g_new0 (gchar *, arr->len + 1);
  for (guint i = 0; i < arr->len; i++)
    argv[i] = (gchar *)g_ptr_array_index (arr, i);
  gchar **argv_ptr = argv;
  GOptionContext *ctx = make_context (config, false);
  g_option_context_set_help_enabled (ctx, FALSE);
  gboolean ok = g_option_context_parse (ctx, &argc, &argv_ptr, error);
  g_option_context_free (ctx);
  if (ok && argc > 1) {
    g_set_error (error, FANOUT_SERVER_ERROR, FANOUT_SERVER_ERROR_USAGE,
                 "unexpected argument '%s': options start with --, see "
                 "fanout-rtsp-server --help",
                 argv_ptr[1]);
    ok = FALSE;
  }
  g_free (argv);
  g_ptr_array_free (arr, TRUE);
  rewrite_option_error (error);
  return ok;
}

gboolean
fanout_server_config_add_source (FanoutServerConfig *config, const gchar *arg,
                                 GError **error)
{
  return config_add_source (config, arg, error);
}

gboolean
fanout_server_config_add_mount (FanoutServerConfig *config, const gchar *arg,
                                GError **error)
{
  return config_add_mount (config, arg, error);
}

/* Key file: a [server] group with the long option names as keys (user may be
 * a list), a [source NAME] group per source with key spec, and a
 * [mount /PATH] group per mount with key source plus the mount keys. */
gboolean
fanout_server_config_load_file (FanoutServerConfig *config, const gchar *path,
                                GError **error)
{
  GKeyFile *kf = g_key_file_new ();
  GError *err = nullptr;
  bool ok = true;
  if (!g_key_file_load_from_file (kf, path, G_KEY_FILE_NONE, &err)) {
    g_set_error (error, FANOUT_SERVER_ERROR, FANOUT_SERVER_ERROR_USAGE,
                 "cannot read config file %s: %s: fix the path or the file",
                 path, err->message);
    g_error_free (err);
    g_key_file_free (kf);
    return FALSE;
  }
  gchar **groups = g_key_file_get_groups (kf, nullptr);
  for (gchar **g = groups; ok && *g; g++) {
    gchar **keys = g_key_file_get_keys (kf, *g, nullptr, nullptr);
    std::string group = *g;
    std::string where = std::string ("[") + group + "] of " + path;
    if (group == "server") {
      for (gchar **k = keys; ok && k && *k; k++) {
        if (g_str_equal (*k, "user")) {
          gchar **users
              = g_key_file_get_string_list (kf, *g, *k, nullptr, nullptr);
          for (gchar **u = users; ok && u && *u; u++)
            ok = set_user (config, g_strstrip (*u), error);
          g_strfreev (users);
        } else {
          gchar *v = g_key_file_get_string (kf, *g, *k, nullptr);
          ok = config_set (config, *k, v ? v : "", error);
          g_free (v);
        }
        /* name the file, the group and the key of a typo or a bad value */
        if (!ok)
          g_prefix_error (error, "key '%s' in %s: ", *k, where.c_str ());
      }
    } else if (g_str_has_prefix (*g, "source ")) {
      gchar *spec = g_key_file_get_string (kf, *g, "spec", nullptr);
      const gchar *other = nullptr;
      for (gchar **k = keys; k && *k && !other; k++)
        if (!g_str_equal (*k, "spec"))
          other = *k;
      if (other) {
        g_set_error (error, FANOUT_SERVER_ERROR, FANOUT_SERVER_ERROR_USAGE,
                     "unknown key '%s' in %s: a source group takes one key, "
                     "spec=SPEC (e.g. spec=test)",
                     other, where.c_str ());
        ok = false;
      } else if (!spec || keys[0] == nullptr || keys[1] != nullptr) {
        g_set_error (error, FANOUT_SERVER_ERROR, FANOUT_SERVER_ERROR_USAGE,
                     "%s needs exactly one key, spec=SPEC (e.g. spec=test)",
                     where.c_str ());
        ok = false;
      } else {
        std::string arg = g_strstrip (*g + 7);
        arg += "=";
        arg += spec;
        ok = config_add_source (config, arg.c_str (), error);
        if (!ok)
          g_prefix_error (error, "%s: ", where.c_str ());
      }
      g_free (spec);
    } else if (g_str_has_prefix (*g, "mount ")) {
      MountConfig m;
      m.path = g_strstrip (*g + 6);
      if (m.path.empty () || m.path[0] != '/') {
        g_set_error (error, FANOUT_SERVER_ERROR, FANOUT_SERVER_ERROR_USAGE,
                     "%s: a mount group is named [mount /PATH]",
                     where.c_str ());
        ok = false;
      }
      for (gchar **k = keys; ok && k && *k; k++) {
        gchar *v = g_key_file_get_string (kf, *g, *k, nullptr);
        ok = mount_set (m, *k, v ? v : "", where.c_str (), error);
        g_free (v);
      }
      if (ok && m.source.empty ()) {
        g_set_error (error, FANOUT_SERVER_ERROR, FANOUT_SERVER_ERROR_USAGE,
                     "%s has no source: add source=NAME", where.c_str ());
        ok = false;
      }
      for (auto &o : config->mounts)
        if (ok && o.path == m.path) {
          g_set_error (error, FANOUT_SERVER_ERROR, FANOUT_SERVER_ERROR_USAGE,
                       "mount path '%s' is used twice: give each mount its "
                       "own path",
                       m.path.c_str ());
          ok = false;
        }
      if (ok)
        config->mounts.push_back (m);
    } else {
      g_set_error (error, FANOUT_SERVER_ERROR, FANOUT_SERVER_ERROR_USAGE,
                   "unknown group [%s] in %s: use [server], [source NAME] "
                   "or [mount /PATH]",
                   *g, path);
      ok = false;
    }
    g_strfreev (keys);
  }
  g_strfreev (groups);
  g_key_file_free (kf);
  return ok;
}

gboolean
fanout_server_config_wants_device_list (FanoutServerConfig *config)
{
  return config->list_devices;
}

void
fanout_server_config_set_quiet (FanoutServerConfig *config, gboolean quiet)
{
  config->quiet = quiet;
}
