import Adaptation
import ArgumentParser
import FacePipeline
import FrameCapture
import Foundation
import Imaging
import Streaming
import Int8Runtime

/// Set from the SIGINT/SIGTERM handler; the loop checks it between frames.
nonisolated(unsafe) var stopRequested: sig_atomic_t = 0

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Stream face predictions from a camera or a file as JSON Lines.",
        discussion: """
            One JSON object per processed frame on stdout (see the README for the fields); a \
            short summary on stderr every few seconds and at exit. Live cameras always work on \
            the newest frame and count the frames they drop; files are processed frame by frame. \
            Ctrl-C or SIGTERM stops cleanly. Exit status: 0 done, 1 error, 3 camera lost.
            """)

    @Option(help: "Camera device (/dev/videoN), video file (MJPEG, Y4M), image or folder of images.")
    var source: String?

    @Option(help: "Board profile in firmware-config/ (raspberry-pi-4, raspberry-pi-5, rk3588, x86-generic).")
    var board: String?

    @Option(help: "Board profile file (YAML).")
    var config: String?

    @Option(help: "Camera pixel format: yuyv, mjpeg, grey or nv12.")
    var format: String?

    @Option(help: "Camera frame size, WIDTHxHEIGHT.")
    var size: String?

    @Option(help: "Camera frame rate (for files without timing: the rate used for timestamps).")
    var fps: Double?

    @Option(help: "Per model: threads for CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED (split by output rows or channels: identical results for any count; small layers and other operators stay on one thread).")
    var threads: Int?

    @Option(name: .customLong("max-frames"), help: "Stop after this many processed frames.")
    var maxFrames: Int?

    @Option(help: "Output on stdout: jsonl or none.")
    var output: String = "jsonl"

    @Option(help: "Write every processed frame, with boxes and labels drawn, as JPEG into this folder.")
    var annotate: String?

    @Option(help: "Reconnection attempts after a camera disconnects (with backoff); 0 exits with an error.")
    var reconnect: Int?

    @Option(help: "Folder holding the models.")
    var models: String?

    @Option(help: "Minimum BlazeFace score.")
    var threshold: Float?

    @Option(name: .customLong("summary-interval"), help: "Seconds between stderr summaries (0: only at exit).")
    var summaryInterval: Double = 5

    @Flag(help: "Start a file source again at its end (a demo kiosk; stop with Ctrl-C or --max-frames).")
    var loop = false

    @OptionGroup var kernelOptions: KernelOptions

    @OptionGroup(title: "Test-time adaptation")
    var adaptation: AdaptationFlags

    @OptionGroup(title: "MQTT")
    var mqtt: MQTTOptions
    @OptionGroup(title: "Live view")
    var serveOptions: ServeOptions

    func validate() throws {
        guard ["jsonl", "none"].contains(output) else { throw ValidationError("--output must be jsonl or none") }
        if let maxFrames, maxFrames < 1 { throw ValidationError("--max-frames must be at least 1") }
        if let threads, !(1...64).contains(threads) { throw ValidationError("--threads must be in 1...64") }
        // Checked as the profile key it overrides (thresholds.detection) is.
        if let threshold, !(0...1).contains(threshold) { throw ValidationError("--threshold must be in 0...1 (got \(threshold))") }
        if let format, !["yuyv", "mjpeg", "grey", "nv12"].contains(format.lowercased()) {
            throw ValidationError("--format must be yuyv, mjpeg, grey or nv12")
        }
        if let size, parseSize(size) == nil { throw ValidationError("--size must look like 640x480") }
        if let reconnect, reconnect < 0 { throw ValidationError("--reconnect must not be negative") }
    }

    func run() throws {
        var settings = RunSettings()
        do {
            if let board { try BoardConfig.load(try BoardConfig.path(forBoard: board), into: &settings) }
            if let config { try BoardConfig.load(config, into: &settings) }
        } catch let error as ConfigError { throw CommandError(error.description) }
        if let source { settings.device = source }
        if let format { settings.format = format.lowercased() }
        if let size, let (w, h) = parseSize(size) { settings.width = w; settings.height = h }
        if let fps { settings.fps = fps }
        if let threads { settings.threads = threads }
        if let reconnect { settings.reconnectAttempts = reconnect }
        if let models { settings.modelsDirectory = models }
        if let threshold { settings.detectionThreshold = threshold }
        adaptation.apply(to: &settings.adaptation)
        if adaptation.anyOption && settings.adaptation.target == nil {
            throw CommandError("--adapt-* options need --adapt (or adaptation.heads in the board profile)")
        }
        let sourcePath = settings.device ?? "/dev/video0"

        var pipelineSettings = PipelineSettings()
        pipelineSettings.detectionThreshold = settings.detectionThreshold
        pipelineSettings.verifyThreshold = settings.verificationThreshold
        pipelineSettings.maxFaces = settings.maxFaces
        pipelineSettings.threads = settings.threads
        pipelineSettings.kernels = kernelOptions.kernels
        let dir = settings.modelsDirectory
        let modelHashes = try pipelineAdaptation(settings.adaptation, verifierModel: "\(dir)/\(settings.verifier)",
                                                 classifierModel: "\(dir)/\(settings.classifier)", into: &pipelineSettings)
        let pipeline: FacePipeline
        do {
            pipeline = try FacePipeline(detector: "\(dir)/\(settings.detector)", verifier: "\(dir)/\(settings.verifier)",
                                        classifier: "\(dir)/\(settings.classifier)", settings: pipelineSettings)
        } catch { throw CommandError("\(error)") }

        if let annotate {
            do { try FileManager.default.createDirectory(atPath: annotate, withIntermediateDirectories: true) } catch {
                throw CommandError("--annotate \(annotate): cannot create the folder: \(error.localizedDescription)")
            }
        }

        let adapters = [pipeline.verifierAdapter, pipeline.expressionAdapter].compactMap { $0 }
        let persistence = settings.adaptation.statePath.map {
            AdaptationPersistence(path: $0, interval: settings.adaptation.saveEvery, hashes: modelHashes)
        }

        let opener = SourceOpener(path: sourcePath, settings: settings)
        var frameSource: FrameSource
        do { frameSource = try opener.open() } catch let error as CaptureError { throw CommandError(error.message) }

        signal(SIGINT) { _ in stopRequested = 1 }
        signal(SIGTERM) { _ in stopRequested = 1 }
        signal(SIGPIPE, SIG_IGN)

        let stats = RunStatistics(sourceName: frameSource.name, interval: summaryInterval)
        let converter = FrameConverter()
        let recorder = TelemetryRecorder(verifier: pipeline.verifierAdapter, expression: pipeline.expressionAdapter)
        var sinks: [FrameSink] = []
        if output == "jsonl" { sinks.append(JSONLinesSink()) }
        if let annotate { sinks.append(AnnotatedFolderSink(folder: annotate, note: stats.note)) }
        if let mqttSink = try mqtt.makeSink(note: stats.note) { sinks.append(mqttSink) }
        if let server = try serveOptions.startServer(
            telemetry: recorder.telemetry, kernels: kernelOptions.kernels, sourceName: frameSource.name,
            models: [("detector", "\(dir)/\(settings.detector)"), ("verifier", "\(dir)/\(settings.verifier)"),
                     ("classifier", "\(dir)/\(settings.classifier)")]) { sinks.append(server.sink) }
        let info = StreamInfo(sourceName: frameSource.name, isLive: frameSource.isLive, adaptingHeads: adapters.map(\.name))
        for sink in sinks { try sink.start(info) }
        var image = RGBImage(width: 1, height: 1)
        var processed = 0
        var exitStatus: Int32 = 0
        var droppedBeforeReconnect = 0  // a reopened camera counts from 0 again
        stats.note("facecam: reading \(frameSource.name)")
        stats.adapters = adapters
        persistence?.restore(adapters, note: stats.note)

        loop: while stopRequested == 0 {
            if let maxFrames, processed >= maxFrames { break }
            let t0 = monotonicNanoseconds()
            let frame: Frame
            do {
                guard let next = try frameSource.nextFrame() else {  // end of file
                    guard loop, !frameSource.isLive, processed > 0 else { break }
                    frameSource.close()
                    frameSource = try opener.open()
                    continue loop
                }
                frame = next
            } catch let error as CaptureError {
                switch error.kind {
                case .corruptFrame:
                    stats.corrupt += 1
                    stats.note("facecam: skipped a corrupt frame: \(error.message)")
                    continue loop
                case .disconnected where frameSource.isLive:
                    stats.note("facecam: camera lost: \(error.message)")
                    frameSource.close()
                    guard let reopened = opener.reconnect(stats: stats) else {
                        stats.note("facecam: giving up after \(settings.reconnectAttempts) reconnection attempt(s)")
                        exitStatus = 3
                        break loop
                    }
                    droppedBeforeReconnect += frameSource.droppedFrames
                    frameSource = reopened
                    continue loop
                default:
                    stats.note("facecam: \(error.message)")
                    exitStatus = 1
                    break loop
                }
            }
            let t1 = monotonicNanoseconds()
            // Raw camera formats are sampled where they lie; JPEG is decoded to RGB first.
            // An RGB copy of a raw frame is made only when it is annotated.
            let view = frame.pixelView
            if view == nil || sinks.contains(where: { $0.wantsImage }) {
                do { try converter.convert(frame, into: &image) } catch let error as CaptureError {
                    stats.corrupt += 1
                    stats.note("facecam: skipped frame \(frame.sequence): \(error.message)")
                    continue loop
                }
            }
            let t2 = monotonicNanoseconds()
            var timings = PipelineTimings()
            let faces: [Face]
            let frameSize: (width: Int, height: Int)
            if let view {  // the models always read the frame itself, annotated or not
                faces = pipeline.process(view, timings: &timings)
                frameSize = (view.width, view.height)
            } else {
                faces = pipeline.process(image, timings: &timings)
                frameSize = (image.width, image.height)
            }
            let t3 = monotonicNanoseconds()
            processed += 1
            let isJPEG = frame.format == .mjpeg
            var latency = StageLatency()
            latency.capture = ms(t1 - t0); latency.decode = isJPEG ? ms(t2 - t1) : 0; latency.convert = isJPEG ? 0 : ms(t2 - t1)
            latency.detect = timings.detectMs; latency.verify = timings.verifyMs; latency.classify = timings.classifyMs
            latency.total = ms(t3 - t0)
            let dropped = droppedBeforeReconnect + frameSource.droppedFrames
            stats.record(latency, dropped: dropped)
            let snapshot = recorder.record(faces: faces, latency: latency, dropped: dropped, corrupt: stats.corrupt,
                                           reconnects: stats.reconnects)
            let processedFrame = ProcessedFrame(index: processed - 1, frame: frame, width: frameSize.width, height: frameSize.height,
                                                faces: faces, latency: latency, dropped: dropped, view: view,
                                                image: view == nil || sinks.contains(where: { $0.wantsImage }) ? image : nil)
            var stop = false
            for sink in sinks where sink.consume(processedFrame, telemetry: snapshot) == .stop { stop = true }
            if stop { break loop }
            persistence?.maybeSave(adapters)
            stats.maybeSummarize()
        }
        frameSource.close()
        recorder.update(state: exitStatus == 3 ? .lost : .ended, corrupt: stats.corrupt, reconnects: stats.reconnects)
        for sink in sinks {
            do { try sink.finish(recorder.current) } catch {
                stats.note("facecam: \(error)")
                if exitStatus == 0 { exitStatus = 1 }
            }
        }
        if let persistence {
            do { try persistence.finish(adapters) } catch {
                stats.note("facecam: could not save the adaptation state: \(error)")
                if exitStatus == 0 { exitStatus = 1 }
            }
            if let error = persistence.lastError { stats.note("facecam: a background save of the adaptation state failed: \(error)") }
        }
        stats.summarize(final: true, corruptFromDecoder: converter.corruptFrames)
        if stopRequested != 0 { stats.note("facecam: stopped by signal") }
        if exitStatus != 0 { throw ExitCode(exitStatus) }
    }
}

