/* gst-fanout
 * Copyright (C) 2026 the gst-fanout authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2.1 of the License, or (at your option) any later version.
 */

/* RTSP connections and their sessions on gst-rtsp-server: each
 * connection's state (ClientState), each session set up on a mount
 * (SessionState: what --max-clients counts and /stats lists), and the
 * handlers of gst-rtsp-server's client signals: refusals (capacity,
 * digest uri=, another connection's session), keyframes for joins,
 * isolated delivery (the mount's sender), stalled shared TCP clients, the
 * log of every refused request.
 *
 * Owners: ClientState is the GstRTSPClient's (object data, freed with it),
 * listed in Server::clients; SessionState is Server::sessions'. Both under
 * Server::lock. Threads: the handlers run on gst-rtsp-server's client
 * threads, the watches (stall, session pool) on the server context. */

#pragma once

#include "fanoutmount.h"
#include "fanoutsender.h"

#include <gst/rtsp-server/rtsp-server.h>

#include <memory>
#include <string>

namespace gstfanout
{

/* A shared-mode TCP client whose connection took nothing for this long is
 * disconnected (gst-rtsp-server would keep its session and never serve it
 * again); checked every kStallCheckMs. */
static const gint64 kStallTimeoutUs = 10 * G_TIME_SPAN_SECOND;
static const guint kStallCheckMs = 1000;
/* Sessions one connection may hold at once (players use one per mount). */
static const guint kMaxSessionsPerConnection = 8;
/* The authenticated user's name in a GstRTSPToken. */
static const char *const kTokenUser = "fanout.user";

struct Server;

/* One RTSP connection. */
struct ClientState {
  Server *server;
  GstRTSPClient *client; /* not owned */
  guint64 id = 0;        /* connection number, never reused */
  std::string address;   /* IP:port */
  gint64 connected_us = 0;
  /* Its socket (owned: its descriptor reads -1 once gst-rtsp-server has
   * closed it) and the stall watch's last look at its send queue (server
   * context, under Server::lock). */
  GSocket *socket = nullptr;
  int stall_outq = -1;
  gint64 stall_since_us = 0;
  ~ClientState ()
  {
    if (socket)
      g_object_unref (socket);
  }
};

/* One RTSP session set up on one mount (a session that sets up two mounts
 * has two): what --max-clients counts and /stats lists. From its first
 * SETUP on the mount to its TEARDOWN, its timeout or its connection's
 * close. */
struct SessionState {
  std::string id; /* the session's id */
  guint64 conn;   /* the connection that set it up (ClientState::id) */
  std::string address, user; /* of that connection; user "" without auth */
  Mount *mount;
  std::string transport = "-";
  gint64 setup_us = 0, play_us = 0;
  guint64 frames_at_play = 0;
  /* Isolated: the session's delivery, and the sender's keyframe count when
   * its SETUP asked the encoder for a fresh one. */
  std::shared_ptr<SenderClient> sent;
  guint64 kf_mark = 0;
};

/* The mount serving @abspath (the longest path that is a prefix of it on a
 * "/" boundary), or nullptr. Any thread (the mounts are fixed once the
 * server starts). */
Mount *find_mount (Server *s, const char *abspath) noexcept;

/* The server's "client-connected" (@data: the Server): the connection's
 * state and signal handlers. */
void client_connected_cb (GstRTSPServer *server, GstRTSPClient *client,
                          gpointer data) noexcept;
/* The server's "client-connected" for 503 while a mount's source is not up
 * (@data: the Server). */
void unavailable_client_cb (GstRTSPServer *server, GstRTSPClient *client,
                            gpointer data) noexcept;
/* The session pool's "session-removed" (@data: the Server). */
void session_removed_cb (GstRTSPSessionPool *pool, GstRTSPSession *session,
                         gpointer data) noexcept;
/* The session pool's watch: expires timed-out sessions. Server context. */
gboolean pool_cleanup_cb (GstRTSPSessionPool *pool, gpointer data) noexcept;
/* Every kStallCheckMs (@data: the Server): closes stalled shared TCP
 * connections. Server context. */
gboolean stall_check_cb (gpointer data) noexcept;
/* ServerEnv::end_mount_sessions (@env: the Server): closes the connections
 * holding sessions of @m set up before @before_us (their sessions end with
 * them, closed_cb); returns how many. Server context. */
guint client_end_mount_sessions (const ServerEnv *env, Mount *m,
                                 gint64 before_us) noexcept;

} // namespace gstfanout
