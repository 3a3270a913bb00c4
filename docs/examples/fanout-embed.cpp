/* gst-fanout
 * Copyright (C) 2026 the gst-fanout authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2.1 of the License, or (at your option) any later version.
 */

/* fanout-embed: using payloadbatch and fanout from a C++ application.
 *
 * Builds, element by element,
 *
 *   videotestsrc is-live=true ! video/x-raw,width=320,height=240
 *     ! x264enc tune=zerolatency ! rtph264pay ! payloadbatch ! fanout
 *
 * then, while the pipeline is PLAYING, adds readers (a request pad src_%u of
 * fanout linked to a sink added to the running pipeline) and removes one
 * (the pad released first, which stops its streaming task, then the sink),
 * printing the per-reader statistics of the `stats` property at each step.
 * A reader here is a fakesink; an application would use udpsink, a
 * recording bin, an appsink...
 *
 * Two ways to find the plugin:
 * - installed (`meson install` puts libgstfanout.so in the GStreamer plugin
 *   directory) or on GST_PLUGIN_PATH: nothing to do;
 * - linked into the application (built with -DFANOUT_EMBED_STATIC and the
 *   plugin's objects): call gst_plugin_fanout_register () once after
 *   gst_init (). GST_PLUGIN_DEFINE in plugins/fanout/plugin.cpp defines it.
 *
 * Usage: fanout-embed
 *   Exits 0 when every step happened as expected (readers received data,
 *   the removal left the other readers running), 1 otherwise, so the test
 *   suite runs it as is (tests/check/recipes/meson.build).
 *
 * Build by hand against an installed plugin:
 *   c++ -std=c++20 fanout-embed.cpp -o fanout-embed \
 *     $(pkg-config --cflags --libs gstreamer-1.0)
 */

#include <gst/gst.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#ifdef FANOUT_EMBED_STATIC
/* Defined by GST_PLUGIN_DEFINE (..., fanout, ...) in the plugin, with C
 * linkage: a C++ application declares it inside extern "C". */
G_BEGIN_DECLS
GST_PLUGIN_STATIC_DECLARE (fanout);
G_END_DECLS
#endif

