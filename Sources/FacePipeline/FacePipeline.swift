// The face pipeline on one image: BlazeFace on the letterboxed frame, then for every face a
// square crop checked by MTCNN's ONet and classified by the expression model. With adaptation
// on, the final layers of ONet and of the expression model run as adapted float heads on the
// frozen int8 features (a partial run of each model up to its feature tensor).
import Adaptation
import Imaging
import Int8Runtime

public struct Face: Sendable {
    /// Box and keypoints in image pixels.
    public var box: Box
    public var keypoints: Keypoints
    public var detectionScore: Float
    /// ONet's face probability for the crop (nil when no verifier is loaded).
    public var faceProbability: Float?
    public var expression: String?
    /// Probabilities in `ExpressionClassifier.labels` order (all 0 without a classifier).
    public var expressionProbabilities: InlineArray7<Float>
    /// Id of the face's track across frames (box overlap).
    public var track: Int = 0
    /// What adaptation did for this face, per head (nil when that head does not adapt).
    public var verifierAdaptation: AdaptationStep?
    public var expressionAdaptation: AdaptationStep?
}

public struct PipelineTimings: Sendable {
    public var detectMs: Double = 0
    public var verifyMs: Double = 0
    public var classifyMs: Double = 0
    public init() {}
}

public struct PipelineSettings: Sendable {
    /// The one default of facecam's detection threshold (flags, board profiles, every command).
    public static let defaultDetectionThreshold: Float = 0.6
    public var detectionThreshold = PipelineSettings.defaultDetectionThreshold
    public var nmsIoU: Float = 0.3
    /// Faces whose ONet probability is below this are dropped.
    public var verifyThreshold: Float = 0.5
    public var maxFaces = 8
    /// Square crop side as a multiple of the detected box width (as the models were calibrated).
    public var verifierCropScale: Float = 1.25
    public var classifierCropScale: Float = 1.1
    public var threads = 1
    /// Kernel set of every model's interpreter.
    public var kernels: KernelSet = .best
    /// Return faces the verifier rejects too (with no expression), instead of dropping them:
    /// the shift benchmark scores the verifier on every detection.
    public var keepRejectedFaces = false
    /// Test-time adaptation of the verifier and the expression head (nil: frozen int8 heads).
    public var verifierAdaptation: HeadAdaptation?
    public var expressionAdaptation: HeadAdaptation?
    public init() {}
}

/// Adaptation of one head: its settings and the source statistics shipped with its model.
public struct HeadAdaptation: Sendable {
    public var settings: AdaptationSettings
    public var source: SourceStatistics
    public init(settings: AdaptationSettings, source: SourceStatistics) {
        self.settings = settings
        self.source = source
    }
}

public enum ExpressionClassifier {
    public static let labels = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
}

public final class FacePipeline {
    public let settings: PipelineSettings
    let detector: Interpreter
    let verifier: Interpreter?
    let classifier: Interpreter?
    /// Adapted heads (nil when frozen) and the partial runs that compute their features.
    public let verifierAdapter: HeadAdapter?
    public let expressionAdapter: HeadAdapter?
    /// The int8 models' own probabilities for the current face (read when adapting).
    private var frozenScratch = InlineArray7<Float>(repeating: 0)
    private var tracker = FaceTracker()
    private let scratch = SamplerScratch()
    // Reused every frame (capacity kept), so processing a frame allocates nothing once warm.
    private var candidates: [Detection] = []
    private var kept: [Detection] = []
    private var faces: [Face] = []
    // Input buffers and dequantizing views of the outputs, resolved once (arena memory is fixed).
    private let detectorInput: UnsafeMutableRawBufferPointer
    private let regressors: Dequantized, logits: Dequantized
    private let verifierInput: UnsafeMutableRawBufferPointer?, faceProbability: Dequantized?
    private let classifierInput: UnsafeMutableRawBufferPointer?, expressionOutput: Dequantized?

