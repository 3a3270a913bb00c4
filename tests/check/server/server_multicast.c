/* gst-fanout
 * Copyright (C) 2026 the gst-fanout authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2.1 of the License, or (at your option) any later version.
 */

/* Multicast delivery end to end: the fanout-rtsp-server binary serves a
 * transport=multicast mount in one network namespace, two rtspsrc
 * protocols=udp-mcast clients in this process (another namespace, joined by
 * a veth pair with multicast routed) decode its frames from the same group,
 * in shared and in isolated mode.
 *
 * Runs through in-netns.sh, which creates the namespaces and tells us the
 * server's namespace and address (FANOUT_NETNS_SERVER,
 * FANOUT_NETNS_SERVER_ADDRESS). The server runs as a separate process because
 * a process lives in one network namespace, and a multicast client cannot
 * share the server's: gst-rtsp-server binds the group's port there. */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <gst/check/gstcheck.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include "serverutil.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* groups 224.3.0.10 to .20, ports 45000 to 45100 */
#define MCAST_RANGE "224.3.0.10-224.3.0.20:45000-45100"
#define MCAST_PORT_MIN 45000
#define MCAST_PORT_MAX 45100
#define N_CLIENTS 2
#define N_FRAMES 30
#define TIMEOUT_S 60

/* The server binary, running in the server namespace. */
typedef struct {
  GSubprocess *proc;
  gchar *log_path;
  gchar *url;      /* rtsp://ADDRESS:PORT/mc */
  guint http_port; /* /stats */
} NsServer;

static gchar *
read_log (NsServer *s)
{
  gchar *text = NULL;
  if (!g_file_get_contents (s->log_path, &text, NULL, NULL))
    return g_strdup ("");
  return text;
}

/* Waits (bounded) for the process to end; TRUE if it did. */
static gboolean
ns_server_wait_exit (NsServer *s, guint timeout_s)
{
  gint64 end = g_get_monotonic_time () + timeout_s * G_TIME_SPAN_SECOND;
  /* GLib reaps the child on its worker thread: no identifier once it has */
  while (g_subprocess_get_identifier (s->proc) != NULL) {
    if (g_get_monotonic_time () > end)
      return FALSE;
    g_usleep (20000);
  }
  return g_subprocess_wait (s->proc, NULL, NULL);
}

static NsServer *
ns_server_start (const gchar *const *args)
{
  const gchar *ns = g_getenv ("FANOUT_NETNS_SERVER");
  const gchar *address = g_getenv ("FANOUT_NETNS_SERVER_ADDRESS");
  const gchar *registry = g_getenv ("GST_REGISTRY_1_0");
  NsServer *s = g_new0 (NsServer, 1);
  GSubprocessLauncher *launcher;
  GPtrArray *argv = g_ptr_array_new ();
  GError *err = NULL;
  gint64 end = g_get_monotonic_time () + TIMEOUT_S * G_TIME_SPAN_SECOND;
  gchar *reg = NULL;
  gint fd;

  fail_unless (ns != NULL && address != NULL,
               "FANOUT_NETNS_SERVER is not set: run this test through "
               "tests/check/server/in-netns.sh (meson test does)");
  fd = g_file_open_tmp ("fanout-mc-server-XXXXXX.log", &s->log_path, &err);
  fail_unless (fd >= 0, "log file: %s", err ? err->message : "?");
  close (fd);

  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDERR_MERGE);
  g_subprocess_launcher_set_stdout_file_path (launcher, s->log_path);
  /* its own registry file: this process writes ours */
  if (registry) {
    reg = g_strconcat (registry, ".server", NULL);
    g_subprocess_launcher_setenv (launcher, "GST_REGISTRY_1_0", reg, TRUE);
  }
  g_ptr_array_add (argv, (gpointer) "ip");
  g_ptr_array_add (argv, (gpointer) "netns");
  g_ptr_array_add (argv, (gpointer) "exec");
  g_ptr_array_add (argv, (gpointer)ns);
  g_ptr_array_add (argv, (gpointer)server_binary ());
  g_ptr_array_add (argv, (gpointer) "--address");
  g_ptr_array_add (argv, (gpointer)address);
  g_ptr_array_add (argv, (gpointer) "--port");
  g_ptr_array_add (argv, (gpointer) "0");
  g_ptr_array_add (argv, (gpointer) "--http-port");
  g_ptr_array_add (argv, (gpointer) "0");
  /* /stats is read from the other namespace (HTTP is loopback-only by
   * default) */
  g_ptr_array_add (argv, (gpointer) "--http-address");
  g_ptr_array_add (argv, (gpointer)address);
  for (; *args; args++)
    g_ptr_array_add (argv, (gpointer)*args);
  g_ptr_array_add (argv, NULL);
  s->proc = g_subprocess_launcher_spawnv (
      launcher, (const gchar *const *)argv->pdata, &err);
  fail_unless (s->proc != NULL, "spawn: %s", err ? err->message : "?");
  g_ptr_array_free (argv, TRUE);
  g_object_unref (launcher);
  g_free (reg);

  /* "Serving rtsp://..." and "Metrics http://...:PORT/metrics" */
  while (s->url == NULL || s->http_port == 0) {
    gchar *log = read_log (s);
    gchar *p;

    if ((p = strstr (log, "Serving rtsp://")) && !s->url)
      s->url = g_strndup (p + 8, strcspn (p + 8, "\r\n"));
    if ((p = strstr (log, "Metrics http://")) && (p = strchr (p + 15, ':')))
      s->http_port = (guint)strtoul (p + 1, NULL, 10);
    fail_if (g_subprocess_get_identifier (s->proc) == NULL,
             "the server exited at start:\n%s", log);
    fail_if (g_get_monotonic_time () > end, "the server did not start:\n%s",
             log);
    g_free (log);
    if (s->url == NULL || s->http_port == 0)
      g_usleep (50000);
  }
  GST_INFO ("server in namespace %s: %s, /stats on port %u", ns, s->url,
            s->http_port);
  return s;
}