namespace
{

struct Reader {
  GstPad *pad = nullptr;      /* the fanout request pad (owned ref) */
  GstElement *sink = nullptr; /* owned by the pipeline */
  std::string name;
};

struct App {
  GstElement *pipeline = nullptr;
  GstElement *fanout = nullptr;
  GMainLoop *loop = nullptr;
  std::vector<Reader> readers;
  int step = 0;
  guint64 mark = 0;
  bool ok = true;
  std::string failure;
};

/* The `pushed` counter of one reader, from the element's `stats`
 * structure (one GstStructure field per src pad); 0 if absent. */
guint64
reader_pushed (App *app, const std::string &name, bool *present)
{
  GstStructure *stats = nullptr;
  g_object_get (app->fanout, "stats", &stats, nullptr);
  guint64 pushed = 0;
  *present = false;
  const GValue *v
      = stats ? gst_structure_get_value (stats, name.c_str ()) : nullptr;
  if (v && GST_VALUE_HOLDS_STRUCTURE (v)) {
    *present = true;
    gst_structure_get_uint64 (gst_value_get_structure (v), "pushed", &pushed);
  }
  if (stats)
    gst_structure_free (stats);
  return pushed;
}

gboolean
print_field (GQuark field, const GValue *value, gpointer) noexcept
{
  if (GST_VALUE_HOLDS_STRUCTURE (value)) {
    const GstStructure *r = gst_value_get_structure (value);
    guint64 pushed = 0, dropped = 0, lag = 0;
    gst_structure_get_uint64 (r, "pushed", &pushed);
    gst_structure_get_uint64 (r, "dropped", &dropped);
    gst_structure_get_uint64 (r, "lag-items", &lag);
    std::printf ("  %-6s pushed %6" G_GUINT64_FORMAT
                 " dropped %4" G_GUINT64_FORMAT " lag-items %3" G_GUINT64_FORMAT
                 "\n",
                 g_quark_to_string (field), pushed, dropped, lag);
  }
  return TRUE;
}

void
print_stats (App *app, const char *when)
{
  GstStructure *stats = nullptr;
  g_object_get (app->fanout, "stats", &stats, nullptr);
  guint64 written = 0;
  gst_structure_get_uint64 (stats, "written", &written);
  std::printf ("%s: ring written %" G_GUINT64_FORMAT "\n", when, written);
  gst_structure_foreach (stats, print_field, nullptr);
  gst_structure_free (stats);
  std::fflush (stdout);
}

/* Adds a reader while the pipeline plays: the sink joins the pipeline and
 * takes its state first, then a src_%u pad is requested and linked. The new
 * reader starts at the newest keyframe in the ring (start-position). */
bool
add_reader (App *app)
{
  Reader r;
  r.sink = gst_element_factory_make ("fakesink", nullptr);
  if (!r.sink)
    return false;
  g_object_set (r.sink, "sync", FALSE, "async", FALSE, nullptr);
  gst_bin_add (GST_BIN (app->pipeline), r.sink);
  gst_element_sync_state_with_parent (r.sink);

  r.pad = gst_element_request_pad_simple (app->fanout, "src_%u");
  if (!r.pad)
    return false;
  GstPad *sinkpad = gst_element_get_static_pad (r.sink, "sink");
  GstPadLinkReturn link = gst_pad_link (r.pad, sinkpad);
  gst_object_unref (sinkpad);
  if (link != GST_PAD_LINK_OK)
    return false;
  gchar *name = gst_pad_get_name (r.pad);
  r.name = name;
  g_free (name);
  std::printf ("added reader %s\n", r.name.c_str ());
  app->readers.push_back (r);
  return true;
}

/* Removes a reader while the pipeline plays: releasing the request pad
 * stops its streaming task and unlinks it, then the sink can stop. */
void
remove_reader (App *app, size_t index)
{
  Reader r = app->readers[index];
  app->readers.erase (app->readers.begin () + index);
  gst_element_release_request_pad (app->fanout, r.pad);
  gst_object_unref (r.pad);
  gst_element_set_state (r.sink, GST_STATE_NULL);
  gst_bin_remove (GST_BIN (app->pipeline), r.sink);
  std::printf ("removed reader %s\n", r.name.c_str ());
}

void
fail (App *app, const std::string &why)
{
  app->ok = false;
  app->failure = why;
  g_main_loop_quit (app->loop);
}

/* Every 200 ms: advance the scenario once the previous step is visible in
 * the stats (no fixed delays, so a loaded machine only makes it slower). */
gboolean
tick (gpointer data) noexcept
{
  App *app = static_cast<App *> (data);
  bool present = false;
  switch (app->step) {
  case 0: /* two readers from the start: wait for data */
    if (reader_pushed (app, app->readers[0].name, &present) < 10)
      return G_SOURCE_CONTINUE;
    print_stats (app, "two readers");
    if (!add_reader (app)) {
      fail (app, "could not add a reader while playing");
      return G_SOURCE_REMOVE;
    }
    break;
  case 1: /* the third reader receives */
    if (reader_pushed (app, app->readers[2].name, &present) < 10)
      return G_SOURCE_CONTINUE;
    print_stats (app, "three readers");
    remove_reader (app, 0);
    app->mark = reader_pushed (app, app->readers[0].name, &present);
    break;
  case 2: { /* the others go on after the removal */
    guint64 now = reader_pushed (app, app->readers[0].name, &present);
    if (now < app->mark + 10)
      return G_SOURCE_CONTINUE;
    print_stats (app, "after removing one");
    gint n = 0;
    g_object_get (app->fanout, "num-src-pads", &n, nullptr);
    if (n != 2) {
      fail (app, "num-src-pads is " + std::to_string (n) + ", want 2");
      return G_SOURCE_REMOVE;
    }
    g_main_loop_quit (app->loop);
    return G_SOURCE_REMOVE;
  }
  }
  app->step++;
  return G_SOURCE_CONTINUE;
}

gboolean
on_bus (GstBus *, GstMessage *msg, gpointer data) noexcept
{
  App *app = static_cast<App *> (data);
  switch (GST_MESSAGE_TYPE (msg)) {
  case GST_MESSAGE_ERROR: {
    GError *err = nullptr;
    gchar *dbg = nullptr;
    gst_message_parse_error (msg, &err, &dbg);
    std::string why = std::string ("error from ") + GST_OBJECT_NAME (msg->src)
                      + ": " + err->message + " (" + (dbg ? dbg : "") + ")";
    g_clear_error (&err);
    g_free (dbg);
    fail (app, why);
    break;
  }
  case GST_MESSAGE_WARNING: {
    GError *err = nullptr;
    gst_message_parse_warning (msg, &err, nullptr);
    std::fprintf (stderr, "warning from %s: %s\n", GST_OBJECT_NAME (msg->src),
                  err->message);
    g_clear_error (&err);
    break;
  }
  default:
    break;
  }
  return TRUE;
}

gboolean
on_timeout (gpointer data) noexcept
{
  fail (static_cast<App *> (data), "timed out (120 s)");
  return G_SOURCE_REMOVE;
}

GstElement *
make (const char *factory, const char *name)
{
  GstElement *e = gst_element_factory_make (factory, name);
  if (!e)
    std::fprintf (stderr, "fanout-embed: no element '%s'%s\n", factory,
                  std::strcmp (factory, "fanout") == 0
                          || std::strcmp (factory, "payloadbatch") == 0
                      ? ": install gst-fanout or set GST_PLUGIN_PATH"
                      : "");
  return e;
}

} // namespace

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
#ifdef FANOUT_EMBED_STATIC
  GST_PLUGIN_STATIC_REGISTER (fanout); /* gst_plugin_fanout_register () */
