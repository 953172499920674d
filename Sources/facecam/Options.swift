import AdaptationEval
import ArgumentParser
import BoardProfile
import FacePipeline
import FrameCapture
import Streaming

/// `--threads`, for the commands that run models (alone in bench and invoke).
struct ThreadOptions: ParsableArguments {
    @Option(help: "Threads per model, \(SettingRange.threads.lowerBound)...\(SettingRange.threads.upperBound) (default \(ModelDefaults.threads); overrides runtime.threads), for CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED: split by output rows or channels, so results are identical for any count; small layers and other operators stay on one thread.")
    var threads: Int?

    var resolvedThreads: Int { threads ?? ModelDefaults.threads }

    func validate() throws {
        if let threads, !SettingRange.threads.contains(threads) {
            throw ValidationError("--threads must be in \(SettingRange.threads.lowerBound)...\(SettingRange.threads.upperBound) (got \(threads))")
        }
    }
}

/// `--models`, `--threshold`, `--threads`: one group for every command that runs the face
/// pipeline. Unset values are nil, so `run` can tell a flag from a board profile's key.
struct ModelOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Folder holding blazeface.tflite, onet.tflite and expression.tflite (default \(ModelDefaults.folder); overrides models.directory).",
                               valueName: "folder"))
    var models: String?

    @Option(help: "Minimum BlazeFace score, 0...1 (default \(ModelDefaults.detectionThreshold); overrides thresholds.detection).")
    var threshold: Float?

    @OptionGroup var threadOptions: ThreadOptions

    var modelsFolder: String { models ?? ModelDefaults.folder }
    var detectionThreshold: Float { threshold ?? ModelDefaults.detectionThreshold }
    var threads: Int { threadOptions.resolvedThreads }

    func validate() throws {
        // As the profile key it overrides (thresholds.detection): NaN is outside every range.
        if let threshold, !SettingRange.detectionThreshold.contains(Double(threshold)) {
            throw ValidationError("--threshold must be in 0...1 (got \(threshold))")
        }
    }

    /// Flags win over the profile's keys.
    func apply(to settings: inout RunSettings) {
        if let models { settings.modelsDirectory = models }
        if let threshold { settings.detectionThreshold = threshold }
        if let threads = threadOptions.threads { settings.threads = threads }
    }

    /// The models and pipeline settings of the flags alone, for calibration and evaluation.
    var evaluationModels: EvaluationModels { EvaluationModels(folder: modelsFolder, settings: pipelineSettings) }

    /// Pipeline settings of the flags alone (commands without a board profile).
    var pipelineSettings: PipelineSettings {
        var settings = PipelineSettings()
        settings.detectionThreshold = detectionThreshold
        settings.threads = threads
        return settings
    }
}

/// What `run` writes on stdout.
enum OutputFormat: String, CaseIterable, ExpressibleByArgument {
    case jsonl, none
}

/// `camera.format` words, in any case.
extension CameraFormat: ExpressibleByArgument {
    public init?(argument: String) { self.init(rawValue: argument.lowercased()) }
}

/// Every format `devices --probe` can ask for: the case name (yuyv, rgb24, ...) or the fourcc.
extension PixelFormat: ExpressibleByArgument {
    public init?(argument: String) {
        guard let format = PixelFormat.allCases.first(where: { "\($0)" == argument.lowercased() })
                ?? PixelFormat(rawValue: argument.uppercased()) else { return nil }
        self = format
    }

    public static var allValueStrings: [String] { allCases.map { "\($0)" } }
    public var defaultValueDescription: String { "\(self)" }
}
