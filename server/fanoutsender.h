/* gst-fanout
 * Copyright (C) 2026 the gst-fanout authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2.1 of the License, or (at your option) any later version.
 */

/* Isolated delivery of one mount: its media payloads each frame once into
 * an RTP ring (one buffer list per frame); one sender thread walks every
 * isolated client's own cursor on that ring and writes to the client's
 * transport (interleaved TCP through gst-rtsp-server's client, UDP with
 * one sendmmsg per frame on the stream's own RTP socket). A client that
 * cannot keep up (more than a second behind, or lapped) resumes at the
 * newest keyframe, alone.
 *
 * Threads: push () from the media's streaming thread; add (), remove ()
 * and the counters from any thread; the sender thread does the rest. */

#pragma once

#include <gst/gst.h>
#include <gst/rtsp-server/rtsp-server.h>

#include <sys/socket.h>

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "fanoutkeyunits.h"
#include "ring.h"

namespace gstfanout
{

/* One isolated client: its cursor and counters. */
struct SenderClient {
  SenderClient (GstRTSPClient *client, GstRTSPSession *session,
                GstRTSPStreamTransport *trans, std::shared_ptr<Ring> ring,
                gint64 play_us) noexcept;
  ~SenderClient ();
  SenderClient (const SenderClient &) = delete;
  SenderClient &operator= (const SenderClient &) = delete;

  GstRTSPClient *client; /* owned reference */
  /* Owned reference: the transport's keep-alive (each send) touches the
   * session, which must outlive a send racing with its removal. */
  GstRTSPSession *session;
  GstRTSPStreamTransport *trans; /* owned reference */
  bool tcp = true;
  GSocket *socket = nullptr;         /* UDP: the stream's RTP socket (owned) */
  int fd = -1;                       /* its descriptor */
  struct sockaddr_storage dest = {}; /* UDP: the client's RTP port */
  socklen_t dest_len = 0;
  RingReader reader;
  gint64 play_us;
  std::atomic<guint64> frames{ 0 };
  /* Frames held for a connection that took nothing until the ring lapped
   * them (the reader counts the rest of what it skipped). */
  std::atomic<guint64> stale{ 0 };
  std::atomic<bool> removed{ false };

  /* Frames this client lost (lapped), any thread. */
  guint64 drops () const noexcept
  {
    return reader.dropped () + stale.load (std::memory_order_relaxed);
  }

  /* Sender thread only. */
  RingItem pending;
  bool has_pending = false;
  bool joined = false;
};

class Sender
{
public:
  /* Called on the sender thread when a client's first frame (a keyframe)
   * is out: @secs after its PLAY. */
  using JoinFunc = void (*) (gpointer data, double secs);

  /* Returns nullptr and sets @error when the ring or thread cannot be
   * made. */
  /* Every keyframe published is told to @keys (the mount's authority,
   * which outlives the sender's thread: stop () before it goes). */
  static std::unique_ptr<Sender> create (const std::string &name,
                                         gsize capacity, KeyUnits *keys,
                                         JoinFunc on_join, gpointer data,
                                         std::string *error) noexcept;
  ~Sender ();
  Sender (const Sender &) = delete;
  Sender &operator= (const Sender &) = delete;

  /* Medias whose frames may be published: the oldest attached one is the
   * source. A media attached while another is the source waits its turn:
   * it takes over (and the ring starts over: a new RTP stream) only when
   * the source detaches, so that a second media of the mount never cuts
   * off the clients of the first. Idempotent; any thread. */
  void attach (gconstpointer media) noexcept;
  void detach (gconstpointer media) noexcept;
  /* A frame of @media's payloader (transfer none): published when @media
   * is the current source. Its streaming thread. */
  void push (gconstpointer media, GstBufferList *list, bool key) noexcept;

  /* Starts delivery to @trans at the newest keyframe in the ring (or the
   * next one). nullptr when the transport cannot be served here (the
   * caller leaves it to gst-rtsp-server). */
  std::shared_ptr<SenderClient> add (GstRTSPClient *client,
                                     GstRTSPSession *session,
                                     GstRTSPStreamTransport *trans,
                                     gint64 play_us) noexcept;
  /* Ends delivery; the client's counters stay readable. Any thread. */
  void remove (const std::shared_ptr<SenderClient> &c) noexcept;
  /* Ends delivery to every client of @session (it timed out). */
  void remove_session (GstRTSPSession *session) noexcept;

  /* Frames skipped by lapped clients, gone ones included. */
  guint64 drops () const noexcept;

  /* Stops the thread and lets every client go (server stop). */
  void stop () noexcept;

private:
  Sender () noexcept = default;
  void run () noexcept;
  void serve (SenderClient &c) noexcept;
  void forget_locked (const std::shared_ptr<SenderClient> &c) noexcept;
  static void message_sent_cb (GstRTSPStreamTransport *trans,
                               gpointer data) noexcept;

  std::string name_;
  JoinFunc on_join_ = nullptr;
  gpointer join_data_ = nullptr;
  std::unique_ptr<RingWriter> writer_;
  guint64 capacity_ = 0;
  std::unique_ptr<RingReader> waiter_; /* the thread sleeps on it */
  std::thread thread_;
  std::atomic<bool> stopping_{ false };

  void set_source_locked (gconstpointer media) noexcept;

  /* One writer at a time (writing_): the current media's streaming
   * thread, or set_source_locked (). */
  std::atomic<bool> writing_{ false };
  gconstpointer source_ = nullptr; /* under writing_ */
  /* Taken before writing_: protects medias_ (attached, oldest first). */
  std::mutex source_lock_;
  std::vector<gconstpointer> medias_;

  KeyUnits *keys_ = nullptr; /* the mount's (not owned) */

  mutable std::mutex lock_; /* protects clients_ and drops_done_ */
  std::vector<std::shared_ptr<SenderClient>> clients_;
  guint64 drops_done_ = 0;
  std::atomic<guint64> gen_{ 0 }; /* bumped when clients_ changes */
};

} // namespace gstfanout
