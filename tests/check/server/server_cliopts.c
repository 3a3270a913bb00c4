/* gst-fanout
 * Copyright (C) 2026 the gst-fanout authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2.1 of the License, or (at your option) any later version.
 */

/* fanout-rtsp-server's command line, run as the real binary: --version,
 * --help's examples, config file typos named by file, group and key, and
 * non-ASCII arguments (a password, a config path) in the user's locale. */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <gst/check/gstcheck.h>

#include "serverutil.h"

#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>

#define A(...) ((const gchar *[]){ __VA_ARGS__, NULL })

/* Runs the binary with @args and LC_ALL=@locale; returns the exit status,
 * stdout and stderr. */
static gint
run_binary (const gchar *const *args, const gchar *locale, gchar **out,
            gchar **err)
{
  GPtrArray *argv = g_ptr_array_new ();
  gchar **envp = g_environ_setenv (g_get_environ (), "LC_ALL", locale, TRUE);
  gint status = -1;
  GError *error = NULL;

  g_ptr_array_add (argv, (gpointer) "timeout");
  g_ptr_array_add (argv, (gpointer) "-s");
  g_ptr_array_add (argv, (gpointer) "KILL");
  g_ptr_array_add (argv, (gpointer) "60");
  g_ptr_array_add (argv, (gpointer)server_binary ());
  for (; args && *args; args++)
    g_ptr_array_add (argv, (gpointer)*args);
  g_ptr_array_add (argv, NULL);
  fail_unless (g_spawn_sync (NULL, (gchar **)argv->pdata, envp,
                             G_SPAWN_SEARCH_PATH, NULL, NULL, out, err, &status,
                             &error),
               "spawn: %s", error ? error->message : "?");
  g_strfreev (envp);
  g_ptr_array_free (argv, TRUE);
  return WIFEXITED (status) ? WEXITSTATUS (status) : -1;
}

/* Exit status 2 and one stderr line holding every string of @needles. */
static void
expect_usage_error (const gchar *const *args, const gchar *locale,
                    const gchar *const *needles)
{
  gchar *out = NULL, *err = NULL;
  gint status = run_binary (args, locale, &out, &err);
  gchar *nl;

  fail_unless_equals_int (status, 2);
  fail_unless (g_str_has_prefix (err, "fanout-rtsp-server: "), "stderr: %s",
               err);
  for (; *needles; needles++)
    fail_unless (strstr (err, *needles) != NULL, "expected '%s' in: %s",
                 *needles, err);
  nl = strchr (err, '\n');
  fail_unless (nl != NULL && nl[1] == '\0', "not one line: %s", err);
  g_free (out);
  g_free (err);
}

GST_START_TEST (test_version)
{
  gchar *out = NULL, *err = NULL;
  gchar *want = g_strdup_printf ("fanout-rtsp-server %s (", VERSION);

  fail_unless_equals_int (run_binary (A ("--version"), "C", &out, &err), 0);
  fail_unless (g_str_has_prefix (out, want), "stdout: %s", out);
  fail_unless (strstr (out, "GStreamer 1.") != NULL, "stdout: %s", out);
  fail_unless (strchr (out, '\n') == out + strlen (out) - 1, "lines: %s", out);
  fail_unless_equals_string (err, "");
  g_free (want);
  g_free (out);
  g_free (err);
}

GST_END_TEST;

GST_START_TEST (test_help_has_examples)
{
  gchar *out = NULL, *err = NULL;

  fail_unless_equals_int (run_binary (A ("--help"), "C", &out, &err), 0);
  fail_unless (strstr (out, "--version") != NULL, "%s", out);
  fail_unless (strstr (out, "\nExamples:\n") != NULL, "%s", out);
  fail_unless (strstr (out, "--source cam=v4l2:/dev/video0") != NULL, "%s",
               out);
  fail_unless (strstr (out, "--config ") != NULL, "%s", out);
  fail_unless (strstr (out, "Exit status:") != NULL, "%s", out);
  g_free (out);
  g_free (err);
}

GST_END_TEST;

