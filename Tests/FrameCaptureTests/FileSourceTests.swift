import XCTest
import Imaging
@testable import FrameCapture

final class PixelConversionTests: XCTestCase {
    /// BT.601 limited range in floating point: the reference the fixed-point code must match.
    func referenceRGB(_ y: Int, _ u: Int, _ v: Int) -> [UInt8] {
        let c = 1.164383 * Double(y - 16), d = Double(u - 128), e = Double(v - 128)
        return [c + 1.596027 * e, c - 0.391762 * d - 0.812968 * e, c + 2.017232 * d].map { UInt8(max(0, min(255, $0.rounded()))) }
    }

    func convert(_ bytes: [UInt8], _ format: PixelFormat, _ w: Int, _ h: Int, stride: Int) throws -> RGBImage {
        var image = RGBImage(width: 1, height: 1)
        try bytes.withUnsafeBytes { raw in
            let frame = Frame(width: w, height: h, format: format, bytes: raw, bytesPerLine: stride, sequence: 0, timestampNs: 0)
            try FrameConverter().convert(frame, into: &image)
        }
        return image
    }

    func assertClose(_ a: [UInt8], _ b: [UInt8], tolerance: Int = 1, _ message: String = "", file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.count, b.count, file: file, line: line)
        let worst = zip(a, b).map { abs(Int($0) - Int($1)) }.max() ?? 0
        XCTAssertLessThanOrEqual(worst, tolerance, message, file: file, line: line)
    }

    func testYUYVMatchesFloatReferenceOnAllExtremes() throws {
        var rng = SystemRandomNumberGenerator()
        let (w, h) = (6, 3)
        let stride = w * 2 + 4  // padded rows, as drivers may deliver
        var bytes = [UInt8](repeating: 0, count: stride * h)
        let extremes: [UInt8] = [0, 16, 128, 235, 240, 255]
        for i in bytes.indices { bytes[i] = i < extremes.count * 4 ? extremes[i % extremes.count] : UInt8.random(in: 0...255, using: &rng) }
        let image = try convert(bytes, .yuyv, w, h, stride: stride)
        var expected: [UInt8] = []
        for y in 0..<h {
            for x in 0..<w {
                let pair = y * stride + (x / 2) * 4
                expected += referenceRGB(Int(bytes[pair + (x % 2) * 2]), Int(bytes[pair + 1]), Int(bytes[pair + 3]))
            }
        }
        assertClose(image.pixels, expected)
    }

    func testNV12AndI420MatchReference() throws {
        let (w, h) = (4, 4)
        var rng = SystemRandomNumberGenerator()
        let luma = (0..<(w * h)).map { _ in UInt8.random(in: 0...255, using: &rng) }
        let u = (0..<4).map { _ in UInt8.random(in: 0...255, using: &rng) }, v = (0..<4).map { _ in UInt8.random(in: 0...255, using: &rng) }
        var expected: [UInt8] = []
        for y in 0..<h { for x in 0..<w { let c = (y / 2) * 2 + x / 2; expected += referenceRGB(Int(luma[y * w + x]), Int(u[c]), Int(v[c])) } }
        let nv12 = luma + zip(u, v).flatMap { [$0, $1] }
        assertClose(try convert(nv12, .nv12, w, h, stride: w).pixels, expected)
        assertClose(try convert(luma + u + v, .i420, w, h, stride: w).pixels, expected)
    }

    func testGreyAndShortFrames() throws {
        let image = try convert([0, 100, 200, 255], .grey, 2, 2, stride: 2)
        XCTAssertEqual(image.pixels, [0, 0, 0, 100, 100, 100, 200, 200, 200, 255, 255, 255])
        XCTAssertThrowsError(try convert([1, 2, 3], .yuyv, 2, 2, stride: 4)) { error in
            XCTAssertEqual((error as? CaptureError)?.kind, .corruptFrame)
        }
    }
}

final class FileSourceTests: XCTestCase {
    var folder: String!

