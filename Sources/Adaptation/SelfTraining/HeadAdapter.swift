// The self-training loop for one head, one face at a time:
//   1. image signals of the input crop -> how far the camera's conditions are from the source's;
//   2. int8 features -> float, folded into running statistics, aligned to the source's as far
//      as the gate allows;
//   3. the student head predicts: this is what the frame reports (made before its own update);
//   4. a teacher (track average, EMA weights or the student itself) gives a pseudo-label that
//      counts when Dash (or FixMatch's 0.95) selects it; the loss is the student's entropy
//      (EATA-filtered) plus cross-entropy to the selected pseudo-label, class-debiased;
//   5. one SGD step with momentum and a pull toward the source, scaled by the gate;
//   6. a collapse check against the frozen source head resets the student when it fires.
// Every buffer is allocated in init: a step allocates nothing.
import Int8Runtime

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Statistics of the source data, measured on calibration images and shipped with the model.
public struct SourceStatistics: Sendable, Equatable {
    public var featureMean: [Float]
    public var featureVariance: [Float]
    public var signalMean: [Float]
    public var signalSpread: [Float]
    public var samples: Int
    public init(featureMean: [Float], featureVariance: [Float], signalMean: [Float], signalSpread: [Float], samples: Int) {
        self.featureMean = featureMean
        self.featureVariance = featureVariance
        self.signalMean = signalMean
        self.signalSpread = signalSpread
        self.samples = samples
    }
}

/// What one face's adaptation step did (reported per face in JSON Lines).
public struct AdaptationStep: Sendable {
    /// Faces this head has seen so far (this one included).
    public var step = 0
    /// Teacher confidence a pseudo-label needed (1 during the warm-up: none is used).
    public var threshold: Float = 1
    public var selected = false
    public var pseudoLabel = 0
    /// Whether a gradient update was made.
    public var updated = false
    /// The shift gate in [0, 1]: how far the image signals are from the source's.
    public var gate: Float = 0
    /// How far the features were mapped to the source statistics (0: not at all).
    public var alignment: Float = 0
    public var resets = 0
    public init() {}
}

public final class HeadAdapter {
    public let name: String
    public let settings: AdaptationSettings
    public let head: FloatHead
    public let transform: FeatureTransform
    public let featureTensor: Tensor
    public let statistics: FeatureStatistics
    public private(set) var gate: ShiftGate
    public private(set) var dash: DashSchedule
    public let classCount: Int

    // Counters for summaries and the saved state.
    public private(set) var samples = 0
    public private(set) var updates = 0
    public private(set) var selectedCount = 0
    public private(set) var resets = 0
    public private(set) var updateNanoseconds: UInt64 = 0
    /// Selected pseudo-labels per class since the start (or the last reset of the counters).
    public let pseudoLabelHistogram: UnsafeMutableBufferPointer<Int>

    private let featureScale: Float, featureZeroPoint: Int32
    private let featureCount: Int
    private let features: UnsafeMutableBufferPointer<Float>
    private let grayScratch: UnsafeMutableBufferPointer<Float>
    private let aligned: UnsafeMutableBufferPointer<Float>
    private let headInput: UnsafeMutableBufferPointer<Float>
    /// The student's prediction for the last face, before its update.
    public let prediction: UnsafeMutableBufferPointer<Float>
    private let sourcePrediction: UnsafeMutableBufferPointer<Float>
    private let teacherPrediction: UnsafeMutableBufferPointer<Float>
    private let teacherWeights: UnsafeMutableBufferPointer<Float>?
    /// Per track slot: running average of predictions and its number of terms.
    public static let trackSlots = 32
    /// Largest input crop (pixels) the image signals are measured on.
    public static let maximumInputPixels = 128 * 128
    private let trackAverage: UnsafeMutableBufferPointer<Float>
    private let trackTerms: UnsafeMutableBufferPointer<Int>
    /// Exponential averages of how often each class is predicted (student, source) and selected.
    private let studentShare: UnsafeMutableBufferPointer<Float>
    private let sourceShare: UnsafeMutableBufferPointer<Float>
    private let pseudoShare: UnsafeMutableBufferPointer<Float>