func parseSize(_ text: String) -> (Int, Int)? {
    let parts = text.lowercased().split(separator: "x").compactMap { Int($0) }
    guard parts.count == 2, (16...8192).contains(parts[0]), (16...8192).contains(parts[1]) else { return nil }
    return (parts[0], parts[1])
}

private func ms(_ ns: UInt64) -> Double { Double(ns) / 1e6 }

/// Opens the configured source, and reopens a lost camera with exponential backoff.
struct SourceOpener {
    let path: String
    let settings: RunSettings

    var isCamera: Bool { path.hasPrefix("/dev/") }

    func open() throws -> FrameSource {
        if isCamera {
            let format = settings.format.flatMap { PixelFormat(cliName: $0) } ?? .yuyv
            return try V4L2Source(path: path, format: format, width: settings.width ?? 640, height: settings.height ?? 480,
                                  fps: settings.fps ?? 30)
        }
        return try FileSources.open(path, fps: settings.fps ?? 25)
    }

    func reconnect(stats: RunStatistics) -> FrameSource? {
        var delay = 0.25
        for attempt in 0..<settings.reconnectAttempts where stopRequested == 0 {
            usleep(useconds_t(delay * 1e6))
            do {
                let source = try open()
                stats.note("facecam: reconnected to \(source.name) (attempt \(attempt + 1))")
                stats.reconnects += 1
                return source
            } catch {
                stats.note("facecam: reconnection attempt \(attempt + 1)/\(settings.reconnectAttempts) failed: \(error)")
            }
            delay = min(delay * 2, 8)
        }
        return nil
    }
}

