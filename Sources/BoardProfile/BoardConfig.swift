// Board profiles (firmware-config/*.yaml): YAML through Yams, every key checked.
#if canImport(Glibc)
import Glibc
#endif
import Adaptation
import Streaming
import Yams

/// A board profile that cannot be used: one line naming the file, the line and the key.
public struct ConfigError: Error, CustomStringConvertible {
    public let description: String
    public init(description: String) { self.description = description }
}

/// Reads a board profile. Every key is checked: an unknown key or a bad value is an error that
/// names the file, the line and the key.
public enum BoardConfig {
    public static let folder = "firmware-config"

    /// The profile file of a board name, relative to the working directory; an unknown name
    /// is an error that lists the known ones.
    public static func path(forBoard name: String) throws -> String {
        let path = "\(folder)/\(name).yaml"
        guard fileExists(path) else {
            let known = directoryEntries(folder).filter { $0.hasSuffix(".yaml") }.map { String($0.dropLast(5)) }.sorted()
            throw ConfigError(description: "unknown board '\(name)'; profiles in \(folder)/: \(known.joined(separator: ", "))")
        }
        return path
    }

    /// Applies the profile at `path` to `settings`.
    public static func load(_ path: String, into settings: inout RunSettings) throws {
        guard let data = readProfile(path), let text = String(validating: data, as: UTF8.self) else {
            throw ConfigError(description: "\(path): cannot read the file")
        }
        try apply(text: text, bytes: data, name: path, into: &settings)
    }

    /// Applies profile text to `settings`; `name` labels errors (a path, or what the text is).
    public static func apply(_ text: String, name: String, into settings: inout RunSettings) throws {
        try apply(text: text, bytes: Array(text.utf8), name: name, into: &settings)
    }

