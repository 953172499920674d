// `--mqtt`: every processed frame with faces, as its JSON Lines object, to an MQTT topic.
// On the loop thread the sink only builds the message text and pushes it into a bounded
// drop-oldest queue; the publisher thread (MQTTConnection) sends it. A broker that is down,
// slow or restarting costs queued messages (counted), never frames.
import Streaming

public final class MQTTSink: FrameSink {
    public let address: MQTTAddress
    let queue: DropOldestQueue<String>
    private let connection: MQTTConnection
    private let note: (String) -> Void

    /// `capacity`: messages kept while the broker is away (at 25 fps, 256 is ~10 s of frames
    /// with faces); the oldest go first. `note` gets connection events and the final counts
    /// (from any thread, a few lines per connection change, never per frame). With
    /// `telemetry`, its snapshots carry this sink's counts (`TelemetrySnapshot.mqtt`: /metrics).
    public init(address: MQTTAddress, qos: MQTTQoS = .atMostOnce, capacity: Int = 256, telemetry: Telemetry? = nil,
                note: @escaping (String) -> Void) {
        self.address = address
        self.note = note
        queue = DropOldestQueue<String>(capacity: capacity)
        connection = MQTTConnection(address: address, qos: qos, queue: queue, note: note)
        let reader = CountsReader(connection)
        telemetry?.attachPublisher { reader.read() }
    }

    public func start(_ info: StreamInfo) throws {
        try connection.start()
    }

    public func consume(_ frame: ProcessedFrame, telemetry: TelemetrySnapshot) -> SinkAction {
        if !frame.faces.isEmpty { enqueue(frame.json.text) }
        return .proceed
    }

    /// The loop thread's whole share of the work: an O(1) push under a lock held only for it.
    func enqueue(_ message: String) {
        queue.push(message)
    }

    public func finish(_ telemetry: TelemetrySnapshot) throws {
        connection.stop()
        let c = counts
        var line = "facecam: mqtt: \(c.sent) message(s) sent to \(address)"
        line += ", \(c.dropped) dropped (queue full), \(c.lost) lost with a broken connection"
        if c.unsent > 0 { line += ", \(c.unsent) unsent at exit (no connection)" }
        if c.reconnects > 0 { line += ", \(c.reconnects) reconnect(s)" }
        note(line)
    }

    /// Counts so far; any thread.
    public var counts: MQTTCounts { connection.snapshot }
}

/// The connection's counts for readers on other threads: `MQTTConnection.snapshot` takes the
/// connection's and the queue's locks (each held for a copy), so any thread may call it.
private final class CountsReader: @unchecked Sendable {
    private let connection: MQTTConnection
    init(_ connection: MQTTConnection) { self.connection = connection }
    func read() -> PublisherTelemetry {
        let c = connection.snapshot
        return PublisherTelemetry(published: c.sent, dropped: c.dropped, lost: c.lost, reconnects: c.reconnects)
    }
}
