/* gst-fanout
 * Copyright (C) 2026 the gst-fanout authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2.1 of the License, or (at your option) any later version.
 */

/* Unit cases for the shared-memory ring (plugins/shm): writer and readers
 * in one process (the protocol is the same across processes; the process
 * cases live in shm_faults.cpp). */

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "shmcheck.h"

using namespace gstfanout::shm;
using namespace shmcheck;

namespace
{

std::unique_ptr<ShmWriter>
make_writer (const char *tag, uint32_t slots = 64, uint64_t data = 1u << 20,
             uint32_t sticky_slots = 4)
{
  ShmConfig cfg;
  cfg.socket_path = socket_path (tag);
  cfg.slots = slots;
  cfg.data_size = data;
  cfg.sticky_slots = sticky_slots;
  cfg.sticky_size = 4096;
  std::string error;
  auto w = ShmWriter::create (cfg, &error);
  if (!w)
    fail (__FILE__, __LINE__, "writer: " + error);
  return w;
}

std::unique_ptr<ShmReader>
make_reader (const ShmWriter &w, ShmReaderOptions opts = {})
{
  std::string error;
  auto r = ShmReader::connect (w.socket_path (), opts, &error);
  if (!r)
    fail (__FILE__, __LINE__, "reader: " + error);
  return r;
}

/* Waits (bounded) until the writer's socket thread counted @n readers. */
void
wait_readers (const ShmWriter &w, uint32_t n)
{
  for (int i = 0; i < 5000 && w.num_readers () != n; i++)
    usleep (1000);
  CHECK_EQ (w.num_readers (), n);
}

} // namespace

TEST_CASE (roundtrip)
{
  auto w = make_writer ("roundtrip");
  const std::string caps = "video/x-raw, width=(int)16";
  CHECK (w->set_sticky (caps.data (), caps.size ()));
  auto r = make_reader (*w);
  std::vector<uint8_t> scratch;
  VectorSink sink;
  ShmFrame f;
  /* caught up, nothing published: a bounded wait times out */
  CHECK (r->read (f, sink, 10) == ReadResult::Timeout);
  for (uint64_t s = 0; s < 200; s++) {
    CHECK (publish_frame (*w, 1, s, 100 + s * 13, 1, scratch)
           == PublishResult::Ok);
    CHECK (r->read (f, sink, 1000) == ReadResult::Ok);
    CHECK_EQ (f.seq, s);
    CHECK_EQ (f.size, (size_t)(100 + s * 13));
    CHECK (check_frame (sink.buf.data (), f.size, 1, s));
    CHECK_EQ (f.meta.pts, s * 1000);
    CHECK_EQ (f.meta.buffer_flags, (uint32_t)s);
    CHECK (f.meta.flags & SHM_ITEM_SYNC);
    CHECK_EQ (f.dropped_before, (uint64_t)0);
    CHECK_EQ (f.sticky_changed, s == 0);
    CHECK (r->sticky () == caps);
  }
  CHECK_EQ (r->dropped (), (uint64_t)0);
  CHECK_EQ (w->published (), (uint64_t)200);
  wait_readers (*w, 1);
}

TEST_CASE (gather_chunks)
{
  auto w = make_writer ("gather");
  auto r = make_reader (*w);
  std::vector<uint8_t> frame;
  fill_frame (frame, 3, 0, 1000);
  ShmChunk c[3] = { { frame.data (), 10 },
                    { frame.data () + 10, 0 },
                    { frame.data () + 10, 990 } };
  ShmMeta m;
  m.flags = SHM_ITEM_SYNC;
  CHECK (w->publish (m, c, 3) == PublishResult::Ok);
  VectorSink sink;
  ShmFrame f;
  CHECK (r->read (f, sink, 1000) == ReadResult::Ok);
  CHECK_EQ (f.size, (size_t)1000);
  CHECK (check_frame (sink.buf.data (), f.size, 3, 0));
}

