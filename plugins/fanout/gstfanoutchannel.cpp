/* gst-fanout
 * Copyright (C) 2026 the gst-fanout authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2.1 of the License, or (at your option) any later version.
 */

/* The process-wide channel registry (see gstfanoutchannel.h).
 *
 * One mutex (registry_lock) guards the name -> channel map and every
 * channel's State; one condition variable per channel wakes readers that
 * wait for a writer. Nothing is called out while registry_lock is held:
 * callbacks get a snapshot (writer element ref + callbacks) taken under the
 * lock and are called after it is released.
 */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstfanoutchannel.h"

#include <condition_variable>
#include <mutex>
#include <new>
#include <unordered_map>

GST_DEBUG_CATEGORY_STATIC (fanout_channel_debug);
#define GST_CAT_DEFAULT fanout_channel_debug

namespace gstfanout
{

namespace
{

struct Registry {
  std::mutex lock; /* guards map and every Channel::State */
  std::unordered_map<std::string, ChannelRef> map;
};

/* Never destroyed: elements may detach from static destructors at exit. */
Registry &
registry () noexcept
{
  static Registry *r = [] {
    GST_DEBUG_CATEGORY_INIT (fanout_channel_debug, "fanoutchannel", 0,
                             "fanoutsink/fanoutsrc channel registry");
    return new Registry ();
  }();
  return *r;
}

/* A snapshot of the attached writer, taken under the registry lock. */
struct WriterSnapshot {
  ObjRef<GstElement> element;
  ChannelWriterCallbacks callbacks{};
};

} // namespace

struct Channel::State {
  /* All fields guarded by Registry::lock. */
  std::unique_ptr<RingWriter> ring_writer; /* null until a writer attached */
  GstElement *writer = nullptr;            /* not owned; set while attached */
  ChannelWriterCallbacks callbacks{};
  guint n_readers = 0;
  std::vector<GstElement *> readers; /* not owned; attached readers */
  bool flushing = false;
  guint64 session = 0;
  std::condition_variable writer_cond; /* signalled on attach and wake */
  /* Written by the writer's property setter, read by readers when they
   * create a cursor: relaxed, an independent value with no data behind it. */
  std::atomic<guint64> max_lag_time{ GST_CLOCK_TIME_NONE };
  /* The writer's clock (a reference, owned here) and base time, a seqlock:
   * written under Registry::lock only (one writer of the seqlock at a
   * time), read by readers without a lock. clock_seq is odd while a
   * publication is under way. The writer stores clock_seq odd, the
   * fields, clock_seq even; a reader loads clock_seq, the fields,
   * clock_seq again, and uses the fields only when both loads are equal
   * and even. Every access is seq_cst (publications are rare, reads happen
   * at a resync, not per buffer), so no fence is needed; every field is
   * atomic, so a torn read is discarded, never a data race. */
  std::atomic<guint64> clock_seq{ 0 };
  std::atomic<GstClock *> clock{ nullptr };
  std::atomic<guint64> base_time{ GST_CLOCK_TIME_NONE };

  /* Registry lock held. Returns the clock reference it replaced (to be
   * dropped after unlocking). */
  GstClock *publish_clock (GstClock *c, GstClockTime base) noexcept
  {
    const guint64 s = clock_seq.load (std::memory_order_relaxed);
    clock_seq.store (s + 1, std::memory_order_seq_cst);
    GstClock *old = clock.exchange (c, std::memory_order_seq_cst);
    base_time.store (base, std::memory_order_seq_cst);
    clock_seq.store (s + 2, std::memory_order_seq_cst);
    return old;
  }

