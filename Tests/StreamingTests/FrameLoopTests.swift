import Adaptation
import CAllocationCounter
import FacePipeline
import FrameCapture
import Imaging
import XCTest
@testable import Streaming

/// An in-memory source of tiny RGB frames. `sequence` numbers the frames of this opening.
final class FakeSource: FrameSource {
    let name: String
    let isLive: Bool
    /// Frames before the end (files) or before a disconnect (live); nil: endless.
    let length: Int?
    /// Sequences that come out corrupt (skipped by the loop).
    var corrupt: Set<Int> = []
    /// Pause per frame, so another thread can act while the loop runs.
    var microsecondsPerFrame: UInt32 = 0
    private(set) var delivered = 0
    private(set) var closed = false
    private let width: Int, height: Int
    private let buffer: UnsafeMutableRawBufferPointer

    init(name: String = "fake", isLive: Bool = false, length: Int?, width: Int = 16, height: Int = 16) {
        self.name = name; self.isLive = isLive; self.length = length; self.width = width; self.height = height
        buffer = .allocate(byteCount: width * height * 3, alignment: 16)
        buffer.initializeMemory(as: UInt8.self, repeating: 128)
    }

    /// A source showing `image` in every frame.
    convenience init(image: RGBImage, length: Int?) {
        self.init(length: length, width: image.width, height: image.height)
        image.pixels.withUnsafeBytes { buffer.copyMemory(from: $0) }
    }

    deinit { buffer.deallocate() }

    func nextFrame() throws -> Frame? {
        if let length, delivered >= length {
            if isLive { throw CaptureError(.disconnected, "unplugged") }
            return nil
        }
        if microsecondsPerFrame > 0 { usleep(microsecondsPerFrame) }
        let sequence = delivered
        delivered += 1
        if corrupt.contains(sequence) { throw CaptureError(.corruptFrame, "bad frame \(sequence)") }
        return Frame(width: width, height: height, format: .rgb24, bytes: UnsafeRawBufferPointer(buffer), bytesPerLine: width * 3,
                     sequence: sequence, timestampNs: UInt64(sequence) * 40_000_000)
    }

    func close() { closed = true }
}

/// Finds no faces; counts what it was asked.
final class NoFaces: FaceProcessor {
    var frames = 0
    func process(_ image: RGBImage, timings: inout PipelineTimings) -> [Face] { frames += 1; return [] }
    func process(_ view: PixelView, timings: inout PipelineTimings) -> [Face] { frames += 1; return [] }
    var verifierAdapter: HeadAdapter? { nil }
    var expressionAdapter: HeadAdapter? { nil }
}

/// Records what reaches it; can stop the loop at a frame index.
final class RecordingSink: FrameSink {
    var stopAt: Int?
    var failToFinish = false
    var failToStart = false
    private(set) var info: StreamInfo?
    private(set) var indices: [Int] = []
    private(set) var sequences: [Int] = []
    private(set) var finishes = 0
    private(set) var finalTelemetry: TelemetrySnapshot?

    func start(_ info: StreamInfo) throws {
        if failToStart { throw CaptureError(.io, "cannot start") }
        self.info = info
    }

    func consume(_ frame: ProcessedFrame, telemetry: TelemetrySnapshot) -> SinkAction {
        indices.append(frame.index)
        sequences.append(frame.frame.sequence)
        return frame.index == stopAt ? .stop : .proceed
    }

    func finish(_ telemetry: TelemetrySnapshot) throws {
        finishes += 1
        finalTelemetry = telemetry
        if failToFinish { throw CaptureError(.io, "disk full") }
    }
}

/// Collects the loop's messages (thread-safe: the test reads them after the run).
final class Notes: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []
    func add(_ line: String) { lock.lock(); lines.append(line); lock.unlock() }
    var all: [String] { lock.lock(); defer { lock.unlock() }; return lines }
    func contains(_ text: String) -> Bool { all.contains { $0.contains(text) } }
}

final class FrameLoopTests: XCTestCase {
    private func makeLoop(_ configuration: LoopConfiguration = FrameLoopTests.quiet(), notes: Notes = Notes(), processor: FaceProcessor = NoFaces(),
                          sinks: [FrameSink], open: @escaping () throws -> FrameSource) -> FrameLoop {
        let loop = FrameLoop(configuration: configuration, processor: processor, note: notes.add, openSource: open)
        loop.sinks = sinks
        return loop
    }

    private static func quiet() -> LoopConfiguration {
        var c = LoopConfiguration()
        c.summaryInterval = 0
        c.reconnectDelay = 0.001
        c.maxReconnectDelay = 0.004
        return c
    }

