/* gst-fanout
 * Copyright (C) 2026 the gst-fanout authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2.1 of the License, or (at your option) any later version.
 */

/* The process-wide registry of named channels shared by fanoutsink (the one
 * writer) and fanoutsrc (any number of readers).
 *
 * A channel holds one ring and its single RingWriter. The RingWriter stays
 * in the channel for the channel's whole life; a fanoutsink that attaches
 * borrows it (a plain pointer, valid until it detaches) and is then the only
 * thread that writes. Readers create their own RingReader on channel->ring ().
 *
 * Joining and leaving lock one registry mutex; the data path (push, pop)
 * never touches the registry. A channel is freed when no writer and no
 * reader remain. The registry lives in one process: two processes never
 * share a channel.
 *
 * Lock order: the registry mutex is the only lock here and nothing is called
 * out (signals, pad pushes, element callbacks) while it is held.
 */

#pragma once

#include <gst/gst.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "ring.h"

namespace gstfanout
{

/* What the attached writer element does for the channel. Each is called with
 * no lock held, from the thread of the reader that caused it, with a
 * reference on @writer held for the duration of the call. */
struct ChannelWriterCallbacks {
  /* An upstream event (transfer full) sent by a reader, to be pushed
   * upstream from the writer's sink pad. */
  void (*upstream_event) (GstElement *writer, GstEvent *event) noexcept;
  /* A reader element joined / left the channel while @writer was attached.
   * @reason is a static string, remove_reason_nick () of gstfanoutreader.h:
   * "released" (the reader stopped), "lapped" (lag-policy=disconnect),
   * "not-negotiated", "error" (its downstream failed) or "no-memory". */
  void (*reader_added) (GstElement *writer, GstElement *reader) noexcept;
  void (*reader_removed) (GstElement *writer, GstElement *reader,
                          const char *reason) noexcept;
};

class Channel;
using ChannelRef = std::shared_ptr<Channel>;

class Channel
{
public:
  enum class WaitResult {
    Ok,        /* a writer is attached */
    Timeout,   /* @end_time passed first */
    Cancelled, /* @cancel became true (wake_waiters () was called) */
  };

  /* --- writer side -------------------------------------------------- */

  /* Attaches @writer as the single writer of channel @name, creating the
   * channel (and its ring, @capacity items) when needed. On success returns
   * the channel and sets @ring_writer to the ring's writer, valid until
   * detach_writer (). Fails, returning nullptr and setting @error (a message
   * naming the channel), when @name is empty or another writer is attached.
   *
   * Attaching starts a new writer session: the ring forgets the previous
   * writer's items (readers that are still behind skip to the new writer's
   * first item, marked DISCONT), and readers waiting for a writer wake.
   * When readers are attached to an existing ring of another capacity, the
   * ring is kept (and @capacity ignored; logged). */
  static ChannelRef attach_writer (const char *name, GstElement *writer,
                                   const ChannelWriterCallbacks &callbacks,
                                   gsize capacity, RingWriter **ring_writer,
                                   std::string *error) noexcept;

  /* Detaches @writer (a no-op when it is not the attached writer). The ring
   * and its items stay in the channel while readers remain. */
  void detach_writer (GstElement *writer) noexcept;

  /* The writer's ring is flushing (FLUSH_START .. FLUSH_STOP, or while the
   * writer deactivates). Readers whose pop () returned Flushing wait for
   * the end with wait_not_flushing (). */
  void set_flushing (GstElement *writer, bool flushing) noexcept;

  /* A bound on how far (running time) a reader may be behind before it is
   * treated as lapped; GST_CLOCK_TIME_NONE for none. Set by the writer,
   * read by readers when they create their cursor. Any thread. */
  void set_max_lag_time (GstClockTime t) noexcept;
  GstClockTime max_lag_time () const noexcept;

  /* The attached writer's clock and base time, published by @writer when
   * it goes to PLAYING (and cleared, @clock nullptr and @base_time
   * GST_CLOCK_TIME_NONE, when it leaves PLAYING or detaches), so that a
   * reader can map the writer's running time to clock time. A no-op when
   * @writer is not the attached writer. The channel holds a reference on
   * @clock while it is published: the pointer a reader loads cannot be
   * freed and reused by another clock while published. Readers compare it
   * with their own clock for identity only and never dereference it.
   * State-change threads only (takes the registry lock). */
  void set_writer_clock (GstElement *writer, GstClock *clock,
                         GstClockTime base_time) noexcept;
  /* Reader side, any thread, no lock (a seqlock over atomics): the
   * published pair, or false (@clock, @base_time untouched) when none is
   * published or a publication is under way (try again later). */
  bool writer_clock (const GstClock **clock,
                     GstClockTime *base_time) const noexcept;

  /* --- reader side -------------------------------------------------- */

  /* Registers @reader on channel @name (created when needed, without a
   * ring until a writer attaches). nullptr and @error when @name is empty.
   */
  static ChannelRef attach_reader (const char *name, GstElement *reader,
                                   std::string *error) noexcept;

  /* Unregisters @reader; @reason as in ChannelWriterCallbacks. Frees the
   * channel when it was the last user. */
  void detach_reader (GstElement *reader, const char *reason) noexcept;

  /* Waits until a writer is attached, @cancel becomes true, or the
   * monotonic time @end_time (g_get_monotonic_time () units; G_MAXINT64:
   * forever) passes. On Ok sets @ring to the channel's ring. */
  WaitResult wait_writer (gint64 end_time, const std::atomic<bool> &cancel,
                          std::shared_ptr<Ring> *ring) noexcept;

  /* Waits until the writer's flushing ends (or no writer is attached) or
   * @cancel becomes true. Returns false when cancelled. */
  bool wait_not_flushing (const std::atomic<bool> &cancel) noexcept;

  /* Wakes every wait_writer () / wait_not_flushing () so that it re-checks its
   * @cancel flag. */
  void wake_waiters () noexcept;

  /* Hands @event (transfer full) to the attached writer, which pushes it
   * upstream from its sink pad. FALSE (event dropped) when no writer is
   * attached. */
  bool send_upstream (GstEvent *event) noexcept;

  /* --- any side ----------------------------------------------------- */

  const std::string &name () const noexcept { return name_; }
  guint num_readers () const noexcept;
  /* The reader elements attached now (new references), for stats. */
  std::vector<ObjRef<GstElement>> readers () const noexcept;
  bool has_writer () const noexcept;

  Channel (const Channel &) = delete;
  Channel &operator= (const Channel &) = delete;
  ~Channel ();

  /* Implementation detail (std::make_shared needs it public). */
  explicit Channel (std::string name) noexcept;

private:
  struct State;
  const std::string name_;
  State *st_;
};

} // namespace gstfanout
