#!/usr/bin/python3
# Helpers of the browser/player tests: a loopback-only network namespace
# (the test re-runs itself under `unshare --net`) and the server binary.
import ctypes
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request


def skip(name, why):
    print('%s: SKIP: %s' % (name, why), file=sys.stderr)
    sys.exit(77)


def enter(name, script):
    """Re-runs @script in a new network namespace with only lo (up);
    returns when already inside. Exit 77 where that cannot be done."""
    if os.environ.get('FANOUT_IN_NETNS') == '1':
        if subprocess.run(['ip', 'link', 'set', 'lo', 'up']).returncode:
            skip(name, 'cannot bring lo up in the network namespace')
        return
    if os.geteuid() != 0:
        skip(name, 'needs root for a loopback-only network namespace '
             '(unshare --net)')
    env = dict(os.environ, FANOUT_IN_NETNS='1')
    try:
        r = subprocess.run(['unshare', '--net', '--', sys.executable,
                            os.path.abspath(script)] + sys.argv[1:],
                           env=env)
    except OSError as e:
        skip(name, 'cannot run unshare: %s' % e)
    sys.exit(r.returncode)


def _die_with_parent():
    """In the server's child before exec: killed when the test process
    ends, even by a crash (a segfault runs no finally: the server would
    stay, alone in the namespace, for good)."""
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PDEATHSIG


class Server:
    """fanout-rtsp-server ($FANOUT_RTSP_SERVER) on fixed ports: the
    namespace is the test's own."""

    def __init__(self, name, args, http_port=8080, rtsp_port=8554):
        exe = os.environ.get('FANOUT_RTSP_SERVER')
        if not exe:
            skip(name, 'FANOUT_RTSP_SERVER is not set (run through meson test)')
        self.base = 'http://127.0.0.1:%d' % http_port
        out = os.environ.get('FANOUT_TEST_OUT', '/tmp')
        self.log = open(os.path.join(out, '%s-server-%d.log' % (name, http_port)),
                        'wb')
        self.proc = subprocess.Popen(
            [exe, '--port', str(rtsp_port), '--http-port', str(http_port)]
            + args, stdout=self.log, stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent)
        for _ in range(150):
            try:
                urllib.request.urlopen(self.base + '/stats', timeout=2).read()
                return
            except urllib.error.HTTPError:
                return  # it answers (401 with --user): it is up
            except (OSError, urllib.error.URLError):
                if self.proc.poll() is not None:
                    break
                time.sleep(0.2)
        raise AssertionError('the server did not come up (see %s)'
                             % self.log.name)

    def http(self, method, path, body=None, ctype=None, headers=None):
        req = urllib.request.Request(self.base + path, data=body,
                                     method=method)
        if ctype:
            req.add_header('Content-Type', ctype)
        for k, v in (headers or {}).items():
            req.add_header(k, v)
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, r.read().decode(), dict(r.headers)
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode(), dict(e.headers)

    def mount(self, path='/live'):
        st = json.loads(self.http('GET', '/stats')[1])
        return next(m for m in st['mounts'] if m['path'] == path)

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
