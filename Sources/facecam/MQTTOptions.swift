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
    var qos: Int = 0

    func validate() throws {
        if let url {
            do { _ = try MQTTAddress(parsing: url) } catch { throw ValidationError("--mqtt: \(error)") }
        }
        guard qos == 0 || qos == 1 else { throw ValidationError("--mqtt-qos must be 0 or 1") }
        if url == nil && qos != 0 { throw ValidationError("--mqtt-qos needs --mqtt") }
    }

    /// The sink for `--mqtt`, or nil without it. `note` is where its few status lines go.
    func makeSink(note: @escaping (String) -> Void) throws -> FrameSink? {
        guard let url else { return nil }
        let address: MQTTAddress
        do { address = try MQTTAddress(parsing: url) } catch { throw ValidationError("--mqtt: \(error)") }
        return MQTTSink(address: address, qos: qos == 1 ? .atLeastOnce : .atMostOnce, note: note)
    }
}