    public init(name: String, extracted: ExtractedHead, source: SourceStatistics, settings: AdaptationSettings) throws {
        self.name = name
        self.settings = settings
        head = extracted.head
        transform = extracted.transform
        featureTensor = extracted.featureTensor
        classCount = head.classCount
        guard source.featureMean.count == extracted.featureChannels, source.featureVariance.count == extracted.featureChannels else {
            throw AdaptationError("\(name): source statistics have \(source.featureMean.count) channels; the feature tensor has \(extracted.featureChannels)")
        }
        guard source.signalMean.count == ImageSignals.count, source.signalSpread.count == ImageSignals.count else {
            throw AdaptationError("\(name): source statistics need \(ImageSignals.count) image signals")
        }
        head.trainLastDenseLayers(max(1, settings.trainedLayers))
        statistics = FeatureStatistics(channels: extracted.featureChannels, sourceMean: source.featureMean,
                                       sourceVariance: source.featureVariance, momentum: settings.statisticsMomentum)
        gate = ShiftGate(sourceMean: source.signalMean, sourceSpread: source.signalSpread)
        gate.momentum = settings.statisticsMomentum * 2
        dash = settings.dash
        featureScale = featureTensor.quantization?.scale ?? 1
        featureZeroPoint = featureTensor.quantization?.zeroPoint ?? 0
        featureCount = featureTensor.elementCount
        func buffer<T: Numeric>(_ n: Int, _ value: T = 0) -> UnsafeMutableBufferPointer<T> {
            let b = UnsafeMutableBufferPointer<T>.allocate(capacity: max(n, 1))
            b.initialize(repeating: value)
            return b
        }
        features = buffer(featureCount)
        grayScratch = buffer(Self.maximumInputPixels)
        aligned = buffer(featureCount)
        headInput = buffer(head.inputCount)
        prediction = buffer(classCount)
        sourcePrediction = buffer(classCount)
        teacherPrediction = buffer(classCount)
        if settings.teacher == .ema {
            let t: UnsafeMutableBufferPointer<Float> = buffer(head.parameterCount)
            for i in 0..<head.parameterCount { t[i] = head.source[i] }
            teacherWeights = t
        } else {
            teacherWeights = nil
        }
        trackAverage = buffer(Self.trackSlots * classCount)
        trackTerms = buffer(Self.trackSlots)
        pseudoLabelHistogram = buffer(classCount)
        studentShare = buffer(classCount, 1 / Float(classCount))
        sourceShare = buffer(classCount, 1 / Float(classCount))
        pseudoShare = buffer(classCount, 1 / Float(classCount))
    }

    deinit {
        for b in [features, grayScratch, aligned, headInput, prediction, sourcePrediction, teacherPrediction, trackAverage, studentShare,
                  sourceShare, pseudoShare] { b.deallocate() }
        teacherWeights?.deallocate()
        trackTerms.deallocate()
        pseudoLabelHistogram.deallocate()
    }

    /// Starts a new face track in `slot` (its teacher average starts empty).
    public func beginTrack(_ slot: Int) {
        guard slot >= 0 && slot < Self.trackSlots else { return }
        trackTerms[slot] = 0
        for k in 0..<classCount { trackAverage[slot * classCount + k] = 0 }
    }

    /// Whether the student is still exactly the source head (no update since the start or the
    /// last reset). While it is and no alignment applies, the reported prediction is the int8
    /// model's own: adapting that has done nothing changes no answer, not even by float rounding.
    public private(set) var atSource = true
    /// Running average of entropy(source head, aligned) - entropy(int8 model): alignment is kept
    /// while it is negative (settings.alignmentEntropyCheck).
    public private(set) var alignmentEntropyGain: Float = 0

