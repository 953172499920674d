import Adaptation
import ArgumentParser
import BoardProfile
import FacePipeline
import FrameCapture
import Foundation
import Imaging
import Streaming
import Int8Runtime

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Stream face predictions from a camera or a file as JSON Lines.",
        discussion: """
            One JSON object per processed frame on stdout (see the README for the fields); a \
            short summary on stderr every few seconds and at exit. Live cameras always work on \
            the newest frame and count the frames they drop; files are processed frame by frame. \
            Ctrl-C or SIGTERM stops cleanly. Exit status: 0 done, 1 error, 3 camera lost, 64 bad usage.
            """)

    @Option(help: "Camera device (/dev/videoN), video file (MJPEG, Y4M), image or folder of images.")
    var source: String?

    @Option(help: "Board profile in firmware-config/ (raspberry-pi-4, raspberry-pi-5, rk3588, x86-generic).")
    var board: String?

    @Option(help: "Board profile file (YAML).")
    var config: String?

    @Option(help: "Camera pixel format.")
    var format: CameraFormat?

    @Option(help: "Camera frame size, WIDTHxHEIGHT.")
    var size: String?

    @Option(help: "Camera frame rate (for files without timing: the rate used for timestamps).")
    var fps: Double?

    @Option(name: .customLong("max-frames"), help: "Stop after this many processed frames.")
    var maxFrames: Int?

    @Option(help: "Output on stdout: one JSON object per frame, or nothing.")
    var output: OutputFormat = .jsonl

    @Option(help: "Write every processed frame, with boxes and labels drawn, as JPEG into this folder.")
    var annotate: String?

    @Option(help: "Reconnection attempts after a camera disconnects (with backoff); 0 exits with an error.")
    var reconnect: Int?

    @Option(name: .customLong("summary-interval"), help: "Seconds between stderr summaries (0: only at exit).")
    var summaryInterval: Double = 5

    @Flag(help: "Start a file source again at its end (a demo kiosk; stop with Ctrl-C or --max-frames).")
    var loop = false

    @OptionGroup(title: "Models")
    var modelOptions: ModelOptions

    @OptionGroup var kernelOptions: KernelOptions

    @OptionGroup(title: "Test-time adaptation")
    var adaptation: AdaptationFlags

    @OptionGroup(title: "MQTT")
    var mqtt: MQTTOptions

    @OptionGroup(title: "Live view")
    var serveOptions: ServeOptions

    func validate() throws {
        if let maxFrames, maxFrames < 1 { throw ValidationError("--max-frames must be at least 1") }
        if let size, parseSize(size) == nil { throw ValidationError("--size must look like 640x480") }
        // As the profile keys they override (camera.fps, reconnect.attempts).
        if let fps, !SettingRange.fps.contains(fps) { throw ValidationError("--fps must be in 1...240 (got \(fps))") }
        if let reconnect, !SettingRange.reconnectAttempts.contains(reconnect) {
            throw ValidationError("--reconnect must be in 0...1000 (got \(reconnect))")
        }
    }

    func run() throws {
        var settings = RunSettings()
        do {
            if let board { try BoardConfig.load(try BoardConfig.path(forBoard: board), into: &settings) }
            if let config { try BoardConfig.load(config, into: &settings) }
        } catch let error as ConfigError { throw CommandError(error.description) }
        if let source { settings.device = source }
        if let format { settings.format = format }
        if let size, let (w, h) = parseSize(size) { settings.width = w; settings.height = h }
        if let fps { settings.fps = fps }
        if let reconnect { settings.reconnectAttempts = reconnect }
        modelOptions.apply(to: &settings)
        adaptation.apply(to: &settings.adaptation)
        if adaptation.anyOption && settings.adaptation.target == nil {
            throw CommandError("--adapt-* options need --adapt (or adaptation.heads in the board profile)")
        }

        let pipeline: (pipeline: FacePipeline, modelHashes: [String: [UInt8]])
        do { pipeline = try settings.makePipeline(kernels: kernelOptions.kernels) } catch let error as ConfigError {
            throw CommandError(error.description)
        }
        if let annotate {
            do { try FileManager.default.createDirectory(atPath: annotate, withIntermediateDirectories: true) } catch {
                throw CommandError("--annotate \(annotate): cannot create the folder: \(error.localizedDescription)")
            }
        }

        let spec = settings.sourceSpec
        var configuration = LoopConfiguration()
        configuration.maxFrames = maxFrames
        configuration.restartFiles = loop
        configuration.reconnectAttempts = settings.reconnectAttempts
        configuration.summaryInterval = summaryInterval
        let frameLoop = FrameLoop(configuration: configuration, processor: pipeline.pipeline, openSource: spec.open)
        frameLoop.persistence = settings.adaptation.statePath.map {
            AdaptationPersistence(path: $0, interval: settings.adaptation.saveEvery, hashes: pipeline.modelHashes)
        }
        frameLoop.sinks = try makeSinks(telemetry: frameLoop.telemetry, note: frameLoop.note, sourceName: spec.path,
                                        models: settings.modelPaths.map { ($0.name, $0.path) })

        frameLoop.stop.installSignalHandlers()
        let result: LoopResult
        do { result = try frameLoop.run() } catch let error as CaptureError { throw CommandError(error.message) }
        if result.stopped { frameLoop.note("facecam: stopped by signal") }
        if result.status != .finished { throw ExitCode(result.status.exitStatus) }
    }

    /// The outputs of this run, in the order they receive each frame. A new output adds its
    /// option group to Run and its sink here; `telemetry` is for sinks that serve other threads.
    /// `sourceName` and `models` (name, path) label the live view's info metric.
    func makeSinks(telemetry: Telemetry, note: @escaping (String) -> Void, sourceName: String,
                   models: [(String, String)]) throws -> [FrameSink] {
        var sinks: [FrameSink] = []
        if output == .jsonl { sinks.append(JSONLinesSink()) }
        if let annotate { sinks.append(AnnotatedFolderSink(folder: annotate, note: note)) }
        if let mqttSink = try mqtt.makeSink(telemetry: telemetry, note: note) { sinks.append(mqttSink) }
        if let server = try serveOptions.startServer(telemetry: telemetry, kernels: kernelOptions.kernels,
                                                     sourceName: sourceName, models: models) {
            sinks.append(server.sink)
        }
        return sinks
    }
}
