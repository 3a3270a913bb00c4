/* gst-fanout
 * Copyright (C) 2026 the gst-fanout authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2.1 of the License, or (at your option) any later version.
 */

/* fanout-rtsp-server: Prometheus /metrics, JSON /stats (json-glib), their
 * HTTP handler (libsoup 3) and --list-devices (GstDeviceMonitor). */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "fanoutstats.h"
#include "fanoutserverprivate.h"
#include "fanoututil.h"
#include "fanoutwhep.h"

#include <json-glib/json-glib.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <map>

#define GST_CAT_DEFAULT fanout_server_debug

namespace gstfanout
{

/* ------------------------------------------------------------------ */
/* Stats                                                               */

static double
percentile (std::vector<double> v, double p) noexcept
{
  if (v.empty ())
    return 0.0;
  std::sort (v.begin (), v.end ());
  size_t i = (size_t)std::ceil (p * v.size ()) - 1;
  return v[std::min (i, v.size () - 1)];
}

struct MountSnapshot {
  int clients;
  bool encoder_paused;
  guint64 idle_pauses;
  guint64 frames, bytes, drops, keyframes, key_units, join_count;
  double join_sum, p50, p95;
  guint64 buckets[kNumJoinBuckets + 1];
};

static MountSnapshot
snapshot_unguarded (Mount &m)
{
  MountSnapshot s{};
  std::vector<GstElement *> srcs;
  {
    std::lock_guard<std::mutex> g (m.lock);
    s.clients = m.clients;
    s.encoder_paused = m.encoder_paused;
    s.idle_pauses = m.idle_pauses;
    s.drops = m.drops_done;
    if (m.sender)
      s.drops += m.sender->drops (); /* isolated clients' own */
    s.join_count = m.join_count;
    s.join_sum = m.join_sum;
    std::copy (std::begin (m.join_bucket), std::end (m.join_bucket), s.buckets);
    s.p50 = percentile (m.recent_joins, 0.5);
    s.p95 = percentile (m.recent_joins, 0.95);
    for (MediaInfo *mi : m.medias)
      srcs.push_back (GST_ELEMENT (gst_object_ref (mi->ringsrc)));
  }
  for (GstElement *e : srcs) {
    s.drops += get_uint_prop (e, "dropped");
    gst_object_unref (e);
  }
  s.frames = m.frames.load (std::memory_order_relaxed);
  s.bytes = m.bytes.load (std::memory_order_relaxed);
  s.keyframes = m.keyframes.load (std::memory_order_relaxed);
  s.key_units = m.keys.n_requests ();
  return s;
}

static MountSnapshot
snapshot (Mount &m) noexcept
{
  return guarded ("snapshot", MountSnapshot{},
                  [&] { return snapshot_unguarded (m); });
}

/* The integer fields of a writer's "stats" structure (fanoutsink: capacity,
 * num-readers, items, sleeps, wakeups, writer-waits). */
static void
foreach_ring_stat (Runner &r,
                   const std::function<void (const char *, guint64)> &fn)
{
  GstElement *pipeline = r.ref_pipeline ();
  if (!pipeline)
    return;
  GstElement *ring = gst_bin_get_by_name (GST_BIN (pipeline), "ring");
  gst_object_unref (pipeline);
  if (!ring)
    return;
  GstStructure *st = nullptr;
  if (g_object_class_find_property (G_OBJECT_GET_CLASS (ring), "stats"))
    g_object_get (ring, "stats", &st, nullptr);
  if (st) {
    for (int i = 0; i < gst_structure_n_fields (st); i++) {
      const char *name = gst_structure_nth_field_name (st, i);
      const GValue *v = gst_structure_get_value (st, name);
      GType t = G_VALUE_TYPE (v);
      if (t != G_TYPE_UINT && t != G_TYPE_UINT64 && t != G_TYPE_INT
          && t != G_TYPE_INT64)
        continue;
      GValue u = G_VALUE_INIT;
      g_value_init (&u, G_TYPE_UINT64);
      if (g_value_transform (v, &u)) {
        std::string key = name;
        std::replace (key.begin (), key.end (), '-', '_');
        fn (key.c_str (), g_value_get_uint64 (&u));
      }
      g_value_unset (&u);
    }
    gst_structure_free (st);
  }
  gst_object_unref (ring);
}

/* A Prometheus label value: backslash, double quote and newline escaped. */
static std::string
label (const std::string &v)
{
  std::string r;
  for (char c : v) {
    if (c == '\\' || c == '"')
      r += '\\', r += c;
    else if (c == '\n')
      r += "\\n";
    else
      r += c;
  }
  return r;
}

/* One metric of a ring's writer: its fanoutsink stats field, name, type
 * and help. */
struct RingMetric {
  const char *field, *name, *type, *help;
};

static const RingMetric kRingMetrics[] = {
  { "capacity", "fanout_ring_capacity_items", "gauge", "Items a ring holds." },
  { "num_readers", "fanout_ring_readers", "gauge",
    "Readers attached to a ring." },
  { "items", "fanout_ring_items_total", "counter", "Items written to a ring." },
  { "sleeps", "fanout_ring_reader_sleeps_total", "counter",
    "Times a caught-up reader of a ring went to sleep." },
  { "wakeups", "fanout_ring_wakeups_total", "counter",
    "Wake-ups a ring's writer paid for sleeping readers." },
  { "writer_waits", "fanout_ring_writer_waits_total", "counter",
    "Times a ring's writer waited for a blocking reader." },
};

static std::string
metrics_text (Server *s)
{
  GString *o = g_string_new (nullptr);
  auto head = [o] (const char *name, const char *type, const char *help) {
    g_string_append_printf (o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name,
                            type);
  };
  std::vector<std::pair<Mount *, MountSnapshot>> snaps;
  for (auto &m : s->mounts)
    snaps.emplace_back (m.get (), snapshot (*m));
  std::vector<std::string> paths;
  for (auto &m : s->mounts)
    paths.push_back (label (m->cfg.path));

  head ("fanout_build_info", "gauge",
        "Always 1: the server's version and GStreamer's.");
  {
    gchar *gst = gst_version_string ();
    g_string_append_printf (o,
                            "fanout_build_info{version=\"%s\",gstreamer=\"%s\"}"
                            " 1\n",
                            label (VERSION).c_str (), label (gst).c_str ());
    g_free (gst);
  }
  head ("fanout_clients", "gauge",
        "Sessions set up on a mount (what --max-clients counts).");
  for (size_t i = 0; i < snaps.size (); i++)
    g_string_append_printf (o, "fanout_clients{mount=\"%s\"} %d\n",
                            paths[i].c_str (), snaps[i].second.clients);
  head ("fanout_transport_clients", "gauge",
        "Sessions set up on a mount, by lower transport.");
  {
    std::map<std::pair<Mount *, std::string>, guint> by;
    {
      std::lock_guard<std::mutex> g (s->lock);
      for (auto &[id, ss] : s->sessions)
        by[{ ss.mount, ss.transport }]++;
    }
    for (size_t i = 0; i < snaps.size (); i++)
      for (const char *t : { "udp", "tcp", "multicast" }) {
        auto it = by.find ({ snaps[i].first, t });
        g_string_append_printf (
            o, "fanout_transport_clients{mount=\"%s\",transport=\"%s\"} %u\n",
            paths[i].c_str (), t, it == by.end () ? 0u : it->second);
      }
  }
  head ("fanout_encoder_paused", "gauge",
        "1 while a mount's encoder is paused for want of clients.");
  for (size_t i = 0; i < snaps.size (); i++)
    g_string_append_printf (o, "fanout_encoder_paused{mount=\"%s\"} %d\n",
                            paths[i].c_str (),
                            snaps[i].second.encoder_paused ? 1 : 0);
  struct Counter {
    const char *name, *help;
    guint64 MountSnapshot::*field;
  };
  static const Counter counters[] = {
    { "fanout_frames_total", "Frames payloaded by a mount's medias.",
      &MountSnapshot::frames },
    { "fanout_bytes_total", "RTP bytes produced by a mount.",
      &MountSnapshot::bytes },
    { "fanout_drops_total",
      "Items a mount's ring readers skipped because they lagged.",
      &MountSnapshot::drops },
    { "fanout_key_unit_requests_total",
      "Keyframes requested from a mount's encoder for joining clients.",
      &MountSnapshot::key_units },
    { "fanout_encoder_idle_pauses_total",
      "Times a mount's encoder was paused for want of clients.",
      &MountSnapshot::idle_pauses },
  };
  for (auto &c : counters) {
    head (c.name, "counter", c.help);
    for (size_t i = 0; i < snaps.size (); i++)
      g_string_append_printf (o, "%s{mount=\"%s\"} %" G_GUINT64_FORMAT "\n",
                              c.name, paths[i].c_str (),
                              snaps[i].second.*c.field);
  }
  head ("fanout_join_latency_seconds", "histogram",
        "PLAY to the first keyframe payloaded for the client.");
  for (size_t i = 0; i < snaps.size (); i++) {
    const MountSnapshot &sn = snaps[i].second;
    guint64 cum = 0;
    for (guint b = 0; b <= kNumJoinBuckets; b++) {
      cum += sn.buckets[b];
      gchar le[32];
      if (b < kNumJoinBuckets)
        g_ascii_formatd (le, sizeof le, "%g", kJoinBuckets[b]);
      else
        g_strlcpy (le, "+Inf", sizeof le);
      g_string_append_printf (
          o,
          "fanout_join_latency_seconds_bucket{mount=\"%s\",le=\"%s\"} "
          "%" G_GUINT64_FORMAT "\n",
          paths[i].c_str (), le, cum);
    }
    gchar sum[G_ASCII_DTOSTR_BUF_SIZE];
    g_ascii_dtostr (sum, sizeof sum, sn.join_sum);
    g_string_append_printf (
        o, "fanout_join_latency_seconds_sum{mount=\"%s\"} %s\n",
        paths[i].c_str (), sum);
    g_string_append_printf (
        o,
        "fanout_join_latency_seconds_count{mount=\"%s\"} %" G_GUINT64_FORMAT
        "\n",
        paths[i].c_str (), sn.join_count);
  }
  head ("fanout_source_up", "gauge", "1 while a source pipeline runs.");
  for (auto &src : s->sources)
    g_string_append_printf (o, "fanout_source_up{source=\"%s\"} %d\n",
                            label (src->cfg.name).c_str (),
                            src->runner.pipeline ? 1 : 0);
  head ("fanout_source_restarts_total", "counter",
        "Times a source was restarted after a failure.");
  for (auto &src : s->sources)
    g_string_append_printf (
        o, "fanout_source_restarts_total{source=\"%s\"} %u\n",
        label (src->cfg.name).c_str (), src->runner.restarts);
  head ("fanout_source_loops_total", "counter",
        "Times a looping source (a file) started over from its beginning.");
  for (auto &src : s->sources)
    if (src->runner.loop)
      g_string_append_printf (
          o, "fanout_source_loops_total{source=\"%s\"} %" G_GUINT64_FORMAT "\n",
          label (src->cfg.name).c_str (),
          src->runner.loops.load (std::memory_order_relaxed));
  /* Rings: each source's, and each encoding mount's (ring = channel). */
  std::vector<std::pair<std::string, std::map<std::string, guint64>>> rings;
  auto collect = [&rings] (Runner &r, const std::string &channel) {
    std::map<std::string, guint64> f;
    foreach_ring_stat (r, [&f] (const char *k, guint64 v) { f[k] = v; });
    if (!f.empty ())
      rings.emplace_back (label (channel), std::move (f));
  };
  for (auto &src : s->sources)
    collect (src->runner, src->channel);
  for (auto &m : s->mounts)
    if (!m->encoder.desc.empty ())
      collect (m->encoder, m->ring);
  for (auto &rm : kRingMetrics) {
    head (rm.name, rm.type, rm.help);
    for (auto &[ring, f] : rings) {
      auto it = f.find (rm.field);
      if (it != f.end ())
        g_string_append_printf (o, "%s{ring=\"%s\"} %" G_GUINT64_FORMAT "\n",
                                rm.name, ring.c_str (), it->second);
    }
  }
  std::string r (o->str, o->len);
  g_string_free (o, TRUE);
  return r;
}

/* The /metrics body, or nullptr (out of memory). Server context. */
static gchar *
metrics_body (Server *s) noexcept
{
  try {
    return g_strdup (metrics_text (s).c_str ());
  } catch (const std::exception &e) {
    GST_ERROR ("/metrics: %s", e.what ());
    return nullptr;
  }
}

/* The /stats body. Server context. */
static gchar *
stats_json_unguarded (Server &s)
{
  JsonBuilder *b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "port");
  json_builder_add_int_value (b, s.port);
  json_builder_set_member_name (b, "sources");
  json_builder_begin_array (b);
  for (auto &src : s.sources) {
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "name");
    json_builder_add_string_value (b, src->cfg.name.c_str ());
    json_builder_set_member_name (b, "spec");
    json_builder_add_string_value (b, redact (src->cfg.spec).c_str ());
    json_builder_set_member_name (b, "running");
    json_builder_add_boolean_value (b, src->runner.pipeline != nullptr);
    json_builder_set_member_name (b, "restarts");
    json_builder_add_int_value (b, src->runner.restarts);
    if (src->runner.loop) {
      json_builder_set_member_name (b, "loops");
      json_builder_add_int_value (
          b, (gint64)src->runner.loops.load (std::memory_order_relaxed));
    }
    if (src->on_demand) {
      /* a relay's upstream, open only while viewed (--relay-linger) */
      json_builder_set_member_name (b, "upstream");
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "open");
      json_builder_add_boolean_value (b, !src->closed);
      json_builder_set_member_name (b, "viewers");
      json_builder_add_int_value (b,
                                  src->users.load (std::memory_order_relaxed));
      json_builder_set_member_name (b, "opens");
      json_builder_add_int_value (
          b, (gint64)src->opens.load (std::memory_order_relaxed));
      json_builder_end_object (b);
    }
    {
      /* why the source last went down, and what came back */
      std::string why, outcome;
      {
        std::lock_guard<std::mutex> g (src->restart_lock);
        why = src->restart_why;
        outcome = src->restart_outcome;
      }
      json_builder_set_member_name (b, "last_restart");
      if (why.empty ()) {
        json_builder_add_null_value (b);
      } else {
        json_builder_begin_object (b);
        json_builder_set_member_name (b, "why");
        json_builder_add_string_value (b, why.c_str ());
        json_builder_set_member_name (b, "outcome");
        json_builder_add_string_value (b, outcome.c_str ());
        json_builder_end_object (b);
      }
    }
    GstCaps *caps = src->runner.get_caps ();
    gchar *cs = caps ? gst_caps_to_string (caps) : g_strdup ("");
    json_builder_set_member_name (b, "caps");
    json_builder_add_string_value (b, cs);
    g_free (cs);
    if (caps)
      gst_caps_unref (caps);
    json_builder_set_member_name (b, "ring");
    json_builder_begin_object (b);
    foreach_ring_stat (src->runner, [b] (const char *k, guint64 v) {
      json_builder_set_member_name (b, k);
      json_builder_add_int_value (b, (gint64)v);
    });
    json_builder_end_object (b);
    json_builder_end_object (b);
  }
  json_builder_end_array (b);
  json_builder_set_member_name (b, "mounts");
  json_builder_begin_array (b);
  for (auto &m : s.mounts) {
    MountSnapshot sn = snapshot (*m);
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "path");
    json_builder_add_string_value (b, m->cfg.path.c_str ());
    json_builder_set_member_name (b, "source");
    json_builder_add_string_value (b, m->source->cfg.name.c_str ());
    json_builder_set_member_name (b, "codec");
    json_builder_add_string_value (b, codec_name (m->codec));
    /* what pay1 carries ("opus", "aac", ...), null: video only */
    json_builder_set_member_name (b, "audio");
    if (m->audio_name.empty ())
      json_builder_add_null_value (b);
    else
      json_builder_add_string_value (b, m->audio_name.c_str ());
    json_builder_set_member_name (b, "mode");
    json_builder_add_string_value (b, m->mode == Mode::Shared ? "shared"
                                                              : "isolated");
    json_builder_set_member_name (b, "clients");
    json_builder_add_int_value (b, sn.clients);
    web_output_add_stats (s.web, m.get (), b); /* WebRTC and HTTP */
    json_builder_set_member_name (b, "encoder");
    json_builder_add_string_value (b, m->encoder.desc.empty () ? "none"
                                      : sn.encoder_paused      ? "paused"
                                                               : "running");
    json_builder_set_member_name (b, "encoder_idle_pauses");
    json_builder_add_int_value (b, (gint64)sn.idle_pauses);
    if (!m->encoder.desc.empty ()) {
      /* the encoded ring the medias read ("items": frames written) */
      json_builder_set_member_name (b, "ring");
      json_builder_begin_object (b);
      foreach_ring_stat (m->encoder, [b] (const char *k, guint64 v) {
        json_builder_set_member_name (b, k);
        json_builder_add_int_value (b, (gint64)v);
      });
      json_builder_end_object (b);
    }
    json_builder_set_member_name (b, "frames");
    json_builder_add_int_value (b, (gint64)sn.frames);
    json_builder_set_member_name (b, "bytes");
    json_builder_add_int_value (b, (gint64)sn.bytes);
    json_builder_set_member_name (b, "drops");
    json_builder_add_int_value (b, (gint64)sn.drops);
    json_builder_set_member_name (b, "joins");
    json_builder_add_int_value (b, (gint64)sn.join_count);
    json_builder_set_member_name (b, "join_p50_ms");
    json_builder_add_double_value (b, sn.p50 * 1000.0);
    json_builder_set_member_name (b, "join_p95_ms");
    json_builder_add_double_value (b, sn.p95 * 1000.0);
    json_builder_end_object (b);
  }
  json_builder_end_array (b);
  json_builder_set_member_name (b, "clients");
  json_builder_begin_array (b);
  {
    /* one per session set up on a mount (what --max-clients counts) */
    gint64 now = g_get_monotonic_time ();
    std::lock_guard<std::mutex> g (s.lock);
    for (auto &[id, ss] : s.sessions) {
      json_builder_begin_object (b);
      if (s.cfg.stats_addresses) {
        /* only when the operator asked (--stats-addresses) */
        json_builder_set_member_name (b, "address");
        json_builder_add_string_value (b, ss.address.c_str ());
      }
      json_builder_set_member_name (b, "mount");
      json_builder_add_string_value (b, ss.mount->cfg.path.c_str ());
      json_builder_set_member_name (b, "transport");
      json_builder_add_string_value (b, ss.transport.c_str ());
      json_builder_set_member_name (b, "connected_s");
      json_builder_add_double_value (b, (now - ss.setup_us) / 1e6);
      json_builder_end_object (b);
    }
  }
  json_builder_end_array (b);
  json_builder_end_object (b);
  JsonGenerator *gen = json_generator_new ();
  JsonNode *root = json_builder_get_root (b);
  json_generator_set_root (gen, root);
  json_generator_set_pretty (gen, TRUE);
  gchar *out = json_generator_to_data (gen, nullptr);
  json_node_unref (root);
  g_object_unref (gen);
  g_object_unref (b);
  return out;
}

