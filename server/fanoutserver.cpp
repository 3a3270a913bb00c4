/* gst-fanout
 * Copyright (C) 2026 the gst-fanout authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2.1 of the License, or (at your option) any later version.
 */

/* fanout-rtsp-server: sources captured once, mounts and clients on
 * gst-rtsp-server, /metrics and /stats on libsoup 3.
 *
 *   source pipeline   SOURCE ! ... ! fanoutsink channel=NAME
 *   mount encoder     fanoutsrc channel=NAME ! ... ! ENCODER name=enc
 *                       ! fanoutsink channel=NAME:/PATH   (codec != copy)
 *   mount media       ( fanoutsrc channel=NAME:/PATH ! PAYLOADER name=pay0 )
 *                     one per mount. Isolated: its frames also go into the
 *                     mount's RTP ring, and a sender thread gives each
 *                     client its own cursor on it (fanoutsender.h).
 *
 * Threads: the server's main context (RTSP accept, HTTP, bus watches,
 * retries), gst-rtsp-server's client and media threads (client signals),
 * streaming threads (pad probes), isolated mounts' sender threads. Locks,
 * in order: Server::lock (clients and their state), Mount::lock (join
 * bookkeeping, live medias), then the sender's own. Nothing calls out
 * (state change, event, signal) while holding either of the first two. */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "fanoutserverprivate.h"
#include "fanoutclient.h"
#include "fanoutfactory.h"
#include "fanoutlaunch.h"
#include "fanoutmedia.h"
#include "fanoutpaybin.h"
#include "fanoutstats.h"
#include "fanoututil.h"
#include "fanoutwhep.h"

#include <gst/gst.h>
#include <gst/rtsp-server/rtsp-server.h>
#include <libsoup/soup.h>

#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#define GST_CAT_DEFAULT fanout_server_debug

using namespace gstfanout;

/* ------------------------------------------------------------------ */
/* C API                                                               */

/* No source: the test source; no mount: one per source. */
static void
config_defaults (FanoutServerConfig &c)
{
  if (c.sources.empty ())
    c.sources.push_back (SourceConfig{ "cam", "test" });
  if (c.mounts.empty ()) {
    for (auto &src : c.sources) {
      MountConfig m;
      m.path = c.sources.size () == 1 ? "/live" : "/" + src.name;
      m.source = src.name;
      c.mounts.push_back (m);
    }
  }
}

