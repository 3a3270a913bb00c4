/* gst-fanout
 * Copyright (C) 2026 the gst-fanout authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2.1 of the License, or (at your option) any later version.
 */

/* The shared-memory ring. Layout, protocol and the memory-order argument:
 * docs/design/shm.md. In short:
 *
 *  - one memfd: [Header][Slot x slots][Sticky x sticky_slots][data]
 *  - the writer fills a frame's bytes (guarded by `claim`, seqlock style),
 *    then its slot (guarded by the slot's own seq word), then `head`, then
 *    bumps the futex word and wakes every sleeper (FUTEX_WAKE, shared);
 *  - a reader copies, then checks that what it copied was not being
 *    overwritten (claim and seq re-read after an acquire fence).
 * Readers map the region read-only (the memfd is sealed): nothing they do
 * reaches the writer except connecting and hanging up. */

#include "shmring.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

namespace gstfanout::shm
{

namespace
{

constexpr uint32_t kMagic = 0x4d485346; /* "FSHM" little-endian */
constexpr uint32_t kVersion = 1;
constexpr uint64_t kBusy = UINT64_MAX; /* a slot being rewritten */
constexpr uint32_t kStateOpen = 0;
constexpr uint32_t kStateClosed = 1;
/* A caught-up reader sleeps at most this long before it checks whether the
 * writer is still there (socket hang-up). */
constexpr int kLivenessMs = 100;

constexpr uint32_t kMaxSlots = 1u << 20;
constexpr uint32_t kMaxSticky = 64;
constexpr uint32_t kMaxStickySize = 1u << 20;
constexpr uint64_t kMaxData = 1ull << 36;

/* The region starts with this. The first block is immutable once the fd is
 * shared; readers copy it once, validate it and never read it again. */
struct Header {
  uint32_t magic;
  uint32_t version;
  uint32_t n_slots;     /* power of two */
  uint32_t n_sticky;    /* power of two */
  uint32_t sticky_size; /* bytes per Sticky entry, header included */
  uint32_t reserved0;
  uint64_t data_size;    /* bytes */
  uint64_t slots_offset; /* from the start of the region */
  uint64_t sticky_offset;
  uint64_t data_offset;
  uint64_t total_size;

  /* Written by the writer only, read by readers. */
  alignas (64) std::atomic<uint64_t> head; /* frames published */
  /* seq + 1 of the newest sync frame, 0: none */
  std::atomic<uint64_t> last_sync;
  /* Highest logical data byte (exclusive) the writer may be writing */
  std::atomic<uint64_t> claim;
  std::atomic<uint64_t> sticky_gen; /* newest sticky generation, from 1 */
  alignas (64) std::atomic<uint32_t> futex; /* bumped at every publish */
  std::atomic<uint32_t> state;              /* kStateOpen / kStateClosed */
};

/* One frame's descriptor, one cache line. */
struct alignas (64) Slot {
  std::atomic<uint64_t> seq;    /* seq + 1 of the frame, 0 never, kBusy */
  std::atomic<uint64_t> offset; /* logical byte position of the frame */
  std::atomic<uint64_t> pts, dts, duration, running_time;
  std::atomic<uint64_t> sticky_gen;       /* sticky blob in force */
  std::atomic<uint32_t> size, flags_pair; /* flags | buffer_flags << 8 */
};
static_assert (sizeof (Slot) == 64, "one cache line per slot");

/* One sticky generation: followed by its bytes. */
struct alignas (64) Sticky {
  std::atomic<uint64_t> gen; /* generation, 0 never, kBusy */
  std::atomic<uint32_t> size;
};
constexpr size_t kStickyHeader = 64;

static_assert (std::atomic<uint64_t>::is_always_lock_free
                   && std::atomic<uint32_t>::is_always_lock_free,
               "address-free atomics are needed across processes");

/* The hello a reader receives with the fd. */
struct Hello {
  uint32_t magic;
  uint32_t version;
  uint64_t total_size;
};

uint64_t
round_pow2 (uint64_t v) noexcept
{
  uint64_t p = 1;
  while (p < v)
    p <<= 1;
  return p;
}

uint64_t
align_up (uint64_t v, uint64_t a) noexcept
{
  return (v + a - 1) / a * a;
}

/* Shared (non-private) futex ops: the word lives in a MAP_SHARED mapping
 * and the waiters are in other processes. */
void
futex_wake_all (const std::atomic<uint32_t> *word) noexcept
{
  syscall (SYS_futex, reinterpret_cast<const uint32_t *> (word), FUTEX_WAKE,
           INT32_MAX, nullptr, nullptr, 0);
}

/* true if the wait timed out */
bool
futex_wait (const std::atomic<uint32_t> *word, uint32_t expected,
            int timeout_ms) noexcept
{
  struct timespec ts;
  ts.tv_sec = timeout_ms / 1000;
  ts.tv_nsec = (long)(timeout_ms % 1000) * 1000000L;
  long rc = syscall (SYS_futex, reinterpret_cast<const uint32_t *> (word),
                     FUTEX_WAIT, expected, &ts, nullptr, 0);
  return rc != 0 && errno == ETIMEDOUT;
}

int64_t
now_ms () noexcept
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

std::string
errno_string (const char *what, int err)
{
  return std::string (what) + ": " + std::strerror (err);
}

/* Fills @addr for @path ('@' prefix: abstract). false if too long. */
bool
make_addr (const std::string &path, struct sockaddr_un *addr,
           socklen_t *len) noexcept
{
  std::memset (addr, 0, sizeof (*addr));
  addr->sun_family = AF_UNIX;
  if (path.empty () || path.size () >= sizeof (addr->sun_path))
    return false;
  std::memcpy (addr->sun_path, path.data (), path.size ());
  if (path[0] == '@')
    addr->sun_path[0] = '\0';
  *len = (socklen_t)(offsetof (struct sockaddr_un, sun_path) + path.size ());
  return true;
}

} // namespace

/* ---------------------------------------------------------------- writer */

struct ShmWriter::Impl {
  ShmConfig cfg;
  int memfd = -1;
  int listen_fd = -1;
  int stop_fd = -1; /* eventfd: stops the socket thread */
  uint8_t *base = nullptr;
  uint64_t total = 0;
  Header *hdr = nullptr;
  Slot *slots = nullptr;
  uint8_t *sticky_base = nullptr;
  uint8_t *data = nullptr;
  uint64_t n_slots = 0, n_sticky = 0, sticky_size = 0, data_size = 0;
  bool bound_path = false; /* a filesystem path we created */
  struct stat bound_st = {};

