#!/usr/bin/python3
# MPEG-TS over HTTP (/PATH.ts) for players without RTSP, in a loopback-only
# network namespace against the fanout-rtsp-server binary:
#  1. two HTTP viewers at once, read raw: ffprobe counts >= 100 decodable
#     H.264 frames in each one's recording;
#  2. Debian's VLC, run as an unprivileged user (nobody), records >= 100
#     frames from http://127.0.0.1:8080/live.ts;
#  3. HLS (/live/index.m3u8): the playlist's segments are served, and VLC
#     as nobody records >= 100 frames from the playlist;
#  4. a viewer that goes is counted out; a mount whose codec MPEG-TS does
#     not carry here (mjpeg) is a clear 406 (.ts and HLS).
# Exit 77 (skipped) with one line saying why when it cannot run here.
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import netns  # noqa: E402

NAME = 'http_ts_vlc'
FRAMES = 100


def frames_in(path):
    r = subprocess.run(['ffprobe', '-v', 'error', '-count_frames',
                        '-select_streams', 'v:0', '-show_entries',
                        'stream=nb_read_frames,codec_name', '-of',
                        'csv=p=0', path], capture_output=True, text=True,
                       timeout=60)
    # One "codec,frames" line per stream section (program and stream).
    lines = r.stdout.strip().splitlines() or ['']
    codec, _, n = lines[-1].partition(',')
    return codec, int(n) if n.isdigit() else 0


def record(url, path, seconds):
    with urllib.request.urlopen(url, timeout=10) as r, open(path, 'wb') as f:
        assert r.headers['Content-Type'] == 'video/mp2t', r.headers
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            chunk = r.read(65536)
            if not chunk:
                break
            f.write(chunk)


def main():
    for tool in ('ffprobe', 'cvlc', 'runuser'):
        if not shutil.which(tool):
            netns.skip(NAME, 'no %s (install ffmpeg, vlc-bin, '
                       'vlc-plugin-base)' % tool)
    netns.enter(NAME, __file__)
    srv = netns.Server(NAME, ['--source', 'cam=test:640x360@30',
                              '--mount', '/live=cam',
                              '--mount', '/mjpeg=cam,codec=mjpeg'])
    tmp = tempfile.mkdtemp(prefix='fanout-ts-')
    os.chmod(tmp, 0o777)  # VLC runs as nobody
    try:
        # 1. Two raw HTTP viewers at once.
        paths = [os.path.join(tmp, 'raw%d.ts' % i) for i in range(2)]
        threads = [threading.Thread(target=record,
                                    args=(srv.base + '/live.ts', p, 6))
                   for p in paths]
        for t in threads:
            t.start()
        time.sleep(2)
        seen = srv.mount()['http_viewers']
        for t in threads:
            t.join()
        assert seen == 2, seen
        for p in paths:
            codec, n = frames_in(p)
            print('raw viewer:', p, codec, n, 'frames', flush=True)
            assert codec == 'h264' and n >= FRAMES, (p, codec, n)

        # 2. VLC as an unprivileged user records the stream.
        rec = os.path.join(tmp, 'vlc.ts')
        vlc_log = os.path.join(tmp, 'vlc.log')
        with open(vlc_log, 'wb') as lf:
            r = subprocess.run(
                ['runuser', '-u', 'nobody', '--', 'cvlc', '-q',
                 '--intf', 'dummy', srv.base + '/live.ts', '--sout',
                 '#std{access=file,mux=ts,dst=%s}' % rec,
                 '--run-time', '8', 'vlc://quit'],
                stdout=lf, stderr=subprocess.STDOUT, timeout=60,
                env=dict(os.environ, HOME=tmp))
        codec, n = frames_in(rec) if os.path.exists(rec) else ('', 0)
        print('VLC (as nobody): exit', r.returncode, codec, n, 'frames',
              flush=True)
        if n < FRAMES:
            print(open(vlc_log, errors='replace').read()[-2000:])
        assert codec == 'h264' and n >= FRAMES, (codec, n)

        # 3. HLS: the playlist names segments that are served, and VLC
        #    (as nobody) records >= 100 frames from it.
        st, pl, hdrs = srv.http('GET', '/live/index.m3u8')
        assert st == 200 and pl.startswith('#EXTM3U'), (st, pl)
        assert hdrs['Content-Type'] == 'application/vnd.apple.mpegurl', hdrs
        segs = [l for l in pl.splitlines() if l.endswith('.ts')]
        assert segs, pl
        seg = os.path.join(tmp, 'seg.ts')
        urllib.request.urlretrieve(srv.base + '/live/' + segs[-1], seg)
        codec, n = frames_in(seg)
        print('HLS segment', segs[-1], codec, n, 'frames', flush=True)
        assert codec == 'h264' and n > 0, (codec, n)
        rec = os.path.join(tmp, 'vlc-hls.ts')
        with open(vlc_log, 'wb') as lf:
            r = subprocess.run(
                ['runuser', '-u', 'nobody', '--', 'cvlc', '-q',
                 '--intf', 'dummy', srv.base + '/live/index.m3u8', '--sout',
                 '#std{access=file,mux=ts,dst=%s}' % rec,
                 '--run-time', '10', 'vlc://quit'],
                stdout=lf, stderr=subprocess.STDOUT, timeout=60,
                env=dict(os.environ, HOME=tmp))
        codec, n = frames_in(rec) if os.path.exists(rec) else ('', 0)
        print('VLC on HLS (as nobody): exit', r.returncode, codec, n,
              'frames', flush=True)
        if n < FRAMES:
            print(open(vlc_log, errors='replace').read()[-2000:])
        assert codec == 'h264' and n >= FRAMES, (codec, n)
        assert srv.http('GET', '/live/seg99999.ts')[0] == 404

        # 4. Viewers that went are counted out; mjpeg is refused.
        end = time.monotonic() + 20
        while srv.mount()['http_viewers'] != 0:
            assert time.monotonic() < end, srv.mount()
            time.sleep(0.5)
        for path in ('/mjpeg.ts', '/mjpeg/index.m3u8'):
            st, body, _ = srv.http('GET', path)
            assert st == 406 and 'codec=h264' in body, (path, st, body)
        print('PASS')
    finally:
        srv.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == '__main__':
    main()
