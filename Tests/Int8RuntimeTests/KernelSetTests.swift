import XCTest
@testable import Int8Runtime

/// Kernel sets are per interpreter: interpreters with different sets live side by side, each
/// operator runs the micro-kernel that prepared it, and a set that cannot run here is an error.
final class KernelSetTests: XCTestCase {
    /// A reference and a SIMD (best) interpreter of the same model, created before either runs
    /// and then run interleaved on several inputs, give identical outputs.
    func testReferenceAndBestInterpretersSideBySide() throws {
        XCTAssertEqual(Paths.shippedModels.count, 3, "blazeface, expression, onet")
        for url in Paths.shippedModels {
            let name = url.lastPathComponent
            let model = try Model(path: url.path)
            var options = Interpreter.Options()
            options.kernels = .reference
            let reference = try Interpreter(model: model, options: options)
            options.kernels = .best
            let best = try Interpreter(model: model, options: options)
            XCTAssertEqual(reference.kernelSet, .reference)
            XCTAssertEqual(best.kernelSet, KernelSet.bestAvailable)
            XCTAssertTrue(reference.kernelNames.allSatisfy { !$0.contains("avx2") && !$0.contains("neon") }, name)
            if best.kernelSet != .reference {
                XCTAssertTrue(best.kernelNames.contains { $0.hasSuffix("-\(best.kernelSet.rawValue.replacingOccurrences(of: "-", with: ""))") },
                              "\(name): no \(best.kernelSet) micro-kernel selected: \(best.kernelNames)")
            }
            var rng = SplitMix64(seed: 29)
            for round in 0..<6 {
                let input = (0..<best.inputTensor(0).byteCount).map { _ in UInt8.random(in: 0...255, using: &rng) }
                // Alternate which one runs first, so neither sees only its own preparation.
                let order = round % 2 == 0 ? [reference, best] : [best, reference]
                for interpreter in order {
                    try interpreter.setInput(0, input)
                    interpreter.invoke()
                }
                for o in 0..<best.outputCount {
                    XCTAssertEqual(Array(reference.outputBuffer(o)), Array(best.outputBuffer(o)), "\(name) output \(o) round \(round)")
                }
            }
        }
    }

    /// Asking for a set this machine cannot run throws, naming the set and what the CPU has.
    func testUnavailableSetThrows() throws {
        let available = KernelSet.available
        XCTAssertTrue(available.contains(.reference))
        let missing = KernelSet.allCases.filter { $0 != .best && !available.contains($0) }
        // No build contains both the x86 and the Arm sets, so something is always missing.
        XCTAssertFalse(missing.isEmpty)
        let model = try Model(path: Paths.shippedModels[0].path)
        for set in missing {
            var options = Interpreter.Options()
            options.kernels = set
            XCTAssertThrowsError(try Interpreter(model: model, options: options)) { error in
                guard let error = error as? KernelSetUnavailable else { return XCTFail("\(set): \(error)") }
                XCTAssertEqual(error.set, set)
                let text = error.description
                XCTAssertTrue(text.contains("'\(set.rawValue)'"), text)
                XCTAssertTrue(text.contains(KernelSet.cpuDescription), text)
                XCTAssertTrue(text.contains("reference"), text)
            }
            XCTAssertThrowsError(try set.requireAvailable())
            XCTAssertThrowsError(try ModelAnalysis.operators(of: model, kernels: set))
        }
    }

    /// Every operator reports the micro-kernel it runs; a depthwise convolution with a channel
    /// multiplier the SIMD kernels do not cover runs (and says) the reference one.
    func testKernelNamesAreReported() throws {
        let grammar = #/^(qs8|f32)-[a-z0-9-]+/([a-z0-9x-]+-(avx2|neon|neondot)|ref)$|^copy$/#
        for url in Paths.shippedModels {
            let model = try Model(path: url.path)
            for set in KernelSet.available {
                var options = Interpreter.Options()
                options.kernels = set
                let interpreter = try Interpreter(model: model, options: options)
                XCTAssertEqual(interpreter.kernelNames.count, model.operators.count)
                let analysed = try ModelAnalysis.operators(of: model, kernels: set).map(\.kernel)
                XCTAssertEqual(analysed, interpreter.kernelNames.map { Optional($0) }, "inspect and the interpreter agree")
                for name in interpreter.kernelNames {
                    XCTAssertNotNil(name.wholeMatch(of: grammar), "\(name) does not follow the naming grammar")
                    if set == .reference { XCTAssertTrue(name.hasSuffix("/ref") || name == "copy", name) }
                }
            }
        }
        // depthwise_conv_2d_00: [1, 3, 9, 8] -> [1, 3, 9, 16], channel multiplier 2.
        let multiplier2 = try Model(path: Paths.golden.appendingPathComponent("ops/depthwise_conv_2d_00/model.tflite").path)
        let multiplier1 = try Model(path: Paths.golden.appendingPathComponent("ops/depthwise_conv_2d_01/model.tflite").path)
        for set in KernelSet.available {
            var options = Interpreter.Options()
            options.kernels = set
            XCTAssertEqual(try Interpreter(model: multiplier2, options: options).kernelNames, ["qs8-dwconv/ref"], "\(set)")
            let names = try Interpreter(model: multiplier1, options: options).kernelNames
            if set == .reference {
                XCTAssertEqual(names, ["qs8-dwconv/ref"])
            } else {
                XCTAssertEqual(names.count, 1)
                XCTAssertTrue(names[0].hasPrefix("qs8-dwconv/") && names[0] != "qs8-dwconv/ref", "\(set): \(names)")
            }
        }
    }

    /// A profiled run computes the same outputs as a plain one.
    func testProfiledRunMatchesPlainRun() throws {
        for url in Paths.shippedModels {
            let model = try Model(path: url.path)
            let plain = try Interpreter(model: model)
            let profiled = try Interpreter(model: model)
            var rng = SplitMix64(seed: 5)
            let input = (0..<plain.inputTensor(0).byteCount).map { _ in UInt8.random(in: 0...255, using: &rng) }
            try plain.setInput(0, input)
            try profiled.setInput(0, input)
            plain.invoke()
            var times = [UInt64](repeating: 0, count: model.operators.count)
            times.withUnsafeMutableBufferPointer { profiled.invoke(profilingInto: $0) }
            for o in 0..<plain.outputCount {
                XCTAssertEqual(Array(plain.outputBuffer(o)), Array(profiled.outputBuffer(o)), url.lastPathComponent)
            }
        }
    }
}
