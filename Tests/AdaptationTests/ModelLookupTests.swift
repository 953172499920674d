import Int8Runtime
import XCTest

/// Feature tensors are found by name, never by index.
final class ModelLookupTests: XCTestCase {
    func testTensorNamedMatchesWholeAndFusedParts() throws {
        let model = try Model(path: modelPath("onet"))
        XCTAssertEqual(model.tensor(named: "face_prob")?.index, model.outputs[0])
        // A fused name "a;b;c" matches any one of its parts.
        let flatten = try XCTUnwrap(model.tensor(named: "functional_1_1/flatten_1/Reshape"))
        XCTAssertEqual(flatten.shape, [1, 1152])
        XCTAssertNil(model.tensor(named: "no such tensor"))
        XCTAssertEqual(model.consumers(of: flatten.index).map { model.operators[$0].opcode }, [.fullyConnected])
    }
}

/// Path of a shipped model, from the source tree.
func modelPath(_ name: String, file: StaticString = #filePath) -> String {
    var parts = "\(file)".split(separator: "/", omittingEmptySubsequences: false)
    parts.removeLast(3)  // Tests/AdaptationTests/<file>
    return parts.joined(separator: "/") + "/models/\(name).tflite"
}
