/* gst-fanout
 * Copyright (C) 2026 the gst-fanout authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2.1 of the License, or (at your option) any later version.
 */

/* The pure part of WHEP (fanoutwhep.cpp): which payload of a browser's SDP
 * offer carries a mount's stream, and the caps webrtcbin must be given for
 * it. No GObject state; unit-tested by tests/check/server/whep_offer.c. */

#pragma once

#include <gst/gst.h>
#include <gst/sdp/sdp.h>

G_BEGIN_DECLS

/* The payload type in @media (an offer's video m-line) for @encoding
 * ("H264" or "VP8") that a browser decodes from our stream: for H.264
 * packetization-mode=1 only, constrained baseline preferred over baseline
 * over other profiles. *caps gets that payload's caps as webrtcbin reads
 * them from the offer (application/x-rtp, media=video), without
 * profile-level-id and profile: they become the transceiver's
 * codec-preferences, which webrtcbin matches field by field against the
 * stream (whose own profile-level-id goes in the answer). *plid gets the
 * offer's profile-level-id when webrtcbin keeps it in its offer caps (no
 * level-asymmetry-allowed=1), for the stream's caps, else NULL (free
 * with g_free). Returns 0 (and NULL caps) when there is no such payload. */
guint fanout_whep_pick_payload (const GstSDPMedia *media, const char *encoding,
                                GstCaps **caps, gchar **plid);

/* The payload type in @media (an offer's audio m-line) for Opus (what
 * browsers and webrtcbin write as opus/48000/2, whatever the case, the
 * channels' count left out or not): the first such payload. *caps gets its
 * caps as webrtcbin reads them (application/x-rtp, media=audio), for the
 * audio transceiver's codec-preferences. Returns 0 (and NULL caps) when
 * @media is not audio, is rejected (port 0), is sendonly or inactive (the
 * offerer receives nothing there), or has no Opus payload. */
guint fanout_whep_pick_opus (const GstSDPMedia *media, GstCaps **caps);

G_END_DECLS
