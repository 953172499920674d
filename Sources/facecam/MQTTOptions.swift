import ArgumentParser
import MQTTPublisher
import Streaming

/// `facecam run --mqtt mqtt://HOST[:PORT]/TOPIC [--mqtt-qos 0|1]` (README "MQTT").
struct MQTTOptions: ParsableArguments {
    @Option(name: .customLong("mqtt"), help: ArgumentHelp(
        "Publish each frame with faces (its JSON Lines object) to an MQTT broker; TOPIC/status is retained online/offline.",
        valueName: "mqtt://HOST[:PORT]/TOPIC"))
    var url: String?

    @Option(name: .customLong("mqtt-qos"), help: "MQTT quality of service of the frame messages: 0 (at most once) or 1 (at least once).")
    var qos: MQTTQoS = .atMostOnce

    func validate() throws {
        if let url {
            do { _ = try MQTTAddress(parsing: url) } catch { throw ValidationError("--mqtt: \(error)") }
        }
        if url == nil && qos != .atMostOnce { throw ValidationError("--mqtt-qos needs --mqtt") }
    }

    /// The sink for `--mqtt`, or nil without it. `note` is where its few status lines go.
    func makeSink(telemetry: Telemetry, note: @escaping (String) -> Void) throws -> FrameSink? {
        guard let url else { return nil }
        let address: MQTTAddress
        do { address = try MQTTAddress(parsing: url) } catch { throw ValidationError("--mqtt: \(error)") }
        return MQTTSink(address: address, qos: qos, telemetry: telemetry, note: note)
    }
}

extension MQTTQoS: ExpressibleByArgument {
    public init?(argument: String) {
        guard let level = Int32(argument), let qos = MQTTQoS(rawValue: level) else { return nil }
        self = qos
    }
    public static var allValueStrings: [String] { ["0", "1"] }
    public var defaultValueDescription: String { String(rawValue) }
}
