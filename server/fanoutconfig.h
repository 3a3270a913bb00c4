/* gst-fanout
 * Copyright (C) 2026 the gst-fanout authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2.1 of the License, or (at your option) any later version.
 */

/* The server's configuration: what the command line, --source, --mount
 * and --config files say (parsed in fanoutconfig.cpp), compared as a whole
 * by a reload. Plain data: no RTSP server or HTTP types here. */

#pragma once

#include "fanoutserver.h"

#include <gst/gst.h>
#include <gst/rtsp/gstrtsptransport.h>

#include <string>
#include <utility>
#include <vector>

namespace gstfanout
{

enum class Codec { Auto, H264, H265, Mjpeg, Vp8, Copy };
enum class Mode { Shared, Isolated };
/* What a mount does with its source's audio: Auto passes through what RTSP
 * carries as it is (Opus, AAC, G.711) and encodes the rest to Opus; Copy
 * only passes through; Opus always encodes; Off serves video only. */
enum class Audio { Auto, Copy, Opus, Off };

const char *codec_name (Codec c) noexcept;

struct SourceConfig {
  std::string name;
  std::string spec;
  bool operator== (const SourceConfig &) const = default;
};

struct MountConfig {
  std::string path;
  std::string source;
  Codec codec = Codec::Auto;
  guint width = 0, height = 0, fps = 0; /* 0: as the source */
  guint bitrate = 2000;                 /* kbit/s */
  double gop = 2.0;                     /* seconds */
  Mode mode = Mode::Shared;
  bool mode_set = false; /* else the server-wide --mode */
  guint transports = 0;  /* GstRTSPLowerTrans; 0: UDP + TCP */
  int max_clients = -1;  /* -1: the server-wide --max-clients */
  Audio audio = Audio::Auto;
  guint audio_bitrate = 64; /* kbit/s, when the mount encodes Opus */
  bool operator== (const MountConfig &) const = default;
};

bool config_add_source (FanoutServerConfig *c, const char *arg,
                        GError **error) noexcept;
bool config_add_mount (FanoutServerConfig *c, const char *arg,
                       GError **error) noexcept;

} // namespace gstfanout

struct _FanoutServerConfig {
  std::vector<gstfanout::SourceConfig> sources;
  std::vector<gstfanout::MountConfig> mounts;
  std::string address = "0.0.0.0";
  int port = 8554;
  int http_port = -1; /* -1: no HTTP */
  /* /metrics and /stats listen here: loopback unless asked otherwise. */
  std::string http_address = "127.0.0.1";
  bool stats_addresses = false;  /* client addresses in /stats */
  std::string tls_cert, tls_key; /* RTSPS: PEM files (both or none) */
  gstfanout::Mode mode = gstfanout::Mode::Isolated;
  int max_clients = 0;          /* 0: no limit; counts sessions */
  guint session_timeout_s = 60; /* RTSP session timeout */
  guint idle_pause_s = 5;       /* 0: encoders never pause */
  /* Forced keyframes per mount: at most one per this interval (0: one per
   * join); a joining client starts on a keyframe up to half of it old. */
  guint key_unit_interval_ms = 300;
  /* rtspsrc's jitter-buffer latency for relay sources: how long a missing
   * or late packet is waited for (in-order packets pass at once). */
  guint relay_latency_ms = 200;
  /* A relay's upstream is closed this long after its last viewer left and
   * opened again at the next one (0: it stays open). */
  guint relay_linger_s = 30;
  std::vector<std::pair<std::string, std::string>> users;
  bool basic = false;
  std::string mcast_first = "224.3.0.1", mcast_last = "224.3.0.254";
  guint mcast_port_min = 5000, mcast_port_max = 5999;
  bool list_devices = false;
  bool quiet = false;
  guint webrtc_port_min = 0, webrtc_port_max = 0; /* 0: any (ICE) */
  /* Every field: a reload compares the settings (fanout_server_reload). */
  bool operator== (const _FanoutServerConfig &) const = default;
};
