/* gst-fanout
 * Copyright (C) 2026 the gst-fanout authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2.1 of the License, or (at your option) any later version.
 */

/* The stock way, for the server benchmark: gst-rtsp-server with one shared
 * media per mount built from a launch line (what gst-rtsp-server's
 * test-launch example does), no fanout elements.
 *
 *   stock-rtsp-server --port 8554 "( videotestsrc is-live=true ! x264enc
 *       ! rtph264pay name=pay0 pt=96 )"
 */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <gst/gst.h>
#include <gst/rtsp-server/rtsp-server.h>
#include <glib-unix.h>

#include <signal.h>
#include <stdio.h>

static gboolean
quit_cb (gpointer data)
{
  g_main_loop_quit (data);
  return G_SOURCE_CONTINUE;
}

int
main (int argc, char **argv)
{
  gchar *port = NULL;
  gboolean isolated = FALSE;
  GOptionEntry entries[]
      = { { "port", 'p', 0, G_OPTION_ARG_STRING, &port, "Port (default 8554)",
            "PORT" },
          { "isolated", 0, 0, G_OPTION_ARG_NONE, &isolated,
            "One media per client instead of a shared one", NULL },
          { NULL } };
  GOptionContext *ctx = g_option_context_new ("\"( LAUNCH LINE )\"");
  GError *err = NULL;
  GMainLoop *loop;
  GstRTSPServer *server;
  GstRTSPMountPoints *mounts;
  GstRTSPMediaFactory *factory;

  g_option_context_add_main_entries (ctx, entries, NULL);
  g_option_context_add_group (ctx, gst_init_get_option_group ());
  if (!g_option_context_parse (ctx, &argc, &argv, &err) || argc != 2) {
    g_printerr ("usage: %s [--port PORT] \"( LAUNCH )\"%s%s\n", argv[0],
                err ? ": " : "", err ? err->message : "");
    return 2;
  }
  g_option_context_free (ctx);

  loop = g_main_loop_new (NULL, FALSE);
  server = gst_rtsp_server_new ();
  gst_rtsp_server_set_service (server, port ? port : "8554");
  mounts = gst_rtsp_server_get_mount_points (server);
  factory = gst_rtsp_media_factory_new ();
  gst_rtsp_media_factory_set_launch (factory, argv[1]);
  gst_rtsp_media_factory_set_shared (factory, !isolated);
  gst_rtsp_mount_points_add_factory (mounts, "/live", factory);
  g_object_unref (mounts);
  if (gst_rtsp_server_attach (server, NULL) == 0) {
    g_printerr ("cannot listen on port %s\n", port ? port : "8554");
    return 2;
  }
  g_print ("Serving rtsp://127.0.0.1:%d/live\n",
           gst_rtsp_server_get_bound_port (server));
  fflush (stdout);
  g_unix_signal_add (SIGINT, quit_cb, loop);
  g_unix_signal_add (SIGTERM, quit_cb, loop);
  g_main_loop_run (loop);
  g_object_unref (server);
  g_main_loop_unref (loop);
  g_free (port);
  return 0;
}
