#!/usr/bin/python3
# Headless Chromium driven over the DevTools protocol on a pipe
# (--remote-debugging-pipe: fd 3 in, fd 4 out, NUL-separated JSON), so that
# the tests need no websocket library. Used by webrtc_browser.py.
import json
import os
import select
import shutil
import subprocess
import tempfile
import time

FLAGS = ['--headless', '--no-sandbox', '--disable-gpu',
         '--disable-background-networking', '--disable-component-update',
         '--disable-sync', '--no-first-run',
         '--autoplay-policy=no-user-gesture-required',
         '--disable-background-timer-throttling',
         '--disable-renderer-backgrounding',
         '--disable-backgrounding-occluded-windows',
         '--allow-loopback-in-peer-connection',
         '--disable-features=WebRtcHideLocalIpsWithMdns',
         '--remote-debugging-pipe']


def find_chromium():
    for name in ('chromium-headless-shell', 'chromium', 'chrome-headless-shell'):
        path = shutil.which(name)
        if path:
            return path
    return None


class Browser:
    """One Chromium process with a fresh profile; tabs are CDP sessions."""

    def __init__(self, exe, log_path):
        self.profile = tempfile.mkdtemp(prefix='fanout-chrome-')
        r_in, self._w = os.pipe()   # we write: Chromium reads fd 3
        self._r, w_out = os.pipe()  # Chromium writes fd 4: we read
        self.log = open(log_path, 'ab')

        def fds():
            # Out of the way first: either end may be fd 3 or 4 already.
            a, b = os.dup(r_in), os.dup(w_out)
            a, b = os.dup2(a, 100), os.dup2(b, 101)
            os.dup2(a, 3)
            os.dup2(b, 4)
        self.proc = subprocess.Popen(
            [exe] + FLAGS + ['--user-data-dir=' + self.profile, 'about:blank'],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log,
            preexec_fn=fds, pass_fds=(3, 4), start_new_session=True)
        os.close(r_in)
        os.close(w_out)
        self._buf = b''
        self._id = 0
        self.events = []

    def _send(self, method, params=None, session=None):
        self._id += 1
        msg = {'id': self._id, 'method': method, 'params': params or {}}
        if session:
            msg['sessionId'] = session
        os.write(self._w, json.dumps(msg).encode() + b'\0')
        return self._id

    def call(self, method, params=None, session=None, timeout=20):
        want = self._send(method, params, session)
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            while b'\0' in self._buf:
                raw, self._buf = self._buf.split(b'\0', 1)
                msg = json.loads(raw)
                if msg.get('id') == want:
                    if 'error' in msg:
                        raise RuntimeError('%s: %s' % (method, msg['error']))
                    return msg.get('result', {})
                self.events.append(msg)
            ready, _, _ = select.select([self._r], [], [], 0.5)
            if ready:
                chunk = os.read(self._r, 1 << 20)
                if not chunk:
                    raise RuntimeError('Chromium exited (see its log)')
                self._buf += chunk
        raise RuntimeError('%s: no reply in %d s' % (method, timeout))

    def open_tab(self, url):
        target = self.call('Target.createTarget', {'url': url})['targetId']
        session = self.call('Target.attachToTarget',
                            {'targetId': target, 'flatten': True})['sessionId']
        return session

    def evaluate(self, session, expr, timeout=20):
        r = self.call('Runtime.evaluate',
                      {'expression': expr, 'returnByValue': True,
                       'awaitPromise': True}, session, timeout)
        if 'exceptionDetails' in r:
            raise RuntimeError('%s: %s' % (expr, r['exceptionDetails']))
        return r['result'].get('value')

    def screenshot(self, session):
        import base64
        r = self.call('Page.captureScreenshot', {'format': 'png'}, session)
        return base64.b64decode(r['data'])

    def kill(self):
        """Vanishes: no DELETE, no BYE, no DTLS close (the whole process
        group: renderers and the network service too)."""
        import signal
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def close(self):
        if self.proc.poll() is None:
            try:
                self.call('Browser.close', timeout=5)
            except Exception:
                pass
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        os.close(self._w)
        os.close(self._r)
        self.log.close()
        shutil.rmtree(self.profile, ignore_errors=True)