FanoutServer *
fanout_server_new (const FanoutServerConfig *config, GError **error)
{
  if (!fanout_server_debug)
    GST_DEBUG_CATEGORY_INIT (fanout_server_debug, "fanoutserver", 0,
                             "fanout-rtsp-server");
  auto fs = std::make_unique<FanoutServer> ();
  Server &s = fs->s;
  s.cfg = *config;
  s.end_mount_sessions = client_end_mount_sessions;
  FanoutServerConfig &c = s.cfg;

  static const bool pay_bin = pay_bin_register ();
  if (!pay_bin) {
    g_set_error (error, FANOUT_SERVER_ERROR, FANOUT_SERVER_ERROR_MISSING,
                 "cannot register the fanoutpaybin element");
    return nullptr;
  }
  for (const char *e : { "fanoutsink", "fanoutsrc", "payloadbatch" })
    if (!element_exists (e)) {
      g_set_error (error, FANOUT_SERVER_ERROR, FANOUT_SERVER_ERROR_MISSING,
                   "the %s element is not available: install gst-fanout's "
                   "plugin or point GST_PLUGIN_PATH at its build directory",
                   e);
      return nullptr;
    }
  config_defaults (c);
  if (!c.tls_cert.empty () || !c.tls_key.empty ()) {
    GError *err = nullptr;
    if (c.tls_cert.empty () || c.tls_key.empty ()) {
      g_set_error (error, FANOUT_SERVER_ERROR, FANOUT_SERVER_ERROR_USAGE,
                   "RTSPS needs both --tls-cert and --tls-key: give the "
                   "missing one");
      return nullptr;
    }
    s.tls = g_tls_certificate_new_from_files (c.tls_cert.c_str (),
                                              c.tls_key.c_str (), &err);
    if (!s.tls) {
      g_set_error (error, FANOUT_SERVER_ERROR, FANOUT_SERVER_ERROR_USAGE,
                   "cannot use --tls-cert %s / --tls-key %s (%s): give a PEM "
                   "certificate and its private key",
                   c.tls_cert.c_str (), c.tls_key.c_str (),
                   err ? err->message : "?");
      g_clear_error (&err);
      return nullptr;
    }
  }
  for (auto &sc : c.sources) {
    std::unique_ptr<Source> src = source_new (&s, sc, error);
    if (!src)
      return nullptr;
    s.sources.push_back (std::move (src));
  }
  for (auto &mc : c.mounts) {
    Source *src = nullptr;
    for (auto &x : s.sources)
      if (x->cfg.name == mc.source)
        src = x.get ();
    if (!src) {
      g_set_error (error, FANOUT_SERVER_ERROR, FANOUT_SERVER_ERROR_USAGE,
                   "mount %s uses source '%s', which is not defined: add "
                   "--source %s=SPEC",
                   mc.path.c_str (), mc.source.c_str (), mc.source.c_str ());
      return nullptr;
    }
    if (!check_codec (mc.codec, mc.path, error))
      return nullptr;
    if (mc.codec == Codec::Copy && (mc.width || mc.fps)) {
      g_set_error (error, FANOUT_SERVER_ERROR, FANOUT_SERVER_ERROR_USAGE,
                   "mount %s: codec=copy passes the source through and "
                   "cannot change size or fps: drop them or pick codec=h264",
                   mc.path.c_str ());
      return nullptr;
    }
    Mode mode = mc.mode_set ? mc.mode : c.mode;
    if ((mc.transports & GST_RTSP_LOWER_TRANS_UDP_MCAST)
        && mode == Mode::Isolated) {
      /* A cursor per client would send one multicast copy per client. */
      if (mc.mode_set) {
        g_set_error (error, FANOUT_SERVER_ERROR, FANOUT_SERVER_ERROR_USAGE,
                     "mount %s: transport=multicast sends one stream to all "
                     "clients, mode=isolated one stream per client: use "
                     "mode=shared or drop multicast",
                     mc.path.c_str ());
        return nullptr;
      }
      mode = Mode::Shared; /* --mode isolated is for unicast mounts */
    }
    auto m = mount_new (&s, mc, src, mode,
                        mc.max_clients >= 0 ? mc.max_clients : c.max_clients);
    src->mounts.push_back (m.get ());
    s.mounts.push_back (std::move (m));
  }
  return fs.release ();
}

/* Mounts the mount's factory. It has no launch line until mount_complete:
 * until then a client is answered 503 Service Unavailable. */
