import XCTest
@testable import Int8Runtime

/// facecam's outputs must equal LiteRT's built-in kernels byte for byte. The golden vectors are
/// written by tools/compare-litert (single-op models) and tools/make-models (shipped models).
final class GoldenTests: XCTestCase {
    func check(_ group: String, minimumCases: Int, kernels: KernelSet = .best) throws {
        let cases = try GoldenCase.all(in: group)
        XCTAssertGreaterThanOrEqual(cases.count, minimumCases, "too few golden cases in \(group)")
        var identical = 0, total = 0
        var failures: [String] = []
        for golden in cases {
            do {
                let model = try Model(path: golden.modelPath)
                var options = Interpreter.Options()
                options.kernels = kernels
                let interpreter = try Interpreter(model: model, options: options)
                XCTAssertEqual(golden.inputs.count, interpreter.inputCount, golden.name)
                XCTAssertEqual(golden.outputs.count, interpreter.outputCount, golden.name)
                for (i, input) in golden.inputs.enumerated() { try interpreter.setInput(i, input) }
                interpreter.invoke()
                for (i, expected) in golden.outputs.enumerated() where i < interpreter.outputCount {
                    total += 1
                    let actual = Array(interpreter.outputBuffer(i))
                    if actual == expected {
                        identical += 1
                    } else {
                        let first = (0..<min(actual.count, expected.count)).first { actual[$0] != expected[$0] } ?? min(actual.count, expected.count)
                        failures.append("\(golden.name) (\(kernels)) output \(i): first difference at byte \(first) of \(expected.count)")
                    }
                }
            } catch {
                total += max(golden.outputs.count, 1)
                failures.append("\(golden.name) (\(kernels)): \(error)")
            }
        }
        for failure in failures.prefix(40) { XCTFail(failure) }
        print("golden \(group) (\(kernels.resolved)): identical \(identical)/\(total)")
    }

    // With the best kernel set for this CPU (AVX2 here) ...
    func testSingleOpModelsMatchLiteRT() throws {
        try check("ops", minimumCases: 50)
    }

    func testShippedModelsMatchLiteRT() throws {
        try check("models", minimumCases: 3)
    }

    // ... and with every kernel set that runs here, the portable reference (which defines the
    // semantics) included.
    func testEveryKernelSetMatchesLiteRT() throws {
        XCTAssertTrue(KernelSet.available.contains(.reference))
        for set in KernelSet.available {
            try check("ops", minimumCases: 50, kernels: set)
            try check("models", minimumCases: 3, kernels: set)
        }
    }
}
