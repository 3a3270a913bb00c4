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
#     and /stats do);
#  6. audio (issue 19): the mount's source has a tone; each player's
#     getStats() has an inbound-rtp audio stream (Opus) whose packets and
#     samples rise, with a level above silence; the answer to an offer with
#     audio sends Opus in the offer's PT; mounts without audio (audio=off,
#     or a source without any) answer the offer's audio m-line inactive and
#     play video only.
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


# The first player's inbound-rtp streams by kind (null: no such stream).
STATS_JS = """(async () => {
    const v = document.querySelector('video[data-whep]');
    if (!v || !v.whepPc) return {};
    const out = {};
    (await v.whepPc.getStats()).forEach((r) => {
      if (r.type !== 'inbound-rtp') return;
      out[r.kind] = {packets: r.packetsReceived || 0,
                     samples: r.totalSamplesReceived || 0,
                     level: r.audioLevel || 0,
                     energy: r.totalAudioEnergy || 0,
                     frames: r.framesDecoded || 0,
                     codec: r.codecId || ''};
    });
    return out; })()"""

# An offer with a video and an audio recvonly transceiver (as the page's).
AV_OFFER_JS = """(async () => {
    const pc = new RTCPeerConnection();
    pc.addTransceiver('video', {direction: 'recvonly'});
    pc.addTransceiver('audio', {direction: 'recvonly'});
    const o = await pc.createOffer(); pc.close(); return o.sdp; })()"""


# A viewer whose offer has audio first and Opus in PT 100 (not Chromium's
# 111, which the shared packets carry): its copies are rewritten. Returns
# [status, {kind: [packets, samples or frames, PT]}].
MUNGED_JS = """(async () => {
    const pc = new RTCPeerConnection();
    pc.addTransceiver('audio', {direction: 'recvonly'});
    pc.addTransceiver('video', {direction: 'recvonly'});
    const o = await pc.createOffer();
    const sdp = o.sdp.replace(/^(m=audio \\S+ \\S+ )111 /m, '$1100 ')
                     .replace(/a=(rtpmap|fmtp|rtcp-fb):111 /g, 'a=$1:100 ');
    await pc.setLocalDescription({type: 'offer', sdp});
    await new Promise((done) => {
      if (pc.iceGatheringState === 'complete') return done();
      pc.addEventListener('icegatheringstatechange', () => {
        if (pc.iceGatheringState === 'complete') done(); });
      setTimeout(done, 2000); });
    const res = await fetch('/live/whep', {method: 'POST',
      headers: {'Content-Type': 'application/sdp'},
      body: pc.localDescription.sdp});
    const answer = await res.text();
    if (res.status !== 201) return [res.status, answer];
    await pc.setRemoteDescription({type: 'answer', sdp: answer});
    await new Promise((r) => setTimeout(r, 3000));
    const out = {};
    const st = await pc.getStats();
    st.forEach((r) => { if (r.type === 'inbound-rtp')
      out[r.kind] = [r.packetsReceived,
                     r.totalSamplesReceived || r.framesDecoded,
                     (st.get(r.codecId) || {}).payloadType]; });
    await fetch(res.headers.get('Location'), {method: 'DELETE'});
    pc.close();
    return [201, out]; })()"""


def sections(sdp):
    """The m-sections of @sdp: a list of lists of lines."""
    out = []
    for line in sdp.splitlines():
        if line.startswith('m='):
            out.append([])
        if out:
            out[-1].append(line)
    return out


def wait_audio(b, tabs, want, deadline, what):
    """Every tab's first player: audio packets >= @want, samples decoded."""
    while True:
        st = [b.evaluate(t, STATS_JS).get('audio') for t in tabs]
        if all(a and a['packets'] >= want and a['samples'] > 0 for a in st):
            log(what, 'audio', st)
            return st
        if time.monotonic() > deadline:
            raise AssertionError('%s: audio %s, wanted %d packets with '
                                 'samples' % (what, st, want))
        time.sleep(0.5)


