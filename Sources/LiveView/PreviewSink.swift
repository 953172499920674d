// The frame loop's side of the live view. Per frame, always: one row of latency samples into
// a fixed ring (for /metrics). Only while /events has clients: the frame's JSON object. Only
// while an MJPEG client waits for a frame, at most `streamFPS` times a second: a copy of the
// RGB image into a recycled buffer for the encoder thread. The loop never waits for the server.
#if canImport(Glibc)
import Glibc
#endif
import FrameCapture
import Imaging
import Int8Runtime
import Streaming

public final class PreviewSink: FrameSink {
    let feed: LiveFeed
    private let interval: UInt64
    private var nextImageNs: UInt64 = 0
    /// A buffer the encoder has not taken (or a refused offer): reused for the next frame.
    private var pending: PreviewFrame?
    private var buffersMade = false

    init(feed: LiveFeed, streamFPS: Double) {
        self.feed = feed
        interval = UInt64(1e9 / max(0.1, streamFPS))
        let feed = self.feed
        JoinableThread.detached { encodeFrames(feed) }
    }

    /// The answer of `wantsImage` for the frame in progress.
    private var decided: Bool?

    /// True only when a viewer waits and the frame rate cap allows the next picture: raw
    /// camera frames are then converted to RGB for this frame only. Decided once per frame
    /// (the loop may ask twice; a different second answer would hand over a stale picture).
    public var wantsImage: Bool {
        if let decided { return decided }
        let wants = feed.streamWaiting.load(ordering: .relaxed) > 0 && monotonicNanoseconds() >= nextImageNs
        decided = wants
        return wants
    }

    public func consume(_ frame: ProcessedFrame, telemetry: TelemetrySnapshot) -> SinkAction {
        defer { decided = nil }
        feed.samples.record(frame.latency, faces: frame.faces.count)
        if feed.eventClients.load(ordering: .relaxed) > 0 { feed.events.publish(frame.json.text) }
        if let image = frame.image, feed.streamWaiting.load(ordering: .relaxed) > 0 {
            let now = monotonicNanoseconds()
            if now >= nextImageNs {
                nextImageNs = now + interval
                handOff(image, index: frame.index)
            }
        }
        return .proceed
    }

    public func finish(_ telemetry: TelemetrySnapshot) throws {
        feed.finished.store(true, ordering: .relaxed)
    }

    private func handOff(_ image: RGBImage, index: Int) {
        var buffer = pending
        pending = nil
        if !buffersMade {
            // The first picture makes every buffer at once (spares for the encoder to cycle),
            // so no later frame allocates, however the encoder's timing falls.
            buffersMade = true
            buffer = PreviewFrame(width: image.width, height: image.height)
            var extra = (1..<LiveFeed.frameBuffers).map { _ in PreviewFrame(width: image.width, height: image.height) }
            feed.spares.withLock { spares in
                while let frame = extra.popLast(), spares.count < LiveFeed.frameBuffers { spares.append(frame) }
            }
        }
        if buffer == nil { buffer = feed.spares.withLockIfAvailable { $0.popLast() } ?? nil }
        guard let buffer else { return }  // every buffer is with the encoder: skip this frame
        if buffer.image.width != image.width || buffer.image.height != image.height {
            buffer.image = RGBImage(width: image.width, height: image.height)  // only when the size changes
        }
        buffer.image.pixels.withUnsafeMutableBufferPointer { out in
            image.pixels.withUnsafeBufferPointer { out.baseAddress!.update(from: $0.baseAddress!, count: $0.count) }
        }
        buffer.index = index
        pending = feed.raw.offer(buffer)
    }
}

/// The encoder thread: JPEG-encodes each frame the loop hands over, once for all viewers.
private func encodeFrames(_ feed: LiveFeed) {
    let writer = JPEGWriter()
    while true {
        guard feed.raw.next(after: 0, timeoutMs: 1000) != nil, let frame = feed.raw.take() else { continue }
        if let bytes = try? writer.encode(frame.image, quality: 80) {
            feed.jpeg.offer(EncodedFrame(index: frame.index, jpeg: bytes))
        }
        feed.spares.withLock { if $0.count < LiveFeed.frameBuffers { $0.append(frame) } }
    }
}