    func testEveryFrameReachesEverySinkInOrder() throws {
        let a = RecordingSink(), b = RecordingSink()
        let source = FakeSource(name: "ten", length: 10)
        let notes = Notes()
        let loop = makeLoop(notes: notes, sinks: [a, b]) { source }
        let result = try loop.run()
        XCTAssertEqual(result, LoopResult(status: .finished, frames: 10, stopped: false))
        for sink in [a, b] {
            XCTAssertEqual(sink.indices, Array(0..<10))
            XCTAssertEqual(sink.sequences, Array(0..<10))
            XCTAssertEqual(sink.info?.sourceName, "ten")
            XCTAssertEqual(sink.info?.isLive, false)
            XCTAssertEqual(sink.finishes, 1)
            XCTAssertEqual(sink.finalTelemetry?.state, .ended)
            XCTAssertEqual(sink.finalTelemetry?.frames, 10)
        }
        XCTAssertTrue(source.closed)
        XCTAssertEqual(loop.telemetry.snapshot().frames, 10, "telemetry is published for other threads")
        XCTAssertTrue(notes.contains("facecam: reading ten"))
        XCTAssertTrue(notes.contains("facecam: done: 10 frames"), "\(notes.all)")
    }

    func testASinkReturningStopEndsTheLoopAfterEverySinkHadThatFrame() throws {
        let a = RecordingSink(), b = RecordingSink()
        a.stopAt = 3
        let loop = makeLoop(sinks: [a, b]) { FakeSource(length: nil) }
        let result = try loop.run()
        XCTAssertEqual(result.status, .finished)
        XCTAssertEqual(result.frames, 4)
        XCTAssertEqual(a.indices, [0, 1, 2, 3])
        XCTAssertEqual(b.indices, [0, 1, 2, 3])
        XCTAssertEqual([a.finishes, b.finishes], [1, 1])
    }

    func testRestartFilesStartsAFileAgainAtItsEnd() throws {
        var configuration = Self.quiet()
        configuration.restartFiles = true
        configuration.maxFrames = 12
        var opened: [FakeSource] = []
        let sink = RecordingSink()
        let loop = makeLoop(configuration, sinks: [sink]) {
            opened.append(FakeSource(length: 5))
            return opened.last!
        }
        let result = try loop.run()
        XCTAssertEqual(result.frames, 12)
        XCTAssertEqual(sink.sequences, [0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 0, 1])
        XCTAssertEqual(sink.indices, Array(0..<12), "the frame index keeps counting across restarts")
        XCTAssertEqual(opened.count, 3)
        XCTAssertTrue(opened.allSatisfy(\.closed))

        // Without restartFiles, the end of the file ends the run.
        let once = RecordingSink()
        XCTAssertEqual(try makeLoop(sinks: [once]) { FakeSource(length: 5) }.run().frames, 5)
        XCTAssertEqual(once.sequences, Array(0..<5))
    }

    func testRestartFilesNeverRestartsACamera() throws {
        var configuration = Self.quiet()
        configuration.restartFiles = true
        configuration.reconnectAttempts = 0
        let sink = RecordingSink()
        let result = try makeLoop(configuration, sinks: [sink]) { FakeSource(isLive: true, length: 3) }.run()
        XCTAssertEqual(result.status, .cameraLost, "a camera that ends is lost, not restarted")
        XCTAssertEqual(sink.sequences, [0, 1, 2])
    }

    func testBackoffDoublesUpToTheMaximum() {
        var configuration = LoopConfiguration()
        configuration.reconnectAttempts = 7
        XCTAssertEqual(configuration.reconnectDelays, [0.25, 0.5, 1, 2, 4, 8, 8])
        configuration.reconnectAttempts = 0
        XCTAssertEqual(configuration.reconnectDelays, [])
    }

    func testALostCameraIsReopenedUpToNAttemptsThenTheRunEndsLost() throws {
        var configuration = Self.quiet()
        configuration.reconnectAttempts = 3
        var opens = 0
        let notes = Notes()
        let sink = RecordingSink()
        let loop = makeLoop(configuration, notes: notes, sinks: [sink]) {
            opens += 1
            guard opens == 1 else { throw CaptureError(.notFound, "no /dev/video7") }
            return FakeSource(name: "cam", isLive: true, length: 4)
        }
        let result = try loop.run()
        XCTAssertEqual(result.status, .cameraLost)
        XCTAssertEqual(result.status.exitStatus, 3)
        XCTAssertEqual(result.frames, 4)
        XCTAssertEqual(opens, 4, "the first opening and 3 attempts")
        XCTAssertTrue(notes.contains("facecam: camera lost: unplugged"))
        for attempt in 1...3 { XCTAssertTrue(notes.contains("reconnection attempt \(attempt)/3 failed: no /dev/video7"), "\(notes.all)") }
        XCTAssertTrue(notes.contains("giving up after 3 reconnection attempt(s)"))
        XCTAssertEqual(sink.finalTelemetry?.state, .lost)
        XCTAssertEqual(loop.telemetry.snapshot().state, .lost)
        XCTAssertEqual(sink.finishes, 1)
    }

