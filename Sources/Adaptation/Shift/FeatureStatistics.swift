// Forward-only feature-statistics alignment: the int8 analogue of re-estimating BatchNorm
// statistics on the test stream. A running per-channel mean and variance of the features that
// feed the head are mapped back to the source's (measured on calibration images and shipped
// next to the model): x' = mu_s + (x - mu_t) * sigma_s / sigma_t.

public final class FeatureStatistics {
    public let channels: Int
    public let sourceMean: UnsafeMutableBufferPointer<Float>
    public let sourceVariance: UnsafeMutableBufferPointer<Float>
    public let mean: UnsafeMutableBufferPointer<Float>
    public let variance: UnsafeMutableBufferPointer<Float>
    /// Per-channel scale sigma_s / sigma_t, refreshed with the running statistics.
    public let gain: UnsafeMutableBufferPointer<Float>
    private let sampleMean: UnsafeMutableBufferPointer<Float>
    private let sampleSquare: UnsafeMutableBufferPointer<Float>
    public var momentum: Float
    public private(set) var samples = 0
    static let epsilon: Float = 1e-5

    public init(channels: Int, sourceMean: [Float], sourceVariance: [Float], momentum: Float) {
        precondition(sourceMean.count == channels && sourceVariance.count == channels)
        self.channels = channels
        self.momentum = momentum
        func buffer(_ values: [Float]) -> UnsafeMutableBufferPointer<Float> {
            let b = UnsafeMutableBufferPointer<Float>.allocate(capacity: channels)
            _ = b.initialize(from: values)
            return b
        }
        self.sourceMean = buffer(sourceMean)
        self.sourceVariance = buffer(sourceVariance)
        mean = buffer(sourceMean)
        variance = buffer(sourceVariance)
        gain = buffer([Float](repeating: 1, count: channels))
        sampleMean = buffer([Float](repeating: 0, count: channels))
        sampleSquare = buffer([Float](repeating: 0, count: channels))
    }

    deinit { for b in [sourceMean, sourceVariance, mean, variance, gain, sampleMean, sampleSquare] { b.deallocate() } }

    /// Folds one sample (count values, channel = index % channels) into the running statistics.
    public func observe(_ x: UnsafePointer<Float>, count: Int) {
        let positions = count / channels
        for c in 0..<channels { sampleMean[c] = 0; sampleSquare[c] = 0 }
        for p in 0..<positions {
            let row = x + p * channels
            for c in 0..<channels { let v = row[c]; sampleMean[c] += v; sampleSquare[c] += v * v }
        }
        // Early samples weigh more, so the estimate is not stuck at the source's for long.
        let m = max(momentum, 1 / Float(samples + 2))
        let inverse = 1 / Float(positions)
        for c in 0..<channels {
            let mu = sampleMean[c] * inverse
            let second = sampleSquare[c] * inverse
            let newMean = (1 - m) * mean[c] + m * mu
            // Running second moment about the running mean.
            let oldSecond = variance[c] + mean[c] * mean[c]
            let newSecond = (1 - m) * oldSecond + m * second
            mean[c] = newMean
            variance[c] = max(newSecond - newMean * newMean, 0)
            gain[c] = ((sourceVariance[c] + Self.epsilon) / (variance[c] + Self.epsilon)).squareRoot()
        }
        samples += 1
    }

    /// Writes the aligned features: strength 0 leaves them as they are, 1 maps fully.
    /// `gainLimit` bounds each channel's scale factor to [1/limit, limit] (1: shift means only).
    public func align(_ x: UnsafePointer<Float>, count: Int, strength: Float, gainLimit: Float = .infinity,
                      into y: UnsafeMutablePointer<Float>) {
        if strength <= 0 { y.update(from: x, count: count); return }
        let positions = count / channels
        let upper = max(gainLimit, 1), lower = 1 / upper
        for p in 0..<positions {
            let row = x + p * channels, out = y + p * channels
            for c in 0..<channels {
                let mapped = sourceMean[c] + (row[c] - mean[c]) * min(max(gain[c], lower), upper)
                out[c] = row[c] + strength * (mapped - row[c])
            }
        }
    }

    public func reset() {
        for c in 0..<channels { mean[c] = sourceMean[c]; variance[c] = sourceVariance[c]; gain[c] = 1 }
        samples = 0
    }

    /// Restores saved running statistics (same channel count, finite values).
    public func restore(mean m: [Float], variance v: [Float], samples n: Int) -> Bool {
        guard m.count == channels, v.count == channels, m.allSatisfy(\.isFinite), v.allSatisfy({ $0.isFinite && $0 >= 0 }) else {
            return false
        }
        for c in 0..<channels {
            mean[c] = m[c]; variance[c] = v[c]
            gain[c] = ((sourceVariance[c] + Self.epsilon) / (variance[c] + Self.epsilon)).squareRoot()
        }
        samples = max(0, n)
        return true
    }
}
