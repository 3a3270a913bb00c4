/* gst-fanout
 * Copyright (C) 2026 the gst-fanout authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2.1 of the License, or (at your option) any later version.
 */

/* fanout-rtsp-server: the command line around the server library.
 *
 *   fanout-rtsp-server                      # rtsp://127.0.0.1:8554/live
 *   fanout-rtsp-server --source cam=v4l2:/dev/video0 \
 *       --mount /hd=cam,codec=h264,size=1280x720 \
 *       --mount /sd=cam,codec=mjpeg,size=640x360
 *   fanout-rtsp-server --version            # more examples: --help
 *
 * SIGHUP re-reads the command line and --config (fanout_server_reload).
 * Exit status: 0 after SIGINT/SIGTERM, 2 on bad input (one line on stderr
 * naming the problem and the fix), 1 on an unexpected failure. */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "fanoutserver.h"

#include <gst/gst.h>
#include <glib-unix.h>

#include <clocale>
#include <csignal>
#include <cstdio>
#include <cstring>

#include <sys/resource.h>

static gboolean
on_signal (gpointer data) noexcept
{
  g_main_loop_quit (static_cast<GMainLoop *> (data));
  return G_SOURCE_CONTINUE;
}

/* SIGHUP: re-reads the command line and its --config file and applies what
 * can change live (fanout_server_reload); a config that does not parse is
 * one log line, and the running configuration stays. */
struct Reload {
  FanoutServer *server;
  gchar **args; /* the command line without the program name */
};

static gboolean
on_sighup (gpointer data) noexcept
{
  auto *r = static_cast<Reload *> (data);
  GError *err = nullptr;
  FanoutServerConfig *config = fanout_server_config_new ();
  if (fanout_server_config_parse_strv (config, r->args, &err))
    fanout_server_reload (r->server, config);
  else
    g_printerr ("fanout-rtsp-server: reload: %s; keeping the running "
                "configuration\n",
                err ? err->message : "?");
  g_clear_error (&err);
  fanout_server_config_free (config);
  return G_SOURCE_CONTINUE;
}

static int
fail (GError *err) noexcept
{
  g_printerr ("fanout-rtsp-server: %s\n", err ? err->message : "failed");
  int status = (err && err->domain == FANOUT_SERVER_ERROR) ? 2 : 1;
  g_clear_error (&err);
  return status;
}

/* Every client holds a socket (its RTSP connection): lift the soft limit on
 * open files (often 1024) to the hard one, as servers for many clients
 * do. */
static void
raise_fd_limit () noexcept
{
  struct rlimit rl;
  if (getrlimit (RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit (RLIMIT_NOFILE, &rl);
  }
}

int
main (int argc, char **argv)
{
  /* The user's locale, so that GOptionContext converts non-ASCII arguments
   * (a password, a path) from it to UTF-8; without this the C locale is
   * ASCII and such an argument is an "Invalid byte sequence". */
  setlocale (LC_ALL, "");
  GError *err = nullptr;
  /* parse_args consumes what it reads: a copy for SIGHUP's re-read. */
  gchar **args = argc > 1 ? g_strdupv (argv + 1) : g_new0 (gchar *, 1);
  FanoutServerConfig *config = fanout_server_config_new ();
  if (!fanout_server_config_parse_args (config, &argc, &argv, &err)) {
    fanout_server_config_free (config);
    g_strfreev (args);
    return fail (err);
  }
  /* The GStreamer option group initialised GStreamer. */
  if (fanout_server_config_wants_device_list (config)) {
    fanout_server_list_devices ();
    fanout_server_config_free (config);
    g_strfreev (args);
    return 0;
  }

  raise_fd_limit ();
  FanoutServer *server = fanout_server_new (config, &err);
  fanout_server_config_free (config);
  if (!server) {
    g_strfreev (args);
    return fail (err);
  }

  GMainLoop *loop = g_main_loop_new (nullptr, FALSE);
  guint sigint = g_unix_signal_add (SIGINT, on_signal, loop);
  guint sigterm = g_unix_signal_add (SIGTERM, on_signal, loop);

  if (!fanout_server_start (server, nullptr, &err)) {
    g_source_remove (sigint);
    g_source_remove (sigterm);
    fanout_server_free (server);
    g_main_loop_unref (loop);
    g_strfreev (args);
    return fail (err);
  }
  Reload reload{ server, args };
  guint sighup = g_unix_signal_add (SIGHUP, on_sighup, &reload);

  gchar *url = fanout_server_get_url (server, nullptr);
  g_print ("Serving %s\n", url);
  for (guint i = 1; i < fanout_server_get_n_mounts (server); i++) {
    gchar *u = fanout_server_get_url (server,
                                      fanout_server_get_mount_path (server, i));
    g_print ("Serving %s\n", u);
    g_free (u);
  }
  if (gchar *http = fanout_server_get_http_url (server)) {
    /* where --http-address has it, not the RTSP address */
    g_print ("Metrics %s/metrics and /stats\n", http);
    g_print ("Browsers: %s/ (status page, player); VLC: vlc %s%s.ts\n", http,
             http, fanout_server_get_mount_path (server, 0));
    g_free (http);
  }
  g_print ("Watch it: ffplay -fflags nobuffer -flags low_delay "
           "-rtsp_transport tcp %s\n",
           url);
  g_free (url);
  fflush (stdout);

  g_main_loop_run (loop);

  g_print ("Shutting down\n");
  fanout_server_stop (server);
  fanout_server_free (server);
  g_source_remove (sigint);
  g_source_remove (sigterm);
  g_source_remove (sighup);
  g_main_loop_unref (loop);
  g_strfreev (args);
  return 0;
}