static bool
mount_register (Server &s, Mount &m, GError **error)
{
  GstRTSPMediaFactory *f = fanout_media_factory_new (m.cfg.path);
  gst_rtsp_media_factory_set_shared (f, TRUE);
  guint protocols = m.cfg.transports
                        ? m.cfg.transports
                        : (GST_RTSP_LOWER_TRANS_UDP | GST_RTSP_LOWER_TRANS_TCP);
  gst_rtsp_media_factory_set_protocols (f, (GstRTSPLowerTrans)protocols);
  if (protocols & GST_RTSP_LOWER_TRANS_UDP_MCAST) {
    GstRTSPAddressPool *pool = gst_rtsp_address_pool_new ();
    if (!gst_rtsp_address_pool_add_range (
            pool, s.cfg.mcast_first.c_str (), s.cfg.mcast_last.c_str (),
            s.cfg.mcast_port_min, s.cfg.mcast_port_max, 16)) {
      g_set_error (error, FANOUT_SERVER_ERROR, FANOUT_SERVER_ERROR_USAGE,
                   "mount %s: the multicast range %s-%s is not usable: fix "
                   "--multicast-range",
                   m.cfg.path.c_str (), s.cfg.mcast_first.c_str (),
                   s.cfg.mcast_last.c_str ());
      g_object_unref (pool);
      g_object_unref (f);
      return false;
    }
    gst_rtsp_media_factory_set_address_pool (f, pool);
    g_object_unref (pool);
  }
  if (!s.cfg.users.empty () || s.tls)
    gst_rtsp_media_factory_add_role (
        f, "user", GST_RTSP_PERM_MEDIA_FACTORY_ACCESS, G_TYPE_BOOLEAN, TRUE,
        GST_RTSP_PERM_MEDIA_FACTORY_CONSTRUCT, G_TYPE_BOOLEAN, TRUE, nullptr);
  g_signal_connect (f, "media-configure", G_CALLBACK (media_configure_cb), &m);
  m.factory = f;
  GstRTSPMountPoints *mp = gst_rtsp_server_get_mount_points (s.rtsp);
  gst_rtsp_mount_points_add_factory (mp, m.cfg.path.c_str (),
                                     GST_RTSP_MEDIA_FACTORY (g_object_ref (f)));
  g_object_unref (mp);
  return true;
}

/* HTTP Basic with the --user users. */
static gboolean
http_auth_cb (SoupAuthDomain *, SoupServerMessage *, const char *user,
              const char *password, gpointer data) noexcept
{
  auto *s = static_cast<Server *> (data);
  for (auto &[u, p] : s->cfg.users)
    if (u == user && p == password)
      return TRUE;
  return FALSE;
}

/* Every refused or failed HTTP request is logged: client, method, path,
 * user, status (what fail2ban reads). */
static void
http_finished_cb_unguarded (SoupServer *, SoupServerMessage *msg, gpointer data)
{
  auto *s = static_cast<Server *> (data);
  guint status = soup_server_message_get_status (msg);
  if (status < 400)
    return;
  GUri *uri = soup_server_message_get_uri (msg);
  gchar *user
      = s->http_auth ? soup_auth_domain_accepts (s->http_auth, msg) : nullptr;
  std::string who = user ? log_safe (user, 64) : "-";
  if (!user && s->http_auth) {
    /* a refused login: the name it tried */
    const char *h = soup_message_headers_get_one (
        soup_server_message_get_request_headers (msg), "Authorization");
    if (h && g_ascii_strncasecmp (h, "Basic ", 6) == 0) {
      gsize len = 0;
      guchar *dec = g_base64_decode (h + 6, &len);
      std::string up ((const char *)dec, len);
      g_free (dec);
      who = log_safe (up.substr (0, up.find (':')).c_str (), 64) + " (refused)";
    }
  }
  log_line (s, "http %s (user %s): %s %s: %u %s",
            log_safe (soup_server_message_get_remote_host (msg), 64).c_str (),
            who.c_str (),
            log_safe (soup_server_message_get_method (msg), 16).c_str (),
            log_safe (uri ? g_uri_get_path (uri) : "?").c_str (), status,
            soup_status_get_phrase (status));
  g_free (user);
}

static void
http_finished_cb (SoupServer *a0, SoupServerMessage *msg,
                  gpointer data) noexcept
{
  guarded ("http_finished_cb",
           [&] { http_finished_cb_unguarded (a0, msg, data); });
}

static void
log_mount_unguarded (const Mount &m)
{
  if (m.source->up)
    log_line (m.encoder.env, "mount %s: source %s (%s), %s%s%s, %s",
              m.cfg.path.c_str (), m.source->cfg.name.c_str (),
              redact (m.source->cfg.spec).c_str (), codec_name (m.codec),
              m.audio_name.empty () ? "" : " + audio ", m.audio_name.c_str (),
              m.mode == Mode::Shared ? "shared" : "isolated");
  else
    log_line (m.encoder.env,
              "mount %s: source %s (%s) not up yet: 503 until it is",
              m.cfg.path.c_str (), m.source->cfg.name.c_str (),
              redact (m.source->cfg.spec).c_str ());
}