TEST_CASE (start_latest_keyframe)
{
  auto w = make_writer ("startkf");
  std::vector<uint8_t> scratch;
  for (uint64_t s = 0; s < 25; s++)
    publish_frame (*w, 1, s, 64, 10, scratch);
  auto r = make_reader (*w);
  VectorSink sink;
  ShmFrame f;
  /* newest sync point is 20 */
  CHECK (r->read (f, sink, 1000) == ReadResult::Ok);
  CHECK_EQ (f.seq, (uint64_t)20);
  CHECK (f.meta.flags & SHM_ITEM_SYNC);
  CHECK (check_frame (sink.buf.data (), f.size, 1, 20));
  for (uint64_t s = 21; s < 25; s++) {
    CHECK (r->read (f, sink, 1000) == ReadResult::Ok);
    CHECK_EQ (f.seq, s);
  }

  ShmReaderOptions latest;
  latest.start = ShmStart::Latest;
  auto r2 = make_reader (*w, latest);
  CHECK (r2->read (f, sink, 1000) == ReadResult::Ok);
  CHECK_EQ (f.seq, (uint64_t)24);
}

TEST_CASE (start_waits_for_next_keyframe)
{
  /* GOP (100) longer than the ring (16): the keyframe is gone */
  auto w = make_writer ("startnext", 16);
  std::vector<uint8_t> scratch;
  for (uint64_t s = 0; s < 50; s++)
    publish_frame (*w, 1, s, 64, 100, scratch);
  CHECK (!w->sync_in_ring ());
  auto r = make_reader (*w);
  VectorSink sink;
  ShmFrame f;
  CHECK (r->read (f, sink, 10) == ReadResult::Timeout);
  for (uint64_t s = 50; s < 101; s++)
    publish_frame (*w, 1, s, 64, 100, scratch);
  CHECK (r->read (f, sink, 1000) == ReadResult::Ok);
  CHECK_EQ (f.seq, (uint64_t)100);
  CHECK (f.meta.flags & SHM_ITEM_SYNC);
  CHECK_EQ (f.dropped_before, (uint64_t)50); /* 50..99 skipped */
}

TEST_CASE (lapped_reader_resyncs_at_keyframe)
{
  auto w = make_writer ("lapped", 32);
  std::vector<uint8_t> scratch;
  auto r = make_reader (*w);
  VectorSink sink;
  ShmFrame f;
  publish_frame (*w, 1, 0, 64, 8, scratch);
  CHECK (r->read (f, sink, 1000) == ReadResult::Ok);
  CHECK_EQ (f.seq, (uint64_t)0);
  /* lap the reader: 100 frames in a 32-slot ring */
  for (uint64_t s = 1; s <= 100; s++)
    publish_frame (*w, 1, s, 64, 8, scratch);
  CHECK (r->read (f, sink, 1000) == ReadResult::Ok);
  CHECK_EQ (f.seq, (uint64_t)96); /* the newest keyframe */
  CHECK (f.meta.flags & SHM_ITEM_SYNC);
  CHECK_EQ (f.dropped_before, (uint64_t)95);
  CHECK (check_frame (sink.buf.data (), f.size, 1, 96));
  CHECK_EQ (r->lapped (), (uint64_t)1);
  for (uint64_t s = 97; s <= 100; s++) {
    CHECK (r->read (f, sink, 1000) == ReadResult::Ok);
    CHECK_EQ (f.seq, s);
    CHECK_EQ (f.dropped_before, (uint64_t)0);
  }

  /* drop-to-latest: the newest frame, keyframe or not */
  for (uint64_t s = 101; s <= 200; s++)
    publish_frame (*w, 1, s, 64, 8, scratch);
  r->set_policy (ShmLagPolicy::DropToLatest);
  CHECK (r->read (f, sink, 1000) == ReadResult::Ok);
  CHECK_EQ (f.seq, (uint64_t)200);
}

TEST_CASE (data_area_lap_detected)
{
  /* many slots, a small data area: frames are overwritten through the data
   * area long before their slots */
  auto w = make_writer ("datalap", 1024, 64 * 1024);
  std::vector<uint8_t> scratch;
  auto r = make_reader (*w);
  VectorSink sink;
  ShmFrame f;
  publish_frame (*w, 1, 0, 8000, 4, scratch);
  CHECK (r->read (f, sink, 1000) == ReadResult::Ok);
  for (uint64_t s = 1; s <= 40; s++)
    publish_frame (*w, 1, s, 8000, 4, scratch);
  /* frame 1's bytes are gone: the reader must notice, not deliver them */
  CHECK (r->read (f, sink, 1000) == ReadResult::Ok);
  CHECK (f.seq > 1);
  CHECK (f.meta.flags & SHM_ITEM_SYNC);
  CHECK (f.dropped_before > 0);
  CHECK (check_frame (sink.buf.data (), f.size, 1, f.seq));
  uint64_t last = f.seq;
  while (r->read (f, sink, 0) == ReadResult::Ok) {
    CHECK (f.seq > last);
    CHECK (check_frame (sink.buf.data (), f.size, 1, f.seq));
    last = f.seq;
  }
  CHECK_EQ (last, (uint64_t)40);
}

