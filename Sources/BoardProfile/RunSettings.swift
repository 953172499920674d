// What `facecam run` runs with: defaults, then a board profile (firmware-config/*.yaml), then
// flags, in that order of precedence (flags win). The command-line tool fills the flags in;
// another program can fill them from anywhere and get the same checks and the same pipeline.
import Adaptation
import FacePipeline
import FrameCapture
import Int8Runtime
import Streaming

/// Allowed values of settings a flag and a board profile key both set: one range each, so
/// `--threshold 7` fails as `thresholds.detection: 7` does.
public enum SettingRange {
    public static let detectionThreshold: ClosedRange<Double> = 0...1
    public static let threads: ClosedRange<Int> = 1...64
    public static let fps: ClosedRange<Double> = 1...240
    public static let reconnectAttempts: ClosedRange<Int> = 0...1000
    /// Camera width and height (`camera.width`, `--size`).
    public static let frameSide: ClosedRange<Int> = 16...8192
}

/// Defaults shared by every command and the board profile loader.
public enum ModelDefaults {
    public static let folder = "models"
    public static let detectionThreshold = PipelineSettings.defaultDetectionThreshold
    public static let threads = 1
}

/// Camera pixel formats `run` asks a camera for (`camera.format` in a profile).
public enum CameraFormat: String, CaseIterable, Sendable {
    case yuyv, mjpeg, grey, nv12

    public var pixelFormat: PixelFormat {
        switch self {
        case .yuyv: return .yuyv
        case .mjpeg: return .mjpeg
        case .grey: return .grey
        case .nv12: return .nv12
        }
    }
}

/// Which heads adapt (`--adapt`, `adaptation.heads`).
public enum AdaptTarget: String, CaseIterable, Sendable {
    case both, expression, verifier
    public var verifier: Bool { self != .expression }
    public var expression: Bool { self != .verifier }
}

/// Adaptation settings from a board profile and flags (flags win).
public struct AdaptationChoice: Sendable {
    /// nil: no head adapts.
    public var target: AdaptTarget?
    public var settings = AdaptationSettings()
    /// Settings the user chose (flag or profile key): per-head defaults never override these.
    public var explicit: Set<String> = []
    public var statePath: String?
    public var saveEvery = 60.0
    public init() {}
}

public struct RunSettings: Sendable {
    public var device: String?
    public var format: CameraFormat?
    public var width: Int?
    public var height: Int?
    public var fps: Double?
    public var threads = ModelDefaults.threads
    public var modelsDirectory = ModelDefaults.folder
    public var detector = "blazeface.tflite"
    public var verifier = "onet.tflite"
    public var classifier = "expression.tflite"
    public var detectionThreshold = ModelDefaults.detectionThreshold
    public var verificationThreshold: Float = 0.5
    public var maxFaces = 8
    public var reconnectAttempts = 5
    public var adaptation = AdaptationChoice()
    public init() {}

    /// The three models' paths, named as the live view's info metric names them.
    public var modelPaths: [(name: String, path: String)] {
        [("detector", "\(modelsDirectory)/\(detector)"), ("verifier", "\(modelsDirectory)/\(verifier)"),
         ("classifier", "\(modelsDirectory)/\(classifier)")]
    }

    /// The source to open: a camera (default /dev/video0, YUYV 640x480) or a file.
    public var sourceSpec: SourceSpec {
        var spec = SourceSpec(path: device ?? "/dev/video0")
        spec.format = (format ?? .yuyv).pixelFormat
        spec.width = width ?? 640
        spec.height = height ?? 480
        spec.fps = fps
        return spec
    }

    /// The face pipeline of these settings, with the model hashes an adaptation state is bound to.
    public func makePipeline(kernels: KernelSet) throws -> (pipeline: FacePipeline, modelHashes: [String: [UInt8]]) {
        var pipelineSettings = PipelineSettings()
        pipelineSettings.detectionThreshold = detectionThreshold
        pipelineSettings.verifyThreshold = verificationThreshold
        pipelineSettings.maxFaces = maxFaces
        pipelineSettings.threads = threads
        pipelineSettings.kernels = kernels
        let dir = modelsDirectory
        let modelHashes = try pipelineAdaptation(adaptation, verifierModel: "\(dir)/\(verifier)",
                                                 classifierModel: "\(dir)/\(classifier)", into: &pipelineSettings)
        do {
            let pipeline = try FacePipeline(detector: "\(dir)/\(detector)", verifier: "\(dir)/\(verifier)",
                                            classifier: "\(dir)/\(classifier)", settings: pipelineSettings)
            return (pipeline, modelHashes)
        } catch { throw ConfigError(description: "\(error)") }
    }
}

/// Builds the pipeline's adaptation settings for the chosen heads, with source statistics
/// checked against the models' SHA-256. Returns the hashes by head name.
public func pipelineAdaptation(_ choice: AdaptationChoice, verifierModel: String, classifierModel: String,
                               into settings: inout PipelineSettings) throws -> [String: [UInt8]] {
    guard let target = choice.target else { return [:] }
    var hashes: [String: [UInt8]] = [:]
    func head(_ name: String, _ model: String) throws -> HeadAdaptation {
        let hash: [UInt8]
        do { hash = try SHA256.hashFile(path: model) } catch { throw ConfigError(description: "\(model): \(error)") }
        hashes[name] = hash
        let statsPath = sourceStatisticsPath(model: model)
        let source: SourceStatistics
        do { source = try SourceStatistics.load(path: statsPath, head: name, modelSHA256: hash) } catch {
            throw ConfigError(description: "--adapt \(name): \(error) (make it with `facecam adapt-calibrate`, see the README)")
        }
        return HeadAdaptation(settings: defaultSettings(for: name, base: choice.settings, explicit: choice.explicit), source: source)
    }
    if target.verifier { settings.verifierAdaptation = try head("verifier", verifierModel) }
    if target.expression { settings.expressionAdaptation = try head("expression", classifierModel) }
    return hashes
}

/// "640x480" -> (640, 480), each side within SettingRange.frameSide; nil otherwise.
public func parseSize(_ text: String) -> (Int, Int)? {
    let parts = text.lowercased().split(separator: "x").compactMap { Int($0) }
    guard parts.count == 2, SettingRange.frameSide.contains(parts[0]), SettingRange.frameSide.contains(parts[1]) else { return nil }
    return (parts[0], parts[1])
}