extension PixelFormat {
    init?(cliName: String) {
        switch cliName.lowercased() {
        case "yuyv": self = .yuyv
        case "mjpeg", "mjpg": self = .mjpeg
        case "grey", "gray": self = .grey
        case "nv12": self = .nv12
        default: return nil
        }
    }
}

/// Per-stage latency percentiles, fps, drops; printed to stderr every interval and at exit.
final class RunStatistics {
    let sourceName: String
    let interval: Double
    var corrupt = 0
    var reconnects = 0
    var adapters: [HeadAdapter] = []
    private var dropped = 0
    private var frames = 0
    private var windowFrames = 0
    /// Latency ring buffers, one per stage, allocated once: recording a frame allocates nothing.
    private static let capacity = 4096
    private var samples = [[Double]](repeating: [Double](repeating: 0, count: capacity), count: 7)
    private var recorded = 0
    private let started = monotonicNanoseconds()
    private var windowStart = monotonicNanoseconds()
    private static let stageNames = ["capture", "decode", "convert", "detect", "verify", "classify", "total"]

    init(sourceName: String, interval: Double) {
        self.sourceName = sourceName
        self.interval = interval
    }

    func record(_ l: StageLatency, dropped: Int) {
        frames += 1
        windowFrames += 1
        self.dropped = dropped
        let slot = recorded % Self.capacity
        recorded += 1
        samples[0][slot] = l.capture; samples[1][slot] = l.decode; samples[2][slot] = l.convert
        samples[3][slot] = l.detect; samples[4][slot] = l.verify; samples[5][slot] = l.classify; samples[6][slot] = l.total
    }

