/* gst-fanout
 * Copyright (C) 2026 the gst-fanout authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2.1 of the License, or (at your option) any later version.
 */

/* The broadcast ring in shared memory: one writer process, any number of
 * reader processes. Pure C++ (no GObject, no GStreamer); frames are opaque
 * bytes plus a few 64-bit fields, the sticky state an opaque blob (the
 * elements put caps and tags there as strings).
 *
 *   // writer process
 *   ShmConfig cfg;  cfg.socket_path = "/run/cam.sock";
 *   auto w = ShmWriter::create (cfg, &error);
 *   w->set_sticky (caps_string, len);
 *   ShmChunk c = { data, size };
 *   w->publish (meta, &c, 1);            // one copy into shared memory
 *
 *   // reader process
 *   auto r = ShmReader::connect ("/run/cam.sock", opts, &error);
 *   ShmFrame f;  VectorSink sink;
 *   r->read (f, sink, timeout_ms);       // futex wait when caught up
 *
 * The region is a memfd the writer seals against writes, shrinking and
 * growing before it hands it to readers (SCM_RIGHTS over a unix
 * SOCK_SEQPACKET socket): readers can only map it read-only, so they write
 * nothing the writer reads; the only thing a reader can do to the writer is
 * connect and hang up. Readers validate the layout once, keep their own copy
 * of it and bound-check every offset and length they read; a copy is valid
 * only if the seqlock-style checks after it pass (docs/design/shm.md). */