    /// Loads the models (paths to the shipped .tflite files); verifier and classifier are optional.
    public init(detector: String, verifier: String?, classifier: String?, settings: PipelineSettings = PipelineSettings()) throws {
        self.settings = settings
        var options = Interpreter.Options()
        options.threads = settings.threads
        options.kernels = settings.kernels
        // An adapting model keeps its feature tensor readable after a full run: the head reads
        // it, and the int8 output stays available as the answer while nothing has adapted.
        func load(_ path: String, adapting known: KnownHead? = nil) throws -> Interpreter {
            do {
                let model = try Model(path: path)
                var o = options
                if let known, let feature = model.tensor(named: known.feature) { o.preservedTensors = [feature.index] }
                return try Interpreter(model: model, options: o)
            } catch let error as ModelError {
                throw ImageError("\(path): \(error)")
            }
        }
        func adapter(_ name: String, _ interpreter: Interpreter?, _ adaptation: HeadAdaptation?, _ known: KnownHead) throws -> HeadAdapter? {
            guard let interpreter, let adaptation else { return nil }
            do {
                let extracted = try HeadExtraction.extract(from: interpreter.model, feature: known.feature, output: known.output)
                return try HeadAdapter(name: name, extracted: extracted, source: adaptation.source, settings: adaptation.settings)
            } catch {
                throw ImageError("\(name) adaptation: \(error)")
            }
        }
        self.detector = try load(detector)
        self.verifier = try verifier.map { try load($0, adapting: settings.verifierAdaptation == nil ? nil : .verifier) }
        self.classifier = try classifier.map { try load($0, adapting: settings.expressionAdaptation == nil ? nil : .expression) }
        verifierAdapter = try adapter("verifier", self.verifier, settings.verifierAdaptation, .verifier)
        expressionAdapter = try adapter("expression", self.classifier, settings.expressionAdaptation, .expression)
        try FacePipeline.check(self.detector, "detector", input: [1, 128, 128, 3], outputs: [[1, 896, 16], [1, 896, 1]])
        if let v = self.verifier { try FacePipeline.check(v, "verifier", input: [1, 48, 48, 3], outputs: [[1, 2]]) }
        if let c = self.classifier { try FacePipeline.check(c, "classifier", input: [1, 64, 64, 1], outputs: [[1, 7]]) }
        detectorInput = self.detector.inputBuffer(0)
        regressors = Dequantized(self.detector, output: 0)
        logits = Dequantized(self.detector, output: 1)
        verifierInput = self.verifier?.inputBuffer(0)
        faceProbability = self.verifier.map { Dequantized($0, output: 0) }
        classifierInput = self.classifier?.inputBuffer(0)
        expressionOutput = self.classifier.map { Dequantized($0, output: 0) }
    }

    private static func check(_ interpreter: Interpreter, _ role: String, input: [Int], outputs: [[Int]]) throws {
        let i = interpreter.inputTensor(0)
        guard i.shape == input, i.type == .int8 else {
            throw ImageError("\(role) model input is \(i.type) \(i.shapeDescription); expected int8 \(input)")
        }
        for (k, shape) in outputs.enumerated() {
            guard k < interpreter.outputCount, interpreter.outputTensor(k).shape == shape, interpreter.outputTensor(k).type == .int8 else {
                throw ImageError("\(role) model output \(k) is not int8 \(shape)")
            }
        }
    }

    public func process(_ image: RGBImage, timings: inout PipelineTimings) -> [Face] {
        image.pixels.withUnsafeBufferPointer { p in
            process(.rgb(p.baseAddress!, width: image.width, height: image.height, stride: image.width * 3), timings: &timings)
        }
    }

