import XCTest
@testable import FacePipeline
import Imaging

final class FacePipelineTests: XCTestCase {
    func testAnchorsFollowMediaPipeLayout() {
        let anchors = BlazeFace.anchors
        XCTAssertEqual(anchors.count, 896)
        XCTAssertEqual(anchors[0], Point(x: 0.5 / 16, y: 0.5 / 16))
        XCTAssertEqual(anchors[1], anchors[0])                    // two anchors per 16x16 cell
        XCTAssertEqual(anchors[2], Point(x: 1.5 / 16, y: 0.5 / 16))
        XCTAssertEqual(anchors[511], Point(x: 15.5 / 16, y: 15.5 / 16))
        XCTAssertEqual(anchors[512], Point(x: 0.5 / 8, y: 0.5 / 8))  // then six per 8x8 cell
        XCTAssertEqual(anchors[517], anchors[512])
        XCTAssertEqual(anchors[895], Point(x: 7.5 / 8, y: 7.5 / 8))
    }

    func testDecodeAppliesAnchorAndScale() {
        // Only anchor 600 fires; its regressors move the center by (12.8, -6.4) input pixels.
        let regress: (Int) -> Float = { i in
            guard i / 16 == 600 else { return 0 }
            switch i % 16 { case 0: return 12.8; case 1: return -6.4; case 2, 3: return 32; default: return 0 }
        }
        let logits: (Int) -> Float = { $0 == 600 ? 3 : -10 }
        let detections = BlazeFace.decode(regressors: regress, logits: logits, threshold: 0.5)
        XCTAssertEqual(detections.count, 1)
        let d = detections[0], anchor = BlazeFace.anchors[600]
        XCTAssertEqual(d.box.centerX, anchor.x + 0.1, accuracy: 1e-6)
        XCTAssertEqual(d.box.centerY, anchor.y - 0.05, accuracy: 1e-6)
        XCTAssertEqual(d.box.width, 0.25, accuracy: 1e-6)
        XCTAssertEqual(d.score, 1 / (1 + expf(-3)), accuracy: 1e-6)
        XCTAssertEqual(d.keypoints.count, 6)
        XCTAssertEqual(d.keypoints[0], anchor)
    }

    func testWeightedNMSMergesOverlapsAndKeepsSeparateFaces() {
        func det(_ x: Float, _ score: Float) -> Detection {
            Detection(box: Box(x: x, y: 0, width: 1, height: 1), keypoints: Keypoints(repeating: Point(x: x, y: 0)), score: score)
        }
        let result = BlazeFace.weightedNonMaximumSuppression([det(0, 0.9), det(0.1, 0.6), det(5, 0.8)], iouThreshold: 0.3)
        XCTAssertEqual(result.count, 2)
        XCTAssertEqual(result[0].score, 0.9)
        XCTAssertEqual(result[0].box.x, 0.1 * 0.6 / 1.5, accuracy: 1e-6)   // score-weighted mean
        XCTAssertEqual(result[0].keypoints[3].x, 0.1 * 0.6 / 1.5, accuracy: 1e-6)
        XCTAssertEqual(result[1].box.x, 5)
        XCTAssertEqual(BlazeFace.weightedNonMaximumSuppression([]).count, 0)
        // Unsorted input: the 0.7 detection overlaps the best (0.9) and is absorbed; the 0.5 one
        // overlaps the 0.7 one but hardly the best, so it stays.
        let chained = BlazeFace.weightedNonMaximumSuppression([det(0.9, 0.5), det(0, 0.9), det(0.45, 0.7)], iouThreshold: 0.3)
        XCTAssertEqual(chained.map(\.score), [0.9, 0.5])
    }

    func testInlineArrays() {
        var k = Keypoints(repeating: Point(x: 1, y: 2))
        k[5] = Point(x: 7, y: 8)
        XCTAssertEqual(k.count, 6)
        XCTAssertEqual(k.map(\.x), [1, 1, 1, 1, 1, 7])
        var p = InlineArray7<Float>(repeating: 0)
        for i in p.indices { p[i] = Float(i) }
        XCTAssertEqual(Array(p), [0, 1, 2, 3, 4, 5, 6])
    }