static void
log_mount (const Mount &m) noexcept
{
  guarded ("log_mount", [&] { log_mount_unguarded (m); });
}

/* A source that was not up delivered its first frame: its mounts serve. */
static void
source_came_up (Server &s, Source &src) noexcept
{
  src.up = true;
  src.down_why.clear ();
  src.runner.backoff_ms = kBackoffMinMs;
  log_line (&s, "source %s (%s) is up (attempt %u)", src.cfg.name.c_str (),
            redact (src.cfg.spec).c_str (), src.runner.restarts + 1);
  for (auto &m : s.mounts) {
    if (m->source != &src)
      continue;
    GError *err = nullptr;
    if (mount_complete (*m, &err)) {
      web_output_mount_ready (s.web, m.get ());
      log_mount (*m);
      continue;
    }
    log_line (&s, "%s; mount %s stays unavailable (503)", err->message,
              m->cfg.path.c_str ());
    g_error_free (err);
  }
}

static gboolean
pending_poll_cb (gpointer data) noexcept
{
  auto *s = static_cast<Server *> (data);
  bool waiting = false;
  for (auto &src : s->sources) {
    if (src->up)
      continue;
    /* acquire: pairs with writer_probe's release (the caps). */
    if (src->runner.pipeline
        && src->runner.got_buffer.load (std::memory_order_acquire)) {
      /* Up once its audio, if any, is known too. */
      if (!src->frame_seen_us)
        src->frame_seen_us = g_get_monotonic_time ();
      if (source_audio_settled (*src, src->frame_seen_us)) {
        src->frame_seen_us = 0;
        source_came_up (*s, *src);
        continue;
      }
    } else {
      src->frame_seen_us = 0;
    }
    waiting = true;
  }
  if (waiting)
    return G_SOURCE_CONTINUE;
  g_source_unref (s->pending_source);
  s->pending_source = nullptr;
  return G_SOURCE_REMOVE;
}