TEST_CASE (reserved_published_in_place)
{
  /* Zero copy: a frame written into a reservation is read back intact. */
  auto w = make_writer ("reserve", 1024, 64 * 1024);
  std::vector<uint8_t> scratch;
  auto r = make_reader (*w);
  VectorSink sink;
  ShmFrame f;
  ShmMeta m;
  uint64_t pos = 0, p2;
  uint8_t *data = nullptr, *d2;
  m.flags = SHM_ITEM_SYNC;
  CHECK (publish_frame (*w, 1, 0, 8000, 1, scratch) == PublishResult::Ok);
  CHECK (w->reserve (8000, &pos, &data));
  CHECK_EQ (w->num_reserved (), (uint32_t)1);
  /* too large (over a quarter of the area), or too much outstanding */
  CHECK (!w->reserve (16 * 1024 + 64, &p2, &d2));
  fill_frame (scratch, 1, 1, 8000);
  std::memcpy (data, scratch.data (), 8000);
  CHECK (w->publish_reserved (m, pos, 0, 8000) == PublishResult::Ok);
  CHECK_EQ (w->num_reserved (), (uint32_t)0);
  /* published once: a second time is refused (the caller copies) */
  CHECK (w->publish_reserved (m, pos, 0, 8000) == PublishResult::NotReserved);
  CHECK (r->read (f, sink, 1000) == ReadResult::Ok);
  CHECK_EQ (f.seq, (uint64_t)1);
  CHECK (check_frame (sink.buf.data (), f.size, 1, 1));
  /* a sub-range of a reservation (a resized memory) */
  CHECK (w->reserve (8000, &pos, &data));
  fill_frame (scratch, 1, 2, 4000);
  std::memcpy (data + 64, scratch.data (), 4000);
  CHECK (w->publish_reserved (m, pos, 64, 8000) == PublishResult::NotReserved);
  CHECK (w->publish_reserved (m, pos, 64, 4000) == PublishResult::Ok);
  CHECK (r->read (f, sink, 1000) == ReadResult::Ok);
  CHECK_EQ (f.seq, (uint64_t)2);
  CHECK_EQ (f.size, (size_t)4000);
  CHECK (check_frame (sink.buf.data (), f.size, 1, 2));
  /* released without publishing: gone */
  CHECK (w->reserve (8000, &pos, &data));
  w->release (pos);
  CHECK_EQ (w->num_reserved (), (uint32_t)0);
  CHECK (w->publish_reserved (m, pos, 0, 8000) == PublishResult::NotReserved);
}

TEST_CASE (reservation_never_overwritten)
{
  /* Copied frames published while a reservation is outstanding lap the
   * data area several times but never land on it; publishing it in place
   * afterwards is refused (readers would take it for lapped) and its bytes
   * are intact for the copy the caller then makes. */
  auto w = make_writer ("reslap", 1024, 64 * 1024);
  std::vector<uint8_t> scratch;
  auto r = make_reader (*w);
  VectorSink sink;
  ShmFrame f;
  ShmMeta m;
  uint64_t pos = 0;
  uint8_t *data = nullptr;
  CHECK (w->reserve (8000, &pos, &data));
  fill_frame (scratch, 2, 7, 8000);
  std::memcpy (data, scratch.data (), 8000);
  for (uint64_t s = 0; s < 40; s++) /* 320 KB through a 64 KiB area */
    CHECK (publish_frame (*w, 1, s, 8000, 1, scratch) == PublishResult::Ok);
  CHECK (check_frame (data, 8000, 2, 7));
  m.flags = SHM_ITEM_SYNC;
  CHECK (w->publish_reserved (m, pos, 0, 8000) == PublishResult::NotReserved);
  ShmChunk c = { data, 8000 };
  CHECK (w->publish (m, &c, 1) == PublishResult::Ok);
  w->release (pos);
  CHECK (r->read (f, sink, 1000) == ReadResult::Ok);
  CHECK_EQ (f.seq, (uint64_t)40);
  CHECK (check_frame (sink.buf.data (), f.size, 2, 7));
}

