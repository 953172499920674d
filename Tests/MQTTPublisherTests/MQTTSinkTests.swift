import XCTest
import CAllocationCounter
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

    func testAttachedTelemetryCarriesThePublisherCounts() throws {
        let telemetry = Telemetry()
        XCTAssertNil(telemetry.snapshot().mqtt)
        let sink = MQTTSink(address: nowhere, capacity: 4, telemetry: telemetry, note: { _ in })
        XCTAssertEqual(telemetry.snapshot().mqtt, PublisherTelemetry())
        for i in 0..<10 { _ = sink.consume(processed(i, faces: 1), telemetry: TelemetrySnapshot()) }
        XCTAssertEqual(telemetry.snapshot().mqtt, PublisherTelemetry(published: 0, dropped: 6, lost: 0, reconnects: 0))
        try sink.finish(TelemetrySnapshot())
    }

    /// On the loop thread the sink allocates only the message text (what building
    /// `frame.json.text` allocates), also while the full queue drops; nothing for a frame
    /// without faces.
    func testConsumeAllocatesOnlyTheMessage() throws {
        try XCTSkipUnless(allocation_counter_available() == 1, "allocation counting is off in this build (sanitizer)")
        let sink = MQTTSink(address: nowhere, capacity: 4, note: { _ in })
        let withFaces = processed(7, faces: 2), without = processed(8, faces: 0)
        for _ in 0..<8 { _ = sink.consume(withFaces, telemetry: TelemetrySnapshot()) }  // full: every push now drops
        allocation_counter_start()
        let text = withFaces.json.text
        let messageAllocations = allocation_counter_stop()
        XCTAssertFalse(text.isEmpty)
        allocation_counter_start()
        _ = sink.consume(withFaces, telemetry: TelemetrySnapshot())
        let consumeAllocations = allocation_counter_stop()
        allocation_counter_start()
        _ = sink.consume(without, telemetry: TelemetrySnapshot())
        let emptyAllocations = allocation_counter_stop()
        print("MQTTSink.consume: \(consumeAllocations) allocations (building the message: \(messageAllocations)), no faces: \(emptyAllocations)")
        XCTAssertGreaterThan(messageAllocations, 0)
        XCTAssertEqual(consumeAllocations, messageAllocations)
        XCTAssertEqual(emptyAllocations, 0)
        XCTAssertEqual(sink.counts.dropped, 5)
    }

    /// Connected, but the broker never acknowledges (QoS 1): mosquitto gets at most 32
    /// messages, the rest wait in the queue, which keeps the newest and drops the oldest.
    func testAConnectedBrokerThatNeverAcknowledgesFillsOnlyTheBoundedQueue() throws {
        let broker = try SilentBroker()
        let sink = MQTTSink(address: MQTTAddress(host: "127.0.0.1", port: broker.port, topic: "facecam/test"), qos: .atLeastOnce,
                            capacity: 4, note: { _ in })
        try sink.start(StreamInfo(sourceName: "test", isLive: false, adaptingHeads: []))
        XCTAssertTrue(poll { sink.counts.connected }, "the fake broker's CONNACK was not taken")
        let limit = MQTTConnection.maxOutstanding
        for i in 0..<limit {  // one at a time, each taken by the publisher thread
            _ = sink.consume(processed(i, faces: 1), telemetry: TelemetrySnapshot())
            XCTAssertTrue(poll { sink.queue.elementCount == 0 && sink.counts.inFlight == i + 1 }, "message \(i) not handed over")
        }
        for i in limit..<(limit + 10) { _ = sink.consume(processed(i, faces: 1), telemetry: TelemetrySnapshot()) }
        var counts = sink.counts
        XCTAssertEqual(counts.inFlight, limit)
        XCTAssertEqual(counts.sent, 0)
        XCTAssertEqual(sink.queue.elementCount, 4)
        XCTAssertEqual(counts.dropped, 6)
        try sink.finish(TelemetrySnapshot())  // gives up flushing after its time limit
        counts = sink.counts
        XCTAssertEqual(counts.sent, 0)
        XCTAssertEqual(counts.unsent, 4)
        var kept: [Int] = []
        while let message = sink.queue.pop() { kept.append(frameIndex(message) ?? -1) }
        XCTAssertEqual(kept, [limit + 6, limit + 7, limit + 8, limit + 9])
        XCTAssertGreaterThan(broker.bytesReceived, 0)
    }

    private func poll(_ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(10)
        while !condition() {
            if Date() > deadline { return false }
            usleep(2_000)
        }
        return true
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

/// Accepts one MQTT client on a loopback port, answers its CONNECT with "accepted", then reads
/// and discards everything and never acknowledges a publish.
private final class SilentBroker: @unchecked Sendable {
    let port: Int
    private let listener: Int32
    private let lock = NSLock()
    private var received = 0
    private var client: Int32 = -1

    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, length) == 0 && listen(fd, 1) == 0 && getsockname(fd, $0, &length) == 0
            }
        }
        guard bound else { close(fd); throw NSError(domain: "SilentBroker", code: Int(errno)) }
        listener = fd
        port = Int(UInt16(bigEndian: address.sin_port))
        Thread { self.serve() }.start()
    }

    deinit {
        close(listener)
        if client >= 0 { close(client) }
    }

    var bytesReceived: Int { lock.lock(); defer { lock.unlock() }; return received }

    private func serve() {
        let fd = accept(listener, nil, nil)
        guard fd >= 0 else { return }
        lock.lock(); client = fd; lock.unlock()
        var buffer = [UInt8](repeating: 0, count: 4096)
        var answered = false
        while true {
            let n = read(fd, &buffer, buffer.count)
            if n <= 0 { return }
            lock.lock(); received += n; lock.unlock()
            if !answered {  // CONNACK: session present 0, return code 0 (accepted)
                answered = true
                let connack: [UInt8] = [0x20, 0x02, 0x00, 0x00]
                _ = connack.withUnsafeBytes { write(fd, $0.baseAddress, 4) }
            }
        }
    }
}
