/* gst-fanout
 * Copyright (C) 2026 the gst-fanout authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2.1 of the License, or (at your option) any later version.
 */

/* Single-thread (and a few two-thread) semantics of the ring: every lag
 * policy, every start position, sticky events, flushing, reset, wake-ups,
 * capacity checks, and that every reference returns to where it started. */

#include "ring.h"
#include "ringcheck.h"

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

using namespace gstfanout;

namespace
{

/* A pool of buffers we keep one reference on, so refcounts can be checked
 * at the end: each push gives the ring one more reference. */
struct Pool {
  std::vector<GstBuffer *> bufs;
  explicit Pool (guint n)
  {
    for (guint i = 0; i < n; i++) {
      GstBuffer *b = gst_buffer_new ();
      GST_BUFFER_OFFSET (b) = i;
      bufs.push_back (b);
    }
  }
  ~Pool ()
  {
    for (GstBuffer *b : bufs)
      gst_buffer_unref (b);
  }
  GstMiniObject *give (guint i)
  {
    return GST_MINI_OBJECT_CAST (gst_buffer_ref (bufs[i % bufs.size ()]));
  }
  void check_refcounts_are_one ()
  {
    for (GstBuffer *b : bufs)
      CHECK_EQ (GST_MINI_OBJECT_REFCOUNT_VALUE (b), 1);
  }
};

std::unique_ptr<RingWriter>
make_ring (gsize cap)
{
  std::string err;
  auto w = RingWriter::create (cap, &err);
  CHECK (w != nullptr);
  CHECK (err.empty ());
  return w;
}

/* Pushes @n items from the pool, sync every @sync_every (0: never). */
void
push_n (RingWriter &w, Pool &pool, guint64 first, guint n, guint sync_every)
{
  for (guint i = 0; i < n; i++) {
    guint64 s = first + i;
    guint32 flags = (sync_every && s % sync_every == 0) ? ITEM_SYNC : 0;
    CHECK (w.push (pool.give (guint (s)), flags, s * GST_MSECOND)
           == PushResult::Ok);
  }
}

GstEvent *
caps_event (const char *caps_str)
{
  GstCaps *caps = gst_caps_from_string (caps_str);
  GstEvent *e = gst_event_new_caps (caps);
  gst_caps_unref (caps);
  return e;
}

} // namespace

RING_TEST (capacity_checks)
{
  std::string err;
  CHECK (RingWriter::create (0, &err) == nullptr);
  CHECK (err.find ("at least 1") != std::string::npos);
  err.clear ();
  CHECK (RingWriter::create (gsize (1) << 40, &err) == nullptr);
  CHECK (!err.empty ());
  auto w = make_ring (1000);
  CHECK_EQ (ring_stats (*w->ring ()).capacity, gsize (1024));
  auto w1 = make_ring (1);
  CHECK_EQ (ring_stats (*w1->ring ()).capacity, gsize (1));
}

RING_TEST (order_and_refcounts)
{
  Pool pool (16);
  {
    auto w = make_ring (64);
    RingReader r (w->ring (), LagPolicy::DropToKeyframe, StartPosition::Oldest);
    push_n (*w, pool, 0, 50, 0);
    for (guint64 i = 0; i < 50; i++) {
      RingItem it;
      CHECK (r.try_pop (it) == PopResult::Ok);
      CHECK_EQ (it.seq, i);
      CHECK_EQ (it.dropped_before, guint64 (0));
      CHECK (it.obj.get () == GST_MINI_OBJECT_CAST (pool.bufs[i % 16]));
      CHECK_EQ (it.running_time, i * GST_MSECOND);
    }
    RingItem it;
    CHECK (r.try_pop (it) == PopResult::Empty);
    CHECK_EQ (r.dropped (), guint64 (0));
    CHECK_EQ (r.lag_items (), guint64 (0));
  }
  pool.check_refcounts_are_one ();
}

