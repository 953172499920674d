// The live view's own HTTP request parsing and limits, and its loop-side hand-offs.
import XCTest
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
        for bad in ["", "http", "1.2.3.4:", ":80", "99999", "::1:80", "[::1]80", "host:-1"] {
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