TEST_CASE (reservation_claims_overlapped_frames)
{
  /* A reservation claims its bytes when it is handed out: a reader that
   * copies an older frame those bytes overlap, while the caller writes
   * into them, discards its copy. */
  auto w = make_writer ("resclaim", 1024, 64 * 1024);
  std::vector<uint8_t> scratch;
  auto r = make_reader (*w);
  VectorSink sink;
  ShmFrame f;
  publish_frame (*w, 1, 0, 8000, 1000, scratch);
  for (uint64_t s = 1; s < 8; s++) /* 64000 bytes: the next 8000 wrap */
    publish_frame (*w, 1, s, 8000, 1000, scratch);
  int hooks = 0;
  sink.on_copied = [&] {
    uint64_t pos;
    uint8_t *data;
    if (hooks++ == 0) { /* lands on frame 0's bytes, under the copy */
      CHECK (w->reserve (8000, &pos, &data));
      std::memset (data, 0xee, 8000);
    }
  };
  CHECK (r->read (f, sink, 10) == ReadResult::Timeout);
  CHECK_EQ (r->lapped (), (uint64_t)1);
}

TEST_CASE (overwrite_during_copy_detected)
{
  /* The writer overwrites the frame while the reader copies it (the copied
   * hook runs between the copy and its check): the reader must discard the
   * copy and resync. Removing the claim check makes this fail. */
  auto w = make_writer ("midcopy", 1024, 64 * 1024);
  std::vector<uint8_t> scratch;
  auto r = make_reader (*w);
  VectorSink sink;
  ShmFrame f;
  publish_frame (*w, 1, 0, 8000, 1000, scratch);
  uint64_t next = 1;
  int hooks = 0;
  sink.on_copied = [&] {
    if (hooks++ == 0) /* once: lap the data area under the copy */
      for (int i = 0; i < 10; i++, next++)
        publish_frame (*w, 1, next, 8000, 1000, scratch);
  };
  /* frame 0 is the only keyframe, and it is overwritten: the reader waits
   * for the next keyframe */
  CHECK (r->read (f, sink, 10) == ReadResult::Timeout);
  CHECK_EQ (r->lapped (), (uint64_t)1);
  for (; next <= 1000; next++)
    publish_frame (*w, 1, next, 64, 1000, scratch);
  CHECK (r->read (f, sink, 1000) == ReadResult::Ok);
  CHECK_EQ (f.seq, (uint64_t)1000);
  CHECK (check_frame (sink.buf.data (), f.size, 1, 1000));
  CHECK_EQ (f.dropped_before, (uint64_t)1000);
}

TEST_CASE (slot_overwrite_during_copy_detected)
{
  /* same, through the slot ring: the slot is rewritten under the copy */
  auto w = make_writer ("slotcopy", 8, 1u << 20);
  std::vector<uint8_t> scratch;
  auto r = make_reader (*w);
  VectorSink sink;
  ShmFrame f;
  publish_frame (*w, 1, 0, 64, 4, scratch);
  uint64_t next = 1;
  int hooks = 0;
  sink.on_copied = [&] {
    if (hooks++ == 0)
      for (int i = 0; i < 9; i++, next++)
        publish_frame (*w, 1, next, 64, 4, scratch);
  };
  CHECK (r->read (f, sink, 1000) == ReadResult::Ok);
  CHECK_EQ (f.seq, (uint64_t)8);
  CHECK (check_frame (sink.buf.data (), f.size, 1, 8));
  CHECK_EQ (f.dropped_before, (uint64_t)8);
}