  /* Placement of frame bytes in the data area: publish ()'s copy path (the
   * streaming thread) against reserve () / release () (whatever thread
   * upstream allocates or frees memory in). Held for the placement
   * arithmetic only (no copy, no syscall, no call out); uncontended unless
   * upstream allocates from another thread. Never taken by readers. */
  std::mutex place_lock;
  uint64_t wpos = 0; /* next logical data byte (place_lock) */
  /* Regions handed out by reserve () and not yet published or released
   * (place_lock): placement never puts bytes over them, on any lap. */
  struct Reservation {
    uint64_t pos = 0, size = 0;
    bool used = false;
  };
  static constexpr size_t kMaxReserved = 32;
  Reservation reserved[kMaxReserved];
  uint64_t reserved_bytes = 0;

  /* Writer-thread state (publish / set_sticky). */
  uint64_t head = 0;
  uint64_t gen = 0; /* sticky generation in force */
  uint64_t last_sync = 0;

  std::thread thread;
  /* Relaxed: a statistic, written by the socket thread. */
  std::atomic<uint32_t> readers{ 0 };
  std::atomic<bool> closed{ false }; /* close () ran (relaxed: idempotence) */

  ~Impl ();
  bool place (uint64_t size, uint64_t *out) noexcept;
  void finish (const ShmMeta &meta, uint64_t pos, uint64_t size) noexcept;
  void stop_serving () noexcept;
  bool setup (std::string *error);
  bool bind_socket (std::string *error);
  void serve () noexcept;
};

ShmWriter::Impl::~Impl ()
{
  stop_serving ();
  if (base)
    munmap (base, total);
  if (memfd >= 0)
    ::close (memfd);
}

/* Stops accepting: joins the socket thread (which hangs up on every
 * reader), closes the listening socket and removes the path. */
void
ShmWriter::Impl::stop_serving () noexcept
{
  if (thread.joinable ()) {
    uint64_t one = 1;
    if (write (stop_fd, &one, sizeof (one)) < 0) {
      /* an eventfd write fails only on overflow: the thread is stopping */
    }
    thread.join ();
  }
  if (listen_fd >= 0)
    ::close (listen_fd);
  if (bound_path) {
    /* remove the path only if it is still the socket we bound */
    struct stat st;
    if (stat (cfg.socket_path.c_str (), &st) == 0
        && st.st_ino == bound_st.st_ino && st.st_dev == bound_st.st_dev)
      unlink (cfg.socket_path.c_str ());
  }
  if (stop_fd >= 0)
    ::close (stop_fd);
  listen_fd = -1;
  stop_fd = -1;
  bound_path = false;
}

bool
ShmWriter::Impl::bind_socket (std::string *error)
{
  struct sockaddr_un addr;
  socklen_t alen;
  const std::string &path = cfg.socket_path;

  if (!make_addr (path, &addr, &alen)) {
    *error = "socket path '" + path + "' is empty or longer than "
             + std::to_string (sizeof (addr.sun_path) - 1) + " bytes";
    return false;
  }
  listen_fd = socket (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  if (listen_fd < 0) {
    *error = errno_string ("socket", errno);
    return false;
  }
  if (bind (listen_fd, (struct sockaddr *)&addr, alen) != 0) {
    if (errno != EADDRINUSE) {
      *error = errno_string (("cannot bind '" + path + "'").c_str (), errno);
      return false;
    }
    /* In use: a live writer answers, a stale path refuses. */
    int probe = socket (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    int rc = probe < 0 ? -1 : ::connect (probe, (struct sockaddr *)&addr, alen);
    int err = errno;
    if (probe >= 0)
      ::close (probe);
    if (rc == 0) {
      *error = "another writer is serving '" + path + "'";
      return false;
    }
    if (path[0] == '@' || err != ECONNREFUSED) {
      *error = errno_string (("'" + path + "' is in use").c_str (), err);
      return false;
    }
    struct stat st;
    if (lstat (path.c_str (), &st) != 0 || !S_ISSOCK (st.st_mode)) {
      *error = "'" + path + "' exists and is not a socket: remove it";
      return false;
    }
    unlink (path.c_str ()); /* stale: its writer is gone */
    if (bind (listen_fd, (struct sockaddr *)&addr, alen) != 0) {
      *error = errno_string (("cannot bind '" + path + "'").c_str (), errno);
      return false;
    }
  }
  if (path[0] != '@') {
    bound_path = true;
    if (stat (path.c_str (), &bound_st) != 0)
      bound_path = false;
  }
  if (listen (listen_fd, 64) != 0) {
    *error = errno_string ("listen", errno);
    return false;
  }
  return true;
}

bool
ShmWriter::Impl::setup (std::string *error)
{
  if (cfg.slots == 0 || cfg.slots > kMaxSlots) {
    *error = "slots must be 1.." + std::to_string (kMaxSlots);
    return false;
  }
  if (cfg.data_size < 4096 || cfg.data_size > kMaxData) {
    *error = "data size must be 4096.." + std::to_string (kMaxData);
    return false;
  }
  if (cfg.sticky_slots == 0 || cfg.sticky_slots > kMaxSticky
      || cfg.sticky_size < 256 || cfg.sticky_size > kMaxStickySize) {
    *error = "sticky slots must be 1..64 and sticky size 256..1 MiB";
    return false;
  }
  n_slots = round_pow2 (cfg.slots);
  n_sticky = round_pow2 (cfg.sticky_slots);
  sticky_size = align_up (cfg.sticky_size + kStickyHeader, 64);
  data_size = align_up (cfg.data_size, 64);

  const uint64_t page = (uint64_t)sysconf (_SC_PAGESIZE);
  const uint64_t slots_off = align_up (sizeof (Header), 64);
  const uint64_t sticky_off = slots_off + n_slots * sizeof (Slot);
  const uint64_t data_off
      = align_up (sticky_off + n_sticky * sticky_size, page);
  total = align_up (data_off + data_size, page);

  memfd = memfd_create ("gst-fanout-shm", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (memfd < 0) {
    *error = errno_string ("memfd_create", errno);
    return false;
  }
  if (ftruncate (memfd, (off_t)total) != 0) {
    *error = errno_string ("ftruncate", errno);
    return false;
  }
  void *p = mmap (nullptr, total, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
  if (p == MAP_FAILED) {
    *error = errno_string ("mmap", errno);
    return false;
  }
  base = (uint8_t *)p;
  /* Readers may only map it read-only and never resize it (a shrink would
   * SIGBUS the writer). Our own mapping stays writable. */
  if (fcntl (memfd, F_ADD_SEALS,
             F_SEAL_FUTURE_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)
      != 0) {
    *error = errno_string ("sealing the memfd", errno);
    return false;
  }

  /* A fresh memfd is zero-filled: every atomic starts at 0. */
  hdr = new (base) Header;
  hdr->magic = kMagic;
  hdr->version = kVersion;
  hdr->n_slots = (uint32_t)n_slots;
  hdr->n_sticky = (uint32_t)n_sticky;
  hdr->sticky_size = (uint32_t)sticky_size;
  hdr->data_size = data_size;
  hdr->slots_offset = slots_off;
  hdr->sticky_offset = sticky_off;
  hdr->data_offset = data_off;
  hdr->total_size = total;
  slots = (Slot *)(base + slots_off);
  sticky_base = base + sticky_off;
  data = base + data_off;

  stop_fd = eventfd (0, EFD_CLOEXEC);
  if (stop_fd < 0) {
    *error = errno_string ("eventfd", errno);
    return false;
  }
  if (!bind_socket (error))
    return false;
  thread = std::thread ([this] { serve (); });
  return true;
}

/* The socket thread: accepts readers, sends each the fd, watches for hang
 * ups. Anything a reader sends is a protocol violation: it is dropped. */
void
ShmWriter::Impl::serve () noexcept
{
  std::vector<struct pollfd> fds;
  try {
    fds.reserve (cfg.max_readers + 2);
  } catch (...) {
    return;
  }
  fds.push_back ({ stop_fd, POLLIN, 0 });
  fds.push_back ({ listen_fd, POLLIN, 0 });

  for (;;) {
    if (poll (fds.data (), fds.size (), -1) < 0) {
      if (errno == EINTR)
        continue;
      return;
    }
    if (fds[0].revents)
      break;
    for (size_t i = fds.size (); i-- > 2;) {
      if (!fds[i].revents)
        continue;
      /* hang-up, error or data: either way this reader is gone */
      ::close (fds[i].fd);
      fds.erase (fds.begin () + (ptrdiff_t)i);
      readers.store ((uint32_t)(fds.size () - 2), std::memory_order_relaxed);
    }
    if (!(fds[1].revents & POLLIN))
      continue;
    int c = accept4 (listen_fd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (c < 0)
      continue;
    if (fds.size () - 2 >= cfg.max_readers) {
      ::close (c); /* the reader sees a hang-up before any fd */
      continue;
    }
    Hello hello = { kMagic, kVersion, total };
    struct iovec iov = { &hello, sizeof (hello) };
    char cbuf[CMSG_SPACE (sizeof (int))];
    std::memset (cbuf, 0, sizeof (cbuf));
    struct msghdr msg = {};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cbuf;
    msg.msg_controllen = sizeof (cbuf);
    struct cmsghdr *cm = CMSG_FIRSTHDR (&msg);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN (sizeof (int));
    std::memcpy (CMSG_DATA (cm), &memfd, sizeof (int));
    if (sendmsg (c, &msg, MSG_NOSIGNAL | MSG_DONTWAIT)
        != (ssize_t)sizeof (hello)) {
      ::close (c);
      continue;
    }
    fds.push_back ({ c, POLLIN, 0 });
    uint32_t n = (uint32_t)(fds.size () - 2);
    readers.store (n, std::memory_order_relaxed);
    if (cfg.on_reader)
      cfg.on_reader (cfg.user_data, n);
  }
  for (size_t i = 2; i < fds.size (); i++)
    ::close (fds[i].fd); /* readers see the hang-up */
  readers.store (0, std::memory_order_relaxed);
}

ShmWriter::ShmWriter (Impl *impl) noexcept : impl_ (impl) {}

ShmWriter::~ShmWriter ()
{
  /* stop accepting first: a reader told the region closed reconnects at
   * once, and must not reach this writer's dying socket */
  impl_->stop_serving ();
  close ();
  delete impl_;
}

std::unique_ptr<ShmWriter>
ShmWriter::create (const ShmConfig &config, std::string *error) noexcept
{
  try {
    std::unique_ptr<Impl> impl (new Impl);
    impl->cfg = config;
    if (!impl->setup (error))
      return nullptr;
    return std::unique_ptr<ShmWriter> (new ShmWriter (impl.release ()));
  } catch (const std::exception &e) {
    *error = e.what ();
    return nullptr;
  }
}

bool
ShmWriter::set_sticky (const void *blob, size_t size) noexcept
{
  Impl *w = impl_;
  if (size > w->sticky_size - kStickyHeader)
    return false;
  const uint64_t g = w->gen + 1;
  auto *e
      = (Sticky *)(w->sticky_base + (g & (w->n_sticky - 1)) * w->sticky_size);
  /* seqlock: busy (relaxed) then a release fence, so that a reader that
   * copied any of the new bytes sees busy or the new gen afterwards */
  e->gen.store (kBusy, std::memory_order_relaxed);
  std::atomic_thread_fence (std::memory_order_release);
  e->size.store ((uint32_t)size, std::memory_order_relaxed);
  std::memcpy ((uint8_t *)e + kStickyHeader, blob, size);
  /* release: the bytes and size above before the generation */
  e->gen.store (g, std::memory_order_release);
  w->hdr->sticky_gen.store (g, std::memory_order_release);
  w->gen = g;
  return true;
}

/* Finds where @size bytes go (place_lock held): the next logical
 * position, moved to the start of the next lap if the bytes would cross the
 * end of the area, and past every outstanding reservation they would
 * overlap (on this lap or a later one). false if no place was found within
 * a bounded search (reservations fragment the area too much). */
bool
ShmWriter::Impl::place (uint64_t size, uint64_t *out) noexcept
{
  uint64_t pos = wpos;
  for (size_t iter = 0; iter < 2 * kMaxReserved + 4; iter++) {
    if (pos % data_size + size > data_size)
      pos = align_up (pos, data_size);
    bool moved = false;
    for (const Reservation &r : reserved) {
      if (!r.used || size == 0)
        continue;
      /* r in the lap of pos (reservations never cross the end) */
      const uint64_t ep = pos - pos % data_size + r.pos % data_size;
      if (ep < pos + size && pos < ep + r.size) {
        pos = align_up (ep + r.size, 64);
        moved = true;
        break;
      }
    }
    if (!moved) {
      *out = pos;
      return true;
    }
  }
  return false;
}

/* Steps 2 to 4 of a publish: the slot, head, the wake-up. Streaming
 * thread. */
void
ShmWriter::Impl::finish (const ShmMeta &meta, uint64_t pos,
                         uint64_t size) noexcept
{
  /* 2. the slot (seqlock: busy, fence, fields, release of the new seq) */
  const uint64_t s = head;
  Slot &slot = slots[s & (n_slots - 1)];
  slot.seq.store (kBusy, std::memory_order_relaxed);
  std::atomic_thread_fence (std::memory_order_release);
  slot.offset.store (pos, std::memory_order_relaxed);
  slot.size.store ((uint32_t)size, std::memory_order_relaxed);
  slot.flags_pair.store ((meta.flags & 0xff) | (meta.buffer_flags << 8),
                         std::memory_order_relaxed);
  slot.pts.store (meta.pts, std::memory_order_relaxed);
  slot.dts.store (meta.dts, std::memory_order_relaxed);
  slot.duration.store (meta.duration, std::memory_order_relaxed);
  slot.running_time.store (meta.running_time, std::memory_order_relaxed);
  slot.sticky_gen.store (gen, std::memory_order_relaxed);
  /* release: the bytes and the fields before the seq */
  slot.seq.store (s + 1, std::memory_order_release);

  /* 3. head, then last_sync (release: a reader that acquires either sees
   * the slot complete) */
  head = s + 1;
  hdr->head.store (s + 1, std::memory_order_release);
  if (meta.flags & (SHM_ITEM_SYNC | SHM_ITEM_EOS)) {
    last_sync = s + 1;
    hdr->last_sync.store (s + 1, std::memory_order_release);
  }

  /* 4. wake: bump the word (release, after head) and wake every sleeper.
   * Readers cannot tell the writer they sleep (they write nothing), so the
   * wake is unconditional: one syscall per frame. */
  hdr->futex.fetch_add (1, std::memory_order_release);
  futex_wake_all (&hdr->futex);
}

PublishResult
ShmWriter::publish (const ShmMeta &meta, const ShmChunk *chunks,
                    size_t n_chunks) noexcept
{
  Impl *w = impl_;
  uint64_t size = 0;
  for (size_t i = 0; i < n_chunks; i++)
    size += chunks[i].size;
  if (size > w->data_size / 2)
    return PublishResult::TooLarge;

  /* 1. the bytes: contiguous, wrapping to the start of the area if they do
   * not fit before its end, never over an outstanding reservation */
  uint64_t pos;
  {
    std::lock_guard<std::mutex> g (w->place_lock);
    if (!w->place (size, &pos))
      return PublishResult::NoRoom;
    /* Announce the bytes about to be overwritten before touching them
     * (relaxed store + release fence: a reader whose copy read any byte
     * written below then sees this claim after its acquire fence). Claims
     * only grow: every placement starts at or after wpos. */
    w->hdr->claim.store (pos + size, std::memory_order_relaxed);
    std::atomic_thread_fence (std::memory_order_release);
    w->wpos = align_up (pos + size, 64);
  }
  uint8_t *dst = w->data + pos % w->data_size;
  for (size_t i = 0; i < n_chunks; i++) {
    std::memcpy (dst, chunks[i].data, chunks[i].size);
    dst += chunks[i].size;
  }
  w->finish (meta, pos, size);
  return PublishResult::Ok;
}

bool
ShmWriter::reserve (size_t size, uint64_t *pos, uint8_t **data) noexcept
{
  Impl *w = impl_;
  if (size == 0 || size > w->data_size / 4)
    return false;
  std::lock_guard<std::mutex> g (w->place_lock);
  Impl::Reservation *free_entry = nullptr;
  for (Impl::Reservation &r : w->reserved) {
    if (!r.used) {
      free_entry = &r;
      break;
    }
  }
  uint64_t p;
  if (!free_entry || w->reserved_bytes + size > w->data_size / 4
      || !w->place (size, &p))
    return false;
  /* The same claim as publish ()'s copy path, before the caller writes
   * anything there: a reader of an older frame these bytes overlap
   * discards its copy. The release fence orders it before the caller's
   * writes, in whatever thread it makes them. */
  w->hdr->claim.store (p + size, std::memory_order_relaxed);
  std::atomic_thread_fence (std::memory_order_release);
  w->wpos = align_up (p + size, 64);
  free_entry->pos = p;
  free_entry->size = size;
  free_entry->used = true;
  w->reserved_bytes += size;
  *pos = p;
  *data = w->data + p % w->data_size;
  return true;
}

PublishResult
ShmWriter::publish_reserved (const ShmMeta &meta, uint64_t pos, uint64_t offset,
                             uint64_t size) noexcept
{
  Impl *w = impl_;
  {
    std::lock_guard<std::mutex> g (w->place_lock);
    Impl::Reservation *found = nullptr;
    for (Impl::Reservation &r : w->reserved) {
      if (r.used && r.pos == pos) {
        found = &r;
        break;
      }
    }
    if (!found || offset > found->size || size > found->size - offset)
      return PublishResult::NotReserved;
    /* Placement came round past it meanwhile (skipping it): a reader
     * would take the frame for overwritten (claim beyond its offset plus
     * the area). Its bytes are intact: the caller copies them. */
    if (w->hdr->claim.load (std::memory_order_relaxed)
        > pos + offset + w->data_size)
      return PublishResult::NotReserved;
    /* From now on the region is an ordinary published frame: placement
     * overwrites it when it comes round to it, like a copied one. */
    found->used = false;
    w->reserved_bytes -= found->size;
  }
  w->finish (meta, pos + offset, size);
  return PublishResult::Ok;
}

void
ShmWriter::release (uint64_t pos) noexcept
{
  Impl *w = impl_;
  std::lock_guard<std::mutex> g (w->place_lock);
  for (Impl::Reservation &r : w->reserved) {
    if (r.used && r.pos == pos) {
      r.used = false;
      w->reserved_bytes -= r.size;
      return;
    }
  }
}

uint32_t
ShmWriter::num_reserved () const noexcept
{
  Impl *w = impl_;
  std::lock_guard<std::mutex> g (w->place_lock);
  uint32_t n = 0;
  for (const Impl::Reservation &r : w->reserved)
    n += r.used ? 1 : 0;
  return n;
}

void
ShmWriter::stop () noexcept
{
  impl_->stop_serving ();
  close ();
}

void
ShmWriter::close () noexcept
{
  Impl *w = impl_;
  if (w->closed.exchange (true, std::memory_order_relaxed))
    return;
  /* release: everything published before; readers acquire state */
  w->hdr->state.store (kStateClosed, std::memory_order_release);
  w->hdr->futex.fetch_add (1, std::memory_order_release);
  futex_wake_all (&w->hdr->futex);
}

uint64_t
ShmWriter::published () const noexcept
{
  /* relaxed: any thread, a statistic */
  return impl_->hdr->head.load (std::memory_order_relaxed);
}

uint32_t
ShmWriter::num_readers () const noexcept
{
  return impl_->readers.load (std::memory_order_relaxed);
}

uint32_t
ShmWriter::slots () const noexcept
{
  return (uint32_t)impl_->n_slots;
}

uint64_t
ShmWriter::max_frame_size () const noexcept
{
  return impl_->data_size / 2;
}

bool
ShmWriter::sync_in_ring () const noexcept
{
  /* relaxed: any thread; both only grow, a stale pair errs either way by
   * one frame */
  const Impl *w = impl_;
  const uint64_t ls = w->hdr->last_sync.load (std::memory_order_relaxed);
  const uint64_t h = w->hdr->head.load (std::memory_order_relaxed);
  return ls != 0 && ls <= h && h - (ls - 1) <= w->n_slots;
}

const std::string &
ShmWriter::socket_path () const noexcept
{
  return impl_->cfg.socket_path;
}

uint8_t *
ShmWriter::region_for_tests () noexcept
{
  return impl_->base;
}

/* ---------------------------------------------------------------- reader */

struct ShmReader::Impl {
  ShmReaderOptions opts;
  std::atomic<int> policy{ 0 }; /* relaxed: applies at some next read */
  int sock = -1;
  const uint8_t *base = nullptr;
  uint64_t total = 0;
  const Header *hdr = nullptr;
  /* Our own copy of the layout, validated once. */
  uint64_t n_slots = 0, n_sticky = 0, sticky_size = 0, data_size = 0;
  const Slot *slots = nullptr;
  const uint8_t *sticky_base = nullptr;
  const uint8_t *data = nullptr;

  bool started = false;
  bool need_sync = false;
  uint64_t cursor = 0;
  uint64_t pending_drop = 0;
  uint64_t gen = 0;           /* sticky generation of `sticky` */
  uint64_t delivered_gen = 0; /* generation of the last frame returned */
  bool check_alive = false;   /* the last wait timed out */
  bool delivered_any = false;
  std::string sticky;
  std::string error;
  bool gone = false;

  /* Relaxed: statistics read from any thread. */
  std::atomic<uint64_t> dropped{ 0 }, lapped{ 0 }, lag{ 0 };
  /* seq_cst: read by the reader after it loaded the futex word */
  std::atomic<bool> interrupted{ false };

  ~Impl ()
  {
    if (base)
      munmap ((void *)base, total);
    if (sock >= 0)
      ::close (sock);
  }
  bool map (int fd, uint64_t size, std::string *err);
  void start () noexcept;
  void resync () noexcept;
  bool writer_alive () noexcept;
  bool load_sticky (uint64_t g) noexcept;
};

bool
ShmReader::Impl::map (int fd, uint64_t size, std::string *err)
{
  struct stat st;
  if (fstat (fd, &st) != 0 || (uint64_t)st.st_size != size
      || size < sizeof (Header)) {
    *err = "the writer's region has an unexpected size";
    return false;
  }
  /* without the shrink seal someone could truncate it under us (SIGBUS) */
  int seals = fcntl (fd, F_GET_SEALS);
  if (seals < 0 || !(seals & F_SEAL_SHRINK)) {
    *err = "the writer's region is not sealed against shrinking";
    return false;
  }
  void *p = mmap (nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) {
    *err = errno_string ("mmap", errno);
    return false;
  }
  base = (const uint8_t *)p;
  total = size;
  hdr = (const Header *)base;

  /* Validate the immutable layout once and keep our own copy. */
  Header h;
  std::memcpy ((void *)&h, base, offsetof (Header, head));
  const uint64_t ns = h.n_slots, nk = h.n_sticky, ks = h.sticky_size;
  const bool ok
      = h.magic == kMagic && h.version == kVersion && h.total_size == size
        && ns > 0 && ns <= kMaxSlots && (ns & (ns - 1)) == 0 && nk > 0
        && nk <= kMaxSticky && (nk & (nk - 1)) == 0 && ks > kStickyHeader
        && ks <= kMaxStickySize + kStickyHeader + 64 && ks % 64 == 0
        && h.data_size >= 4096 && h.data_size <= kMaxData
        && h.slots_offset >= sizeof (Header) && h.slots_offset % 64 == 0
        && h.sticky_offset >= h.slots_offset + ns * sizeof (Slot)
        && h.sticky_offset % 64 == 0
        && h.data_offset >= h.sticky_offset + nk * ks && h.data_offset <= size
        && h.data_size <= size - h.data_offset;
  if (!ok) {
    *err = "the writer's region header is invalid (version mismatch?)";
    return false;
  }
  n_slots = ns;
  n_sticky = nk;
  sticky_size = ks;
  data_size = h.data_size;
  slots = (const Slot *)(base + h.slots_offset);
  sticky_base = base + h.sticky_offset;
  data = base + h.data_offset;
  return true;
}

ShmReader::ShmReader (Impl *impl) noexcept : impl_ (impl) {}

ShmReader::~ShmReader ()
{
  delete impl_;
}

std::unique_ptr<ShmReader>
ShmReader::connect (const std::string &socket_path,
                    const ShmReaderOptions &opts, std::string *error,
                    bool *refused) noexcept
{
  if (refused)
    *refused = false;
  try {
    std::unique_ptr<Impl> r (new Impl);
    r->opts = opts;
    r->policy.store ((int)opts.policy, std::memory_order_relaxed);
    struct sockaddr_un addr;
    socklen_t alen;
    if (!make_addr (socket_path, &addr, &alen)) {
      *error = "socket path '" + socket_path + "' is empty or too long";
      return nullptr;
    }
    r->sock = socket (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (r->sock < 0) {
      *error = errno_string ("socket", errno);
      return nullptr;
    }
    if (::connect (r->sock, (struct sockaddr *)&addr, alen) != 0) {
      int err = errno;
      if (refused)
        *refused = err == ECONNREFUSED || err == ENOENT;
      *error = errno_string (
          ("cannot connect to '" + socket_path + "'").c_str (), err);
      return nullptr;
    }
    /* the writer answers at once; do not hang on a wrong peer */
    struct pollfd pfd = { r->sock, POLLIN, 0 };
    if (poll (&pfd, 1, 5000) <= 0) {
      *error = "no answer from '" + socket_path + "'";
      return nullptr;
    }
    Hello hello = {};
    struct iovec iov = { &hello, sizeof (hello) };
    char cbuf[CMSG_SPACE (sizeof (int))];
    struct msghdr msg = {};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cbuf;
    msg.msg_controllen = sizeof (cbuf);
    ssize_t n = recvmsg (r->sock, &msg, MSG_CMSG_CLOEXEC);
    int fd = -1;
    struct cmsghdr *cm = n > 0 ? CMSG_FIRSTHDR (&msg) : nullptr;
    if (cm && cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS
        && cm->cmsg_len == CMSG_LEN (sizeof (int)))
      std::memcpy (&fd, CMSG_DATA (cm), sizeof (int));
    if (n <= 0) {
      /* hung up before the hello: too many readers, or a writer on its way
       * out; either way, try again later */
      *error = "the writer on '" + socket_path
               + "' closed the connection (max readers, or stopping)";
      if (refused)
        *refused = true;
      return nullptr;
    }
    if (n != (ssize_t)sizeof (hello) || fd < 0 || hello.magic != kMagic
        || hello.version != kVersion) {
      if (fd >= 0)
        ::close (fd);
      *error = "'" + socket_path + "' is not a fanoutshmsink socket";
      return nullptr;
    }
    bool ok = r->map (fd, hello.total_size, error);
    ::close (fd); /* the mapping keeps the region */
    if (!ok)
      return nullptr;
    return std::unique_ptr<ShmReader> (new ShmReader (r.release ()));
  } catch (const std::exception &e) {
    *error = e.what ();
    return nullptr;
  }
}

/* Places the cursor at the start position. */
void
ShmReader::Impl::start () noexcept
{
  /* acquire: a slot published before head/last_sync is complete */
  const uint64_t ls = hdr->last_sync.load (std::memory_order_acquire);
  const uint64_t h = hdr->head.load (std::memory_order_acquire);
  started = true;
  need_sync = false;
  if (opts.start == ShmStart::Latest && h > 0) {
    cursor = h - 1;
  } else if (ls > 0 && ls <= h && h - (ls - 1) <= n_slots) {
    cursor = ls - 1;
  } else {
    cursor = h;
    need_sync = true;
  }
}

/* Lapped: jump per the lag policy, counting what is skipped. */
void
ShmReader::Impl::resync () noexcept
{
  const uint64_t ls = hdr->last_sync.load (std::memory_order_acquire);
  const uint64_t h = hdr->head.load (std::memory_order_acquire);
  uint64_t to;
  need_sync = false;
  if ((ShmLagPolicy)policy.load (std::memory_order_relaxed)
          == ShmLagPolicy::DropToLatest
      && h > cursor) {
    to = h - 1;
  } else if (ls > 0 && ls <= h && ls - 1 > cursor && h - (ls - 1) <= n_slots) {
    to = ls - 1;
  } else {
    to = h > cursor ? h : cursor;
    need_sync = true;
  }
  pending_drop += to - cursor;
  dropped.fetch_add (to - cursor, std::memory_order_relaxed);
  lapped.fetch_add (1, std::memory_order_relaxed);
  cursor = to;
}

/* False once the writer closed the region or hung up. */
bool
ShmReader::Impl::writer_alive () noexcept
{
  if (gone)
    return false;
  /* acquire: pairs with close () */
  if (hdr->state.load (std::memory_order_acquire) == kStateClosed) {
    gone = true;
    return false;
  }
  /* a hang-up is polled only after a quiet period: no syscall per frame */
  if (!check_alive)
    return true;
  check_alive = false;
  struct pollfd pfd = { sock, POLLIN, 0 };
  if (poll (&pfd, 1, 0) > 0) {
    gone = true; /* the writer never sends after the hello: EOF / hang-up */
    return false;
  }
  return true;
}

bool
ShmReader::Impl::load_sticky (uint64_t g) noexcept
{
  if (g == 0) {
    sticky.clear ();
    gen = 0;
    return true;
  }
  const auto *e
      = (const Sticky *)(sticky_base + (g & (n_sticky - 1)) * sticky_size);
  if (e->gen.load (std::memory_order_acquire) != g)
    return false;
  const uint32_t size = e->size.load (std::memory_order_relaxed);
  if (size > sticky_size - kStickyHeader)
    return false;
  try {
    sticky.assign ((const char *)e + kStickyHeader, size);
  } catch (...) {
    return false;
  }
  /* acquire fence, then re-check: the copy was not being overwritten */
  std::atomic_thread_fence (std::memory_order_acquire);
  if (e->gen.load (std::memory_order_relaxed) != g)
    return false;
  gen = g;
  return true;
}

ReadResult
ShmReader::read (ShmFrame &frame, ShmSink &sink, int timeout_ms) noexcept
{
  Impl *r = impl_;
  const int64_t deadline = timeout_ms < 0 ? -1 : now_ms () + timeout_ms;
  const uint64_t mask = r->n_slots - 1;

  if (!r->started)
    r->start ();
  for (;;) {
    if (r->interrupted.load ())
      return ReadResult::Interrupted;
    /* acquire: the slots of every seq below head are complete */
    const uint64_t h = r->hdr->head.load (std::memory_order_acquire);
    if (r->cursor >= h) {
      /* caught up: read the word, re-check, sleep on it */
      r->lag.store (0, std::memory_order_relaxed);
      if (r->gone)
        return ReadResult::WriterGone;
      const uint32_t v = r->hdr->futex.load (std::memory_order_acquire);
      if (r->hdr->head.load (std::memory_order_acquire) != h)
        continue;
      if (r->interrupted.load ())
        return ReadResult::Interrupted;
      if (!r->writer_alive ())
        return ReadResult::WriterGone;
      int wait = kLivenessMs;
      if (deadline >= 0) {
        int64_t left = deadline - now_ms ();
        if (left <= 0)
          return ReadResult::Timeout;
        if (left < wait)
          wait = (int)left;
      }
      r->check_alive = futex_wait (&r->hdr->futex, v, wait);
      continue;
    }
    if (h - r->cursor > r->n_slots) {
      r->resync ();
      continue;
    }
    r->lag.store (h - r->cursor, std::memory_order_relaxed);

    /* the slot: acquire its seq, read the fields, fence, re-check */
    const Slot &slot = r->slots[r->cursor & mask];
    const uint64_t want = r->cursor + 1;
    if (slot.seq.load (std::memory_order_acquire) != want) {
      r->resync (); /* overwritten (cursor < head: it was written) */
      continue;
    }
    const uint64_t off = slot.offset.load (std::memory_order_relaxed);
    const uint64_t size = slot.size.load (std::memory_order_relaxed);
    const uint32_t fp = slot.flags_pair.load (std::memory_order_relaxed);
    ShmMeta meta;
    meta.flags = fp & 0xff;
    meta.buffer_flags = fp >> 8;
    meta.pts = slot.pts.load (std::memory_order_relaxed);
    meta.dts = slot.dts.load (std::memory_order_relaxed);
    meta.duration = slot.duration.load (std::memory_order_relaxed);
    meta.running_time = slot.running_time.load (std::memory_order_relaxed);
    const uint64_t g = slot.sticky_gen.load (std::memory_order_relaxed);
    std::atomic_thread_fence (std::memory_order_acquire);
    if (slot.seq.load (std::memory_order_relaxed) != want) {
      r->resync ();
      continue;
    }

    if (r->need_sync && !(meta.flags & (SHM_ITEM_SYNC | SHM_ITEM_EOS))) {
      r->cursor++;
      r->pending_drop++;
      r->dropped.fetch_add (1, std::memory_order_relaxed);
      continue;
    }
    /* bound-check against our own copy of the layout: a broken writer
     * cannot make us read outside the data area */
    const uint64_t phys = off % r->data_size;
    if (size > r->data_size / 2 || phys + size > r->data_size) {
      r->error = "frame " + std::to_string (r->cursor)
                 + " lies outside the data area (broken writer)";
      return ReadResult::Error;
    }
    if (g != r->gen && !r->load_sticky (g)) {
      r->resync (); /* too many sticky changes since: lapped */
      continue;
    }

    uint8_t *dst = sink.prepare (size);
    if (!dst && size > 0) {
      r->error
          = "out of memory for a frame of " + std::to_string (size) + " bytes";
      return ReadResult::Error;
    }
    if (size > 0)
      std::memcpy (dst, r->data + phys, size);
    sink.copied ();
    /* acquire fence, then the claim: if the copy read any byte of a later
     * frame, the claim announcing it is visible now */
    std::atomic_thread_fence (std::memory_order_acquire);
    const uint64_t claim = r->hdr->claim.load (std::memory_order_relaxed);
    if (claim > off + r->data_size
        || slot.seq.load (std::memory_order_relaxed) != want) {
      r->resync ();
      continue;
    }

    frame.meta = meta;
    frame.seq = r->cursor;
    frame.size = size;
    frame.dropped_before = r->pending_drop;
    frame.sticky_changed = r->gen != r->delivered_gen || !r->delivered_any;
    r->delivered_gen = r->gen;
    r->delivered_any = true;
    r->pending_drop = 0;
    r->need_sync = false;
    r->cursor++;
    return ReadResult::Ok;
  }
}

const std::string &
ShmReader::sticky () const noexcept
{
  return impl_->sticky;
}

void
ShmReader::interrupt () noexcept
{
  impl_->interrupted.store (true);
  /* wakes every sleeper on this region (ours among them); others re-check
   * and sleep again */
  futex_wake_all (&impl_->hdr->futex);
}

void
ShmReader::clear_interrupt () noexcept
{
  impl_->interrupted.store (false);
}

void
ShmReader::set_policy (ShmLagPolicy policy) noexcept
{
  impl_->policy.store ((int)policy, std::memory_order_relaxed);
}

uint64_t
ShmReader::dropped () const noexcept
{
  return impl_->dropped.load (std::memory_order_relaxed);
}

uint64_t
ShmReader::lapped () const noexcept
{
  return impl_->lapped.load (std::memory_order_relaxed);
}

uint64_t
ShmReader::lag () const noexcept
{
  return impl_->lag.load (std::memory_order_relaxed);
}

const std::string &
ShmReader::error () const noexcept
{
  return impl_->error;
}

} // namespace gstfanout::shm
