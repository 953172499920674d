import XCTest
@testable import FacePipeline
import FrameCapture
import Imaging
@testable import MQTTPublisher
import Streaming

final class MQTTSinkTests: XCTestCase {
    /// A broker address where nothing listens: the publisher never connects (stalled).
    private let nowhere = MQTTAddress(host: "127.0.0.1", port: 9, topic: "facecam/test")

    private func processed(_ index: Int, faces: Int) -> ProcessedFrame {
        let face = Face(box: Box(x: 10, y: 20, width: 30, height: 30), keypoints: Keypoints(repeating: Point(x: 15, y: 25)),
                        detectionScore: 0.9, faceProbability: nil, expression: nil, expressionProbabilities: InlineArray7(repeating: 0))
        let frame = Frame(width: 64, height: 48, format: .mjpeg, bytes: UnsafeRawBufferPointer(start: nil, count: 0), bytesPerLine: 0,
                          sequence: index, timestampNs: UInt64(index) * 40_000_000)
        return ProcessedFrame(index: index, frame: frame, width: 64, height: 48, faces: Array(repeating: face, count: faces),
                              latency: StageLatency(), dropped: 0, view: nil, image: nil)
    }

    private func frameIndex(_ message: String) -> Int? {
        guard let range = message.range(of: "\"frame\":") else { return nil }
        return Int(message[range.upperBound...].prefix { $0.isNumber })
    }

    func testOnlyFramesWithFacesAreQueuedAsTheirJSONLinesObject() {
        let sink = MQTTSink(address: nowhere, capacity: 8, note: { _ in })
        XCTAssertEqual(sink.consume(processed(0, faces: 0), telemetry: TelemetrySnapshot()), .proceed)
        XCTAssertEqual(sink.queue.elementCount, 0)
        XCTAssertEqual(sink.consume(processed(1, faces: 2), telemetry: TelemetrySnapshot()), .proceed)
        XCTAssertEqual(sink.queue.pop(), processed(1, faces: 2).json.text)
    }

    func testAStalledPublisherDropsTheOldestAndTheLoopNeverWaits() throws {
        let notes = NoteLog()
        let sink = MQTTSink(address: nowhere, capacity: 4, note: notes.append)
        try sink.start(StreamInfo(sourceName: "test", isLive: false, adaptingHeads: []))
        for i in 0..<10 { XCTAssertEqual(sink.consume(processed(i, faces: 1), telemetry: TelemetrySnapshot()), .proceed) }
        XCTAssertEqual(sink.queue.elementCount, 4)
        XCTAssertEqual(sink.counts.dropped, 6)
        XCTAssertEqual(sink.counts.sent, 0)
        XCTAssertFalse(sink.counts.connected)
        // The refused connection is reported once, from start or from mosquitto's thread.
        let deadline = Date().addingTimeInterval(10)
        while !notes.lines.contains(where: { $0.contains("cannot reach the broker") }) && Date() < deadline { usleep(10_000) }
        try sink.finish(TelemetrySnapshot())
        // Nothing was taken while disconnected: the newest four are still there, in order.
        var kept: [Int] = []
        while let message = sink.queue.pop() { kept.append(frameIndex(message) ?? -1) }
        XCTAssertEqual(kept, [6, 7, 8, 9])
        XCTAssertEqual(sink.counts.unsent, 4)
        let lines = notes.lines
        XCTAssertEqual(lines.filter { $0.contains("cannot reach the broker") }.count, 1, "\(lines)")
        XCTAssertTrue(lines.last?.contains("0 message(s) sent") == true, "\(lines)")
        XCTAssertTrue(lines.last?.contains("6 dropped (queue full)") == true, "\(lines)")
        XCTAssertTrue(lines.last?.contains("4 unsent at exit") == true, "\(lines)")
    }

    func testFinishWithoutStartAndTwiceIsHarmless() throws {
        let sink = MQTTSink(address: nowhere, capacity: 2, note: { _ in })
        try sink.finish(TelemetrySnapshot())
        try sink.start(StreamInfo(sourceName: "test", isLive: false, adaptingHeads: []))
        try sink.finish(TelemetrySnapshot())
        try sink.finish(TelemetrySnapshot())
    }
}

/// Notes arrive from mosquitto's thread too.
private final class NoteLog: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: [String] = []
    func append(_ line: String) { lock.lock(); stored.append(line); lock.unlock() }
    var lines: [String] { lock.lock(); defer { lock.unlock() }; return stored }
}
