// `facecam adapt-state FILE`: what a persisted adaptation state holds, or why it is unusable.
#if canImport(Glibc)
import Glibc
#endif
import Adaptation
import Streaming

public struct StateReport {
    public let path: String
    /// The file's bytes, when it could be read.
    public let bytes: [UInt8]?
    public let state: AdaptationState?
    /// Why the file is unusable (names the file); nil when valid.
    public let error: String?
    /// Name and SHA-256 of the shipped models found in the models folder.
    public let shipped: [(name: String, hash: [UInt8])]

    /// Reads and checks the file; `models` is the folder whose shipped models name each head's model.
    public init(path: String, models: String) {
        self.path = path
        var bytes: [UInt8]?
        var state: AdaptationState?
        var failure: String?
        do {
            let read = try AdaptationState.readBytes(path: path)
            bytes = read
            state = try AdaptationState(decoding: read)
        } catch {
            // Decoding errors do not know the path; name it so the line stands alone.
            if let e = error as? StateFileError, case .io = e { failure = e.description } else { failure = "\(path): \(error)" }
        }
        (self.bytes, self.state, self.error) = (bytes, state, failure)
        shipped = failure != nil ? [] : ["onet.tflite", "expression.tflite", "blazeface.tflite"].compactMap { name in
            let file = models + "/" + name
            guard access(file, F_OK) == 0, let hash = try? SHA256.hashFile(path: file) else { return nil }
            return (name, hash)
        }
    }

    /// The shipped model `head` was built from.
    public func model(of head: HeadState) -> String? { shipped.first { head.belongs(toModel: $0.hash) }?.name }

    /// The version field of a damaged file, when its magic is right (null in JSON otherwise).
    public var versionField: UInt32? {
        guard let bytes, bytes.count >= 12, Array(bytes[0..<8]) == AdaptationState.magic else { return nil }
        return bytes[8..<12].reversed().reduce(0) { $0 << 8 | UInt32($1) }
    }

    public var json: JSON {
        guard let state else {
            return .object([
                ("valid", .bool(false)), ("error", .string(error ?? "")), ("version", versionField.map { .integer(Int($0)) } ?? .null),
                ("bytes", bytes.map { .integer($0.count) } ?? .null), ("heads", .array([])),
            ])
        }
        let heads: [JSON] = state.heads.map { head in
            .object([
                ("name", .string(head.name)),
                ("model_sha256", .string(SHA256.hex(head.modelSHA256))),
                ("model", model(of: head).map { .string($0) } ?? .null),
                ("counters", .object(head.counters.map { ($0.name, .integer(Int($0.value))) })),
                ("arrays", .object(head.arrays.map { ($0.name, .integer($0.values.count)) })),
            ])
        }
        return .object([
            ("valid", .bool(true)), ("version", .integer(Int(AdaptationState.formatVersion))),
            ("bytes", .integer(bytes?.count ?? 0)), ("heads", .array(heads)),
        ])
    }

    public var lines: [String] {
        guard let state else { return ["state      \(path)", "valid      no: \(error ?? "")"] }
        let size = bytes?.count ?? 0
        var out = ["state      \(path)",
                   "valid      yes, format version \(AdaptationState.formatVersion), \(size) bytes (\(formatBytes(size))), \(state.heads.count) head(s)"]
        for head in state.heads {
            out.append("\nhead       \(head.name)")
            out.append("model      \(SHA256.hex(head.modelSHA256)) (\(model(of: head) ?? "no shipped model"))")
            // updates and resets first: they are what users look for.
            let rank = { (name: String) in name == "updates" ? 0 : name == "resets" ? 1 : 2 }
            let order = head.counters.sorted { rank($0.name) < rank($1.name) }
            out.append("counters   " + (order.isEmpty ? "none" : order.map { "\($0.name)=\($0.value)" }.joined(separator: ", ")))
            out.append("arrays     " + (head.arrays.isEmpty ? "none" : head.arrays.map { "\($0.name) [\($0.values.count)]" }.joined(separator: ", ")))
        }
        return out
    }
}
