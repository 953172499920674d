// `facecam adapt-calibrate`: the source statistics an adapting head is aligned and gated
// against, measured with the frozen int8 model on clean data.
import Adaptation
import FacePipeline
import Imaging
import Int8Runtime
import Streaming

/// The two heads that adapt, and the shipped model each sits on.
public enum AdaptingHead: String, CaseIterable, Sendable {
    case verifier, expression
    public var modelFile: String { self == .verifier ? "onet.tflite" : "expression.tflite" }
    public var known: KnownHead { self == .verifier ? .verifier : .expression }
}

/// Where the models are and how the pipeline runs, for calibration and evaluation.
public struct EvaluationModels: Sendable {
    /// Folder holding blazeface.tflite, onet.tflite and expression.tflite.
    public var folder: String
    /// Detection threshold and threads of the pipeline that finds faces in clips.
    public var settings: PipelineSettings
    public init(folder: String, settings: PipelineSettings = PipelineSettings()) {
        self.folder = folder
        self.settings = settings
    }

    func pipeline(_ settings: PipelineSettings) throws -> FacePipeline {
        do {
            return try FacePipeline(detector: "\(folder)/blazeface.tflite", verifier: "\(folder)/onet.tflite",
                                    classifier: "\(folder)/expression.tflite", settings: settings)
        } catch { throw EvaluationError("\(error)") }
    }
}

func loadModel(_ path: String) throws -> Model {
    do { return try Model(path: path) } catch { throw EvaluationError("\(path): \(error)") }
}

func makeInterpreter(_ model: Model, path: String, options: Interpreter.Options = .init()) throws -> Interpreter {
    do { return try Interpreter(model: model, options: options) } catch { throw EvaluationError("\(path): \(error)") }
}

public enum Calibration {
    /// Runs the frozen model of `head` over calibration crops (crop stream files) and the faces
    /// the pipeline finds in `sources` (images, folders, clips), and returns the source
    /// statistics of its features and image signals.
    public static func measure(head: AdaptingHead, crops: [String], sources: [String], models: EvaluationModels) throws -> SourceStatistics {
        let modelFile = "\(models.folder)/\(head.modelFile)"
        let model = try loadModel(modelFile)
        let extracted: ExtractedHead
        do { extracted = try HeadExtraction.extract(from: model, feature: head.known.feature, output: head.known.output) } catch {
            throw EvaluationError("\(modelFile): \(error)")
        }
        let interpreter = try makeInterpreter(model, path: modelFile)
        let run = try interpreter.partialRun(to: [extracted.featureTensor.index])
        let input = interpreter.inputBuffer(0)
        let shape = interpreter.inputTensor(0).shape  // [1, H, W, C]
        let (h, w, c) = (shape[1], shape[2], shape[3])
        let q = extracted.featureTensor.quantization!
        var features = [Float](repeating: 0, count: extracted.featureTensor.elementCount)
        var calibration = SourceCalibration(channels: extracted.featureChannels)
        let gray = UnsafeMutableBufferPointer<Float>.allocate(capacity: w * h)
        defer { gray.deallocate() }

        func observeInput() {
            interpreter.invoke(run)
            let bytes = interpreter.tensorBytes(extracted.featureTensor.index)!.bindMemory(to: Int8.self)
            for i in features.indices { features[i] = q.scale * Float(Int32(bytes[i]) - q.zeroPoint) }
            let signals = ImageSignals.measure(UnsafePointer(input.bindMemory(to: Int8.self).baseAddress!), width: w, height: h,
                                               channels: c, scratch: gray)
            features.withUnsafeBufferPointer { calibration.observe(features: $0.baseAddress!, count: $0.count, signals: signals) }
        }

        for path in crops {
            let stream = try CropStream(path: path)
            guard stream.width == w, stream.height == h, stream.channels == c else {
                throw EvaluationError("\(path): crops are \(stream.width)x\(stream.height)x\(stream.channels); the \(head) reads \(w)x\(h)x\(c)")
            }
            for i in 0..<stream.count {
                stream.write(i, into: input)
                observeInput()
            }
        }
        if !sources.isEmpty {
            let settings = models.settings
            let pipeline = try models.pipeline(settings)
            let scale = head == .verifier ? settings.verifierCropScale : settings.classifierCropScale
            for path in sources {
                try forEachFrame(path) { view, _ in
                    var timings = PipelineTimings()
                    for face in pipeline.process(view, timings: &timings) {
                        Sampler.sample(view, region: FacePipeline.squareCrop(face.box, scale: scale), into: input, width: w, height: h,
                                       layout: c == 1 ? .gray : .rgb)
                        observeInput()
                    }
                }
            }
        }
        do { return try calibration.finish() } catch { throw EvaluationError("\(error)") }
    }

    /// Measures `head` and saves its statistics, tied to the model's SHA-256, at `out` (default:
    /// next to the model, e.g. models/onet.source-stats). Returns the path and the statistics.
    @discardableResult
    public static func calibrate(head: AdaptingHead, crops: [String], sources: [String], models: EvaluationModels,
                                 out: String? = nil) throws -> (path: String, statistics: SourceStatistics) {
        let modelFile = "\(models.folder)/\(head.modelFile)"
        let statistics = try measure(head: head, crops: crops, sources: sources, models: models)
        let hash = try SHA256.hashFile(path: modelFile)
        let outPath = out ?? sourceStatisticsPath(model: modelFile)
        let bytes = AdaptationState(heads: [statistics.headState(name: head.rawValue, modelSHA256: hash)]).encoded()
        do { try StateWriter(path: outPath).save(bytes) } catch { throw EvaluationError("\(outPath): \(error)") }
        return (outPath, statistics)
    }

    /// "<path>: verifier source statistics from N crops, C channels; signals: brightness m +- s, ..."
    public static func summary(head: AdaptingHead, path: String, statistics: SourceStatistics) -> String {
        let signals = zip(ImageSignals.names, zip(statistics.signalMean, statistics.signalSpread))
            .map { "\($0.0) \(fixed(Double($0.1.0), 2)) +- \(fixed(Double($0.1.1), 2))" }.joined(separator: ", ")
        return "\(path): \(head) source statistics from \(statistics.samples) crops, \(statistics.featureMean.count) channels; signals: \(signals)"
    }
}
