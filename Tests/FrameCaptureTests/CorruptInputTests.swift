import XCTest
import Imaging
@testable import FrameCapture

/// Damaged files must be read frame by frame with bad frames reported, never a crash or an
/// out-of-bounds read (run under AddressSanitizer by tools/test).
final class CorruptInputTests: XCTestCase {
    var rng = SystemRandomNumberGenerator()

    func drain(_ bytes: [UInt8], name: String) {
        let path = NSTemporaryDirectory() + "facecam-corrupt-\(getpid())-\(name)"
        FileManager.default.createFile(atPath: path, contents: Data(bytes))
        defer { try? FileManager.default.removeItem(atPath: path) }
        guard let source = try? FileSources.open(path) else { return }   // refused up front: fine
        let converter = FrameConverter()
        var image = RGBImage(width: 1, height: 1)
        for _ in 0..<500 {
            do {
                guard let frame = try source.nextFrame() else { return }
                if let view = frame.pixelView {
                    var out = [Int8](repeating: 0, count: 32 * 32 * 3)
                    out.withUnsafeMutableBytes {
                        Sampler.sample(view, region: Box(x: -3, y: -3, width: 40, height: 40), into: $0, width: 32, height: 32, layout: .rgb)
                    }
                } else {
                    try converter.convert(frame, into: &image)
                }
            } catch let error as CaptureError {
                XCTAssertFalse(error.message.isEmpty)
            } catch {
                XCTFail("\(name): unexpected error \(error)")
            }
        }
        XCTFail("\(name): source did not end")
    }

    func testMutatedClip() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let clip = [UInt8](try Data(contentsOf: root.appendingPathComponent("samples/clip.mjpeg")))
        let head = Array(clip.prefix(200_000))   // the first few frames keep the test quick
        for trial in 0..<40 {
            var bytes = head
            for _ in 0..<(1 + trial % 20) {
                let at = Int.random(in: 0..<bytes.count, using: &rng)
                switch trial % 4 {
                case 0: bytes[at] ^= UInt8.random(in: 1...255, using: &rng)
                case 1: bytes[at] = 0xFF
                case 2: bytes.removeSubrange(at..<min(bytes.count, at + Int.random(in: 1...5000, using: &rng)))
                default: bytes.insert(contentsOf: [0xFF, 0xD8, 0xFF, 0xDA, 0x00, 0x02], at: at)
                }
                if bytes.isEmpty { break }
            }
            drain(bytes, name: "clip-\(trial)")
        }
    }

    func testRandomHeadersAndGarbage() {
        let prefixes: [[UInt8]] = [[0xFF, 0xD8, 0xFF], Array("YUV4MPEG2 ".utf8), Array("P6\n".utf8), Array("P5 ".utf8), []]
        for trial in 0..<200 {
            var bytes = prefixes[trial % prefixes.count]
            if trial % 3 == 0 { bytes += Array("W64 H48 F10:1 C420jpeg\nFRAME\n".utf8) }
            if trial % 7 == 0 { bytes += Array("4 3\n255\n".utf8) }
            bytes += (0..<Int.random(in: 0..<3000, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            drain(bytes, name: "garbage-\(trial)")
        }
    }

    func testAbsurdY4MHeaders() {
        for header in ["YUV4MPEG2 W99999999 H2 C420\nFRAME\n", "YUV4MPEG2 W-4 H-4\nFRAME\n", "YUV4MPEG2 W4 H4 C444\nFRAME\n",
                       "YUV4MPEG2 W4 H4 F0:0\nFRAME\n", "YUV4MPEG2 W4\n", "YUV4MPEG2 " + String(repeating: "W", count: 2000)] {
            drain(Array(header.utf8) + [UInt8](repeating: 7, count: 100), name: "y4m")
        }
    }
}
