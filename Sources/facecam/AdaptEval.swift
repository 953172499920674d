import Adaptation
import ArgumentParser
import FacePipeline
import Foundation
import Imaging
import Streaming
import Int8Runtime

/// The shift benchmark's engine (tools/adapt-bench): facecam's own adaptation code on streams
/// of corrupted crops and videos, scored online -- each prediction made before its own update.
struct AdaptEval: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "adapt-eval",
        abstract: "Measure test-time adaptation on the shift benchmark's streams (see tools/adapt-bench).")

    @Option(help: "manifest.json written by tools/adapt-bench.")
    var manifest: String

    @Option(help: "Comma-separated method variants (\(Variant.all.map(\.name).joined(separator: ", ")), or all).")
    var methods = "default"

    @Option(help: "Passes over each stream (adaptation continues across passes).")
    var passes = 3

    @Option(help: "Only streams whose name contains this text.")
    var filter: String?

    @OptionGroup(title: "Models")
    var modelOptions: ModelOptions


    @Option(name: .customLong("rows"), help: "Also write every row as JSON Lines to this file.")
    var rowsPath: String?

    func validate() throws {
        guard (1...20).contains(passes) else { throw ValidationError("--passes must be in 1...20") }
    }

    /// A named combination of settings for both heads.
    struct Variant {
        let name: String
        let verifier: AdaptationSettings
        let expression: AdaptationSettings

        static func make(_ name: String, _ change: (inout AdaptationSettings, String) -> Void) -> Variant {
            var v = defaultSettings(for: "verifier", base: AdaptationSettings())
            var e = defaultSettings(for: "expression", base: AdaptationSettings())
            change(&v, "verifier")
            change(&e, "expression")
            return Variant(name: name, verifier: v, expression: e)
        }

        static let all: [Variant] = [
            make("default") { _, _ in },
            make("align-only") { s, _ in s.alignment = .gated; s.learningRate = 0 },
            make("expr-train") { s, head in if head == "expression" { s.learningRate = 1e-3 } },
            make("expr-align") { s, head in if head == "expression" { s.alignment = .gated } },
            make("expr-align-half") { s, head in if head == "expression" { s.alignment = .gated; s.alignmentStrength = 0.5 } },
            make("align-always") { s, _ in s.alignment = .always; s.learningRate = 0 },
            make("train-only") { s, _ in s.alignment = .off; s.learningRate = 1e-3 },
            make("ungated") { s, _ in s.gateUpdates = false; s.alignment = .off; s.learningRate = 1e-3 },
            make("ungated-align") { s, _ in s.gateUpdates = false; s.alignment = .always },
            make("fixmatch") { s, _ in s.method = .fixmatch },
            make("entropy") { s, _ in s.method = .entropy },
            make("ema-teacher") { s, _ in s.teacher = .ema },
            make("no-teacher") { s, _ in s.teacher = .none },
            make("lr-1e-2") { s, _ in s.learningRate = 1e-2 },
            make("deep") { s, head in if head == "verifier" { s.trainedLayers = 2 } },
            // Expression alignment without its entropy check, mean-only, and with bounded gains.
            make("expr-align-unchecked") { s, head in if head == "expression" { s.alignment = .gated; s.alignmentEntropyCheck = false } },
            make("expr-align-mean") { s, head in if head == "expression" { s.alignment = .gated; s.alignmentEntropyCheck = false; s.alignmentGainLimit = 1 } },
            make("expr-align-clamp") { s, head in if head == "expression" { s.alignment = .gated; s.alignmentEntropyCheck = false; s.alignmentGainLimit = 1.5 } },
            make("entropy-check") { s, _ in s.alignmentEntropyCheck = true },
            make("align-half") { s, _ in s.alignment = .gated; s.alignmentStrength = 0.5; s.learningRate = 0 },

        ]
    }

    struct Stream {
        let name, model, kind, path, clean, corruption, family, mix: String
        let severity: Int
    }

    /// One scored row: a model's head on a stream with one variant.
    struct Row {
        var stream: Stream
        var head: String
        var variant: String
        var frozen: Double, adapted: Double, clean: Double
        var histogram: [Int]
        var selectedFraction: Double, pseudoLabelPrecision: Double?
        var resets: Int, microseconds: Double
        /// Predictions the frozen model made on the stream; a row without any (e.g. a video on
        /// which the detector finds no face) cannot be scored and counts in no summary figure.
        var samples: Int
        var scored: Bool { samples > 0 }
        var recovery: Double? { scored && clean - frozen > 0.02 ? (adapted - frozen) / (clean - frozen) : nil }
        var delta: Double { adapted - frozen }
    }

    func run() throws {
        let base = URL(fileURLWithPath: manifest).deletingLastPathComponent().path
        guard let data = FileManager.default.contents(atPath: manifest),
              let root = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let list = root["streams"] as? [[String: Any]] else {
            throw CommandError("\(manifest): not a shift benchmark manifest")
        }
        let streams: [Stream] = list.compactMap { s in
            guard let name = s["name"] as? String, let path = s["path"] as? String else { return nil }
            return Stream(name: name, model: s["model"] as? String ?? "", kind: s["kind"] as? String ?? "",
                          path: "\(base)/\(path)", clean: "\(base)/\(s["clean"] as? String ?? path)",
                          corruption: s["corruption"] as? String ?? "", family: s["family"] as? String ?? "",
                          mix: s["mix"] as? String ?? "balanced", severity: s["severity"] as? Int ?? 0)
        }.filter { filter == nil || $0.name.contains(filter!) }
        let names = methods == "all" ? Variant.all.map(\.name) : methods.split(separator: ",").map(String.init)
        let variants = try names.map { n in
            guard let v = Variant.all.first(where: { $0.name == n }) else {
                throw CommandError("unknown method variant '\(n)' (known: \(Variant.all.map(\.name).joined(separator: ", ")))")
            }
            return v
        }
        var rows: [Row] = []
        let rowsFile = rowsPath.map { FileManager.default.createFile(atPath: $0, contents: nil); return FileHandle(forWritingAtPath: $0) } ?? nil
        printHeader()
        // Source statistics come from the manifest's calibration data, measured here as
        // `facecam adapt-calibrate` would: never from a scored stream.
        guard let calibration = root["calibration"] as? [String: Any], let crops = calibration["verifier_crops"] as? String,
              let video = calibration["video"] as? String else {
            throw CommandError("\(manifest): no calibration data (regenerate it with tools/adapt-bench --data-only)")
        }
        let evaluator = try Evaluator(models: modelOptions, passes: passes,
                                      cropSource: try measureSourceStatistics(head: .verifier, crops: ["\(base)/\(crops)"], sources: [], models: modelOptions),
                                      videoVerifierSource: try measureSourceStatistics(head: .verifier, crops: ["\(base)/\(crops)"], sources: ["\(base)/\(video)"], models: modelOptions),
                                      videoExpressionSource: try measureSourceStatistics(head: .expression, crops: [], sources: ["\(base)/\(video)"], models: modelOptions))
        for stream in streams {
            let produced: [Row]
            switch stream.kind {
            case "crops": produced = try evaluator.cropRows(stream, variants)
            case "video": produced = try evaluator.videoRows(stream, variants)
            default: continue
            }
            for row in produced {
                printRow(row)
                rowsFile?.write(Data((rowJSON(row).text + "\n").utf8))
            }
            rows.append(contentsOf: produced)
        }
        print(summaryJSON(rows).text)
    }

    private func printHeader() {
        print(pad("stream", 30) + pad("head", 11) + pad("method", 14) + ["frozen", "adapted", "clean", "recovery", "select", "PL-prec",
              "resets", "us"].map { pad($0, 9, right: true) }.joined() + "  predicted classes")
    }

    private func printRow(_ r: Row) {
        guard r.scored else {
            print(pad(r.stream.name, 30) + pad(r.head, 11) + pad(r.variant, 14) + "  no samples (nothing to score; left out of the summary)")
            return
        }
        let cells = [String(format: "%.3f", r.frozen), String(format: "%.3f", r.adapted), String(format: "%.3f", r.clean),
                     r.recovery.map { String(format: "%+.3f", $0) } ?? "-", String(format: "%.3f", r.selectedFraction),
                     r.pseudoLabelPrecision.map { String(format: "%.3f", $0) } ?? "-", String(r.resets), String(format: "%.1f", r.microseconds)]
        print(pad(r.stream.name, 30) + pad(r.head, 11) + pad(r.variant, 14) + cells.map { pad($0, 9, right: true) }.joined() + "  "
              + r.histogram.map(String.init).joined(separator: "/"))
    }

    private func pad(_ s: String, _ width: Int, right: Bool = false) -> String {
        let fill = String(repeating: " ", count: max(0, width - s.count))
        return right ? fill + s : s + fill + (s.count >= width ? " " : "")
    }

    private func rowJSON(_ r: Row) -> JSON {
        .object([("stream", .string(r.stream.name)), ("head", .string(r.head)), ("method", .string(r.variant)),
                 ("corruption", .string(r.stream.corruption)), ("severity", .integer(r.stream.severity)), ("mix", .string(r.stream.mix)),
                 ("frozen", .number(round4(r.frozen))), ("adapted", .number(round4(r.adapted))), ("clean", .number(round4(r.clean))),
                 ("recovery", r.recovery.map { .number(round4($0)) } ?? .null), ("delta", .number(round4(r.delta))),
                 ("selected_fraction", .number(round4(r.selectedFraction))),
                 ("pseudo_label_precision", r.pseudoLabelPrecision.map { .number(round4($0)) } ?? .null),
                 ("resets", .integer(r.resets)), ("update_us", .number(round3(r.microseconds))),
                 ("samples", .integer(r.samples)), ("predicted_histogram", .array(r.histogram.map { .integer($0) }))])
    }

    /// The benchmark's verdict for the default method, per the issue's definitions.
    private func summaryJSON(_ rows: [Row]) -> JSON {
        let unscored = rows.filter { $0.variant == "default" && !$0.scored }.map { JSON.string("\($0.stream.name)/\($0.head)") }
        let d = rows.filter { $0.variant == "default" && $0.scored }
        let isClean = { (r: Row) in r.stream.corruption == "clean" }
        let balanced = d.filter { $0.stream.mix == "balanced" }
        let recoveries = balanced.filter { $0.stream.severity == 5 && !isClean($0) && $0.stream.corruption != "continual" }
            .compactMap(\.recovery)
        func worst(_ rows: [Row]) -> JSON { rows.isEmpty ? .null : .number(round4(rows.map(\.delta).min()!)) }
        var pairs: [(String, JSON)] = [
            ("mean_recovery", recoveries.isEmpty ? .null : .number(round4(recoveries.reduce(0, +) / Double(recoveries.count)))),
            ("recovery_rows", .integer(recoveries.count)),
            ("worst_delta", worst(d)),
            ("clean_delta", worst(d.filter { isClean($0) && $0.stream.mix == "balanced" })),
            ("label_shift_delta", worst(d.filter { $0.stream.mix != "balanced" })),
            ("unscored_rows", .array(unscored)),
        ]
        // The same figures for every other variant, so the default is chosen by measurement.
        var others: [(String, JSON)] = []
        for name in Set(rows.map(\.variant)).sorted() where name != "default" {
            let v = rows.filter { $0.variant == name && $0.scored }
            let rec = v.filter { $0.stream.mix == "balanced" && $0.stream.severity == 5 && !isClean($0) && $0.stream.corruption != "continual" }
                .compactMap(\.recovery)
            others.append((name, .object([
                ("mean_recovery", rec.isEmpty ? .null : .number(round4(rec.reduce(0, +) / Double(rec.count)))),
                ("worst_delta", worst(v)), ("clean_delta", worst(v.filter { isClean($0) && $0.stream.mix == "balanced" })),
                ("label_shift_delta", worst(v.filter { $0.stream.mix != "balanced" })),
            ])))
        }
        if !others.isEmpty { pairs.append(("variants", .object(others))) }
        return .object(pairs)
    }
}

