"""Bad requests to the live view each get the right error response, and facecam keeps running and
serving afterwards. Usage: check_serve.py FACECAM.

One facecam with --serve-token: a missing or wrong token is 401, an unknown path 404, another
method 405, a huge head 431, garbage 400, a silent client 408 after the head timeout, and more
connections than the limit 503. Then: frames still rise, a second facecam on the same port fails
with a clear error, and a token file that cannot be read is refused.
"""
import os
import socket
import subprocess
import sys
import tempfile
import time

from prometheus_client.parser import text_string_to_metric_families

from common import Checks, Facecam, get, raw_request

TOKEN = "t0ken-for-the-check"


def frames(base):
    _, body = get(base + "/metrics", token=TOKEN)
    for family in text_string_to_metric_families(body.decode()):
        if family.name == "facecam_frames":
            return family.samples[0].value
    return None


def main():
    binary = sys.argv[1]
    c = Checks()
    tmp = tempfile.mkdtemp()
    token_file = os.path.join(tmp, "token")
    with open(token_file, "w") as f:
        f.write(TOKEN + "\n")
    facecam = Facecam(binary, extra=["--serve-token", token_file])
    port = facecam.port
    auth = f"Authorization: Bearer {TOKEN}\r\n".encode()
    try:
        facecam.wait_healthy(token=TOKEN)
        c.check("token in the header: 200", get(facecam.base + "/healthz", token=TOKEN)[0] == 200)
        c.check("token in ?token=: 200", get(facecam.base + f"/healthz?token={TOKEN}")[0] == 200)
        status, body = get(facecam.base + "/")
        c.check("no token: 401 with a reason", status == 401 and b"token" in body, f"{status} {body[:80]}")
        c.check("wrong token: 401", get(facecam.base + "/metrics", token="nope")[0] == 401)
        c.check("wrong ?token=: 401", get(facecam.base + "/stream.mjpeg?token=nope")[0] == 401)
        c.check("token with one character more: 401", get(facecam.base + "/metrics", token=TOKEN + "x")[0] == 401)
        c.check("unknown path: 404", get(facecam.base + "/nothing-here", token=TOKEN)[0] == 404)
        status, answer = raw_request(port, b"POST /metrics HTTP/1.1\r\nHost: x\r\n" + auth + b"Content-Length: 3\r\n\r\nabc")
        c.check("POST: 405 with Allow", status == 405 and b"Allow: GET, HEAD" in answer, answer[:120])
        status, answer = raw_request(port, b"HEAD /metrics HTTP/1.1\r\n" + auth + b"\r\n")
        c.check("HEAD: 200, headers only", status == 200 and answer.endswith(b"\r\n\r\n"), answer[-60:])
        huge = b"GET / HTTP/1.1\r\n" + auth + b"X-Big: " + b"a" * 64000 + b"\r\n\r\n"
        status, _ = raw_request(port, huge)
        c.check("64 KB of headers: 431", status == 431, status)
        status, _ = raw_request(port, b"GET / HTTP/1.1\r\n" + b"X-Endless: aaaa" * 2000)
        c.check("a head that never ends: 431 at the limit", status == 431, status)
        status, _ = raw_request(port, bytes(range(256)) * 4 + b"\r\n\r\n")
        c.check("binary garbage: 400", status == 400, status)
        status, _ = raw_request(port, b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + os.urandom(64))
        c.check("a TLS hello on the plain port: 400 at once, not silence", status == 400, status)
        status, _ = raw_request(port, b"GET /  HTTP/1.1\r\n\r\n")
        c.check("a malformed request line: 400", status == 400, status)

        # More connections than the limit (16): the first ones sit silent, the rest are refused.
        idle, connected_at = [], time.time()
        for _ in range(16):
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            idle.append(s)
        # The server counts a connection when its accept loop takes it, which a loaded machine
        # can delay: ask until four requests in a row are refused, for at most 10 s.
        refused, deadline = [], time.time() + 10
        while refused[-4:] != [503] * 4 and time.time() < deadline:
            refused.append(raw_request(port, b"GET /healthz HTTP/1.1\r\n" + auth + b"\r\n")[0])
            if refused[-1] != 503:
                time.sleep(0.2)
        c.check("connections beyond the limit: 503", refused[-4:] == [503] * 4, refused)
        idle[0].settimeout(15)
        answer = idle[0].recv(4096)
        waited = time.time() - connected_at
        c.check("a client that sends nothing: 408 after the head timeout",
                answer.startswith(b"HTTP/1.1 408") and 8 < waited < 13.5, f"{answer[:40]} after {waited:.1f} s")
        for s in idle:
            s.close()
        time.sleep(0.5)
        c.check("after the flood: served again", get(facecam.base + "/healthz", token=TOKEN)[0] == 200)
        first = frames(facecam.base)
        time.sleep(1.5)
        second = frames(facecam.base)
        c.check("the loop kept processing frames throughout", facecam.alive() and first and second > first, f"{first} -> {second}")

        # A stream client that never reads does not stop others from being served.
        stalled = socket.socket()
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stalled.connect(("127.0.0.1", port))
        stalled.sendall(b"GET /stream.mjpeg HTTP/1.1\r\n" + auth + b"\r\n")
        time.sleep(2)
        c.check("with a stalled MJPEG client: others are served", get(facecam.base + "/metrics", token=TOKEN)[0] == 200)
        stalled.close()

        other = subprocess.run([binary, "run", "--serve", f"127.0.0.1:{port}", "--source", "samples/clip.mjpeg",
                                "--max-frames", "1", "--output", "none"], capture_output=True, text=True, timeout=120)
        c.check("port taken: exit 1 with a clear error", other.returncode == 1 and "already in use" in other.stderr,
                f"{other.returncode} {other.stderr[-300:]}")
    finally:
        status = facecam.stop()
    c.check("facecam exits 0 on SIGTERM after all that", status == 0, f"{status}\n{facecam.stderr()}")

    bad = subprocess.run([binary, "run", "--serve", "0", "--serve-token", os.path.join(tmp, "missing"), "--source",
                          "samples/clip.mjpeg", "--max-frames", "1"], capture_output=True, text=True, timeout=120)
    c.check("unreadable token file: exit 1, named", bad.returncode == 1 and "--serve-token" in bad.stderr, bad.stderr[-200:])
    bad = subprocess.run([binary, "run", "--serve", "1.2.3.4.5:80", "--source", "samples/clip.mjpeg"],
                         capture_output=True, text=True, timeout=60)
    c.check("a bad --serve address: usage error", bad.returncode == 64 and "--serve" in bad.stderr, bad.stderr[-200:])
    bad = subprocess.run([binary, "run", "--serve-public", "--source", "samples/clip.mjpeg"], capture_output=True, text=True, timeout=60)
    c.check("--serve-public without --serve: usage error", bad.returncode == 64, bad.stderr[-200:])
    return c.finish()


if __name__ == "__main__":
    sys.exit(main())
