import Foundation
import XCTest
@testable import Int8Runtime

/// SHAPE, STRIDED_SLICE and PACK are folded while planning (their LiteRT results are checked by
/// the golden single-op cases); what cannot be folded must be refused with a clear error.
final class ShapeOpsTests: XCTestCase {
    /// Golden/refused/<case>/model.tflite must fail to prepare with a ModelError containing
    /// expect-error.txt (written by tools/compare-litert --update from tools/oracle/cases.py).
    func testRefusedModelsFailWithClearErrors() throws {
        let dir = Paths.golden.appendingPathComponent("refused")
        let names = try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted()
        XCTAssertGreaterThanOrEqual(names.count, 6)
        for name in names {
            let caseDir = dir.appendingPathComponent(name)
            let expected = try String(contentsOf: caseDir.appendingPathComponent("expect-error.txt"), encoding: .utf8)
                .trimmingCharacters(in: .whitespacesAndNewlines)
            do {
                let model = try Model(path: caseDir.appendingPathComponent("model.tflite").path)
                _ = try Interpreter(model: model)
                XCTFail("\(name): was accepted; expected an error containing '\(expected)'")
            } catch let error as ModelError {
                XCTAssertTrue(error.description.contains(expected), "\(name): error '\(error)' lacks '\(expected)'")
                XCTAssertNotEqual(error.kind, .malformed, "\(name): \(error) should not call the model malformed")
            }
            // `inspect` reports the same problem without stopping.
            let model = try Model(path: caseDir.appendingPathComponent("model.tflite").path)
            XCTAssertTrue(try ModelAnalysis.operators(of: model).contains { $0.problem?.description.contains(expected) ?? false }, name)
        }
    }

    /// The folded values are written into the tensor on every invoke, so a graph output that is
    /// shape arithmetic reads right even after its memory was handed back.
    func testFoldedOutputsSurviveRepeatedInvokes() throws {
        for name in ["shape_00", "strided_slice_02", "pack_02"] {
            let golden = try XCTUnwrap(try GoldenCase.all(in: "ops").first { $0.name == "ops/\(name)" })
            let interpreter = try Interpreter(model: try Model(path: golden.modelPath))
            for (i, input) in golden.inputs.enumerated() { try interpreter.setInput(i, input) }
            for _ in 0..<2 {
                interpreter.invoke()
                XCTAssertEqual(Array(interpreter.outputBuffer(0)), golden.outputs[0], name)
                UnsafeMutableRawBufferPointer(mutating: interpreter.outputBuffer(0)).initializeMemory(as: UInt8.self, repeating: 0xAB)
            }
        }
    }
}