# The RMS of 1 s of the first player's audio through WebAudio (Chromium's
# getStats() audioLevel stays 0 for a muted element; the tone is there).
RMS_JS = """(async () => {
    const v = document.querySelector('video[data-whep]');
    const ctx = new AudioContext(); await ctx.resume();
    const an = ctx.createAnalyser();
    ctx.createMediaStreamSource(v.srcObject).connect(an);
    await new Promise((r) => setTimeout(r, 1000));
    const d = new Float32Array(an.fftSize); an.getFloatTimeDomainData(d);
    let s = 0; for (const x of d) s += x * x;
    ctx.close(); return Math.sqrt(s / d.length); })()"""


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
        '--source', 'cam=test:640x360@30+tone', '--mount', '/live=cam',
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

        # 6. ... and their audio: Opus, rising.
        first = wait_audio(b, tabs, 100, time.monotonic() + 20,
                           'eight viewers')
        time.sleep(2)
        again = [b.evaluate(t, STATS_JS)['audio'] for t in tabs]
        for a0, a1 in zip(first, again):
            assert a1['packets'] > a0['packets'], (a0, a1)
            assert a1['samples'] > a0['samples'], (a0, a1)
        log('audio rising over 2 s: packets +%s samples +%s' % (
            [a1['packets'] - a0['packets'] for a0, a1 in zip(first, again)],
            [a1['samples'] - a0['samples'] for a0, a1 in zip(first, again)]))
        rms = b.evaluate(tabs[0], RMS_JS)
        log('audio RMS (WebAudio) %.3f, getStats audioLevel %s' % (
            rms, [a['level'] for a in again]))
        assert rms > 0.01, 'the tone is silent: RMS %f' % rms
        av_offer = b.evaluate(tabs[0], AV_OFFER_JS)
        st, body, hdrs = http('POST', '/live/whep', av_offer.encode(),
                              'application/sdp')
        assert st == 201, (st, body)
        offer_audio = [m for m in sections(av_offer)
                       if m[0].startswith('m=audio')][0]
        opus_pt = [l.split()[0].split(':')[1] for l in offer_audio
                   if l.lower().startswith('a=rtpmap:')
                   and 'opus/48000' in l.lower()][0]
        answer_audio = [m for m in sections(body)
                        if m[0].startswith('m=audio')][0]
        log('answer audio m-line:', answer_audio[0])
        assert answer_audio[0].split()[1] != '0', answer_audio
        assert answer_audio[0].split()[3:] == [opus_pt], (opus_pt,
                                                           answer_audio)
        assert 'a=sendonly' in answer_audio, answer_audio
        assert http('DELETE', hdrs['Location'])[0] == 200
        st, kinds = b.evaluate(tabs[0], MUNGED_JS, timeout=30)
        log('audio first, Opus in PT 100:', st, kinds)
        assert st == 201, kinds
        assert kinds['audio'][0] >= 100 and kinds['audio'][1] > 0, kinds
        assert kinds['audio'][2] == 100, kinds
        assert kinds['video'][1] > 0, kinds

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
    no_audio_checks(exe, av_offer)
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


def no_audio_checks(exe, av_offer):
    """Mounts without audio (audio=off on a source with a tone, a source
    without audio): the offer's audio m-line is answered inactive (no
    SSRC, no candidate), the page's players, which offer audio too, play
    video only."""
    srv = netns.Server(NAME, ['--source', 'cam=test:320x180@15+tone',
                              '--source', 'plain=test:320x180@15',
                              '--mount', '/off=cam,audio=off',
                              '--mount', '/plain=plain'],
                       http_port=8082, rtsp_port=8556)
    br = None
    try:
        for path in ('/off', '/plain'):
            st, body, hdrs = srv.http('POST', path + '/whep',
                                      av_offer.encode(), 'application/sdp')
            assert st == 201, (path, st, body)
            secs = sections(body)
            audio = [m for m in secs if m[0].startswith('m=audio')]
            video = [m for m in secs if m[0].startswith('m=video')]
            # webrtcbin 1.22 answers inactive (JSEP: rejected or inactive)
            assert audio and (audio[0][0].split()[1] == '0'
                              or 'a=inactive' in audio[0]), (path, body)
            assert not any(l.startswith(('a=ssrc', 'a=candidate'))
                           for l in audio[0]), (path, body)
            assert video and video[0][0].split()[1] != '0', (path, body)
            assert srv.http('DELETE', hdrs['Location'])[0] == 200
        log('no audio: the offer\'s audio m-line answered inactive')
        br = browser.Browser(exe, os.path.join(OUT, NAME + '-chrome.log'))
        tab = br.open_tab(srv.base + '/')
        js = ("Array.from(document.querySelectorAll('video[data-whep]'))"
              ".map(v => [+(v.dataset.frames || 0), v.dataset.error || ''])")
        deadline = time.monotonic() + 30
        while True:
            r = br.evaluate(tab, js)
            if any(e for _, e in r):
                raise AssertionError('player error: %s' % r)
            if len(r) == 2 and all(n >= 30 for n, _ in r):
                break
            if time.monotonic() > deadline:
                raise AssertionError('no audio: frames %s' % r)
            time.sleep(0.5)
        kinds = br.evaluate(tab, STATS_JS)
        assert 'video' in kinds and 'audio' not in kinds, kinds
        log('no audio: both players decode video only', r, kinds)
    finally:
        if br:
            br.close()
        srv.stop()


T0 = time.monotonic()
if __name__ == '__main__':
    main()