    override func setUpWithError() throws {
        folder = NSTemporaryDirectory() + "facecam-tests-\(getpid())-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: folder) }

    func jpeg(_ value: UInt8, width: Int = 32, height: Int = 24) throws -> [UInt8] {
        var image = RGBImage(width: width, height: height)
        for i in image.pixels.indices { image.pixels[i] = value &+ UInt8(i % 7) }
        return try JPEGWriter().encode(image, quality: 90)
    }

    func write(_ name: String, _ bytes: [UInt8]) -> String {
        let path = "\(folder!)/\(name)"
        FileManager.default.createFile(atPath: path, contents: Data(bytes))
        return path
    }

    /// Reads every frame; returns (decoded, corrupt) counts the way `facecam run` counts them.
    func drain(_ source: FrameSource) throws -> (Int, Int) {
        let converter = FrameConverter()
        var image = RGBImage(width: 1, height: 1)
        var good = 0, bad = 0
        while true {
            do {
                guard let frame = try source.nextFrame() else { break }
                if ProcessInfo.processInfo.environment["DEBUG_FRAMES"] != nil { print("frame", frame.sequence, frame.bytes.count) }
                try converter.convert(frame, into: &image)
                good += 1
            } catch let error as CaptureError where error.recoverable {
                if ProcessInfo.processInfo.environment["DEBUG_FRAMES"] != nil { print("bad", error) }
                bad += 1
            }
        }
        return (good, bad)
    }

    func testMJPEGStreamSplitsFramesAndSkipsCorruptOnes() throws {
        let a = try jpeg(10), b = try jpeg(120), c = try jpeg(200)
        let truncated = Array(b.prefix(b.count / 2))
        var garbage = try jpeg(60)
        let sos = (0..<garbage.count - 1).first { garbage[$0] == 0xFF && garbage[$0 + 1] == 0xDA }!
        for i in stride(from: sos + 20, to: garbage.count - 2, by: 3) { garbage[i] = 0xFF }  // corrupt entropy data
        let path = write("clip.mjpeg", a + truncated + c + garbage + a)
        let source = try FileSources.open(path)
        XCTAssertFalse(source.isLive)
        let (good, bad) = try drain(source)
        XCTAssertEqual(good + bad, 5, "every frame boundary is found")
        XCTAssertGreaterThanOrEqual(good, 3)
        XCTAssertGreaterThanOrEqual(bad, 1, "the truncated frame is reported, not decoded")
    }

    func testDecodedJPEGHasFrameSizeAndContent() throws {
        let source = try FileSources.open(write("one.jpg", try jpeg(128, width: 40, height: 30)))
        var image = RGBImage(width: 1, height: 1)
        let frame = try XCTUnwrap(try source.nextFrame())
        try FrameConverter().convert(frame, into: &image)
        XCTAssertEqual(image.width, 40)
        XCTAssertEqual(image.height, 30)
        XCTAssertEqual(Double(image.pixels.map(Int.init).reduce(0, +)) / Double(image.pixels.count), 131, accuracy: 4)
        XCTAssertNil(try source.nextFrame())
    }

    func testY4MFramesAndTruncation() throws {
        let (w, h) = (4, 2)
        let frame = [UInt8](repeating: 90, count: w * h) + [UInt8](repeating: 128, count: 4)
        let header = Array("YUV4MPEG2 W\(w) H\(h) F10:1 Ip A1:1 C420jpeg\n".utf8)
        let body = Array("FRAME\n".utf8) + frame
        let path = write("clip.y4m", header + body + body + Array("FRAME\n".utf8) + [1, 2])
        let source = try FileSources.open(path)
        XCTAssertTrue(source.name.contains("4x2"))
        let first = try XCTUnwrap(try source.nextFrame())
        XCTAssertEqual(first.format, .i420)
        XCTAssertEqual(first.timestampNs, 0)
        XCTAssertEqual(try XCTUnwrap(try source.nextFrame()).timestampNs, 100_000_000)
        XCTAssertThrowsError(try source.nextFrame()) { XCTAssertEqual(($0 as? CaptureError)?.kind, .corruptFrame) }
        XCTAssertNil(try source.nextFrame())
    }

    func testFolderOfImagesInNameOrder() throws {
        _ = write("b.jpg", try jpeg(50))
        _ = write("a.ppm", Array("P6\n2 1\n255\n".utf8) + [1, 2, 3, 4, 5, 6])
        _ = write("c.pgm", Array("P5\n2 1\n255\n".utf8) + [7])          // truncated: corrupt
        _ = write("notes.txt", Array("ignored".utf8))
        let source = try FileSources.open(folder)
        let first = try XCTUnwrap(try source.nextFrame())
        XCTAssertEqual(first.format, .rgb24)
        XCTAssertEqual(Array(first.bytes), [1, 2, 3, 4, 5, 6])
        XCTAssertEqual(try XCTUnwrap(try source.nextFrame()).format, .mjpeg)
        XCTAssertThrowsError(try source.nextFrame())
        XCTAssertNil(try source.nextFrame())
    }

    func testNotAVideoOrMissingGivesClearErrors() throws {
        let text = write("readme.txt", Array("hello, not a video".utf8))
        XCTAssertThrowsError(try FileSources.open(text)) { error in
            XCTAssertEqual((error as? CaptureError)?.kind, .unsupported)
            XCTAssertTrue("\(error)".contains("not a video or image"), "\(error)")
        }
        XCTAssertThrowsError(try FileSources.open("\(folder!)/missing.mjpeg")) { error in
            XCTAssertEqual((error as? CaptureError)?.kind, .notFound)
        }
        XCTAssertThrowsError(try FileSources.open(write("empty.mjpeg", []))) { error in
            XCTAssertTrue("\(error)".contains("empty"), "\(error)")
        }
        XCTAssertThrowsError(try FileSources.open(folder)) { error in   // folder with no images
            XCTAssertTrue("\(error)".contains("no .jpg"), "\(error)")
        }
    }

    func testShippedClipDecodes() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let source = try FileSources.open(root.appendingPathComponent("samples/clip.mjpeg").path)
        let (good, bad) = try drain(source)
        XCTAssertEqual(bad, 0)
        XCTAssertGreaterThanOrEqual(good, 30)
    }
}
