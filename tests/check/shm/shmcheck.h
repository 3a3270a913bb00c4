/* gst-fanout
 * Copyright (C) 2026 the gst-fanout authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2.1 of the License, or (at your option) any later version.
 */

/* Test driver and helpers for the shared-memory ring tests (pure C++, no
 * GStreamer): named cases, one meson test per case, and a frame pattern
 * that lets a reader check every byte it received. */

#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "shmring.h"

namespace shmcheck
{

struct Case {
  const char *name;
  std::function<void ()> fn;
};

inline std::vector<Case> &
cases ()
{
  static std::vector<Case> c;
  return c;
}

struct Register {
  Register (const char *name, std::function<void ()> fn)
  {
    cases ().push_back ({ name, std::move (fn) });
  }
};

[[noreturn]] inline void
fail (const char *file, int line, const std::string &what)
{
  std::fprintf (stderr, "[%d] %s:%d: check failed: %s\n", (int)getpid (), file,
                line, what.c_str ());
  std::fflush (stderr);
  std::abort ();
}

#define CHECK(cond)                                                            \
  do {                                                                         \
    if (!(cond))                                                               \
      ::shmcheck::fail (__FILE__, __LINE__, #cond);                            \
  } while (0)
#define CHECK_EQ(a, b)                                                         \
  do {                                                                         \
    auto _a = (a);                                                             \
    auto _b = (b);                                                             \
    if (!(_a == _b))                                                           \
      ::shmcheck::fail (__FILE__, __LINE__,                                    \
                        std::string (#a " == " #b ": ") + std::to_string (_a)  \
                            + " vs " + std::to_string (_b));                   \
  } while (0)
#define TEST_CASE(name)                                                        \
  static void name ();                                                         \
  static ::shmcheck::Register reg_##name (#name, name);                        \
  static void name ()

inline int
run_main (int argc, char **argv)
{
  if (argc < 2 || std::strcmp (argv[1], "--list") == 0) {
    for (auto &c : cases ())
      std::printf ("%s\n", c.name);
    return argc < 2 ? 2 : 0;
  }
  if (std::strcmp (argv[1], "--check-list") == 0 && argc > 2) {
    std::string want = std::string (",") + argv[2] + ",";
    size_t n = 0;
    for (auto &c : cases ()) {
      if (want.find (std::string (",") + c.name + ",") == std::string::npos) {
        std::fprintf (stderr, "case %s is not registered in meson\n", c.name);
        return 1;
      }
      n++;
    }
    size_t listed = 0;
    for (char ch : want)
      listed += ch == ',';
    if (listed - 1 != n) {
      std::fprintf (stderr, "meson lists %zu cases, the program has %zu\n",
                    listed - 1, n);
      return 1;
    }
    return 0;
  }
  for (auto &c : cases ()) {
    if (std::strcmp (c.name, argv[1]) == 0) {
      c.fn ();
      std::printf ("%s: ok\n", c.name);
      return 0;
    }
  }
  std::fprintf (stderr, "no case %s\n", argv[1]);
  return 2;
}

/* A unique socket path for this test process. */
inline std::string
socket_path (const char *tag)
{
  const char *dir = std::getenv ("TMPDIR");
  return std::string (dir ? dir : "/tmp") + "/shm-test-" + tag + "-"
         + std::to_string (getpid ()) + ".sock";
}

/* Frame @seq of writer @tag: @size bytes, every byte a function of
 * (tag, seq, index), the first 16 bytes carry tag and seq. */
inline void
fill_frame (std::vector<uint8_t> &buf, uint32_t tag, uint64_t seq, size_t size)
{
  buf.resize (size);
  for (size_t i = 0; i < size; i++)
    buf[i] = (uint8_t)(seq * 131 + i * 7 + tag * 17);
  if (size >= 16) {
    std::memcpy (buf.data (), &tag, 4);
    std::memcpy (buf.data () + 8, &seq, 8);
  }
}

/* True if @data is frame (tag, seq) exactly. */
inline bool
check_frame (const uint8_t *data, size_t size, uint32_t tag, uint64_t seq)
{
  size_t i = 0;
  if (size >= 16) {
    uint32_t t;
    uint64_t s;
    std::memcpy (&t, data, 4);
    std::memcpy (&s, data + 8, 8);
    if (t != tag || s != seq)
      return false;
    i = 16;
  }
  for (; i < size; i++)
    if (data[i] != (uint8_t)(seq * 131 + i * 7 + tag * 17))
      return false;
  return true;
}

/* A sink into a vector, with an optional hook between copy and check. */
class VectorSink : public gstfanout::shm::ShmSink
{
public:
  std::vector<uint8_t> buf;
  std::function<void ()> on_copied;
  uint8_t *prepare (size_t size) noexcept override
  {
    buf.resize (size);
    return buf.data ();
  }
  void copied () noexcept override
  {
    if (on_copied)
      on_copied ();
  }
};

/* Publishes frame @seq of @tag; sync every @gop frames. */
inline gstfanout::shm::PublishResult
publish_frame (gstfanout::shm::ShmWriter &w, uint32_t tag, uint64_t seq,
               size_t size, uint64_t gop, std::vector<uint8_t> &scratch)
{
  fill_frame (scratch, tag, seq, size);
  gstfanout::shm::ShmMeta m;
  m.flags = (seq % gop == 0) ? gstfanout::shm::SHM_ITEM_SYNC : 0;
  m.pts = seq * 1000;
  m.running_time = seq * 1000;
  m.buffer_flags = (uint32_t)(seq & 0xffff);
  gstfanout::shm::ShmChunk c = { scratch.data (), scratch.size () };
  return w.publish (m, &c, 1);
}

} // namespace shmcheck