/* SIGTERM; the server ends its sessions and exits 0. */
static void
ns_server_stop (NsServer *s)
{
  gchar *log;

  g_subprocess_send_signal (s->proc, SIGTERM);
  if (!ns_server_wait_exit (s, 20)) {
    g_subprocess_force_exit (s->proc);
    ns_server_wait_exit (s, 20);
    log = read_log (s);
    fail ("the server did not exit on SIGTERM:\n%s", log);
  }
  log = read_log (s);
  GST_INFO ("server log:\n%s", log);
  fail_unless (g_subprocess_get_if_exited (s->proc), "server killed:\n%s", log);
  fail_unless_equals_int (g_subprocess_get_exit_status (s->proc), 0);
  g_free (log);
  g_object_unref (s->proc);
  g_unlink (s->log_path);
  g_free (s->log_path);
  g_free (s->url);
  g_free (s);
}

static JsonParser *
get_stats (NsServer *s)
{
  SoupSession *session = soup_session_new ();
  const gchar *address = g_getenv ("FANOUT_NETNS_SERVER_ADDRESS");
  gchar *uri = g_strdup_printf ("http://%s:%u/stats", address, s->http_port);
  SoupMessage *msg = soup_message_new ("GET", uri);
  GError *err = NULL;
  GBytes *body = soup_session_send_and_read (session, msg, NULL, &err);
  JsonParser *parser = json_parser_new ();

  fail_unless (body != NULL, "GET %s: %s", uri, err ? err->message : "?");
  fail_unless_equals_int (soup_message_get_status (msg), 200);
  fail_unless (
      json_parser_load_from_data (parser, g_bytes_get_data (body, NULL),
                                  (gssize)g_bytes_get_size (body), NULL),
      "%.*s", (int)g_bytes_get_size (body),
      (const gchar *)g_bytes_get_data (body, NULL));
  g_bytes_unref (body);
  g_object_unref (msg);
  g_object_unref (session);
  g_free (uri);
  return parser;
}

/* The client's RTP receiver: rtspsrc's udpsrc on an even port. */
typedef struct {
  GstElement *udpsrc;
  gchar *group;
  gint port;
  GMutex lock;
  guint64 packets; /* received on it since the probe was added */
} McastRecv;

static GstPadProbeReturn
count_probe (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  McastRecv *r = data;
  g_mutex_lock (&r->lock);
  r->packets++;
  g_mutex_unlock (&r->lock);
  return GST_PAD_PROBE_OK;
}

static void
find_rtp_udpsrc (GstElement *pipeline, McastRecv *r)
{
  GstIterator *it = gst_bin_iterate_recurse (GST_BIN (pipeline));
  GValue item = G_VALUE_INIT;
  guint n = 0;

  while (gst_iterator_next (it, &item) == GST_ITERATOR_OK) {
    GstElement *e = g_value_get_object (&item);
    GstElementFactory *f = gst_element_get_factory (e);
    gchar *group = NULL;
    gint port = 0;

    if (f && g_str_equal (GST_OBJECT_NAME (f), "udpsrc")) {
      g_object_get (e, "address", &group, "port", &port, NULL);
      GST_INFO_OBJECT (e, "udpsrc on %s:%d", group, port);
      /* protocols=udp-mcast: every receiver is bound to the group */
      fail_unless (g_str_has_prefix (group, "224.3.0."), "udpsrc on %s:%d",
                   group, port);
      if (port % 2 == 0) {
        n++;
        r->udpsrc = gst_object_ref (e);
        r->group = g_strdup (group);
        r->port = port;
      }
    }
    g_free (group);
    g_value_reset (&item);
  }
  g_value_unset (&item);
  gst_iterator_free (it);
  fail_unless_equals_int (n, 1);
}

