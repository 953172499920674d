@testable import LiveView
import Streaming
import XCTest

final class MetricsTests: XCTestCase {
    private func text(_ exporter: MetricsExporter) -> String { String(decoding: exporter.exposition(), as: UTF8.self) }

    /// The MQTT publisher's counts appear once a publisher is attached, as counters that follow
    /// its counts; without one there are no MQTT series at all.
    func testPublisherCountsBecomeCounters() {
        let telemetry = Telemetry()
        let exporter = MetricsExporter(feed: LiveFeed(), telemetry: telemetry, info: BuildInfo(kernelSet: "reference", modelHashes: [], source: "t"))
        XCTAssertFalse(text(exporter).contains("facecam_mqtt"))
        let counts = Counts()
        telemetry.attachPublisher { counts.value }
        counts.value = PublisherTelemetry(published: 5, dropped: 2, lost: 1, reconnects: 0)
        var t = text(exporter)
        XCTAssertTrue(t.contains("facecam_mqtt_published_total 5"), t)
        XCTAssertTrue(t.contains("facecam_mqtt_dropped_total 2"), t)
        XCTAssertTrue(t.contains("facecam_mqtt_lost_total 1"), t)
        XCTAssertTrue(t.contains("facecam_mqtt_reconnects_total 0"), t)
        counts.value = PublisherTelemetry(published: 9, dropped: 2, lost: 1, reconnects: 3)
        t = text(exporter)
        XCTAssertTrue(t.contains("facecam_mqtt_published_total 9"), t)
        XCTAssertTrue(t.contains("facecam_mqtt_reconnects_total 3"), t)
    }
}

private final class Counts: @unchecked Sendable {
    var value = PublisherTelemetry()
}
