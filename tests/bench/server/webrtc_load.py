#!/usr/bin/python3
# WebRTC (WHEP) viewers vs server CPU/RSS, and join time, for
# docs/benchmarks/webrtc.md. Runs in a loopback-only network namespace of
# its own (root), the fanout-rtsp-server binary against a light client:
# one Python process holding N GStreamer webrtcbin receivers (recvonly
# H.264, no decoding: each viewer's packets are counted on webrtcbin's
# src pad).
#
#   flock /work/bench.lock /usr/bin/python3 tests/bench/server/webrtc_load.py \
#       build/server/fanout-rtsp-server [N...]      (default 1 10 50)
#
# FANOUT_WHEP_OWN_PAYLOADER=1 runs the comparison: the server gives each
# viewer its own payloader on the encode instead of the shared payloading
# (FANOUT_BENCH_NO_BROWSER=1 skips the Chromium joins). FANOUT_BENCH_OUT:
# where the JSON results go.
#
# Join time: POST of the offer -> first RTP packet out of the viewer's
# webrtcbin (after ICE + DTLS), and -> first keyframe packet (the first
# packet of a frame without DELTA_UNIT... approximated by the first
# packet carrying an SPS NAL, which the server's payloader sends before
# every IDR). Server CPU: utime+stime of the server process over a 10 s
# window with all N receiving; RSS from /proc/PID/status.
import json
import os
import sys
import threading
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..', '..', 'check', 'server'))
import browser  # noqa: E402
import netns  # noqa: E402

import gi  # noqa: E402
gi.require_version('Gst', '1.0')
gi.require_version('GstWebRTC', '1.0')
gi.require_version('GstSdp', '1.0')
from gi.repository import GLib, Gst, GstSdp, GstWebRTC  # noqa: E402

URL = 'http://127.0.0.1:8080/live/whep'
CLK = os.sysconf('SC_CLK_TCK')