static void
mcast_recv_start_counting (McastRecv *r)
{
  GstPad *pad = gst_element_get_static_pad (r->udpsrc, "src");
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, count_probe, r, NULL);
  gst_object_unref (pad);
}

static gboolean
mcast_recv_wait_packets (McastRecv *r, guint64 n, guint timeout_s)
{
  gint64 end = g_get_monotonic_time () + timeout_s * G_TIME_SPAN_SECOND;
  for (;;) {
    guint64 have;
    g_mutex_lock (&r->lock);
    have = r->packets;
    g_mutex_unlock (&r->lock);
    if (have >= n)
      return TRUE;
    if (g_get_monotonic_time () > end)
      return FALSE;
    g_usleep (10000);
  }
}

/* Loop index 0: shared mode (one media: both clients on the same group and
 * port, each packet sent once); 1: the server-wide --mode isolated, which a
 * multicast mount does not follow (it stays shared: one stream for all). */
GST_START_TEST (test_multicast_delivery)
{
  const gchar *args[] = { "--source",
                          "cam=test:320x240@30",
                          "--mount",
                          __i__ == 0 ? "/mc=cam,codec=h264,gop=1,"
                                       "transport=multicast,mode=shared"
                                     : "/mc=cam,codec=h264,gop=1,"
                                       "transport=multicast",
                          "--multicast-range",
                          MCAST_RANGE,
                          "--mode",
                          __i__ == 0 ? "shared" : "isolated",
                          NULL };
  NsServer *s;
  TestClient *c[N_CLIENTS];
  McastRecv r[N_CLIENTS];
  JsonParser *parser;
  JsonObject *root;
  JsonArray *clients;
  guint i, n_mcast = 0;

  s = ns_server_start (args);
  memset (r, 0, sizeof (r));
  for (i = 0; i < N_CLIENTS; i++) {
    g_mutex_init (&r[i].lock);
    c[i] = test_client_new (s->url, "h264", "udp-mcast", TRUE, NULL, NULL);
  }

  /* both decode frames of the mount's size */
  for (i = 0; i < N_CLIENTS; i++) {
    fail_unless (test_client_wait_frames (c[i], N_FRAMES, TIMEOUT_S),
                 "client %u: %" G_GUINT64_FORMAT " frames decoded: %s", i,
                 c[i]->decoded, c[i]->error ? c[i]->error : "no error");
    fail_unless_equals_int (c[i]->width, 320);
    fail_unless_equals_int (c[i]->height, 240);
  }

  /* ...received on sockets bound to one group of the range, which keeps
   * delivering packets to both */
  for (i = 0; i < N_CLIENTS; i++) {
    guint32 last;
    find_rtp_udpsrc (c[i]->pipeline, &r[i]);
    last = (guint32)atoi (strrchr (r[i].group, '.') + 1);
    fail_unless (last >= 10 && last <= 20, "group %s", r[i].group);
    fail_unless (r[i].port >= MCAST_PORT_MIN && r[i].port <= MCAST_PORT_MAX,
                 "port %d", r[i].port);
    mcast_recv_start_counting (&r[i]);
  }
  fail_unless_equals_string (r[0].group, r[1].group);
  fail_unless_equals_int (r[0].port, r[1].port);
  for (i = 0; i < N_CLIENTS; i++)
    fail_unless (mcast_recv_wait_packets (&r[i], N_FRAMES, TIMEOUT_S),
                 "client %u: %" G_GUINT64_FORMAT " packets on %s:%d", i,
                 r[i].packets, r[i].group, r[i].port);

  /* the server negotiated multicast with both */
  parser = get_stats (s);
  root = json_node_get_object (json_parser_get_root (parser));
  clients = json_object_get_array_member (root, "clients");
  for (i = 0; i < json_array_get_length (clients); i++) {
    JsonObject *cl = json_array_get_object_element (clients, i);
    GST_INFO ("client %s on %s over %s",
              json_object_get_string_member (cl, "address"),
              json_object_get_string_member (cl, "mount"),
              json_object_get_string_member (cl, "transport"));
    if (g_str_equal (json_object_get_string_member (cl, "mount"), "/mc")
        && g_str_equal (json_object_get_string_member (cl, "transport"),
                        "multicast"))
      n_mcast++;
  }
  fail_unless_equals_int (n_mcast, N_CLIENTS);
  g_object_unref (parser);

  for (i = 0; i < N_CLIENTS; i++) {
    test_client_free (c[i]);
    gst_object_unref (r[i].udpsrc);
    g_free (r[i].group);
    g_mutex_clear (&r[i].lock);
  }
  ns_server_stop (s);
}

GST_END_TEST;

static Suite *
server_multicast_suite (void)
{
  Suite *s = suite_create ("server-multicast");
  TCase *tc = tcase_create ("general");

  tcase_set_timeout (tc, 300);
  suite_add_tcase (s, tc);
  tcase_add_loop_test (tc, test_multicast_delivery, 0, 2);
  return s;
}

GST_CHECK_MAIN (server_multicast);
