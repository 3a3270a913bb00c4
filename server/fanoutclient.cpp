/* gst-fanout
 * Copyright (C) 2026 the gst-fanout authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2.1 of the License, or (at your option) any later version.
 */

/* fanout-rtsp-server: RTSP connections and sessions (fanoutclient.h). */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "fanoutclient.h"
#include "fanoutmedia.h"
#include "fanoutserverprivate.h"
#include "fanoututil.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>
#include <new>
#include <set>
#include <utility>

#define GST_CAT_DEFAULT fanout_server_debug

namespace gstfanout
{

Mount *
find_mount (Server *s, const char *abspath) noexcept
{
  if (!abspath)
    return nullptr;
  Mount *best = nullptr;
  size_t best_len = 0;
  for (auto &m : s->mounts) {
    const std::string &p = m->cfg.path;
    if (g_str_has_prefix (abspath, p.c_str ())
        && (abspath[p.size ()] == '\0' || abspath[p.size ()] == '/')
        && p.size () > best_len) {
      best = m.get ();
      best_len = p.size ();
    }
  }
  return best;
}

static ClientState *
client_state (GstRTSPClient *client) noexcept
{
  return static_cast<ClientState *> (
      g_object_get_data (G_OBJECT (client), "fanout-client"));
}

static const char *
transport_name (GstRTSPStreamTransport *trans) noexcept
{
  const GstRTSPTransport *t
      = trans ? gst_rtsp_stream_transport_get_transport (trans) : nullptr;
  if (!t)
    return "-";
  return t->lower_transport == GST_RTSP_LOWER_TRANS_TCP         ? "tcp"
         : t->lower_transport == GST_RTSP_LOWER_TRANS_UDP_MCAST ? "multicast"
                                                                : "udp";
}

static std::string
session_id (GstRTSPSession *session)
{
  const gchar *id
      = session ? gst_rtsp_session_get_sessionid (session) : nullptr;
  return id ? id : "";
}

/* The authenticated user of a request ("" without authentication). */
static std::string
ctx_user (const GstRTSPContext *ctx)
{
  const gchar *u = ctx && ctx->token
                       ? gst_rtsp_token_get_string (ctx->token, kTokenUser)
                       : nullptr;
  return u ? u : "";
}

/* The record of session @id on @m, or nullptr. With s->lock held. */
static SessionState *
find_session_locked (Server *s, const std::string &id, Mount *m) noexcept
{
  auto range = s->sessions.equal_range (id);
  for (auto it = range.first; it != range.second; ++it)
    if (it->second.mount == m)
      return &it->second;
  return nullptr;
}

/* A request that would add a session on @m (@new_session: a session too)
 * beyond --max-clients, or beyond this connection's share: 503. */
static GstRTSPStatusCode
check_capacity (ClientState *cs, Mount *m, bool new_session,
                const GstRTSPContext *ctx)
{
  Server *s = cs->server;
  if (new_session) {
    guint held = 0;
    {
      std::lock_guard<std::mutex> g (s->lock);
      for (auto &[id, conn] : s->owners)
        held += conn == cs->id;
    }
    if (held >= kMaxSessionsPerConnection) {
      log_line (s,
                "client %s (user %s) refused on %s: %u sessions on one "
                "connection already",
                cs->address.c_str (), ctx_user (ctx).c_str (),
                m->cfg.path.c_str (), held);
      return GST_RTSP_STS_SERVICE_UNAVAILABLE;
    }
  }
  if (m->max_clients <= 0)
    return GST_RTSP_STS_OK;
  int clients;
  {
    std::lock_guard<std::mutex> g (m->lock);
    clients = m->clients;
  }
  if (clients >= m->max_clients) {
    log_line (s, "client %s refused on %s: %d clients already (max-clients)",
              cs->address.c_str (), m->cfg.path.c_str (), clients);
    return GST_RTSP_STS_SERVICE_UNAVAILABLE;
  }
  return GST_RTSP_STS_OK;
}

/* Digest: gst-rtsp-server checks the response against the uri= the client
 * names, not against the request's URL, so a response captured for one
 * URL opened another. A Digest header whose uri= is not the request's URL
 * is refused (401). */
static GstRTSPStatusCode
check_digest_uri (ClientState *cs, const GstRTSPContext *ctx)
{
  if (cs->server->cfg.users.empty () || cs->server->cfg.basic || !ctx->request)
    return GST_RTSP_STS_OK;
  gchar *h = nullptr;
  if (gst_rtsp_message_get_header (ctx->request, GST_RTSP_HDR_AUTHORIZATION, &h,
                                   0)
          != GST_RTSP_OK
      || !h || g_ascii_strncasecmp (h, "Digest ", 7) != 0)
    return GST_RTSP_STS_OK;
  GstRTSPMethod method;
  const gchar *url = nullptr;
  if (gst_rtsp_message_parse_request (ctx->request, &method, &url, nullptr)
          != GST_RTSP_OK
      || !url)
    return GST_RTSP_STS_OK;
  const char *u = strstr (h, "uri=\"");
  const char *e = u ? strchr (u + 5, '"') : nullptr;
  if (u && e && std::string (u + 5, e - u - 5) == url)
    return GST_RTSP_STS_OK;
  log_line (cs->server,
            "client %s (user %s): %s %s: Digest response for another uri= "
            "refused",
            cs->address.c_str (), ctx_user (ctx).c_str (),
            gst_rtsp_method_as_text (method), redact (log_safe (url)).c_str ());
  return GST_RTSP_STS_UNAUTHORIZED;
}

/* A request naming a session (its Session header) that another connection
 * set up is answered as if there were no such session: knowing a session
 * id does not make one its owner. */
static GstRTSPStatusCode
check_owner (ClientState *cs, const GstRTSPContext *ctx, const char *method)
{
  /* (every request that can name a session comes here first) */
  if (check_digest_uri (cs, ctx) != GST_RTSP_STS_OK)
    return GST_RTSP_STS_UNAUTHORIZED;
  if (!ctx->session)
    return GST_RTSP_STS_OK;
  Server *s = cs->server;
  std::string id = session_id (ctx->session);
  {
    std::lock_guard<std::mutex> g (s->lock);
    auto it = s->owners.find (id);
    if (it != s->owners.end () && it->second == cs->id)
      return GST_RTSP_STS_OK;
  }
  log_line (s,
            "client %s (user %s): %s of another connection's session "
            "refused (454)",
            cs->address.c_str (), ctx_user (ctx).c_str (), method);
  return GST_RTSP_STS_SESSION_NOT_FOUND;
}

/* gst-rtsp-server makes a connection watch every session its requests
 * name, before any hook can refuse them, and when that connection closes
 * it tears down the TCP transports of every session it watches: one
 * request naming someone else's session, then a disconnect, cut that
 * session off. So after each request a connection stops watching the
 * sessions it does not own (with drop-backlog, the default, unwatching
 * only drops a reference). */
static GstRTSPFilterResult
unwatch_foreign_check (GstRTSPClient *client, GstRTSPSession *session,
                       gpointer data)
{
  auto *cs = static_cast<ClientState *> (data);
  std::string id = session_id (session);
  {
    std::lock_guard<std::mutex> g (cs->server->lock);
    auto it = cs->server->owners.find (id);
    if (it != cs->server->owners.end () && it->second == cs->id)
      return GST_RTSP_FILTER_KEEP;
  }
  GST_DEBUG ("client %p stops watching session %s", (void *)client,
             id.c_str ());
  return GST_RTSP_FILTER_REMOVE;
}

static GstRTSPFilterResult
unwatch_foreign (GstRTSPClient *client, GstRTSPSession *session,
                 gpointer data) noexcept
{
  return guarded ("unwatch_foreign", GST_RTSP_FILTER_KEEP, [&] {
    return unwatch_foreign_check (client, session, data);
  });
}

/* The user name a request's Authorization header claims ("" if none). */
static std::string
claimed_user (GstRTSPMessage *request)
{
  gchar *h = nullptr;
  if (!request
      || gst_rtsp_message_get_header (request, GST_RTSP_HDR_AUTHORIZATION, &h,
                                      0)
             != GST_RTSP_OK
      || !h)
    return "";
  if (g_ascii_strncasecmp (h, "Basic ", 6) == 0) {
    gsize len = 0;
    guchar *dec = g_base64_decode (h + 6, &len);
    std::string up ((const char *)dec, len);
    g_free (dec);
    return up.substr (0, up.find (':'));
  }
  const char *u = strstr (h, "username=\"");
  if (!u)
    return "";
  u += 10;
  const char *e = strchr (u, '"');
  return e ? std::string (u, e - u) : std::string ();
}

static void
handle_send_message (GstRTSPClient *client, GstRTSPContext *ctx,
                     GstRTSPMessage *msg, gpointer)
{
  ClientState *cs = client_state (client);
  if (!cs)
    return;
  GList *gone = gst_rtsp_client_session_filter (client, unwatch_foreign, cs);
  g_list_free_full (gone, g_object_unref);
  /* Every refused request is logged: client, user, method, path, status
   * (what fail2ban reads). */
  if (!msg || gst_rtsp_message_get_type (msg) != GST_RTSP_MESSAGE_RESPONSE
      || msg->type_data.response.code < 400)
    return;
  GstRTSPMethod method = GST_RTSP_INVALID;
  const gchar *uri = nullptr;
  if (ctx && ctx->request
      && gst_rtsp_message_get_type (ctx->request) == GST_RTSP_MESSAGE_REQUEST)
    gst_rtsp_message_parse_request (ctx->request, &method, &uri, nullptr);
  std::string user = ctx_user (ctx);
  if (user.empty ()) {
    user = claimed_user (ctx ? ctx->request : nullptr);
    if (!user.empty () && msg->type_data.response.code == 401)
      user += " (refused)";
  }
  log_line (cs->server, "client %s (user %s): %s %s: %d %s",
            cs->address.c_str (),
            user.empty () ? "-" : log_safe (user.c_str (), 64).c_str (),
            method == GST_RTSP_INVALID ? "?" : gst_rtsp_method_as_text (method),
            redact (log_safe (uri)).c_str (), msg->type_data.response.code,
            gst_rtsp_status_as_text (msg->type_data.response.code));
}

static void
send_message_cb (GstRTSPClient *client, GstRTSPContext *ctx,
                 GstRTSPMessage *msg, gpointer a3) noexcept
{
  guarded ("send_message_cb",
           [&] { handle_send_message (client, ctx, msg, a3); });
}

static GstRTSPStatusCode
handle_pre_describe (GstRTSPClient *client, GstRTSPContext *ctx, gpointer)
{
  ClientState *cs = client_state (client);
  if (cs && check_digest_uri (cs, ctx) != GST_RTSP_STS_OK)
    return GST_RTSP_STS_UNAUTHORIZED;
  Mount *m
      = cs && ctx->uri ? find_mount (cs->server, ctx->uri->abspath) : nullptr;
  if (!m)
    return GST_RTSP_STS_OK;
  media_retire_dead (m);
  {
    /* This connection plays the mount already: it may describe it. */
    std::lock_guard<std::mutex> g (cs->server->lock);
    for (auto &[id, ss] : cs->server->sessions)
      if (ss.conn == cs->id && ss.mount == m)
        return GST_RTSP_STS_OK;
  }
  return check_capacity (cs, m, false, ctx);
}

static GstRTSPStatusCode
handle_pre_setup (GstRTSPClient *client, GstRTSPContext *ctx, gpointer)
{
  ClientState *cs = client_state (client);
  if (!cs)
    return GST_RTSP_STS_OK;
  GstRTSPStatusCode owner = check_owner (cs, ctx, "SETUP");
  if (owner != GST_RTSP_STS_OK)
    return owner;
  Mount *m = ctx->uri ? find_mount (cs->server, ctx->uri->abspath) : nullptr;
  if (!m)
    return GST_RTSP_STS_OK;
  /* (a SETUP without DESCRIBE found its media already: for the next ones) */
  media_retire_dead (m);
  if (ctx->session) {
    std::string id = session_id (ctx->session);
    std::lock_guard<std::mutex> g (cs->server->lock);
    if (find_session_locked (cs->server, id, m))
      return GST_RTSP_STS_OK; /* a transport of a session counted */
  }
  return check_capacity (cs, m, ctx->session == nullptr, ctx);
}

/* Isolated encoding mount: this client's cursor starts on the newest
 * keyframe in the ring. One at most half the key-unit interval old will do
 * (a short burst, video that much behind live); else the one asked for at
 * SETUP (or now, if that one is already out and old) is waited for: at most
 * the rest of the interval. Only when the media plays already (the first
 * PLAY starts it; its frames come after). */
static GstRTSPStatusCode
handle_pre_play (GstRTSPClient *client, GstRTSPContext *ctx, gpointer)
{
  ClientState *cs = client_state (client);
  if (!cs)
    return GST_RTSP_STS_OK;
  GstRTSPStatusCode owner = check_owner (cs, ctx, "PLAY");
  if (owner != GST_RTSP_STS_OK)
    return owner;
  Mount *m = ctx->uri ? find_mount (cs->server, ctx->uri->abspath) : nullptr;
  if (!m || !m->sender || m->encoder.desc.empty () || !ctx->sessmedia)
    return GST_RTSP_STS_OK;
  guint64 mark = 0;
  {
    std::string id = session_id (ctx->session);
    std::lock_guard<std::mutex> g (cs->server->lock);
    SessionState *ss = find_session_locked (cs->server, id, m);
    if (!ss)
      return GST_RTSP_STS_OK;
    mark = ss->kf_mark;
  }
  GstRTSPStream *stream = gst_rtsp_media_get_stream (
      gst_rtsp_session_media_get_media (ctx->sessmedia), 0);
  /* Blocking: the media holds its first frame until this PLAY. */
  if (!stream || gst_rtsp_stream_is_blocking (stream)
      || m->keys.published_fresh ())
    return GST_RTSP_STS_OK;
  if (m->keys.n_published () > mark) {
    /* The one asked for at SETUP came and is old now (a slow PLAY). */
    mark = m->keys.n_published ();
    m->keys.request (true);
  }
  m->keys.wait_published_after (mark, m->keys.interval_us () + kKeyUnitWaitUs);
  return GST_RTSP_STS_OK;
}

/* PAUSE, TEARDOWN, GET_PARAMETER and SET_PARAMETER (with a Session header
 * the last two are keep-alives): only the session's own connection may
 * name a session. */
static constexpr char kPause[] = "PAUSE", kTeardown[] = "TEARDOWN",
                      kGetParameter[] = "GET_PARAMETER",
                      kSetParameter[] = "SET_PARAMETER";

template <const char *Method>
static GstRTSPStatusCode
pre_owned_cb (GstRTSPClient *client, GstRTSPContext *ctx, gpointer) noexcept
{
  return guarded (Method, GST_RTSP_STS_SERVICE_UNAVAILABLE, [&] {
    ClientState *cs = client_state (client);
    return cs ? check_owner (cs, ctx, Method) : GST_RTSP_STS_OK;
  });
}

static void
handle_setup (GstRTSPClient *client, GstRTSPContext *ctx, gpointer)
{
  ClientState *cs = client_state (client);
  if (!cs || !ctx->uri || !ctx->session)
    return;
  Server *s = cs->server;
  Mount *m = find_mount (s, ctx->uri->abspath);
  if (!m)
    return;
  std::string id = session_id (ctx->session);
  bool isolated_enc = m->sender && !m->encoder.desc.empty ();
  /* Isolated: this client's cursor will start at a fresh keyframe: the
   * newest one if it is young, else one asked for now (within the mount's
   * bound), so that it is in the ring by its PLAY. */
  guint64 mark = isolated_enc ? m->keys.n_published () : 0;
  bool count = false;
  {
    std::lock_guard<std::mutex> g (s->lock);
    SessionState *ss = find_session_locked (s, id, m);
    if (!ss) {
      SessionState n{ id, cs->id, cs->address, ctx_user (ctx), m };
      n.setup_us = g_get_monotonic_time ();
      ss = &s->sessions.emplace (id, std::move (n))->second;
      count = true;
    }
    ss->transport = transport_name (ctx->trans);
    ss->kf_mark = mark;
  }
  if (count) {
    std::lock_guard<std::mutex> g (m->lock);
    m->clients++;
  }
  if (isolated_enc && !m->keys.published_fresh ())
    m->keys.request (true);
}

/* Isolated mount: this session's transport is served by the mount's sender
 * from now on, on its own cursor (the media's frames never reach
 * gst-rtsp-server's own fan-out: see pay_src_probe). */
static bool
isolated_play (Server *s, Mount *m, GstRTSPClient *client, GstRTSPContext *ctx,
               const std::string &id, gint64 play_us)
{
  if (!ctx->sessmedia || !ctx->session) {
    GST_WARNING_OBJECT (client, "isolated PLAY without a session");
    return false;
  }
  GstRTSPStreamTransport *trans
      = gst_rtsp_session_media_get_transport (ctx->sessmedia, 0);
  if (!trans) {
    GST_WARNING_OBJECT (client, "isolated PLAY without a transport");
    return false;
  }
  std::shared_ptr<SenderClient> old;
  {
    std::lock_guard<std::mutex> g (s->lock);
    SessionState *ss = find_session_locked (s, id, m);
    if (!ss)
      return false;
    old = std::exchange (ss->sent, nullptr);
  }
  m->sender->remove (old); /* PLAY after PAUSE */
  /* The client's cursor starts on the newest keyframe, in the ring. */
  std::shared_ptr<SenderClient> sc
      = m->sender->add (client, ctx->session, trans, play_us);
  if (!sc) {
    GST_WARNING_OBJECT (client, "isolated PLAY: transport not served");
    return false;
  }
  {
    std::lock_guard<std::mutex> g (s->lock);
    if (SessionState *ss = find_session_locked (s, id, m)) {
      ss->sent = sc;
      return true;
    }
  }
  m->sender->remove (sc); /* the session ended meanwhile */
  return false;
}

static void
handle_play (GstRTSPClient *client, GstRTSPContext *ctx, gpointer)
{
  ClientState *cs = client_state (client);
  if (!cs || !ctx->uri || !ctx->session)
    return;
  Server *s = cs->server;
  Mount *m = find_mount (s, ctx->uri->abspath);
  if (!m)
    return;
  std::string id = session_id (ctx->session);
  gint64 now = g_get_monotonic_time ();
  bool isolated = m->sender && isolated_play (s, m, client, ctx, id, now);
  GstRTSPMedia *media = ctx->sessmedia
                            ? gst_rtsp_session_media_get_media (ctx->sessmedia)
                            : ctx->media;
  if (media && !isolated) {
    std::lock_guard<std::mutex> g (m->lock);
    m->pending.push_back (Join{ media, now });
  }
  guint64 frames = isolated ? 0 : m->frames.load (std::memory_order_relaxed);
  std::string trans = "-";
  {
    std::lock_guard<std::mutex> g (s->lock);
    if (SessionState *ss = find_session_locked (s, id, m)) {
      ss->play_us = now;
      ss->frames_at_play = frames;
      trans = ss->transport;
    }
  }
  if (!isolated)
    m->keys.request (true);
  log_line (s, "client %s (user %s) playing %s over %s", cs->address.c_str (),
            ctx_user (ctx).c_str (), m->cfg.path.c_str (), trans.c_str ());
}

/* PAUSE: an isolated session's delivery stops until its next PLAY. */
static void
handle_pause (GstRTSPClient *client, GstRTSPContext *ctx, gpointer)
{
  ClientState *cs = client_state (client);
  if (!cs || !ctx->uri || !ctx->session)
    return;
  Server *s = cs->server;
  Mount *m = find_mount (s, ctx->uri->abspath);
  if (!m || !m->sender)
    return;
  std::string id = session_id (ctx->session);
  std::shared_ptr<SenderClient> sc;
  {
    std::lock_guard<std::mutex> g (s->lock);
    if (SessionState *ss = find_session_locked (s, id, m))
      sc = std::exchange (ss->sent, nullptr);
  }
  m->sender->remove (sc);
}

/* A session record ended (removed from Server::sessions): uncount it, end
 * its delivery and log it. No lock held. */
static void
session_leave (Server *s, SessionState &ss, const char *how)
{
  Mount *m = ss.mount;
  gint64 now = g_get_monotonic_time ();
  guint64 frames = 0, drops = 0;
  {
    std::lock_guard<std::mutex> g (m->lock);
    m->clients--;
  }
  if (ss.play_us)
    frames = m->frames.load (std::memory_order_relaxed) - ss.frames_at_play;
  if (ss.sent) {
    /* Isolated: the session's own cursor counts its frames and drops. */
    if (m->sender)
      m->sender->remove (ss.sent);
    drops = ss.sent->drops ();
    frames = ss.sent->frames.load (std::memory_order_relaxed);
  }
  log_line (s,
            "client %s (user %s) %s %s: %s, %.1f s, %" G_GUINT64_FORMAT
            " frames, %" G_GUINT64_FORMAT " drops",
            ss.address.c_str (), ss.user.empty () ? "-" : ss.user.c_str (), how,
            m->cfg.path.c_str (), ss.transport.c_str (),
            (now - ss.setup_us) / 1e6, frames, drops);
}

/* Ends the records of session @id: on @only, or on every mount. */
static void
sessions_end (Server *s, const std::string &id, Mount *only, const char *how)
{
  std::vector<SessionState> gone;
  {
    std::lock_guard<std::mutex> g (s->lock);
    auto range = s->sessions.equal_range (id);
    for (auto it = range.first; it != range.second;) {
      if (!only || it->second.mount == only) {
        try {
          gone.push_back (std::move (it->second));
        } catch (const std::bad_alloc &) {
        }
        it = s->sessions.erase (it);
      } else {
        ++it;
      }
    }
  }
  for (auto &ss : gone)
    session_leave (s, ss, how);
}

static void
handle_teardown (GstRTSPClient *client, GstRTSPContext *ctx, gpointer)
{
  ClientState *cs = client_state (client);
  if (!cs || !ctx->session)
    return;
  Mount *m = ctx->uri ? find_mount (cs->server, ctx->uri->abspath) : nullptr;
  sessions_end (cs->server, session_id (ctx->session), m, "left");
}

/* Set while the server context expires sessions (pool_cleanup_cb). */
static thread_local bool in_cleanup = false;

/* A session left the pool: its TEARDOWN, its connection's close or its
 * timeout. */
static void
handle_session_removed (GstRTSPSessionPool *, GstRTSPSession *session,
                        gpointer data)
{
  auto *s = static_cast<Server *> (data);
  std::string id = session_id (session);
  sessions_end (s, id, nullptr, in_cleanup ? "timed out on" : "ended on");
  for (auto &m : s->mounts) {
    std::shared_ptr<Sender> sender;
    {
      /* a mount completed late sets it under the lock (mount_complete) */
      std::lock_guard<std::mutex> g (m->lock);
      sender = m->sender;
    }
    if (sender)
      sender->remove_session (session);
  }
  std::lock_guard<std::mutex> g (s->lock);
  s->owners.erase (id);
}

void
session_removed_cb (GstRTSPSessionPool *a0, GstRTSPSession *session,
                    gpointer data) noexcept
{
  guarded ("session_removed_cb",
           [&] { handle_session_removed (a0, session, data); });
}

/* The session pool's watch: a session may have timed out. */
static gboolean
handle_pool_cleanup (GstRTSPSessionPool *pool, gpointer)
{
  in_cleanup = true;
  guint n = gst_rtsp_session_pool_cleanup (pool);
  in_cleanup = false;
  if (n)
    GST_DEBUG ("%u sessions timed out", n);
  return G_SOURCE_CONTINUE;
}

gboolean
pool_cleanup_cb (GstRTSPSessionPool *pool, gpointer a1) noexcept
{
  return guarded ("pool_cleanup_cb", G_SOURCE_CONTINUE,
                  [&] { return handle_pool_cleanup (pool, a1); });
}

static guint
end_mount_sessions_unguarded (Server *s, Mount *m, gint64 before_us)
{
  std::vector<GstRTSPClient *> conns;
  {
    std::lock_guard<std::mutex> g (s->lock);
    std::set<guint64> ids;
    for (auto &[id, ss] : s->sessions)
      if (ss.mount == m && ss.setup_us <= before_us)
        ids.insert (ss.conn);
    conns.reserve (ids.size ());
    for (ClientState *cs : s->clients)
      if (ids.count (cs->id))
        conns.push_back (GST_RTSP_CLIENT (g_object_ref (cs->client)));
  }
  /* Outside the lock: closing runs closed_cb, which takes it. */
  for (GstRTSPClient *c : conns) {
    gst_rtsp_client_close (c);
    g_object_unref (c);
  }
  return conns.size ();
}

guint
client_end_mount_sessions (const ServerEnv *env, Mount *m,
                           gint64 before_us) noexcept
{
  /* The env is the Server's base (fanout_server_new sets this hook). */
  auto *s = static_cast<Server *> (const_cast<ServerEnv *> (env));
  return guarded ("client_end_mount_sessions", 0u, [&] {
    return end_mount_sessions_unguarded (s, m, before_us);
  });
}

/* Shared mode: gst-rtsp-server drops what a TCP client cannot take, but a
 * client that took nothing for ~30 s was never served again while its
 * session lived on, counted (issue 14.5). A connection whose kernel send
 * queue never shrank for kStallTimeoutUs (the client reads nothing, or
 * less than the stream) is closed: its sessions end with it. Isolated
 * clients resync by themselves (fanoutsender). Server context. */
static gboolean
handle_stall_check (gpointer data)
{
  auto *s = static_cast<Server *> (data);
  gint64 now = g_get_monotonic_time ();
  std::vector<std::pair<GstRTSPClient *, std::string>> stalled;
  {
    std::lock_guard<std::mutex> g (s->lock);
    std::set<guint64> watched;
    for (auto &[id, ss] : s->sessions)
      if (ss.mount->mode == Mode::Shared && ss.transport == "tcp" && ss.play_us)
        watched.insert (ss.conn);
    for (ClientState *cs : s->clients) {
      int outq = -1;
      int fd = cs->socket ? g_socket_get_fd (cs->socket) : -1;
      if (watched.count (cs->id) && fd >= 0 && ioctl (fd, SIOCOUTQ, &outq) < 0)
        outq = -1;
      /* A client that reads drains its queue now and then; one that
       * does not only sees it grow (the kernel's send buffer grows to
       * its limit) or stay. */
      int prev = std::exchange (cs->stall_outq, outq);
      if (outq <= 0 || outq < prev) {
        cs->stall_since_us = 0;
        continue;
      }
      if (!cs->stall_since_us) {
        cs->stall_since_us = now;
      } else if (now - cs->stall_since_us >= kStallTimeoutUs) {
        cs->stall_since_us = 0;
        try {
          stalled.emplace_back (GST_RTSP_CLIENT (g_object_ref (cs->client)),
                                cs->address);
        } catch (const std::bad_alloc &) {
          g_object_unref (cs->client);
        }
      }
    }
  }
  for (auto &[client, address] : stalled) {
    log_line (s,
              "client %s took nothing for %" G_GINT64_FORMAT
              " s (shared mode, TCP): disconnected",
              address.c_str (), kStallTimeoutUs / G_TIME_SPAN_SECOND);
    gst_rtsp_client_close (client);
    g_object_unref (client);
  }
  return G_SOURCE_CONTINUE;
}

gboolean
stall_check_cb (gpointer data) noexcept
{
  return guarded ("stall_check_cb", G_SOURCE_CONTINUE,
                  [&] { return handle_stall_check (data); });
}

/* gst-rtsp-server creates a session (its first SETUP): its timeout, and
 * this connection as its owner. */
static void
handle_new_session (GstRTSPClient *client, GstRTSPSession *session, gpointer)
{
  ClientState *cs = client_state (client);
  if (!cs)
    return;
  gst_rtsp_session_set_timeout (session, cs->server->cfg.session_timeout_s);
  std::lock_guard<std::mutex> g (cs->server->lock);
  cs->server->owners[session_id (session)] = cs->id;
}

static void
new_session_cb (GstRTSPClient *client, GstRTSPSession *session,
                gpointer a2) noexcept
{
  guarded ("new_session_cb", [&] { handle_new_session (client, session, a2); });
}

/* The connection closed: its sessions end with it (gst-rtsp-server would
 * keep a UDP session until it times out, with no one left to control it). */
static void
handle_closed (GstRTSPClient *client, gpointer)
{
  ClientState *cs = client_state (client);
  if (!cs)
    return;
  Server *s = cs->server;
  std::vector<std::string> ids;
  {
    std::lock_guard<std::mutex> g (s->lock);
    for (auto &[id, conn] : s->owners)
      if (conn == cs->id)
        ids.push_back (id);
    for (auto &[id, ss] : s->sessions)
      if (ss.conn == cs->id
          && std::find (ids.begin (), ids.end (), id) == ids.end ())
        ids.push_back (id);
  }
  for (auto &id : ids)
    sessions_end (s, id, nullptr, "disconnected from");
  if (GstRTSPSessionPool *pool = gst_rtsp_client_get_session_pool (client)) {
    for (auto &id : ids)
      if (GstRTSPSession *sess
          = gst_rtsp_session_pool_find (pool, id.c_str ())) {
        gst_rtsp_session_pool_remove (pool, sess);
        g_object_unref (sess);
      }
    g_object_unref (pool);
  }
  log_line (s, "client %s disconnected", cs->address.c_str ());
  {
    std::lock_guard<std::mutex> g (s->lock);
    s->clients.erase (cs);
  }
  g_signal_handlers_disconnect_by_data (client, s);
  g_object_set_data (G_OBJECT (client), "fanout-client", nullptr);
}

static void
closed_cb (GstRTSPClient *client, gpointer a1) noexcept
{
  guarded ("closed_cb", [&] { handle_closed (client, a1); });
}

static void
client_state_free (gpointer data) noexcept
{
  delete static_cast<ClientState *> (data);
}

/* The client signals' handlers as GLib calls them: what a handler throws
 * (an allocation that failed) is caught here, a hook then refuses. */
using PreRequestFn
    = GstRTSPStatusCode (*) (GstRTSPClient *, GstRTSPContext *, gpointer);
using RequestFn = void (*) (GstRTSPClient *, GstRTSPContext *, gpointer);

template <PreRequestFn Handler>
static GstRTSPStatusCode
pre_request_cb (GstRTSPClient *client, GstRTSPContext *ctx,
                gpointer data) noexcept
{
  return guarded ("pre-request", GST_RTSP_STS_SERVICE_UNAVAILABLE,
                  [&] { return Handler (client, ctx, data); });
}

template <RequestFn Handler>
static void
request_cb (GstRTSPClient *client, GstRTSPContext *ctx, gpointer data) noexcept
{
  guarded ("request", [&] { Handler (client, ctx, data); });
}

static void
handle_client_connected (GstRTSPServer *, GstRTSPClient *client, gpointer data)
{
  auto *s = static_cast<Server *> (data);
  auto *cs = new ClientState{ s, client };
  cs->connected_us = g_get_monotonic_time ();
  GstRTSPConnection *conn = gst_rtsp_client_get_connection (client);
  if (conn) {
    GSocket *sock = gst_rtsp_connection_get_read_socket (conn);
    /* Joins over TCP pay no Nagle delay (~40 ms) before the first packet. */
    if (sock
        && !g_socket_set_option (sock, IPPROTO_TCP, TCP_NODELAY, 1, nullptr))
      GST_WARNING_OBJECT (client, "cannot set TCP_NODELAY");
    if (sock)
      cs->socket = G_SOCKET (g_object_ref (sock));
    GSocketAddress *addr
        = sock ? g_socket_get_remote_address (sock, nullptr) : nullptr;
    if (addr && G_IS_INET_SOCKET_ADDRESS (addr)) {
      gchar *ip = g_inet_address_to_string (
          g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (addr)));
      cs->address = std::string (ip) + ":"
                    + std::to_string (g_inet_socket_address_get_port (
                        G_INET_SOCKET_ADDRESS (addr)));
      g_free (ip);
    } else {
      cs->address = gst_rtsp_connection_get_ip (conn);
    }
    if (addr)
      g_object_unref (addr);
  }
  g_object_set_data_full (G_OBJECT (client), "fanout-client", cs,
                          client_state_free);
  {
    std::lock_guard<std::mutex> g (s->lock);
    cs->id = s->next_conn++;
    s->clients.insert (cs);
  }
  g_signal_connect (client, "pre-describe-request",
                    G_CALLBACK (pre_request_cb<handle_pre_describe>), s);
  g_signal_connect (client, "pre-setup-request",
                    G_CALLBACK (pre_request_cb<handle_pre_setup>), s);
  g_signal_connect (client, "pre-play-request",
                    G_CALLBACK (pre_request_cb<handle_pre_play>), s);
  g_signal_connect (client, "pre-pause-request",
                    G_CALLBACK (pre_owned_cb<kPause>), s);
  g_signal_connect (client, "pre-teardown-request",
                    G_CALLBACK (pre_owned_cb<kTeardown>), s);
  g_signal_connect (client, "pre-get-parameter-request",
                    G_CALLBACK (pre_owned_cb<kGetParameter>), s);
  g_signal_connect (client, "pre-set-parameter-request",
                    G_CALLBACK (pre_owned_cb<kSetParameter>), s);
  g_signal_connect (client, "new-session", G_CALLBACK (new_session_cb), s);
  g_signal_connect (client, "setup-request",
                    G_CALLBACK (request_cb<handle_setup>), s);
  g_signal_connect (client, "play-request",
                    G_CALLBACK (request_cb<handle_play>), s);
  g_signal_connect (client, "pause-request",
                    G_CALLBACK (request_cb<handle_pause>), s);
  g_signal_connect (client, "teardown-request",
                    G_CALLBACK (request_cb<handle_teardown>), s);
  g_signal_connect (client, "send-message", G_CALLBACK (send_message_cb), s);
  g_signal_connect (client, "closed", G_CALLBACK (closed_cb), s);
  log_line (s, "client %s connected", cs->address.c_str ());
}

