/* gst-fanout
 * Copyright (C) 2026 the gst-fanout authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2.1 of the License, or (at your option) any later version.
 */

/* The shared-memory ring across processes: a stress case and the fault
 * cases of issue 20. Every process is forked by the test, dies with it
 * (PR_SET_PDEATHSIG) and is waited for with a bound; a child reports by
 * its exit status (0: every check passed). No timing is asserted: "the
 * writer keeps its rate" is checked as "the writer finishes its frames
 * while a reader is stopped or dead", and "the other readers keep theirs"
 * as "they receive the newest frame, every frame they get intact". */

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>

#include "shmcheck.h"

using namespace gstfanout::shm;
using namespace shmcheck;

namespace
{

constexpr uint64_t kGop = 16;

/* Forks @fn as a child process; its return value is the exit status. */
pid_t
spawn (const std::function<int ()> &fn)
{
  fflush (stdout);
  fflush (stderr);
  pid_t pid = fork ();
  CHECK (pid >= 0);
  if (pid == 0) {
    prctl (PR_SET_PDEATHSIG, SIGKILL);
    _exit (fn ());
  }
  return pid;
}

/* Waits up to @seconds for @pid to exit; kills it and fails past that.
 * Returns its exit status (128 + signal if killed). */
int
wait_exit (pid_t pid, int seconds)
{
  for (int i = 0; i < seconds * 100; i++) {
    int status;
    pid_t r = waitpid (pid, &status, WNOHANG);
    CHECK (r >= 0);
    if (r == pid)
      return WIFEXITED (status) ? WEXITSTATUS (status)
                                : 128 + WTERMSIG (status);
    usleep (10000);
  }
  kill (pid, SIGKILL);
  waitpid (pid, nullptr, 0);
  fail (__FILE__, __LINE__, "child " + std::to_string (pid) + " hung");
}

/* Waits up to @seconds until @pid stops (SIGSTOP). */
void
wait_stopped (pid_t pid, int seconds)
{
  for (int i = 0; i < seconds * 100; i++) {
    int status;
    pid_t r = waitpid (pid, &status, WNOHANG | WUNTRACED);
    CHECK (r >= 0);
    if (r == pid) {
      CHECK (WIFSTOPPED (status));
      return;
    }
    usleep (10000);
  }
  fail (__FILE__, __LINE__, "child never stopped");
}

struct WriterArgs {
  std::string path;
  uint32_t tag = 1;
  uint64_t frames = 2000; /* 0: until killed or its readers left */
  int pace_us = 500;
  uint32_t wait_readers = 0; /* readers to wait for before publishing */
  /* after the frames, wait (bounded) until only this many readers remain;
   * -1: do not */
  int expect_readers_after = -1;
  uint32_t slots = 256;
  uint64_t data = 1u << 20;
  uint64_t max_size = 6000; /* frames of 512 .. 512 + max_size bytes */
};

int
writer_main (const WriterArgs &a)
{
  ShmConfig cfg;
  cfg.socket_path = a.path;
  cfg.slots = a.slots;
  cfg.data_size = a.data;
  std::string error;
  auto w = ShmWriter::create (cfg, &error);
  if (!w) {
    std::fprintf (stderr, "writer %u: %s\n", a.tag, error.c_str ());
    return 10;
  }
  std::string sticky = "writer-" + std::to_string (a.tag);
  w->set_sticky (sticky.data (), sticky.size ());
  for (int i = 0; i < 2000 && w->num_readers () < a.wait_readers; i++)
    usleep (5000);
  if (w->num_readers () < a.wait_readers)
    return 11;
  std::vector<uint8_t> scratch;
  bool had_reader = false;
  for (uint64_t s = 0; a.frames == 0 || s < a.frames; s++) {
    publish_frame (*w, a.tag, s, 512 + (s * 7919) % a.max_size, kGop, scratch);
    if (a.pace_us)
      usleep (a.pace_us);
    if (a.frames == 0) {
      /* run until the readers we had are gone (bounded: 30 s) */
      had_reader |= w->num_readers () > 0;
      if ((had_reader && w->num_readers () == 0) || s > 30u * 1000000 / 600)
        break;
    }
  }
  if (a.expect_readers_after >= 0) {
    for (int i = 0;
         i < 2000 && w->num_readers () != (uint32_t)a.expect_readers_after; i++)
      usleep (5000);
    if (w->num_readers () != (uint32_t)a.expect_readers_after)
      return 12;
  }
  return 0;
}

/* Connects, retrying while nobody listens, up to @seconds. */
std::unique_ptr<ShmReader>
connect_retry (const std::string &path, int seconds)
{
  for (int i = 0; i < seconds * 50; i++) {
    std::string error;
    bool refused = false;
    auto r = ShmReader::connect (path, {}, &error, &refused);
    if (r)
      return r;
    if (!refused) {
      std::fprintf (stderr, "reader: %s\n", error.c_str ());
      return nullptr;
    }
    usleep (20000);
  }
  return nullptr;
}

/* Counts this process's mappings of the ring's memfd. */
int
count_mappings ()
{
  std::ifstream maps ("/proc/self/maps");
  std::string line;
  int n = 0;
  while (std::getline (maps, line))
    n += line.find ("memfd:gst-fanout-shm") != std::string::npos;
  return n;
}

struct ReaderArgs {
  std::string path;
  uint32_t tag = 1;
  uint64_t last = 0;  /* must receive this seq (then may stop) */
  int stop_at = -1;   /* raise SIGSTOP inside the copy of this frame */
  int kill_at = -1;   /* raise SIGKILL inside the copy of this frame */
  int slow_every = 0; /* sleep 2 ms every N frames */
  bool expect_lapped = false;
  bool leave_at_last = true; /* false: stay until the writer closes */
  int notify_fd = -1; /* a byte is written here after @notify_after frames */
  uint64_t notify_after = 0;
};

/* Reads until WriterGone (or @last), checking every frame. */
int
reader_main (const ReaderArgs &a)
{
  auto r = connect_retry (a.path, 20);
  if (!r)
    return 20;
  VectorSink sink;
  ShmFrame f;
  uint64_t n = 0;
  int64_t prev = -1;
  bool got_last = false;
  bool stopped = false;
  sink.on_copied = [&] {
    if ((int64_t)n == a.stop_at && !stopped) {
      stopped = true;
      raise (SIGSTOP); /* mid-read: copied, not yet validated */
    }
    if ((int64_t)n == a.kill_at)
      raise (SIGKILL);
  };
  for (;;) {
    ReadResult res = r->read (f, sink, 20000);
    if (res == ReadResult::WriterGone)
      break;
    if (res != ReadResult::Ok)
      return 21;
    if (!check_frame (sink.buf.data (), f.size, a.tag, f.seq))
      return 22; /* a torn or stale frame was delivered */
    if ((int64_t)f.seq <= prev)
      return 23;
    if ((prev < 0 || f.dropped_before) && !(f.meta.flags & SHM_ITEM_SYNC))
      return 24; /* started or resynced elsewhere than a keyframe */
    if (r->sticky () != "writer-" + std::to_string (a.tag))
      return 25;
    prev = (int64_t)f.seq;
    n++;
    if (a.notify_fd >= 0 && n == a.notify_after)
      CHECK (write (a.notify_fd, "x", 1) == 1);
    if (a.slow_every && n % a.slow_every == 0)
      usleep (2000);
    if (a.last && f.seq == a.last) {
      got_last = true;
      if (a.leave_at_last)
        break;
    }
  }
  if (a.last && !got_last)
    return 26;
  if (a.expect_lapped && r->lapped () == 0)
    return 27;
  return 0;
}

} // namespace

