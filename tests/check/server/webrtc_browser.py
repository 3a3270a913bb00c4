#!/usr/bin/python3
# WebRTC (WHEP) and the status page with a real browser: headless Chromium
# in a loopback-only network namespace (unshare --net), against the
# fanout-rtsp-server binary ($FANOUT_RTSP_SERVER).
#
#  1. 8 tabs of the status page at once: each one's player (WHEP) decodes
#     >= 100 frames (requestVideoFrameCallback, read over DevTools);
#  2. bad offers (not SDP; no H.264; an offer webrtcbin refuses; a mount
#     browsers cannot decode) get a 4xx each, and a viewer that vanishes
#     (its browser killed: no DELETE, no BYE) is removed by the server,
#     while the 8 keep decoding;
#  3. a screenshot of a status page shows moving video (not blank);
#  4. DELETE of a session ends it; its answer's UDP candidates are in the
#     --webrtc-ports range;
#  5. with --user, the browser outputs ask for the RTSP users (as /metrics
#     and /stats do).
# Exit 77 (skipped) with one line saying why when it cannot run here.
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import browser  # noqa: E402
import netns  # noqa: E402

VIEWERS = 8
FRAMES = 100
OUT = os.environ.get('FANOUT_TEST_OUT', '/tmp')
NAME = 'webrtc_browser'
SRV = None


def log(*a):
    print('[%6.1f]' % (time.monotonic() - T0), *a, flush=True)


def http(method, path, body=None, ctype=None):
    return SRV.http(method, path, body, ctype)


def mount_stats(path='/live'):
    return SRV.mount(path)


# A player that has not counted yet has no data-frames (NaN, JSON null): 0.
FRAMES_JS = ("Array.from(document.querySelectorAll('video[data-whep]'))"
             ".map(v => [+(v.dataset.frames || 0), v.dataset.error || ''])")


def frames(b, tab):
    r = b.evaluate(tab, FRAMES_JS)
    if r and r[0][1]:
        raise AssertionError('player error: ' + r[0][1])
    return r[0][0] if r else 0


def wait_frames(b, tabs, base, want, deadline, what):
    while True:
        now = [frames(b, t) for t in tabs]
        if all(n - b0 >= want for n, b0 in zip(now, base)):
            log(what, 'frames', now)
            return now
        if time.monotonic() > deadline:
            raise AssertionError('%s: frames %s, wanted %d more than %s'
                                 % (what, now, want, base))
        time.sleep(0.5)


