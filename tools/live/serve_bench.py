"""Does serving slow the loop? Frames per second of `facecam run` on the looping clip, and its
resident memory over the run, for: no --serve; --serve with no client; --serve with an MJPEG
client that connects and never reads (reconnecting when the server drops it); --serve with three
clients that read /stream.mjpeg and /events as the page does. A benchmark that prints figures, not
a timed test. Usage: serve_bench.py FACECAM [--frames N] [--repeat R]
"""
import argparse
import os
import re
import select
import socket
import statistics
import subprocess
import threading
import time
import urllib.request

from common import ROOT, free_port


def rss_mb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None


def connect_when_listening(port, deadline):
    while time.time() < deadline:
        try:
            return socket.create_connection(("127.0.0.1", port), timeout=2)
        except OSError:
            time.sleep(0.05)
    return None


def stalled_client(port, stop, stats):
    """Asks for /stream.mjpeg and never reads. The server drops such a client once its socket
    buffers are full and a write has waited 10 s; the dropped client cannot tell (its unread data
    is ahead of the FIN), so a new one joins every 8 s: at least one is stalled at any time."""
    open_sockets = []
    while not stop.is_set():
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        try:
            s.settimeout(2)
            s.connect(("127.0.0.1", port))
            s.sendall(b"GET /stream.mjpeg HTTP/1.1\r\nHost: bench\r\n\r\n")
            open_sockets.append(s)
            stats["connections"] += 1
        except OSError:
            s.close()
            time.sleep(0.05)
            continue
        stop.wait(8)
    for s in open_sockets:
        s.close()


def cpu_seconds(pid, tid=None):
    """utime + stime of the process (or of one of its threads), in seconds."""
    path = f"/proc/{pid}/stat" if tid is None else f"/proc/{pid}/task/{tid}/stat"
    try:
        with open(path) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError):
        return None


def reading_client(port, path, stop):
    while not stop.is_set():
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
                while not stop.is_set() and r.read(65536):
                    pass
        except OSError:
            time.sleep(0.05)


def run(binary, frames, mode):
    port = free_port()
    cmd = [binary, "run", "--source", f"{ROOT}/samples/clip.mjpeg", "--loop", "--max-frames", str(frames),
           "--output", "none", "--summary-interval", "0"]
    if mode != "no --serve":
        cmd += ["--serve", f"127.0.0.1:{port}"]
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, cwd=ROOT)
    stop = threading.Event()
    threads, stats = [], {"connections": 0}
    if mode == "stalled MJPEG client":
        threads.append(threading.Thread(target=stalled_client, args=(port, stop, stats), daemon=True))
    if mode == "3 reading clients":
        for path in ["/stream.mjpeg", "/stream.mjpeg", "/events", "/stream.mjpeg", "/events", "/events"]:
            threads.append(threading.Thread(target=reading_client, args=(port, path, stop), daemon=True))
    for t in threads:
        t.start()
    samples, cpu = [], (0, 0)
    while proc.poll() is None:
        r = rss_mb(proc.pid)
        if r:
            samples.append(r)
        process, loop = cpu_seconds(proc.pid), cpu_seconds(proc.pid, proc.pid)
        if process is not None and loop is not None:
            cpu = (process, loop)  # the last reading before exit
        time.sleep(0.25)
    stop.set()
    err = proc.stderr.read()
    m = re.search(r"done: (\d+) frames, ([\d.]+) fps", err)
    if proc.returncode != 0 or not m:
        raise SystemExit(f"{mode}: facecam failed ({proc.returncode}):\n{err[-2000:]}")
    stats["cpu_ms_per_frame"] = (1000 * cpu[0] / frames, 1000 * cpu[1] / frames)
    return float(m.group(2)), samples, stats


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("facecam")
    ap.add_argument("--frames", type=int, default=400)
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    modes = ["no --serve", "--serve, no client", "stalled MJPEG client", "3 reading clients"]
    fps = {m: [] for m in modes}
    rss = {m: [] for m in modes}
    extra, cpu = {}, {m: [] for m in modes}
    for r in range(args.repeat):  # interleaved, so a noisy neighbour hits every mode alike
        for m in modes:
            f, samples, stats = run(args.facecam, args.frames, m)
            fps[m].append(f)
            rss[m].append(samples)
            cpu[m].append(stats["cpu_ms_per_frame"])
            if m == "stalled MJPEG client":
                extra = stats
            print(f"  run {r + 1} {m:24s} {f:6.1f} fps, RSS max {max(samples):6.1f} MB, CPU ms/frame: process "
                  f"{stats['cpu_ms_per_frame'][0]:.1f}, main (loop) thread {stats['cpu_ms_per_frame'][1]:.1f}", flush=True)
    print(f"\n{args.frames} frames per run, {args.repeat} runs per mode (median fps; RSS over all runs of the mode)")
    print("CPU ms/frame: all threads of facecam / its main thread, which runs the loop (less noisy than fps here)")
    print(f"{'mode':26s} {'fps':>7s} {'ratio':>7s} {'RSS start':>10s} {'RSS max':>8s} {'RSS end':>8s} {'CPU/frame':>10s} {'loop/frame':>10s}")
    base = statistics.median(fps["--serve, no client"])
    for m in modes:
        f = statistics.median(fps[m])
        starts = [s[min(len(s) - 1, 8)] for s in rss[m]]  # 2 s in: models loaded, loop running
        print(f"{m:26s} {f:7.1f} {f / base:7.3f} {min(starts):10.1f} {max(max(s) for s in rss[m]):8.1f} "
              f"{max(s[-1] for s in rss[m]):8.1f} {statistics.median(c[0] for c in cpu[m]):10.1f} "
              f"{statistics.median(c[1] for c in cpu[m]):10.1f}")
    ratio = statistics.median(fps["stalled MJPEG client"]) / base
    print(f"\nstalled client / no client: {ratio:.3f} (goal: within 10%, i.e. >= 0.90)"
          f"; stalled clients opened: {extra.get('connections')}")


if __name__ == "__main__":
    main()
