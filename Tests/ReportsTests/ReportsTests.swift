import Adaptation
import FrameCapture
import Foundation
import Int8Runtime
@testable import Reports
import Streaming
import XCTest

/// What inspect, bench, devices and adapt-state print, on small synthetic inputs and the
/// shipped models.
final class ReportsTests: XCTestCase {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    func testPrintfFormattingAndSizes() {
        XCTAssertEqual(formatted("%.3f|%5.1f%%|%d|%.6g", 1.23456, 12.25, Int32(-7), 0.000123456789), "1.235| 12.2%|-7|0.000123457")
        XCTAssertEqual(formatted("%400d", Int32(1)).count, 400)   // longer than the first buffer
        XCTAssertEqual(formatBytes(1023), "1023 B")
        XCTAssertEqual(formatBytes(1536), "1.5 KiB")
        XCTAssertEqual(formatBytes(3 << 20), "3.00 MiB")
        XCTAssertEqual(formatCount(999), "999")
        XCTAssertEqual(formatCount(12_345), "12.3 K")
        XCTAssertEqual(formatCount(2_500_000), "2.50 M")
    }

    func testLatencyStatistics() {
        let odd = LatencyStatistics([5, 1, 3, 2, 4])
        XCTAssertEqual([odd.min, odd.median, odd.p90, odd.mean, odd.max], [1, 3, 5, 3, 5])
        let ten = LatencyStatistics((1...10).map(Double.init).reversed())
        XCTAssertEqual(ten.median, 6)   // the upper middle
        XCTAssertEqual(ten.p90, 9)      // rank ceil(0.9 * 10) = 9
        XCTAssertEqual(ten.mean, 5.5)
        XCTAssertEqual(ten.count, 10)
        let one = LatencyStatistics([2])
        XCTAssertEqual([one.min, one.median, one.p90, one.max], [2, 2, 2, 2])
    }

    private func result(medians: [Double]?) -> BenchmarkResult {
        BenchmarkResult(path: "m.tflite", threads: 1, loadNs: 2_000_000, latency: LatencyStatistics([4, 2, 3]), macs: 6_000_000,
                        peakResidentBytes: 1 << 20, modelBytes: 2048, arenaBytes: 512, preparedBytes: 4096, kernelSet: .reference,
                        operators: [("CONV_2D", "k-a", 4_000_000), ("ADD", "k-b", 0), ("CONV_2D", "k-a", 2_000_000)],
                        operatorMedians: medians)
    }