TEST_CASE (stress_processes)
{
  /* 1 writer, 6 readers: 2 keep up, 2 are slow (lapped), 2 are stopped
   * and continued by this process every few ms (stopped inside copies of
   * frames up to 64 KiB: torn copies must be caught). 5000 frames, each
   * received frame checked byte by byte. */
  const std::string path = socket_path ("stress");
  WriterArgs wa;
  wa.path = path;
  wa.frames = 5000;
  wa.pace_us = 100;
  wa.wait_readers = 6;
  wa.slots = 128;
  wa.data = 1u << 20;
  wa.max_size = 64 * 1024;
  pid_t w = spawn ([&] { return writer_main (wa); });
  std::vector<pid_t> rs;
  for (int i = 0; i < 6; i++) {
    ReaderArgs ra;
    ra.path = path;
    ra.last = wa.frames - 1;
    ra.slow_every = (i == 2 || i == 3) ? 8 : 0;
    rs.push_back (spawn ([&] { return reader_main (ra); }));
  }
  /* stop/continue readers 4 and 5 until the writer is done (bounded) */
  int status = 0, rounds = 0;
  for (; rounds < 20000; rounds++) {
    pid_t done = waitpid (w, &status, WNOHANG);
    CHECK (done >= 0);
    if (done == w)
      break;
    kill (rs[4 + rounds % 2], SIGSTOP);
    usleep (1000 + (rounds * 37) % 3000);
    kill (rs[4 + rounds % 2], SIGCONT);
    usleep (500);
  }
  CHECK (rounds < 20000);
  CHECK (WIFEXITED (status) && WEXITSTATUS (status) == 0);
  for (pid_t r : rs)
    CHECK_EQ (wait_exit (r, 60), 0);
}