gboolean
fanout_server_start (FanoutServer *fs, GMainContext *context, GError **error)
{
  Server &s = fs->s;
  g_return_val_if_fail (!s.started, FALSE);
  s.context = context ? g_main_context_ref (context)
                      : g_main_context_ref (g_main_context_default ());
  s.started = true;

  /* 1. Ports, so that a busy port fails before anything runs. */
  s.rtsp = gst_rtsp_server_new ();
  gst_rtsp_server_set_address (s.rtsp, s.cfg.address.c_str ());
  gst_rtsp_server_set_service (s.rtsp, std::to_string (s.cfg.port).c_str ());
  /* Each client's connection refuses a larger request body before
   * buffering it (gst-rtsp-server applies it as it creates the client). */
  gst_rtsp_server_set_content_length_limit (s.rtsp, kMaxRequestBody);
  GError *err = nullptr;
  s.rtsp_source = gst_rtsp_server_create_source (s.rtsp, nullptr, &err);
  if (!s.rtsp_source) {
    g_set_error (error, FANOUT_SERVER_ERROR, FANOUT_SERVER_ERROR_BIND,
                 "cannot listen on %s port %d (%s): stop the program using "
                 "it or pick another with --port",
                 s.cfg.address.c_str (), s.cfg.port, err ? err->message : "?");
    g_clear_error (&err);
    fanout_server_stop (fs);
    return FALSE;
  }
  s.port = (guint)gst_rtsp_server_get_bound_port (s.rtsp);
  if (s.cfg.http_port >= 0) {
    g_main_context_push_thread_default (s.context);
    s.http = soup_server_new ("server-header", "fanout-rtsp-server", nullptr);
    soup_server_add_handler (s.http, "/metrics", stats_http_cb, fs, nullptr);
    soup_server_add_handler (s.http, "/stats", stats_http_cb, fs, nullptr);
    if (!s.cfg.users.empty ()) {
      /* The RTSP users, over Basic (what Prometheus scrapers speak). */
      SoupAuthDomain *domain = soup_auth_domain_basic_new (
          "realm", "fanout-rtsp-server", "auth-callback", http_auth_cb,
          "auth-data", &s, nullptr);
      soup_auth_domain_add_path (domain, "/metrics");
      soup_auth_domain_add_path (domain, "/stats");
      soup_server_add_auth_domain (s.http, domain);
      s.http_auth = domain;
    }
    g_signal_connect (s.http, "request-finished", G_CALLBACK (http_finished_cb),
                      &s);
    GInetAddress *ia
        = g_inet_address_new_from_string (s.cfg.http_address.c_str ());
    GSocketAddress *sa = g_inet_socket_address_new (ia, s.cfg.http_port);
    gboolean ok
        = soup_server_listen (s.http, sa, (SoupServerListenOptions)0, &err);
    g_object_unref (sa);
    g_object_unref (ia);
    g_main_context_pop_thread_default (s.context);
    if (!ok) {
      g_set_error (error, FANOUT_SERVER_ERROR, FANOUT_SERVER_ERROR_BIND,
                   "cannot serve HTTP on %s port %d (%s): stop the program "
                   "using it or pick another with --http-port",
                   s.cfg.http_address.c_str (), s.cfg.http_port,
                   err ? err->message : "?");
      g_clear_error (&err);
      fanout_server_stop (fs);
      return FALSE;
    }
    GSList *uris = soup_server_get_uris (s.http);
    if (uris)
      s.http_port = (guint)g_uri_get_port ((GUri *)uris->data);
    g_slist_free_full (uris, (GDestroyNotify)g_uri_unref);
    log_line (&s, "HTTP /metrics and /stats on %s port %u (%s)",
              s.cfg.http_address.c_str (), s.http_port,
              s.cfg.users.empty () ? "no authentication"
                                   : "the --user users, Basic");
  }

  /* 2. Sources, each captured once; wait for their first frame. One that
   * is not available (camera not plugged in, relayed server not up, a
   * pipeline failing) is retried with the backoff while the others serve;
   * what no retry fixes (no such element or plugin, a device that is not
   * a camera) stops the server. */
  for (auto &src : s.sources) {
    if (source_prepare (*src, &err) && source_start_and_wait (*src, &err)) {
      src->up = true;
      continue;
    }
    if (!g_error_matches (err, FANOUT_SERVER_ERROR,
                          FANOUT_SERVER_ERROR_SOURCE)) {
      g_propagate_error (error, err);
      fanout_server_stop (fs);
      return FALSE;
    }
    runner_stop (src->runner);
    runner_down (src->runner, err->message, false);
    g_clear_error (&err);
    runner_schedule_retry (src->runner);
    if (!s.pending_source) {
      s.pending_source = g_timeout_source_new (kPendingPollMs);
      g_source_set_callback (s.pending_source, pending_poll_cb, &s, nullptr);
      g_source_attach (s.pending_source, s.context);
    }
  }

  /* Relays open their upstream on demand from now on (the first run above
   * told what they carry). */
  for (auto &src : s.sources)
    source_start_linger (*src);

  /* 3. Mounts (their codec may depend on what a source carries). */
  if (s.cfg.basic && !s.tls)
    log_line (nullptr, /* even with --quiet */
              "WARNING: --auth basic sends every password in clear over "
              "plain TCP: add --tls-cert/--tls-key (RTSPS), or use digest");
  if (s.tls && s.cfg.users.empty ()) {
    /* RTSPS for everyone: the auth object carries the certificate, and
     * its default token lets anonymous clients in. */
    GstRTSPAuth *auth = gst_rtsp_auth_new ();
    gst_rtsp_auth_set_tls_certificate (auth, s.tls);
    GstRTSPToken *token = gst_rtsp_token_new (GST_RTSP_TOKEN_MEDIA_FACTORY_ROLE,
                                              G_TYPE_STRING, "user", nullptr);
    gst_rtsp_auth_set_default_token (auth, token);
    gst_rtsp_token_unref (token);
    gst_rtsp_server_set_auth (s.rtsp, auth);
    g_object_unref (auth);
  }
  if (!s.cfg.users.empty ()) {
    GstRTSPAuth *auth = gst_rtsp_auth_new ();
    if (s.tls)
      gst_rtsp_auth_set_tls_certificate (auth, s.tls);
    gst_rtsp_auth_set_supported_methods (
        auth, s.cfg.basic ? GST_RTSP_AUTH_BASIC : GST_RTSP_AUTH_DIGEST);
    for (auto &[user, pass] : s.cfg.users) {
      /* The user's name rides along: logs and session owners name it. */
      GstRTSPToken *token = gst_rtsp_token_new (
          GST_RTSP_TOKEN_MEDIA_FACTORY_ROLE, G_TYPE_STRING, "user", kTokenUser,
          G_TYPE_STRING, user.c_str (), nullptr);
      if (s.cfg.basic) {
        gchar *basic = gst_rtsp_auth_make_basic (user.c_str (), pass.c_str ());
        gst_rtsp_auth_add_basic (auth, basic, token);
        g_free (basic);
      } else {
        gst_rtsp_auth_add_digest (auth, user.c_str (), pass.c_str (), token);
      }
      gst_rtsp_token_unref (token);
    }
    gst_rtsp_server_set_auth (s.rtsp, auth);
    g_object_unref (auth);
  }
  for (auto &m : s.mounts)
    if (!mount_register (s, *m, error)
        || (m->source->up && !mount_complete (*m, error))) {
      fanout_server_stop (fs);
      return FALSE;
    }

  /* 4. Accept clients. */
  g_signal_connect (s.rtsp, "client-connected",
                    G_CALLBACK (client_connected_cb), &s);
  g_signal_connect (s.rtsp, "client-connected",
                    G_CALLBACK (unavailable_client_cb), &s);
  GstRTSPSessionPool *pool = gst_rtsp_server_get_session_pool (s.rtsp);
  g_signal_connect (pool, "session-removed", G_CALLBACK (session_removed_cb),
                    &s);
  /* Nothing else expires sessions: dispatched when one may have timed
   * out. */
  s.cleanup_source = gst_rtsp_session_pool_create_watch (pool);
  g_source_set_callback (s.cleanup_source,
                         (GSourceFunc)(void (*) (void))pool_cleanup_cb, &s,
                         nullptr);
  g_source_attach (s.cleanup_source, s.context);
  g_object_unref (pool);
  s.stall_source = g_timeout_source_new (kStallCheckMs);
  g_source_set_callback (s.stall_source, stall_check_cb, &s, nullptr);
  g_source_attach (s.stall_source, s.context);
  g_source_attach (s.rtsp_source, s.context);
  if (s.http)
    s.web = web_output_start (fs); /* WHEP, status page, HTTP outputs */
  for (auto &m : s.mounts)
    log_mount (*m);
  return TRUE;
}