RING_TEST (start_latest_keyframe)
{
  Pool pool (8);
  {
    auto w = make_ring (64);
    push_n (*w, pool, 0, 23, 10); /* sync at 0, 10, 20 */
    RingReader r (w->ring (), LagPolicy::DropToKeyframe,
                  StartPosition::LatestKeyframe);
    CHECK (!r.waiting_for_sync ());
    RingItem it;
    CHECK (r.try_pop (it) == PopResult::Ok);
    CHECK_EQ (it.seq, guint64 (20));
    CHECK (it.flags & ITEM_SYNC);
    CHECK_EQ (it.dropped_before, guint64 (0));
  }
  pool.check_refcounts_are_one ();
}

RING_TEST (start_latest_keyframe_waits_for_next)
{
  Pool pool (8);
  {
    auto w = make_ring (8);
    push_n (*w, pool, 0, 20, 100); /* sync only at 0, long overwritten */
    RingReader r (w->ring (), LagPolicy::DropToKeyframe,
                  StartPosition::LatestKeyframe);
    CHECK (r.waiting_for_sync ());
    RingItem it;
    CHECK (r.try_pop (it) == PopResult::Empty);
    push_n (*w, pool, 20, 3, 0); /* deltas: skipped */
    w->push_event (gst_event_new_tag (gst_tag_list_new_empty ()),
                   GST_CLOCK_TIME_NONE); /* events pass while waiting */
    CHECK (r.try_pop (it) == PopResult::Ok);
    CHECK (it.flags & ITEM_EVENT);
    CHECK_EQ (it.seq, guint64 (23));
    CHECK (r.try_pop (it) == PopResult::Empty);
    CHECK (w->push (pool.give (24), ITEM_SYNC, 0) == PushResult::Ok);
    CHECK (r.try_pop (it) == PopResult::Ok);
    CHECK_EQ (it.seq, guint64 (24));
    CHECK (!r.waiting_for_sync ());
    /* Data skipped before the first sync point is not "dropped": this
     * reader was not there yet. */
    CHECK_EQ (it.dropped_before, guint64 (0));
    CHECK_EQ (r.dropped (), guint64 (0));
  }
  pool.check_refcounts_are_one ();
}

RING_TEST (start_latest_and_oldest)
{
  Pool pool (8);
  {
    auto w = make_ring (16);
    RingReader early_latest (w->ring (), LagPolicy::DropToLatest,
                             StartPosition::Latest);
    push_n (*w, pool, 0, 40, 0);
    RingReader latest (w->ring (), LagPolicy::DropToLatest,
                       StartPosition::Latest);
    RingReader oldest (w->ring (), LagPolicy::DropToLatest,
                       StartPosition::Oldest);
    RingItem it;
    CHECK (latest.try_pop (it) == PopResult::Ok);
    CHECK_EQ (it.seq, guint64 (39));
    CHECK (oldest.try_pop (it) == PopResult::Ok);
    CHECK_EQ (it.seq, guint64 (40 - 16));
    /* Joined on an empty ring: starts at the first item, then lapped. */
    CHECK (early_latest.try_pop (it) == PopResult::Ok);
    CHECK_EQ (it.seq, guint64 (39));
    CHECK_EQ (it.dropped_before, guint64 (39));
  }
  pool.check_refcounts_are_one ();
}

RING_TEST (policy_drop_to_keyframe)
{
  Pool pool (8);
  {
    auto w = make_ring (8);
    RingReader r (w->ring (), LagPolicy::DropToKeyframe, StartPosition::Oldest);
    push_n (*w, pool, 0, 20, 6); /* sync at 0, 6, 12, 18 */
    RingItem it;
    CHECK (r.try_pop (it) == PopResult::Ok);
    CHECK_EQ (it.seq, guint64 (18));
    CHECK_EQ (it.dropped_before, guint64 (18));
    CHECK (r.try_pop (it) == PopResult::Ok);
    CHECK_EQ (it.seq, guint64 (19));
    CHECK_EQ (it.dropped_before, guint64 (0));
    CHECK_EQ (r.dropped (), guint64 (18));
    CHECK_EQ (r.lapped (), guint64 (1));
  }
  pool.check_refcounts_are_one ();
}

