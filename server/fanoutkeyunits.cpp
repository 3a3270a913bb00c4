/* gst-fanout
 * Copyright (C) 2026 the gst-fanout authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2.1 of the License, or (at your option) any later version.
 */

/* fanout-rtsp-server: a mount's keyframe authority (fanoutkeyunits.h). */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "fanoutkeyunits.h"

#include <gst/video/video.h>

#include <chrono>
#include <utility>

#include "gstfanoutraii.h"

#define GST_CAT_DEFAULT fanout_server_debug

namespace gstfanout
{

KeyUnits::KeyUnits (Runner *encoder, guint interval_ms) noexcept
    : encoder_ (encoder),
      interval_us_ ((gint64)interval_ms * G_TIME_SPAN_MILLISECOND)
{
}

KeyUnits::~KeyUnits ()
{
  stop ();
}

void
KeyUnits::encoded () noexcept
{
  {
    std::lock_guard<std::mutex> g (wait_lock_);
    encoded_.fetch_add (1, std::memory_order_relaxed); /* under the lock */
  }
  wait_cond_.notify_all ();
}

void
KeyUnits::published (gint64 now_us) noexcept
{
  newest_published_us_.store (now_us, std::memory_order_relaxed);
  {
    std::lock_guard<std::mutex> g (wait_lock_);
    published_.fetch_add (1, std::memory_order_relaxed); /* under the lock */
  }
  wait_cond_.notify_all ();
}

void
KeyUnits::published_reset () noexcept
{
  newest_published_us_.store (0, std::memory_order_relaxed);
}

guint64
KeyUnits::n_encoded () const noexcept
{
  return encoded_.load (std::memory_order_relaxed);
}

guint64
KeyUnits::n_published () const noexcept
{
  return published_.load (std::memory_order_relaxed);
}

guint64
KeyUnits::n_requests () const noexcept
{
  return requests_.load (std::memory_order_relaxed);
}

gint64
KeyUnits::interval_us () const noexcept
{
  return interval_us_;
}

bool
KeyUnits::published_fresh () const noexcept
{
  gint64 t = newest_published_us_.load (std::memory_order_relaxed);
  return t && g_get_monotonic_time () - t <= interval_us_ / 2;
}

gboolean
KeyUnits::deferred_cb (gpointer data) noexcept
{
  auto *k = static_cast<KeyUnits *> (data);
  {
    std::lock_guard<std::mutex> g (k->lock_);
    /* stop () took it away (and its reference) first */
    if (k->deferred_ != g_main_current_source ())
      return G_SOURCE_REMOVE;
    g_source_unref (std::exchange (k->deferred_, nullptr));
    k->last_request_us_ = g_get_monotonic_time ();
    k->encoded_at_request_ = k->encoded_.load (std::memory_order_relaxed);
  }
  k->send_request ();
  return G_SOURCE_REMOVE;
}

guint64
KeyUnits::request (bool bounded) noexcept
{
  if (encoder_->desc.empty ())
    return n_encoded ();
  {
    /* not running (starting again): nothing to ask */
    ObjRef<GstElement> running (encoder_->ref_pipeline ());
    if (!running)
      return n_encoded ();
  }
  gint64 now = g_get_monotonic_time ();
  guint64 mark;
  {
    std::lock_guard<std::mutex> g (lock_);
    if (bounded && last_request_us_ && now - last_request_us_ < interval_us_) {
      /* One was asked for less than an interval ago. Still to come: this
       * viewer shares it. Already out: ask again when the interval is over
       * (viewers joining until then share that one). */
      if (n_encoded () > encoded_at_request_ && !deferred_) {
        gint64 wait_ms = (last_request_us_ + interval_us_ - now) / 1000 + 1;
        deferred_ = g_timeout_source_new ((guint)wait_ms);
        g_source_set_callback (deferred_, deferred_cb, this, nullptr);
        g_source_attach (deferred_, encoder_->env->context);
      }
      return encoded_at_request_;
    }
    if (bounded)
      last_request_us_ = now;
    mark = encoded_at_request_ = n_encoded ();
  }
  send_request ();
  return mark;
}

/* The force-key-unit event to the encoder (no lock held). */
void
KeyUnits::send_request () noexcept
{
  ObjRef<GstElement> pipeline (encoder_->ref_pipeline ());
  if (!pipeline)
    return;
  GstElement *enc = gst_bin_get_by_name (GST_BIN (pipeline.get ()), "enc");
  if (!enc)
    return;
  GstPad *pad = gst_element_get_static_pad (enc, "src");
  requests_.fetch_add (1, std::memory_order_relaxed); /* counter */
  gst_pad_send_event (pad, gst_video_event_new_upstream_force_key_unit (
                               GST_CLOCK_TIME_NONE, TRUE, 0));
  gst_object_unref (pad);
  gst_object_unref (enc);
}

bool
KeyUnits::wait_encoded_after (guint64 mark, gint64 timeout_us) noexcept
{
  std::unique_lock<std::mutex> lk (wait_lock_);
  return wait_cond_.wait_for (lk, std::chrono::microseconds (timeout_us),
                              [this, mark] { return n_encoded () > mark; });
}

bool
KeyUnits::wait_published_after (guint64 mark, gint64 timeout_us) noexcept
{
  std::unique_lock<std::mutex> lk (wait_lock_);
  return wait_cond_.wait_for (lk, std::chrono::microseconds (timeout_us),
                              [this, mark] { return n_published () > mark; });
}

void
KeyUnits::stop () noexcept
{
  GSource *d;
  {
    std::lock_guard<std::mutex> g (lock_);
    d = std::exchange (deferred_, nullptr);
  }
  if (d) {
    g_source_destroy (d);
    g_source_unref (d);
  }
}

} // namespace gstfanout