static std::string
join_names (const std::vector<std::string> &v)
{
  std::string r;
  for (const auto &x : v)
    r += (r.empty () ? "" : ", ") + x;
  return r;
}

void
fanout_server_reload (FanoutServer *fs, const FanoutServerConfig *config)
{
  Server &s = fs->s;
  if (!s.rtsp)
    return;
  FanoutServerConfig c = *config;
  config_defaults (c);
  std::vector<std::string> removed, remounted, not_live;
  if (c.sources != s.cfg.sources)
    not_live.push_back ("sources");
  /* Everything but the sources and mounts: the server settings. */
  FanoutServerConfig settings = c;
  settings.sources = s.cfg.sources;
  settings.mounts = s.cfg.mounts;
  if (!(settings == s.cfg))
    not_live.push_back ("server settings");
  GstRTSPMountPoints *mp = gst_rtsp_server_get_mount_points (s.rtsp);
  for (auto &m : s.mounts) {
    const MountConfig *nc = nullptr;
    for (const auto &x : c.mounts)
      if (x.path == m->cfg.path)
        nc = &x;
    if (!nc) {
      if (m->mounted.load (std::memory_order_relaxed) && m->factory) {
        gst_rtsp_mount_points_remove_factory (mp, m->cfg.path.c_str ());
        m->mounted.store (false, std::memory_order_relaxed);
        removed.push_back (m->cfg.path);
      }
    } else if (!(*nc == m->cfg)) {
      not_live.push_back ("changed " + m->cfg.path);
    } else if (!m->mounted.load (std::memory_order_relaxed) && m->factory) {
      gst_rtsp_mount_points_add_factory (
          mp, m->cfg.path.c_str (),
          GST_RTSP_MEDIA_FACTORY (g_object_ref (m->factory)));
      m->mounted.store (true, std::memory_order_relaxed);
      remounted.push_back (m->cfg.path);
    }
  }
  g_object_unref (mp);
  for (const auto &x : c.mounts) {
    bool known = false;
    for (auto &m : s.mounts)
      known = known || m->cfg.path == x.path;
    if (!known)
      not_live.push_back ("added " + x.path);
  }
  std::string line = "reload:";
  if (!removed.empty ())
    line += " unmounted " + join_names (removed) + ";";
  if (!remounted.empty ())
    line += " mounted again " + join_names (remounted) + ";";
  if (!not_live.empty ())
    line += " not applied live, restart to apply: " + join_names (not_live)
            + ";";
  if (removed.empty () && remounted.empty () && not_live.empty ())
    line += " no change;";
  line.pop_back ();
  log_line (&s, "%s", line.c_str ());
}

