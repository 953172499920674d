import XCTest
import Imaging
@testable import FrameCapture

/// Sampling a camera format directly must give what converting to RGB first gives (up to
/// rounding), for every raw format the pipeline reads in place.
final class PixelViewTests: XCTestCase {
    func frame(_ format: PixelFormat, _ w: Int, _ h: Int, _ stride: Int, _ bytes: [UInt8], _ body: (Frame) throws -> Void) rethrows {
        try bytes.withUnsafeBytes { raw in
            try body(Frame(width: w, height: h, format: format, bytes: raw, bytesPerLine: stride, sequence: 0, timestampNs: 0))
        }
    }

    func compare(_ format: PixelFormat, stride: Int, file: StaticString = #filePath, line: UInt = #line) throws {
        let (w, h) = (40, 30)
        var rng = SystemRandomNumberGenerator()
        let size = format == .yuyv ? stride * h : (format == .grey ? stride * h : stride * h + stride * ((h + 1) / 2))
        // Smooth content (so bilinear taps of neighbours agree) plus noise.
        let bytes = (0..<size).map { i in UInt8(truncatingIfNeeded: (i % stride) * 3 + (i / stride) * 2 + Int.random(in: 0...3, using: &rng)) }
        try frame(format, w, h, stride, bytes) { f in
            var rgb = RGBImage(width: 1, height: 1)
            try FrameConverter().convert(f, into: &rgb)
            let view = try XCTUnwrap(f.pixelView, file: file, line: line)
            XCTAssertEqual(view.width, w); XCTAssertEqual(view.height, h)
            for (region, layout) in [(Box(x: -5, y: -3, width: 50, height: 50), PixelLayout.rgb),
                                     (Box(x: 8, y: 4, width: 20, height: 20), PixelLayout.gray)] {
                let n = 16 * 16 * (layout == .rgb ? 3 : 1)
                var direct = [Int8](repeating: 0, count: n), converted = [Int8](repeating: 0, count: n)
                direct.withUnsafeMutableBytes { Sampler.sample(view, region: region, into: $0, width: 16, height: 16, layout: layout) }
                converted.withUnsafeMutableBytes { Sampler.sample(rgb, region: region, into: $0, width: 16, height: 16, layout: layout) }
                let worst = zip(direct, converted).map { abs(Int($0) - Int($1)) }.max()!
                XCTAssertLessThanOrEqual(worst, 3, "\(format) \(layout)", file: file, line: line)
            }
        }
    }

    func testYUYV() throws { try compare(.yuyv, stride: 40 * 2 + 8) }
    func testNV12() throws { try compare(.nv12, stride: 40) }
    func testGrey() throws { try compare(.grey, stride: 44) }

    func testMJPEGHasNoView() {
        [UInt8](repeating: 0, count: 10).withUnsafeBytes { raw in
            XCTAssertNil(Frame(width: 4, height: 2, format: .mjpeg, bytes: raw, bytesPerLine: 0, sequence: 0, timestampNs: 0).pixelView)
        }
    }

    func testShortBufferHasNoView() {
        [UInt8](repeating: 0, count: 10).withUnsafeBytes { raw in
            XCTAssertNil(Frame(width: 4, height: 4, format: .yuyv, bytes: raw, bytesPerLine: 8, sequence: 0, timestampNs: 0).pixelView)
        }
    }
}
