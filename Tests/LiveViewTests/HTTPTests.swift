// The live view's own HTTP request parsing and limits, and its loop-side hand-offs.
import XCTest
import CAllocationCounter
import FlyingSocks
import FrameCapture
import Imaging
@testable import LiveView
import Streaming

final class HTTPTests: XCTestCase {
    private func feed(_ text: String, limit: Int = 8192, chunk: Int = 7) throws(RequestError) -> Request? {
        var head = RequestHead(limit: limit)
        let bytes = Array(text.utf8)
        var i = 0
        while i < bytes.count {
            if let r = try head.append(bytes[i..<min(i + chunk, bytes.count)]) { return r }
            i += chunk
        }
        return nil
    }

    private func status(_ text: String, limit: Int = 8192) -> Int? {
        do { _ = try feed(text, limit: limit); return nil } catch { return error.status }
    }

    func testParsesARequestSplitAcrossReads() throws {
        let r = try XCTUnwrap(feed("GET /events?token=a%20b&x HTTP/1.1\r\nHost: x\r\nAuthorization:  Bearer  s3cret \r\n\r\n", chunk: 3))
        XCTAssertEqual(r.method, "GET")
        XCTAssertEqual(r.path, "/events")
        XCTAssertEqual(r.query, [.init("token", "a b"), .init("x", "")])
        XCTAssertEqual(r.header("host"), "x")
        XCTAssertEqual(r.token, "s3cret")  // the header wins over ?token=
        XCTAssertFalse(r.isHead)
    }

    func testTokenFromTheQueryWhenNoHeader() throws {
        let r = try XCTUnwrap(feed("HEAD /?token=abc HTTP/1.0\r\n\r\n"))
        XCTAssertTrue(r.isHead)
        XCTAssertEqual(r.token, "abc")
        let basic = try XCTUnwrap(feed("GET / HTTP/1.1\r\nAuthorization: Basic abc\r\n\r\n"))
        XCTAssertNil(basic.token)
    }

    func testIncompleteHeadAsksForMore() throws {
        XCTAssertNil(try feed("GET / HTTP/1.1\r\nHost: x\r\n"))
    }

    func testHugeHeadIs431EvenWithoutAnEnd() {
        XCTAssertEqual(status("GET / HTTP/1.1\r\nX: " + String(repeating: "a", count: 9000) + "\r\n\r\n"), 431)
        XCTAssertEqual(status("GET / HTTP/1.1\r\nX: " + String(repeating: "a", count: 9000)), 431)
        // Exactly at the limit is accepted; one byte more is not.
        let head = "GET / HTTP/1.1\r\nX: abc\r\n\r\n"
        XCTAssertNil(status(head, limit: head.utf8.count))
        XCTAssertEqual(status(head, limit: head.utf8.count - 1), 431)
    }

    func testGarbageIs400() {
        for text in ["\u{16}\u{03}\u{01}\u{02}\u{00}\u{01}\r\n\r\n",         // a TLS hello
                     "hello\r\n\r\n", "GET\r\n\r\n", "GET / HTTP/2.0\r\n\r\n", "GET http://x/ HTTP/1.1\r\n\r\n",
                     "get / HTTP/1.1\r\n\r\n", "GET / HTTP/1.1\r\nno colon\r\n\r\n", "GET / HTTP/1.1\r\n: v\r\n\r\n",
                     "GET / HTTP/1.1\r\nBad Name: v\r\n\r\n", "GET / HTTP/1.1\r\nX: a\nY: b\r\n\r\n", "GET /\u{0} HTTP/1.1\r\n\r\n"] {
            XCTAssertEqual(status(text), 400, text.debugDescription)
        }
        var head = RequestHead(limit: 100)
        XCTAssertThrowsError(try head.append([0x47, 0x45, 0x54, 0x20, 0x2f, 0x20, 0xff, 0xfe, 13, 10, 13, 10])) {
            XCTAssertEqual(($0 as? RequestError)?.status, 400)  // not UTF-8
        }
    }

    func testNonHTTPIsRefusedBeforeTheHeadEnds() {
        var tls = RequestHead(limit: 8192)
        XCTAssertThrowsError(try tls.append([0x16, 0x03, 0x01, 0x02, 0x00])) { XCTAssertEqual(($0 as? RequestError)?.status, 400) }
        var long = RequestHead(limit: 8192)
        XCTAssertThrowsError(try long.append(Array("ABCDEFGHIJKLMNOPQRSTU".utf8))) { XCTAssertEqual(($0 as? RequestError)?.status, 400) }
        var partial = RequestHead(limit: 8192)
        XCTAssertNil(try partial.append(Array("GE".utf8)))
        XCTAssertNil(try partial.append(Array("T / HTTP/1.1\r\n".utf8)))
    }