/* A typo in the config file: the message names the file, the group and
 * the key. */
GST_START_TEST (test_config_typo_names_file_group_key)
{
  static const gchar *const cases[][4] = {
    /* contents, group, key, more */
    { "[server]\nprot=8554\n", "[server]", "'prot'", "unknown setting" },
    { "[server]\nport=85x4\n", "[server]", "'port'", "bad --port '85x4'" },
    { "[source cam]\nspce=test\n", "[source cam]", "'spce'", "spec=SPEC" },
    { "[source cam]\nspec=test\n[mount /live]\nsource=cam\ncodex=h264\n",
      "[mount /live]", "'codex'", "codec" },
    { "[sever]\nport=8554\n", "[sever]", "[sever]", "use [server]" },
  };
  gchar *dir = g_dir_make_tmp ("fanout-cliopts-XXXXXX", NULL);
  gchar *path = g_build_filename (dir, "typo.conf", NULL);
  guint i;

  for (i = 0; i < G_N_ELEMENTS (cases); i++) {
    fail_unless (g_file_set_contents (path, cases[i][0], -1, NULL));
    expect_usage_error (A ("--config", path, "--port", "0"), "C",
                        A (path, cases[i][1], cases[i][2], cases[i][3]));
  }
  g_unlink (path);
  g_rmdir (dir);
  g_free (path);
  g_free (dir);
}

GST_END_TEST;

/* Starts the binary in the background with LC_ALL=@locale; returns it with
 * its "Serving" URL (fails at once, with its output, if it exits). */
static GSubprocess *
start_binary (const gchar *const *args, const gchar *locale, gchar **url)
{
  GSubprocessLauncher *l = g_subprocess_launcher_new (
      G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_MERGE);
  GPtrArray *argv = g_ptr_array_new ();
  GError *err = NULL;
  GSubprocess *proc;
  GDataInputStream *out;
  GString *seen = g_string_new (NULL);
  gchar *line;

  g_subprocess_launcher_setenv (l, "LC_ALL", locale, TRUE);
  g_ptr_array_add (argv, (gpointer)server_binary ());
  g_ptr_array_add (argv, (gpointer) "--port");
  g_ptr_array_add (argv, (gpointer) "0");
  g_ptr_array_add (argv, (gpointer) "--address");
  g_ptr_array_add (argv, (gpointer) "127.0.0.1");
  g_ptr_array_add (argv, (gpointer) "--quiet");
  for (; *args; args++)
    g_ptr_array_add (argv, (gpointer)*args);
  g_ptr_array_add (argv, NULL);
  proc = g_subprocess_launcher_spawnv (l, (const gchar *const *)argv->pdata,
                                       &err);
  fail_unless (proc != NULL, "spawn: %s", err ? err->message : "?");
  out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (proc));
  *url = NULL;
  while (!*url
         && (line = g_data_input_stream_read_line (out, NULL, NULL, NULL))) {
    if (g_str_has_prefix (line, "Serving "))
      *url = g_strdup (line + 8);
    g_string_append_printf (seen, "%s\n", line);
    g_free (line);
  }
  fail_unless (*url != NULL, "the server exited before serving:\n%s",
               seen->str);
  g_string_free (seen, TRUE);
  g_object_unref (out);
  g_ptr_array_free (argv, TRUE);
  g_object_unref (l);
  return proc;
}

static void
stop_binary (GSubprocess *proc)
{
  g_subprocess_send_signal (proc, SIGTERM);
  fail_unless (g_subprocess_wait (proc, NULL, NULL));
  fail_unless (g_subprocess_get_if_exited (proc));
  fail_unless_equals_int (g_subprocess_get_exit_status (proc), 0);
  g_object_unref (proc);
}