RING_TEST (policy_drop_to_keyframe_no_sync_in_ring)
{
  Pool pool (8);
  {
    auto w = make_ring (8);
    RingReader r (w->ring (), LagPolicy::DropToKeyframe, StartPosition::Oldest);
    push_n (*w, pool, 0, 20, 0);
    CHECK (w->push (pool.give (0), 0, 0) == PushResult::Ok); /* seq 20 */
    RingItem it;
    CHECK (r.try_pop (it) == PopResult::Empty); /* resynced, waits */
    CHECK (r.waiting_for_sync ());
    push_n (*w, pool, 21, 2, 0); /* skipped */
    CHECK (w->push (pool.give (0), ITEM_SYNC, 0) == PushResult::Ok); /* 23 */
    CHECK (r.try_pop (it) == PopResult::Ok);
    CHECK_EQ (it.seq, guint64 (23));
    CHECK_EQ (it.dropped_before, guint64 (23));
    CHECK_EQ (r.dropped (), guint64 (23));
  }
  pool.check_refcounts_are_one ();
}

RING_TEST (policy_drop_to_latest)
{
  Pool pool (8);
  {
    auto w = make_ring (4);
    RingReader r (w->ring (), LagPolicy::DropToLatest, StartPosition::Oldest);
    push_n (*w, pool, 0, 10, 0);
    RingItem it;
    CHECK (r.try_pop (it) == PopResult::Ok);
    CHECK_EQ (it.seq, guint64 (9));
    CHECK_EQ (it.dropped_before, guint64 (9));
  }
  pool.check_refcounts_are_one ();
}

RING_TEST (policy_disconnect)
{
  Pool pool (8);
  {
    auto w = make_ring (4);
    RingReader r (w->ring (), LagPolicy::Disconnect, StartPosition::Oldest);
    push_n (*w, pool, 0, 3, 0);
    RingItem it;
    CHECK (r.try_pop (it) == PopResult::Ok);
    push_n (*w, pool, 3, 10, 0);
    CHECK (r.try_pop (it) == PopResult::Disconnected);
    push_n (*w, pool, 13, 1, 0);
    CHECK (r.try_pop (it) == PopResult::Disconnected);
  }
  pool.check_refcounts_are_one ();
}

RING_TEST (policy_block_is_lossless)
{
  Pool pool (32);
  {
    auto w = make_ring (8);
    RingReader fast (w->ring (), LagPolicy::DropToLatest,
                     StartPosition::Oldest);
    RingReader slow (w->ring (), LagPolicy::Block, StartPosition::Oldest);
    const guint n = 200;
    std::thread writer ([&] { push_n (*w, pool, 0, n, 0); });
    RingItem it;
    for (guint64 i = 0; i < n; i++) {
      CHECK (slow.pop (it) == PopResult::Ok);
      CHECK_EQ (it.seq, i);
      CHECK_EQ (it.dropped_before, guint64 (0));
      if (i % 16 == 0)
        std::this_thread::sleep_for (std::chrono::milliseconds (1));
    }
    writer.join ();
    CHECK_EQ (slow.dropped (), guint64 (0));
    CHECK (ring_stats (*w->ring ()).writer_waits > 0);
  }
  pool.check_refcounts_are_one ();
}

/* A writer paced by one Block reader on a tiny ring: the two wake each
 * other all the time, so a lost wake-up on either side hangs this test
 * (and meson's timeout fails it). */
RING_TEST (block_ping_pong_loses_no_wakeup)
{
  Pool pool (16);
  {
    auto w = make_ring (64);
    RingReader r (w->ring (), LagPolicy::Block, StartPosition::Oldest);
    const guint n = g_getenv ("RING_UNIT_SHORT") ? 20000 : 1000000;
    std::thread writer ([&] { push_n (*w, pool, 0, n, 0); });
    RingItem it;
    for (guint64 i = 0; i < n; i++) {
      CHECK (r.pop (it) == PopResult::Ok);
      CHECK_EQ (it.seq, i);
    }
    writer.join ();
    CHECK (ring_stats (*w->ring ()).sleeps > 0);
  }
  pool.check_refcounts_are_one ();
}

RING_TEST (block_reader_leaving_releases_writer)
{
  Pool pool (8);
  {
    auto w = make_ring (4);
    auto r = std::make_unique<RingReader> (w->ring (), LagPolicy::Block,
                                           StartPosition::Oldest);
    std::atomic<bool> done{ false };
    std::thread writer ([&] {
      push_n (*w, pool, 0, 20, 0);
      done = true;
    });
    /* The writer fills the ring and waits for r. */
    while (ring_stats (*w->ring ()).writer_waits == 0)
      std::this_thread::yield ();
    CHECK (!done);
    r.reset ();
    writer.join ();
    CHECK (done);
  }
  pool.check_refcounts_are_one ();
}

