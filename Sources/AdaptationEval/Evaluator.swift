// The shift benchmark's engine (tools/adapt-bench): facecam's own adaptation code on streams
// of corrupted crops and videos, scored online -- each prediction made before its own update.
import Adaptation
import FacePipeline
import Imaging
import Int8Runtime

/// Runs the streams. Source statistics: crop streams use the verifier's calibration on crops
/// (e.g. the lfw calibration split); video streams use the statistics of a clean camera clip.
public final class Evaluator {
    public let models: EvaluationModels
    public let passes: Int
    public let cropSource: SourceStatistics
    public let videoVerifierSource: SourceStatistics
    public let videoExpressionSource: SourceStatistics
    private let verifierModel: Model
    private var cleanVideoTruth: [String: [[(box: Box, expression: Int)]]] = [:]

    /// `passes`: times each stream is run (adaptation continues across passes).
    public init(models: EvaluationModels, passes: Int, cropSource: SourceStatistics, videoVerifierSource: SourceStatistics,
                videoExpressionSource: SourceStatistics) throws {
        self.models = models
        self.passes = passes
        verifierModel = try loadModel("\(models.folder)/onet.tflite")
        self.cropSource = cropSource
        self.videoVerifierSource = videoVerifierSource
        self.videoExpressionSource = videoExpressionSource
    }

    /// Measures the source statistics from the manifest's calibration data, as `facecam
    /// adapt-calibrate` would: never from a scored stream.
    public convenience init(manifest: BenchmarkManifest, name: String, models: EvaluationModels, passes: Int) throws {
        guard let crops = manifest.calibrationCrops, let video = manifest.calibrationVideo else {
            throw EvaluationError("\(name): no calibration data (regenerate it with tools/adapt-bench --data-only)")
        }
        try self.init(models: models, passes: passes,
                      cropSource: try Calibration.measure(head: .verifier, crops: [crops], sources: [], models: models),
                      videoVerifierSource: try Calibration.measure(head: .verifier, crops: [crops], sources: [video], models: models),
                      videoExpressionSource: try Calibration.measure(head: .expression, crops: [], sources: [video], models: models))
    }

    /// The rows of one stream, one per variant and head; none for a kind it does not know.
    public func rows(_ stream: EvaluationStream, _ variants: [EvaluationVariant]) throws -> [EvaluationRow] {
        switch stream.kind {
        case "crops": return try cropRows(stream, variants)
        case "video": return try videoRows(stream, variants)
        default: return []
        }
    }

    // MARK: Crop streams (the verifier on labeled face / non-face crops)