    func testAReopenedCameraGoesOnAndIsCounted() throws {
        var configuration = Self.quiet()
        configuration.reconnectAttempts = 5
        configuration.maxFrames = 10
        var opens = 0
        let notes = Notes()
        let sink = RecordingSink()
        let loop = makeLoop(configuration, notes: notes, sinks: [sink]) {
            opens += 1
            if opens == 2 || opens == 3 { throw CaptureError(.notFound, "not back yet") }
            return FakeSource(name: "cam", isLive: true, length: 6)
        }
        let result = try loop.run()
        XCTAssertEqual(result.status, .finished)
        XCTAssertEqual(sink.sequences, [0, 1, 2, 3, 4, 5, 0, 1, 2, 3])
        XCTAssertEqual(sink.finalTelemetry?.reconnects, 1)
        XCTAssertTrue(notes.contains("reconnected to cam (attempt 3)"), "\(notes.all)")
        XCTAssertTrue(notes.contains("reconnects 1"), "the summary counts reconnects")
    }

    func testMaxFramesIsHonoured() throws {
        var configuration = Self.quiet()
        configuration.maxFrames = 7
        let sink = RecordingSink()
        let processor = NoFaces()
        let result = try makeLoop(configuration, processor: processor, sinks: [sink]) { FakeSource(isLive: true, length: nil) }.run()
        XCTAssertEqual(result.frames, 7)
        XCTAssertEqual(processor.frames, 7)
        XCTAssertEqual(sink.indices.count, 7)
    }

    func testAStopFromAnotherThreadEndsTheLoopCleanly() throws {
        let a = RecordingSink(), b = RecordingSink()
        let source = FakeSource(isLive: true, length: nil)
        source.microsecondsPerFrame = 1000
        let loop = makeLoop(sinks: [a, b]) { source }
        let stop = loop.stop
        let stopper = Thread {
            while loop.telemetry.snapshot().frames < 20 { usleep(1000) }
            stop.request()
        }
        stopper.start()
        let result = try loop.run()
        XCTAssertEqual(result.status, .finished)
        XCTAssertTrue(result.stopped)
        XCTAssertGreaterThanOrEqual(result.frames, 20)
        XCTAssertEqual(a.indices, Array(0..<result.frames))
        XCTAssertEqual(b.indices, a.indices)
        XCTAssertEqual([a.finishes, b.finishes], [1, 1])
        XCTAssertEqual(a.finalTelemetry?.state, .ended)
        XCTAssertTrue(source.closed)
    }

    func testAStopWhileWaitingToReconnectEndsCleanlyAndAtOnce() throws {
        var configuration = Self.quiet()
        configuration.reconnectAttempts = 3
        configuration.reconnectDelay = 30   // far longer than the test may take
        configuration.maxReconnectDelay = 30
        var opens = 0
        let sink = RecordingSink()
        let loop = makeLoop(configuration, sinks: [sink]) {
            opens += 1
            guard opens == 1 else { throw CaptureError(.notFound, "gone") }
            return FakeSource(isLive: true, length: 2)
        }
        let stop = loop.stop
        let stopper = Thread {
            while loop.telemetry.snapshot().state != .reconnecting { usleep(1000) }
            stop.request()
        }
        stopper.start()
        let started = Date()
        let result = try loop.run()
        XCTAssertLessThan(Date().timeIntervalSince(started), 10)
        XCTAssertEqual(result, LoopResult(status: .finished, frames: 2, stopped: true))
        XCTAssertEqual(opens, 1, "no attempt after the stop")
        XCTAssertEqual(sink.finishes, 1)
    }

    func testCorruptFramesAreSkippedAndCounted() throws {
        let sink = RecordingSink()
        let notes = Notes()
        let result = try makeLoop(notes: notes, sinks: [sink]) {
            let source = FakeSource(length: 6)
            source.corrupt = [2, 4]
            return source
        }.run()
        XCTAssertEqual(result.frames, 4)
        XCTAssertEqual(sink.sequences, [0, 1, 3, 5])
        XCTAssertEqual(sink.finalTelemetry?.corrupt, 2)
        XCTAssertTrue(notes.contains("skipped a corrupt frame: bad frame 2"))
        XCTAssertTrue(notes.contains("corrupt 2"))
    }