    func testResponsesCarryStatusLengthAndClose() {
        let r = Response.text(405, "only GET and HEAD are served")
        let head = String(decoding: r.head, as: UTF8.self)
        XCTAssertTrue(head.hasPrefix("HTTP/1.1 405 Method Not Allowed\r\n"))
        XCTAssertTrue(head.contains("Content-Length: \(r.body.count)\r\n"))
        XCTAssertTrue(head.contains("Allow: GET, HEAD\r\n"))
        XCTAssertTrue(head.hasSuffix("Connection: close\r\n\r\n"))
        XCTAssertEqual(r.bytes(headOnly: true), r.head)
        XCTAssertTrue(String(decoding: Response.text(401, "no").head, as: UTF8.self).contains("WWW-Authenticate: Bearer"))
    }

    func testServeAddress() throws {
        XCTAssertEqual(try ServeAddress(parsing: "8080"), ServeAddress(host: "127.0.0.1", port: 8080))
        XCTAssertEqual(try ServeAddress(parsing: "0.0.0.0:80"), ServeAddress(host: "0.0.0.0", port: 80))
        XCTAssertEqual(try ServeAddress(parsing: "localhost:9"), ServeAddress(host: "127.0.0.1", port: 9))
        XCTAssertEqual(try ServeAddress(parsing: "[::1]:8080"), ServeAddress(host: "::1", port: 8080))
        XCTAssertTrue(try ServeAddress(parsing: "[::1]:8080").isLoopback)
        XCTAssertFalse(try ServeAddress(parsing: "0.0.0.0:1").isLoopback)
        for bad in ["", "http", "1.2.3.4:", ":80", "99999", "::1:80", "[::1]80", "host:-1", "1.2.3.4.5:80", "example.org:80", "[::g]:1"] {
            XCTAssertThrowsError(try ServeAddress(parsing: bad), bad)
        }
    }

    func testConstantTimeEqual() {
        XCTAssertTrue(constantTimeEqual("abc", "abc"))
        XCTAssertFalse(constantTimeEqual("abc", "abd"))
        XCTAssertFalse(constantTimeEqual("abc", "abcd"))
        XCTAssertFalse(constantTimeEqual("", "a"))
    }
}

final class FeedTests: XCTestCase {
    func testEventRingKeepsTheNewestAndEachReaderItsCursor() {
        let ring = EventRing(capacity: 4)
        for i in 0..<3 { XCTAssertTrue(ring.publish("e\(i)")) }
        var a: UInt64 = 0, b: UInt64 = 2
        var out: [String] = []
        ring.read(after: &a, into: &out)
        XCTAssertEqual(out, ["e0", "e1", "e2"])
        for i in 3..<10 { ring.publish("e\(i)") }
        out = []
        ring.read(after: &b, into: &out)  // lapped: only the last 4 survive
        XCTAssertEqual(out, ["e6", "e7", "e8", "e9"])
        out = []
        ring.read(after: &a, into: &out)
        XCTAssertEqual(out, ["e6", "e7", "e8", "e9"])
        XCTAssertEqual(a, 10)
    }

    func testSampleRingDrainsEveryRowOnceAndCountsLapped() {
        let ring = SampleRing(capacity: 8)
        var latency = StageLatency()
        for i in 0..<5 { latency.total = Double(i); ring.record(latency, faces: i % 2) }
        var totals: [Double] = [], faces: [Double] = []
        XCTAssertEqual(ring.drain { totals.append($0[6]); faces.append($0[7]) }, 0)
        XCTAssertEqual(totals, [0, 1, 2, 3, 4])
        XCTAssertEqual(faces, [0, 1, 0, 1, 0])
        XCTAssertEqual(ring.drain { _ in XCTFail("nothing new") }, 0)
        for i in 5..<25 { latency.total = Double(i); ring.record(latency, faces: 0) }
        totals = []
        XCTAssertEqual(ring.drain { totals.append($0[6]) }, 12)
        XCTAssertEqual(totals, (17..<25).map(Double.init))
    }
}

final class ServerStateTests: XCTestCase {
    private func server(token: String? = nil, allowPublic: Bool = false) throws -> (PreviewServer, TelemetryRecorder) {
        let recorder = TelemetryRecorder(verifier: nil, expression: nil)
        var settings = ServeSettings(address: ServeAddress(host: "127.0.0.1", port: 0))
        settings.token = token
        settings.allowPublic = allowPublic
        let server = try PreviewServer(settings: settings, telemetry: recorder.telemetry,
                                       info: BuildInfo(kernelSet: "reference", modelHashes: [], source: "test"))
        return (server, recorder)
    }