/* DESCRIBE @url with Basic credentials @user:@password (UTF-8). */
static gint
describe_as (const gchar *url, const gchar *user, const gchar *password)
{
  guint port = 0;
  gchar *cred = g_strdup_printf ("%s:%s", user, password);
  gchar *b64 = g_base64_encode ((const guchar *)cred, strlen (cred));
  gchar *hdr = g_strdup_printf ("Accept: application/sdp\r\n"
                                "Authorization: Basic %s\r\n",
                                b64);
  RawRtsp *r;
  gint status;

  fail_unless (sscanf (url, "rtsp://127.0.0.1:%u/", &port) == 1, "%s", url);
  r = raw_rtsp_connect (port);
  fail_unless (r != NULL);
  status = raw_rtsp_request (r, "DESCRIBE", url, hdr, NULL);
  raw_rtsp_free (r);
  g_free (hdr);
  g_free (b64);
  g_free (cred);
  return status;
}

/* A non-ASCII user name and password on the command line work in a UTF-8
 * locale (the setlocale () call): the right one is let in, a wrong one is
 * not. Before, GOptionContext failed ("Invalid byte sequence", exit 1). */
GST_START_TEST (test_non_ascii_password)
{
  gchar *url = NULL;
  GSubprocess *proc
      = start_binary (A ("--user",
                         "b\xc3\xb8"
                         "b:p\xc3\xa4ssw\xc3\xb6rd",
                         "--auth", "basic", "--source", "cam=test:160x120@30",
                         "--mount", "/live=cam,codec=mjpeg"),
                      "C.UTF-8", &url);

  fail_unless_equals_int (describe_as (url,
                                       "b\xc3\xb8"
                                       "b",
                                       "p\xc3\xa4ssw\xc3\xb6rd"),
                          200);
  fail_unless_equals_int (describe_as (url,
                                       "b\xc3\xb8"
                                       "b",
                                       "passwort"),
                          401);
  stop_binary (proc);
  g_free (url);
}

GST_END_TEST;

/* In an ASCII locale the same argument is bad input: exit 2, one line
 * saying what to set. */
GST_START_TEST (test_non_ascii_in_ascii_locale)
{
  expect_usage_error (A ("--user", "b\xc3\xb8"
                                   "b:p\xc3\xa4ssw\xc3\xb6rd"),
                      "C", A ("not valid text in this locale", "LANG"));
}

GST_END_TEST;

/* A config file under a non-ASCII directory is read, in any locale (the
 * path is passed as bytes, not converted). */
GST_START_TEST (test_non_ascii_config_path)
{
  gchar *dir = g_dir_make_tmp ("fanout-cliopts-XXXXXX", NULL);
  gchar *sub = g_build_filename (dir, "r\xc3\xa9glages", NULL);
  gchar *path = g_build_filename (sub, "server.conf", NULL);
  const gchar *locales[] = { "C.UTF-8", "C" };
  guint i;

  fail_unless (g_mkdir (sub, 0700) == 0);
  fail_unless (g_file_set_contents (path,
                                    "[source cam]\nspec=test:160x120@30\n"
                                    "[mount /cfg]\nsource=cam\ncodec=mjpeg\n",
                                    -1, NULL));
  for (i = 0; i < G_N_ELEMENTS (locales); i++) {
    gchar *url = NULL;
    GSubprocess *proc = start_binary (A ("--config", path), locales[i], &url);
    fail_unless (g_str_has_suffix (url, "/cfg"), "%s: %s", locales[i], url);
    stop_binary (proc);
    g_free (url);
  }
  g_unlink (path);
  g_rmdir (sub);
  g_rmdir (dir);
  g_free (path);
  g_free (sub);
  g_free (dir);
}

GST_END_TEST;

static Suite *
server_cliopts_suite (void)
{
  Suite *s = suite_create ("server-cliopts");
  TCase *tc = tcase_create ("general");

  tcase_set_timeout (tc, 300);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_version);
  tcase_add_test (tc, test_help_has_examples);
  tcase_add_test (tc, test_config_typo_names_file_group_key);
  tcase_add_test (tc, test_non_ascii_password);
  tcase_add_test (tc, test_non_ascii_in_ascii_locale);
  tcase_add_test (tc, test_non_ascii_config_path);
  return s;
}

GST_CHECK_MAIN (server_cliopts);