static GstRTSPFilterResult
remove_client (GstRTSPServer *, GstRTSPClient *, gpointer) noexcept
{
  return GST_RTSP_FILTER_REMOVE;
}

static GstRTSPFilterResult
remove_session (GstRTSPSessionPool *, GstRTSPSession *, gpointer) noexcept
{
  return GST_RTSP_FILTER_REMOVE;
}

void
fanout_server_stop (FanoutServer *fs)
{
  Server &s = fs->s;
  if (s.pending_source) {
    g_source_destroy (s.pending_source);
    g_source_unref (s.pending_source);
    s.pending_source = nullptr;
  }
  web_output_stop (std::exchange (s.web, nullptr));
  if (s.http) {
    g_signal_handlers_disconnect_by_data (s.http, &s);
    if (s.http_auth) {
      soup_server_remove_auth_domain (s.http, s.http_auth);
      g_object_unref (s.http_auth);
      s.http_auth = nullptr;
    }
    soup_server_disconnect (s.http);
    g_object_unref (s.http);
    s.http = nullptr;
  }
  for (GSource **src : { &s.cleanup_source, &s.stall_source })
    if (*src) {
      g_source_destroy (*src);
      g_source_unref (*src);
      *src = nullptr;
    }
  if (s.rtsp) {
    g_signal_handlers_disconnect_by_data (s.rtsp, &s);
    /* Clients first, then what is left of the sessions. A client's own
     * thread tears its sessions down when its watch goes (the "closed"
     * signal comes after); unpreparing those medias from here at the same
     * time races with it: gst-rtsp-server 1.22 can then send into a client
     * already finalized and abort. So wait for every "closed" (bounded),
     * clients closing by themselves included. */
    gst_rtsp_server_client_filter (s.rtsp, remove_client, nullptr);
    if (s.rtsp_source) {
      g_source_destroy (s.rtsp_source);
      g_source_unref (s.rtsp_source);
      s.rtsp_source = nullptr;
    }
    gint64 end = g_get_monotonic_time () + kStopClientsWaitUs;
    while (g_get_monotonic_time () < end) {
      if (s.context)
        while (g_main_context_iteration (s.context, FALSE))
          ;
      {
        std::lock_guard<std::mutex> g (s.lock);
        if (s.clients.empty ())
          break;
      }
      g_usleep (5000);
    }
    GstRTSPSessionPool *pool = gst_rtsp_server_get_session_pool (s.rtsp);
    g_signal_handlers_disconnect_by_data (pool, &s);
    gst_rtsp_session_pool_filter (pool, remove_session, nullptr);
    g_object_unref (pool);
    {
      std::lock_guard<std::mutex> g (s.lock);
      for (ClientState *cs : s.clients) {
        g_signal_handlers_disconnect_by_data (cs->client, &s);
        g_object_steal_data (G_OBJECT (cs->client), "fanout-client");
        delete cs;
      }
      s.clients.clear ();
      s.sessions.clear ();
      s.owners.clear ();
    }
    for (auto &m : s.mounts)
      if (m->factory) {
        g_signal_handlers_disconnect_by_data (m->factory, m.get ());
        GstRTSPMountPoints *mp = gst_rtsp_server_get_mount_points (s.rtsp);
        gst_rtsp_mount_points_remove_factory (mp, m->cfg.path.c_str ());
        g_object_unref (mp);
        g_object_unref (m->factory);
        m->factory = nullptr;
      }
    g_object_unref (s.rtsp);
    s.rtsp = nullptr;
  }
  for (auto &m : s.mounts)
    mount_stop (*m);
  for (auto &src : s.sources) {
    source_stop_linger (*src);
    runner_stop (src->runner);
  }
}

