@testable import Adaptation
import CAllocationCounter
import FacePipeline
import Imaging
import Int8Runtime
import XCTest

/// The self-training loop end to end: no allocation per frame, state round trips, safeguards.
final class AdapterTests: XCTestCase {
    var root: String { modelPath("onet").split(separator: "/").dropLast(2).joined(separator: "/").withLeadingSlash }

    func source(_ head: String, _ model: String) throws -> SourceStatistics {
        try SourceStatistics.load(path: "\(root)/models/\(model).source-stats", head: head,
                                  modelSHA256: try SHA256.hashFile(path: "\(root)/models/\(model).tflite"))
    }

    /// Settings that make every part of a step run: no gate, alignment on, a 4-sample warm-up.
    func busySettings(teacher: TeacherKind) -> AdaptationSettings {
        var s = AdaptationSettings()
        s.gateUpdates = false
        s.alignment = .always
        s.teacher = teacher
        s.dash.warmup = 4
        s.dash.rhoMin = 3  // select nearly everything, so the cross-entropy path runs too
        return s
    }

    func pipeline(teacher: TeacherKind) throws -> FacePipeline {
        var settings = PipelineSettings()
        settings.verifierAdaptation = HeadAdaptation(settings: busySettings(teacher: teacher), source: try source("verifier", "onet"))
        settings.expressionAdaptation = HeadAdaptation(settings: busySettings(teacher: teacher), source: try source("expression", "expression"))
        let m = "\(root)/models"
        return try FacePipeline(detector: "\(m)/blazeface.tflite", verifier: "\(m)/onet.tflite", classifier: "\(m)/expression.tflite",
                                settings: settings)
    }

    func testAdaptingAFrameDoesNotAllocate() throws {
        guard allocation_counter_available() == 1 else {
            throw XCTSkip("allocation counting needs glibc's malloc (not available under sanitizers)")
        }
        let image = try PNM.decode(try [UInt8](contentsOf: "\(root)/samples/astronaut.ppm"))
        for teacher in TeacherKind.allCases {
            let p = try pipeline(teacher: teacher)
            var timings = PipelineTimings()
            try image.pixels.withUnsafeBufferPointer { px in
                let view = PixelView.rgb(px.baseAddress!, width: image.width, height: image.height, stride: image.width * 3)
                for _ in 0..<8 { XCTAssertEqual(p.process(view, timings: &timings).count, 1) }  // warm-up, metadata
                let before = (p.verifierAdapter!.updates, p.expressionAdapter!.updates)
                allocation_counter_start()
                var faces = 0
                for _ in 0..<20 { faces += p.process(view, timings: &timings).count }
                let allocations = allocation_counter_stop()
                XCTAssertEqual(faces, 20)
                XCTAssertEqual(allocations, 0, "teacher \(teacher)")
                // The frames did adapt: updates were made on both heads.
                XCTAssertGreaterThan(p.verifierAdapter!.updates, before.0, "teacher \(teacher)")
                XCTAssertGreaterThan(p.expressionAdapter!.updates, before.1, "teacher \(teacher)")
                let face = p.process(view, timings: &timings)[0]
                XCTAssertNotNil(face.verifierAdaptation)
                XCTAssertNotNil(face.expressionAdaptation)
            }
        }
    }

    func testFrozenPipelineIsUnchangedAndTracksAreStable() throws {
        let m = "\(root)/models"
        let frozen = try FacePipeline(detector: "\(m)/blazeface.tflite", verifier: "\(m)/onet.tflite", classifier: "\(m)/expression.tflite")
        let image = try PNM.decode(try [UInt8](contentsOf: "\(root)/samples/astronaut.ppm"))
        var timings = PipelineTimings()
        let faces = (0..<3).map { _ in frozen.process(image, timings: &timings) }
        XCTAssertTrue(faces.allSatisfy { $0.count == 1 && $0[0].verifierAdaptation == nil && $0[0].expressionAdaptation == nil })
        XCTAssertEqual(Set(faces.map { $0[0].track }), [0])  // one face, one track across frames
    }