RING_TEST (flushing_wakes_reader_and_writer)
{
  Pool pool (8);
  {
    auto w = make_ring (4);
    RingReader r (w->ring (), LagPolicy::Block, StartPosition::Oldest);
    push_n (*w, pool, 0, 4, 0);
    std::atomic<int> result{ -1 };
    std::thread writer ([&] {
      result = int (w->push (pool.give (4), 0, 0)); /* ring full: waits */
    });
    while (ring_stats (*w->ring ()).writer_waits == 0)
      std::this_thread::yield ();
    w->set_flushing (true);
    writer.join ();
    CHECK (result == int (PushResult::Flushing));
    RingItem it;
    CHECK (r.pop (it) == PopResult::Flushing);
    w->set_flushing (false);
    CHECK (r.pop (it) == PopResult::Ok);
  }
  pool.check_refcounts_are_one ();
}

RING_TEST (reset_resumes_after_newest)
{
  Pool pool (8);
  {
    auto w = make_ring (16);
    RingReader r (w->ring (), LagPolicy::DropToKeyframe, StartPosition::Oldest);
    push_n (*w, pool, 0, 10, 5);
    w->reset ();
    RingItem it;
    CHECK (r.try_pop (it) == PopResult::Empty);
    push_n (*w, pool, 10, 1, 0);
    CHECK (r.try_pop (it) == PopResult::Ok);
    CHECK_EQ (it.seq, guint64 (10));
    CHECK_EQ (it.dropped_before, guint64 (0));
    CHECK_EQ (r.dropped (), guint64 (0));
    /* The sync history is gone: a new keyframe reader waits. */
    RingReader late (w->ring (), LagPolicy::DropToKeyframe,
                     StartPosition::LatestKeyframe);
    CHECK (late.waiting_for_sync ());
  }
  pool.check_refcounts_are_one ();
}

RING_TEST (sticky_events_follow_items)
{
  Pool pool (8);
  {
    auto w = make_ring (8);
    w->push_event (gst_event_new_stream_start ("s1"), GST_CLOCK_TIME_NONE);
    w->push_event (caps_event ("video/x-h264"), GST_CLOCK_TIME_NONE);
    GstSegment seg;
    gst_segment_init (&seg, GST_FORMAT_TIME);
    w->push_event (gst_event_new_segment (&seg), GST_CLOCK_TIME_NONE);
    w->push_event (
        gst_event_new_tag (gst_tag_list_new (GST_TAG_TITLE, "a", NULL)),
        GST_CLOCK_TIME_NONE);
    push_n (*w, pool, 4, 20, 5);
    w->push_event (caps_event ("video/x-h264,width=2"), GST_CLOCK_TIME_NONE);
    push_n (*w, pool, 25, 6, 5);

    /* A late reader resyncs at seq 30: its item carries the set in force. */
    RingReader r (w->ring (), LagPolicy::DropToKeyframe,
                  StartPosition::LatestKeyframe);
    RingItem it;
    CHECK (r.try_pop (it) == PopResult::Ok);
    CHECK_EQ (it.seq, guint64 (30));
    CHECK (it.sticky);
    CHECK_EQ (it.sticky->size (), 4u);
    CHECK (GST_EVENT_TYPE (it.sticky->at (0)) == GST_EVENT_STREAM_START);
    CHECK (GST_EVENT_TYPE (it.sticky->at (1)) == GST_EVENT_CAPS);
    CHECK (GST_EVENT_TYPE (it.sticky->at (2)) == GST_EVENT_SEGMENT);
    CHECK (GST_EVENT_TYPE (it.sticky->at (3)) == GST_EVENT_TAG);
    GstCaps *caps;
    gst_event_parse_caps (it.sticky->find (GST_EVENT_CAPS), &caps);
    CHECK (gst_structure_has_field (gst_caps_get_structure (caps, 0), "width"));

    /* A new stream drops the old stream's tags; segment can be cleared. */
    w->push_event (gst_event_new_stream_start ("s2"), GST_CLOCK_TIME_NONE);
    w->clear_sticky (GST_EVENT_SEGMENT);
    StickyRef now = w->sticky ();
    CHECK_EQ (now->size (), 2u);
    CHECK (now->find (GST_EVENT_TAG) == nullptr);
    CHECK (now->find (GST_EVENT_SEGMENT) == nullptr);
  }
  pool.check_refcounts_are_one ();
}