    func note(_ message: String) {
        FileHandle.standardError.write(Data((message + "\n").utf8))
    }

    func maybeSummarize() {
        guard interval > 0, Double(monotonicNanoseconds() - windowStart) / 1e9 >= interval else { return }
        summarize(final: false, corruptFromDecoder: nil)
    }

    func summarize(final: Bool, corruptFromDecoder: Int?) {
        let now = monotonicNanoseconds()
        let seconds = Double(now - (final ? started : windowStart)) / 1e9
        let frameCount = final ? frames : windowFrames
        let fps = seconds > 0 ? Double(frameCount) / seconds : 0
        var parts: [String] = []
        let count = min(recorded, Self.capacity)  // percentiles over the most recent frames
        for (i, name) in Self.stageNames.enumerated() where count > 0 {
            let sorted = samples[i][0..<count].sorted()
            guard sorted.last! > 0 else { continue }   // stage not used by this source
            let p50 = sorted[count / 2], p95 = sorted[min(count - 1, Int(Double(count) * 0.95))]
            parts.append(String(format: "%@ %.1f/%.1f", name, p50, p95))
        }
        let head = final ? "facecam: done:" : "facecam:"
        note(String(format: "%@ %d frames, %.1f fps, dropped %d, corrupt %d%@; latency ms p50/p95: %@", head, frameCount, fps, dropped,
                    corrupt, reconnects > 0 ? ", reconnects \(reconnects)" : "", parts.joined(separator: ", ")))
        for adapter in adapters {
            note(adaptationSummary(adapter, labels: adapter.name == "verifier" ? ["non-face", "face"] : ExpressionClassifier.labels))
        }
        windowStart = now
        windowFrames = 0
    }
}
