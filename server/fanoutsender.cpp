/* gst-fanout
 * Copyright (C) 2026 the gst-fanout authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2.1 of the License, or (at your option) any later version.
 */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "fanoutsender.h"

#include <gio/gio.h>
#include <gst/rtp/gstrtpbuffer.h>

#include <netinet/in.h>
#include <netinet/udp.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <chrono>
#include <new>
#include <system_error>

GST_DEBUG_CATEGORY_STATIC (fanout_sender_debug);
#define GST_CAT_DEFAULT fanout_sender_debug

namespace gstfanout
{

/* A client further behind live than this resumes at the newest keyframe. */
static const GstClockTime kMaxLag = GST_SECOND;

SenderClient::SenderClient (GstRTSPClient *c, GstRTSPSession *s,
                            GstRTSPStreamTransport *t,
                            std::shared_ptr<Ring> ring, gint64 play) noexcept
    : client (GST_RTSP_CLIENT (g_object_ref (c))),
      session (GST_RTSP_SESSION (g_object_ref (s))),
      trans (GST_RTSP_STREAM_TRANSPORT (g_object_ref (t))),
      reader (std::move (ring), LagPolicy::DropToKeyframe,
              StartPosition::LatestKeyframe),
      play_us (play)
{
  reader.set_max_lag_time (kMaxLag);
}

SenderClient::~SenderClient ()
{
  pending.obj.reset ();
  if (socket)
    g_object_unref (socket);
  g_object_unref (trans);
  g_object_unref (session);
  g_object_unref (client);
}

std::unique_ptr<Sender>
Sender::create (const std::string &name, gsize capacity, KeyUnits *keys,
                JoinFunc on_join, gpointer data, std::string *error) noexcept
{
  if (!fanout_sender_debug)
    GST_DEBUG_CATEGORY_INIT (fanout_sender_debug, "fanoutsender", 0,
                             "fanout-rtsp-server isolated delivery");
  std::unique_ptr<Sender> s (new (std::nothrow) Sender ());
  if (!s) {
    *error = "out of memory";
    return nullptr;
  }
  try {
    s->name_ = name;
  } catch (const std::bad_alloc &) {
    return nullptr; /* (*error stays empty: out of memory) */
  }
  s->keys_ = keys;
  s->on_join_ = on_join;
  s->join_data_ = data;
  s->writer_ = RingWriter::create (capacity, error);
  if (!s->writer_)
    return nullptr;
  s->capacity_ = ring_stats (*s->writer_->ring ()).capacity;
  s->waiter_.reset (new (std::nothrow) RingReader (
      s->writer_->ring (), LagPolicy::DropToLatest, StartPosition::Latest));
  if (!s->waiter_) {
    *error = "out of memory";
    return nullptr;
  }
  try {
    s->thread_ = std::thread (&Sender::run, s.get ());
  } catch (const std::system_error &e) {
    *error = std::string ("cannot start the sender thread: ") + e.what ();
    return nullptr;
  }
  return s;
}

Sender::~Sender ()
{
  stop ();
}

void
Sender::stop () noexcept
{
  stopping_.store (true, std::memory_order_release);
  if (thread_.joinable ()) {
    waiter_->wake ();
    thread_.join ();
  }
  std::vector<std::shared_ptr<SenderClient>> gone;
  {
    std::lock_guard<std::mutex> g (lock_);
    for (auto &c : clients_) {
      if (!c->removed.exchange (true, std::memory_order_acq_rel))
        drops_done_ += c->drops ();
      if (c->tcp)
        gst_rtsp_stream_transport_set_message_sent_full (c->trans, nullptr,
                                                         nullptr, nullptr);
    }
    gone.swap (clients_);
    gen_.fetch_add (1, std::memory_order_release);
  }
  /* The client references go here, outside the lock. */
}

void
Sender::set_source_locked (gconstpointer media) noexcept
{
  /* Waits out a push in progress (a few microseconds); a new media starts
   * a new RTP stream (SSRC, sequence numbers): forget the old one's. */
  while (writing_.exchange (true, std::memory_order_acquire))
    std::this_thread::yield ();
  if (source_ != media) {
    writer_->reset ();
    keys_->published_reset ();
    source_ = media;
  }
  writing_.store (false, std::memory_order_release);
}

void
Sender::attach (gconstpointer media) noexcept
{
  std::lock_guard<std::mutex> g (source_lock_);
  if (std::find (medias_.begin (), medias_.end (), media) != medias_.end ())
    return;
  try {
    medias_.push_back (media);
  } catch (const std::bad_alloc &) {
    GST_WARNING_OBJECT (media, "%s: out of memory, media %p not served",
                        name_.c_str (), media);
    return;
  }
  if (medias_.size () == 1)
    set_source_locked (media);
  else
    GST_INFO ("%s: media %p waits for %p to end", name_.c_str (), media,
              medias_.front ());
}

void
Sender::detach (gconstpointer media) noexcept
{
  std::lock_guard<std::mutex> g (source_lock_);
  auto it = std::find (medias_.begin (), medias_.end (), media);
  if (it == medias_.end ())
    return;
  bool current = it == medias_.begin ();
  medias_.erase (it);
  if (current)
    set_source_locked (medias_.empty () ? nullptr : medias_.front ());
}

void
Sender::push (gconstpointer media, GstBufferList *list, bool key) noexcept
{
  /* One writer at a time: a media going away may still be in its last
   * push when set_source () or the next media comes; it then skips. */
  if (writing_.exchange (true, std::memory_order_acquire))
    return;
  if (source_ == media) {
    /* Stamped with the monotonic clock: what a client's lag is measured
     * in. */
    gint64 now = g_get_monotonic_time ();
    writer_->push (GST_MINI_OBJECT_CAST (gst_buffer_list_ref (list)),
                   key ? ITEM_SYNC : 0u, (GstClockTime)now * GST_USECOND);
    writing_.store (false, std::memory_order_release);
    if (key)
      keys_->published (now);
    return;
  }
  writing_.store (false, std::memory_order_release);
}

/* A TCP client wrote out a frame it had queued: serve it again. */
void
Sender::message_sent_cb (GstRTSPStreamTransport *, gpointer data) noexcept
{
  static_cast<Sender *> (data)->waiter_->wake ();
}

std::shared_ptr<SenderClient>
Sender::add (GstRTSPClient *client, GstRTSPSession *session,
             GstRTSPStreamTransport *trans, gint64 play_us) noexcept
{
  const GstRTSPTransport *t = gst_rtsp_stream_transport_get_transport (trans);
  if (!t || stopping_.load (std::memory_order_acquire))
    return nullptr;
  if (t->lower_transport != GST_RTSP_LOWER_TRANS_TCP
      && t->lower_transport != GST_RTSP_LOWER_TRANS_UDP)
    return nullptr;
  std::shared_ptr<SenderClient> c;
  try {
    c = std::make_shared<SenderClient> (client, session, trans,
                                        writer_->ring (), play_us);
  } catch (const std::bad_alloc &) {
    return nullptr;
  }
  if (t->lower_transport == GST_RTSP_LOWER_TRANS_UDP) {
    c->tcp = false;
    GInetAddress *ia = t->destination
                           ? g_inet_address_new_from_string (t->destination)
                           : nullptr;
    if (!ia) {
      GST_WARNING_OBJECT (client,
                          "%s: UDP client without a destination "
                          "address",
                          name_.c_str ());
      return nullptr;
    }
    GstRTSPStream *stream = gst_rtsp_stream_transport_get_stream (trans);
    c->socket = gst_rtsp_stream_get_rtp_socket (stream,
                                                g_inet_address_get_family (ia));
    GSocketAddress *dest
        = g_inet_socket_address_new (ia, (guint16)t->client_port.min);
    g_object_unref (ia);
    gssize len = g_socket_address_get_native_size (dest);
    bool ok = c->socket && len > 0 && (gsize)len <= sizeof (c->dest)
              && g_socket_address_to_native (dest, &c->dest, sizeof (c->dest),
                                             nullptr);
    g_object_unref (dest);
    if (!ok) {
      GST_WARNING_OBJECT (client, "%s: no RTP socket for %s", name_.c_str (),
                          t->destination);
      return nullptr;
    }
    c->dest_len = (socklen_t)len;
    c->fd = g_socket_get_fd (c->socket);
  }
  if (c->tcp)
    gst_rtsp_stream_transport_set_message_sent_full (trans, message_sent_cb,
                                                     this, nullptr);
  {
    std::lock_guard<std::mutex> g (lock_);
    try {
      clients_.push_back (c);
    } catch (const std::bad_alloc &) {
      return nullptr;
    }
    gen_.fetch_add (1, std::memory_order_release);
  }
  /* Serve it now: its keyframe is already in the ring. */
  waiter_->wake ();
  return c;
}

void
Sender::forget_locked (const std::shared_ptr<SenderClient> &c) noexcept
{
  auto it = std::find (clients_.begin (), clients_.end (), c);
  if (it == clients_.end ())
    return;
  if (!c->removed.exchange (true, std::memory_order_acq_rel))
    drops_done_ += c->drops ();
  if (c->tcp)
    gst_rtsp_stream_transport_set_message_sent_full (c->trans, nullptr, nullptr,
                                                     nullptr);
  clients_.erase (it);
  gen_.fetch_add (1, std::memory_order_release);
}

void
Sender::remove (const std::shared_ptr<SenderClient> &c) noexcept
{
  if (!c)
    return;
  std::lock_guard<std::mutex> g (lock_);
  forget_locked (c);
}

void
Sender::remove_session (GstRTSPSession *session) noexcept
{
  std::vector<std::shared_ptr<SenderClient>> gone;
  std::lock_guard<std::mutex> g (lock_);
  for (auto &c : clients_)
    if (c->session == session)
      gone.push_back (c);
  for (auto &c : gone)
    forget_locked (c);
}

guint64
Sender::drops () const noexcept
{
  std::lock_guard<std::mutex> g (lock_);
  guint64 n = drops_done_;
  for (auto &c : clients_)
    n += c->drops ();
  return n;
}

/* UDP generic segmentation offload (Linux 4.18): a run of packets of one
 * size (the last of the run may be shorter) goes down the stack as one
 * datagram of up to kGsoMax packets and is cut into packets late (on
 * loopback, at the receiving socket): the per-packet cost of the send path
 * is paid once per run. Off for good after the kernel refused it once, or
 * with FANOUT_UDP_GSO=0 in the environment (to compare). */
static std::atomic<bool> gso_ok{ !g_getenv ("FANOUT_UDP_GSO")
                                 || !g_str_equal (g_getenv ("FANOUT_UDP_GSO"),
                                                  "0") };
static constexpr guint kGsoMax = 64;      /* UDP_MAX_SEGMENTS */
static constexpr gsize kGsoBytes = 65000; /* one IP datagram */

/* One sendmmsg per batch of @list's packets to @c's RTP port, each message
 * a GSO run of packets (or one packet). It never waits (the stream's socket
 * is a blocking one): a full socket buffer loses packets, as UDP does
 * anywhere, and does not hold up the other clients. */
static void
send_udp (SenderClient &c, GstBufferList *list) noexcept
{
  constexpr guint kMsgs = 32, kIov = 128;
  struct mmsghdr msgs[kMsgs];
  struct iovec iov[kIov];
  GstMapInfo maps[kIov];
  GstMemory *mems[kIov];
  /* a cmsg buffer per message: UDP_SEGMENT's gso_size */
  union {
    char buf[CMSG_SPACE (sizeof (guint16))];
    struct cmsghdr align;
  } ctl[kMsgs];
  const bool gso = gso_ok.load (std::memory_order_relaxed);
  guint n = gst_buffer_list_length (list);
  guint i = 0;
  while (i < n) {
    guint k = 0, nv = 0;
    /* Fill a batch: messages of runs of packets, each packet's memories
     * one iovec apiece (a packet of more than 4 is mapped whole: rare). */
    while (k < kMsgs && i < n) {
      guint run = 0, v0 = nv;
      gsize seg = 0, bytes = 0;
      while (i < n) {
        GstBuffer *b = gst_buffer_list_get (list, i);
        gsize size = gst_buffer_get_size (b);
        guint nm = gst_buffer_n_memory (b);
        if (run > 0
            && (!gso || size > seg || run == kGsoMax
                || bytes + size > kGsoBytes))
          break;
        if (nv + MIN (nm, 4u) > kIov)
          break;
        if (nm > 4) {
          GstMemory *m = gst_buffer_get_all_memory (b);
          if (!gst_memory_map (m, &maps[nv], GST_MAP_READ)) {
            gst_memory_unref (m);
            i++;
            continue;
          }
          mems[nv] = m; /* owned: unref'd below */
          iov[nv] = { maps[nv].data, maps[nv].size };
          nv++;
        } else {
          for (guint j = 0; j < nm; j++) {
            GstMemory *m = gst_memory_ref (gst_buffer_peek_memory (b, j));
            if (!gst_memory_map (m, &maps[nv], GST_MAP_READ)) {
              gst_memory_unref (m);
              continue;
            }
            mems[nv] = m;
            iov[nv] = { maps[nv].data, maps[nv].size };
            nv++;
          }
        }
        i++;
        bytes += size;
        if (run++ == 0)
          seg = size;
        else if (size < seg)
          break; /* a shorter packet ends its run */
      }
      if (nv == v0)
        break; /* no room left for one packet: send the batch first */
      memset (&msgs[k], 0, sizeof (msgs[k]));
      msgs[k].msg_hdr.msg_name = &c.dest;
      msgs[k].msg_hdr.msg_namelen = c.dest_len;
      msgs[k].msg_hdr.msg_iov = &iov[v0];
      msgs[k].msg_hdr.msg_iovlen = nv - v0;
      if (run > 1) {
        msgs[k].msg_hdr.msg_control = ctl[k].buf;
        msgs[k].msg_hdr.msg_controllen = sizeof (ctl[k].buf);
        struct cmsghdr *cm = CMSG_FIRSTHDR (&msgs[k].msg_hdr);
        cm->cmsg_level = SOL_UDP;
        cm->cmsg_type = UDP_SEGMENT;
        cm->cmsg_len = CMSG_LEN (sizeof (guint16));
        guint16 gs = (guint16)seg;
        memcpy (CMSG_DATA (cm), &gs, sizeof (gs));
      }
      k++;
    }
    if (k > 0) {
      int sent;
      do
        sent = sendmmsg (c.fd, msgs, k, MSG_DONTWAIT);
      while (sent < 0 && errno == EINTR);
      if (sent < 0 && gso && (errno == EIO || errno == EINVAL)
          && gso_ok.exchange (false)) {
        /* No GSO here (an old kernel, a device without it): packets one
         * by one from now on, this frame again from its start. */
        GST_WARNING ("UDP GSO refused (%s): sending packet by packet",
                     g_strerror (errno));
        for (guint v = 0; v < nv; v++) {
          gst_memory_unmap (mems[v], &maps[v]);
          gst_memory_unref (mems[v]);
        }
        send_udp (c, list);
        return;
      }
      if (sent < (int)k)
        GST_LOG ("UDP: %d of %u messages sent", sent, k);
    }
    for (guint v = 0; v < nv; v++) {
      gst_memory_unmap (mems[v], &maps[v]);
      gst_memory_unref (mems[v]);
    }
    if (k == 0 && i < n)
      i++; /* a packet that cannot be mapped at all: skip it */
  }
}

/* Sends @c what it has not had yet, as far as its transport takes it. */
void
Sender::serve (SenderClient &c) noexcept
{
  /* Its connection took nothing for a second, or while the ring went
   * round: drop the frame it holds; the pop below resumes at the newest
   * keyframe (the reader's own lag bound). */
  if (c.has_pending
      && (c.reader.lag_items () >= capacity_
          || c.reader.lag_time () > kMaxLag)) {
    c.pending.obj.reset ();
    c.has_pending = false;
    c.stale.fetch_add (1, std::memory_order_relaxed); /* counter */
  }
  for (;;) {
    if (!c.has_pending) {
      if (c.reader.try_pop (c.pending) != PopResult::Ok)
        return;
      c.has_pending = true;
    }
    GstMiniObject *obj = c.pending.obj.get ();
    if (obj && GST_IS_BUFFER_LIST (obj)) {
      GstBufferList *list = GST_BUFFER_LIST_CAST (obj);
      if (c.tcp) {
        /* FALSE: the client still queues an earlier frame (one at most per
         * channel). Keep this one; the queued one's "sent" wakes us. */
        if (!gst_rtsp_stream_transport_send_rtp_list (c.trans, list))
          return;
      } else {
        send_udp (c, list);
      }
      c.frames.fetch_add (1, std::memory_order_relaxed); /* counter */
      gint64 now = g_get_monotonic_time ();
      if (!c.joined) {
        guint rseq = 0;
        {
          GstRTPBuffer rtp = GST_RTP_BUFFER_INIT;
          if (gst_rtp_buffer_map (gst_buffer_list_get (list, 0), GST_MAP_READ,
                                  &rtp)) {
            rseq = gst_rtp_buffer_get_seq (&rtp);
            gst_rtp_buffer_unmap (&rtp);
          }
        }
        GST_DEBUG ("%s: first frame for %p: item %" G_GUINT64_FORMAT
                   " flags %u, %u packets, seq %u",
                   name_.c_str (), (void *)c.client, c.pending.seq,
                   c.pending.flags, gst_buffer_list_length (list), rseq);
        c.joined = true;
        if (on_join_)
          on_join_ (join_data_, (now - c.play_us) / 1e6);
      }
    }
    c.pending.obj.reset ();
    c.has_pending = false;
  }
}

void
Sender::run () noexcept
{
  std::vector<std::shared_ptr<SenderClient>> snap;
  guint64 seen = G_MAXUINT64;
  RingItem item;
  while (!stopping_.load (std::memory_order_acquire)) {
    PopResult r = waiter_->pop (item);
    if (r == PopResult::Disconnected)
      break;
    /* Frames that came together are served in one pass. */
    while (r == PopResult::Ok && (r = waiter_->try_pop (item)) == PopResult::Ok)
      ;
    item.obj.reset ();
    if (stopping_.load (std::memory_order_acquire))
      break;
    if (gen_.load (std::memory_order_acquire) != seen) {
      std::lock_guard<std::mutex> g (lock_);
      snap = clients_;
      seen = gen_.load (std::memory_order_relaxed);
    }
    for (auto &c : snap)
      if (!c->removed.load (std::memory_order_acquire))
        serve (*c);
  }
}

} // namespace gstfanout
