#if canImport(Glibc)
import Glibc
#endif
// BlazeFace short-range (MediaPipe) post-processing: the 896 SSD anchors, box and keypoint
// decoding, and weighted non-maximum suppression, with MediaPipe's settings for this model.

import Imaging

public struct Detection: Sendable {
    /// Box in the detector's normalized [0, 1] input coordinates (before mapping to the image).
    public var box: Box
    public var keypoints: Keypoints
    public var score: Float

    public init(box: Box, keypoints: Keypoints, score: Float) {
        self.box = box; self.keypoints = keypoints; self.score = score
    }
}

public enum BlazeFace {
    public static let inputSize = 128
    public static let anchorCount = 896
    public static let coordinateCount = 16
    public static let keypointCount = 6
    /// Keypoint names in output order.
    public static let keypointNames = ["right_eye", "left_eye", "nose_tip", "mouth_center", "right_ear_tragion", "left_ear_tragion"]

    /// Anchor centers in [0, 1]: a 16x16 grid with 2 anchors per cell (stride 8), then an 8x8
    /// grid with 6 (strides 16, 16, 16 merged), as MediaPipe's SsdAnchorsCalculator with
    /// fixed_anchor_size makes them. Anchor width and height are 1.
    public static let anchors: [Point] = {
        var anchors: [Point] = []
        anchors.reserveCapacity(anchorCount)
        for (grid, perCell) in [(16, 2), (8, 6)] {
            for y in 0..<grid {
                for x in 0..<grid {
                    let center = Point(x: (Float(x) + 0.5) / Float(grid), y: (Float(y) + 0.5) / Float(grid))
                    for _ in 0..<perCell { anchors.append(center) }
                }
            }
        }
        return anchors
    }()

    /// Decodes dequantized outputs: `regressors` is 896 x 16 (dx, dy, w, h, then 6 x/y
    /// keypoints, in input pixels), `logits` 896 scores. Appends detections above `threshold`
    /// to `detections` (reuse one array with kept capacity: no allocation per frame).
    public static func decode(regressors: (Int) -> Float, logits: (Int) -> Float, threshold: Float,
                              into detections: inout [Detection]) {
        withoutActuallyEscaping(regressors) { r in
            withoutActuallyEscaping(logits) { l in
                decode(ClosureValues(read: r), ClosureValues(read: l), threshold: threshold, into: &detections)
            }
        }
    }

    /// The same on any value source (the pipeline passes its dequantizing views: no closures).
    static func decode<R: RealValues, L: RealValues>(_ regressors: R, _ logits: L, threshold: Float,
                                                     into detections: inout [Detection]) {
        let scale = Float(inputSize)
        for a in 0..<anchorCount {
            let logit = max(-100, min(100, logits.value(a)))
            let score = 1 / (1 + (-logit).exp)
            guard score >= threshold else { continue }
            let anchor = anchors[a]
            let base = a * coordinateCount
            let cx = regressors.value(base) / scale + anchor.x
            let cy = regressors.value(base + 1) / scale + anchor.y
            let w = regressors.value(base + 2) / scale
            let h = regressors.value(base + 3) / scale
            guard w > 0, h > 0 else { continue }
            var keypoints = Keypoints(repeating: Point(x: 0, y: 0))
            for k in 0..<keypointCount {
                keypoints[k] = Point(x: regressors.value(base + 4 + 2 * k) / scale + anchor.x,
                                     y: regressors.value(base + 5 + 2 * k) / scale + anchor.y)
            }
            detections.append(Detection(box: Box(x: cx - w / 2, y: cy - h / 2, width: w, height: h),
                                        keypoints: keypoints, score: score))
        }
    }

    public static func decode(regressors: (Int) -> Float, logits: (Int) -> Float, threshold: Float) -> [Detection] {
        var detections: [Detection] = []
        decode(regressors: regressors, logits: logits, threshold: threshold, into: &detections)
        return detections
    }

    /// MediaPipe's weighted NMS: the best remaining detection absorbs every detection that
    /// overlaps it by more than `iouThreshold`; box and keypoints become their score-weighted
    /// mean, the score stays the best one. Sorts `candidates` in place and appends to `kept`;
    /// with reused arrays it allocates nothing.
    public static func weightedNonMaximumSuppression(_ candidates: inout [Detection], iouThreshold: Float = 0.3,
                                                     into kept: inout [Detection]) {
        // Insertion sort, best first: few candidates, and no scratch buffer.
        for i in stride(from: 1, to: candidates.count, by: 1) {
            let item = candidates[i]
            var j = i
            while j > 0 && candidates[j - 1].score < item.score {
                candidates[j] = candidates[j - 1]
                j -= 1
            }
            candidates[j] = item
        }
        // Absorbed detections get score -1.
        for i in 0..<candidates.count where candidates[i].score >= 0 {
            let best = candidates[i]
            var total: Float = 0
            var box = Box(x: 0, y: 0, width: 0, height: 0)
            var keypoints = Keypoints(repeating: Point(x: 0, y: 0))
            for j in i..<candidates.count where candidates[j].score >= 0 {
                let d = candidates[j]
                guard j == i || best.box.intersectionOverUnion(d.box) > iouThreshold else { continue }
                total += d.score
                box.x += d.score * d.box.x; box.y += d.score * d.box.y
                box.width += d.score * d.box.width; box.height += d.score * d.box.height
                for k in 0..<keypointCount {
                    keypoints[k].x += d.score * d.keypoints[k].x
                    keypoints[k].y += d.score * d.keypoints[k].y
                }
                if j != i { candidates[j].score = -1 }
            }
            var merged = best
            if total > 0 {
                merged.box = Box(x: box.x / total, y: box.y / total, width: box.width / total, height: box.height / total)
                for k in 0..<keypointCount {
                    merged.keypoints[k] = Point(x: keypoints[k].x / total, y: keypoints[k].y / total)
                }
            }
            kept.append(merged)
        }
    }

    public static func weightedNonMaximumSuppression(_ detections: [Detection], iouThreshold: Float = 0.3) -> [Detection] {
        var candidates = detections
        var kept: [Detection] = []
        weightedNonMaximumSuppression(&candidates, iouThreshold: iouThreshold, into: &kept)
        return kept
    }
}

extension Float {
    @inline(__always) var exp: Float {
        #if canImport(Glibc)
        return Glibc.expf(self)
        #else
        return Foundation.exp(self)
        #endif
    }
}

/// Real values by index: a dequantized tensor, or a closure in tests.
protocol RealValues {
    func value(_ index: Int) -> Float
}

struct ClosureValues: RealValues {
    let read: (Int) -> Float
    func value(_ index: Int) -> Float { read(index) }
}