class Viewer:
    def __init__(self, idx, done):
        self.idx = idx
        self.done = done
        self.packets = 0
        self.bytes = 0
        self.t_post = None
        self.t_first = None
        self.t_key = None
        self.pipe = Gst.Pipeline.new('v%d' % idx)
        self.wb = Gst.ElementFactory.make('webrtcbin')
        self.wb.set_property('bundle-policy', 'max-bundle')
        self.pipe.add(self.wb)
        # libnice skips loopback addresses: name it. PyGObject drops a
        # reference of the agent with its wrapper: keep the wrapper.
        self.ice = self.wb.get_property('ice-agent')
        self.ice.emit('add-local-ip-address', '127.0.0.1')
        caps = Gst.Caps.from_string(
            'application/x-rtp,media=video,encoding-name=H264,'
            'clock-rate=90000,payload=102,packetization-mode=(string)1,'
            'profile-level-id=(string)42e01f')
        self.wb.emit('add-transceiver',
                     GstWebRTC.WebRTCRTPTransceiverDirection.RECVONLY, caps)
        self.wb.connect('pad-added', self.on_pad)
        self.wb.connect('notify::ice-gathering-state', self.on_gather)
        self.posted = False
        self.pipe.set_state(Gst.State.PLAYING)
        p = Gst.Promise.new_with_change_func(self.on_offer, None)
        self.wb.emit('create-offer', None, p)

    def on_offer(self, promise, _):
        reply = promise.get_reply()
        offer = reply.get_value("offer") if reply else None
        if offer is None:
            print("viewer %d: no offer: %s" % (self.idx, reply), flush=True)
            return
        self.wb.emit('set-local-description', offer, None)
        GLib.timeout_add(1000, self.post)

    def on_gather(self, wb, _):
        if wb.get_property('ice-gathering-state') == \
                GstWebRTC.WebRTCICEGatheringState.COMPLETE:
            GLib.idle_add(self.post)

    def post(self):
        if self.posted:
            return False
        self.posted = True
        threading.Thread(target=self._post, daemon=True).start()
        return False

    def _post(self):
        sdp = self.wb.get_property('local-description').sdp.as_text()
        # This client takes the DTLS client role (the server answers
        # passive): as a passive peer, webrtcbin 1.22 loses the server's
        # first ClientHellos and the handshake waits out ~15 s of
        # retransmission backoff (browsers do not).
        sdp = sdp.replace('a=setup:actpass', 'a=setup:active')
        self.t_post = time.monotonic()
        req = urllib.request.Request(URL, data=sdp.encode(), method='POST',
                                     headers={'Content-Type':
                                              'application/sdp'})
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                answer = r.read().decode()
        except Exception as e:
            print('viewer %d: POST failed: %s' % (self.idx, e), flush=True)
            self.done.release()
            return
        _, msg = GstSdp.SDPMessage.new_from_text(answer)
        desc = GstWebRTC.WebRTCSessionDescription.new(
            GstWebRTC.WebRTCSDPType.ANSWER, msg)
        self.wb.emit('set-remote-description', desc, None)
        self.done.release()

    def on_pad(self, wb, pad):
        sink = Gst.ElementFactory.make('fakesink')
        sink.set_property('sync', False)
        self.pipe.add(sink)
        sink.sync_state_with_parent()
        pad.link(sink.get_static_pad('sink'))
        pad.add_probe(Gst.PadProbeType.BUFFER, self.on_buffer)

    def on_buffer(self, pad, info):
        buf = info.get_buffer()
        now = time.monotonic()
        if self.t_first is None:
            self.t_first = now
        if self.t_key is None:
            ok, m = buf.map(Gst.MapFlags.READ)
            if ok:
                data = m.data
                cc = data[0] & 0x0f
                off = 12 + 4 * cc
                if data[0] & 0x10 and len(data) > off + 4:  # extension
                    off += 4 + 4 * int.from_bytes(data[off + 2:off + 4], 'big')
                if len(data) > off:
                    nal = data[off] & 0x1f
                    if nal == 24 and len(data) > off + 3:  # STAP-A
                        nal = data[off + 3] & 0x1f
                    if nal in (5, 7):
                        self.t_key = now
                buf.unmap(m)
        self.packets += 1
        self.bytes += buf.get_size()
        return Gst.PadProbeReturn.OK

    def stop(self):
        self.pipe.set_state(Gst.State.NULL)
        KEEP.append(self.ice)


KEEP = []  # see Viewer.__init__


def cpu_ticks(pid):
    with open('/proc/%d/stat' % pid) as f:
        fields = f.read().rsplit(')', 1)[1].split()
    return int(fields[11]) + int(fields[12])


def status(pid, key):
    with open('/proc/%d/status' % pid) as f:
        for line in f:
            if line.startswith(key + ':'):
                return int(line.split()[1])
    return 0


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, max(0, int(round(p * len(v) + 0.5)) - 1))]


JOIN_JS = """(async () => {
  const v = document.createElement('video');
  v.muted = true; v.autoplay = true; document.body.appendChild(v);
  const first = new Promise((r) => v.requestVideoFrameCallback(r));
  const t0 = performance.now();
  const s = await fanoutWhep(v, location.origin + '/live/whep');
  const tAnswer = performance.now();
  await Promise.race([first, new Promise((r) => setTimeout(r, 10000))]);
  const t1 = performance.now();
  s.pc.close();
  await fetch(s.session, { method: 'DELETE' });
  v.remove();
  return [tAnswer - t0, t1 - t0];
})()"""


def browser_joins(n):
    """Chromium on the status page origin: n joins one after another, each
    after a random 0.1-2 s pause (a random point of the GOP): createOffer
    -> first frame presented (requestVideoFrameCallback)."""
    import random
    exe = browser.find_chromium()
    if not exe:
        return None
    b = browser.Browser(exe, '/tmp/webrtc_load-chrome.log')
    try:
        tab = b.open_tab('http://127.0.0.1:8080/')
        time.sleep(3)
        answer, frame = [], []
        for _ in range(n):
            time.sleep(random.uniform(0.1, 2.0))
            a, f = b.evaluate(tab, JOIN_JS, timeout=30)
            answer.append(a)
            frame.append(f)
        return {'joins': n,
                'offer_to_answer_p50_ms': round(pct(answer, 0.5)),
                'offer_to_answer_p95_ms': round(pct(answer, 0.95)),
                'offer_to_first_frame_p50_ms': round(pct(frame, 0.5)),
                'offer_to_first_frame_p95_ms': round(pct(frame, 0.95)),
                'first_frame_ms': [round(x) for x in frame]}
    finally:
        b.close()