void
client_connected_cb (GstRTSPServer *a0, GstRTSPClient *client,
                     gpointer data) noexcept
{
  guarded ("client_connected_cb",
           [&] { handle_client_connected (a0, client, data); });
}

/* DESCRIBE or SETUP of a mount whose source is not up: 503 Service
 * Unavailable (gst-rtsp-server would answer 400 for a media it cannot
 * make). Client threads: the factory's launch line, set under its lock
 * once the mount is complete, says whether it serves. */
static GstRTSPStatusCode
mount_unavailable_cb (GstRTSPClient *, GstRTSPContext *ctx,
                      gpointer data) noexcept
{
  auto *s = static_cast<Server *> (data);
  Mount *m = ctx->uri ? find_mount (s, ctx->uri->abspath) : nullptr;
  /* an unmounted one is gst-rtsp-server's 404 */
  if (!m || !m->factory || !m->mounted.load (std::memory_order_relaxed))
    return GST_RTSP_STS_OK;
  if (mount_serving (m))
    return GST_RTSP_STS_OK;
  GST_DEBUG ("mount %s: source not up, 503", m->cfg.path.c_str ());
  return GST_RTSP_STS_SERVICE_UNAVAILABLE;
}

void
unavailable_client_cb (GstRTSPServer *, GstRTSPClient *client,
                       gpointer data) noexcept
{
  g_signal_connect (client, "pre-describe-request",
                    G_CALLBACK (mount_unavailable_cb), data);
  g_signal_connect (client, "pre-setup-request",
                    G_CALLBACK (mount_unavailable_cb), data);
}

} // namespace gstfanout
