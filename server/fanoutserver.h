/* gst-fanout
 * Copyright (C) 2026 the gst-fanout authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2.1 of the License, or (at your option) any later version.
 */

/* fanout-rtsp-server as a library: the configuration (command line, config
 * file) and the server (sources captured once into fanoutsink channels,
 * mounts on gst-rtsp-server reading them with fanoutsrc, an optional HTTP
 * endpoint with /metrics and /stats). main.cpp is a thin wrapper; the tests
 * run the same code in-process on service "0".
 *
 * Plain C API: the implementation is C++ and never lets an exception out. */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define FANOUT_SERVER_ERROR (fanout_server_error_quark ())
GQuark fanout_server_error_quark (void);

/* Every error is user-facing: its message is one line naming the problem and
 * the fix. main.cpp prints it and exits with status 2. */
typedef enum {
  FANOUT_SERVER_ERROR_USAGE,   /* bad option, source, mount or config */
  FANOUT_SERVER_ERROR_MISSING, /* element/codec/device not available */
  FANOUT_SERVER_ERROR_BIND,    /* address or port in use / not valid */
  FANOUT_SERVER_ERROR_SOURCE,  /* a source failed to start */
} FanoutServerError;

typedef struct _FanoutServerConfig FanoutServerConfig;
typedef struct _FanoutServer FanoutServer;

FanoutServerConfig *fanout_server_config_new (void);
void fanout_server_config_free (FanoutServerConfig *config);

/* Parses the command line (GOptionContext, with GStreamer's option group),
 * removing what it consumed from @argv. */
gboolean fanout_server_config_parse_args (FanoutServerConfig *config,
                                          gint *argc, gchar ***argv,
                                          GError **error);
/* The same options from a NULL-terminated vector (no program name), for
 * tests and embedding: { "--source", "cam=test", "--port", "0", NULL }. */
gboolean fanout_server_config_parse_strv (FanoutServerConfig *config,
                                          const gchar *const *args,
                                          GError **error);
/* --source NAME=SPEC, --mount /path=NAME[,key=value...], --config FILE. */
gboolean fanout_server_config_add_source (FanoutServerConfig *config,
                                          const gchar *arg, GError **error);
gboolean fanout_server_config_add_mount (FanoutServerConfig *config,
                                         const gchar *arg, GError **error);
gboolean fanout_server_config_load_file (FanoutServerConfig *config,
                                         const gchar *path, GError **error);
/* TRUE when --list-devices was given. */
gboolean fanout_server_config_wants_device_list (FanoutServerConfig *config);
/* Quiet: no per-client log lines (tests). */
void fanout_server_config_set_quiet (FanoutServerConfig *config,
                                     gboolean quiet);

/* Prints the cameras GstDeviceMonitor finds to stdout. */
void fanout_server_list_devices (void);

/* Checks the configuration (fills in defaults, checks that every element
 * and codec exists) and creates a stopped server. */
FanoutServer *fanout_server_new (const FanoutServerConfig *config,
                                 GError **error);
/* Binds the RTSP (and HTTP) ports, starts every source and waits until each
 * delivers its first buffer, then mounts. A source that is not available
 * (a camera not plugged in, a relayed server not up, a pipeline failing at
 * start) does not fail the start: it is retried with backoff and its mounts
 * answer 503 until it is up. On failure (what a retry cannot fix: ports,
 * config, missing elements) everything started is stopped again. Sources,
 * clients and HTTP run on @context (NULL: the global default context), which
 * the caller iterates. */
gboolean fanout_server_start (FanoutServer *server, GMainContext *context,
                              GError **error);
/* Applies a re-read configuration (SIGHUP) on the server's context: mounts
 * it no longer names are unmounted (new clients get 404, clients playing
 * them keep playing until they leave), unmounted ones it names again are
 * mounted again. What cannot change live (an added or changed mount,
 * sources, server settings) is named in the one log line the reload
 * writes, and the server keeps running as it was. */
void fanout_server_reload (FanoutServer *server,
                           const FanoutServerConfig *config);
/* Ends every client session and stops every pipeline. Iterates @context
 * briefly so that teardown messages go out. Idempotent. */
void fanout_server_stop (FanoutServer *server);
void fanout_server_free (FanoutServer *server);

guint fanout_server_get_port (FanoutServer *server);
guint fanout_server_get_http_port (FanoutServer *server);
/* "rtsp://HOST:PORT/path" of the first mount (HOST is 127.0.0.1 when the
 * server listens on every address). */
gchar *fanout_server_get_url (FanoutServer *server, const gchar *path);
/* "http://HOST:PORT" of the HTTP port (--http-address; 127.0.0.1 when it
 * listens on every address), or NULL without one. */
gchar *fanout_server_get_http_url (FanoutServer *server);
/* Number of mounts and their paths (index < count). */
guint fanout_server_get_n_mounts (FanoutServer *server);
const gchar *fanout_server_get_mount_path (FanoutServer *server, guint index);

/* The bodies served on /stats (JSON) and /metrics (Prometheus text). */
gchar *fanout_server_get_stats_json (FanoutServer *server);
gchar *fanout_server_get_metrics (FanoutServer *server);
/* Number of clients currently set up on @path. */
guint fanout_server_get_n_clients (FanoutServer *server, const gchar *path);

G_END_DECLS