#endif

  App app;

  app.pipeline = gst_pipeline_new ("embed");
  GstElement *src = make ("videotestsrc", nullptr);
  GstElement *caps = make ("capsfilter", nullptr);
  GstElement *enc = make ("x264enc", nullptr);
  GstElement *pay = make ("rtph264pay", nullptr);
  GstElement *batch = make ("payloadbatch", nullptr);
  app.fanout = make ("fanout", "f");
  if (!src || !caps || !enc || !pay || !batch || !app.fanout)
    return 2;

  g_object_set (src, "is-live", TRUE, nullptr);
  GstCaps *c = gst_caps_from_string (
      "video/x-raw,width=320,height=240,framerate=30/1");
  g_object_set (caps, "caps", c, nullptr);
  gst_caps_unref (c);
  gst_util_set_object_arg (G_OBJECT (enc), "tune", "zerolatency");
  gst_util_set_object_arg (G_OBJECT (enc), "speed-preset", "ultrafast");
  g_object_set (enc, "key-int-max", 30, nullptr);
  g_object_set (pay, "config-interval", -1, nullptr);

  gst_bin_add_many (GST_BIN (app.pipeline), src, caps, enc, pay, batch,
                    app.fanout, nullptr);
  if (!gst_element_link_many (src, caps, enc, pay, batch, app.fanout,
                              nullptr)) {
    std::fprintf (stderr, "fanout-embed: could not link the writer chain\n");
    return 1;
  }

  /* Two readers before PLAYING, a third and a removal while PLAYING. */
  if (!add_reader (&app) || !add_reader (&app)) {
    std::fprintf (stderr, "fanout-embed: could not add the first readers\n");
    return 1;
  }

  app.loop = g_main_loop_new (nullptr, FALSE);
  GstBus *bus = gst_element_get_bus (app.pipeline);
  gst_bus_add_watch (bus, on_bus, &app);
  gst_object_unref (bus);
  g_timeout_add (200, tick, &app);
  guint watchdog = g_timeout_add_seconds (120, on_timeout, &app);

  if (gst_element_set_state (app.pipeline, GST_STATE_PLAYING)
      == GST_STATE_CHANGE_FAILURE) {
    std::fprintf (stderr, "fanout-embed: could not start the pipeline\n");
    return 1;
  }
  g_main_loop_run (app.loop);
  g_source_remove (watchdog);

  gst_element_set_state (app.pipeline, GST_STATE_NULL);
  for (Reader &r : app.readers)
    gst_object_unref (r.pad);
  gst_object_unref (app.pipeline);
  g_main_loop_unref (app.loop);

  if (!app.ok) {
    std::fprintf (stderr, "fanout-embed: FAILED: %s\n", app.failure.c_str ());
    return 1;
  }
  std::printf ("fanout-embed: done\n");
  return 0;
}
