#if canImport(Glibc)
import Glibc
#endif
// BlazeFace short-range (MediaPipe) post-processing: the 896 SSD anchors, box and keypoint
// decoding, and weighted non-maximum suppression, with MediaPipe's settings for this model.

public struct Detection: Sendable {
    /// Box in the detector's normalized [0, 1] input coordinates (before mapping to the image).
    public var box: Box
    public var keypoints: [Point]
    public var score: Float
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
    /// keypoints, in input pixels), `logits` 896 scores. Keeps detections above `threshold`.
    public static func decode(regressors: (Int) -> Float, logits: (Int) -> Float, threshold: Float) -> [Detection] {
        var detections: [Detection] = []
        let scale = Float(inputSize)
        for a in 0..<anchorCount {
            let logit = max(-100, min(100, logits(a)))
            let score = 1 / (1 + (-logit).exp)
            guard score >= threshold else { continue }
            let anchor = anchors[a]
            let base = a * coordinateCount
            let cx = regressors(base) / scale + anchor.x
            let cy = regressors(base + 1) / scale + anchor.y
            let w = regressors(base + 2) / scale
            let h = regressors(base + 3) / scale
            guard w > 0, h > 0 else { continue }
            var keypoints: [Point] = []
            keypoints.reserveCapacity(keypointCount)
            for k in 0..<keypointCount {
                keypoints.append(Point(x: regressors(base + 4 + 2 * k) / scale + anchor.x,
                                       y: regressors(base + 5 + 2 * k) / scale + anchor.y))
            }
            detections.append(Detection(box: Box(x: cx - w / 2, y: cy - h / 2, width: w, height: h),
                                        keypoints: keypoints, score: score))
        }
        return detections
    }

    /// MediaPipe's weighted NMS: the best remaining detection absorbs every detection that
    /// overlaps it by more than `iouThreshold`; box and keypoints become their score-weighted
    /// mean, the score stays the best one.
    public static func weightedNonMaximumSuppression(_ detections: [Detection], iouThreshold: Float = 0.3) -> [Detection] {
        var remaining = detections.sorted { $0.score > $1.score }
        var result: [Detection] = []
        while let best = remaining.first {
            var cluster: [Detection] = []
            var rest: [Detection] = []
            for d in remaining {
                if best.box.intersectionOverUnion(d.box) > iouThreshold { cluster.append(d) } else { rest.append(d) }
            }
            let total = cluster.reduce(0) { $0 + $1.score }
            var merged = best
            if cluster.count > 1 && total > 0 {
                var box = Box(x: 0, y: 0, width: 0, height: 0)
                var keypoints = [Point](repeating: Point(x: 0, y: 0), count: best.keypoints.count)
                for d in cluster {
                    let w = d.score / total
                    box.x += w * d.box.x; box.y += w * d.box.y; box.width += w * d.box.width; box.height += w * d.box.height
                    for k in keypoints.indices { keypoints[k].x += w * d.keypoints[k].x; keypoints[k].y += w * d.keypoints[k].y }
                }
                merged.box = box
                merged.keypoints = keypoints
            }
            result.append(merged)
            remaining = rest
        }
        return result
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