    func testStateRoundTripAndForeignModel() throws {
        let p = try pipeline(teacher: .ema)
        let image = try PNM.decode(try [UInt8](contentsOf: "\(root)/samples/grace_hopper.ppm"))
        var timings = PipelineTimings()
        for _ in 0..<12 { _ = p.process(image, timings: &timings) }
        let adapter = p.verifierAdapter!
        let hash = try SHA256.hashFile(path: "\(root)/models/onet.tflite")
        let saved = adapter.headState(modelSHA256: hash)
        let bytes = AdaptationState(heads: [saved]).encoded()
        let decoded = try AdaptationState(decoding: bytes)
        XCTAssertEqual(decoded.head("verifier"), saved)

        // A fresh adapter restored from the state equals the saved one.
        let fresh = try pipeline(teacher: .ema).verifierAdapter!
        try fresh.restore(from: decoded.head("verifier")!, modelSHA256: hash)
        XCTAssertEqual(fresh.snapshot, adapter.snapshot)
        XCTAssertGreaterThan(fresh.updates, 0)

        // Weights saved for another model are refused, and nothing changes.
        let other = try pipeline(teacher: .ema).verifierAdapter!
        let before = other.snapshot
        XCTAssertThrowsError(try other.restore(from: saved, modelSHA256: try SHA256.hashFile(path: "\(root)/models/expression.tflite")))
        // The expression head's state does not fit the verifier either (wrong sizes).
        let expressionState = p.expressionAdapter!.headState(modelSHA256: hash)
        XCTAssertThrowsError(try other.restore(from: expressionState, modelSHA256: hash))
        XCTAssertEqual(other.snapshot, before)
    }

    func testAlignmentGainLimit() {
        // Source: mean 0, variance 1 per channel; the stream: mean 5, variance ~100.
        let stats = FeatureStatistics(channels: 2, sourceMean: [0, 0], sourceVariance: [1, 1], momentum: 0.02)
        var x: [Float] = [0, 0]
        for i in 0..<2000 { let v: Float = i % 2 == 0 ? 15 : -5; x = [v, v]; stats.observe(x, count: 2) }
        var y: [Float] = [0, 0]
        let input: [Float] = [15, 15]
        stats.align(input, count: 2, strength: 1, gainLimit: 1, into: &y)
        XCTAssertEqual(y[0], 15 - stats.mean[0], accuracy: 1e-4, "limit 1 shifts the mean only")
        stats.align(input, count: 2, strength: 1, gainLimit: 2, into: &y)
        XCTAssertEqual(y[0], (15 - stats.mean[0]) * 0.5, accuracy: 1e-4, "the gain (~0.1) is bounded at 1/2")
        stats.align(input, count: 2, strength: 1, into: &y)
        XCTAssertEqual(y[0], (15 - stats.mean[0]) * stats.gain[0], accuracy: 1e-4)
        XCTAssertLessThan(stats.gain[0], 0.2)
    }

    func testEntropyCheckDropsAlignmentThatMakesTheHeadLessConfident() throws {
        let model = try Model(path: "\(root)/models/onet.tflite")
        let extracted = try HeadExtraction.extract(from: model, feature: KnownHead.verifier.feature, output: KnownHead.verifier.output)
        var options = Interpreter.Options()
        options.preservedTensors = [extracted.featureTensor.index]
        let interpreter = try Interpreter(model: model, options: options)
        let run = try interpreter.partialRun(to: [extracted.featureTensor.index])
        let crops = try FloatHeadTests.crops(width: 48, height: 48, layout: .rgb, count: 20)
        // The int8 model's answer is given as certain ([1, 0], entropy 0): no alignment can be
        // more confident, so the check must drop it and the face reports that answer exactly.
        // Given as [0.5, 0.5] (entropy ln 2), alignment is kept.
        for (frozen, keeps) in [([Float(1), 0], false), ([Float(0.5), 0.5], true)] {
            var s = AdaptationSettings()
            s.alignment = .always
            s.learningRate = 0
            s.alignmentEntropyCheck = true
            let adapter = try HeadAdapter(name: "verifier", extracted: try HeadExtraction.extract(from: model, feature: KnownHead.verifier.feature,
                                                                                                   output: KnownHead.verifier.output),
                                          source: try source("verifier", "onet"), settings: s)
            var step = AdaptationStep()
            for i in 0..<40 {
                try interpreter.setInput(0, int8: crops[i % crops.count])
                interpreter.invoke(run)
                step = frozen.withUnsafeBufferPointer { f in
                    adapter.process(input: UnsafePointer(interpreter.inputBuffer(0).bindMemory(to: Int8.self).baseAddress!), width: 48, height: 48,
                                    channels: 3, featureBytes: interpreter.tensorBytes(extracted.featureTensor.index)!, track: nil,
                                    frozen: f.baseAddress!)
                }
            }
            if keeps {
                XCTAssertEqual(step.alignment, 1)
                XCTAssertLessThan(adapter.alignmentEntropyGain, 0)
            } else {
                XCTAssertEqual(step.alignment, 0)
                XCTAssertEqual(Array(adapter.prediction), frozen)
            }
        }
    }

