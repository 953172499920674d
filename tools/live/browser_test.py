"""The live view in a real browser: Debian's chromium, headless, driven by Playwright.

Usage: browser_test.py FACECAM SCREENSHOT. Starts `facecam run --serve` on the looping clip, opens
the page and checks what a person would see: the picture changes, a face box is drawn where the
frame's /events object (read here independently) says the face is, the plots get points and
lines; /metrics parses with Prometheus' own parser and its counters rise; /healthz is 200.
"""
import json
import sys
import threading
import time
import urllib.request

from playwright.sync_api import sync_playwright
from prometheus_client.parser import text_string_to_metric_families

from common import Checks, Facecam, get

CHROMIUM = "/usr/bin/chromium"


def read_events(base, into, stop):
    """Collects frame index -> boxes from /events, as the page gets them, until `stop` is set."""
    with urllib.request.urlopen(base + "/events", timeout=30) as r:
        for line in r:
            if stop.is_set():
                return
            if line.startswith(b"data: {\"frame\""):
                f = json.loads(line[6:])
                into[f["frame"]] = [face["box"] for face in f["faces"]]


def scrape(base):
    status, body = get(base + "/metrics")
    assert status == 200, status
    families = {f.name: f for f in text_string_to_metric_families(body.decode())}
    return families


def counter(families, name):
    return sum(s.value for s in families[name].samples if s.name == name + "_total")


def main():
    binary, shot = sys.argv[1], sys.argv[2]
    c = Checks()
    facecam = Facecam(binary, extra=["--adapt"])  # both heads adapt: the adaptation plot gets data
    stop = threading.Event()
    try:
        facecam.wait_healthy()
        c.check("/healthz is 200 while frames arrive", get(facecam.base + "/healthz")[0] == 200)
        events = {}
        reader = threading.Thread(target=read_events, args=(facecam.base, events, stop), daemon=True)
        reader.start()

        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_page(viewport={"width": 1100, "height": 800})
            errors = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(facecam.base + "/")
            page.wait_for_function("window.facecam && window.facecam.framesShown >= 2", timeout=60000)
            digest = "() => { const c = document.getElementById('video'); const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;" \
                     " let h = 0; for (let i = 0; i < d.length; i += 7) h = (h * 31 + d[i]) >>> 0; return [window.facecam.lastFrame, h]; }"
            first = page.evaluate(digest)
            page.wait_for_function(f"window.facecam.lastFrame > {first[0]}", timeout=30000)
            time.sleep(1.0)
            second = page.evaluate(digest)
            c.check("the picture changes between two moments", first[0] != second[0] and first[1] != second[1], f"{first} {second}")

            # A face box on the overlay, at the place its frame's object says, in the box colour;
            # read in one evaluate so no redraw comes between the data and the pixels.
            page.wait_for_function("window.facecam.lastOverlay && window.facecam.lastOverlay.boxes.length > 0", timeout=30000)
            drawn = page.evaluate("""() => {
                const o = window.facecam.lastOverlay, c = document.getElementById('overlay'), g = c.getContext('2d');
                const [x, y, w, h] = o.boxes[0];
                const px = (a, b) => Array.from(g.getImageData(Math.round(a), Math.round(b), 1, 1).data);
                // The stroke is antialiased at fractional positions: take the most opaque pixel across it.
                let edge = [0, 0, 0, 0];
                for (let dx = -o.line - 1; dx <= o.line + 1; dx++) { const p = px(x + dx, y + h / 2); if (p[3] > edge[3]) edge = p; }
                return { frame: o.frame, boxes: o.boxes, edge, outside: px(Math.max(0, x - 4 * o.line), y + h / 2),
                         color: window.facecam.boxColor, drawnTotal: window.facecam.boxesDrawn };
            }""")
            c.check("a face box is drawn on the overlay in the box colour",
                    drawn["edge"] == drawn["color"] + [255] and drawn["outside"][3] == 0, json.dumps(drawn))
            deadline = time.time() + 10
            while drawn["frame"] not in events and time.time() < deadline:
                time.sleep(0.2)
            c.check("the drawn box is the one /events reports for that frame",
                    events.get(drawn["frame"]) == drawn["boxes"], f"frame {drawn['frame']}: page {drawn['boxes']} events {events.get(drawn['frame'])}")

            page.wait_for_function("window.facecam.points.latency > 20 && window.facecam.points.faces > 20"
                                   " && window.facecam.points.adaptation > 4", timeout=30000)
            time.sleep(1.2)  # plots redraw twice a second
            # The 'total' latency line is the only white in the plot (grid and labels are grey).
            white = page.evaluate("""() => { const c = document.getElementById('plotLatency'); const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                let n = 0; for (let i = 0; i < d.length; i += 4) if (d[i] > 240 && d[i+1] > 240 && d[i+2] > 240 && d[i+3] > 200) n++; return n; }""")
            faces_line = page.evaluate("""() => { const c = document.getElementById('plotFaces'); const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                let n = 0; for (let i = 0; i < d.length; i += 4) if (d[i] < 40 && d[i+1] > 200 && d[i+2] > 90 && d[i+2] < 140) n++; return n; }""")
            # Adaptation's threshold line (orange), from the telemetry events of the adapting heads.
            orange = page.evaluate("""() => { const c = document.getElementById('plotAdapt'); const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                let n = 0; for (let i = 0; i < d.length; i += 4) if (d[i] > 240 && d[i+1] > 160 && d[i+1] < 200 && d[i+2] > 60 && d[i+2] < 100) n++; return n; }""")
            points = page.evaluate("window.facecam.points")
            c.check("the plots receive points and draw lines", points["latency"] > 20 and white > 20 and faces_line > 20,
                    f"points {points}, white pixels {white}, faces-line pixels {faces_line}")
            c.check("the adaptation plot receives threshold, selected fraction, entropy and resets",
                    points["adaptation"] > 2 and orange > 10, f"points {points}, threshold-line pixels {orange}")
            state = page.inner_text("#state")
            c.check("the header shows the running state and fps", state == "running" and float(page.inner_text("#fps")) > 0, state)
            page.screenshot(path=shot, full_page=True)
            print(f"screenshot: {shot}")
            c.check("no script errors on the page", not errors, "; ".join(errors))
            browser.close()

        before = scrape(facecam.base)
        time.sleep(2.0)
        after = scrape(facecam.base)
        stages = {s.labels["stage"] for s in after["facecam_stage_latency_seconds"].samples if "stage" in s.labels}
        info = after["facecam_info"].samples[0].labels
        c.check("/metrics parses with prometheus_client; frames_total rises",
                counter(after, "facecam_frames") > counter(before, "facecam_frames") > 0,
                f"{counter(before, 'facecam_frames')} -> {counter(after, 'facecam_frames')}")
        c.check("/metrics has the other counters, per-stage histograms, faces per frame and the info metric",
                all(n in after for n in ["facecam_dropped_frames", "facecam_corrupt_frames", "facecam_reconnects", "facecam_faces_per_frame"])
                and stages == {"capture", "decode", "convert", "detect", "verify", "classify", "total"}
                and info.get("kernel_set") and len(info.get("detector_sha256", "")) == 64, f"{sorted(after)} {stages} {info}")
        c.check("facecam still serves afterwards", get(facecam.base + "/healthz")[0] == 200 and facecam.alive())
    finally:
        stop.set()
        status = facecam.stop()
    c.check("facecam stops cleanly on SIGTERM (exit 0)", status == 0, f"exit {status}\n{facecam.stderr()}")
    return c.finish()


if __name__ == "__main__":
    sys.exit(main())