/* The /stats body, or nullptr (out of memory). Server context. */
static gchar *
stats_json (Server &s) noexcept
{
  try {
    return stats_json_unguarded (s);
  } catch (const std::exception &e) {
    GST_ERROR ("/stats: %s", e.what ());
    return nullptr;
  }
}

/* ------------------------------------------------------------------ */
/* HTTP                                                                */

void
stats_http_cb (SoupServer *, SoupServerMessage *msg, const char *path,
               GHashTable *, gpointer data) noexcept
{
  auto *fs = static_cast<FanoutServer *> (data);
  const char *method = soup_server_message_get_method (msg);
  if (g_strcmp0 (method, "GET") != 0 && g_strcmp0 (method, "HEAD") != 0) {
    soup_server_message_set_status (msg, SOUP_STATUS_METHOD_NOT_ALLOWED,
                                    nullptr);
    return;
  }
  gchar *body = nullptr;
  const char *type = nullptr;
  if (g_str_equal (path, "/metrics")) {
    body = metrics_body (&fs->s);
    type = "text/plain; version=0.0.4; charset=utf-8";
  } else if (g_str_equal (path, "/stats")) {
    body = stats_json (fs->s);
    type = "application/json";
  } else {
    soup_server_message_set_status (msg, SOUP_STATUS_NOT_FOUND, nullptr);
    return;
  }
  if (!body) {
    soup_server_message_set_status (msg, SOUP_STATUS_INTERNAL_SERVER_ERROR,
                                    nullptr);
    return;
  }
  soup_server_message_set_response (msg, type, SOUP_MEMORY_TAKE, body,
                                    strlen (body));
  soup_server_message_set_status (msg, SOUP_STATUS_OK, nullptr);
}

} // namespace gstfanout

using namespace gstfanout;

namespace
{
struct Body {
  FanoutServer *fs;
  bool json;
  gchar *out = nullptr;
};

void
make_body (gpointer data) noexcept
{
  auto *b = static_cast<Body *> (data);
  b->out = b->json ? stats_json (b->fs->s) : metrics_body (&b->fs->s);
}
} // namespace

/* Built on the server's context (run_on_context), where the state they
 * read is written. */
gchar *
fanout_server_get_metrics (FanoutServer *fs)
{
  Body b{ fs, false };
  run_on_context (&fs->s, make_body, &b);
  return b.out ? b.out : g_strdup ("");
}

gchar *
fanout_server_get_stats_json (FanoutServer *fs)
{
  Body b{ fs, true };
  run_on_context (&fs->s, make_body, &b);
  return b.out ? b.out : g_strdup ("{}");
}