void
fanout_server_free (FanoutServer *fs)
{
  if (!fs)
    return;
  fanout_server_stop (fs);
  /* Medias still alive (a client thread finishing) keep MediaInfo, which
   * points at the mount: disconnect those signals first. */
  for (auto &m : fs->s.mounts) {
    std::lock_guard<std::mutex> g (m->lock);
    for (MediaInfo *mi : m->medias)
      g_signal_handlers_disconnect_by_data (mi->media, m.get ());
  }
  if (fs->s.context)
    g_main_context_unref (fs->s.context);
  delete fs;
}

guint
fanout_server_get_port (FanoutServer *fs)
{
  return fs->s.port;
}

guint
fanout_server_get_http_port (FanoutServer *fs)
{
  return fs->s.http_port;
}

gchar *
fanout_server_get_url (FanoutServer *fs, const gchar *path)
{
  const std::string &a = fs->s.cfg.address;
  const char *host = (a == "0.0.0.0" || a == "::") ? "127.0.0.1" : a.c_str ();
  if (!path)
    path = fs->s.mounts.empty () ? "/" : fs->s.mounts[0]->cfg.path.c_str ();
  const char *scheme = fs->s.tls ? "rtsps" : "rtsp";
  if (strchr (host, ':'))
    return g_strdup_printf ("%s://[%s]:%u%s", scheme, host, fs->s.port, path);
  return g_strdup_printf ("%s://%s:%u%s", scheme, host, fs->s.port, path);
}

gchar *
fanout_server_get_http_url (FanoutServer *fs)
{
  if (!fs->s.http_port)
    return nullptr;
  const std::string &a = fs->s.cfg.http_address;
  const char *host = (a == "0.0.0.0" || a == "::") ? "127.0.0.1" : a.c_str ();
  if (strchr (host, ':'))
    return g_strdup_printf ("http://[%s]:%u", host, fs->s.http_port);
  return g_strdup_printf ("http://%s:%u", host, fs->s.http_port);
}

guint
fanout_server_get_n_mounts (FanoutServer *fs)
{
  return (guint)fs->s.mounts.size ();
}

const gchar *
fanout_server_get_mount_path (FanoutServer *fs, guint index)
{
  return index < fs->s.mounts.size () ? fs->s.mounts[index]->cfg.path.c_str ()
                                      : nullptr;
}

guint
fanout_server_get_n_clients (FanoutServer *fs, const gchar *path)
{
  for (auto &m : fs->s.mounts)
    if (m->cfg.path == path) {
      std::lock_guard<std::mutex> g (m->lock);
      return (guint)MAX (0, m->clients);
    }
  return 0;
}
