/* gst-fanout
 * Copyright (C) 2026 the gst-fanout authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2.1 of the License, or (at your option) any later version.
 */

/* The status page at "/" and its WHEP client "/whep.js": one section per
 * mount (codec, clients, bitrate from /stats every 2 s), a muted <video>
 * that plays the mount over WHEP, the RTSP URL, an ffplay line, the
 * MPEG-TS URL for VLC and the HLS playlist. No framework, no CDN: the server
 * ships all of it. Each player shows how many frames it has decoded
 * (requestVideoFrameCallback) in data-frames, which the browser tests
 * read. */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "fanoutwhep.h"

#include <string>

namespace gstfanout
{

static std::string
html_escape (const std::string &s)
{
  std::string o;
  for (char c : s) {
    switch (c) {
    case '&':
      o += "&amp;";
      break;
    case '<':
      o += "&lt;";
      break;
    case '>':
      o += "&gt;";
      break;
    case '"':
      o += "&quot;";
      break;
    default:
      o += c;
    }
  }
  return o;
}

static const char kScript[]
    = R"JS(// fanout-rtsp-server WHEP player (served at /whep.js)
'use strict';
async function fanoutWhep(video, url) {
  const pc = new RTCPeerConnection();
  video.whepPc = pc; // for getStats() (the browser tests)
  pc.addTransceiver('video', { direction: 'recvonly' });
  // The mount's audio (Opus) when it has some; else the server rejects it.
  pc.addTransceiver('audio', { direction: 'recvonly' });
  const stream = new MediaStream();
  pc.ontrack = (e) => {
    stream.addTrack(e.track);
    if (video.srcObject !== stream) video.srcObject = stream;
    video.play().catch(() => {});
  };
  await pc.setLocalDescription(await pc.createOffer());
  await new Promise((done) => {
    if (pc.iceGatheringState === 'complete') return done();
    pc.addEventListener('icegatheringstatechange', () => {
      if (pc.iceGatheringState === 'complete') done();
    });
    setTimeout(done, 2000);
  });
  const res = await fetch(url, {
    method: 'POST', headers: { 'Content-Type': 'application/sdp' },
    body: pc.localDescription.sdp });
  if (res.status !== 201) throw new Error(res.status + ' ' + await res.text());
  const session = new URL(res.headers.get('Location'), url).href;
  await pc.setRemoteDescription({ type: 'answer', sdp: await res.text() });
  addEventListener('pagehide', () =>
    fetch(session, { method: 'DELETE', keepalive: true }));
  return { pc, session };
}
function fanoutCountFrames(video) {
  video.dataset.frames = '0';
  if (!video.requestVideoFrameCallback) return;
  const tick = (now, meta) => {
    video.dataset.frames = String(meta.presentedFrames);
    video.requestVideoFrameCallback(tick);
  };
  video.requestVideoFrameCallback(tick);
}
async function fanoutStats() {
  const prev = {};
  for (;;) {
    try {
      const st = await (await fetch('/stats')).json();
      const now = performance.now();
      for (const m of st.mounts) {
        const row = document.querySelector(`[data-mount="${m.path}"]`);
        if (!row) continue;
        const p = prev[m.path];
        const bytes = Math.max(m.bytes, m.webrtc_bytes || 0);
        if (p) row.querySelector('.kbps').textContent =
          Math.round((bytes - p.bytes) * 8 / (now - p.t)) + ' kbit/s';
        prev[m.path] = { bytes, t: now };
        row.querySelector('.clients').textContent = m.clients + ' RTSP, ' +
          (m.webrtc_viewers || 0) + ' WebRTC, ' + (m.http_viewers || 0) + ' HTTP';
      }
    } catch (e) { /* the next round tries again */ }
    await new Promise((r) => setTimeout(r, 2000));
  }
}
addEventListener('DOMContentLoaded', () => {
  for (const v of document.querySelectorAll('video[data-whep]')) {
    fanoutCountFrames(v);
    fanoutWhep(v, new URL(v.dataset.whep, location.href).href).catch((e) => {
      v.dataset.error = String(e);
      v.nextElementSibling.textContent = String(e);
    });
  }
  fanoutStats();
});
)JS";

const char *
status_page_script () noexcept
{
  return kScript;
}

std::string
status_page_html (Server &s, WebOutput *w, const std::string &req_host)
{
  std::string host = req_host;
  if (host.empty ())
    host = s.cfg.address == "0.0.0.0" || s.cfg.address == "::" ? "HOST"
                                                               : s.cfg.address;
  std::string o = "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
                  "<title>fanout-rtsp-server</title>"
                  "<style>body{font-family:sans-serif;margin:1em}"
                  "section{margin-bottom:2em}video{width:640px;max-width:100%;"
                  "background:#000}code{background:#eee;padding:0 .3em}"
                  ".err{color:#b00}</style>"
                  "<script src=\"/whep.js\"></script></head><body>"
                  "<h1>fanout-rtsp-server</h1>\n";
  for (auto &m : s.mounts) {
    std::string path = html_escape (m->cfg.path);
    int clients;
    {
      std::lock_guard<std::mutex> g (m->lock);
      clients = m->clients;
    }
    bool browser = m->codec == Codec::H264 || m->codec == Codec::Vp8;
    std::string rtsp
        = "rtsp://" + host + ":" + std::to_string (s.port) + m->cfg.path;
    std::string http = "http://" + host + ":" + std::to_string (s.http_port)
                       + m->cfg.path + ".ts";
    o += "<section data-mount=\"" + path + "\"><h2>" + path + "</h2><p>"
         + codec_name (m->codec) + " from source "
         + html_escape (m->source->cfg.name) + ", "
         + std::to_string (m->cfg.bitrate)
         + " kbit/s set, <span class=\"kbps\">-</span> measured; clients: "
           "<span class=\"clients\">"
         + std::to_string (clients) + " RTSP, "
         + std::to_string (web_output_n_viewers (w, m.get ())) + " WebRTC, "
         + std::to_string (web_output_n_http_viewers (w, m.get ()))
         + " HTTP</span></p>\n";
    if (browser)
      o += "<video muted autoplay playsinline controls data-whep=\"" + path
           + "/whep\"></video><p class=\"err\"></p>\n";
    else
      o += "<p>(" + std::string (codec_name (m->codec))
           + ": no browser player; use a mount with codec=h264)</p>\n";
    o += "<p>RTSP: <code>" + html_escape (rtsp)
         + "</code><br>ffplay: <code>ffplay -rtsp_transport tcp "
         + html_escape (rtsp) + "</code>";
    if (m->codec == Codec::H264) {
      std::string hls = "http://" + host + ":" + std::to_string (s.http_port)
                        + m->cfg.path + "/index.m3u8";
      o += "<br>VLC: <code>vlc " + html_escape (http)
           + "</code><br>HLS (Safari, iOS, VLC): <code>" + html_escape (hls)
           + "</code>";
    }
    o += "</p></section>\n";
  }
  o += "</body></html>\n";
  return o;
}

} // namespace gstfanout
