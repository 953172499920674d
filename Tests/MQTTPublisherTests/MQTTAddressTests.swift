import XCTest
@testable import MQTTPublisher

final class MQTTAddressTests: XCTestCase {
    func testHostPortAndTopic() throws {
        XCTAssertEqual(try MQTTAddress(parsing: "mqtt://broker.local/facecam"), MQTTAddress(host: "broker.local", port: 1883, topic: "facecam"))
        XCTAssertEqual(try MQTTAddress(parsing: "mqtt://127.0.0.1:18830/facecam/kitchen"),
                       MQTTAddress(host: "127.0.0.1", port: 18830, topic: "facecam/kitchen"))
        XCTAssertEqual(try MQTTAddress(parsing: "MQTT://h:1/a b/ü"), MQTTAddress(host: "h", port: 1, topic: "a b/ü"))
        XCTAssertEqual(try MQTTAddress(parsing: "mqtt://h:65535/t").port, 65535)
        XCTAssertEqual(try MQTTAddress(parsing: "mqtt://[::1]:1884/t"), MQTTAddress(host: "::1", port: 1884, topic: "t"))
        XCTAssertEqual(try MQTTAddress(parsing: "mqtt://[fe80::1]/t"), MQTTAddress(host: "fe80::1", port: 1883, topic: "t"))
    }

    func testStatusTopicAndDescription() throws {
        let address = try MQTTAddress(parsing: "mqtt://h/facecam/test")
        XCTAssertEqual(address.statusTopic, "facecam/test/status")
        XCTAssertEqual(address.description, "mqtt://h:1883/facecam/test")
        XCTAssertEqual(try MQTTAddress(parsing: "mqtt://[::1]/t").description, "mqtt://[::1]:1883/t")
    }

    func testBadAddressesNameTheProblem() {
        let cases: [(String, String)] = [
            ("http://h/t", "must look like mqtt://"),
            ("h/t", "must look like mqtt://"),
            ("mqtts://h/t", "TLS"),
            ("mqtt://h", "needs a topic"),
            ("mqtt://h/", "needs a topic"),
            ("mqtt://h:1883", "needs a topic"),
            ("mqtt:///t", "needs a host"),
            ("mqtt://:1883/t", "needs a host"),
            ("mqtt://h/a/+/b", "wildcards"),
            ("mqtt://h/a/#", "wildcards"),
            ("mqtt://h/#", "wildcards"),
            ("mqtt://h/$SYS/x", "belong to the broker"),
            ("mqtt://h/a/", "must not end with /"),
            ("mqtt://h/a?qos=1", "query strings"),
            ("mqtt://h/a\u{1}b", "control characters"),
            ("mqtt://h:0/t", "bad port"),
            ("mqtt://h:65536/t", "bad port"),
            ("mqtt://h:-1/t", "bad port"),
            ("mqtt://h:12ab/t", "bad port"),
            ("mqtt://h:/t", "bad port"),
            ("mqtt://h:0000001883/t", "bad port"),
            ("mqtt://user:pw@h/t", "passwords"),
            ("mqtt://::1/t", "brackets"),
            ("mqtt://[::1/t", "unclosed"),
            ("mqtt://[::1]x/t", "after ]"),
            ("mqtt://[]/t", "bad IPv6"),
            ("mqtt://ho st/t", "bad host name"),
        ]
        for (text, expected) in cases {
            do {
                let address = try MQTTAddress(parsing: text)
                XCTFail("\(text) parsed as \(address)")
            } catch {
                XCTAssertTrue(error.description.contains(expected), "\(text): \(error.description)")
            }
        }
    }

    func testOverlongTopicIsRefused() {
        let topic = String(repeating: "a", count: 65535 - 7 + 1)
        XCTAssertThrowsError(try MQTTAddress(parsing: "mqtt://h/\(topic)"))
        XCTAssertNoThrow(try MQTTAddress(parsing: "mqtt://h/\(topic.dropLast())"))
    }
}
