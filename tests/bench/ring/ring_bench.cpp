/* gst-fanout
 * Copyright (C) 2026 the gst-fanout authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2.1 of the License, or (at your option) any later version.
 */

/* Ring benchmark (not a test): items/s and the writer's cost per item with
 * N readers, beside a naive per-reader mutex + condition variable queue.
 *
 *   ring-bench KIND READERS ITEMS
 *     KIND: ring | ring-block | naive
 *
 * Prints one line of key=value figures. The writer's CPU time is its own
 * thread's (CLOCK_THREAD_CPUTIME_ID), so it measures what the writer pays,
 * not how the scheduler shares 2 cores among 65 threads. */

#include "ring.h"

#include <time.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

using namespace gstfanout;

namespace
{

double
thread_cpu_seconds ()
{
  struct timespec ts;
  clock_gettime (CLOCK_THREAD_CPUTIME_ID, &ts);
  return double (ts.tv_sec) + double (ts.tv_nsec) * 1e-9;
}

struct Result {
  double wall = 0;
  double writer_cpu = 0;
  guint64 read = 0;
  guint64 wakeups = 0;
};

Result
run_ring (guint n_readers, guint64 n_items, LagPolicy policy)
{
  std::string err;
  auto writer = RingWriter::create (1024, &err);
  /* Distinct buffers, as a real stream has: one shared buffer would make
   * its refcount the contended cache line. */
  std::vector<GstBuffer *> pool (4096);
  for (auto &b : pool)
    b = gst_buffer_new ();
  std::atomic<guint64> read{ 0 };
  std::vector<std::thread> readers;
  std::atomic<guint> ready{ 0 };
  for (guint i = 0; i < n_readers; i++) {
    readers.emplace_back ([&] {
      RingReader r (writer->ring (), policy, StartPosition::Latest);
      ready++;
      guint64 n = 0;
      RingItem it;
      while (r.pop (it) == PopResult::Ok)
        n++;
      read += n;
    });
  }
  while (ready.load () < n_readers)
    std::this_thread::yield ();

  Result res;
  auto t0 = std::chrono::steady_clock::now ();
  double c0 = thread_cpu_seconds ();
  for (guint64 s = 0; s < n_items; s++)
    writer->push (GST_MINI_OBJECT_CAST (gst_buffer_ref (pool[s % 4096])),
                  s % 30 == 0 ? ITEM_SYNC : 0, s * 1000);
  res.writer_cpu = thread_cpu_seconds () - c0;
  res.wall
      = std::chrono::duration<double> (std::chrono::steady_clock::now () - t0)
            .count ();
  writer->set_flushing (true);
  for (auto &t : readers)
    t.join ();
  res.read = read.load ();
  RingStats st = ring_stats (*writer->ring ());
  res.wakeups = st.wakeups;
  writer.reset ();
  for (auto b : pool)
    gst_buffer_unref (b);
  return res;
}

/* The naive design: one mutex + condition variable queue per reader; the
 * writer appends to every queue (bounded at 1024, oldest dropped). */
struct NaiveQueue {
  std::mutex lock;
  std::condition_variable cond;
  std::deque<GstBuffer *> q;
  bool done = false;
};

Result
run_naive (guint n_readers, guint64 n_items)
{
  std::vector<std::unique_ptr<NaiveQueue>> queues;
  for (guint i = 0; i < n_readers; i++)
    queues.push_back (std::make_unique<NaiveQueue> ());
  std::vector<GstBuffer *> pool (4096);
  for (auto &b : pool)
    b = gst_buffer_new ();
  std::atomic<guint64> read{ 0 };
  std::vector<std::thread> readers;
  for (guint i = 0; i < n_readers; i++) {
    readers.emplace_back ([&, i] {
      NaiveQueue &nq = *queues[i];
      guint64 n = 0;
      for (;;) {
        std::unique_lock<std::mutex> l (nq.lock);
        nq.cond.wait (l, [&] { return nq.done || !nq.q.empty (); });
        if (nq.q.empty ())
          break;
        GstBuffer *b = nq.q.front ();
        nq.q.pop_front ();
        l.unlock ();
        gst_buffer_unref (b);
        n++;
      }
      read += n;
    });
  }
  Result res;
  auto t0 = std::chrono::steady_clock::now ();
  double c0 = thread_cpu_seconds ();
  for (guint64 s = 0; s < n_items; s++) {
    for (auto &nq : queues) {
      std::lock_guard<std::mutex> l (nq->lock);
      nq->q.push_back (gst_buffer_ref (pool[s % 4096]));
      if (nq->q.size () > 1024) {
        gst_buffer_unref (nq->q.front ());
        nq->q.pop_front ();
      }
      nq->cond.notify_one ();
    }
  }
  res.writer_cpu = thread_cpu_seconds () - c0;
  res.wall
      = std::chrono::duration<double> (std::chrono::steady_clock::now () - t0)
            .count ();
  for (auto &nq : queues) {
    std::lock_guard<std::mutex> l (nq->lock);
    nq->done = true;
    nq->cond.notify_one ();
  }
  for (auto &t : readers)
    t.join ();
  for (auto &nq : queues)
    for (GstBuffer *b : nq->q)
      gst_buffer_unref (b);
  res.read = read.load ();
  for (auto b : pool)
    gst_buffer_unref (b);
  return res;
}

} // namespace

int
main (int argc, char **argv)
{
  gst_init (nullptr, nullptr);
  if (argc < 4) {
    std::fprintf (stderr, "usage: ring-bench ring|ring-block|naive READERS "
                          "ITEMS\n");
    return 2;
  }
  const char *kind = argv[1];
  guint n = guint (std::strtoul (argv[2], nullptr, 10));
  guint64 items = std::strtoull (argv[3], nullptr, 10);
  Result r;
  if (std::strcmp (kind, "ring") == 0)
    r = run_ring (n, items, LagPolicy::DropToLatest);
  else if (std::strcmp (kind, "ring-block") == 0)
    r = run_ring (n, items, LagPolicy::Block);
  else if (std::strcmp (kind, "naive") == 0)
    r = run_naive (n, items);
  else {
    std::fprintf (stderr, "unknown kind %s\n", kind);
    return 2;
  }
  std::printf ("kind=%s readers=%u items=%" G_GUINT64_FORMAT
               " items_per_s=%.0f writer_cpu_ns_per_item=%.1f "
               "writer_wall_ns_per_item=%.1f read_per_reader=%.0f "
               "wakeup_syscalls=%" G_GUINT64_FORMAT "\n",
               kind, n, items, double (items) / r.wall,
               r.writer_cpu * 1e9 / items, r.wall * 1e9 / items,
               n ? double (r.read) / n : 0.0, r.wakeups);
  return 0;
}
