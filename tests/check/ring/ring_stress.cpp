/* gst-fanout
 * Copyright (C) 2026 the gst-fanout authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2.1 of the License, or (at your option) any later version.
 */

/* Multi-threaded stress test of the ring, run as is and under
 * ThreadSanitizer:
 *
 *   ring-stress READERS ITEMS
 *
 * One writer pushes ITEMS items (a sync point every 32, a sticky event
 * every 50000) while READERS threads join, read a while, and leave again,
 * with every lag policy and start position; a third of them are slow on
 * purpose. Each reader checks that it sees items in order, without
 * duplicates, with gaps only where its policy drops (and then exactly as
 * many as it was told), that a keyframe-policy reader resumes on a sync
 * point, that a Block reader never loses anything, and that every item is
 * the object the writer pushed at that sequence number. At the end every
 * buffer's and event's refcount must be back to 1. */

#include "ring.h"
#include "ringcheck.h"

#include <atomic>
#include <chrono>
#include <random>
#include <thread>
#include <vector>

using namespace gstfanout;

namespace
{

constexpr guint kPool = 4096;
constexpr guint kSyncEvery = 32;
constexpr guint64 kStickyEvery = 50000;

struct Totals {
  std::atomic<guint64> items{ 0 };
  std::atomic<guint64> dropped{ 0 };
  std::atomic<guint64> sessions{ 0 };
  std::atomic<guint64> disconnects{ 0 };
  std::atomic<guint64> resyncs{ 0 };
};

void
reader_thread (guint index, const std::shared_ptr<Ring> &ring,
               const std::vector<GstBuffer *> &pool,
               std::atomic<bool> &writer_done, Totals &totals)
{
  std::mt19937 rng (index * 7919 + 1);
  const bool slow = index % 3 == 1;
  /* At most two Block readers, so the writer keeps moving. */
  LagPolicy policy;
  switch (index % 4) {
  case 0:
    policy = LagPolicy::DropToKeyframe;
    break;
  case 1:
    policy = LagPolicy::DropToLatest;
    break;
  case 2:
    policy = index < 8 ? LagPolicy::Block : LagPolicy::DropToKeyframe;
    break;
  default:
    policy = LagPolicy::Disconnect;
    break;
  }

  while (!writer_done.load (std::memory_order_acquire)) {
    StartPosition start = StartPosition (rng () % 3);
    RingReader reader (ring, policy, start);
    guint64 session_len = 1000 + rng () % 100000;
    guint64 prev = G_MAXUINT64;
    bool need_sync_data = start == StartPosition::LatestKeyframe;
    bool first = true;
    totals.sessions.fetch_add (1, std::memory_order_relaxed);

    for (guint64 n = 0; n < session_len; n++) {
      RingItem it;
      PopResult res = reader.pop (it);
      if (res == PopResult::Flushing)
        return; /* the writer is done */
      if (res == PopResult::Disconnected) {
        CHECK (policy == LagPolicy::Disconnect);
        totals.disconnects.fetch_add (1, std::memory_order_relaxed);
        break;
      }
      CHECK (res == PopResult::Ok);

      /* Ordered, no duplicates, gaps exactly as announced. */
      if (prev != G_MAXUINT64)
        CHECK_EQ (it.seq, prev + 1 + it.dropped_before);
      if (policy == LagPolicy::Block && !first)
        CHECK_EQ (it.dropped_before, guint64 (0));
      if (it.dropped_before > 0) {
        totals.resyncs.fetch_add (1, std::memory_order_relaxed);
        if (policy == LagPolicy::DropToKeyframe || policy == LagPolicy::Block)
          need_sync_data = true;
      }
      /* The object is the one pushed at this seq: no torn items. */
      if (it.flags & ITEM_EVENT) {
        CHECK (GST_IS_EVENT (it.obj.get ()));
      } else {
        CHECK (it.obj.get ()
               == GST_MINI_OBJECT_CAST (pool[it.seq % pool.size ()]));
        CHECK_EQ (GST_BUFFER_OFFSET (GST_BUFFER_CAST (it.obj.get ())),
                  it.seq % pool.size ());
        if (need_sync_data) {
          CHECK (it.flags & ITEM_SYNC);
          CHECK_EQ (it.seq % kSyncEvery, guint64 (0));
          need_sync_data = false;
        }
      }
      CHECK (it.sticky);
      prev = it.seq;
      first = false;
      totals.items.fetch_add (1, std::memory_order_relaxed);

      if (slow && n % 64 == 0)
        std::this_thread::sleep_for (std::chrono::microseconds (200));
    }
    totals.dropped.fetch_add (reader.dropped (), std::memory_order_relaxed);
  }
}

} // namespace

