/* gst-fanout
 * Copyright (C) 2026 the gst-fanout authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2.1 of the License, or (at your option) any later version.
 */

/* The lock-free broadcast ring. docs/design/ring.md explains the algorithm;
 * the comments here name each atomic's memory order and why.
 *
 * In short:
 *  - C slots (C a power of two); item seq s lives in slot s & (C-1).
 *  - The payload of an item lives in a Node from a pool of 2C nodes. A slot
 *    holds one 64-bit word: low 32 bits = node index + 1, high 32 bits = the
 *    number of times readers pinned the node through this slot (the
 *    "external" count of split reference counting).
 *  - A reader pins with one fetch_add on the slot word, copies what it needs
 *    (taking its own references), and unpins by decrementing the node's
 *    "internal" count. The writer retires a node by exchanging the slot word
 *    and adding the external count it took out to the internal count.
 *    Whoever brings the internal count to zero releases the node. The writer
 *    never waits for a reader to unpin, and a reader never touches a
 *    released node.
 *  - head (items published) is the only thing readers poll; a caught-up
 *    reader sleeps on a futex word the writer bumps only when a reader
 *    announced (need_wake) that it is going to sleep.
 *
 * Lock order: Ring::join_lock is taken only by reader join/leave (never on
 * push or pop), and nothing is called out while holding it.
 */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "ring.h"

#include <unistd.h>
#ifdef __linux__
#include <linux/futex.h>
#include <sys/syscall.h>
#endif

#include <algorithm>
#include <limits>
#include <mutex>
#include <new>
#include <thread>