    public func cropRows(_ stream: EvaluationStream, _ variants: [EvaluationVariant]) throws -> [EvaluationRow] {
        let crops = try CropStream(path: stream.path)
        let labels = crops.labels.map { Int($0) }
        guard labels.allSatisfy({ $0 == 0 || $0 == 1 }) else { throw EvaluationError("\(stream.path): crop labels must be 0 or 1") }
        var options = Interpreter.Options()
        options.preservedTensors = [verifierModel.tensor(named: KnownHead.verifier.feature)!.index]
        let interpreter = try makeInterpreter(verifierModel, path: "onet", options: options)
        let outputIndex = verifierModel.outputs.firstIndex(of: verifierModel.tensor(named: KnownHead.verifier.output)!.index)!
        let input = interpreter.inputBuffer(0)
        func frozenPredictions(_ c: CropStream) -> [Int] {
            let q = interpreter.outputTensor(outputIndex).quantization!
            return (0..<c.count).map { i in
                c.write(i, into: input)
                interpreter.invoke()
                let out = interpreter.outputBuffer(outputIndex).bindMemory(to: Int8.self)
                return q.scale * Float(Int32(out[1]) - q.zeroPoint) >= 0.5 ? 1 : 0
            }
        }
        let frozen = balancedScore(truth: labels, predicted: frozenPredictions(crops), classes: 2)
        let cleanCrops = stream.clean == stream.path ? crops : try CropStream(path: stream.clean)
        let clean = balancedScore(truth: cleanCrops.labels.map { Int($0) }, predicted: frozenPredictions(cleanCrops), classes: 2)
        var rows: [EvaluationRow] = []
        for variant in variants {
            let extracted = try HeadExtraction.extract(from: verifierModel, feature: KnownHead.verifier.feature, output: KnownHead.verifier.output)
            let adapter = try HeadAdapter(name: "verifier", extracted: extracted, source: cropSource, settings: variant.verifier)
            let q = interpreter.outputTensor(outputIndex).quantization!
            var frozenProbabilities: [Float] = [0, 0]
            var truth: [Int] = [], predicted: [Int] = []
            var selectedRight = 0, selected = 0
            for _ in 0..<passes {
                for i in 0..<crops.count {
                    crops.write(i, into: input)
                    interpreter.invoke()
                    let out = interpreter.outputBuffer(outputIndex).bindMemory(to: Int8.self)
                    for k in 0..<2 { frozenProbabilities[k] = q.scale * Float(Int32(out[k]) - q.zeroPoint) }
                    let step = frozenProbabilities.withUnsafeBufferPointer { f in
                        adapter.process(input: UnsafePointer(input.bindMemory(to: Int8.self).baseAddress!), width: 48, height: 48,
                                        channels: 3, featureBytes: interpreter.tensorBytes(extracted.featureTensor.index)!, track: nil,
                                        frozen: f.baseAddress!)
                    }
                    truth.append(labels[i])
                    predicted.append(adapter.prediction[1] >= 0.5 ? 1 : 0)
                    if step.selected { selected += 1; if step.pseudoLabel == labels[i] { selectedRight += 1 } }
                }
            }
            var histogram = [0, 0]
            for p in predicted { histogram[p] += 1 }
            rows.append(EvaluationRow(stream: stream, head: "verifier", variant: variant.name, frozen: frozen,
                                      adapted: balancedScore(truth: truth, predicted: predicted, classes: 2), clean: clean,
                                      histogram: histogram, selectedFraction: Double(selected) / Double(max(truth.count, 1)),
                                      pseudoLabelPrecision: selected > 0 ? Double(selectedRight) / Double(selected) : nil,
                                      resets: adapter.resets, microseconds: adapter.meanStepMicroseconds, samples: labels.count))
        }
        return rows
    }

    // MARK: Video streams (the whole pipeline; truth = the frozen pipeline on the clean video)

    private func pipeline(_ variant: EvaluationVariant?) throws -> FacePipeline {
        var settings = models.settings
        settings.keepRejectedFaces = true
        if let variant {
            settings.verifierAdaptation = HeadAdaptation(settings: variant.verifier, source: videoVerifierSource)
            settings.expressionAdaptation = HeadAdaptation(settings: variant.expression, source: videoExpressionSource)
        }
        return try models.pipeline(settings)
    }

    /// Per-face predictions of one run over a video, against the clean video's faces.
    struct VideoScores {
        var verifierTruth: [Int] = [], verifierPredicted: [Int] = []
        var expressionTruth: [Int] = [], expressionPredicted: [Int] = []
        var verifierSelected = 0, verifierSelectedRight = 0, expressionSelected = 0, expressionSelectedRight = 0
        var faces = 0
    }

    private func truth(_ path: String) throws -> [[(box: Box, expression: Int)]] {
        if let cached = cleanVideoTruth[path] { return cached }
        let p = try pipeline(nil)
        var frames: [[(box: Box, expression: Int)]] = []
        try forEachFrame(path) { view, _ in
            var t = PipelineTimings()
            frames.append(p.process(view, timings: &t).compactMap { face in
                guard let label = face.expression, let k = ExpressionClassifier.labels.firstIndex(of: label) else { return nil }
                return (face.box, k)
            })
        }
        cleanVideoTruth[path] = frames
        return frames
    }

