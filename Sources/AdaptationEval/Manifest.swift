#if canImport(Glibc)
import Glibc
#endif
import Streaming

/// One stream of the shift benchmark: labeled crops or a video, its clean counterpart, and
/// the corruption that made it.
public struct EvaluationStream: Sendable {
    public let name, model, kind, path, clean, corruption, family, mix: String
    public let severity: Int

    public init(name: String, model: String = "", kind: String, path: String, clean: String? = nil, corruption: String = "",
                family: String = "", mix: String = "balanced", severity: Int = 0) {
        (self.name, self.model, self.kind, self.path, self.clean) = (name, model, kind, path, clean ?? path)
        (self.corruption, self.family, self.mix, self.severity) = (corruption, family, mix, severity)
    }
}

/// The manifest.json tools/adapt-bench writes: the streams, and the clean calibration data
/// (crops for the verifier, a clip for both heads) the source statistics are measured on.
/// Paths in it are relative to its folder and come out absolute (folder + path).
public struct BenchmarkManifest: Sendable {
    public var streams: [EvaluationStream]
    public var calibrationCrops: String?
    public var calibrationVideo: String?

    public init(path: String) throws {
        // Absolute, so the streams' paths do not depend on where a later step runs.
        var absolute = path
        if !path.hasPrefix("/") {
            var buffer = [CChar](repeating: 0, count: 4096)
            if getcwd(&buffer, buffer.count) != nil {
                absolute = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) + "/" + path
            }
        }
        let base = String(absolute[..<absolute.lastIndex(of: "/")!])
        try self.init(bytes: try readWholeFile(path), folder: base, name: path)
    }

    /// Parses a manifest's bytes; `folder` prefixes its paths, `name` labels errors.
    public init(bytes: [UInt8], folder: String, name: String) throws {
        guard let root = try? JSON(parsing: bytes), let list = root["streams"]?.arrayValue else {
            throw EvaluationError("\(name): not a shift benchmark manifest")
        }
        streams = list.compactMap { s in
            guard let name = s["name"]?.stringValue, let path = s["path"]?.stringValue else { return nil }
            return EvaluationStream(name: name, model: s["model"]?.stringValue ?? "", kind: s["kind"]?.stringValue ?? "",
                                    path: "\(folder)/\(path)", clean: "\(folder)/\(s["clean"]?.stringValue ?? path)",
                                    corruption: s["corruption"]?.stringValue ?? "", family: s["family"]?.stringValue ?? "",
                                    mix: s["mix"]?.stringValue ?? "balanced", severity: s["severity"]?.intValue ?? 0)
        }
        calibrationCrops = root["calibration"]?["verifier_crops"]?.stringValue.map { "\(folder)/\($0)" }
        calibrationVideo = root["calibration"]?["video"]?.stringValue.map { "\(folder)/\($0)" }
    }
}
