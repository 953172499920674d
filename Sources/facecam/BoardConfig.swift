import Adaptation
import Foundation
import Imaging
import Streaming
import Yams

/// Settings for `facecam run`, from defaults, a board profile (firmware-config/*.yaml) and flags,
/// in that order of precedence (flags win).
struct RunSettings {
    var device: String?
    var format: CameraFormat?
    var width: Int?
    var height: Int?
    var fps: Double?
    var threads = ModelDefaults.threads
    var modelsDirectory = ModelDefaults.folder
    var detector = "blazeface.tflite"
    var verifier = "onet.tflite"
    var classifier = "expression.tflite"
    var detectionThreshold = ModelDefaults.detectionThreshold
    var verificationThreshold: Float = 0.5
    var maxFaces = 8
    var reconnectAttempts = 5
    var adaptation = AdaptationChoice()
}

struct ConfigError: Error, CustomStringConvertible {
    let description: String
}

/// Reads a board profile. Every key is checked: an unknown key or a bad value is an error that
/// names the file, the line and the key.
enum BoardConfig {
    static let folder = "firmware-config"

    static func path(forBoard name: String) throws -> String {
        let path = "\(folder)/\(name).yaml"
        guard FileManager.default.fileExists(atPath: path) else {
            let known = ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [])
                .filter { $0.hasSuffix(".yaml") }.map { String($0.dropLast(5)) }.sorted()
            throw ConfigError(description: "unknown board '\(name)'; profiles in \(folder)/: \(known.joined(separator: ", "))")
        }
        return path
    }

    static func load(_ path: String, into settings: inout RunSettings) throws {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw ConfigError(description: "\(path): cannot read the file")
        }
        // Bounded before Yams: its parser recurses per nesting level and would overflow the stack.
        if let problem = YAMLBounds.check([UInt8](data)) { throw ConfigError(description: "\(path): \(problem)") }
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
                    case "width": settings.width = try integer(v, "camera.width", 16...8192)
                    case "height": settings.height = try integer(v, "camera.height", 16...8192)
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
}
