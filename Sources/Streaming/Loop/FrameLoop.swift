// The frame loop: a frame source -> the face pipeline -> every sink, frame by frame, on the
// calling thread. It reopens a lost camera with backoff, restarts a file at its end when
// asked (--loop), skips corrupt frames, publishes telemetry for other threads, keeps the
// stderr summary and saves adaptation state. `facecam run` is this loop plus flags; another
// program can run it the same way with its own source, processor and sinks.
//
// Per frame the loop allocates nothing once warm (StreamingTests' allocation test): sinks that
// need to allocate (JSON text, JPEG) do so themselves.
#if canImport(Glibc)
import Glibc
#endif
import Adaptation
import FacePipeline
import FrameCapture
import Imaging
import Int8Runtime

/// What finds faces in a frame: the FacePipeline, or a stand-in (tests).
public protocol FaceProcessor: AnyObject {
    func process(_ image: RGBImage, timings: inout PipelineTimings) -> [Face]
    func process(_ view: PixelView, timings: inout PipelineTimings) -> [Face]
    /// Adapting heads (nil when frozen): summarized, published and persisted by the loop.
    var verifierAdapter: HeadAdapter? { get }
    var expressionAdapter: HeadAdapter? { get }
}

extension FacePipeline: FaceProcessor {}

public struct LoopConfiguration: Sendable {
    /// Stop after this many processed frames (nil: at the end of the source, or when stopped).
    public var maxFrames: Int?
    /// Start a file source again at its end (a kiosk demo; never applies to cameras).
    public var restartFiles = false
    /// Reopen attempts after a live camera disconnects; then the run ends with `.cameraLost`.
    public var reconnectAttempts = 5
    /// Seconds before the first reopen attempt; doubled after each failure, up to the maximum.
    public var reconnectDelay = 0.25
    public var maxReconnectDelay = 8.0
    /// Seconds between stderr summaries (0: only the final one).
    public var summaryInterval = 5.0

    public init() {}

    /// The wait before each reopen attempt, in order.
    public var reconnectDelays: [Double] {
        var delays: [Double] = [], delay = reconnectDelay
        for _ in 0..<max(0, reconnectAttempts) {
            delays.append(delay)
            delay = min(delay * 2, maxReconnectDelay)
        }
        return delays
    }
}

/// How a run ended; `exitStatus` is the command's.
public enum LoopStatus: Sendable, Equatable {
    /// The source ended, --max-frames was reached, a sink or a stop request ended it.
    case finished
    /// A source error, or a sink or the adaptation state failed at the end.
    case failed
    /// The camera disconnected and every reopen attempt failed.
    case cameraLost

    public var exitStatus: Int32 {
        switch self {
        case .finished: return 0
        case .failed: return 1
        case .cameraLost: return 3
        }
    }
}

public struct LoopResult: Sendable, Equatable {
    public var status: LoopStatus
    /// Frames processed (and handed to the sinks).
    public var frames: Int
    /// The run ended because `stop` was requested.
    public var stopped: Bool
}

public final class FrameLoop {
    public let configuration: LoopConfiguration
    /// Set from any thread or a signal handler; the loop ends after the current frame.
    public let stop: StopRequest
    /// The loop's live figures, readable from other threads.
    public let telemetry: Telemetry
    /// Outputs, called in this order for every frame. Set before `run()`.
    public var sinks: [FrameSink] = []
    /// Loads adapted heads at start and saves them (nil: no --adapt-state).
    public var persistence: AdaptationPersistence?
    /// Receives the summary and every message (the command writes them to stderr).
    public let note: (String) -> Void

    private let processor: FaceProcessor
    private let openSource: () throws -> FrameSource

    /// `openSource` opens the source at start and reopens a lost camera (throw CaptureError).
    public init(configuration: LoopConfiguration, processor: FaceProcessor, stop: StopRequest = StopRequest(),
                telemetry: Telemetry = Telemetry(), note: @escaping (String) -> Void = writeLineToStandardError,
                openSource: @escaping () throws -> FrameSource) {
        self.configuration = configuration
        self.processor = processor
        self.stop = stop
        self.telemetry = telemetry
        self.note = note
        self.openSource = openSource
    }