def main():
    server = sys.argv[1] if len(sys.argv) > 1 else None
    steps = [int(a) for a in sys.argv[2:]] or [1, 10, 50]
    if server:
        os.environ['FANOUT_RTSP_SERVER'] = os.path.abspath(server)
    netns.enter('webrtc_load', __file__)
    Gst.init(None)
    srv = netns.Server('webrtc_load', [
        '--source', 'cam=test:640x360@30', '--mount',
        '/live=cam,codec=h264,bitrate=1000,gop=2', '--quiet'])
    loop = GLib.MainLoop()
    threading.Thread(target=loop.run, daemon=True).start()
    viewers = []
    results = {'machine': os.uname().nodename, 'nproc': os.cpu_count(),
               'steps': []}
    try:
        for n in steps:
            done = threading.Semaphore(0)
            new = []
            while len(viewers) < n:
                v = Viewer(len(viewers), done)
                viewers.append(v)
                new.append(v)
                done.acquire(timeout=30)
                time.sleep(0.3)  # joins one after another
            # webrtcbin-to-webrtcbin DTLS takes ~15 s here (retransmission
            # backoff; Chromium connects in < 1 s): wait for media.
            end = time.monotonic() + 45
            while time.monotonic() < end and not all(v.t_first
                                                     for v in viewers):
                time.sleep(0.5)
            time.sleep(2)
            pid = srv.proc.pid
            load0 = os.getloadavg()[0]
            t0, c0 = time.monotonic(), cpu_ticks(pid)
            p0 = sum(v.packets for v in viewers)
            b0 = sum(v.bytes for v in viewers)
            time.sleep(10)
            t1, c1 = time.monotonic(), cpu_ticks(pid)
            p1 = sum(v.packets for v in viewers)
            b1 = sum(v.bytes for v in viewers)
            joins = [v.t_first - v.t_post for v in new if v.t_first]
            keys = [v.t_key - v.t_post for v in new if v.t_key]
            silent = sum(1 for v in viewers if not v.t_first)
            step = {
                'viewers': n,
                'server_cpu_cores': round((c1 - c0) / CLK / (t1 - t0), 3),
                'server_rss_mb': round(status(pid, 'VmRSS') / 1024, 1),
                'server_threads': status(pid, 'Threads'),
                'packets_per_s': round((p1 - p0) / (t1 - t0)),
                'mbit_per_s': round((b1 - b0) * 8 / (t1 - t0) / 1e6, 2),
                'viewers_without_media': silent,
                'joins': len(new),
                'join_first_packet_p50_ms': round(pct(joins, 0.5) * 1000)
                if joins else None,
                'join_first_packet_p95_ms': round(pct(joins, 0.95) * 1000)
                if joins else None,
                'join_keyframe_p50_ms': round(pct(keys, 0.5) * 1000)
                if keys else None,
                'join_keyframe_p95_ms': round(pct(keys, 0.95) * 1000)
                if keys else None,
                'loadavg_1min_at_start': load0,
            }
            print(json.dumps(step), flush=True)
            results['steps'].append(step)
        for v in viewers:
            v.stop()
        viewers = []
        results['own_payloader'] = os.environ.get(
            'FANOUT_WHEP_OWN_PAYLOADER') == '1'
        if not os.environ.get('FANOUT_BENCH_NO_BROWSER'):
            results['browser_join'] = browser_joins(20)
            print(json.dumps(results['browser_join']), flush=True)
    finally:
        for v in viewers:
            v.stop()
        loop.quit()
        srv.stop()
    out = os.environ.get('FANOUT_BENCH_OUT')
    if out:
        with open(out, 'w') as f:
            json.dump(results, f, indent=1)


if __name__ == '__main__':
    main()