    private static func apply(text: String, bytes data: [UInt8], name path: String, into settings: inout RunSettings) throws {
        // Bounded before Yams: its parser recurses per nesting level and would overflow the stack.
        if let problem = YAMLBounds.check(data) { throw ConfigError(description: "\(path): \(problem)") }
        let root: Node?
        do { root = try Yams.compose(yaml: text) } catch {
            throw ConfigError(description: "\(path): not valid YAML: \(error)")
        }
        guard let root else { throw ConfigError(description: "\(path): the file is empty") }
        guard let top = root.mapping else { throw ConfigError(description: "\(path):\(line(root)): expected a mapping of sections") }

        func fail(_ node: Node, _ message: String) -> ConfigError {
            ConfigError(description: "\(path):\(line(node)): \(message)")
        }
        func section(_ name: String, _ node: Node, _ keys: [String], _ apply: (String, Node) throws -> Void) throws {
            guard let mapping = node.mapping else { throw fail(node, "'\(name)' must be a mapping with keys \(keys.joined(separator: ", "))") }
            for (keyNode, value) in mapping {
                let key = keyNode.string ?? ""
                guard keys.contains(key) else {
                    throw fail(keyNode, "unknown key '\(name).\(key)' (known: \(keys.joined(separator: ", ")))")
                }
                try apply(key, value)
            }
        }
        func string(_ node: Node, _ key: String) throws -> String {
            guard let s = node.scalar?.string, !s.isEmpty else { throw fail(node, "'\(key)' must be a non-empty string") }
            return s
        }
        func integer(_ node: Node, _ key: String, _ range: ClosedRange<Int>) throws -> Int {
            guard let s = node.scalar?.string, let v = Int(s), range.contains(v) else {
                throw fail(node, "'\(key)' must be an integer in \(range.lowerBound)...\(range.upperBound), got '\(node.scalar?.string ?? "a collection")'")
            }
            return v
        }
        func number(_ node: Node, _ key: String, _ range: ClosedRange<Double>) throws -> Double {
            guard let s = node.scalar?.string, let v = Double(s), range.contains(v) else {
                throw fail(node, "'\(key)' must be a number in \(range.lowerBound)...\(range.upperBound), got '\(node.scalar?.string ?? "a collection")'")
            }
            return v
        }

        for (keyNode, value) in top {
            switch keyNode.string ?? "" {
            case "board", "description":
                _ = try string(value, keyNode.string!)
            case "camera":
                try section("camera", value, ["device", "format", "width", "height", "fps"]) { key, v in
                    switch key {
                    case "device": settings.device = try string(v, "camera.device")
                    case "format":
                        let f = try string(v, "camera.format").lowercased()
                        guard let format = CameraFormat(rawValue: f) else {
                            throw fail(v, "'camera.format' must be one of \(CameraFormat.allCases.map(\.rawValue).joined(separator: ", ")), got '\(f)'")
                        }
                        settings.format = format
                    case "width": settings.width = try integer(v, "camera.width", SettingRange.frameSide)
                    case "height": settings.height = try integer(v, "camera.height", SettingRange.frameSide)
                    default: settings.fps = try number(v, "camera.fps", SettingRange.fps)
                    }
                }
            case "runtime":
                try section("runtime", value, ["threads"]) { _, v in settings.threads = try integer(v, "runtime.threads", SettingRange.threads) }
            case "models":
                try section("models", value, ["directory", "detector", "verifier", "classifier"]) { key, v in
                    let s = try string(v, "models.\(key)")
                    switch key {
                    case "directory": settings.modelsDirectory = s
                    case "detector": settings.detector = s
                    case "verifier": settings.verifier = s
                    default: settings.classifier = s
                    }
                }
            case "thresholds":
                try section("thresholds", value, ["detection", "verification", "max_faces"]) { key, v in
                    switch key {
                    case "detection": settings.detectionThreshold = Float(try number(v, "thresholds.detection", SettingRange.detectionThreshold))
                    case "verification": settings.verificationThreshold = Float(try number(v, "thresholds.verification", 0...1))
                    default: settings.maxFaces = try integer(v, "thresholds.max_faces", 1...64)
                    }
                }
            case "adaptation":
                try section("adaptation", value, ["heads", "method", "learning_rate", "teacher", "alignment", "state", "save_every"]) { key, v in
                    func word<T: RawRepresentable & CaseIterable>(_ type: T.Type) throws -> T where T.RawValue == String {
                        let s = try string(v, "adaptation.\(key)").lowercased()
                        guard let value = T(rawValue: s) else {
                            throw fail(v, "'adaptation.\(key)' must be one of \(T.allCases.map(\.rawValue).joined(separator: ", ")), got '\(s)'")
                        }
                        return value
                    }
                    switch key {
                    case "heads":
                        let s = try string(v, "adaptation.heads").lowercased()
                        if s == "none" { settings.adaptation.target = nil; return }
                        settings.adaptation.target = try word(AdaptTarget.self)
                    case "method": settings.adaptation.settings.method = try word(AdaptationMethod.self)
                    case "teacher": settings.adaptation.settings.teacher = try word(TeacherKind.self)
                    case "alignment":
                        settings.adaptation.settings.alignment = try word(AlignmentMode.self)
                        settings.adaptation.explicit.insert("alignment")
                    case "learning_rate":
                        let lr = try number(v, "adaptation.learning_rate", 0...1)
                        guard lr > 0 else { throw fail(v, "'adaptation.learning_rate' must be above 0") }
                        settings.adaptation.settings.learningRate = Float(lr)
                        settings.adaptation.explicit.insert("learning_rate")
                    case "state": settings.adaptation.statePath = try string(v, "adaptation.state")
                    default:
                        let seconds = try number(v, "adaptation.save_every", 0...86400)
                        guard seconds > 0 else { throw fail(v, "'adaptation.save_every' must be above 0") }
                        settings.adaptation.saveEvery = seconds
                    }
                }
            case "reconnect":
                try section("reconnect", value, ["attempts"]) { _, v in settings.reconnectAttempts = try integer(v, "reconnect.attempts", SettingRange.reconnectAttempts) }
            default:
                throw fail(keyNode, "unknown section '\(keyNode.string ?? "?")' (known: board, description, camera, runtime, models, thresholds, adaptation, reconnect)")
            }
        }
    }

    private static func line(_ node: Node) -> Int { (node.mark?.line ?? 0) }

    private static func fileExists(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0
    }

    private static func directoryEntries(_ path: String) -> [String] {
        guard let dir = opendir(path) else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// The file's bytes, or nil when it cannot be read.
    private static func readProfile(_ path: String) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) != S_IFDIR else { return nil }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 14)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 { if errno == EINTR { continue }; return nil }
            if n == 0 { break }
            out.append(contentsOf: chunk[0..<n])
        }
        return out
    }
}
