/* gst-fanout
 * Copyright (C) 2026 the gst-fanout authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2.1 of the License, or (at your option) any later version.
 */

/* A small test driver for the pure C++ ring: each test case is a named
 * function; meson registers one test per case (`ring-unit CASE`), so every
 * case counts on its own in the results. */

#pragma once

#include <gst/gst.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

namespace ringcheck
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
  std::fprintf (stderr, "%s:%d: check failed: %s\n", file, line, what.c_str ());
  std::fflush (stderr);
  std::abort ();
}

inline int
run_main (int argc, char **argv)
{
  gst_init (nullptr, nullptr);
  if (argc < 2 || std::strcmp (argv[1], "--list") == 0) {
    for (auto &c : cases ())
      std::printf ("%s\n", c.name);
    return argc < 2 ? 2 : 0;
  }
  if (std::strcmp (argv[1], "--check-list") == 0 && argc > 2) {
    /* meson's list of cases must be exactly the registered ones. */
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
  std::fprintf (stderr, "no test case named %s\n", argv[1]);
  return 2;
}

} // namespace ringcheck

#define RING_TEST(name)                                                        \
  static void test_##name ();                                                  \
  static ringcheck::Register reg_##name (#name, test_##name);                  \
  static void test_##name ()

#define CHECK(cond)                                                            \
  do {                                                                         \
    if (!(cond))                                                               \
      ringcheck::fail (__FILE__, __LINE__, #cond);                             \
  } while (0)

#define CHECK_EQ(a, b)                                                         \
  do {                                                                         \
    auto va_ = (a);                                                            \
    auto vb_ = (b);                                                            \
    if (!(va_ == vb_))                                                         \
      ringcheck::fail (__FILE__, __LINE__,                                     \
                       std::string (#a " == " #b " (") + std::to_string (va_)  \
                           + " vs " + std::to_string (vb_) + ")");             \
  } while (0)
