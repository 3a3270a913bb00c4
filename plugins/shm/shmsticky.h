/* gst-fanout
 * Copyright (C) 2026 the gst-fanout authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2.1 of the License, or (at your option) any later version.
 */

/* The sticky blob the shm elements exchange: key/value string pairs, each
 * string NUL-terminated ("caps\0video/x-raw,...\0tags\0...\0"). Keys used:
 * "caps" (gst_caps_to_string), "tags" (gst_tag_list_to_string),
 * "stream-id". The parser never reads past the blob and ignores keys it
 * does not know. */

#pragma once

#include <string>
#include <utility>
#include <vector>

namespace gstfanout::shm
{

using StickyFields = std::vector<std::pair<std::string, std::string>>;

inline std::string
sticky_encode (const StickyFields &fields)
{
  std::string out;
  for (auto &kv : fields) {
    out.append (kv.first);
    out.push_back ('\0');
    out.append (kv.second);
    out.push_back ('\0');
  }
  return out;
}

/* Returns the value of @key in @blob, or false. */
inline bool
sticky_lookup (const std::string &blob, const char *key, std::string *value)
{
  size_t pos = 0;
  while (pos < blob.size ()) {
    size_t kend = blob.find ('\0', pos);
    if (kend == std::string::npos)
      return false;
    size_t vend = blob.find ('\0', kend + 1);
    if (vend == std::string::npos)
      return false;
    if (blob.compare (pos, kend - pos, key) == 0) {
      value->assign (blob, kend + 1, vend - kend - 1);
      return true;
    }
    pos = vend + 1;
  }
  return false;
}

} // namespace gstfanout::shm
