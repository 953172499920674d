import Streaming
import XCTest

final class JSONParserTests: XCTestCase {
    private func parse(_ text: String) throws -> JSON { try JSON(parsing: Array(text.utf8)) }

    func testValuesRoundTripThroughTheWriterInOrder() throws {
        let text = #"{"b":[1,-2.5,true,false,null],"a":{"s":"x\"y\\z\n\u00e9\ud83d\ude00"},"e":1e3}"#
        let value = try parse(text)
        XCTAssertEqual(value.text, #"{"b":[1,-2.5,true,false,null],"a":{"s":"x\"y\\z\néπ"},"e":1000}"#.replacingOccurrences(of: "π", with: "\u{1F600}"))
        XCTAssertEqual(value["b"]?.arrayValue?.count, 5)
        XCTAssertEqual(value["a"]?["s"]?.stringValue, "x\"y\\z\n\u{e9}\u{1F600}")
        XCTAssertEqual(value["b"]?.arrayValue?[0].intValue, 1)
        XCTAssertNil(value["b"]?.arrayValue?[1].intValue)
        XCTAssertEqual(value["e"]?.intValue, 1000)
        XCTAssertNil(value["missing"])
        XCTAssertEqual(try parse("  [ ]  ").arrayValue?.count, 0)
    }

    func testMalformedInputIsAnErrorWithItsOffset() {
        for bad in ["", "{", "[1,]", "{\"a\" 1}", "01", "1.", "\"abc", "tru", "[1] x", "\"\u{01}\"", "\"\\ud800\"", "{1:2}", "-", "1e"] {
            XCTAssertThrowsError(try parse(bad), bad) { XCTAssertTrue($0 is JSONParseError, bad) }
        }
        XCTAssertThrowsError(try parse("[1,]")) { XCTAssertEqual(($0 as! JSONParseError).offset, 3) }
    }

    func testDeepNestingIsRefusedNotACrash() {
        XCTAssertNoThrow(try parse(String(repeating: "[", count: 63) + String(repeating: "]", count: 63)))
        XCTAssertThrowsError(try parse(String(repeating: "[", count: 100_000)))
    }
}
