/* gst-fanout
 * Copyright (C) 2026 the gst-fanout authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2.1 of the License, or (at your option) any later version.
 */

/* Offer logic of WHEP: see fanoutwhepoffer.h. */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "fanoutwhepoffer.h"

#include <cstdlib>

/* Scores each payload of the offer (see the header); SDP without
 * profile-level-id's profile gets it computed, so that constrained
 * baseline is recognised whichever way the offer names it. */
guint
fanout_whep_pick_payload (const GstSDPMedia *media, const char *encoding_c,
                          GstCaps **caps, gchar **plid)
{
  guint best = 0;
  int best_score = -1;
  for (guint i = 0; i < gst_sdp_media_formats_len (media); i++) {
    guint pt = (guint)atoi (gst_sdp_media_get_format (media, i));
    GstCaps *c = gst_sdp_media_get_caps_from_media (media, (gint)pt);
    if (!c)
      continue;
    GstStructure *st = gst_caps_get_structure (c, 0);
    const char *enc = gst_structure_get_string (st, "encoding-name");
    int score = -1;
    if (enc && g_ascii_strcasecmp (enc, encoding_c) == 0) {
      if (g_str_equal (encoding_c, "H264")) {
        const char *pm = gst_structure_get_string (st, "packetization-mode");
        const char *prof = gst_structure_get_string (st, "profile");
        const char *plid = gst_structure_get_string (st, "profile-level-id");
        guint32 v = plid ? (guint32)strtoul (plid, nullptr, 16) : 0;
        if (!prof && v) {
          guint idc = v >> 16, flags = (v >> 8) & 0xff;
          prof = idc == 0x42
                     ? ((flags & 0x40) ? "constrained-baseline" : "baseline")
                 : idc == 0x4d ? "main"
                 : idc == 0x64 ? "high"
                               : "other";
          gst_structure_set (st, "profile", G_TYPE_STRING, prof, nullptr);
        }
        if (pm && g_str_equal (pm, "1")) {
          score = 1;
          if (g_strcmp0 (prof, "constrained-baseline") == 0)
            score = 3;
          else if (g_strcmp0 (prof, "baseline") == 0)
            score = 2;
        }
      } else {
        score = 1;
      }
    }
    if (score > best_score) {
      best_score = score;
      best = pt;
      gst_caps_replace (caps, c);
    }
    gst_caps_unref (c);
  }
  if (best_score < 0) {
    gst_caps_replace (caps, nullptr);
    *plid = nullptr;
    return 0;
  }
  GstCaps *w = gst_caps_make_writable (*caps);
  GstStructure *st = gst_caps_get_structure (w, 0);
  gst_structure_set_name (st, "application/x-rtp"); /* SDP says x-unknown */
  gst_structure_set (st, "media", G_TYPE_STRING, "video", nullptr);
  /* The offer's profile and level are the most it decodes, not what we
   * send (a constrained-baseline stream is fine for a baseline decoder):
   * webrtcbin compares the stream's caps with these field by field, and
   * the stream names its own profile-level-id, which goes in the answer. */
  const char *offer_plid = gst_structure_get_string (st, "profile-level-id");
  *plid = offer_plid ? g_strdup (offer_plid) : nullptr;
  gst_structure_remove_fields (st, "profile-level-id", "profile", nullptr);
  *caps = w;
  return best;
}

/* Opus is 48 kHz and, in SDP, always two channels (RFC 7587): any other
 * clock rate is not Opus as browsers send it. */
guint
fanout_whep_pick_opus (const GstSDPMedia *media, GstCaps **caps)
{
  *caps = nullptr;
  if (g_strcmp0 (gst_sdp_media_get_media (media), "audio") != 0
      || gst_sdp_media_get_port (media) == 0
      || gst_sdp_media_get_attribute_val (media, "sendonly")
      || gst_sdp_media_get_attribute_val (media, "inactive"))
    return 0; /* not audio, or not audio the offerer receives */
  for (guint i = 0; i < gst_sdp_media_formats_len (media); i++) {
    guint pt = (guint)atoi (gst_sdp_media_get_format (media, i));
    GstCaps *c = gst_sdp_media_get_caps_from_media (media, (gint)pt);
    if (!c)
      continue;
    GstStructure *st = gst_caps_get_structure (c, 0);
    const char *enc = gst_structure_get_string (st, "encoding-name");
    gint rate = 0;
    if (enc && g_ascii_strcasecmp (enc, "OPUS") == 0
        && gst_structure_get_int (st, "clock-rate", &rate) && rate == 48000) {
      c = gst_caps_make_writable (c);
      st = gst_caps_get_structure (c, 0);
      gst_structure_set_name (st, "application/x-rtp"); /* SDP: x-unknown */
      gst_structure_set (st, "media", G_TYPE_STRING, "audio", nullptr);
      *caps = c;
      return pt;
    }
    gst_caps_unref (c);
  }
  return 0;
}