    private func score(_ path: String, truth: [[(box: Box, expression: Int)]], pipeline p: FacePipeline, passes: Int) throws -> VideoScores {
        var s = VideoScores()
        for _ in 0..<passes {
            try forEachFrame(path) { view, index in
                var t = PipelineTimings()
                let expected = index < truth.count ? truth[index] : []
                for face in p.process(view, timings: &t) {
                    // The clean face this detection is, if any (IoU > 0.5).
                    var match: (box: Box, expression: Int)?
                    var best: Float = 0.5
                    for e in expected { let iou = e.box.intersectionOverUnion(face.box); if iou > best { best = iou; match = e } }
                    s.faces += 1
                    let isFace = match != nil ? 1 : 0
                    s.verifierTruth.append(isFace)
                    s.verifierPredicted.append((face.faceProbability ?? 0) >= 0.5 ? 1 : 0)
                    if let step = face.verifierAdaptation, step.selected {
                        s.verifierSelected += 1
                        if step.pseudoLabel == isFace { s.verifierSelectedRight += 1 }
                    }
                    if let match, let label = face.expression, let k = ExpressionClassifier.labels.firstIndex(of: label) {
                        s.expressionTruth.append(match.expression)
                        s.expressionPredicted.append(k)
                        if let step = face.expressionAdaptation, step.selected {
                            s.expressionSelected += 1
                            if step.pseudoLabel == match.expression { s.expressionSelectedRight += 1 }
                        }
                    }
                }
            }
        }
        return s
    }

    public func videoRows(_ stream: EvaluationStream, _ variants: [EvaluationVariant]) throws -> [EvaluationRow] {
        let expected = try truth(stream.clean)
        let frozen = try score(stream.path, truth: expected, pipeline: try pipeline(nil), passes: 1)
        let clean = try score(stream.clean, truth: expected, pipeline: try pipeline(nil), passes: 1)
        let frozenVerifier = balancedScore(truth: frozen.verifierTruth, predicted: frozen.verifierPredicted, classes: 2)
        let frozenExpression = balancedScore(truth: frozen.expressionTruth, predicted: frozen.expressionPredicted, classes: 7)
        let cleanVerifier = balancedScore(truth: clean.verifierTruth, predicted: clean.verifierPredicted, classes: 2)
        let cleanExpression = balancedScore(truth: clean.expressionTruth, predicted: clean.expressionPredicted, classes: 7)
        var rows: [EvaluationRow] = []
        for variant in variants {
            let p = try pipeline(variant)
            let s = try score(stream.path, truth: expected, pipeline: p, passes: passes)
            var vh = [0, 0], eh = [Int](repeating: 0, count: 7)
            for x in s.verifierPredicted { vh[x] += 1 }
            for x in s.expressionPredicted { eh[x] += 1 }
            let v = p.verifierAdapter!, e = p.expressionAdapter!
            rows.append(EvaluationRow(stream: stream, head: "verifier", variant: variant.name, frozen: frozenVerifier,
                                      adapted: balancedScore(truth: s.verifierTruth, predicted: s.verifierPredicted, classes: 2),
                                      clean: cleanVerifier, histogram: vh,
                                      selectedFraction: Double(s.verifierSelected) / Double(max(s.faces, 1)),
                                      pseudoLabelPrecision: s.verifierSelected > 0 ? Double(s.verifierSelectedRight) / Double(s.verifierSelected) : nil,
                                      resets: v.resets, microseconds: v.meanStepMicroseconds, samples: frozen.verifierTruth.count))
            rows.append(EvaluationRow(stream: stream, head: "expression", variant: variant.name, frozen: frozenExpression,
                                      adapted: balancedScore(truth: s.expressionTruth, predicted: s.expressionPredicted, classes: 7),
                                      clean: cleanExpression, histogram: eh,
                                      selectedFraction: Double(s.expressionSelected) / Double(max(s.expressionTruth.count, 1)),
                                      pseudoLabelPrecision: s.expressionSelected > 0 ? Double(s.expressionSelectedRight) / Double(s.expressionSelected) : nil,
                                      resets: e.resets, microseconds: e.meanStepMicroseconds, samples: frozen.expressionTruth.count))
        }
        return rows
    }
}