    func testBenchmarkTablesAggregateByKernel() {
        let r = result(medians: [1.0, 0.5, 0.5])
        XCTAssertEqual(r.gmacsPerSecond, 2, accuracy: 1e-12)   // 6e6 MACs in 3 ms
        XCTAssertEqual(r.kernelCounts, "k-a x2, k-b x1")
        XCTAssertEqual(r.byKernel.map(\.kernel), ["k-a", "k-b"])
        XCTAssertEqual(r.byKernel[0].count, 2)
        XCTAssertEqual(r.byKernel[0].ms, 1.5)
        XCTAssertEqual(r.byKernel[0].macs, 6_000_000)
        let lines = r.lines
        XCTAssertEqual(lines[0], "model     m.tflite (2.0 KiB, 6.00 M MACs)")
        XCTAssertEqual(lines[3], "latency   min 2.000 ms  median 3.000 ms  p90 4.000 ms  mean 3.000 ms  (3 runs)")
        XCTAssertTrue(lines.contains("\nprofile   median per operator over 3 runs; they sum to 2.000 ms"))
        // Operator 0: 1 ms of 2 (50%), 4 M MACs at 4 GMAC/s; the ADD has no MACs.
        XCTAssertTrue(lines.contains("0    CONV_2D             k-a                           1.0000   50.0%    4.00 M    4.00"), "\(lines)")
        XCTAssertTrue(lines.contains("1    ADD                 k-b                           0.5000   25.0%         -       -"), "\(lines)")
        let json = r.json.text
        XCTAssertTrue(json.contains(#""latency_ms":{"min":2,"median":3,"p90":4,"mean":3,"max":4}"#), json)
        XCTAssertTrue(json.contains(#"{"index":0,"op":"CONV_2D","kernel":"k-a","macs":4000000,"median_ms":1,"share":0.5,"gmacs_per_s":4}"#), json)
        XCTAssertFalse(result(medians: nil).lines.contains { $0.contains("profile") })
        XCTAssertTrue(result(medians: nil).byKernel.isEmpty)
    }

    func testBenchmarkRunsAShippedModelWithOneMedianPerOperator() throws {
        let model = try Model(path: "\(root)/models/onet.tflite")
        let interpreter = try Interpreter(model: model)
        let r = Benchmark.run(interpreter, path: "onet", threads: 1, loadNs: 0, iterations: 3, warmup: 1, profile: true)
        XCTAssertEqual(r.latency.count, 3)
        XCTAssertEqual(r.operators.count, model.operators.count)
        XCTAssertEqual(r.operatorMedians?.count, model.operators.count)
        XCTAssertEqual(r.macs, interpreter.macsPerOperator.reduce(0, +))
        XCTAssertGreaterThan(r.macs, 0)
        // The inputs are the same pseudo-random bytes every time.
        let first = Array(interpreter.inputBuffer(0))
        Benchmark.fillInputs(interpreter)
        XCTAssertEqual(Array(interpreter.inputBuffer(0)), first)
        XCTAssertTrue(first.contains { $0 != first[0] })
    }

    func testModelReportOfAShippedModel() throws {
        let model = try Model(path: "\(root)/models/blazeface.tflite")
        let report = try ModelReport(model: model, path: "blazeface.tflite", kernels: .reference)
        XCTAssertTrue(report.runnable)
        XCTAssertNotNil(report.interpreter)
        XCTAssertEqual(report.totalMacs, report.operators.reduce(0) { $0 + $1.macs })
        let lines = report.lines(constants: false)
        XCTAssertEqual(lines.first, "model      blazeface.tflite")
        XCTAssertEqual(lines.last, "supported  all \(model.operators.count) operators can run")
        let json = try JSON(parsing: Array(report.json(constants: true).text.utf8))
        XCTAssertEqual(json["total_macs"]?.intValue, report.totalMacs)
        XCTAssertEqual(json["tensors"]?.arrayValue?.count, model.tensors.count)
        XCTAssertEqual(json["unsupported"]?.arrayValue?.count, 0)
    }

    func testDeviceListingAndLuma() {
        XCTAssertEqual(DeviceReport.rateText(.discrete([V4L2Interval(1, 15), V4L2Interval(1, 30), V4L2Interval(1001, 30000)])),
                       "30,29.97,15 fps")
        XCTAssertEqual(DeviceReport.rateText(.stepwise(min: V4L2Interval(1, 60), max: V4L2Interval(1, 5), step: V4L2Interval(0, 1))),
                       "5-60 fps")
        XCTAssertEqual(DeviceReport.rateText(.unknown), "rate not enumerated")
        let yuyv = V4L2FormatInfo(fourcc: PixelFormat.yuyv.fourcc, description: "YUYV 4:2:2",
                                  sizes: [V4L2Size(width: 640, height: 480, rates: .discrete([V4L2Interval(1, 30)]))])
        let h264 = V4L2FormatInfo(fourcc: 0x3436_3248, description: "H.264", compressed: true)   // "H264"
        let device = V4L2Devices.DeviceInfo(path: "/dev/video0", card: "Cam", driver: "uvcvideo", bus: "usb-1", capabilities: 0x0420_0001,
                                            isCapture: true, formats: [yuyv, h264, V4L2FormatInfo(fourcc: PixelFormat.rgb24.fourcc, emulated: true)])
        XCTAssertEqual(DeviceReport.text(device), """
            /dev/video0: Cam (driver uvcvideo, bus usb-1) - video capture
              YUYV YUYV 4:2:2
                640x480: 30 fps
              also offers (facecam does not read them): H264
              (+1 formats converted in software by libv4l2)

            """)
        XCTAssertEqual(DeviceReport.text(V4L2Devices.DeviceInfo(path: "/dev/video1", error: "busy")), "/dev/video1: busy\n")
        let json = DeviceReport.json(device).text
        XCTAssertTrue(json.hasPrefix(#"{"path":"/dev/video0","card":"Cam","driver":"uvcvideo","bus":"usb-1","capture":true,"capabilities":"0x4200001""#), json)
        XCTAssertTrue(json.contains(#""sizes":[{"width":640,"height":480,"fps":[30]}]"#), json)

        // A 16x8 grey frame, sampled every 8th pixel of every 8th row: (0,0), (8,0) -> 10 and 30.
        var pixels = [UInt8](repeating: 0, count: 16 * 8)
        pixels[0] = 10
        pixels[8] = 30
        pixels.withUnsafeBytes { bytes in
            let frame = Frame(width: 16, height: 8, format: .grey, bytes: bytes, bytesPerLine: 16, sequence: 0, timestampNs: 0)
            XCTAssertEqual(DeviceReport.meanLuma(frame), 20)
            let jpeg = Frame(width: 16, height: 8, format: .mjpeg, bytes: bytes, bytesPerLine: 0, sequence: 0, timestampNs: 0)
            XCTAssertEqual(DeviceReport.meanLuma(jpeg), -1)
        }
    }

    func testStateReports() throws {
        let good = StateReport(path: "\(root)/models/onet.source-stats", models: "\(root)/models")
        XCTAssertNil(good.error)
        XCTAssertEqual(good.state?.heads.count, 1)
        XCTAssertEqual(good.state.map { good.model(of: $0.heads[0]) }, "onet.tflite")
        XCTAssertTrue(good.lines[1].hasPrefix("valid      yes, format version \(AdaptationState.formatVersion), "))
        XCTAssertTrue(good.json.text.hasPrefix(#"{"valid":true"#))

        let dir = NSTemporaryDirectory() + "facecam-reports-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // The right magic, version 99, nothing else: damaged, and its version still reported.
        var bytes = AdaptationState.magic
        bytes += [99, 0, 0, 0]
        XCTAssertTrue(FileManager.default.createFile(atPath: "\(dir)/s", contents: Data(bytes)))
        let bad = StateReport(path: "\(dir)/s", models: "\(root)/models")
        XCTAssertNotNil(bad.error)
        XCTAssertTrue(bad.error!.hasPrefix("\(dir)/s: "), bad.error!)
        XCTAssertEqual(bad.versionField, 99)
        XCTAssertTrue(bad.json.text.hasPrefix(#"{"valid":false,"error":"#))
        XCTAssertTrue(bad.json.text.hasSuffix(#""version":99,"bytes":12,"heads":[]}"#), bad.json.text)
        let missing = StateReport(path: "\(dir)/none", models: "\(root)/models")
        XCTAssertEqual(missing.lines[0], "state      \(dir)/none")
        XCTAssertTrue(missing.json.text.hasSuffix(#""version":null,"bytes":null,"heads":[]}"#), missing.json.text)
    }
}
