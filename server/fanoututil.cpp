/* gst-fanout
 * Copyright (C) 2026 the gst-fanout authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2.1 of the License, or (at your option) any later version.
 */

/* fanout-rtsp-server: small helpers (fanoututil.h). */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "fanoututil.h"

#include <cstring>

namespace gstfanout
{

bool
element_exists (const char *name) noexcept
{
  GstElementFactory *f = gst_element_factory_find (name);
  if (!f)
    return false;
  gst_object_unref (f);
  return true;
}

std::string
quote (const std::string &s)
{
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\')
      out += '\\';
    out += c;
  }
  return out + "\"";
}

guint64
get_uint_prop (gpointer obj, const char *name) noexcept
{
  GParamSpec *ps
      = g_object_class_find_property (G_OBJECT_GET_CLASS (obj), name);
  if (!ps)
    return 0;
  GValue v = G_VALUE_INIT, u = G_VALUE_INIT;
  g_value_init (&v, ps->value_type);
  g_value_init (&u, G_TYPE_UINT64);
  g_object_get_property (G_OBJECT (obj), name, &v);
  guint64 r = 0;
  if (g_value_transform (&v, &u))
    r = g_value_get_uint64 (&u);
  g_value_unset (&v);
  g_value_unset (&u);
  return r;
}

/* Plain scanning, no GRegex: it is called from every client thread, and
 * GLib 2.74's PCRE2 JIT crashed under that (seen in the hostile test). */
std::string
redact (const std::string &in)
{
  std::string s = in;
  /* scheme://user:PASSWORD@host */
  for (size_t pos = 0; (pos = s.find ("://", pos)) != std::string::npos;) {
    size_t start = pos + 3;
    size_t end = s.find_first_of ("/?# \t\r\n\"'", start);
    if (end == std::string::npos)
      end = s.size ();
    size_t at = s.rfind ('@', end == 0 ? 0 : end - 1);
    if (at != std::string::npos && at >= start && at < end) {
      size_t colon = s.find (':', start);
      if (colon != std::string::npos && colon < at) {
        s.replace (colon + 1, at - colon - 1, "***");
        end = colon + 1 + 3 + (end - at);
      }
    }
    pos = end;
  }
  /* NAME=VALUE settings of launch descriptions */
  static const char *const keys[]
      = { "user-pw=", "proxy-pw=", "password=", "passwd=" };
  for (const char *k : keys) {
    size_t klen = strlen (k);
    for (size_t pos = 0; pos + klen <= s.size ();) {
      if (g_ascii_strncasecmp (s.c_str () + pos, k, klen) != 0
          || (pos > 0
              && (g_ascii_isalnum (s[pos - 1]) || s[pos - 1] == '-'
                  || s[pos - 1] == '_'))) {
        pos++;
        continue;
      }
      size_t v = pos + klen, e;
      if (v < s.size () && s[v] == '\\')
        v++;
      if (v < s.size () && (s[v] == '"' || s[v] == '\'')) {
        e = s.find (s[v], v + 1);
        e = e == std::string::npos ? s.size () : e + 1;
      } else {
        e = s.find_first_of (" \t\r\n", v);
        if (e == std::string::npos)
          e = s.size ();
      }
      s.replace (pos + klen, e - pos - klen, "***");
      pos += klen + 3;
    }
  }
  return s;
}

std::string
log_safe (const char *s, gsize max)
{
  std::string r;
  for (const char *p = s ? s : ""; *p && r.size () < max; p++)
    r += (guchar)*p < 0x20 || *p == 0x7f ? '?' : *p;
  if (s && strlen (s) > max)
    r += "...";
  return r;
}

} // namespace gstfanout
