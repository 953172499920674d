import Adaptation
import AdaptationEval
import Foundation
import Streaming
import XCTest

/// The benchmark's arithmetic on small synthetic inputs, its input formats, and calibration on
/// the shipped verifier.
final class EvaluationTests: XCTestCase {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    private func row(_ variant: String = "default", corruption: String = "noise", severity: Int = 5, mix: String = "balanced",
                     frozen: Double, adapted: Double, clean: Double, samples: Int = 10) -> EvaluationRow {
        EvaluationRow(stream: EvaluationStream(name: "s/\(corruption)/\(severity)", kind: "crops", path: "p", corruption: corruption,
                                               mix: mix, severity: severity),
                      head: "verifier", variant: variant, frozen: frozen, adapted: adapted, clean: clean, histogram: [3, 7],
                      selectedFraction: 0.25, pseudoLabelPrecision: nil, resets: 1, microseconds: 12.34, samples: samples)
    }

    func testBalancedScoreIsTheMeanRecallOfThePresentClasses() {
        // Class 0: 2 of 3 right; class 1: 1 of 1; class 2 absent.
        XCTAssertEqual(balancedScore(truth: [0, 0, 0, 1], predicted: [0, 1, 0, 1], classes: 3), (2.0 / 3 + 1) / 2, accuracy: 1e-12)
        // Predicting the majority class everywhere scores 0.5, not 0.9.
        XCTAssertEqual(balancedScore(truth: [Int](repeating: 0, count: 9) + [1], predicted: [Int](repeating: 0, count: 10), classes: 2), 0.5)
        XCTAssertEqual(balancedScore(truth: [], predicted: [], classes: 2), 1)
    }

    func testRecoveryIsTheShareOfTheLossWonBack() {
        XCTAssertEqual(row(frozen: 0.6, adapted: 0.7, clean: 0.8).recovery!, 0.5, accuracy: 1e-12)
        XCTAssertEqual(row(frozen: 0.6, adapted: 0.5, clean: 0.8).recovery!, -0.5, accuracy: 1e-12)
        XCTAssertNil(row(frozen: 0.79, adapted: 0.9, clean: 0.8).recovery)   // a loss of 0.01: nothing to recover
        XCTAssertNil(row(frozen: 0.5, adapted: 0.7, clean: 0.8, samples: 0).recovery)
        XCTAssertEqual(row(frozen: 0.6, adapted: 0.55, clean: 0.8).delta, -0.05, accuracy: 1e-12)
    }