    /// Runs to the end. Throws only before the first frame: when the source cannot be opened
    /// (CaptureError) or a sink cannot start; everything later is reported through `note` and
    /// the result's status, after every sink's `finish`.
    public func run() throws -> LoopResult {
        let sinks = self.sinks
        var source = try openSource()
        let adapters = [processor.verifierAdapter, processor.expressionAdapter].compactMap { $0 }
        let stats = RunStatistics(sourceName: source.name, interval: configuration.summaryInterval, note: note)
        let recorder = TelemetryRecorder(verifier: processor.verifierAdapter, expression: processor.expressionAdapter,
                                         telemetry: telemetry)
        let info = StreamInfo(sourceName: source.name, isLive: source.isLive, adaptingHeads: adapters.map(\.name))
        for (started, sink) in sinks.enumerated() {
            do { try sink.start(info) } catch {
                for earlier in sinks[..<started] { try? earlier.finish(recorder.current) }
                source.close()
                throw error
            }
        }
        let converter = FrameConverter()
        var image = RGBImage(width: 1, height: 1)
        var processed = 0
        var status = LoopStatus.finished
        var droppedBeforeReconnect = 0  // a reopened camera counts from 0 again
        note("facecam: reading \(source.name)")
        stats.adapters = adapters
        persistence?.restore(adapters, note: note)

        loop: while !stop.isRequested {
            if let maxFrames = configuration.maxFrames, processed >= maxFrames { break }
            let t0 = monotonicNanoseconds()
            let frame: Frame
            do {
                guard let next = try source.nextFrame() else {  // end of file
                    guard configuration.restartFiles, !source.isLive, processed > 0 else { break }
                    source.close()
                    do { source = try openSource() } catch {
                        note("facecam: \(error)")
                        status = .failed
                        break loop
                    }
                    continue loop
                }
                frame = next
            } catch let error as CaptureError {
                switch error.kind {
                case .corruptFrame:
                    stats.countCorrupt()
                    note("facecam: skipped a corrupt frame: \(error.message)")
                    continue loop
                case .disconnected where source.isLive:
                    note("facecam: camera lost: \(error.message)")
                    source.close()
                    droppedBeforeReconnect += source.droppedFrames
                    recorder.update(state: .reconnecting, corrupt: stats.corrupt, reconnects: stats.reconnects)
                    guard let reopened = reconnect(stats) else {
                        if stop.isRequested { break loop }  // stopped while waiting: a clean end
                        note("facecam: giving up after \(configuration.reconnectAttempts) reconnection attempt(s)")
                        status = .cameraLost
                        break loop
                    }
                    source = reopened
                    continue loop
                default:
                    note("facecam: \(error.message)")
                    status = .failed
                    break loop
                }
            } catch {
                note("facecam: \(error)")
                status = .failed
                break loop
            }
            let t1 = monotonicNanoseconds()
            // Raw camera formats are sampled where they lie; JPEG is decoded to RGB first.
            // An RGB copy of a raw frame is made only while a sink wants the image.
            let view = frame.pixelView
            // Sinks are visited by index: in debug builds `for sink in sinks` and `contains(where:)`
            // allocate per element, which the allocation test would (rightly) catch.
            var withImage = view == nil
            for i in 0..<sinks.count where sinks[i].wantsImage { withImage = true }
            if withImage {
                do { try converter.convert(frame, into: &image) } catch {
                    stats.countCorrupt()
                    note("facecam: skipped frame \(frame.sequence): \((error as? CaptureError)?.message ?? "\(error)")")
                    continue loop
                }
            }
            let t2 = monotonicNanoseconds()
            var timings = PipelineTimings()
            let faces: [Face]
            let width: Int, height: Int
            if let view {  // the models always read the frame itself, annotated or not
                faces = processor.process(view, timings: &timings)
                (width, height) = (view.width, view.height)
            } else {
                faces = processor.process(image, timings: &timings)
                (width, height) = (image.width, image.height)
            }
            let t3 = monotonicNanoseconds()
            processed += 1
            let isJPEG = frame.format == .mjpeg
            var latency = StageLatency()
            latency.capture = ms(t1 - t0); latency.decode = isJPEG ? ms(t2 - t1) : 0; latency.convert = isJPEG ? 0 : ms(t2 - t1)
            latency.detect = timings.detectMs; latency.verify = timings.verifyMs; latency.classify = timings.classifyMs
            latency.total = ms(t3 - t0)
            let dropped = droppedBeforeReconnect + source.droppedFrames
            stats.record(latency, dropped: dropped)
            let snapshot = recorder.record(faces: faces, latency: latency, dropped: dropped, corrupt: stats.corrupt,
                                           reconnects: stats.reconnects)
            let processedFrame = ProcessedFrame(index: processed - 1, frame: frame, width: width, height: height, faces: faces,
                                                latency: latency, dropped: dropped, view: view, image: withImage ? image : nil)
            var sinkStopped = false
            for i in 0..<sinks.count where sinks[i].consume(processedFrame, telemetry: snapshot) == .stop { sinkStopped = true }
            if sinkStopped { break loop }
            persistence?.maybeSave(adapters)
            stats.maybeSummarize()
        }
        source.close()
        recorder.update(state: status == .cameraLost ? .lost : .ended, corrupt: stats.corrupt, reconnects: stats.reconnects)
        for sink in sinks {
            do { try sink.finish(recorder.current) } catch {
                note("facecam: \(error)")
                if status == .finished { status = .failed }
            }
        }
        if let persistence {
            do { try persistence.finish(adapters) } catch {
                note("facecam: could not save the adaptation state: \(error)")
                if status == .finished { status = .failed }
            }
            if let error = persistence.lastError { note("facecam: a background save of the adaptation state failed: \(error)") }
        }
        stats.summarize(final: true)
        return LoopResult(status: status, frames: processed, stopped: stop.isRequested)
    }

    /// Reopens a lost camera, waiting `reconnectDelays` before each attempt; nil when every
    /// attempt failed or a stop was requested meanwhile.
    private func reconnect(_ stats: RunStatistics) -> FrameSource? {
        let delays = configuration.reconnectDelays
        for (attempt, delay) in delays.enumerated() {
            guard sleep(seconds: delay) else { return nil }
            do {
                let source = try openSource()
                note("facecam: reconnected to \(source.name) (attempt \(attempt + 1))")
                stats.countReconnect()
                return source
            } catch {
                note("facecam: reconnection attempt \(attempt + 1)/\(delays.count) failed: \(error)")
            }
        }
        return nil
    }

    /// Sleeps in short slices so a stop request is seen at once; false when stopped.
    private func sleep(seconds: Double) -> Bool {
        var left = seconds
        while left > 0 {
            if stop.isRequested { return false }
            let slice = min(left, 0.05)
            usleep(useconds_t(slice * 1e6))
            left -= slice
        }
        return !stop.isRequested
    }
}

private func ms(_ ns: UInt64) -> Double { Double(ns) / 1e6 }

/// The default `note`: one line on stderr.
public func writeLineToStandardError(_ line: String) {
    fputs(line + "\n", stderr)
}