private func round4(_ x: Double) -> Double { (x * 10000).rounded() / 10000 }

/// Mean per-class recall over the classes present in the truth: a collapse onto the majority
/// class cannot score as a gain.
func balancedScore(truth: [Int], predicted: [Int], classes: Int) -> Double {
    var hits = [Int](repeating: 0, count: classes), totals = [Int](repeating: 0, count: classes)
    for (t, p) in zip(truth, predicted) { totals[t] += 1; if t == p { hits[t] += 1 } }
    let present = (0..<classes).filter { totals[$0] > 0 }
    guard !present.isEmpty else { return 1 }
    return present.map { Double(hits[$0]) / Double(totals[$0]) }.reduce(0, +) / Double(present.count)
}

/// Runs the streams. Source statistics: crop streams use the verifier's calibration on crops
/// (e.g. the lfw calibration split); video streams use the statistics of a clean camera clip.
final class Evaluator {
    let models: String
    let modelOptions: ModelOptions
    let passes: Int
    let verifierModel: Model
    let cropSource: SourceStatistics
    let videoVerifierSource: SourceStatistics
    let videoExpressionSource: SourceStatistics
    private var cleanVideoTruth: [String: [[(box: Box, expression: Int)]]] = [:]

    init(models modelOptions: ModelOptions, passes: Int, cropSource: SourceStatistics, videoVerifierSource: SourceStatistics,
         videoExpressionSource: SourceStatistics) throws {
        self.modelOptions = modelOptions
        models = modelOptions.modelsFolder
        self.passes = passes
        verifierModel = try loadModel("\(models)/onet.tflite")
        self.cropSource = cropSource
        self.videoVerifierSource = videoVerifierSource
        self.videoExpressionSource = videoExpressionSource
    }