TEST_CASE (sticky_changes_follow_frames)
{
  auto w = make_writer ("sticky", 64, 1u << 20, 4);
  std::vector<uint8_t> scratch;
  w->set_sticky ("caps-a", 6);
  publish_frame (*w, 1, 0, 64, 1, scratch);
  auto r = make_reader (*w);
  VectorSink sink;
  ShmFrame f;
  CHECK (r->read (f, sink, 1000) == ReadResult::Ok);
  CHECK (f.sticky_changed);
  CHECK (r->sticky () == "caps-a");
  publish_frame (*w, 1, 1, 64, 1, scratch);
  w->set_sticky ("caps-b", 6);
  publish_frame (*w, 1, 2, 64, 1, scratch);
  CHECK (r->read (f, sink, 1000) == ReadResult::Ok);
  CHECK (!f.sticky_changed);
  CHECK (r->sticky () == "caps-a");
  CHECK (r->read (f, sink, 1000) == ReadResult::Ok);
  CHECK (f.sticky_changed);
  CHECK (r->sticky () == "caps-b");

  /* more changes than sticky slots before the reader reads: the one it
   * needs is gone, it resyncs to a frame whose blob is still there */
  for (int i = 0; i < 10; i++) {
    std::string s = "caps-" + std::to_string (i);
    w->set_sticky (s.data (), s.size ());
    publish_frame (*w, 1, 3 + i, 64, 1, scratch);
  }
  CHECK (r->read (f, sink, 1000) == ReadResult::Ok);
  CHECK (f.sticky_changed);
  CHECK (f.dropped_before > 0);
  CHECK (r->sticky () == "caps-" + std::to_string (f.seq - 3));

  /* a late reader gets the blob in force at its first frame */
  auto r2 = make_reader (*w);
  CHECK (r2->read (f, sink, 1000) == ReadResult::Ok);
  CHECK_EQ (f.seq, (uint64_t)12);
  CHECK (r2->sticky () == "caps-9");
  CHECK (!w->set_sticky (scratch.data (), 1u << 20)); /* too large */
}

TEST_CASE (eos_reaches_late_reader)
{
  auto w = make_writer ("eos");
  std::vector<uint8_t> scratch;
  for (uint64_t s = 0; s < 5; s++)
    publish_frame (*w, 1, s, 64, 100, scratch);
  ShmMeta m;
  m.flags = SHM_ITEM_EOS;
  CHECK (w->publish (m, nullptr, 0) == PublishResult::Ok);
  auto r = make_reader (*w);
  VectorSink sink;
  ShmFrame f;
  CHECK (r->read (f, sink, 1000) == ReadResult::Ok);
  CHECK (f.meta.flags & SHM_ITEM_EOS);
  CHECK_EQ (f.size, (size_t)0);
}

TEST_CASE (too_large_frame_refused)
{
  auto w = make_writer ("large", 16, 64 * 1024);
  std::vector<uint8_t> scratch;
  CHECK (publish_frame (*w, 1, 0, 40 * 1024, 1, scratch)
         == PublishResult::TooLarge);
  CHECK_EQ (w->published (), (uint64_t)0);
  CHECK_EQ (w->max_frame_size (), (uint64_t)32 * 1024);
  CHECK (publish_frame (*w, 1, 0, 32 * 1024, 1, scratch) == PublishResult::Ok);
}

TEST_CASE (sleeping_reader_woken_and_interrupted)
{
  auto w = make_writer ("sleep");
  auto r = make_reader (*w);
  std::atomic<int> got{ -1 };
  std::thread t ([&] {
    VectorSink sink;
    ShmFrame f;
    ReadResult res = r->read (f, sink, 10000);
    got.store (res == ReadResult::Ok ? (int)f.seq : -2);
  });
  usleep (20000);
  std::vector<uint8_t> scratch;
  publish_frame (*w, 1, 0, 64, 1, scratch);
  t.join ();
  CHECK_EQ (got.load (), 0);

  std::atomic<int> res{ -1 };
  std::thread t2 ([&] {
    VectorSink sink;
    ShmFrame f;
    res.store ((int)r->read (f, sink, 10000));
  });
  usleep (20000);
  r->interrupt ();
  t2.join ();
  CHECK_EQ (res.load (), (int)ReadResult::Interrupted);
  r->clear_interrupt ();
  VectorSink sink;
  ShmFrame f;
  CHECK (r->read (f, sink, 10) == ReadResult::Timeout);
}

