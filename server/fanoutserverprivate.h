/* gst-fanout
 * Copyright (C) 2026 the gst-fanout authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2.1 of the License, or (at your option) any later version.
 */

/* The server's own state (fanoutserver.cpp orchestrates it; the client
 * handlers, stats and web outputs read it). */

#pragma once

#include "fanoutclient.h"
#include "fanoutconfig.h"
#include "fanoutenv.h"
#include "fanoutmount.h"
#include "fanoutserver.h"

#include <gst/gst.h>
#include <gst/rtsp-server/rtsp-server.h>
#include <libsoup/soup.h>

#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

namespace gstfanout
{

/* fanout_server_stop waits at most this long for clients to close. */
static const gint64 kStopClientsWaitUs = 1000 * G_TIME_SPAN_MILLISECOND;
/* How often sources not up yet are checked for their first frame. */
static const guint kPendingPollMs = 100;
/* Largest RTSP request body a client may send (gst-rtsp-server buffers a
 * body whole before handling it). Ours are SET/GET_PARAMETER keep-alives,
 * empty or a few bytes; ANNOUNCE (record) is not served. */
static const guint kMaxRequestBody = 64 * 1024;

struct WebOutput; /* fanoutwhep.h: WHEP, status page, HTTP outputs */

/* The server: owns its sources, mounts, connections and sessions; the
 * C API (fanoutserver.cpp) is its only writer outside the client handlers
 * (fanoutclient.cpp), which own the fields under lock. Its settings and
 * context are the ServerEnv every unit reads. */
struct Server : ServerEnv {
  GstRTSPServer *rtsp = nullptr;
  GSource *rtsp_source = nullptr;
  GSource *cleanup_source = nullptr; /* expires timed-out sessions */
  GSource *stall_source = nullptr;   /* drops stalled shared TCP clients */
  SoupServer *http = nullptr;
  SoupAuthDomain *http_auth = nullptr; /* with --user */
  GTlsCertificate *tls = nullptr;      /* RTSPS (--tls-cert) */
  guint port = 0, http_port = 0;
  std::vector<std::unique_ptr<Source>> sources;
  std::vector<std::unique_ptr<Mount>> mounts;
  bool started = false;
  /* Polls the sources not up yet for their first frame (main context),
   * while there is one. */
  GSource *pending_source = nullptr;

  /* Protects clients, sessions, owners and next_conn (taken before any
   * Mount::lock). */
  std::mutex lock;
  std::set<ClientState *> clients;
  std::multimap<std::string, SessionState> sessions; /* by session id */
  /* Every session in the pool, by id: the connection that created it. A
   * request naming a session from another connection is refused. */
  std::map<std::string, guint64> owners;
  guint64 next_conn = 1;
  WebOutput *web = nullptr; /* on http; created and freed on context */

  ~Server ()
  {
    if (tls)
      g_object_unref (tls);
  }
};

} // namespace gstfanout

struct _FanoutServer {
  gstfanout::Server s;
};