/* One RingItem reused across pops keeps the set it holds while the items'
 * set is the same one (no reference traffic), takes the new one when it
 * changes, and takes it again after the caller moved it out. */
RING_TEST (sticky_set_kept_in_reused_item)
{
  Pool pool (8);
  {
    auto w = make_ring (16);
    w->push_event (caps_event ("video/x-h264"), GST_CLOCK_TIME_NONE);
    push_n (*w, pool, 0, 3, 0);
    w->push_event (caps_event ("video/x-h264,width=2"), GST_CLOCK_TIME_NONE);
    push_n (*w, pool, 3, 2, 0);

    RingReader r (w->ring (), LagPolicy::DropToKeyframe, StartPosition::Oldest);
    RingItem it;
    std::vector<const StickySet *> sets;
    while (r.try_pop (it) == PopResult::Ok) {
      CHECK (it.sticky);
      sets.push_back (it.sticky.get ());
      it.obj.reset ();
    }
    /* caps, 3 buffers, caps, 2 buffers */
    CHECK_EQ (sets.size (), size_t (7));
    for (size_t i = 1; i < 4; i++)
      CHECK (sets[i] == sets[0]);
    CHECK (sets[4] != sets[0]);
    for (size_t i = 5; i < 7; i++)
      CHECK (sets[i] == sets[4]);
    GstCaps *caps;
    gst_event_parse_caps (sets[6]->find (GST_EVENT_CAPS), &caps);
    CHECK (gst_structure_has_field (gst_caps_get_structure (caps, 0), "width"));

    /* moved out: the next pop fills it again with the same set */
    StickyRef kept = std::move (it.sticky);
    CHECK (!it.sticky);
    push_n (*w, pool, 5, 1, 0);
    CHECK (r.try_pop (it) == PopResult::Ok);
    CHECK (it.sticky.get () == kept.get ());
    it.obj.reset ();
  }
  pool.check_refcounts_are_one ();
}

RING_TEST (eos_reaches_late_reader)
{
  Pool pool (8);
  {
    auto w = make_ring (8);
    push_n (*w, pool, 0, 5, 0);
    w->push_event (gst_event_new_eos (), GST_CLOCK_TIME_NONE);
    RingReader r (w->ring (), LagPolicy::DropToKeyframe,
                  StartPosition::LatestKeyframe);
    RingItem it;
    CHECK (r.try_pop (it) == PopResult::Ok);
    CHECK (it.flags & ITEM_EVENT);
    CHECK (GST_EVENT_TYPE (GST_EVENT_CAST (it.obj.get ())) == GST_EVENT_EOS);
  }
  pool.check_refcounts_are_one ();
}

RING_TEST (sleeping_reader_is_woken)
{
  Pool pool (8);
  {
    auto w = make_ring (8);
    RingReader r (w->ring (), LagPolicy::DropToKeyframe, StartPosition::Oldest);
    /* No sleeper: the writer makes no wake-up call. */
    RingReader idle (w->ring (), LagPolicy::DropToLatest,
                     StartPosition::Latest);
    push_n (*w, pool, 0, 3, 0);
    CHECK_EQ (ring_stats (*w->ring ()).wakeups, guint64 (0));
    RingItem it;
    for (int i = 0; i < 3; i++)
      CHECK (r.pop (it) == PopResult::Ok);

    std::atomic<int> got{ 0 };
    std::thread reader ([&] {
      RingItem x;
      while (got < 5 && r.pop (x) == PopResult::Ok)
        got++;
    });
    while (ring_stats (*w->ring ()).sleeps == 0)
      std::this_thread::yield ();
    push_n (*w, pool, 3, 5, 0);
    reader.join ();
    CHECK_EQ (got.load (), 5);
    CHECK (ring_stats (*w->ring ()).wakeups > 0);
  }
  pool.check_refcounts_are_one ();
}