def main():
    global SRV
    exe = browser.find_chromium()
    if not exe:
        netns.skip(NAME, 'no Chromium (install chromium-headless-shell)')
    netns.enter(NAME, __file__)
    try:
        from PIL import Image, ImageStat  # noqa: F401
    except ImportError:
        netns.skip(NAME, 'no PIL (python3-pil) to check the screenshot')
    SRV = netns.Server(NAME, [
        '--source', 'cam=test:640x360@30', '--mount', '/live=cam',
        '--mount', '/mjpeg=cam,codec=mjpeg', '--webrtc-ports', '40000-40400'])
    HTTP = SRV.base
    browsers = []
    try:
        chrome_log = os.path.join(OUT, NAME + '-chrome.log')
        b = browser.Browser(exe, chrome_log)
        browsers.append(b)
        b.call('Target.setDiscoverTargets', {'discover': False})

        # 1. Eight viewers at once.
        tabs = [b.open_tab(HTTP + '/') for _ in range(VIEWERS)]
        log('opened', len(tabs), 'tabs')
        base = wait_frames(b, tabs, [0] * VIEWERS, FRAMES,
                           time.monotonic() + 40, 'eight viewers')
        assert mount_stats()['webrtc_viewers'] == VIEWERS, mount_stats()

        # 2. Bad offers, each refused clearly, while the eight play.
        st, body, _ = http('POST', '/live/whep', b'hello', 'application/sdp')
        assert st == 400, (st, body)
        st, body, _ = http('POST', '/live/whep', b'v=0', 'text/plain')
        assert st == 415, (st, body)
        offer = b.evaluate(tabs[0], """(async () => {
            const pc = new RTCPeerConnection();
            pc.addTransceiver('video', {direction: 'recvonly'});
            const o = await pc.createOffer(); pc.close(); return o.sdp; })()""")
        vp8_only = '\r\n'.join(
            l for l in offer.split('\r\n')
            if not any(k in l for k in ('H264', 'packetization-mode')))
        st, body, _ = http('POST', '/live/whep', vp8_only.encode(),
                           'application/sdp')
        assert st == 406 and 'H264' in body, (st, body)
        st, body, _ = http('POST', '/mjpeg/whep', offer.encode(),
                           'application/sdp')
        assert st == 406 and 'mjpeg' in body, (st, body)
        broken = '\r\n'.join(l for l in offer.split('\r\n')
                             if not l.startswith(('a=ice-ufrag',
                                                  'a=fingerprint',
                                                  'a=ice-pwd')))
        st, body, _ = http('POST', '/live/whep', broken.encode(),
                           'application/sdp')
        log('offer without ICE credentials nor fingerprint:', st,
            body.strip())
        assert st == 400, (st, body)
        log('bad offers refused')

        # ... and a viewer that vanishes.
        b2 = browser.Browser(exe, chrome_log)
        browsers.append(b2)
        t2 = b2.open_tab(HTTP + '/')
        wait_frames(b2, [t2], [0], 30, time.monotonic() + 30, 'doomed viewer')
        b2.kill()
        log('killed the doomed viewer\'s browser')
        after = [frames(b, t) for t in tabs]
        deadline = time.monotonic() + 60
        while mount_stats()['webrtc_viewers'] > VIEWERS:
            if time.monotonic() > deadline:
                raise AssertionError('the vanished viewer was not removed: %s'
                                     % mount_stats())
            time.sleep(1)
        log('vanished viewer removed by the server')
        wait_frames(b, tabs, after, FRAMES, time.monotonic() + 30,
                    'eight viewers after bad offers and a vanished one')

        # 3. The status page's player shows video.
        rect = b.evaluate(tabs[0], """(() => {
            const r = document.querySelector('video[data-whep]')
                .getBoundingClientRect();
            return [r.x, r.y, r.width, r.height]; })()""")
        png = b.screenshot(tabs[0])
        path = os.path.join(OUT, NAME + '-status.png')
        with open(path, 'wb') as f:
            f.write(png)
        from PIL import Image, ImageStat
        img = Image.open(path).convert('L')
        x, y, w, h = [int(v) for v in rect]
        video = img.crop((x, y, x + w, y + h))
        sd = ImageStat.Stat(video).stddev[0]
        log('screenshot', path, 'video area', rect, 'stddev', round(sd, 1))
        assert sd > 10, 'the player looks blank (stddev %.1f)' % sd

        # 4. DELETE ends a session (the page's own one goes on pagehide).
        stat, body, hdrs = http('POST', '/live/whep', offer.encode(),
                                'application/sdp')
        assert stat == 201, (stat, body)
        loc = hdrs['Location']
        assert loc.startswith('/live/whep/'), loc
        # --webrtc-ports 40000-40400: the answer's UDP candidates use it.
        ports = [int(l.split()[5]) for l in body.splitlines()
                 if l.startswith('a=candidate:') and ' UDP ' in l.upper()]
        assert ports and all(40000 <= p <= 40400 for p in ports), body
        assert http('DELETE', loc)[0] == 200
        assert http('DELETE', loc)[0] == 404
        log('DELETE ok')
    finally:
        for br in browsers:
            br.close()
        SRV.stop()
    auth_checks(exe, offer)
    log('PASS')


def auth_checks(exe, offer):
    """With --user, the browser outputs ask as RTSP does (and as /metrics
    and /stats do)."""
    srv = netns.Server(NAME, ['--source', 'cam=test:320x180@15',
                              '--user', 'ann:secret', '--auth', 'basic'],
                       http_port=8081, rtsp_port=8555)
    try:
        for path, method in (('/', 'GET'), ('/live/whep', 'POST'),
                             ('/live.ts', 'GET')):
            st = srv.http(method, path, offer.encode(), 'application/sdp')[0]
            assert st == 401, (path, st)
        assert srv.http('GET', '/metrics')[0] == 401
        import base64
        good = {'Authorization': 'Basic '
                + base64.b64encode(b'ann:secret').decode()}
        assert srv.http('GET', '/metrics', headers=good)[0] == 200
        bad = {'Authorization': 'Basic '
               + base64.b64encode(b'ann:wrong').decode()}
        assert srv.http('GET', '/', headers=bad)[0] == 401
        assert srv.http('GET', '/', headers=good)[0] == 200
        st, body, hdrs = srv.http('POST', '/live/whep', offer.encode(),
                                  'application/sdp', good)
        assert st == 201, (st, body)
        assert srv.http('DELETE', hdrs['Location'])[0] == 401
        assert srv.http('DELETE', hdrs['Location'], headers=good)[0] == 200
        log('auth: 401 without the RTSP users\' credentials, 201 with')
    finally:
        srv.stop()


T0 = time.monotonic()
if __name__ == '__main__':
    main()
