/* gst-fanout
 * Copyright (C) 2026 the gst-fanout authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2.1 of the License, or (at your option) any later version.
 */

/* Move-only RAII holders for GStreamer references and GLib locks, shared by
 * the plugin and the server. Ownership handed to GStreamer is spelled out
 * with release (): gst_pad_push (pad, buf.release ()). */

#pragma once

#include <gst/gst.h>

#include <utility>

namespace gstfanout
{

/* An owned reference to a GstMiniObject subtype (GstBuffer, GstBufferList,
 * GstEvent, GstCaps, GstQuery, GstMessage, ...). */
template <typename T> class MiniRef
{
public:
  MiniRef () noexcept = default;
  /* Takes ownership of @obj (transfer full). */
  explicit MiniRef (T *obj) noexcept : obj_ (obj) {}
  MiniRef (const MiniRef &) = delete;
  MiniRef &operator= (const MiniRef &) = delete;
  MiniRef (MiniRef &&o) noexcept : obj_ (std::exchange (o.obj_, nullptr)) {}
  MiniRef &operator= (MiniRef &&o) noexcept
  {
    if (this != &o)
      reset (std::exchange (o.obj_, nullptr));
    return *this;
  }
  ~MiniRef () { reset (); }

  /* Takes a new reference on @obj (transfer none). */
  static MiniRef ref (T *obj) noexcept
  {
    if (obj)
      gst_mini_object_ref (GST_MINI_OBJECT_CAST (obj));
    return MiniRef (obj);
  }

  T *get () const noexcept { return obj_; }
  T *operator->() const noexcept { return obj_; }
  explicit operator bool () const noexcept { return obj_ != nullptr; }

  /* Gives up ownership: the caller now owns the reference. */
  T *release () noexcept { return std::exchange (obj_, nullptr); }

  void reset (T *obj = nullptr) noexcept
  {
    T *old = std::exchange (obj_, obj);
    if (old)
      gst_mini_object_unref (GST_MINI_OBJECT_CAST (old));
  }

private:
  T *obj_ = nullptr;
};

/* An owned reference to a GstObject subtype (GstElement, GstPad, GstClock,
 * GstBus, ...). */
template <typename T> class ObjRef
{
public:
  ObjRef () noexcept = default;
  explicit ObjRef (T *obj) noexcept : obj_ (obj) {}
  ObjRef (const ObjRef &) = delete;
  ObjRef &operator= (const ObjRef &) = delete;
  ObjRef (ObjRef &&o) noexcept : obj_ (std::exchange (o.obj_, nullptr)) {}
  ObjRef &operator= (ObjRef &&o) noexcept
  {
    if (this != &o)
      reset (std::exchange (o.obj_, nullptr));
    return *this;
  }
  ~ObjRef () { reset (); }

  static ObjRef ref (T *obj) noexcept
  {
    if (obj)
      gst_object_ref (obj);
    return ObjRef (obj);
  }

  T *get () const noexcept { return obj_; }
  T *operator->() const noexcept { return obj_; }
  explicit operator bool () const noexcept { return obj_ != nullptr; }
  T *release () noexcept { return std::exchange (obj_, nullptr); }

  void reset (T *obj = nullptr) noexcept
  {
    T *old = std::exchange (obj_, obj);
    if (old)
      gst_object_unref (old);
  }

private:
  T *obj_ = nullptr;
};

/* Scoped GMutex lock, for the few places that use GLib's locks. */
class GMutexLock
{
public:
  explicit GMutexLock (GMutex *m) noexcept : m_ (m) { g_mutex_lock (m_); }
  GMutexLock (const GMutexLock &) = delete;
  GMutexLock &operator= (const GMutexLock &) = delete;
  ~GMutexLock () { g_mutex_unlock (m_); }

private:
  GMutex *m_;
};

} // namespace gstfanout
