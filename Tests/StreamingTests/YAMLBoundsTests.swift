import XCTest
import Streaming

final class YAMLBoundsTests: XCTestCase {
    private func check(_ text: String) -> String? { YAMLBounds.check(Array(text.utf8)) }

    func testShippedProfilesAreWithinBounds() throws {
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../firmware-config")
        let names = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".yaml") }
        XCTAssertFalse(names.isEmpty)
        for name in names {
            let bytes = try [UInt8](Data(contentsOf: folder.appendingPathComponent(name)))
            XCTAssertNil(YAMLBounds.check(bytes), name)
        }
    }

    func testDeepFlowNestingIsRejectedWithTheLine() {
        let deep = "board: x\na: " + String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000) + "\n"
        let problem = check(deep)
        XCTAssertNotNil(problem)
        XCTAssertTrue(problem!.contains("line 2"), problem!)
        XCTAssertNil(check("a: " + String(repeating: "[", count: 20) + String(repeating: "]", count: 20) + "\n"))
    }

    func testBracketsInQuotesAndCommentsDoNotCount() {
        let text = "a: '" + String(repeating: "[", count: 100) + "'\nb: \"{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{\"\n# [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\n"
        XCTAssertNil(check(text))
    }

    func testDeepBlockNestingIsRejected() {
        var indented = ""
        for level in 0..<40 { indented += String(repeating: " ", count: level) + "k\(level):\n" }
        XCTAssertNotNil(check(indented))
        XCTAssertNotNil(check("a:\n  " + String(repeating: "- ", count: 100) + "x\n"))
        XCTAssertNil(check("a:\n  b:\n    - 1\n    - 2\n"))
    }

    func testOversizedFileIsRejected() {
        let big = String(repeating: "# padding\n", count: YAMLBounds.maximumBytes / 10 + 1)
        XCTAssertTrue(check(big)?.contains("bytes") ?? false)
    }
}