    func testAFailingFinishMakesTheRunFailAfterEverySinkFinished() throws {
        let a = RecordingSink(), b = RecordingSink()
        a.failToFinish = true
        let notes = Notes()
        let result = try makeLoop(notes: notes, sinks: [a, b]) { FakeSource(length: 3) }.run()
        XCTAssertEqual(result.status, .failed)
        XCTAssertEqual(result.status.exitStatus, 1)
        XCTAssertEqual([a.finishes, b.finishes], [1, 1])
        XCTAssertTrue(notes.contains("facecam: disk full"))
    }

    func testASinkThatCannotStartEndsTheRunBeforeAnyFrameAndEarlierSinksFinish() {
        let a = RecordingSink(), b = RecordingSink(), c = RecordingSink()
        b.failToStart = true
        let source = FakeSource(length: 3)
        XCTAssertThrowsError(try makeLoop(sinks: [a, b, c]) { source }.run())
        XCTAssertEqual(a.finishes, 1)
        XCTAssertEqual(c.finishes, 0)
        XCTAssertTrue(a.indices.isEmpty)
        XCTAssertEqual(source.delivered, 0)
        XCTAssertTrue(source.closed)
    }

    func testASourceThatCannotOpenThrowsItsError() {
        let sink = RecordingSink()
        XCTAssertThrowsError(try makeLoop(sinks: [sink]) { throw CaptureError(.notFound, "no camera") }.run()) { error in
            XCTAssertEqual((error as? CaptureError)?.message, "no camera")
        }
        XCTAssertEqual(sink.finishes, 0)
    }

    func testSignalHandlersRequestTheStop() {
        let stop = StopRequest()
        stop.installSignalHandlers()
        XCTAssertFalse(stop.isRequested)
        raise(SIGTERM)
        XCTAssertTrue(stop.isRequested)
        signal(SIGTERM, SIG_DFL); signal(SIGINT, SIG_DFL); signal(SIGPIPE, SIG_DFL)
    }

    func testSummaryNumbersAreFormattedAsPrintfDoes() {
        XCTAssertEqual(fixed(2.25, 1), "2.2")   // binary 2.25 is exact: round half to even, as %.1f
        XCTAssertEqual(fixed(0.05, 1), "0.1")
        XCTAssertEqual(fixed(12.345678, 2), "12.35")
        XCTAssertEqual(fixed(0, 1), "0.0")
        XCTAssertEqual(fixed(1234567.0, 1), "1234567.0")
    }
}

/// The loop path of a frame, with the real face pipeline: once warm, capture, the models,
/// telemetry, the statistics and the hand-off to a sink allocate nothing.
final class FrameLoopAllocationTests: XCTestCase {
    /// Counts allocations between two frames it sees, i.e. over whole loop iterations.
    final class CountingSink: FrameSink {
        let from: Int, to: Int
        var faces = 0
        var allocations: UInt64 = .max
        init(from: Int, to: Int) { self.from = from; self.to = to }
        func consume(_ frame: ProcessedFrame, telemetry: TelemetrySnapshot) -> SinkAction {
            if frame.index == from { allocation_counter_start() }
            if frame.index > from && frame.index <= to { faces += frame.faces.count }
            if frame.index == to { allocations = allocation_counter_stop() }
            return .proceed
        }
    }

    func testALoopIterationDoesNotAllocate() throws {
        guard allocation_counter_available() == 1 else {
            throw XCTSkip("allocation counting needs glibc's malloc (not available under sanitizers)")
        }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let models = root.appendingPathComponent("models").path
        let pipeline = try FacePipeline(detector: "\(models)/blazeface.tflite", verifier: "\(models)/onet.tflite",
                                        classifier: "\(models)/expression.tflite")
        let image = try PNM.decode([UInt8](try Data(contentsOf: root.appendingPathComponent("samples/astronaut.ppm"))))
        var configuration = LoopConfiguration()
        configuration.summaryInterval = 0
        let sink = CountingSink(from: 3, to: 8)
        let source = FakeSource(image: image, length: 10)
        let loop = FrameLoop(configuration: configuration, processor: pipeline, note: { _ in }) { source }
        loop.sinks = [sink]
        let result = try loop.run()
        XCTAssertEqual(result.frames, 10)
        XCTAssertEqual(sink.faces, 5, "the astronaut is found in each of the counted frames")
        XCTAssertEqual(sink.allocations, 0)
    }
}
