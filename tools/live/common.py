"""Shared by the live-view checks: start `facecam run --serve` on the shipped clip, talk HTTP to it."""
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Facecam:
    """`facecam run --serve 127.0.0.1:PORT --source samples/clip.mjpeg --loop --output none` plus
    `extra` flags; stderr goes to a log file that failures print."""

    def __init__(self, binary, extra=(), port=None, log=None):
        self.port = port or free_port()
        self.log_path = log or os.path.join(ROOT, "tools", ".cache", f"facecam-serve-{self.port}.log")
        os.makedirs(os.path.dirname(self.log_path), exist_ok=True)
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [binary, "run", "--serve", f"127.0.0.1:{self.port}", "--source", os.path.join(ROOT, "samples", "clip.mjpeg"),
             "--loop", "--output", "none", "--summary-interval", "0", *extra],
            stdout=subprocess.DEVNULL, stderr=self.log, cwd=ROOT)
        self.base = f"http://127.0.0.1:{self.port}"

    def wait_healthy(self, token=None, timeout=120):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"facecam exited with {self.proc.returncode}:\n{self.stderr()}")
            try:
                if get(self.base + "/healthz", token=token)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.3)
        raise SystemExit(f"/healthz not 200 within {timeout} s:\n{self.stderr()}")

    def alive(self):
        return self.proc.poll() is None

    def stderr(self):
        if not self.log.closed:
            self.log.flush()
        with open(self.log_path) as f:
            return f.read()[-4000:]

    def stop(self):
        """SIGTERM, as systemd or Ctrl-C would; returns the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode


def get(url, token=None, timeout=10):
    """(status, body bytes) of a GET, error statuses included."""
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def raw_request(port, data, timeout=10, read=True):
    """Sends raw bytes, returns the status code of the answer (None if the connection closed
    without one) and the whole answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may answer and close before it has read everything
        if not read:
            return None, b""
        answer = b""
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                answer += chunk
        except (ConnectionResetError, socket.timeout):
            pass
    status = None
    if answer.startswith(b"HTTP/1.1 "):
        status = int(answer[9:12])
    return status, answer


class Checks:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, name, ok, detail=""):
        if ok:
            self.passed += 1
            print(f"PASS {name}")
        else:
            self.failed += 1
            print(f"FAIL {name} {detail}")
        sys.stdout.flush()
        return ok

    def finish(self):
        print(f"{self.passed} passed, {self.failed} failed")
        return 1 if self.failed else 0