TEST_CASE (reader_stopped_mid_read)
{
  /* reader A stops itself between a copy and its check; the writer and
   * reader B go on; A, continued after the writer lapped it, must discard
   * that copy and resync at a keyframe */
  const std::string path = socket_path ("sigstop");
  WriterArgs wa;
  wa.path = path;
  wa.frames = 1500;
  wa.wait_readers = 2;
  pid_t w = spawn ([&] { return writer_main (wa); });
  ReaderArgs ra;
  ra.path = path;
  ra.stop_at = 20;
  ra.expect_lapped = true;
  ra.last = wa.frames - 1;
  pid_t a = spawn ([&] { return reader_main (ra); });
  ReaderArgs rb;
  rb.path = path;
  rb.last = wa.frames - 1;
  pid_t b = spawn ([&] { return reader_main (rb); });
  wait_stopped (a, 60);
  /* the writer finishes all its frames while A is stopped */
  CHECK_EQ (wait_exit (w, 120), 0);
  CHECK_EQ (wait_exit (b, 60), 0);
  kill (a, SIGCONT);
  CHECK_EQ (wait_exit (a, 60), 0);
}

TEST_CASE (reader_killed_mid_read)
{
  const std::string path = socket_path ("sigkill");
  WriterArgs wa;
  wa.path = path;
  wa.frames = 1500;
  wa.wait_readers = 2;
  wa.expect_readers_after = 1; /* the writer sees A gone */
  pid_t w = spawn ([&] { return writer_main (wa); });
  ReaderArgs ra;
  ra.path = path;
  ra.kill_at = 20;
  pid_t a = spawn ([&] { return reader_main (ra); });
  ReaderArgs rb;
  rb.path = path;
  rb.last = wa.frames - 1;
  rb.leave_at_last = false; /* still there when the writer counts */
  pid_t b = spawn ([&] { return reader_main (rb); });
  CHECK_EQ (wait_exit (a, 60), 128 + SIGKILL);
  CHECK_EQ (wait_exit (w, 120), 0);
  CHECK_EQ (wait_exit (b, 60), 0);
}

TEST_CASE (writer_killed_and_restarted)
{
  /* the reader waits through the writer's death and resumes on the new
   * writer (a new region: new sticky blob, frames from seq 0, the old
   * mapping dropped); the new writer reuses the stale socket path */
  const std::string path = socket_path ("restart");
  int pipefd[2];
  CHECK (pipe (pipefd) == 0);
  WriterArgs w1a;
  w1a.path = path;
  w1a.tag = 1;
  w1a.frames = 0; /* until killed */
  w1a.pace_us = 1000;
  pid_t w1 = spawn ([&] { return writer_main (w1a); });
  pid_t r = spawn ([&] {
    close (pipefd[0]);
    auto rd = connect_retry (path, 20);
    if (!rd)
      return 20;
    VectorSink sink;
    ShmFrame f;
    uint64_t n = 0;
    for (;;) {
      ReadResult res = rd->read (f, sink, 20000);
      if (res == ReadResult::WriterGone)
        break;
      if (res != ReadResult::Ok
          || !check_frame (sink.buf.data (), f.size, 1, f.seq))
        return 21;
      if (++n == 50)
        CHECK (write (pipefd[1], "x", 1) == 1);
    }
    if (n < 50)
      return 22;
    rd.reset ();
    if (count_mappings () != 0)
      return 23; /* the dead writer's region is still mapped */
    rd = connect_retry (path, 20);
    if (!rd)
      return 24;
    bool first = true;
    for (n = 0; n < 200; n++) {
      if (rd->read (f, sink, 20000) != ReadResult::Ok
          || !check_frame (sink.buf.data (), f.size, 2, f.seq))
        return 25;
      if (first && !(f.meta.flags & SHM_ITEM_SYNC))
        return 26;
      if (rd->sticky () != "writer-2")
        return 27;
      first = false;
    }
    return count_mappings () == 1 ? 0 : 28;
  });
  close (pipefd[1]);
  struct pollfd pfd = { pipefd[0], POLLIN, 0 };
  CHECK (poll (&pfd, 1, 60000) == 1);
  kill (w1, SIGKILL);
  CHECK_EQ (wait_exit (w1, 10), 128 + SIGKILL);
  struct stat st;
  CHECK (stat (path.c_str (), &st) == 0); /* stale path left behind */
  usleep (200000);
  WriterArgs w2a = w1a;
  w2a.tag = 2;
  pid_t w2 = spawn ([&] { return writer_main (w2a); });
  CHECK_EQ (wait_exit (r, 60), 0);
  CHECK_EQ (wait_exit (w2, 60), 0);       /* it saw its reader leave */
  CHECK (stat (path.c_str (), &st) != 0); /* clean exit removes the path */
  close (pipefd[0]);
}

TEST_CASE (reader_started_before_writer)
{
  const std::string path = socket_path ("early");
  unlink (path.c_str ());
  ReaderArgs ra;
  ra.path = path;
  ra.last = 499;
  pid_t r = spawn ([&] { return reader_main (ra); });
  usleep (300000);
  WriterArgs wa;
  wa.path = path;
  wa.frames = 500;
  wa.wait_readers = 1;
  pid_t w = spawn ([&] { return writer_main (wa); });
  CHECK_EQ (wait_exit (r, 60), 0);
  CHECK_EQ (wait_exit (w, 60), 0);
}

int
main (int argc, char **argv)
{
  signal (SIGPIPE, SIG_IGN);
  return run_main (argc, argv);
}
