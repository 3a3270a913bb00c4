/* gst-fanout
 * Copyright (C) 2026 the gst-fanout authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2.1 of the License, or (at your option) any later version.
 */

/* Launch descriptions (gst_parse_launch strings) of what the server runs:
 *
 *   source pipeline   SOURCE ! ... ! fanoutsink name=ring channel=NAME
 *   mount encoder     fanoutsrc channel=NAME ! ... ! ENCODER name=enc
 *                       ! fanoutsink name=ring channel=NAME:/PATH
 *   mount media       ( fanoutsrc name=ringsrc channel=RING
 *                       ! fanoutpaybin name=pay0 ... )
 *
 * Pure strings from the configuration (only element_exists looks at the
 * registry): nothing here runs or opens anything. */

#pragma once

#include "fanoutconfig.h"

#include <gst/gst.h>

#include <string>

namespace gstfanout
{

/* The writer end of channel @channel (element named "ring") holding
 * @capacity items. */
std::string writer_desc (const std::string &channel, guint capacity);
/* A reader of channel @channel (element named @name, "ringsrc" unless
 * told). @clock: timestamped through the clock (timestamp-mode=clock), so
 * that readers of several channels (video and audio) stay in step. */
std::string reader_desc (const std::string &channel,
                         const char *name = "ringsrc", bool clock = false);
/* The channel of source @channel's audio. */
std::string audio_channel (const std::string &channel);
/* The writer of a source's audio (element named "audioring"). */
std::string audio_writer_desc (const std::string &channel);
/* The payload type of @c's video (pay0). */
guint video_pt (Codec c) noexcept;
/* The codec a codec=copy mount passes through for caps named @name
 * (Codec::Auto: none). */
Codec passthrough_codec (const char *name) noexcept;

/* The H.264 encoder installed (x264enc, else openh264enc), or nullptr. */
const char *h264_encoder () noexcept;
/* Checks that @codec can be produced and payloaded for mount @path: a
 * MISSING error naming the package when not. */
bool check_codec (Codec codec, const std::string &path,
                  GError **error) noexcept;

/* What a source's pipeline is, before its writer. */
struct SourcePlan {
  std::string head;    /* the description up to the writer */
  guint capacity = 32; /* ring items (~1 s of raw video) */
  /* A camera (v4l2): its device. head is completed by camera_tail () once
   * the camera is there and probed. "" for other sources. */
  std::string device;
  /* A file: it starts over at its end instead of ending (Runner::loop). */
  bool loop = false;
  /* Its audio branch up to the audio writer (audio_writer_desc), or "":
   * none. audio_maybe: the branch is linked only if the source turns out
   * to carry audio (a relay's upstream). */
  std::string audio;
  bool audio_maybe = false;
  /* A relay: its upstream is opened only while someone watches. */
  bool on_demand = false;
};
/* Plans source @cfg (a USAGE or MISSING error for a spec that cannot be
 * served). @relay_latency_ms: rtspsrc's latency for relayed sources. */
bool source_plan (const SourceConfig &cfg, guint relay_latency_ms,
                  SourcePlan *plan, GError **error) noexcept;
/* The rest of a camera's head for the formats it offers: its own H.264 or
 * MJPEG is passed through, else raw video is converted. */
std::string camera_tail (bool h264, bool jpeg);

/* Two GOPs of a mount's encoded frames (at least 64 items). */
guint mount_ring_capacity (const MountConfig &c, guint src_fps);
/* An encoding mount's pipeline: reads source channel @channel (@raw: raw
 * video, else decoded), scales/rates as configured, encodes to @codec and
 * writes ring @ring. @src_fps: the source's rate (0: unknown). */
std::string encoder_desc (const MountConfig &c, Codec codec,
                          const std::string &channel, bool raw, guint src_fps,
                          const std::string &ring, bool clock);
/* The audio part of a mount's media (pay1) for the source's audio caps
 * @caps read from @channel, as mount @c wants it (audio=): "" with a
 * USAGE or MISSING error when it cannot be served. May throw (strings). */
std::string audio_media_desc (const MountConfig &c, const std::string &channel,
                              const GstCaps *caps, GError **error);
/* Audio of caps @caps (decoded unless raw) to Opus at @kbps, 20 ms frames:
 * a chain for a description (no leading or trailing "!"). */
std::string opus_encode_chain (const GstCaps *caps, guint kbps);
/* A mount's media: reads @ring and payloads @codec (pay0), then @audio
 * (audio_media_desc, or "": video only). Isolated clients start on the
 * newest keyframe: RTP-Info names it. */
std::string media_desc (const std::string &ring, Codec codec, Mode mode,
                        const std::string &audio);

} // namespace gstfanout