    func testHealthFollowsTheSource() throws {
        let (server, recorder) = try server()
        XCTAssertNotEqual(server.boundPort, 0)
        XCTAssertFalse(server.health().0)  // no frame yet
        _ = recorder.record(faces: [], latency: StageLatency(), dropped: 0, corrupt: 0, reconnects: 0)
        XCTAssertTrue(server.health().0)
        recorder.update(state: .lost, corrupt: 0, reconnects: 0)
        XCTAssertEqual(server.health().1, "the camera is lost")
        recorder.update(state: .ended, corrupt: 0, reconnects: 0)
        XCTAssertFalse(server.health().0)
    }

    func testTakenPortIsAClearError() throws {
        let (first, _) = try server()
        let recorder = TelemetryRecorder(verifier: nil, expression: nil)
        let settings = ServeSettings(address: ServeAddress(host: "127.0.0.1", port: first.boundPort))
        XCTAssertThrowsError(try PreviewServer(settings: settings, telemetry: recorder.telemetry,
                                               info: BuildInfo(kernelSet: "x", modelHashes: [], source: "x"))) {
            XCTAssertTrue("\($0)".contains("already in use"), "\($0)")
        }
    }

    func testAccessRules() throws {
        let get = try XCTUnwrap(try parseRequestHead(ArraySlice("GET /metrics HTTP/1.1".utf8)))
        let post = try XCTUnwrap(try parseRequestHead(ArraySlice("POST /metrics HTTP/1.1".utf8)))
        let withToken = try XCTUnwrap(try parseRequestHead(ArraySlice("GET /?token=s HTTP/1.1".utf8)))
        let lan = Socket.Address.ip4("192.168.1.20", port: 5000), local = Socket.Address.ip4("127.0.0.1", port: 5000)

        let (open, _) = try server()
        XCTAssertNil(open.refusal(get, peer: local))
        XCTAssertEqual(open.refusal(get, peer: lan)?.status, 403)
        XCTAssertEqual(open.refusal(post, peer: local)?.status, 405)
        XCTAssertNil(open.refusal(get, peer: .ip6("::1", port: 1)))
        XCTAssertNil(open.refusal(get, peer: .ip6("::ffff:127.0.0.1", port: 1)))

        let (lanOpen, _) = try server(allowPublic: true)
        XCTAssertNil(lanOpen.refusal(get, peer: lan))

        let (guarded, _) = try server(token: "s")
        XCTAssertEqual(guarded.refusal(get, peer: local)?.status, 401)  // a token binds loopback too
        XCTAssertNil(guarded.refusal(withToken, peer: lan))
    }
}

final class SinkAllocationTests: XCTestCase {
    /// The loop's side of the live view: nothing allocated per frame when nobody watches, and
    /// none either while an MJPEG client waits (the pixel buffers circulate).
    func testConsumeDoesNotAllocate() throws {
        guard allocation_counter_available() == 1 else {
            throw XCTSkip("allocation counting needs glibc's malloc (not available under sanitizers)")
        }
        let feed = LiveFeed()
        let sink = PreviewSink(feed: feed, streamFPS: 1e9)  // no rate cap: every frame is handed over
        let image = RGBImage(width: 64, height: 48)
        let bytes = [UInt8](repeating: 0, count: 16)
        bytes.withUnsafeBytes { raw in
            let frame = Frame(width: 64, height: 48, format: .mjpeg, bytes: raw, bytesPerLine: 0, sequence: 0, timestampNs: 0)
            let processed = ProcessedFrame(index: 0, frame: frame, width: 64, height: 48, faces: [], latency: StageLatency(),
                                           dropped: 0, view: nil, image: image)
            let telemetry = TelemetrySnapshot()
            for _ in 0..<4 { _ = sink.consume(processed, telemetry: telemetry) }
            allocation_counter_start()
            for _ in 0..<100 { _ = sink.consume(processed, telemetry: telemetry); _ = sink.wantsImage }
            XCTAssertEqual(allocation_counter_stop(), 0, "nobody watching")

            feed.streamWaiting.store(1, ordering: .relaxed)
            for _ in 0..<20 { _ = sink.consume(processed, telemetry: telemetry); usleep(2000) }  // all buffers made
            allocation_counter_start()
            for _ in 0..<100 { _ = sink.consume(processed, telemetry: telemetry); _ = sink.wantsImage; usleep(200) }
            XCTAssertEqual(allocation_counter_stop(), 0, "an MJPEG client waiting")
            feed.streamWaiting.store(0, ordering: .relaxed)

            // The counter does see this path: an /events client makes the sink build JSON.
            feed.eventClients.store(1, ordering: .relaxed)
            allocation_counter_start()
            _ = sink.consume(processed, telemetry: telemetry)
            XCTAssertGreaterThan(allocation_counter_stop(), 0)
            feed.eventClients.store(0, ordering: .relaxed)
            XCTAssertEqual(feed.events.version, 1)
        }
        XCTAssertGreaterThan(feed.raw.offers, 20)  // frames did reach the encoder's slot
    }
}
