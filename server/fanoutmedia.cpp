/* gst-fanout
 * Copyright (C) 2026 the gst-fanout authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2.1 of the License, or (at your option) any later version.
 */

/* fanout-rtsp-server: the medias of a mount (fanoutmedia.h). */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "fanoutmedia.h"
#include "fanoutfactory.h"
#include "fanoutlaunch.h"
#include "fanoututil.h"

#include <gst/base/gstbasesink.h>

#include <algorithm>
#include <new>

#include "gstfanoutraii.h"

#define GST_CAT_DEFAULT fanout_server_debug

namespace gstfanout
{

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
        mount_record_join_locked (m, (now - it->play_us) / 1e6);
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
      mount_media_gone_locked (m);
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

/* On an isolated media's sinks: RTP packets of the video (payload type
 * @data) go no further (each client gets them from its own cursor); RTCP
 * (second byte 200-204) and the audio (pay1: a few small packets per
 * frame) do, through gst-rtsp-server's own fan-out. */
static GstPadProbeReturn
drop_rtp_probe (GstPad *, GstPadProbeInfo *info, gpointer data) noexcept
{
  GstBuffer *b = nullptr;
  if (info->type & GST_PAD_PROBE_TYPE_BUFFER_LIST) {
    GstBufferList *list = GST_PAD_PROBE_INFO_BUFFER_LIST (info);
    b = gst_buffer_list_length (list) ? gst_buffer_list_get (list, 0) : nullptr;
  } else {
    b = GST_PAD_PROBE_INFO_BUFFER (info);
  }
  guint8 head[2] = { 0, 0 };
  if (b && gst_buffer_extract (b, 0, head, 2) == 2
      && ((head[1] >= 200 && head[1] <= 204)
          || (head[1] & 0x7f) != GPOINTER_TO_UINT (data)))
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
  /* Its video sinks never get a buffer, so they would never preroll: the
   * pipeline would stay PAUSED on its way to PLAYING, and the audio (pay1,
   * which does reach its sinks) would wait there for good. */
  g_object_set (e, "async", FALSE, nullptr);
  GstPad *pad = gst_element_get_static_pad (e, "sink");
  if (!pad)
    return;
  gst_pad_add_probe (pad,
                     (GstPadProbeType)(GST_PAD_PROBE_TYPE_BUFFER
                                       | GST_PAD_PROBE_TYPE_BUFFER_LIST),
                     drop_rtp_probe, data, nullptr);
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
  if (std::find (m->medias.begin (), m->medias.end (), mi) != m->medias.end ())
    return;
  /* Reserved (mount_new): a push within it does not allocate. Beyond it
   * (medias that ended, still held by clients) it may. */
  try {
    m->medias.push_back (mi);
  } catch (const std::bad_alloc &) {
    GST_WARNING_OBJECT (media, "mount %s: out of memory, media not listed",
                        m->cfg.path.c_str ());
  }
}

static void
media_info_free (gpointer data) noexcept
{
  auto *mi = static_cast<MediaInfo *> (data);
  if (auto sender = mi->sender.lock ())
    sender->detach (mi->media);
  if (mi->ringsrc)
    gst_object_unref (mi->ringsrc);
  gst_caps_replace (&mi->caps, nullptr);
  delete mi;
}

/* The reader of a media (its streaming thread). When the source restarts,
 * the media reads on: the caps that start its new run (after its
 * stream-start) must match those its clients set up with
 * (caps_compatible), else the media ends: EOS (its clients get RTCP BYE),
 * nothing more from the ring, and its sessions are ended after a grace
 * (mount_schedule_end_clients). A media that saw EOS is dead. Isolated:
 * its frames stop, a newer media's may be published. New clients get
 * another media (see media_retire_dead). A loop (a file started over) has
 * no new stream-start: it is never checked. */
static GstPadProbeReturn
ringsrc_probe_unguarded (GstPad *pad, GstPadProbeInfo *info, MediaInfo *mi)
{
  /* acquire: pairs with the release stores below (this thread) */
  bool ended = mi->ended.load (std::memory_order_acquire);
  if (!(info->type & GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM))
    return ended ? GST_PAD_PROBE_DROP : GST_PAD_PROBE_OK;
  GstEvent *ev = GST_PAD_PROBE_INFO_EVENT (info);
  switch (GST_EVENT_TYPE (ev)) {
  case GST_EVENT_EOS:
    mi->ended.store (true, std::memory_order_release);
    if (auto sender = mi->sender.lock ())
      sender->detach (mi->media);
    return GST_PAD_PROBE_OK;
  case GST_EVENT_STREAM_START:
    mi->check_caps = mi->caps != nullptr;
    break;
  case GST_EVENT_SEGMENT:
    mi->check_caps = false;
    break;
  case GST_EVENT_CAPS: {
    if (ended)
      break;
    GstCaps *caps = nullptr;
    gst_event_parse_caps (ev, &caps);
    if (mi->check_caps && !caps_compatible (mi->caps, caps)) {
      Mount *m = mi->mount;
      std::string why = caps_change (mi->caps, caps);
      log_line (m->encoder.env,
                "mount %s: source %s came back with %s: its clients cannot "
                "follow, ending them",
                m->cfg.path.c_str (), m->source->cfg.name.c_str (),
                why.c_str ());
      mi->ended.store (true, std::memory_order_release);
      if (auto sender = mi->sender.lock ())
        sender->detach (mi->media);
      mount_schedule_end_clients (m, why);
      /* (the caps, pending on the pad, are dropped again below) */
      gst_pad_push_event (pad, gst_event_new_eos ());
      return GST_PAD_PROBE_DROP;
    }
    mi->check_caps = false;
    gst_caps_replace (&mi->caps, caps);
    break;
  }
  default:
    break;
  }
  return ended ? GST_PAD_PROBE_DROP : GST_PAD_PROBE_OK;
}

static GstPadProbeReturn
ringsrc_probe (GstPad *pad, GstPadProbeInfo *info, gpointer data) noexcept
{
  return guarded ("ringsrc_probe", GST_PAD_PROBE_OK, [&] {
    return ringsrc_probe_unguarded (pad, info, static_cast<MediaInfo *> (data));
  });
}

void
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
  auto *mi = new (std::nothrow) MediaInfo{ m, media, ringsrc, false };
  if (!mi) {
    GST_ERROR_OBJECT (media, "mount %s: out of memory", m->cfg.path.c_str ());
    gst_object_unref (ringsrc);
    gst_object_unref (pay);
    return;
  }
  {
    GstPad *rpad = gst_element_get_static_pad (ringsrc, "src");
    gst_pad_add_probe (rpad,
                       (GstPadProbeType)(GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM
                                         | GST_PAD_PROBE_TYPE_BUFFER
                                         | GST_PAD_PROBE_TYPE_BUFFER_LIST),
                       ringsrc_probe, mi, nullptr);
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
    /* Isolated: the video's payload type, whose packets the sinks drop. */
    g_signal_connect (
        pipeline, "deep-element-added", G_CALLBACK (sink_added_cb),
        m->sender ? GUINT_TO_POINTER (video_pt (m->codec)) : nullptr);
    gst_object_unref (pipeline);
  }
  mount_media_added (m, mi);
  mount_wait_fresh_keyframe (m);
}

/* A media of @m that ended (its source came back with another stream) or failed
 * stays in gst-rtsp-server's cache while a client holds it: new clients
 * would get that dead media (no frames, or 503). Before a request builds or
 * finds the mount's media, a dead one is retired: the factory's key
 * changes, the next construct builds a new media. */
void
media_retire_dead (Mount *m) noexcept
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
    fanout_media_factory_retire (m->factory);
    log_line (m->encoder.env,
              "mount %s: its media ended with its source; new clients get a "
              "new one",
              m->cfg.path.c_str ());
  }
}

} // namespace gstfanout
