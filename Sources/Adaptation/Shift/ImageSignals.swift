// Low-level signals of a model's input crop -- brightness, contrast, noise, sharpness -- that
// move with the camera's conditions but hardly with what the crop shows. Feature statistics
// also move when the class mix changes (a stream of mostly non-faces is not a shift of the
// camera), so adaptation is gated by how far these signals are from the source's.

public struct ImageSignals: Sendable, Equatable {
    public static let count = 4
    public static let names = ["brightness", "contrast", "noise", "sharpness"]
    public var values: (Float, Float, Float, Float)

    public static func == (a: ImageSignals, b: ImageSignals) -> Bool { a.values == b.values }

    public subscript(i: Int) -> Float {
        switch i { case 0: return values.0; case 1: return values.1; case 2: return values.2; default: return values.3 }
    }

    /// Measures an int8 input (pixel - 128), `channels` interleaved; colour is averaged to
    /// gray into `scratch` (width * height floats).
    public static func measure(_ pixels: UnsafePointer<Int8>, width: Int, height: Int, channels: Int,
                               scratch: UnsafeMutableBufferPointer<Float>) -> ImageSignals {
        precondition(scratch.count >= width * height && width >= 3 && height >= 3)
        let g = scratch.baseAddress!
        let inverse = 1 / Float(channels)
        var sum: Float = 0, square: Float = 0
        for i in 0..<(width * height) {
            var s: Int32 = 0
            for c in 0..<channels { s += Int32(pixels[i * channels + c]) }
            let v = Float(s) * inverse + 128
            g[i] = v
            sum += v; square += v * v
        }
        var laplacian: Float = 0, gradient: Float = 0
        for y in 0..<height {
            let row = g + y * width
            for x in 0..<(width - 1) { gradient += abs(row[x + 1] - row[x]) }
            if y + 1 < height { for x in 0..<width { gradient += abs(row[x + width] - row[x]) } }
            // Immerkaer's noise operator: zero on planes and ramps, large on pixel noise.
            if y > 0 && y + 1 < height {
                let up = row - width, down = row + width
                for x in 1..<(width - 1) {
                    let r = 4 * row[x] - 2 * (row[x - 1] + row[x + 1] + up[x] + down[x]) + up[x - 1] + up[x + 1] + down[x - 1] + down[x + 1]
                    laplacian += abs(r)
                }
            }
        }
        let n = Float(width * height)
        let mean = sum / n
        let std = max(square / n - mean * mean, 0).squareRoot()
        let noise = laplacian * (Float.pi / 2).squareRoot() / (6 * Float((width - 2) * (height - 2)))
        let edges = gradient / Float(2 * width * height - width - height)
        // Sharpness relative to contrast, so that dimming a crop does not look like blurring it.
        return ImageSignals(values: (mean, std, noise, edges / (std + 1)))
    }
}

/// How far the stream's image signals are from the source's, as a gate in [0, 1].
public struct ShiftGate: Sendable {
    public var sourceMean: [Float]
    public var sourceSpread: [Float]
    /// Below `onset` standard deviations nothing adapts; at `full` and beyond, everything does.
    public var onset: Float = 2
    public var full: Float = 4
    public var momentum: Float = 0.05
    public private(set) var running: [Float]
    public private(set) var samples = 0

    public init(sourceMean: [Float], sourceSpread: [Float]) {
        precondition(sourceMean.count == ImageSignals.count && sourceSpread.count == ImageSignals.count)
        self.sourceMean = sourceMean
        self.sourceSpread = sourceSpread.map { max($0, 1e-3) }
        running = sourceMean
    }

    public mutating func observe(_ s: ImageSignals) {
        let m = max(momentum, 1 / Float(samples + 1))
        for k in 0..<ImageSignals.count { running[k] += m * (s[k] - running[k]) }
        samples += 1
    }

    /// The largest distance of a running signal from the source, in source standard deviations.
    public var distance: Float {
        var d: Float = 0
        for k in 0..<ImageSignals.count { d = max(d, abs(running[k] - sourceMean[k]) / sourceSpread[k]) }
        return d
    }

    public var value: Float { min(max((distance - onset) / (full - onset), 0), 1) }

    public mutating func reset() { running = sourceMean; samples = 0 }

    public mutating func restore(running r: [Float], samples n: Int) -> Bool {
        guard r.count == ImageSignals.count, r.allSatisfy(\.isFinite) else { return false }
        running = r
        samples = max(0, n)
        return true
    }
}