    /// One face: `input` is the model's int8 input (for the image signals), `featureBytes` the
    /// int8 feature tensor, `frozen` the int8 model's own probabilities for this face (nil when
    /// only a partial run was made). The prediction lands in `prediction`.
    @discardableResult
    public func process(input: UnsafePointer<Int8>, width: Int, height: Int, channels: Int,
                        featureBytes: UnsafeRawBufferPointer, track: Int?, frozen: UnsafePointer<Float>? = nil) -> AdaptationStep {
        let start = monotonicNanoseconds()
        samples += 1
        var report = AdaptationStep()
        report.step = samples

        // 1-2. Signals, features, alignment.
        gate.observe(ImageSignals.measure(input, width: width, height: height, channels: channels, scratch: grayScratch))
        let g = gate.value
        report.gate = g
        let q = featureBytes.bindMemory(to: Int8.self)
        for i in 0..<featureCount { features[i] = featureScale * Float(Int32(q[i]) - featureZeroPoint) }
        statistics.observe(UnsafePointer(features.baseAddress!), count: featureCount)
        var strength: Float
        switch settings.alignment {
        case .off: strength = 0
        case .gated: strength = g
        case .always: strength = 1
        }
        strength *= settings.alignmentStrength
        statistics.align(UnsafePointer(features.baseAddress!), count: featureCount, strength: strength,
                         gainLimit: settings.alignmentGainLimit, into: aligned.baseAddress!)
        transform.apply(UnsafePointer(aligned.baseAddress!), count: featureCount, into: headInput.baseAddress!)
        let x = UnsafePointer(headInput.baseAddress!)

        // The frozen source head on the same input: the reference for the collapse check.
        var sourceClass = head.forward(x, weights: UnsafePointer(head.source.baseAddress!))
        copy(head.probabilities, to: sourcePrediction)
        if settings.alignmentEntropyCheck, strength > 0, let frozen {
            // Does the mapping make the frozen head more confident than the int8 model is?
            let frozenEntropy = entropyOf(frozen, count: classCount)
            let rate = 1 / Float(max(settings.collapseWindow, 1))
            alignmentEntropyGain += rate * (entropyOf(sourcePrediction) - frozenEntropy - alignmentEntropyGain)
            if alignmentEntropyGain >= 0 {
                strength = 0
                transform.apply(UnsafePointer(features.baseAddress!), count: featureCount, into: headInput.baseAddress!)
                sourceClass = head.forward(x, weights: UnsafePointer(head.source.baseAddress!))
                copy(head.probabilities, to: sourcePrediction)
            }
        }
        report.alignment = strength
        // Layers that never train give the same outputs for every set of weights: computed once.
        let shared = head.firstVaryingLayer
        if let teacherWeights {
            head.forward(x, weights: UnsafePointer(teacherWeights.baseAddress!), from: shared)
            copy(head.probabilities, to: teacherPrediction)
        }
        // 3. The student's prediction, reported for this face. Its activations stay for backward.
        let studentClass = head.forward(x, weights: nil, from: shared)
        copy(head.probabilities, to: prediction)
        let reportFrozen = atSource && strength == 0 && frozen != nil

        // 4. Teacher and pseudo-label.
        switch settings.teacher {
        case .ema: break
        case .none: copy(prediction, to: teacherPrediction)
        case .track:
            if let slot = track, slot >= 0 && slot < Self.trackSlots {
                let decay = settings.trackDecay
                trackTerms[slot] += 1
                let correction = 1 - powf(decay, Float(trackTerms[slot]))
                for k in 0..<classCount {
                    let a = decay * trackAverage[slot * classCount + k] + (1 - decay) * prediction[k]
                    trackAverage[slot * classCount + k] = a
                    teacherPrediction[k] = a / correction
                }
            } else {
                copy(prediction, to: teacherPrediction)
            }
        }
        var label = 0
        for k in 1..<classCount where teacherPrediction[k] > teacherPrediction[label] { label = k }
        report.pseudoLabel = label
        let confidence = teacherPrediction[label]
        let plLoss = -logf(max(confidence, 1e-12))
        var selected = false
        switch settings.method {
        case .dash:
            selected = dash.observe(loss: plLoss)
            report.threshold = dash.confidenceThreshold
        case .fixmatch:
            selected = confidence > settings.fixMatchThreshold
            report.threshold = settings.fixMatchThreshold
        case .entropy:
            report.threshold = 1
        }
        report.selected = selected
        if selected {
            selectedCount += 1
            pseudoLabelHistogram[label] += 1
        }

        // Shares of predicted classes, for debiasing and for the collapse check.
        let shareRate = 1 / Float(max(settings.collapseWindow, 1))
        for k in 0..<classCount {
            studentShare[k] += shareRate * ((k == studentClass ? 1 : 0) - studentShare[k])
            sourceShare[k] += shareRate * ((k == sourceClass ? 1 : 0) - sourceShare[k])
            if selected { pseudoShare[k] += shareRate * ((k == label ? 1 : 0) - pseudoShare[k]) }
        }

        // 5. Loss gradient at the logits, then one step scaled by the gate.
        let rate = settings.learningRate * (settings.gateUpdates ? g : 1)
        let warming = settings.method == .dash && dash.isWarmingUp
        if rate > 0 && !warming {
            var any = false
            for k in 0..<classCount { head.logitGradient[k] = 0 }
            // Entropy, only on reliable samples (EATA: H < 0.4 ln C), weighted by exp(E0 - H).
            let entropy = entropyOf(prediction)
            let e0 = 0.4 * logf(Float(classCount))
            if settings.entropyWeight > 0 && entropy < e0 {
                let w = settings.entropyWeight * expf(e0 - entropy)
                for k in 0..<classCount {
                    let p = prediction[k]
                    head.logitGradient[k] += w * (-p * (logf(max(p, 1e-12)) + entropy))
                }
                any = true
            }
            if selected {
                // Debias: a class that takes more than its share of pseudo-labels counts less.
                let fair = 1 / Float(classCount)
                let w = min(1, fair / max(pseudoShare[label], fair * 0.25))
                for k in 0..<classCount { head.logitGradient[k] += w * (prediction[k] - (k == label ? 1 : 0)) }
                any = true
            }
            if any {
                head.zeroGradient()
                head.backward()
                head.step(learningRate: rate, momentum: settings.momentum, pull: settings.pull)
                if let teacherWeights { head.updateTeacher(teacherWeights, decay: settings.teacherDecay) }
                updates += 1
                atSource = false
                report.updated = true
            }
        }

        // 6. Collapse: the student predicts one class far more often than the frozen head does.
        if samples > settings.collapseWindow {
            for k in 0..<classCount where studentShare[k] - sourceShare[k] > settings.collapseMargin {
                resetToSource()
                break
            }
        }
        report.resets = resets
        // What this face reports: computed before its update, as the protocol requires.
        if reportFrozen, let frozen { for k in 0..<classCount { prediction[k] = frozen[k] } }
        updateNanoseconds &+= monotonicNanoseconds() - start
        return report
    }