TEST_CASE (writer_close_seen)
{
  auto w = make_writer ("close");
  std::vector<uint8_t> scratch;
  auto r = make_reader (*w);
  publish_frame (*w, 1, 0, 64, 1, scratch);
  const std::string path = w->socket_path ();
  w.reset ();
  /* frames published before the close are still delivered, then gone */
  VectorSink sink;
  ShmFrame f;
  CHECK (r->read (f, sink, 1000) == ReadResult::Ok);
  CHECK (r->read (f, sink, 1000) == ReadResult::WriterGone);
  /* the socket path is removed */
  struct stat st;
  CHECK (stat (path.c_str (), &st) != 0);
  bool refused = false;
  std::string error;
  CHECK (!ShmReader::connect (path, {}, &error, &refused));
  CHECK (refused);
}

TEST_CASE (socket_path_rules)
{
  std::string error;
  ShmConfig cfg;
  cfg.socket_path = socket_path ("rules");
  cfg.data_size = 64 * 1024;

  /* a stale socket file (its writer died) is reused */
  {
    int fd = socket (AF_UNIX, SOCK_SEQPACKET, 0);
    struct sockaddr_un a = {};
    a.sun_family = AF_UNIX;
    std::strcpy (a.sun_path, cfg.socket_path.c_str ());
    CHECK (bind (fd, (struct sockaddr *)&a, sizeof (a)) == 0);
    close (fd); /* never listened: connections are refused */
  }
  auto w = ShmWriter::create (cfg, &error);
  CHECK (w != nullptr);

  /* a live writer keeps its path */
  auto w2 = ShmWriter::create (cfg, &error);
  CHECK (w2 == nullptr);
  CHECK (error.find ("another writer") != std::string::npos);
  w.reset ();

  /* a regular file is never removed */
  int fd = open (cfg.socket_path.c_str (), O_CREAT | O_WRONLY, 0600);
  CHECK (fd >= 0);
  close (fd);
  w = ShmWriter::create (cfg, &error);
  CHECK (w == nullptr);
  CHECK (error.find ("not a socket") != std::string::npos);
  unlink (cfg.socket_path.c_str ());

  /* abstract namespace: no file at all */
  cfg.socket_path = "@gst-fanout-test-" + std::to_string (getpid ());
  w = ShmWriter::create (cfg, &error);
  CHECK (w != nullptr);
  auto r = make_reader (*w);
  CHECK (r != nullptr);

  cfg.socket_path = std::string (200, 'x');
  CHECK (ShmWriter::create (cfg, &error) == nullptr);
  CHECK (error.find ("longer than") != std::string::npos);
}

TEST_CASE (readers_cannot_write)
{
  /* what a malicious reader would try with the fd it receives */
  auto w = make_writer ("nowrite");
  int s = socket (AF_UNIX, SOCK_SEQPACKET, 0);
  struct sockaddr_un a = {};
  a.sun_family = AF_UNIX;
  std::strcpy (a.sun_path, w->socket_path ().c_str ());
  CHECK (connect (s, (struct sockaddr *)&a, sizeof (a)) == 0);
  char hello[64];
  char cbuf[CMSG_SPACE (sizeof (int))];
  struct iovec iov = { hello, sizeof (hello) };
  struct msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = cbuf;
  msg.msg_controllen = sizeof (cbuf);
  CHECK (recvmsg (s, &msg, 0) > 0);
  int fd;
  std::memcpy (&fd, CMSG_DATA (CMSG_FIRSTHDR (&msg)), sizeof (int));
  struct stat st;
  CHECK (fstat (fd, &st) == 0);
  CHECK (mmap (nullptr, st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)
         == MAP_FAILED);
  void *ro = mmap (nullptr, st.st_size, PROT_READ, MAP_SHARED, fd, 0);
  CHECK (ro != MAP_FAILED);
  CHECK (mprotect (ro, st.st_size, PROT_READ | PROT_WRITE) != 0);
  CHECK (write (fd, "x", 1) < 0);
  CHECK (ftruncate (fd, 0) != 0); /* would SIGBUS the writer */
  CHECK (ftruncate (fd, st.st_size * 2) != 0);
  CHECK (fcntl (fd, F_ADD_SEALS, F_SEAL_WRITE) != 0);
  /* sending anything is a protocol violation: the writer hangs up */
  wait_readers (*w, 1);
  CHECK (send (s, "hi", 2, 0) == 2);
  wait_readers (*w, 0);
  std::vector<uint8_t> scratch;
  CHECK (publish_frame (*w, 1, 0, 64, 1, scratch) == PublishResult::Ok);
  munmap (ro, st.st_size);
  close (fd);
  close (s);
}