    // MARK: Crop streams (the verifier on labeled face / non-face crops)

    func cropRows(_ stream: AdaptEval.Stream, _ variants: [AdaptEval.Variant]) throws -> [AdaptEval.Row] {
        let crops = try CropStream(path: stream.path)
        let labels = crops.labels.map { Int($0) }
        guard labels.allSatisfy({ $0 == 0 || $0 == 1 }) else { throw CommandError("\(stream.path): crop labels must be 0 or 1") }
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
        var rows: [AdaptEval.Row] = []
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
            rows.append(AdaptEval.Row(stream: stream, head: "verifier", variant: variant.name, frozen: frozen,
                                      adapted: balancedScore(truth: truth, predicted: predicted, classes: 2), clean: clean,
                                      histogram: histogram, selectedFraction: Double(selected) / Double(max(truth.count, 1)),
                                      pseudoLabelPrecision: selected > 0 ? Double(selectedRight) / Double(selected) : nil,
                                      resets: adapter.resets, microseconds: adapter.meanStepMicroseconds, samples: labels.count))
        }
        return rows
    }

    // MARK: Video streams (the whole pipeline; truth = the frozen pipeline on the clean video)

    private func pipeline(_ variant: AdaptEval.Variant?) throws -> FacePipeline {
        var settings = modelOptions.pipelineSettings
        settings.keepRejectedFaces = true
        if let variant {
            settings.verifierAdaptation = HeadAdaptation(settings: variant.verifier, source: videoVerifierSource)
            settings.expressionAdaptation = HeadAdaptation(settings: variant.expression, source: videoExpressionSource)
        }
        do {
            return try FacePipeline(detector: "\(models)/blazeface.tflite", verifier: "\(models)/onet.tflite",
                                    classifier: "\(models)/expression.tflite", settings: settings)
        } catch { throw CommandError("\(error)") }
    }

    private struct VideoScores {
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

    func videoRows(_ stream: AdaptEval.Stream, _ variants: [AdaptEval.Variant]) throws -> [AdaptEval.Row] {
        let expected = try truth(stream.clean)
        let frozen = try score(stream.path, truth: expected, pipeline: try pipeline(nil), passes: 1)
        let clean = try score(stream.clean, truth: expected, pipeline: try pipeline(nil), passes: 1)
        let frozenVerifier = balancedScore(truth: frozen.verifierTruth, predicted: frozen.verifierPredicted, classes: 2)
        let frozenExpression = balancedScore(truth: frozen.expressionTruth, predicted: frozen.expressionPredicted, classes: 7)
        let cleanVerifier = balancedScore(truth: clean.verifierTruth, predicted: clean.verifierPredicted, classes: 2)
        let cleanExpression = balancedScore(truth: clean.expressionTruth, predicted: clean.expressionPredicted, classes: 7)
        var rows: [AdaptEval.Row] = []
        for variant in variants {
            let p = try pipeline(variant)
            let s = try score(stream.path, truth: expected, pipeline: p, passes: passes)
            var vh = [0, 0], eh = [Int](repeating: 0, count: 7)
            for x in s.verifierPredicted { vh[x] += 1 }
            for x in s.expressionPredicted { eh[x] += 1 }
            let v = p.verifierAdapter!, e = p.expressionAdapter!
            rows.append(AdaptEval.Row(stream: stream, head: "verifier", variant: variant.name, frozen: frozenVerifier,
                                      adapted: balancedScore(truth: s.verifierTruth, predicted: s.verifierPredicted, classes: 2),
                                      clean: cleanVerifier, histogram: vh,
                                      selectedFraction: Double(s.verifierSelected) / Double(max(s.faces, 1)),
                                      pseudoLabelPrecision: s.verifierSelected > 0 ? Double(s.verifierSelectedRight) / Double(s.verifierSelected) : nil,
                                      resets: v.resets, microseconds: v.meanStepMicroseconds, samples: frozen.verifierTruth.count))
            rows.append(AdaptEval.Row(stream: stream, head: "expression", variant: variant.name, frozen: frozenExpression,
                                      adapted: balancedScore(truth: s.expressionTruth, predicted: s.expressionPredicted, classes: 7),
                                      clean: cleanExpression, histogram: eh,
                                      selectedFraction: Double(s.expressionSelected) / Double(max(s.expressionTruth.count, 1)),
                                      pseudoLabelPrecision: s.expressionSelected > 0 ? Double(s.expressionSelectedRight) / Double(s.expressionSelected) : nil,
                                      resets: e.resets, microseconds: e.meanStepMicroseconds, samples: frozen.expressionTruth.count))
        }
        return rows
    }
}