RING_TEST (wake_interrupts_pop)
{
  auto w = make_ring (8);
  RingReader r (w->ring (), LagPolicy::DropToKeyframe, StartPosition::Oldest);
  std::atomic<int> result{ -1 };
  std::thread reader ([&] {
    RingItem it;
    result = int (r.pop (it));
  });
  while (ring_stats (*w->ring ()).sleeps == 0)
    std::this_thread::yield ();
  r.wake ();
  reader.join ();
  CHECK (result == int (PopResult::Woken));
}

RING_TEST (max_lag_time)
{
  Pool pool (8);
  {
    auto w = make_ring (64);
    RingReader r (w->ring (), LagPolicy::DropToKeyframe, StartPosition::Oldest);
    r.set_max_lag_time (10 * GST_MSECOND);
    push_n (*w, pool, 0, 40, 20); /* 1 ms apart, sync at 0 and 20 */
    RingItem it;
    CHECK (r.try_pop (it) == PopResult::Ok);
    CHECK_EQ (it.seq, guint64 (20));
    CHECK_EQ (it.dropped_before, guint64 (20));
    /* 19 ms behind, but no newer sync point: it reads on. */
    CHECK (r.try_pop (it) == PopResult::Ok);
    CHECK_EQ (it.seq, guint64 (21));
    CHECK (r.lag_time () > 0);

    RingReader blk (w->ring (), LagPolicy::Block, StartPosition::Oldest);
    blk.set_max_lag_time (GST_MSECOND);
    CHECK (blk.try_pop (it) == PopResult::Ok); /* Block ignores time lag */
    CHECK_EQ (it.seq, guint64 (0));
  }
  pool.check_refcounts_are_one ();
}

RING_TEST (policy_change_at_runtime)
{
  Pool pool (8);
  {
    auto w = make_ring (4);
    RingReader r (w->ring (), LagPolicy::DropToLatest, StartPosition::Oldest);
    r.set_policy (LagPolicy::Block);
    RingItem it;
    CHECK (r.try_pop (it) == PopResult::Empty); /* applies the change */
    CHECK (r.policy () == LagPolicy::Block);
    std::thread writer ([&] { push_n (*w, pool, 0, 12, 0); });
    for (guint64 i = 0; i < 12; i++) {
      CHECK (r.pop (it) == PopResult::Ok);
      CHECK_EQ (it.seq, i);
    }
    writer.join ();
  }
  pool.check_refcounts_are_one ();
}

RING_TEST (writer_destroyed_before_readers)
{
  Pool pool (8);
  {
    std::unique_ptr<RingReader> r;
    {
      auto w = make_ring (8);
      r = std::make_unique<RingReader> (w->ring (), LagPolicy::DropToKeyframe,
                                        StartPosition::Oldest);
      push_n (*w, pool, 0, 6, 0);
    }
    RingItem it;
    for (guint64 i = 0; i < 6; i++) {
      CHECK (r->try_pop (it) == PopResult::Ok);
      CHECK_EQ (it.seq, i);
    }
    CHECK (r->try_pop (it) == PopResult::Empty);
  }
  pool.check_refcounts_are_one ();
}

RING_TEST (many_readers_join_and_leave)
{
  Pool pool (8);
  {
    auto w = make_ring (8);
    std::vector<std::unique_ptr<RingReader>> readers;
    for (int round = 0; round < 50; round++) {
      /* No Block reader: nobody pops while this thread writes. */
      static const LagPolicy policies[]
          = { LagPolicy::DropToKeyframe, LagPolicy::DropToLatest,
              LagPolicy::Disconnect };
      readers.push_back (std::make_unique<RingReader> (
          w->ring (), policies[round % 3], StartPosition (round % 3)));
      push_n (*w, pool, guint64 (round) * 3, 3, 2);
      if (round % 3 == 0)
        readers.erase (readers.begin ());
      for (auto &r : readers) {
        RingItem it;
        r->try_pop (it);
      }
    }
    CHECK_EQ (ring_stats (*w->ring ()).readers, guint (readers.size ()));
  }
  pool.check_refcounts_are_one ();
}

int
main (int argc, char **argv)
{
  return ringcheck::run_main (argc, argv);
}