    /// Back to the source weights; counted. Running statistics and the gate are kept: they
    /// describe the camera, not the student.
    public func resetToSource() {
        head.reset()
        atSource = true
        if let teacherWeights { for i in 0..<head.parameterCount { teacherWeights[i] = head.source[i] } }
        for k in 0..<classCount {
            studentShare[k] = sourceShare[k]
            pseudoShare[k] = 1 / Float(classCount)
        }
        for s in 0..<Self.trackSlots { trackTerms[s] = 0 }
        dash.restart()
        resets += 1
    }

    /// Mean time per processed face, in microseconds.
    public var meanStepMicroseconds: Double { samples > 0 ? Double(updateNanoseconds) / Double(samples) / 1e3 : 0 }

    // MARK: Saved state

    /// The adapter's state as plain values (weights, statistics, schedule, counters).
    public var snapshot: AdapterSnapshot {
        AdapterSnapshot(parameters: Array(head.parameters), teacher: teacherWeights.map { Array($0) },
                        featureMean: Array(statistics.mean), featureVariance: Array(statistics.variance),
                        signals: gate.running, samples: samples, updates: updates, resets: resets,
                        selected: selectedCount, dashSeen: dash.savedValues.seen, dashRhoHat: dash.savedValues.rhoHat)
    }

    /// Restores a snapshot; throws (changing nothing) when it does not fit this head.
    public func restore(_ s: AdapterSnapshot) throws {
        guard s.parameters.count == head.parameterCount, s.parameters.allSatisfy(\.isFinite) else {
            throw AdaptationError("\(name): saved weights do not fit this head (\(s.parameters.count) values, expected \(head.parameterCount))")
        }
        if let t = s.teacher, t.count != head.parameterCount || !t.allSatisfy(\.isFinite) {
            throw AdaptationError("\(name): saved teacher weights do not fit this head")
        }
        guard s.featureMean.count == statistics.channels, s.featureVariance.count == statistics.channels,
              s.featureMean.allSatisfy(\.isFinite), s.featureVariance.allSatisfy({ $0.isFinite && $0 >= 0 }),
              s.signals.count == ImageSignals.count, s.signals.allSatisfy(\.isFinite) else {
            throw AdaptationError("\(name): saved statistics do not fit this head")
        }
        for i in 0..<head.parameterCount { head.parameters[i] = s.parameters[i] }
        atSource = (0..<head.parameterCount).allSatisfy { head.parameters[$0] == head.source[$0] }
        if let teacherWeights, let t = s.teacher { for i in 0..<head.parameterCount { teacherWeights[i] = t[i] } }
        _ = statistics.restore(mean: s.featureMean, variance: s.featureVariance, samples: s.samples)
        _ = gate.restore(running: s.signals, samples: s.samples)
        dash.restore(seen: s.dashSeen, rhoHat: s.dashRhoHat)
        samples = max(0, s.samples)
        updates = max(0, s.updates)
        resets = max(0, s.resets)
        selectedCount = max(0, s.selected)
    }
}

public struct AdapterSnapshot: Sendable, Equatable {
    public var parameters: [Float]
    public var teacher: [Float]?
    public var featureMean: [Float]
    public var featureVariance: [Float]
    public var signals: [Float]
    public var samples: Int, updates: Int, resets: Int, selected: Int
    public var dashSeen: Int, dashRhoHat: Float
}

@inline(__always)
private func copy(_ a: UnsafeMutableBufferPointer<Float>, to b: UnsafeMutableBufferPointer<Float>) {
    for i in 0..<min(a.count, b.count) { b[i] = a[i] }
}

func entropyOf(_ p: UnsafeMutableBufferPointer<Float>) -> Float {
    entropyOf(UnsafePointer(p.baseAddress!), count: p.count)
}

func entropyOf(_ p: UnsafePointer<Float>, count: Int) -> Float {
    var h: Float = 0
    for k in 0..<count where p[k] > 0 { h -= p[k] * logf(p[k]) }
    return h
}
