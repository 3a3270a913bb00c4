/* gst-fanout
 * Copyright (C) 2026 the gst-fanout authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2.1 of the License, or (at your option) any later version.
 */

/* fanout-rtsp-server: the mounts' media factory (fanoutfactory.h). */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "fanoutfactory.h"
#include "fanoutenv.h"

#define GST_CAT_DEFAULT fanout_server_debug

namespace gstfanout
{

/* gst-rtsp-server caches a shared media under a key made of the request
 * URL's port, path and query: a query string, a SETUP without DESCRIBE
 * (path ".../stream=0", the client's cache empty) or a second session on
 * one connection each built a second media of the mount. A mount is one
 * live view whatever the URL says: the key is the mount's, and changes
 * only when the server retires a media that failed (fanout_media_factory_
 * retire), so that new clients are not handed a broken one. */
struct FanoutMediaFactory {
  GstRTSPMediaFactory parent;
  gchar *path;     /* the mount's path (owned) */
  gint generation; /* g_atomic_int: bumped by retire */
};

struct FanoutMediaFactoryClass {
  GstRTSPMediaFactoryClass parent_class;
};

static GType fanout_media_factory_get_type (void);
#define FANOUT_TYPE_MEDIA_FACTORY (fanout_media_factory_get_type ())
#define FANOUT_MEDIA_FACTORY(obj)                                              \
  (G_TYPE_CHECK_INSTANCE_CAST ((obj), FANOUT_TYPE_MEDIA_FACTORY,               \
                               FanoutMediaFactory))

G_DEFINE_TYPE (FanoutMediaFactory, fanout_media_factory,
               GST_TYPE_RTSP_MEDIA_FACTORY)

static gchar *
fanout_media_factory_gen_key (GstRTSPMediaFactory *factory,
                              const GstRTSPUrl *) noexcept
{
  FanoutMediaFactory *self = FANOUT_MEDIA_FACTORY (factory);
  return g_strdup_printf ("%s#%d", self->path,
                          g_atomic_int_get (&self->generation));
}

static void
fanout_media_factory_finalize (GObject *object) noexcept
{
  g_free (FANOUT_MEDIA_FACTORY (object)->path);
  G_OBJECT_CLASS (fanout_media_factory_parent_class)->finalize (object);
}

/* No launch line yet: the mount's source is not up. No media makes
 * gst-rtsp-server answer 503 Service Unavailable (the default would log a
 * critical warning for the missing launch line and answer 400). */
static GstRTSPMedia *
fanout_media_factory_construct (GstRTSPMediaFactory *factory,
                                const GstRTSPUrl *url) noexcept
{
  gchar *launch = gst_rtsp_media_factory_get_launch (factory);
  if (!launch) {
    GST_DEBUG ("mount %s: source not up yet",
               FANOUT_MEDIA_FACTORY (factory)->path);
    return nullptr;
  }
  g_free (launch);
  return GST_RTSP_MEDIA_FACTORY_CLASS (fanout_media_factory_parent_class)
      ->construct (factory, url);
}

static void
fanout_media_factory_class_init (FanoutMediaFactoryClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = fanout_media_factory_finalize;
  GST_RTSP_MEDIA_FACTORY_CLASS (klass)->gen_key = fanout_media_factory_gen_key;
  GST_RTSP_MEDIA_FACTORY_CLASS (klass)->construct
      = fanout_media_factory_construct;
}

static void
fanout_media_factory_init (FanoutMediaFactory *)
{
}

void
fanout_media_factory_retire (GstRTSPMediaFactory *factory) noexcept
{
  g_atomic_int_inc (&FANOUT_MEDIA_FACTORY (factory)->generation);
}

GstRTSPMediaFactory *
fanout_media_factory_new (const std::string &path) noexcept
{
  auto *f = static_cast<FanoutMediaFactory *> (
      g_object_new (FANOUT_TYPE_MEDIA_FACTORY, nullptr));
  f->path = g_strdup (path.c_str ());
  return GST_RTSP_MEDIA_FACTORY (f);
}

} // namespace gstfanout