    /// Runs the pipeline on a frame in its own pixel format (no RGB copy of the frame).
    public func process(_ image: PixelView, timings: inout PipelineTimings) -> [Face] {
        // Letterbox: the square of side max(w, h) centred on the image.
        let side = Float(max(image.width, image.height))
        let square = Box(x: (Float(image.width) - side) / 2, y: (Float(image.height) - side) / 2, width: side, height: side)
        var t0 = monotonicNanoseconds()
        Sampler.sample(image, region: square, into: detectorInput, width: 128, height: 128, layout: .rgb, scratch: scratch)
        detector.invoke()
        candidates.removeAll(keepingCapacity: true)
        kept.removeAll(keepingCapacity: true)
        faces.removeAll(keepingCapacity: true)
        tracker.beginFrame()
        BlazeFace.decode(regressors, logits, threshold: settings.detectionThreshold, into: &candidates)
        BlazeFace.weightedNonMaximumSuppression(&candidates, iouThreshold: settings.nmsIoU, into: &kept)
        timings.detectMs += Double(monotonicNanoseconds() - t0) / 1e6

        for index in 0..<min(kept.count, settings.maxFaces) {
            let d = kept[index]
            let box = Box(x: square.x + d.box.x * side, y: square.y + d.box.y * side, width: d.box.width * side, height: d.box.height * side)
            var keypoints = d.keypoints
            for k in keypoints.indices { keypoints[k] = Point(x: square.x + keypoints[k].x * side, y: square.y + keypoints[k].y * side) }
            var face = Face(box: box, keypoints: keypoints, detectionScore: d.score, faceProbability: nil, expression: nil,
                            expressionProbabilities: InlineArray7(repeating: 0))
            let track = tracker.assign(box)
            face.track = track.id
            if track.isNew {
                verifierAdapter?.beginTrack(track.slot)
                expressionAdapter?.beginTrack(track.slot)
            }
            if let verifier, let verifierInput, let faceProbability {
                t0 = monotonicNanoseconds()
                Sampler.sample(image, region: crop(box, settings.verifierCropScale), into: verifierInput, width: 48, height: 48,
                               layout: .rgb, scratch: scratch)
                verifier.invoke()
                if let adapter = verifierAdapter {
                    var frozen = (faceProbability.value(0), faceProbability.value(1))
                    face.verifierAdaptation = withUnsafePointer(to: &frozen) { p in
                        p.withMemoryRebound(to: Float.self, capacity: 2) { f in
                            adapter.process(input: UnsafePointer(verifierInput.bindMemory(to: Int8.self).baseAddress!), width: 48, height: 48,
                                            channels: 3, featureBytes: verifier.tensorBytes(adapter.featureTensor.index)!, track: track.slot,
                                            frozen: f)
                        }
                    }
                    face.faceProbability = adapter.prediction[1]
                } else {
                    face.faceProbability = faceProbability.value(1)
                }
                timings.verifyMs += Double(monotonicNanoseconds() - t0) / 1e6
                if face.faceProbability! < settings.verifyThreshold {
                    if settings.keepRejectedFaces { faces.append(face) }
                    continue
                }
            }
            if let classifier, let classifierInput, let expressionOutput {
                t0 = monotonicNanoseconds()
                Sampler.sample(image, region: crop(box, settings.classifierCropScale), into: classifierInput, width: 64, height: 64,
                               layout: .gray, scratch: scratch)
                classifier.invoke()
                if let adapter = expressionAdapter {
                    for k in 0..<7 { frozenScratch[k] = expressionOutput.value(k) }
                    face.expressionAdaptation = withUnsafePointer(to: &frozenScratch) { p in
                        p.withMemoryRebound(to: Float.self, capacity: 7) { f in
                            adapter.process(input: UnsafePointer(classifierInput.bindMemory(to: Int8.self).baseAddress!), width: 64, height: 64,
                                            channels: 1, featureBytes: classifier.tensorBytes(adapter.featureTensor.index)!, track: track.slot,
                                            frozen: f)
                        }
                    }
                }
                var best = 0
                for k in face.expressionProbabilities.indices {
                    face.expressionProbabilities[k] = expressionAdapter?.prediction[k] ?? expressionOutput.value(k)
                    if face.expressionProbabilities[k] > face.expressionProbabilities[best] { best = k }
                }
                face.expression = ExpressionClassifier.labels[best]
                timings.classifyMs += Double(monotonicNanoseconds() - t0) / 1e6
            }
            faces.append(face)
        }
        return faces
    }

    private func crop(_ box: Box, _ scale: Float) -> Box { Self.squareCrop(box, scale: scale) }

    /// The square region a model reads for a face: side = scale x box width, same centre.
    public static func squareCrop(_ box: Box, scale: Float) -> Box {
        let side = box.width * scale
        return Box(x: box.centerX - side / 2, y: box.centerY - side / 2, width: side, height: side)
    }
}

/// Reads an int8 output tensor as real values.
struct Dequantized: RealValues {
    let base: UnsafePointer<Int8>
    let scale: Float
    let zeroPoint: Int32

    init(_ interpreter: Interpreter, output: Int) {
        let tensor = interpreter.outputTensor(output)
        base = interpreter.outputBuffer(output).bindMemory(to: Int8.self).baseAddress!
        scale = tensor.quantization?.scale ?? 1
        zeroPoint = tensor.quantization?.zeroPoint ?? 0
    }

    func value(_ i: Int) -> Float { scale * Float(Int32(base[i]) - zeroPoint) }
}