namespace gstfanout
{

static constexpr guint64 kNone = std::numeric_limits<guint64>::max ();
static constexpr gsize kMaxCapacity = gsize (1) << 26;
static constexpr guint kChunkReaders = 64;
static constexpr int kSpinBeforeSleep = 64;

/* Sleep while @word still holds @expected; wake one or all sleepers of
 * @word. These are the futex calls behind std::atomic::wait/notify, made
 * directly on Linux: libstdc++ 12's wait first spins 16 times, the last 4
 * with sched_yield, and with hundreds of reader threads on two cores each
 * of those yields is a context switch (12% of a server's CPU with 100
 * isolated clients, measured with perf). The readers spin on their own
 * terms before sleeping (kSpinBeforeSleep). Elsewhere: std::atomic. */
static_assert (sizeof (std::atomic<guint32>) == sizeof (guint32)
                   && std::atomic<guint32>::is_always_lock_free,
               "futex word");

static inline void
futex_wait (std::atomic<guint32> &word, guint32 expected) noexcept
{
#ifdef __linux__
  /* EAGAIN (the word moved on) and EINTR both mean: look again. */
  syscall (SYS_futex, reinterpret_cast<guint32 *> (&word), FUTEX_WAIT_PRIVATE,
           expected, nullptr, nullptr, 0);
#else
  word.wait (expected, std::memory_order_seq_cst);
#endif
}

static inline void
futex_wake (std::atomic<guint32> &word, bool all) noexcept
{
#ifdef __linux__
  syscall (SYS_futex, reinterpret_cast<guint32 *> (&word), FUTEX_WAKE_PRIVATE,
           all ? G_MAXINT : 1, nullptr, nullptr, 0);
#else
  if (all)
    word.notify_all ();
  else
    word.notify_one ();
#endif
}

static inline void
cpu_relax () noexcept
{
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause ();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

/* ---------------------------------------------------------------- StickySet
 */

StickySet::~StickySet ()
{
  for (guint i = 0; i < n_events_; i++)
    gst_event_unref (events_[i]);
}

StickySet *
StickySet::ref () noexcept
{
  /* relaxed: taking a new reference needs no ordering, the caller already
   * holds one (as std::shared_ptr does). */
  refs_.fetch_add (1, std::memory_order_relaxed);
  return this;
}

void
StickySet::unref () noexcept
{
  /* acq_rel: the last unref must see every other owner's reads done before
   * the delete (release on each decrement, acquire on the last). */
  if (refs_.fetch_sub (1, std::memory_order_acq_rel) == 1)
    delete this;
}

GstEvent *
StickySet::find (GstEventType type) const noexcept
{
  for (guint i = 0; i < n_events_; i++)
    if (GST_EVENT_TYPE (events_[i]) == type)
      return events_[i];
  return nullptr;
}

static bool
sticky_supersedes (GstEvent *stored, GstEvent *incoming) noexcept
{
  if (GST_EVENT_TYPE (stored) != GST_EVENT_TYPE (incoming))
    return false;
  if (!(gst_event_type_get_flags (GST_EVENT_TYPE (incoming))
        & GST_EVENT_TYPE_STICKY_MULTI))
    return true;
  /* Multi-sticky events (tags, custom sticky) are told apart by their
   * structure name, as GstPad does. */
  const GstStructure *a = gst_event_get_structure (stored);
  const GstStructure *b = gst_event_get_structure (incoming);
  if (!a || !b)
    return a == b;
  return gst_structure_has_name (a, gst_structure_get_name (b));
}

StickySet *
StickySet::with_event (const StickySet *base, GstEvent *event) noexcept
{
  StickySet *s = new (std::nothrow) StickySet ();
  if (!s)
    return nullptr;
  GstEventType type = GST_EVENT_TYPE (event);
  bool placed = false;
  if (base) {
    for (guint i = 0; i < base->n_events_; i++) {
      GstEvent *e = base->events_[i];
      /* A new stream drops the old stream's tags. */
      if (type == GST_EVENT_STREAM_START && GST_EVENT_TYPE (e) == GST_EVENT_TAG)
        continue;
      if (!placed && sticky_supersedes (e, event)) {
        s->events_[s->n_events_++] = gst_event_ref (event);
        placed = true;
        continue;
      }
      if (!placed && GST_EVENT_TYPE (e) > type) {
        /* Sticky events are kept ordered by type, as GstPad pushes them. */
        s->events_[s->n_events_++] = gst_event_ref (event);
        placed = true;
      }
      if (s->n_events_ < kMaxEvents)
        s->events_[s->n_events_++] = gst_event_ref (e);
    }
  }
  if (!placed && s->n_events_ < kMaxEvents)
    s->events_[s->n_events_++] = gst_event_ref (event);
  return s;
}

StickySet *
StickySet::without (const StickySet *base, GstEventType type) noexcept
{
  StickySet *s = new (std::nothrow) StickySet ();
  if (!s)
    return nullptr;
  if (base) {
    for (guint i = 0; i < base->n_events_; i++)
      if (GST_EVENT_TYPE (base->events_[i]) != type)
        s->events_[s->n_events_++] = gst_event_ref (base->events_[i]);
  }
  return s;
}

/* --------------------------------------------------------------------- Ring
 */

namespace
{

struct Node {
  /* Internal count of split reference counting: readers decrement it when
   * they unpin, the writer adds the external count when it retires the
   * node; the one that makes it zero releases the node. acq_rel on both
   * sides (see release_node). */
  std::atomic<gint64> count{ 0 };
  /* true when the node holds nothing and the writer may reuse it. Stored
   * with release by whoever released the node, loaded with acquire by the
   * writer, so the release's unrefs happen before the reuse. */
  std::atomic<bool> free{ true };
  /* Written by the writer while the node is unpublished, read by readers
   * only while pinned: published by the slot word's exchange (release) and
   * seen through the reader's fetch_add on it (acquire). */
  GstMiniObject *obj = nullptr;
  StickySet *sticky = nullptr;
  guint64 seq = 0;
  guint32 flags = 0;
  GstClockTime rt = GST_CLOCK_TIME_NONE;
};

struct alignas (64) Slot {
  /* low 32 bits: node index + 1 (0: never written); high 32: external pin
   * count. Writer: exchange (acq_rel). Readers: fetch_add (acquire). */
  std::atomic<guint64> word{ 0 };
};

constexpr guint64 kPin = guint64 (1) << 32;

enum : int { SLOT_FREE = 0, SLOT_ACTIVE = 1, SLOT_BLOCK = 2 };

struct alignas (64) ReaderSlot {
  /* Next seq this reader will read. A Block reader stores it seq_cst (it
   * pairs with the writer's seq_cst writer_waiting store: Dekker); others
   * store it relaxed (stats only). */
  std::atomic<guint64> cursor{ 0 };
  /* SLOT_*: written under join_lock or by the owning reader, read by the
   * writer's block scan with acquire (pairs with the release stores). */
  std::atomic<int> state{ SLOT_FREE };
};

struct ReaderChunk {
  ReaderSlot slots[kChunkReaders];
  /* Appended under join_lock with a release store, walked by the writer
   * with acquire loads; chunks are freed only with the ring. */
  std::atomic<ReaderChunk *> next{ nullptr };
};

} // namespace

class Ring
{
public:
  Ring (gsize capacity, Slot *slots, Node *nodes) noexcept
      : cap (capacity), mask (capacity - 1), n_nodes (capacity * 2),
        slots (slots), nodes (nodes)
  {
  }

  ~Ring ()
  {
    /* No writer and no reader remain (they hold shared_ptrs), so no node is
     * pinned: release whatever is still held. */
    for (gsize i = 0; i < n_nodes; i++) {
      if (nodes[i].obj)
        gst_mini_object_unref (nodes[i].obj);
      if (nodes[i].sticky)
        nodes[i].sticky->unref ();
    }
    if (w_sticky)
      w_sticky->unref ();
    delete[] slots;
    delete[] nodes;
    ReaderChunk *c = first_chunk.load (std::memory_order_relaxed);
    while (c) {
      ReaderChunk *n = c->next.load (std::memory_order_relaxed);
      delete c;
      c = n;
    }
  }

  void release_node (Node &n) noexcept
  {
    /* Called by the one thread that brought count to zero; its acq_rel RMW
     * saw every other pin holder's release, so nobody reads n any more. */
    GstMiniObject *obj = std::exchange (n.obj, nullptr);
    StickySet *sticky = std::exchange (n.sticky, nullptr);
    if (obj)
      gst_mini_object_unref (obj);
    if (sticky)
      sticky->unref ();
    n.free.store (true, std::memory_order_release);
  }

  void unpin (Node &n) noexcept
  {
    /* acq_rel: release our reads of the node to whoever frees it; acquire
     * in case we are that one. */
    if (n.count.fetch_sub (1, std::memory_order_acq_rel) == 1)
      release_node (n);
  }

  void wake_readers () noexcept
  {
    /* release: pairs with the sleeper's load of futex; the wake itself is
     * ordered by the seq_cst operations around it (see push). */
    futex.fetch_add (1, std::memory_order_release);
    futex_wake (futex, true);
    wakeups.fetch_add (1, std::memory_order_relaxed);
  }

  /* The writer's wake-up: one FUTEX_WAKE of one sleeper, whatever the
   * number of readers; the woken reader wakes the others (relay). So the
   * writer's syscall costs the same for 1 or 100 sleeping readers. */
  void wake_one_to_relay () noexcept
  {
    futex.fetch_add (1, std::memory_order_release);
    /* release: pairs with the relaying reader's exchange; the flag is only
     * a hint (a stale true costs one extra notify_all). */
    relay.store (true, std::memory_order_release);
    futex_wake (futex, false);
    wakeups.fetch_add (1, std::memory_order_relaxed);
  }

  void wake_writer () noexcept
  {
    writer_futex.fetch_add (1, std::memory_order_release);
    futex_wake (writer_futex, true);
  }

  /* Smallest cursor of the Block readers, or kNone. Writer thread. */
  guint64 min_block_cursor () noexcept
  {
    guint64 m = kNone;
    for (ReaderChunk *c = first_chunk.load (std::memory_order_acquire); c;
         c = c->next.load (std::memory_order_acquire)) {
      for (auto &s : c->slots) {
        /* seq_cst: Dekker with the reader's seq_cst cursor store and our
         * seq_cst writer_waiting store. */
        if (s.state.load (std::memory_order_seq_cst) == SLOT_BLOCK)
          m = std::min (m, s.cursor.load (std::memory_order_seq_cst));
      }
    }
    return m;
  }

  const gsize cap;
  const gsize mask;
  const gsize n_nodes;
  Slot *const slots;
  Node *const nodes;

  /* Items published. Writer stores seq_cst (orders it before the need_wake
   * load, Dekker with the sleeping reader); readers load acquire to see the
   * slot words published before it. */
  alignas (64) std::atomic<guint64> head{ 0 };
  /* Seq of the newest sync item, or kNone. Stored release after head, so a
   * reader that loads it (acquire) and then head sees head > it. */
  std::atomic<guint64> last_sync{ kNone };
  /* Running time of the newest item: relaxed, a statistic and a lag bound
   * (a stale value only delays a time-lap decision by one item). */
  std::atomic<guint64> last_rt{ GST_CLOCK_TIME_NONE };

  /* The futex caught-up readers sleep on. need_wake: set (seq_cst) by a
   * reader about to sleep, taken (seq_cst exchange) by the writer after its
   * head store; so the writer makes the wake-up syscall only when a reader
   * went to sleep since the last one, and never misses one (Dekker: see
   * docs/design/ring.md). */
  alignas (64) std::atomic<guint32> futex{ 0 };
  std::atomic<bool> need_wake{ false };
  /* Set by the writer's wake_one_to_relay, taken by the first reader that
   * wakes, which then wakes every other sleeper. */
  std::atomic<bool> relay{ false };

  /* seq_cst: checked by sleepers after announcing themselves. */
  alignas (64) std::atomic<bool> flushing{ false };
  /* reset (): reset_head stored relaxed before reset_gen's release
   * increment; readers acquire reset_gen, then read reset_head. */
  std::atomic<guint32> reset_gen{ 0 };
  std::atomic<guint64> reset_head{ 0 };

  /* Block readers: their number (acquire/release: a new one's slot is
   * visible to the writer's scan) and a change counter that makes the
   * writer drop its cached limit. */
  std::atomic<gint> n_block{ 0 };
  std::atomic<guint32> block_epoch{ 0 };
  /* Writer announces it sleeps (seq_cst, Dekker with Block readers'
   * cursor stores) and sleeps on writer_futex. */
  std::atomic<gint> writer_waiting{ 0 };
  /* The Block cursor worth waking the writer for (seq_cst, stored before
   * writer_waiting; see push ()). */
  std::atomic<guint64> writer_wants{ 0 };
  std::atomic<guint32> writer_futex{ 0 };

  /* Writer-private state (one writer by construction). */
  guint64 w_head = 0;
  gsize w_next_node = 0;
  StickySet *w_sticky = nullptr;
  guint64 w_block_limit = 0;
  guint32 w_block_epoch = guint32 (-1);

  /* Reader registry: join/leave only. */
  std::mutex join_lock; /* protects chunk appends and slot claiming */
  std::atomic<ReaderChunk *> first_chunk{ nullptr };
  std::atomic<guint> n_readers{ 0 }; /* relaxed: a statistic */

  /* Statistics: relaxed counters. */
  std::atomic<guint64> sleeps{ 0 };
  std::atomic<guint64> wakeups{ 0 };
  std::atomic<guint64> writer_waits{ 0 };
};

RingStats
ring_stats (const Ring &r) noexcept
{
  RingStats s;
  s.capacity = r.cap;
  s.head = r.head.load (std::memory_order_acquire);
  s.readers = r.n_readers.load (std::memory_order_relaxed);
  s.sleeps = r.sleeps.load (std::memory_order_relaxed);
  s.wakeups = r.wakeups.load (std::memory_order_relaxed);
  s.writer_waits = r.writer_waits.load (std::memory_order_relaxed);
  return s;
}

/* --------------------------------------------------------------- RingWriter
 */

RingWriter::RingWriter (std::shared_ptr<Ring> ring) noexcept
    : ring_ (std::move (ring))
{
}

RingWriter::~RingWriter ()
{
  /* Let readers that wait see the end of writing only through items (EOS);
   * a writer that goes away just stops publishing. */
}

std::unique_ptr<RingWriter>
RingWriter::create (gsize capacity, std::string *error) noexcept
{
  auto fail = [error] (const char *msg) -> std::unique_ptr<RingWriter> {
    if (error)
      *error = msg;
    return nullptr;
  };
  if (capacity == 0)
    return fail ("capacity must be at least 1 item");
  if (capacity > kMaxCapacity)
    return fail ("capacity is larger than 67108864 items");
  gsize cap = 1;
  while (cap < capacity)
    cap <<= 1;

  /* Refuse what physical memory cannot hold (ring structure only; the
   * buffers themselves come on top). */
  long pages = sysconf (_SC_PHYS_PAGES);
  long page_size = sysconf (_SC_PAGESIZE);
  gsize need = cap * (sizeof (Slot) + 2 * sizeof (Node));
  if (pages > 0 && page_size > 0
      && need / 2 > gsize (pages) / 2 * gsize (page_size))
    return fail ("capacity needs more memory than this machine has");

  Slot *slots = new (std::nothrow) Slot[cap];
  Node *nodes = new (std::nothrow) Node[cap * 2];
  if (!slots || !nodes) {
    delete[] slots;
    delete[] nodes;
    return fail ("not enough memory for the ring");
  }
  try {
    auto ring = std::make_shared<Ring> (cap, slots, nodes);
    return std::unique_ptr<RingWriter> (new RingWriter (std::move (ring)));
  } catch (...) {
    delete[] slots;
    delete[] nodes;
    return fail ("not enough memory for the ring");
  }
}

PushResult
RingWriter::push (GstMiniObject *obj, guint32 flags,
                  GstClockTime running_time) noexcept
{
  Ring &r = *ring_;
  const guint64 s = r.w_head;

  /* Block readers: writing s overwrites s - cap, so it needs every Block
   * reader's cursor > s - cap. The limit is cached and rescanned only when
   * reached or when Block readers changed: O(block readers / cap) per item
   * amortized, and nothing at all without Block readers. */
  if (r.n_block.load (std::memory_order_acquire) > 0) {
    guint32 epoch = r.block_epoch.load (std::memory_order_acquire);
    if (epoch != r.w_block_epoch || s >= r.w_block_limit) {
      for (;;) {
        guint64 m = r.min_block_cursor ();
        r.w_block_epoch = epoch;
        if (m == kNone || s < m + r.cap) {
          r.w_block_limit = m == kNone ? kNone : m + r.cap;
          break;
        }
        /* Wait: announce, re-check, sleep. Hysteresis: wake up only when
         * the slowest Block reader has freed cap/8 more slots, so a writer
         * paced by its readers rescans them once per cap/8 items, not once
         * per item. writer_wants is the cursor that frees them. */
        const guint64 slack = r.cap / 8;
        r.writer_wants.store (s - r.cap + 1 + slack, std::memory_order_seq_cst);
        r.writer_waiting.store (1, std::memory_order_seq_cst);
        guint32 f = r.writer_futex.load (std::memory_order_seq_cst);
        if (r.flushing.load (std::memory_order_seq_cst)) {
          r.writer_waiting.store (0, std::memory_order_relaxed);
          gst_mini_object_unref (obj);
          return PushResult::Flushing;
        }
        m = r.min_block_cursor ();
        if (m == kNone || s + slack < m + r.cap) {
          r.writer_waiting.store (0, std::memory_order_relaxed);
          continue;
        }
        r.writer_waits.fetch_add (1, std::memory_order_relaxed);
        futex_wait (r.writer_futex, f);
        r.writer_waiting.store (0, std::memory_order_relaxed);
        epoch = r.block_epoch.load (std::memory_order_acquire);
      }
    }
  }

  /* A free node: round robin over 2*cap nodes finds one at once unless more
   * than cap readers are inside their few-instruction pin window. */
  Node *node = nullptr;
  gsize idx = 0;
  for (gsize tries = 0; !node; tries++) {
    idx = r.w_next_node;
    r.w_next_node = (r.w_next_node + 1) % r.n_nodes;
    if (r.nodes[idx].free.load (std::memory_order_acquire))
      node = &r.nodes[idx];
    else if (tries > r.n_nodes)
      std::this_thread::yield ();
  }
  node->free.store (false, std::memory_order_relaxed);
  node->count.store (0, std::memory_order_relaxed);
  node->obj = obj;
  node->sticky = r.w_sticky ? r.w_sticky->ref () : nullptr;
  node->seq = s;
  node->flags = flags;
  node->rt = running_time;

  /* Publish the node in its slot (release: its fields), retire the old one
   * (acquire: the readers' pins counted in the old word). */
  guint64 old = r.slots[s & r.mask].word.exchange (guint64 (idx + 1),
                                                   std::memory_order_acq_rel);
  if (old & 0xffffffffu) {
    Node &o = r.nodes[(old & 0xffffffffu) - 1];
    gint64 pins = gint64 (old >> 32);
    /* acq_rel: see unpin (). */
    if (o.count.fetch_add (pins, std::memory_order_acq_rel) + pins == 0)
      r.release_node (o);
  }

  if (GST_CLOCK_TIME_IS_VALID (running_time))
    r.last_rt.store (running_time, std::memory_order_relaxed);
  r.w_head = s + 1;
  /* seq_cst: the store must be ordered before the need_wake load below
   * (a reader sets need_wake, then loads head). */
  r.head.store (s + 1, std::memory_order_seq_cst);
  if (flags & ITEM_SYNC)
    r.last_sync.store (s, std::memory_order_release);
  if (r.need_wake.load (std::memory_order_seq_cst)
      && r.need_wake.exchange (false, std::memory_order_seq_cst))
    r.wake_one_to_relay ();
  return PushResult::Ok;
}

void
RingWriter::set_sticky (GstEvent *event) noexcept
{
  Ring &r = *ring_;
  StickySet *n = StickySet::with_event (r.w_sticky, event);
  if (!n)
    return;
  if (r.w_sticky)
    r.w_sticky->unref ();
  r.w_sticky = n;
}

void
RingWriter::clear_sticky (GstEventType type) noexcept
{
  Ring &r = *ring_;
  if (!r.w_sticky || !r.w_sticky->find (type))
    return;
  StickySet *n = StickySet::without (r.w_sticky, type);
  if (!n)
    return;
  r.w_sticky->unref ();
  r.w_sticky = n;
}

StickyRef
RingWriter::sticky () const noexcept
{
  Ring &r = *ring_;
  return StickyRef (r.w_sticky ? r.w_sticky->ref () : nullptr);
}

PushResult
RingWriter::push_event (GstEvent *event, GstClockTime running_time) noexcept
{
  guint32 flags = ITEM_EVENT;
  if (GST_EVENT_TYPE (event) == GST_EVENT_EOS) {
    flags |= ITEM_SYNC;
  } else if (gst_event_type_get_flags (GST_EVENT_TYPE (event))
             & GST_EVENT_TYPE_STICKY) {
    set_sticky (event);
    flags |= ITEM_STICKY;
  }
  return push (GST_MINI_OBJECT_CAST (event), flags, running_time);
}

void
RingWriter::set_flushing (bool flushing) noexcept
{
  Ring &r = *ring_;
  /* seq_cst: read by sleepers after they announce themselves. */
  r.flushing.store (flushing, std::memory_order_seq_cst);
  if (flushing) {
    r.wake_readers ();
    r.wake_writer ();
  }
}

void
RingWriter::reset () noexcept
{
  Ring &r = *ring_;
  r.last_sync.store (kNone, std::memory_order_release);
  r.reset_head.store (r.w_head, std::memory_order_relaxed);
  /* release: publishes reset_head to readers that acquire reset_gen. */
  r.reset_gen.fetch_add (1, std::memory_order_release);
  r.wake_readers ();
}

/* --------------------------------------------------------------- RingReader
 */

struct RingReader::State {
  ReaderSlot *slot = nullptr;
  /* Reader-thread private. */
  guint64 cursor = 0;
  guint32 gen = 0;
  bool want_sync = false;    /* skip data until a sync item */
  bool skip_is_drop = false; /* skipped data counts as dropped */
  bool disconnected = false;
  guint64 pending_drop = 0;
  LagPolicy applied = LagPolicy::DropToKeyframe;

  /* Settings, set from any thread, read by pop: relaxed (a setting takes
   * effect at some next pop, no data depends on it). */
  std::atomic<int> policy{ 0 };
  std::atomic<guint64> max_lag{ GST_CLOCK_TIME_NONE };
  /* wake (): seq_cst, checked by the sleeper after announcing itself. */
  std::atomic<bool> woken{ false };

  /* Stats: relaxed counters and values read from any thread. */
  std::atomic<guint64> dropped{ 0 };
  std::atomic<guint64> lapped{ 0 };
  std::atomic<guint64> last_rt{ GST_CLOCK_TIME_NONE };
  std::atomic<bool> waiting_sync{ false };
};

RingReader::RingReader (std::shared_ptr<Ring> ring, LagPolicy policy,
                        StartPosition start) noexcept
    : ring_ (std::move (ring)), st_ (new (std::nothrow) State ())
{
  Ring &r = *ring_;
  if (!st_)
    return; /* pop () reports Disconnected */
  st_->policy.store (int (policy), std::memory_order_relaxed);
  st_->applied = policy;

  /* Position first, then register, so a Block reader's cursor is valid
   * when the writer first sees it. */
  st_->gen = r.reset_gen.load (std::memory_order_acquire);
  guint64 sync = r.last_sync.load (std::memory_order_acquire);
  guint64 head = r.head.load (std::memory_order_acquire);
  switch (start) {
  case StartPosition::LatestKeyframe:
    if (sync != kNone && sync < head && head - sync <= r.cap) {
      st_->cursor = sync;
    } else {
      st_->cursor = head;
      st_->want_sync = true;
    }
    break;
  case StartPosition::Latest:
    st_->cursor = head > 0 ? head - 1 : 0;
    break;
  case StartPosition::Oldest:
    st_->cursor = head > r.cap ? head - r.cap : 0;
    break;
  }
  st_->waiting_sync.store (st_->want_sync, std::memory_order_relaxed);

  {
    std::lock_guard<std::mutex> lock (r.join_lock);
    ReaderChunk *c = r.first_chunk.load (std::memory_order_relaxed);
    ReaderChunk *last = nullptr;
    for (; c && !st_->slot; c = c->next.load (std::memory_order_relaxed)) {
      last = c;
      for (auto &s : c->slots) {
        if (s.state.load (std::memory_order_relaxed) == SLOT_FREE) {
          st_->slot = &s;
          break;
        }
      }
    }
    if (!st_->slot) {
      ReaderChunk *n = new (std::nothrow) ReaderChunk ();
      if (n) {
        st_->slot = &n->slots[0];
        /* release: the chunk's initialised slots before the link. */
        if (last)
          last->next.store (n, std::memory_order_release);
        else
          r.first_chunk.store (n, std::memory_order_release);
      }
    }
    if (st_->slot) {
      st_->slot->cursor.store (st_->cursor, std::memory_order_seq_cst);
      st_->slot->state.store (policy == LagPolicy::Block ? SLOT_BLOCK
                                                         : SLOT_ACTIVE,
                              std::memory_order_seq_cst);
      if (policy == LagPolicy::Block) {
        r.n_block.fetch_add (1, std::memory_order_release);
        r.block_epoch.fetch_add (1, std::memory_order_release);
      }
    }
  }
  if (!st_->slot) {
    delete st_;
    st_ = nullptr;
    return;
  }
  r.n_readers.fetch_add (1, std::memory_order_relaxed);
}

RingReader::~RingReader ()
{
  if (!st_)
    return;
  Ring &r = *ring_;
  bool was_block;
  {
    std::lock_guard<std::mutex> lock (r.join_lock);
    was_block = st_->slot->state.load (std::memory_order_relaxed) == SLOT_BLOCK;
    st_->slot->state.store (SLOT_FREE, std::memory_order_seq_cst);
    if (was_block) {
      r.n_block.fetch_sub (1, std::memory_order_release);
      r.block_epoch.fetch_add (1, std::memory_order_release);
    }
  }
  r.n_readers.fetch_sub (1, std::memory_order_relaxed);
  if (was_block)
    r.wake_writer ();
  delete st_;
}

void
RingReader::wake () noexcept
{
  if (!st_)
    return;
  st_->woken.store (true, std::memory_order_seq_cst);
  ring_->wake_readers ();
}

void
RingReader::set_policy (LagPolicy policy) noexcept
{
  if (st_)
    st_->policy.store (int (policy), std::memory_order_relaxed);
}

LagPolicy
RingReader::policy () const noexcept
{
  return st_ ? LagPolicy (st_->policy.load (std::memory_order_relaxed))
             : LagPolicy::Disconnect;
}

void
RingReader::set_max_lag_time (GstClockTime t) noexcept
{
  if (st_)
    st_->max_lag.store (t, std::memory_order_relaxed);
}

bool
RingReader::waiting_for_sync () const noexcept
{
  return st_ && st_->waiting_sync.load (std::memory_order_relaxed);
}

guint64
RingReader::dropped () const noexcept
{
  return st_ ? st_->dropped.load (std::memory_order_relaxed) : 0;
}

guint64
RingReader::lapped () const noexcept
{
  return st_ ? st_->lapped.load (std::memory_order_relaxed) : 0;
}

guint64
RingReader::lag_items () const noexcept
{
  if (!st_)
    return 0;
  guint64 head = ring_->head.load (std::memory_order_acquire);
  guint64 cur = st_->slot->cursor.load (std::memory_order_relaxed);
  return head > cur ? head - cur : 0;
}

GstClockTime
RingReader::lag_time () const noexcept
{
  if (!st_)
    return 0;
  guint64 now = ring_->last_rt.load (std::memory_order_relaxed);
  guint64 mine = st_->last_rt.load (std::memory_order_relaxed);
  if (!GST_CLOCK_TIME_IS_VALID (now) || !GST_CLOCK_TIME_IS_VALID (mine)
      || mine >= now || lag_items () == 0)
    return 0;
  return now - mine;
}

PopResult
RingReader::pop (RingItem &item) noexcept
{
  return pop_impl (item, true);
}

PopResult
RingReader::try_pop (RingItem &item) noexcept
{
  return pop_impl (item, false);
}

/* Applies a policy change requested by set_policy (reader thread). */
static void
apply_policy (Ring &r, RingReader::State &st) noexcept
{
  LagPolicy want = LagPolicy (st.policy.load (std::memory_order_relaxed));
  if (want == st.applied)
    return;
  bool was_block = st.applied == LagPolicy::Block;
  bool is_block = want == LagPolicy::Block;
  st.applied = want;
  if (was_block == is_block)
    return;
  std::lock_guard<std::mutex> lock (r.join_lock);
  st.slot->cursor.store (st.cursor, std::memory_order_seq_cst);
  st.slot->state.store (is_block ? SLOT_BLOCK : SLOT_ACTIVE,
                        std::memory_order_seq_cst);
  r.n_block.fetch_add (is_block ? 1 : -1, std::memory_order_release);
  r.block_epoch.fetch_add (1, std::memory_order_release);
  if (was_block)
    r.wake_writer ();
}

PopResult
RingReader::pop_impl (RingItem &item, bool wait) noexcept
{
  if (!st_)
    return PopResult::Disconnected;
  Ring &r = *ring_;
  State &st = *st_;
  if (st.disconnected)
    return PopResult::Disconnected;

  for (;;) {
    apply_policy (r, st);
    /* A plain load first keeps the common path free of a locked RMW; a
     * stale false is caught by the seq_cst re-check before sleeping. */
    if (st.woken.load (std::memory_order_relaxed)
        && st.woken.exchange (false, std::memory_order_seq_cst))
      return PopResult::Woken;
    if (r.flushing.load (std::memory_order_seq_cst))
      return PopResult::Flushing;

    guint32 gen = r.reset_gen.load (std::memory_order_acquire);
    if (gen != st.gen) {
      /* The writer forgot everything (flush): resume after its newest
       * item, counting nothing as dropped. */
      st.gen = gen;
      st.cursor
          = std::max (st.cursor, r.reset_head.load (std::memory_order_relaxed));
      st.want_sync = false;
      st.skip_is_drop = false;
      st.pending_drop = 0;
      st.slot->cursor.store (st.cursor, std::memory_order_seq_cst);
      st.waiting_sync.store (false, std::memory_order_relaxed);
    }

    guint64 head = r.head.load (std::memory_order_acquire);
    if (st.cursor >= head) {
      if (!wait)
        return PopResult::Empty;
      /* Announce, re-check, sleep (Dekker with push's head store and
       * need_wake exchange, all seq_cst). */
      /* Spin briefly first (about a microsecond): a writer that is
       * publishing right now then costs no wake-up syscall at all. */
      bool arrived = false;
      for (int i = 0; i < kSpinBeforeSleep && !arrived; i++) {
        cpu_relax ();
        arrived = r.head.load (std::memory_order_acquire) > st.cursor;
      }
      if (arrived)
        continue;
      /* Read the futex word *before* announcing: a wake-up that takes our
       * announcement after this load changes the word, so the wait below
       * returns at once. (Announcing first would let a wake-up for an older
       * head consume the announcement while we then sleep on the new word:
       * a lost wake-up.) */
      guint32 f = r.futex.load (std::memory_order_seq_cst);
      r.need_wake.store (true, std::memory_order_seq_cst);
      if (r.head.load (std::memory_order_seq_cst) > st.cursor
          || r.flushing.load (std::memory_order_seq_cst)
          || st.woken.load (std::memory_order_seq_cst)
          || r.reset_gen.load (std::memory_order_seq_cst) != st.gen)
        continue;
      r.sleeps.fetch_add (1, std::memory_order_relaxed);
      futex_wait (r.futex, f);
      /* The writer woke only one of us: pass it on to the others. */
      if (r.relay.load (std::memory_order_relaxed)
          && r.relay.exchange (false, std::memory_order_acq_rel))
        futex_wake (r.futex, true);
      continue;
    }

    /* Pin the slot's node and check it is the item we want. */
    Node *node = nullptr;
    bool lapped = head - st.cursor > r.cap;
    if (!lapped) {
      guint64 w = r.slots[st.cursor & r.mask].word.fetch_add (
          kPin, std::memory_order_acquire);
      node = &r.nodes[(w & 0xffffffffu) - 1];
      if (node->seq != st.cursor) {
        /* Only a newer item can be there once head passed the cursor. */
        r.unpin (*node);
        node = nullptr;
        lapped = true;
      }
    }

    /* A reader that is too far behind in running time is lapped too, when
     * there is something newer to resync to (never under Block). */
    if (node && st.applied != LagPolicy::Block) {
      guint64 max_lag = st.max_lag.load (std::memory_order_relaxed);
      guint64 now = r.last_rt.load (std::memory_order_relaxed);
      if (GST_CLOCK_TIME_IS_VALID (max_lag)
          && GST_CLOCK_TIME_IS_VALID (node->rt) && GST_CLOCK_TIME_IS_VALID (now)
          && now > node->rt && now - node->rt > max_lag) {
        guint64 sync = r.last_sync.load (std::memory_order_acquire);
        bool newer
            = st.applied == LagPolicy::DropToKeyframe
                  ? (sync != kNone && sync > st.cursor)
                  : (r.head.load (std::memory_order_acquire) - 1 > st.cursor);
        if (newer || st.applied == LagPolicy::Disconnect) {
          r.unpin (*node);
          node = nullptr;
          lapped = true;
        }
      }
    }

    if (lapped) {
      st.lapped.fetch_add (1, std::memory_order_relaxed);
      guint64 from = st.cursor;
      switch (st.applied) {
      case LagPolicy::Disconnect:
        st.disconnected = true;
        return PopResult::Disconnected;
      case LagPolicy::DropToLatest: {
        guint64 h = r.head.load (std::memory_order_acquire);
        st.cursor = h - 1;
        break;
      }
      case LagPolicy::Block: /* only when joining during a push */
      case LagPolicy::DropToKeyframe: {
        guint64 sync = r.last_sync.load (std::memory_order_acquire);
        guint64 h = r.head.load (std::memory_order_acquire);
        if (sync != kNone && sync >= st.cursor && h - sync <= r.cap) {
          st.cursor = sync;
        } else {
          st.cursor = h;
          st.want_sync = true;
          st.skip_is_drop = true;
          st.waiting_sync.store (true, std::memory_order_relaxed);
        }
        break;
      }
      }
      guint64 n = st.cursor > from ? st.cursor - from : 0;
      st.pending_drop += n;
      st.dropped.fetch_add (n, std::memory_order_relaxed);
      st.slot->cursor.store (st.cursor, std::memory_order_seq_cst);
      continue;
    }

    const bool is_event = node->flags & ITEM_EVENT;
    if (st.want_sync && !is_event && !(node->flags & ITEM_SYNC)) {
      /* Waiting for a sync point: data before it is useless. */
      r.unpin (*node);
      if (st.skip_is_drop) {
        st.pending_drop++;
        st.dropped.fetch_add (1, std::memory_order_relaxed);
      }
      st.cursor++;
      st.slot->cursor.store (st.cursor, st.applied == LagPolicy::Block
                                            ? std::memory_order_seq_cst
                                            : std::memory_order_relaxed);
      continue;
    }
    if (node->flags & ITEM_SYNC) {
      st.want_sync = false;
      st.skip_is_drop = false;
      st.waiting_sync.store (false, std::memory_order_relaxed);
    }

    /* Copy with our own references, then unpin. */
    item.obj.reset (node->obj ? gst_mini_object_ref (node->obj) : nullptr);
    /* The set changes rarely: a caller that reuses @item keeps its
     * reference, and the set's count (a line every reader would otherwise
     * bounce on every item) is not touched. */
    if (item.sticky.get () != node->sticky)
      item.sticky = StickyRef (node->sticky ? node->sticky->ref () : nullptr);
    item.seq = node->seq;
    item.flags = node->flags;
    item.running_time = node->rt;
    r.unpin (*node);

    item.dropped_before = st.pending_drop;
    st.pending_drop = 0;
    if (GST_CLOCK_TIME_IS_VALID (item.running_time))
      st.last_rt.store (item.running_time, std::memory_order_relaxed);
    st.cursor++;
    if (st.applied == LagPolicy::Block) {
      /* seq_cst: Dekker with the writer's writer_waiting store. */
      st.slot->cursor.store (st.cursor, std::memory_order_seq_cst);
      if (r.writer_waiting.load (std::memory_order_seq_cst)
          && st.cursor >= r.writer_wants.load (std::memory_order_seq_cst))
        r.wake_writer ();
    } else {
      st.slot->cursor.store (st.cursor, std::memory_order_relaxed);
    }
    return PopResult::Ok;
  }
}

} // namespace gstfanout