#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace gstfanout::shm
{

/* Item flags (ShmMeta::flags). */
enum : uint32_t {
  SHM_ITEM_SYNC = 1u << 0, /* a reader may start or resync here */
  SHM_ITEM_EOS = 1u << 1,  /* end of stream (no data) */
};

/* What the writer stores with each frame besides its bytes. */
struct ShmMeta {
  uint32_t flags = 0;        /* SHM_ITEM_* */
  uint32_t buffer_flags = 0; /* the element's GstBufferFlags */
  uint64_t pts = UINT64_MAX; /* UINT64_MAX: none (GST_CLOCK_TIME_NONE) */
  uint64_t dts = UINT64_MAX;
  uint64_t duration = UINT64_MAX;
  uint64_t running_time = UINT64_MAX; /* writer's running time of pts */
};

/* One piece of a frame: the writer gathers the pieces into one contiguous
 * frame in shared memory (one copy). */
struct ShmChunk {
  const void *data;
  size_t size;
};

struct ShmConfig {
  /* Unix socket path; a leading '@' means the abstract namespace (no file,
   * nothing stale). */
  std::string socket_path;
  uint32_t slots = 256;             /* frames, rounded up to 2^n */
  uint64_t data_size = 64u << 20;   /* bytes of frame data */
  uint32_t sticky_slots = 8;        /* sticky generations kept, 2^n */
  uint32_t sticky_size = 64u << 10; /* bytes per sticky blob */
  uint32_t max_readers = 256;       /* connections accepted at once */
  /* Called from the writer's socket thread, with no lock held, after a
   * reader received the region. */
  void (*on_reader) (void *user_data, uint32_t num_readers) = nullptr;
  void *user_data = nullptr;
};

enum class PublishResult {
  Ok,
  TooLarge,    /* the frame is larger than half the data area */
  NoRoom,      /* outstanding reservations leave no place for it */
  NotReserved, /* publish_reserved (): not an outstanding reservation */
};

/* The writer: creates the region and the socket, runs one thread that
 * accepts readers and hands them the region. publish () and set_sticky ()
 * from one thread at a time. Destroying it marks the region closed, wakes
 * every reader, and removes the socket path. */
class ShmWriter
{
public:
  /* nullptr and @error set on failure. A socket path left by a dead writer
   * (connection refused) is removed and reused; a live writer on it, or a
   * path that is not a socket, is an error. */
  static std::unique_ptr<ShmWriter> create (const ShmConfig &config,
                                            std::string *error) noexcept;
  ~ShmWriter ();
  ShmWriter (const ShmWriter &) = delete;
  ShmWriter &operator= (const ShmWriter &) = delete;

  /* Publishes a new sticky blob (caps, tags...), in force for the frames
   * published after it. false if @size exceeds the sticky slot size. */
  bool set_sticky (const void *blob, size_t size) noexcept;

  /* Copies the chunks into the ring as one frame and publishes it. Never
   * waits for a reader. One FUTEX_WAKE syscall, whatever the readers. */
  PublishResult publish (const ShmMeta &meta, const ShmChunk *chunks,
                         size_t n_chunks) noexcept;

  /* Zero copy: hands out @size bytes of the data area (at logical
   * position @pos, writable at @data) for the caller to fill and then
   * publish in place. From any thread. The bytes are claimed at once (a
   * reader of an older frame they overlap discards its copy) and no later
   * placement puts bytes over them until they are published or released.
   * false (fall back to publish ()) if @size exceeds a quarter of the data
   * area, or the outstanding reservations would (or there are 32). */
  bool reserve (size_t size, uint64_t *pos, uint8_t **data) noexcept;
  /* Publishes bytes [@offset, @offset + @size) of the reservation at @pos
   * as a frame, without copying; the region then becomes an ordinary
   * frame, overwritten when the ring comes round to it. NotReserved if
   * @pos is not outstanding (published or released already), the range
   * exceeds it, or the ring came round past it while it was outstanding
   * (readers would discard it as lapped; its bytes are intact): the caller
   * copies instead. Streaming thread, like publish (). */
  PublishResult publish_reserved (const ShmMeta &meta, uint64_t pos,
                                  uint64_t offset, uint64_t size) noexcept;
  /* Gives back a reservation that will not be published (no-op if it was
   * published). From any thread. */
  void release (uint64_t pos) noexcept;
  uint32_t num_reserved () const noexcept;

  /* Marks the region closed (clean stop) and wakes the readers; they see
   * WriterGone. publish () after it is still safe but nobody reads. */
  void close () noexcept;
  /* Stops serving (hangs up on every reader, removes the socket path) and
   * closes, but keeps the mapping until destruction: memory handed out by
   * reserve () stays valid. */
  void stop () noexcept;

  uint64_t published () const noexcept;
  uint32_t num_readers () const noexcept;
  uint32_t slots () const noexcept; /* frames the ring holds (2^n) */
  uint64_t max_frame_size () const noexcept;
  /* True if the newest sync frame is still in the ring (a new reader can
   * start on it at once). */
  bool sync_in_ring () const noexcept;
  const std::string &socket_path () const noexcept;

  /* Tests only: the writer's writable mapping, to play a broken writer. */
  uint8_t *region_for_tests () noexcept;

  struct Impl; /* private to shmring.cpp */

private:
  explicit ShmWriter (Impl *impl) noexcept;
  Impl *impl_;
};

enum class ShmLagPolicy {
  DropToKeyframe, /* resume at the newest sync frame */
  DropToLatest,   /* resume at the newest frame */
};

enum class ShmStart {
  LatestKeyframe, /* the newest sync frame in the ring, else the next one */
  Latest,         /* the newest frame */
};

struct ShmReaderOptions {
  ShmLagPolicy policy = ShmLagPolicy::DropToKeyframe;
  ShmStart start = ShmStart::LatestKeyframe;
};

/* What read () returns along with the bytes. */
struct ShmFrame {
  ShmMeta meta;
  uint64_t seq = 0;
  size_t size = 0;             /* bytes written into the sink */
  uint64_t dropped_before = 0; /* frames lost just before this one */
  bool sticky_changed = false; /* sticky () differs from the last frame's */
};

/* Where read () copies a frame's bytes. */
class ShmSink
{
public:
  virtual ~ShmSink () = default;
  /* Memory for @size bytes (valid until the next prepare), or nullptr
   * (read () then returns Error). */
  virtual uint8_t *prepare (size_t size) noexcept = 0;
  /* Between the copy and its validation: tests stop a reader here. */
  virtual void copied () noexcept {}
};

enum class ReadResult {
  Ok,          /* @frame filled, its bytes in the sink */
  Timeout,     /* nothing within the timeout */
  Interrupted, /* interrupt () was called */
  WriterGone,  /* the writer closed or died: connect again */
  Error,       /* the region is inconsistent (a broken writer) or the
                  sink failed: see error () */
};

/* One reader's mapping and cursor. read () from one thread at a time;
 * interrupt () from any thread. */
class ShmReader
{
public:
  /* One attempt: connects to @socket_path, receives and validates the
   * region, maps it read-only. nullptr and @error on failure; @refused set
   * when nobody listens there (start before the writer: try again). */
  static std::unique_ptr<ShmReader> connect (const std::string &socket_path,
                                             const ShmReaderOptions &opts,
                                             std::string *error,
                                             bool *refused = nullptr) noexcept;
  ~ShmReader ();
  ShmReader (const ShmReader &) = delete;
  ShmReader &operator= (const ShmReader &) = delete;

  /* Waits up to @timeout_ms (-1: forever) for the next frame and copies it
   * into @sink. */
  ReadResult read (ShmFrame &frame, ShmSink &sink, int timeout_ms) noexcept;

  /* The sticky blob in force at the last frame returned. */
  const std::string &sticky () const noexcept;

  /* Makes a waiting read () return Interrupted (and the next one). */
  void interrupt () noexcept;
  void clear_interrupt () noexcept;

  void set_policy (ShmLagPolicy policy) noexcept;

  uint64_t dropped () const noexcept; /* frames lost so far */
  uint64_t lapped () const noexcept;  /* times lapped and resynced */
  uint64_t lag () const noexcept;     /* frames published, not read yet */
  const std::string &error () const noexcept;

  struct Impl; /* private to shmring.cpp */

private:
  explicit ShmReader (Impl *impl) noexcept;
  Impl *impl_;
};

} // namespace gstfanout::shm