int
main (int argc, char **argv)
{
  gst_init (nullptr, nullptr);
  if (argc < 3) {
    std::fprintf (stderr, "usage: ring-stress READERS ITEMS\n");
    return 2;
  }
  const guint n_readers = guint (std::strtoul (argv[1], nullptr, 10));
  const guint64 n_items = std::strtoull (argv[2], nullptr, 10);

  std::vector<GstBuffer *> pool;
  for (guint i = 0; i < kPool; i++) {
    GstBuffer *b = gst_buffer_new ();
    GST_BUFFER_OFFSET (b) = i;
    pool.push_back (b);
  }
  std::vector<GstEvent *> stickies;

  Totals totals;
  std::atomic<bool> writer_done{ false };
  {
    std::string err;
    auto writer = RingWriter::create (1024, &err);
    CHECK (writer);
    GstCaps *caps = gst_caps_new_empty_simple ("video/x-h264");
    GstEvent *ev = gst_event_new_caps (caps);
    gst_caps_unref (caps);
    stickies.push_back (gst_event_ref (ev));
    writer->push_event (ev, GST_CLOCK_TIME_NONE);

    std::vector<std::thread> readers;
    for (guint i = 0; i < n_readers; i++)
      readers.emplace_back (reader_thread, i, writer->ring (), std::cref (pool),
                            std::ref (writer_done), std::ref (totals));

    auto t0 = std::chrono::steady_clock::now ();
    for (guint64 s = 1; s < n_items; s++) {
      if (s % kStickyEvery == 0) {
        GstCaps *c
            = gst_caps_new_simple ("video/x-h264", "n", G_TYPE_UINT64, s, NULL);
        GstEvent *e = gst_event_new_caps (c);
        gst_caps_unref (c);
        stickies.push_back (gst_event_ref (e));
        writer->push_event (e, GST_CLOCK_TIME_NONE);
        continue;
      }
      guint32 flags = s % kSyncEvery == 0 ? ITEM_SYNC : 0;
      GstBuffer *b = gst_buffer_ref (pool[s % kPool]);
      CHECK (writer->push (GST_MINI_OBJECT_CAST (b), flags, s * GST_USECOND)
             == PushResult::Ok);
    }
    auto t1 = std::chrono::steady_clock::now ();
    writer_done.store (true, std::memory_order_release);
    writer->set_flushing (true);
    for (auto &t : readers)
      t.join ();
    RingStats st = ring_stats (*writer->ring ());
    CHECK_EQ (st.readers, 0u);
    std::printf (
        "readers=%u items=%" G_GUINT64_FORMAT
        " writer=%.3fs read=%" G_GUINT64_FORMAT " dropped=%" G_GUINT64_FORMAT
        " resyncs=%" G_GUINT64_FORMAT " sessions=%" G_GUINT64_FORMAT
        " disconnects=%" G_GUINT64_FORMAT " sleeps=%" G_GUINT64_FORMAT
        " wakeups=%" G_GUINT64_FORMAT " writer_waits=%" G_GUINT64_FORMAT "\n",
        n_readers, n_items, std::chrono::duration<double> (t1 - t0).count (),
        totals.items.load (), totals.dropped.load (), totals.resyncs.load (),
        totals.sessions.load (), totals.disconnects.load (), st.sleeps,
        st.wakeups, st.writer_waits);
    CHECK (n_readers == 0 || totals.items.load () > 0);
  }

  /* Writer and every reader gone: each reference is back where it was. */
  for (GstBuffer *b : pool) {
    CHECK_EQ (GST_MINI_OBJECT_REFCOUNT_VALUE (b), 1);
    gst_buffer_unref (b);
  }
  for (GstEvent *e : stickies) {
    CHECK_EQ (GST_MINI_OBJECT_REFCOUNT_VALUE (e), 1);
    gst_event_unref (e);
  }
  std::printf ("ok\n");
  return 0;
}
