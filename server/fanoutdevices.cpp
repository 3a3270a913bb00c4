/* gst-fanout
 * Copyright (C) 2026 the gst-fanout authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2.1 of the License, or (at your option) any later version.
 */

/* fanout-rtsp-server: cameras (fanoutdevices.h). */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "fanoutdevices.h"
#include "fanoutserver.h"

#include <set>

namespace gstfanout
{

/* Opens camera @device once (for source @source) and reads which of the
 * encodings it offers itself. A busy or broken camera fails here. */
bool
camera_probe (const std::string &device, const std::string &source, bool *h264,
              bool *jpeg, GError **error) noexcept
{
  GstElement *src = gst_element_factory_make ("v4l2src", nullptr);
  if (!src) {
    g_set_error (error, FANOUT_SERVER_ERROR, FANOUT_SERVER_ERROR_MISSING,
                 "cannot create v4l2src: install gstreamer1.0-plugins-good");
    return false;
  }
  g_object_set (src, "device", device.c_str (), nullptr);
  if (gst_element_set_state (src, GST_STATE_READY)
      == GST_STATE_CHANGE_FAILURE) {
    gst_element_set_state (src, GST_STATE_NULL);
    gst_object_unref (src);
    g_set_error (error, FANOUT_SERVER_ERROR, FANOUT_SERVER_ERROR_MISSING,
                 "cannot open camera %s for source %s (busy or not a "
                 "camera): close the program using it, or pick another "
                 "device from --list-devices",
                 device.c_str (), source.c_str ());
    return false;
  }
  GstPad *pad = gst_element_get_static_pad (src, "src");
  GstCaps *caps = gst_pad_query_caps (pad, nullptr);
  *h264 = *jpeg = false;
  for (guint i = 0; i < gst_caps_get_size (caps); i++) {
    const char *n = gst_structure_get_name (gst_caps_get_structure (caps, i));
    *h264 = *h264 || g_str_equal (n, "video/x-h264");
    *jpeg = *jpeg || g_str_equal (n, "image/jpeg");
  }
  gst_caps_unref (caps);
  gst_object_unref (pad);
  gst_element_set_state (src, GST_STATE_NULL);
  gst_object_unref (src);
  return true;
}

} // namespace gstfanout

void
fanout_server_list_devices (void)
{
  GstDeviceMonitor *mon = gst_device_monitor_new ();
  gst_device_monitor_add_filter (mon, "Video/Source", nullptr);
  if (!gst_device_monitor_start (mon)) {
    g_print ("No camera monitor available (is v4l2 supported?)\n");
    gst_object_unref (mon);
    return;
  }
  GList *devs = gst_device_monitor_get_devices (mon);
  if (!devs)
    g_print ("No cameras found.\n");
  for (GList *l = devs; l; l = l->next) {
    GstDevice *d = GST_DEVICE (l->data);
    gchar *name = gst_device_get_display_name (d);
    GstStructure *props = gst_device_get_properties (d);
    const char *path
        = props ? gst_structure_get_string (props, "device.path") : nullptr;
    GstCaps *caps = gst_device_get_caps (d);
    std::set<std::string> formats;
    for (guint i = 0; caps && i < gst_caps_get_size (caps); i++)
      formats.insert (
          gst_structure_get_name (gst_caps_get_structure (caps, i)));
    std::string fl;
    for (auto &f : formats)
      fl += (fl.empty () ? "" : ", ") + f;
    g_print ("%s\n  --source cam=v4l2:%s\n  formats: %s\n", name,
             path ? path : "?", fl.c_str ());
    if (caps)
      gst_caps_unref (caps);
    if (props)
      gst_structure_free (props);
    g_free (name);
  }
  g_list_free_full (devs, gst_object_unref);
  gst_device_monitor_stop (mon);
  gst_object_unref (mon);
}