TEST_CASE (broken_writer_cannot_crash_reader)
{
  /* play a broken (or malicious) writer through its own mapping: a slot
   * pointing outside the data area is refused, not read */
  auto w = make_writer ("broken", 16, 64 * 1024);
  std::vector<uint8_t> scratch;
  publish_frame (*w, 1, 0, 64, 1, scratch);
  auto r = make_reader (*w);
  uint8_t *base = w->region_for_tests ();
  uint64_t slots_off;
  std::memcpy (&slots_off, base + 32, 8); /* Header::slots_offset */
  /* slot 0: seq (8), offset (8), pts, dts, duration, rt, gen (5x8), then
   * size (4): claim the frame is 0xffff0000 bytes long */
  uint32_t huge = 0xffff0000u;
  std::memcpy (base + slots_off + 56, &huge, 4);
  VectorSink sink;
  ShmFrame f;
  CHECK (r->read (f, sink, 1000) == ReadResult::Error);
  CHECK (r->error ().find ("outside the data area") != std::string::npos);
  /* an offset far away is reduced modulo the reader's own data size */
  uint32_t small = 64;
  std::memcpy (base + slots_off + 56, &small, 4);
  uint64_t far = 0x7fffffffffffff00ull;
  std::memcpy (base + slots_off + 8, &far, 8);
  auto r2 = make_reader (*w);
  ReadResult res = r2->read (f, sink, 1000);
  CHECK (res == ReadResult::Ok || res == ReadResult::Error);

  /* a header that does not add up is refused at connect */
  uint64_t bogus = 1ull << 50;
  std::memcpy (base + 24, &bogus, 8); /* Header::data_size */
  std::string error;
  CHECK (!ShmReader::connect (w->socket_path (), {}, &error));
  CHECK (error.find ("header is invalid") != std::string::npos);
}

TEST_CASE (max_readers)
{
  ShmConfig cfg;
  cfg.socket_path = socket_path ("max");
  cfg.data_size = 64 * 1024;
  cfg.max_readers = 2;
  std::string error;
  auto w = ShmWriter::create (cfg, &error);
  CHECK (w);
  auto r1 = make_reader (*w);
  auto r2 = make_reader (*w);
  wait_readers (*w, 2);
  CHECK (!ShmReader::connect (cfg.socket_path, {}, &error));
  CHECK (error.find ("max readers") != std::string::npos);
  r1.reset ();
  wait_readers (*w, 1);
  CHECK (make_reader (*w) != nullptr);
}

TEST_CASE (threads_stress)
{
  /* one writer thread, 4 reader threads (2 slow), every frame checked */
  auto w = make_writer ("tstress", 64, 256 * 1024);
  const uint64_t n = std::getenv ("RING_UNIT_SHORT") ? 2000 : 20000;
  std::atomic<bool> bad{ false };
  std::vector<std::thread> readers;
  std::vector<std::unique_ptr<ShmReader>> rs;
  for (int i = 0; i < 4; i++)
    rs.push_back (make_reader (*w));
  for (int i = 0; i < 4; i++) {
    readers.emplace_back ([&, i] {
      VectorSink sink;
      ShmFrame f;
      int64_t last = -1;
      for (;;) {
        ReadResult res = rs[i]->read (f, sink, 5000);
        if (res == ReadResult::WriterGone)
          break;
        if (res != ReadResult::Ok
            || !check_frame (sink.buf.data (), f.size, 7, f.seq)
            || (int64_t)f.seq <= last
            || (f.dropped_before && !(f.meta.flags & SHM_ITEM_SYNC))) {
          bad.store (true);
          break;
        }
        last = (int64_t)f.seq;
        if (i >= 2 && f.seq % 64 == 0)
          usleep (2000);
      }
    });
  }
  std::vector<uint8_t> scratch;
  for (uint64_t s = 0; s < n; s++) {
    publish_frame (*w, 7, s, 256 + (s * 977) % 4000, 16, scratch);
    if (s % 256 == 0)
      usleep (100);
  }
  w->close ();
  for (auto &t : readers)
    t.join ();
  CHECK (!bad.load ());
}

int
main (int argc, char **argv)
{
  return run_main (argc, argv);
}
