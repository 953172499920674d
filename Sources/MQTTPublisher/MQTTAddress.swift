// The `--mqtt` argument: mqtt://HOST[:PORT]/TOPIC. Checked completely before the run starts,
// so a typo is a usage error and not a publisher that silently never connects.

/// Where frames are published: a broker and the topic of the frame messages. The retained
/// online/offline status goes to `statusTopic` (TOPIC/status).
public struct MQTTAddress: Equatable, Sendable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var topic: String

    public static let defaultPort = 1883
    public var statusTopic: String { topic + "/status" }
    /// The address as it would be written on the command line (IPv6 hosts in brackets).
    public var description: String {
        let hostPart = host.contains(":") ? "[\(host)]" : host
        return "mqtt://\(hostPart):\(port)/\(topic)"
    }

    public init(host: String, port: Int = MQTTAddress.defaultPort, topic: String) {
        self.host = host; self.port = port; self.topic = topic
    }

    /// Parses `mqtt://HOST[:PORT]/TOPIC`. HOST is a name, an IPv4 address or an IPv6 address
    /// in brackets; PORT is 1...65535 (default 1883); TOPIC is taken literally (no percent
    /// decoding) and must be a topic one can publish to: no `+`/`#` wildcards, not `$...`.
    public init(parsing text: String) throws(MQTTAddressError) {
        let scheme = "mqtt://"
        guard text.lowercased().hasPrefix(scheme) else {
            if text.lowercased().hasPrefix("mqtts://") { throw MQTTAddressError("TLS (mqtts://) is not supported; use mqtt://HOST[:PORT]/TOPIC") }
            throw MQTTAddressError("must look like mqtt://HOST[:PORT]/TOPIC (got \(text))")
        }
        let rest = text.dropFirst(scheme.count)
        guard let slash = rest.firstIndex(of: "/") else { throw MQTTAddressError("needs a topic: mqtt://HOST[:PORT]/TOPIC (got \(text))") }
        let authority = rest[..<slash]
        let topic = String(rest[rest.index(after: slash)...])

        guard !authority.contains("@") else { throw MQTTAddressError("user names and passwords are not supported (got \(text))") }
        var hostPart = Substring(authority)
        var portPart: Substring?
        if authority.hasPrefix("[") {  // [IPv6]:port
            guard let close = authority.firstIndex(of: "]") else { throw MQTTAddressError("unclosed [ in the host (got \(text))") }
            hostPart = authority[authority.index(after: authority.startIndex)..<close]
            let after = authority[authority.index(after: close)...]
            if !after.isEmpty {
                guard after.first == ":" else { throw MQTTAddressError("unexpected text after ] in the host (got \(text))") }
                portPart = after.dropFirst()
            }
            guard !hostPart.isEmpty, hostPart.allSatisfy({ $0.isHexDigit || $0 == ":" || $0 == "." }) else {
                throw MQTTAddressError("bad IPv6 address [\(hostPart)] (got \(text))")
            }
        } else {
            if let colon = authority.firstIndex(of: ":") {
                hostPart = authority[..<colon]
                portPart = authority[authority.index(after: colon)...]
            }
            if hostPart.contains(":") || portPart?.contains(":") == true {
                throw MQTTAddressError("IPv6 addresses go in brackets: mqtt://[::1]:1883/TOPIC (got \(text))")
            }
            guard !hostPart.isEmpty else { throw MQTTAddressError("needs a host: mqtt://HOST[:PORT]/TOPIC (got \(text))") }
            guard hostPart.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "." || $0 == "_") }) else {
                throw MQTTAddressError("bad host name \"\(hostPart)\" (got \(text))")
            }
        }

        var port = MQTTAddress.defaultPort
        if let portPart {
            guard !portPart.isEmpty, portPart.count <= 5, portPart.allSatisfy({ $0.isASCII && $0.isNumber }),
                  let value = Int(portPart), (1...65535).contains(value) else {
                throw MQTTAddressError("bad port \"\(portPart)\": must be 1...65535 (got \(text))")
            }
            port = value
        }

        try MQTTAddress.check(topic: topic, in: text)
        self.init(host: String(hostPart), port: port, topic: topic)
    }

    private static func check(topic: String, in text: String) throws(MQTTAddressError) {
        guard !topic.isEmpty else { throw MQTTAddressError("needs a topic: mqtt://HOST[:PORT]/TOPIC (got \(text))") }
        if topic.contains("+") || topic.contains("#") {
            throw MQTTAddressError("the topic must not contain the wildcards + or # (got \(text))")
        }
        if topic.hasPrefix("$") { throw MQTTAddressError("topics starting with $ belong to the broker (got \(text))") }
        if topic.hasSuffix("/") { throw MQTTAddressError("the topic must not end with / (got \(text))") }
        if topic.contains("?") { throw MQTTAddressError("query strings are not supported (got \(text))") }
        if topic.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) {
            throw MQTTAddressError("the topic must not contain control characters (got \(text))")
        }
        // MQTT strings are at most 65,535 bytes; the status topic adds "/status".
        if topic.utf8.count + "/status".utf8.count > 65535 { throw MQTTAddressError("the topic is too long") }
    }
}

public struct MQTTAddressError: Error, Equatable, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
