import Adaptation
import ArgumentParser
import FacePipeline
import Foundation
import Imaging
import Streaming
import FrameCapture
import Int8Runtime

/// Crop streams for calibration and the shift benchmark: an ASCII header line
/// `FCCROPS 1 <width> <height> <channels> <count>\n`, then `count` records of one label byte
/// (1 face, 0 non-face, 255 unknown) and width*height*channels pixels (row-major, interleaved).
struct CropStream {
    let width: Int, height: Int, channels: Int
    let labels: [UInt8]
    let pixels: [UInt8]
    var count: Int { labels.count }
    var cropBytes: Int { width * height * channels }

    init(path: String) throws {
        let bytes = try readFile(path)
        guard let newline = bytes.prefix(128).firstIndex(of: 10),
              let header = String(bytes: bytes[0..<newline], encoding: .ascii) else {
            throw CommandError("\(path): not a crop stream (no FCCROPS header line)")
        }
        let fields = header.split(separator: " ")
        guard fields.count == 6, fields[0] == "FCCROPS", fields[1] == "1", let w = Int(fields[2]), let h = Int(fields[3]),
              let c = Int(fields[4]), let n = Int(fields[5]), (1...1024).contains(w), (1...1024).contains(h), [1, 3].contains(c),
              (0...1_000_000).contains(n) else {
            throw CommandError("\(path): bad crop stream header '\(header)'")
        }
        let record = 1 + w * h * c
        guard bytes.count == newline + 1 + n * record else {
            throw CommandError("\(path): \(bytes.count - newline - 1) bytes of records; the header promises \(n) x \(record)")
        }
        (width, height, channels) = (w, h, c)
        var labels = [UInt8](), pixels = [UInt8]()
        labels.reserveCapacity(n)
        pixels.reserveCapacity(n * w * h * c)
        for i in 0..<n {
            let start = newline + 1 + i * record
            labels.append(bytes[start])
            pixels.append(contentsOf: bytes[(start + 1)..<(start + record)])
        }
        self.labels = labels
        self.pixels = pixels
    }

    /// Writes crop `i` into an int8 model input (pixel - 128).
    func write(_ i: Int, into input: UnsafeMutableRawBufferPointer) {
        let out = input.bindMemory(to: Int8.self)
        let base = i * cropBytes
        for k in 0..<cropBytes { out[k] = Int8(Int(pixels[base + k]) - 128) }
    }
}

/// Calls `body` with every frame of a file source as a pixel view (JPEG decoded to RGB).
func forEachFrame(_ path: String, fps: Double = 10, _ body: (PixelView, Int) throws -> Void) throws {
    let source: FrameSource
    do { source = try FileSources.open(path, fps: fps) } catch let error as CaptureError { throw CommandError(error.message) }
    defer { source.close() }
    let converter = FrameConverter()
    var image = RGBImage(width: 1, height: 1)
    var index = 0
    while true {
        let frame: Frame
        do {
            guard let next = try source.nextFrame() else { break }
            frame = next
        } catch let error as CaptureError where error.kind == .corruptFrame { index += 1; continue }
        catch let error as CaptureError { throw CommandError(error.message) }
        if let view = frame.pixelView {
            try body(view, index)
        } else {
            do { try converter.convert(frame, into: &image) } catch { index += 1; continue }
            try image.pixels.withUnsafeBufferPointer { p in
                try body(.rgb(p.baseAddress!, width: image.width, height: image.height, stride: image.width * 3), index)
            }
        }
        index += 1
    }
}

/// Measures the source statistics an adapting head is aligned and gated against.
struct AdaptCalibrate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "adapt-calibrate",
        abstract: "Measure the source statistics of a head (features and image signals) on clean data.",
        discussion: """
            Runs the frozen int8 model on calibration inputs and writes the per-channel mean and \
            variance of the head's input features and the distribution of the crops' image signals \
            (brightness, contrast, noise, sharpness), tied to the model's SHA-256. Inputs: crop \
            streams (--crops) and images, folders or clips (--source) whose faces the pipeline \
            finds. Run it on your own camera in good conditions to adapt toward that camera.
            """)

    @Option(help: "The head to measure.")
    var head: HeadName

    @Option(parsing: .singleValue, help: "Crop stream file (FCCROPS format); repeatable.")
    var crops: [String] = []

    @Option(parsing: .singleValue, help: "Image, folder or clip whose detected faces calibrate; repeatable.")
    var source: [String] = []

    @OptionGroup(title: "Models")
    var modelOptions: ModelOptions

    @Option(help: "Output file (default: next to the model, e.g. models/onet.source-stats).")
    var out: String?

    func validate() throws {
        guard !crops.isEmpty || !source.isEmpty else { throw ValidationError("give --crops or --source") }
    }

    func run() throws {
        let modelFile = "\(modelOptions.modelsFolder)/\(head.modelFile)"
        let statistics = try measureSourceStatistics(head: head, crops: crops, sources: source, models: modelOptions)
        let hash = try SHA256.hashFile(path: modelFile)
        let outPath = out ?? sourceStatisticsPath(model: modelFile)
        let bytes = AdaptationState(heads: [statistics.headState(name: head.rawValue, modelSHA256: hash)]).encoded()
        do { try StateWriter(path: outPath).save(bytes) } catch { throw CommandError("\(outPath): \(error)") }
        let channels = statistics.featureMean.count
        let signals = zip(ImageSignals.names, zip(statistics.signalMean, statistics.signalSpread))
            .map { String(format: "%@ %.2f +- %.2f", $0.0, $0.1.0, $0.1.1) }.joined(separator: ", ")
        print("\(outPath): \(head) source statistics from \(statistics.samples) crops, \(channels) channels; signals: \(signals)")
    }
}

/// Runs the frozen model of `head` over calibration crops and the faces the pipeline finds in
/// `sources`, and returns the source statistics of its features and image signals.
func measureSourceStatistics(head: HeadName, crops: [String], sources: [String], models modelOptions: ModelOptions) throws -> SourceStatistics {
    let models = modelOptions.modelsFolder
    let modelFile = "\(models)/\(head.modelFile)"
    let model = try loadModel(modelFile)
    let known: KnownHead = head == .verifier ? .verifier : .expression
    let extracted: ExtractedHead
    do { extracted = try HeadExtraction.extract(from: model, feature: known.feature, output: known.output) } catch {
        throw CommandError("\(modelFile): \(error)")
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
        let signals = ImageSignals.measure(UnsafePointer(input.bindMemory(to: Int8.self).baseAddress!), width: w, height: h, channels: c,
                                           scratch: gray)
        features.withUnsafeBufferPointer { calibration.observe(features: $0.baseAddress!, count: $0.count, signals: signals) }
    }

    for path in crops {
        let stream = try CropStream(path: path)
        guard stream.width == w, stream.height == h, stream.channels == c else {
            throw CommandError("\(path): crops are \(stream.width)x\(stream.height)x\(stream.channels); the \(head) reads \(w)x\(h)x\(c)")
        }
        for i in 0..<stream.count {
            stream.write(i, into: input)
            observeInput()
        }
    }
    if !sources.isEmpty {
        let settings = modelOptions.pipelineSettings
        let pipeline: FacePipeline
        do {
            pipeline = try FacePipeline(detector: "\(models)/blazeface.tflite", verifier: "\(models)/onet.tflite",
                                        classifier: "\(models)/expression.tflite", settings: settings)
        } catch { throw CommandError("\(error)") }
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
    do { return try calibration.finish() } catch { throw CommandError("\(error)") }
}