  WriterSnapshot snapshot () const noexcept
  {
    WriterSnapshot s;
    if (writer) {
      s.element = ObjRef<GstElement>::ref (writer);
      s.callbacks = callbacks;
    }
    return s;
  }
};

Channel::Channel (std::string name) noexcept
    : name_ (std::move (name)), st_ (new (std::nothrow) State ())
{
}

Channel::~Channel ()
{
  GST_DEBUG ("channel '%s' freed", name_.c_str ());
  if (st_) {
    GstClock *c = st_->clock.exchange (nullptr, std::memory_order_relaxed);
    if (c)
      gst_object_unref (c);
  }
  delete st_;
}

/* Removes @channel from the map when nobody uses it. Registry lock held. */
static void
maybe_unregister (Registry &r, const Channel &channel, bool has_writer,
                  guint n_readers) noexcept
{
  if (has_writer || n_readers > 0)
    return;
  auto it = r.map.find (channel.name ());
  if (it != r.map.end () && it->second.get () == &channel) {
    GST_DEBUG ("channel '%s' unused, unregistering", channel.name ().c_str ());
    /* The caller holds its own ChannelRef, so the channel is not destroyed
     * under the lock. */
    r.map.erase (it);
  }
}

/* Finds or creates channel @name. Registry lock held. */
static ChannelRef
lookup_or_create (Registry &r, const char *name, std::string *error) noexcept
{
  try {
    std::string key (name);
    auto it = r.map.find (key);
    if (it != r.map.end ())
      return it->second;
    auto channel = std::make_shared<Channel> (key);
    r.map.emplace (std::move (key), channel);
    GST_DEBUG ("channel '%s' created", name);
    return channel;
  } catch (const std::bad_alloc &) {
    if (error)
      *error = "out of memory";
    return nullptr;
  }
}

ChannelRef
Channel::attach_writer (const char *name, GstElement *writer,
                        const ChannelWriterCallbacks &callbacks, gsize capacity,
                        RingWriter **ring_writer, std::string *error) noexcept
{
  std::string err;
  if (!name || !*name) {
    if (error)
      *error = "no channel name set (the channel property is empty)";
    return nullptr;
  }

  Registry &r = registry ();
  std::unique_ptr<RingWriter> old_ring; /* freed after unlocking */
  ChannelRef channel;
  {
    std::lock_guard<std::mutex> lk (r.lock);
    channel = lookup_or_create (r, name, &err);
    if (!channel || !channel->st_)
      goto failed;
    State *st = channel->st_;
    if (st->writer) {
      err = std::string ("channel '") + name + "' already has a writer ("
            + GST_OBJECT_NAME (st->writer) + ")";
      channel.reset ();
      goto failed;
    }

    if (st->ring_writer && st->n_readers == 0) {
      RingStats rs = ring_stats (*st->ring_writer->ring ());
      if (rs.capacity < capacity || rs.capacity >= 2 * capacity)
        old_ring = std::move (st->ring_writer); /* new capacity */
    }
    if (!st->ring_writer) {
      st->ring_writer = RingWriter::create (capacity, &err);
      if (!st->ring_writer) {
        maybe_unregister (r, *channel, false, st->n_readers);
        channel.reset ();
        goto failed;
      }
    } else {
      RingStats rs = ring_stats (*st->ring_writer->ring ());
      if (rs.capacity < capacity || rs.capacity >= 2 * capacity)
        GST_WARNING (
            "channel '%s': %u readers hold the ring of %" G_GSIZE_FORMAT
            " items, ignoring capacity %" G_GSIZE_FORMAT,
            name, st->n_readers, rs.capacity, capacity);
      /* A new session: readers skip what the previous writer left. */
      st->ring_writer->reset ();
    }

    st->writer = writer;
    st->callbacks = callbacks;
    st->session++;
    *ring_writer = st->ring_writer.get ();
    GST_DEBUG ("channel '%s': writer %s attached (session %" G_GUINT64_FORMAT
               ", %u readers)",
               name, GST_OBJECT_NAME (writer), st->session, st->n_readers);
  }
  channel->st_->writer_cond.notify_all ();
  return channel;

failed:
  if (error)
    *error = std::move (err);
  return nullptr;
}

void
Channel::detach_writer (GstElement *writer) noexcept
{
  Registry &r = registry ();
  ObjRef<GstClock> old_clock; /* dropped after unlocking */
  std::lock_guard<std::mutex> lk (r.lock);
  if (st_->writer != writer)
    return;
  old_clock.reset (st_->publish_clock (nullptr, GST_CLOCK_TIME_NONE));
  st_->writer = nullptr;
  st_->callbacks = ChannelWriterCallbacks{};
  st_->flushing = false;
  st_->writer_cond.notify_all ();
  GST_DEBUG ("channel '%s': writer %s detached (%u readers)", name_.c_str (),
             GST_OBJECT_NAME (writer), st_->n_readers);
  maybe_unregister (r, *this, false, st_->n_readers);
}

void
Channel::set_flushing (GstElement *writer, bool flushing) noexcept
{
  Registry &r = registry ();
  {
    std::lock_guard<std::mutex> lk (r.lock);
    if (st_->writer != writer)
      return;
    st_->flushing = flushing;
  }
  st_->writer_cond.notify_all ();
}

bool
Channel::wait_not_flushing (const std::atomic<bool> &cancel) noexcept
{
  Registry &r = registry ();
  std::unique_lock<std::mutex> lk (r.lock);
  for (;;) {
    /* acquire: pairs with the release store of whoever set the flag. */
    if (cancel.load (std::memory_order_acquire))
      return false;
    if (!st_->flushing)
      return true;
    st_->writer_cond.wait (lk);
  }
}

void
Channel::set_max_lag_time (GstClockTime t) noexcept
{
  st_->max_lag_time.store (t, std::memory_order_relaxed);
}

GstClockTime
Channel::max_lag_time () const noexcept
{
  return st_->max_lag_time.load (std::memory_order_relaxed);
}

void
Channel::set_writer_clock (GstElement *writer, GstClock *clock,
                           GstClockTime base_time) noexcept
{
  Registry &r = registry ();
  ObjRef<GstClock> ref = ObjRef<GstClock>::ref (clock);
  {
    std::lock_guard<std::mutex> lk (r.lock);
    if (st_->writer != writer)
      return; /* ref dropped after unlocking */
    if (!clock)
      base_time = GST_CLOCK_TIME_NONE;
    /* the channel takes our reference; the old one is dropped below */
    ref.reset (st_->publish_clock (ref.release (), base_time));
    GST_DEBUG ("channel '%s': writer clock %p, base time %" GST_TIME_FORMAT,
               name_.c_str (), (void *)clock, GST_TIME_ARGS (base_time));
  }
}

bool
Channel::writer_clock (const GstClock **clock,
                       GstClockTime *base_time) const noexcept
{
  /* a publication is a few stores under the registry lock: retry a few
   * times rather than report "none" for a torn read */
  for (int tries = 0; tries < 64; tries++) {
    /* seq_cst throughout (no fences: ThreadSanitizer does not model
     * them): the field loads fall between the two loads of clock_seq in
     * the single total order, so a publication in between is seen */
    const guint64 s1 = st_->clock_seq.load (std::memory_order_seq_cst);
    if (s1 & 1)
      continue;
    GstClock *c = st_->clock.load (std::memory_order_seq_cst);
    GstClockTime b = st_->base_time.load (std::memory_order_seq_cst);
    if (st_->clock_seq.load (std::memory_order_seq_cst) != s1)
      continue;
    if (!c || !GST_CLOCK_TIME_IS_VALID (b))
      return false;
    *clock = c;
    *base_time = b;
    return true;
  }
  return false;
}

ChannelRef
Channel::attach_reader (const char *name, GstElement *reader,
                        std::string *error) noexcept
{
  if (!name || !*name) {
    if (error)
      *error = "no channel name set (the channel property is empty)";
    return nullptr;
  }
  Registry &r = registry ();
  ChannelRef channel;
  WriterSnapshot w;
  {
    std::lock_guard<std::mutex> lk (r.lock);
    channel = lookup_or_create (r, name, error);
    if (!channel || !channel->st_)
      return nullptr;
    try {
      channel->st_->readers.push_back (reader);
    } catch (const std::bad_alloc &) {
      if (error)
        *error = "out of memory";
      maybe_unregister (r, *channel, channel->st_->writer != nullptr,
                        channel->st_->n_readers);
      return nullptr;
    }
    channel->st_->n_readers++;
    w = channel->st_->snapshot ();
    GST_DEBUG ("channel '%s': reader %s attached (%u readers)", name,
               GST_OBJECT_NAME (reader), channel->st_->n_readers);
  }
  if (w.element && w.callbacks.reader_added)
    w.callbacks.reader_added (w.element.get (), reader);
  return channel;
}

void
Channel::detach_reader (GstElement *reader, const char *reason) noexcept
{
  Registry &r = registry ();
  WriterSnapshot w;
  bool found = false;
  {
    std::lock_guard<std::mutex> lk (r.lock);
    auto &v = st_->readers;
    for (auto it = v.begin (); it != v.end (); ++it) {
      if (*it == reader) {
        v.erase (it);
        found = true;
        if (st_->n_readers > 0)
          st_->n_readers--;
        break;
      }
    }
    w = st_->snapshot ();
    GST_DEBUG ("channel '%s': reader %s detached (%s, %u readers)",
               name_.c_str (), GST_OBJECT_NAME (reader), reason,
               st_->n_readers);
    maybe_unregister (r, *this, st_->writer != nullptr, st_->n_readers);
  }
  if (found && w.element && w.callbacks.reader_removed)
    w.callbacks.reader_removed (w.element.get (), reader, reason);
}

Channel::WaitResult
Channel::wait_writer (gint64 end_time, const std::atomic<bool> &cancel,
                      std::shared_ptr<Ring> *ring) noexcept
{
  Registry &r = registry ();
  std::unique_lock<std::mutex> lk (r.lock);
  for (;;) {
    /* acquire: pairs with the release store of whoever set the flag. */
    if (cancel.load (std::memory_order_acquire))
      return WaitResult::Cancelled;
    if (st_->writer && st_->ring_writer) {
      *ring = st_->ring_writer->ring ();
      return WaitResult::Ok;
    }
    if (end_time == G_MAXINT64) {
      st_->writer_cond.wait (lk);
    } else {
      gint64 now = g_get_monotonic_time ();
      if (now >= end_time)
        return WaitResult::Timeout;
      st_->writer_cond.wait_for (lk,
                                 std::chrono::microseconds (end_time - now));
    }
  }
}

void
Channel::wake_waiters () noexcept
{
  Registry &r = registry ();
  {
    /* Taking the lock orders the caller's flag store before a waiter's
     * check, so the notification cannot be lost. */
    std::lock_guard<std::mutex> lk (r.lock);
  }
  st_->writer_cond.notify_all ();
}

bool
Channel::send_upstream (GstEvent *event) noexcept
{
  Registry &r = registry ();
  WriterSnapshot w;
  {
    std::lock_guard<std::mutex> lk (r.lock);
    w = st_->snapshot ();
  }
  if (!w.element || !w.callbacks.upstream_event) {
    GST_DEBUG ("channel '%s': no writer, dropping upstream %s event",
               name_.c_str (), GST_EVENT_TYPE_NAME (event));
    gst_event_unref (event);
    return false;
  }
  w.callbacks.upstream_event (w.element.get (), event);
  return true;
}

std::vector<ObjRef<GstElement>>
Channel::readers () const noexcept
{
  std::vector<ObjRef<GstElement>> out;
  std::lock_guard<std::mutex> lk (registry ().lock);
  try {
    out.reserve (st_->readers.size ());
    for (GstElement *e : st_->readers)
      out.push_back (ObjRef<GstElement>::ref (e));
  } catch (const std::bad_alloc &) {
  }
  return out;
}

guint
Channel::num_readers () const noexcept
{
  std::lock_guard<std::mutex> lk (registry ().lock);
  return st_->n_readers;
}

bool
Channel::has_writer () const noexcept
{
  std::lock_guard<std::mutex> lk (registry ().lock);
  return st_->writer != nullptr;
}

} // namespace gstfanout