    func testCollapseResetsToSource() throws {
        // A huge learning rate and entropy-only updates drive the student onto one class; the
        // collapse check must notice and restore the source weights.
        var s = busySettings(teacher: .none)
        s.method = .entropy
        s.learningRate = 1
        s.pull = 0
        s.collapseWindow = 16
        let model = try Model(path: "\(root)/models/onet.tflite")
        let extracted = try HeadExtraction.extract(from: model, feature: KnownHead.verifier.feature, output: KnownHead.verifier.output)
        let adapter = try HeadAdapter(name: "verifier", extracted: extracted, source: try source("verifier", "onet"), settings: s)
        var options = Interpreter.Options()
        options.preservedTensors = [extracted.featureTensor.index]
        let interpreter = try Interpreter(model: model, options: options)
        let run = try interpreter.partialRun(to: [extracted.featureTensor.index])
        // Alternate face and non-face crops: the frozen head splits them, a collapsed one cannot.
        let crops = try FloatHeadTests.crops(width: 48, height: 48, layout: .rgb, count: 100)
        for i in 0..<400 {
            let crop = crops[(i % 2 == 0 ? i / 2 : 60 + i / 2) % crops.count]
            try interpreter.setInput(0, int8: crop)
            interpreter.invoke(run)
            adapter.process(input: UnsafePointer(interpreter.inputBuffer(0).bindMemory(to: Int8.self).baseAddress!), width: 48, height: 48,
                            channels: 3, featureBytes: interpreter.tensorBytes(extracted.featureTensor.index)!, track: nil)
        }
        XCTAssertGreaterThan(adapter.resets, 0)
    }

    func testDashSchedule() {
        var dash = DashSchedule()
        dash.warmup = 4
        dash.epochLength = 10
        for _ in 0..<4 { XCTAssertFalse(dash.observe(loss: 0.5)) }  // warm-up: nothing selected
        XCTAssertEqual(dash.rhoHat, 0.5, accuracy: 1e-6)
        XCTAssertEqual(dash.t, 1)
        XCTAssertEqual(dash.rho, 1.0001 * 0.5, accuracy: 1e-6)
        XCTAssertTrue(dash.observe(loss: 0.4))
        XCTAssertFalse(dash.observe(loss: 0.6))
        for _ in 0..<20 { _ = dash.observe(loss: 1) }
        XCTAssertEqual(dash.t, 3)
        XCTAssertEqual(dash.rho, 1.0001 * powf(1.27, -2) * 0.5, accuracy: 1e-6)
        for _ in 0..<200 { _ = dash.observe(loss: 1) }
        XCTAssertEqual(dash.rho, 0.05)  // floored at rho_min
        XCTAssertEqual(dash.confidenceThreshold, expf(-0.05), accuracy: 1e-6)
    }

    func testTrackerFollowsOverlappingBoxes() {
        var tracker = FaceTracker()
        tracker.beginFrame()
        let a = tracker.assign(Box(x: 0, y: 0, width: 10, height: 10))
        let b = tracker.assign(Box(x: 50, y: 0, width: 10, height: 10))
        XCTAssertTrue(a.isNew && b.isNew)
        XCTAssertNotEqual(a.slot, b.slot)
        tracker.beginFrame()
        let a2 = tracker.assign(Box(x: 1, y: 1, width: 10, height: 10))
        XCTAssertEqual(a2.id, a.id)
        XCTAssertFalse(a2.isNew)
        for _ in 0..<7 { tracker.beginFrame() }  // b and a are not seen for longer than the gap
        let c = tracker.assign(Box(x: 50, y: 0, width: 10, height: 10))
        XCTAssertTrue(c.isNew)
        XCTAssertNotEqual(c.id, b.id)
    }
}

extension String {
    var withLeadingSlash: String { hasPrefix("/") ? self : "/" + self }
}
