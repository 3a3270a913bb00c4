/* gst-fanout
 * Copyright (C) 2026 the gst-fanout authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2.1 of the License, or (at your option) any later version.
 */

/* The lock-free single-writer / multi-reader broadcast ring.
 *
 * Pure C++ (no GObject type system); items are owned references to
 * GstMiniObjects. See docs/design/ring.md for the algorithm, the reclamation
 * scheme and the memory order of every atomic.
 *
 *   auto writer = gstfanout::RingWriter::create (1024, &error);
 *   gstfanout::RingReader reader (writer->ring (), policy, start);
 *   writer->push (buffer, ITEM_SYNC, running_time);   // writer thread
 *   reader.pop (item);                                  // any reader thread
 *
 * Exactly one RingWriter exists per ring (it is created together with the
 * ring and is move-only), and every RingReader holds a shared reference on
 * the ring, so a reader can never pop from a destroyed ring.
 */

#pragma once

#include <gst/gst.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "gstfanoutraii.h"

namespace gstfanout
{

/* What a reader does when the writer laps it. Values are the GEnum values
 * exposed by the elements. */
enum class LagPolicy : int {
  DropToKeyframe = 0, /* resume at the newest sync point, DISCONT */
  DropToLatest = 1,   /* resume at the newest item, DISCONT */
  Block = 2,          /* the writer waits for this reader (lossless) */
  Disconnect = 3,     /* the reader is ended */
};

/* Where a new reader starts. */
enum class StartPosition : int {
  LatestKeyframe = 0, /* newest sync point in the ring, else the next one */
  Latest = 1,         /* newest item in the ring */
  Oldest = 2,         /* oldest item still in the ring */
};

/* Item flags, set by the writer. */
enum : guint32 {
  ITEM_SYNC = 1u << 0,   /* a reader may start (or resync) here */
  ITEM_EVENT = 1u << 1,  /* the object is a GstEvent */
  ITEM_STICKY = 1u << 2, /* a sticky event: already part of item.sticky */
};

/* An immutable, reference-counted set of the sticky events in force at an
 * item (stream-start, caps, segment, tags, custom sticky events), in the
 * order GStreamer pushes them. EOS is never part of the set: it travels as
 * an item of its own. */
class StickySet
{
public:
  static constexpr guint kMaxEvents = 16;

  guint size () const noexcept { return n_events_; }
  GstEvent *at (guint i) const noexcept { return events_[i]; }
  /* The event of @type (and, for custom sticky events and tags, of the same
   * name/scope as @like), or nullptr. */
  GstEvent *find (GstEventType type) const noexcept;

  StickySet *ref () noexcept;
  void unref () noexcept;

  /* A new set equal to @base (may be nullptr) with @event (transfer none)
   * stored, replacing any event it supersedes. nullptr on allocation
   * failure. */
  static StickySet *with_event (const StickySet *base,
                                GstEvent *event) noexcept;
  /* A new set equal to @base without events of @type. */
  static StickySet *without (const StickySet *base, GstEventType type) noexcept;

private:
  StickySet () noexcept = default;
  ~StickySet ();
  std::atomic<int> refs_{ 1 }; /* relaxed inc, acq_rel dec (as shared_ptr) */
  guint n_events_ = 0;
  GstEvent *events_[kMaxEvents] = {};
};

/* Owned reference to a StickySet. */
class StickyRef
{
public:
  StickyRef () noexcept = default;
  explicit StickyRef (StickySet *s) noexcept : s_ (s) {}
  StickyRef (const StickyRef &o) noexcept : s_ (o.s_ ? o.s_->ref () : nullptr)
  {
  }
  StickyRef &operator= (const StickyRef &o) noexcept
  {
    StickyRef tmp (o);
    std::swap (s_, tmp.s_);
    return *this;
  }
  StickyRef (StickyRef &&o) noexcept : s_ (std::exchange (o.s_, nullptr)) {}
  StickyRef &operator= (StickyRef &&o) noexcept
  {
    std::swap (s_, o.s_);
    return *this;
  }
  ~StickyRef ()
  {
    if (s_)
      s_->unref ();
  }
  StickySet *get () const noexcept { return s_; }
  const StickySet *operator->() const noexcept { return s_; }
  explicit operator bool () const noexcept { return s_ != nullptr; }
  bool operator== (const StickyRef &o) const noexcept { return s_ == o.s_; }

private:
  StickySet *s_ = nullptr;
};

/* One item as a reader receives it: its own references. */
struct RingItem {
  MiniRef<GstMiniObject> obj; /* buffer, buffer list or event */
  /* Sticky events in force at this item. Left as it is when @item already
   * holds that set: reuse one RingItem across pops (and copy, not move, the
   * set out of it) to pop without touching the set's reference count. */
  StickyRef sticky;
  guint64 seq = 0;   /* writer sequence number, from 0 */
  guint32 flags = 0; /* ITEM_* */
  GstClockTime running_time = GST_CLOCK_TIME_NONE;
  /* Items this reader lost just before this one (lag policy, or a reset);
   * non-zero means the element marks the next buffer DISCONT. */
  guint64 dropped_before = 0;
};

class Ring;

enum class PushResult {
  Ok,
  Flushing, /* set_flushing (true) woke a writer waiting for a block reader */
};

enum class PopResult {
  Ok,           /* @item is filled */
  Empty,        /* try_pop only: caught up */
  Flushing,     /* the ring is flushing */
  Woken,        /* RingReader::wake () was called */
  Disconnected, /* lapped under LagPolicy::Disconnect: this reader is over */
};

/* The single writer. Created together with its ring; move-only. Call it
 * from one thread at a time (the streaming thread). */
class RingWriter
{
public:
  /* Rounds @capacity up to a power of two. Returns nullptr and sets @error
   * when @capacity is 0 or too large for memory. */
  static std::unique_ptr<RingWriter> create (gsize capacity,
                                             std::string *error) noexcept;