    func testSummaryCountsOnlyTheHeadlineRowsAndTheWorstDeltas() {
        let rows = [
            row(frozen: 0.6, adapted: 0.7, clean: 0.8),                              // recovery 0.5
            row(frozen: 0.4, adapted: 0.7, clean: 0.8),                              // recovery 0.75
            row(severity: 3, frozen: 0.4, adapted: 0.8, clean: 0.8),                 // severity 3: not in the mean
            row(corruption: "continual", frozen: 0.4, adapted: 0.41, clean: 0.8),    // continual: not in the mean
            row(mix: "90-10", frozen: 0.6, adapted: 0.58, clean: 0.8),               // label shift: -0.02
            row(corruption: "clean", frozen: 0.9, adapted: 0.89, clean: 0.9),        // clean: -0.01
            row(frozen: 0.1, adapted: 0.0, clean: 0.8, samples: 0),                  // unscored
            row("other", frozen: 0.6, adapted: 0.8, clean: 0.8),                     // recovery 1
        ]
        XCTAssertEqual(EvaluationReport.summary(rows).text,
                       #"{"mean_recovery":0.625,"recovery_rows":2,"worst_delta":-0.02,"clean_delta":-0.01,"label_shift_delta":-0.02,"#
                       + #""unscored_rows":["s/noise/5/verifier"],"#
                       + #""variants":{"other":{"mean_recovery":1,"worst_delta":0.2,"clean_delta":null,"label_shift_delta":null}}}"#)
        XCTAssertEqual(EvaluationReport.summary([]).text,
                       #"{"mean_recovery":null,"recovery_rows":0,"worst_delta":null,"clean_delta":null,"label_shift_delta":null,"unscored_rows":[]}"#)
    }

    func testRowsPrintAsTheTableAndAsJSON() {
        let r = row(frozen: 0.6, adapted: 0.7, clean: 0.8)
        XCTAssertEqual(EvaluationReport.line(r),
                       "s/noise/5                     verifier   default           0.600    0.700    0.800   +0.500    0.250        -        1     12.3  3/7")
        XCTAssertTrue(EvaluationReport.line(row(frozen: 0.6, adapted: 0.5, clean: 0.8)).contains("  -0.500"))
        XCTAssertTrue(EvaluationReport.line(row(frozen: 0, adapted: 0, clean: 0, samples: 0)).hasSuffix("  no samples (nothing to score; left out of the summary)"))
        XCTAssertEqual(EvaluationReport.header.prefix(30), "stream                        ")
        let json = EvaluationReport.json(r).text
        XCTAssertTrue(json.hasPrefix(#"{"stream":"s/noise/5","head":"verifier","method":"default","corruption":"noise","severity":5"#), json)
        XCTAssertTrue(json.contains(#""recovery":0.5,"delta":0.1,"selected_fraction":0.25,"pseudo_label_precision":null"#), json)
        XCTAssertTrue(json.hasSuffix(#""update_us":12.34,"samples":10,"predicted_histogram":[3,7]}"#), json)
    }

    func testVariantsAreNamedAndUnknownOnesListTheKnown() throws {
        XCTAssertEqual(try EvaluationVariant.named("all").count, EvaluationVariant.all.count)
        let picked = try EvaluationVariant.named("align-only,default")
        XCTAssertEqual(picked.map(\.name), ["align-only", "default"])
        XCTAssertEqual(picked[0].verifier.learningRate, 0)
        XCTAssertEqual(picked[0].verifier.alignment, .gated)
        // The default leaves the expression head watching only (the per-head defaults).
        XCTAssertEqual(picked[1].expression.learningRate, 0)
        XCTAssertEqual(picked[1].expression.alignment, .off)
        XCTAssertThrowsError(try EvaluationVariant.named("default,nope")) {
            XCTAssertTrue("\($0)".hasPrefix("unknown method variant 'nope' (known: default, align-only,"), "\($0)")
        }
    }

    func testManifestPathsAreRelativeToItsFolder() throws {
        let text = #"{"streams":[{"name":"a","kind":"crops","path":"x.crops","severity":5,"corruption":"noise"},"#
            + #"{"name":"b","kind":"video","path":"v.mjpeg","clean":"c.mjpeg","mix":"90-10"},{"kind":"no name"}],"#
            + #""calibration":{"verifier_crops":"cal.crops","video":"cal.mjpeg"}}"#
        let m = try BenchmarkManifest(bytes: Array(text.utf8), folder: "/data", name: "m.json")
        XCTAssertEqual(m.streams.map(\.name), ["a", "b"])
        XCTAssertEqual(m.streams[0].path, "/data/x.crops")
        XCTAssertEqual(m.streams[0].clean, "/data/x.crops")
        XCTAssertEqual(m.streams[0].severity, 5)
        XCTAssertEqual(m.streams[0].mix, "balanced")
        XCTAssertEqual(m.streams[1].clean, "/data/c.mjpeg")
        XCTAssertEqual(m.streams[1].mix, "90-10")
        XCTAssertEqual(m.calibrationCrops, "/data/cal.crops")
        XCTAssertEqual(m.calibrationVideo, "/data/cal.mjpeg")
        XCTAssertThrowsError(try BenchmarkManifest(bytes: Array("{}".utf8), folder: "/", name: "m.json")) {
            XCTAssertEqual("\($0)", "m.json: not a shift benchmark manifest")
        }
        XCTAssertNil(try BenchmarkManifest(bytes: Array(#"{"streams":[]}"#.utf8), folder: "/", name: "m").calibrationCrops)
    }

    /// `FCCROPS 1 w h c n` then n records of a label byte and w*h*c pixels.
    private func cropBytes(width: Int, height: Int, channels: Int, labels: [UInt8], pixel: (Int, Int) -> UInt8) -> [UInt8] {
        var bytes = Array("FCCROPS 1 \(width) \(height) \(channels) \(labels.count)\n".utf8)
        for (i, label) in labels.enumerated() {
            bytes.append(label)
            for k in 0..<(width * height * channels) { bytes.append(pixel(i, k)) }
        }
        return bytes
    }

    func testCropStreamsParseAndWriteInt8Inputs() throws {
        let bytes = cropBytes(width: 2, height: 1, channels: 3, labels: [1, 0]) { i, k in UInt8(100 * i + k) }
        let s = try CropStream(bytes: bytes, name: "t")
        XCTAssertEqual(s.count, 2)
        XCTAssertEqual(s.labels, [1, 0])
        XCTAssertEqual(s.cropBytes, 6)
        var input = [Int8](repeating: 0, count: 6)
        input.withUnsafeMutableBytes { s.write(1, into: $0) }
        XCTAssertEqual(input, [-28, -27, -26, -25, -24, -23])   // 100...105 - 128
        XCTAssertThrowsError(try CropStream(bytes: Array(bytes.dropLast()), name: "t")) {
            XCTAssertEqual("\($0)", "t: 13 bytes of records; the header promises 2 x 7")
        }
        XCTAssertThrowsError(try CropStream(bytes: Array("FCCROPS 1 2 1 2 1\n".utf8), name: "t")) {   // 2 channels
            XCTAssertEqual("\($0)", "t: bad crop stream header 'FCCROPS 1 2 1 2 1'")
        }
        XCTAssertThrowsError(try CropStream(bytes: [UInt8](repeating: 65, count: 200), name: "t")) {
            XCTAssertEqual("\($0)", "t: not a crop stream (no FCCROPS header line)")
        }
        XCTAssertThrowsError(try CropStream(path: "/no/such.crops")) { XCTAssertEqual("\($0)", "cannot read '/no/such.crops'") }
    }

    func testCalibrationMeasuresEveryCropAndSavesStatisticsTiedToTheModel() throws {
        let dir = NSTemporaryDirectory() + "facecam-calibration-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // 6 crops of 48x48 RGB: gradients of different brightness.
        let bytes = cropBytes(width: 48, height: 48, channels: 3, labels: [1, 1, 1, 0, 0, 0]) { i, k in UInt8((k % 144 + 30 * i) % 256) }
        let crops = "\(dir)/synthetic.crops"
        XCTAssertTrue(FileManager.default.createFile(atPath: crops, contents: Data(bytes)))
        let models = EvaluationModels(folder: "\(root)/models")
        let out = "\(dir)/onet.source-stats"
        let (path, stats) = try Calibration.calibrate(head: .verifier, crops: [crops], sources: [], models: models, out: out)
        XCTAssertEqual(path, out)
        XCTAssertEqual(stats.samples, 6)
        XCTAssertEqual(stats.featureMean.count, 128)
        XCTAssertEqual(stats.signalMean.count, ImageSignals.names.count)
        XCTAssertTrue(stats.featureVariance.allSatisfy { $0 >= 0 && $0.isFinite })
        // Measuring again gives the same figures; the saved file loads for this model only.
        XCTAssertEqual(try Calibration.measure(head: .verifier, crops: [crops], sources: [], models: models), stats)
        let hash = try SHA256.hashFile(path: "\(root)/models/onet.tflite")
        XCTAssertEqual(try SourceStatistics.load(path: out, head: "verifier", modelSHA256: hash), stats)
        XCTAssertThrowsError(try SourceStatistics.load(path: out, head: "verifier",
                                                       modelSHA256: try SHA256.hashFile(path: "\(root)/models/expression.tflite")))
        XCTAssertTrue(Calibration.summary(head: .verifier, path: out, statistics: stats)
            .hasPrefix("\(out): verifier source statistics from 6 crops, 128 channels; signals: brightness "))
        // Crops of the wrong size for the head are refused with both sizes.
        let small = "\(dir)/small.crops"
        XCTAssertTrue(FileManager.default.createFile(atPath: small, contents: Data(cropBytes(width: 8, height: 8, channels: 3, labels: [1]) { _, _ in 0 })))
        XCTAssertThrowsError(try Calibration.measure(head: .verifier, crops: [small], sources: [], models: models)) {
            XCTAssertEqual("\($0)", "\(small): crops are 8x8x3; the verifier reads 48x48x3")
        }
    }
}
