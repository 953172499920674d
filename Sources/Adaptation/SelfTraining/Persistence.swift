// How adapters and source statistics map to the state file's heads (State/StateFile.swift):
// named float arrays and counters, tied to the SHA-256 of the model they belong to.

extension SourceStatistics {
    static let names = (mean: "source_feature_mean", variance: "source_feature_variance",
                        signalMean: "source_signal_mean", signalSpread: "source_signal_spread")

    /// The statistics as one head of a state file (what `facecam adapt-calibrate` writes).
    public func headState(name: String, modelSHA256: [UInt8]) -> HeadState {
        HeadState(name: name, modelSHA256: modelSHA256,
                  counters: [StateCounter(name: "samples", value: Int64(samples))],
                  arrays: [StateArray(name: Self.names.mean, values: featureMean),
                           StateArray(name: Self.names.variance, values: featureVariance),
                           StateArray(name: Self.names.signalMean, values: signalMean),
                           StateArray(name: Self.names.signalSpread, values: signalSpread)])
    }

    /// Reads source statistics from a head of a state file.
    public init(_ head: HeadState) throws {
        guard let mean = head.array(Self.names.mean), let variance = head.array(Self.names.variance),
              let signalMean = head.array(Self.names.signalMean), let signalSpread = head.array(Self.names.signalSpread),
              mean.count == variance.count, !mean.isEmpty, signalMean.count == ImageSignals.count,
              signalSpread.count == ImageSignals.count,
              (mean + variance + signalMean + signalSpread).allSatisfy(\.isFinite), variance.allSatisfy({ $0 >= 0 }) else {
            throw AdaptationError("'\(head.name)' holds no valid source statistics")
        }
        self.init(featureMean: mean, featureVariance: variance, signalMean: signalMean, signalSpread: signalSpread,
                  samples: Int(head.counter("samples") ?? 0))
    }

    /// Loads the source statistics of head `name` from `path`, checking they were measured
    /// with the model whose SHA-256 is `modelSHA256`.
    public static func load(path: String, head name: String, modelSHA256: [UInt8]) throws -> SourceStatistics {
        let state: AdaptationState
        do { state = try AdaptationState.load(path: path) } catch let error as StateFileError {
            throw AdaptationError("\(path): \(error)")
        }
        guard let head = state.head(name) else { throw AdaptationError("\(path): no source statistics for '\(name)'") }
        guard head.belongs(toModel: modelSHA256) else {
            throw AdaptationError("\(path): the '\(name)' statistics were measured with another model (SHA-256 \(SHA256.hex(head.modelSHA256).prefix(12))..., this one is \(SHA256.hex(modelSHA256).prefix(12))...)")
        }
        return try SourceStatistics(head)
    }
}

/// Accumulates source statistics over calibration inputs (the same quantities the adapter
/// tracks on the stream: pooled per-channel mean and variance of the features, and the mean and
/// spread of the image signals).
public struct SourceCalibration {
    public let channels: Int
    private var sum: [Double], square: [Double]
    private var signalSum = [Double](repeating: 0, count: ImageSignals.count)
    private var signalSquare = [Double](repeating: 0, count: ImageSignals.count)
    private var positions = 0
    public private(set) var samples = 0

    public init(channels: Int) {
        self.channels = channels
        sum = [Double](repeating: 0, count: channels)
        square = sum
    }

    public mutating func observe(features: UnsafePointer<Float>, count: Int, signals: ImageSignals) {
        for p in 0..<(count / channels) {
            for c in 0..<channels { let v = Double(features[p * channels + c]); sum[c] += v; square[c] += v * v }
        }
        positions += count / channels
        for k in 0..<ImageSignals.count { let v = Double(signals[k]); signalSum[k] += v; signalSquare[k] += v * v }
        samples += 1
    }

    public func finish() throws -> SourceStatistics {
        guard samples >= 2 else { throw AdaptationError("calibration needs at least 2 samples (got \(samples))") }
        let n = Double(positions), s = Double(samples)
        let mean = sum.map { $0 / n }
        let variance = zip(square, mean).map { max($0 / n - $1 * $1, 0) }
        let signalMean = signalSum.map { $0 / s }
        let signalSpread = zip(signalSquare, signalMean).map { max($0 / s - $1 * $1, 0).squareRoot() }
        return SourceStatistics(featureMean: mean.map(Float.init), featureVariance: variance.map(Float.init),
                                signalMean: signalMean.map(Float.init), signalSpread: signalSpread.map(Float.init),
                                samples: samples)
    }
}

extension HeadAdapter {
    /// The adapter as one head of a state file.
    public func headState(modelSHA256: [UInt8]) -> HeadState {
        let s = snapshot
        var arrays = [StateArray(name: "parameters", values: s.parameters),
                      StateArray(name: "feature_mean", values: s.featureMean),
                      StateArray(name: "feature_variance", values: s.featureVariance),
                      StateArray(name: "image_signals", values: s.signals),
                      StateArray(name: "dash_rho_hat", values: [s.dashRhoHat])]
        if let t = s.teacher { arrays.append(StateArray(name: "teacher_parameters", values: t)) }
        return HeadState(name: name, modelSHA256: modelSHA256,
                         counters: [StateCounter(name: "updates", value: Int64(s.updates)),
                                    StateCounter(name: "resets", value: Int64(s.resets)),
                                    StateCounter(name: "samples", value: Int64(s.samples)),
                                    StateCounter(name: "selected", value: Int64(s.selected)),
                                    StateCounter(name: "dash_seen", value: Int64(s.dashSeen))],
                         arrays: arrays)
    }

    /// Restores the adapter from a head of a state file; throws (changing nothing) when the
    /// head belongs to another model or does not fit.
    public func restore(from head: HeadState, modelSHA256: [UInt8]) throws {
        guard head.belongs(toModel: modelSHA256) else {
            throw AdaptationError("the saved '\(head.name)' head belongs to another model (SHA-256 \(SHA256.hex(head.modelSHA256).prefix(12))...)")
        }
        guard let parameters = head.array("parameters"), let mean = head.array("feature_mean"),
              let variance = head.array("feature_variance"), let signals = head.array("image_signals") else {
            throw AdaptationError("the saved '\(head.name)' head lacks weights or statistics")
        }
        func count(_ name: String) -> Int { Int(clamping: max(0, head.counter(name) ?? 0)) }
        try restore(AdapterSnapshot(parameters: parameters, teacher: head.array("teacher_parameters"), featureMean: mean,
                                    featureVariance: variance, signals: signals, samples: count("samples"),
                                    updates: count("updates"), resets: count("resets"), selected: count("selected"),
                                    dashSeen: count("dash_seen"), dashRhoHat: head.array("dash_rho_hat")?.first ?? 0))
    }
}