  ~RingWriter ();
  RingWriter (const RingWriter &) = delete;
  RingWriter &operator= (const RingWriter &) = delete;

  /* Publishes @obj (transfer full) as the next item. The cost is the same
   * for any number of readers; under LagPolicy::Block readers it may wait
   * for the slowest one (interrupted by set_flushing). */
  PushResult push (GstMiniObject *obj, guint32 flags,
                   GstClockTime running_time) noexcept;

  /* Publishes a serialized event (transfer full). Sticky events (but EOS)
   * update the sticky set first; EOS is a sync point, so a reader that
   * joins after it receives it at once. */
  PushResult push_event (GstEvent *event, GstClockTime running_time) noexcept;

  /* Updates the sticky set without publishing an item. */
  void set_sticky (GstEvent *event) noexcept;

  /* Removes sticky events of @type from the set (FLUSH_STOP drops the
   * segment and EOS, as GstPad does). */
  void clear_sticky (GstEventType type) noexcept;

  /* The sticky set in force now (a new reference). */
  StickyRef sticky () const noexcept;

  /* While flushing, readers' pop () returns Flushing and a blocked push ()
   * returns Flushing. */
  void set_flushing (bool flushing) noexcept;

  /* Forgets every item: readers resume after the newest item, and the sync
   * point history is cleared (FLUSH_STOP). */
  void reset () noexcept;

  const std::shared_ptr<Ring> &ring () const noexcept { return ring_; }

private:
  explicit RingWriter (std::shared_ptr<Ring> ring) noexcept;
  std::shared_ptr<Ring> ring_;
};

/* One reader's cursor on a ring. Create and destroy from any thread; call
 * pop () from one thread at a time. Destroying it releases all it held and
 * lets a writer that waited for it go on. */
class RingReader
{
public:
  RingReader (std::shared_ptr<Ring> ring, LagPolicy policy,
              StartPosition start) noexcept;
  ~RingReader ();
  RingReader (const RingReader &) = delete;
  RingReader &operator= (const RingReader &) = delete;

  /* Waits (futex) until an item is available, then returns it. */
  PopResult pop (RingItem &item) noexcept;
  /* Returns Empty instead of waiting. */
  PopResult try_pop (RingItem &item) noexcept;

  /* Makes a pop () that waits return Woken (and the next one, if none
   * waits now). Any thread. */
  void wake () noexcept;

  /* Changes take effect at the next pop (). Any thread. */
  void set_policy (LagPolicy policy) noexcept;
  LagPolicy policy () const noexcept;
  /* A reader further behind than this in running time is treated as lapped
   * (not under Block). GST_CLOCK_TIME_NONE: no bound. Any thread. */
  void set_max_lag_time (GstClockTime t) noexcept;

  /* True while the reader skips data to reach a sync point that is not in
   * the ring yet (the element then asks upstream for a keyframe). */
  bool waiting_for_sync () const noexcept;

  /* Stats, readable from any thread. */
  guint64 dropped () const noexcept;
  guint64 lag_items () const noexcept;
  GstClockTime lag_time () const noexcept;
  /* Times this reader was lapped and resynced. */
  guint64 lapped () const noexcept;

  const std::shared_ptr<Ring> &ring () const noexcept { return ring_; }

  struct State; /* private to ring.cpp */

private:
  PopResult pop_impl (RingItem &item, bool wait) noexcept;
  std::shared_ptr<Ring> ring_;
  State *st_;
};

/* Ring-wide figures, any thread. */
struct RingStats {
  gsize capacity;
  guint64 head;         /* items published so far */
  guint readers;        /* readers attached */
  guint64 sleeps;       /* times a caught-up reader slept */
  guint64 wakeups;      /* wake-up syscalls the writer made */
  guint64 writer_waits; /* times the writer waited for a block reader */
};
RingStats ring_stats (const Ring &ring) noexcept;

} // namespace gstfanout