    func testIoU() {
        let a = Box(x: 0, y: 0, width: 2, height: 2), b = Box(x: 1, y: 1, width: 2, height: 2)
        XCTAssertEqual(a.intersectionOverUnion(b), 1.0 / 7.0, accuracy: 1e-6)
        XCTAssertEqual(a.intersectionOverUnion(Box(x: 5, y: 5, width: 1, height: 1)), 0)
    }

    func testPNMDecodeAndErrors() throws {
        let ppm = Array("P6\n# comment\n2 1\n255\n".utf8) + [255, 0, 0, 0, 255, 0]
        let image = try PNM.decode(ppm)
        XCTAssertEqual(image.width, 2)
        XCTAssertEqual(image.pixels, [255, 0, 0, 0, 255, 0])
        let pgm = Array("P5 2 1 255\n".utf8) + [7, 9]
        XCTAssertEqual(try PNM.decode(pgm).pixels, [7, 7, 7, 9, 9, 9])
        XCTAssertThrowsError(try PNM.decode(Array("P6\n2 2\n255\n".utf8) + [1, 2, 3]))   // truncated
        XCTAssertThrowsError(try PNM.decode(Array("GIF89a".utf8)))
        XCTAssertThrowsError(try PNM.decode(Array("P6\n99999999 2\n255\n".utf8)))
        XCTAssertThrowsError(try PNM.decode(Array("P6\n2 2\n65535\n".utf8)))
        XCTAssertEqual(try PNM.decode(PNM.encodePPM(image)).pixels, image.pixels)
    }

    func testSamplerIdentityAndOffset() {
        // Sampling a region the size of the output reproduces the pixels, minus 128.
        var image = RGBImage(width: 4, height: 3)
        for i in image.pixels.indices { image.pixels[i] = UInt8(i * 7 % 256) }
        var out = [Int8](repeating: 0, count: 4 * 3 * 3)
        out.withUnsafeMutableBytes {
            Sampler.sample(image, region: Box(x: 0, y: 0, width: 4, height: 3), into: $0, width: 4, height: 3, layout: .rgb)
        }
        XCTAssertEqual(out.map { Int($0) + 128 }, image.pixels.map(Int.init))
        // Outside the image reads as black (-128); gray uses BT.601 weights.
        var gray = [Int8](repeating: 0, count: 4)
        let white = RGBImage(width: 1, height: 1, pixels: [255, 255, 255])
        gray.withUnsafeMutableBytes {
            Sampler.sample(white, region: Box(x: -1, y: 0, width: 2, height: 2), into: $0, width: 2, height: 2, layout: .gray)
        }
        XCTAssertEqual(gray, [-128, 127, -128, -128])
    }
}

import CAllocationCounter
import Int8Runtime

final class PipelineAllocationTests: XCTestCase {
    /// Once warm, a frame through detection, verification and classification allocates nothing.
    func testProcessingAFrameDoesNotAllocate() throws {
        guard allocation_counter_available() == 1 else {
            throw XCTSkip("allocation counting needs glibc's malloc (not available under sanitizers)")
        }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let models = root.appendingPathComponent("models").path
        let pipeline = try FacePipeline(detector: "\(models)/blazeface.tflite", verifier: "\(models)/onet.tflite",
                                        classifier: "\(models)/expression.tflite")
        let image = try PNM.decode([UInt8](try Data(contentsOf: root.appendingPathComponent("samples/astronaut.ppm"))))
        var timings = PipelineTimings()
        try image.pixels.withUnsafeBufferPointer { p in
            let view = PixelView.rgb(p.baseAddress!, width: image.width, height: image.height, stride: image.width * 3)
            // Warm-up: sizes the reused buffers and lets the runtime instantiate type metadata
            // (one-time allocations, seen in the first two calls of a debug build).
            for _ in 0..<2 { XCTAssertEqual(pipeline.process(view, timings: &timings).count, 1) }
            var faces = 0
            allocation_counter_start()
            for _ in 0..<3 { faces += pipeline.process(view, timings: &timings).count }
            let allocations = allocation_counter_stop()
            XCTAssertEqual(faces, 3)
            XCTAssertEqual(allocations, 0)
        }
    }
}
