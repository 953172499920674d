import Adaptation
import ArgumentParser
import FacePipeline
import Foundation
import Imaging
import Streaming
import Int8Runtime

/// Which heads `--adapt` adapts.
enum AdaptTarget: String, CaseIterable, ExpressibleByArgument {
    case both, expression, verifier
    var verifier: Bool { self != .expression }
    var expression: Bool { self != .verifier }
}

extension AdaptationMethod: ExpressibleByArgument {}
extension TeacherKind: ExpressibleByArgument {}
extension AlignmentMode: ExpressibleByArgument {}

/// Adaptation settings from a board profile and flags (flags win).
struct AdaptationChoice {
    var target: AdaptTarget?
    var settings = AdaptationSettings()
    /// Settings the user chose (flag or profile key): per-head defaults never override these.
    var explicit: Set<String> = []
    var statePath: String?
    var saveEvery = 60.0
}

/// The `--adapt*` flags, shared by `run` and `adapt-eval`.
struct AdaptationFlags: ParsableArguments {
    @Option(name: .customLong("adapt"),
            help: "Heads that adapt their final layers on the stream (a bare --adapt: both).")
    var adapt: AdaptTarget?

    @Option(name: .customLong("adapt-method"), help: "Pseudo-label selection.")
    var method: AdaptationMethod?

    @Option(name: .customLong("adapt-lr"), help: "Learning rate of the head updates (default 0.001).")
    var learningRate: Float?

    @Option(name: .customLong("adapt-teacher"), help: "Pseudo-label teacher (track: the average along the face track).")
    var teacher: TeacherKind?

    @Option(name: .customLong("adapt-align"),
            help: "Feature re-normalization to the source statistics (gated: by image signals).")
    var alignment: AlignmentMode?

    @Option(name: .customLong("adapt-state"), help: "Load adapted heads from this file at start; save them to it periodically and at exit.")
    var statePath: String?

    @Option(name: .customLong("adapt-save-every"), help: "Seconds between state saves (fractions allowed; default 60).")
    var saveEvery: Double?

    func validate() throws {
        if let learningRate, !(learningRate > 0 && learningRate <= 1) { throw ValidationError("--adapt-lr must be in (0, 1]") }
        if let saveEvery, !(saveEvery > 0 && saveEvery.isFinite) { throw ValidationError("--adapt-save-every must be a positive number of seconds") }
    }

    var anyOption: Bool {
        method != nil || learningRate != nil || teacher != nil || alignment != nil || statePath != nil || saveEvery != nil
    }

    func apply(to choice: inout AdaptationChoice) {
        if let adapt { choice.target = adapt }
        if let method { choice.settings.method = method }
        if let learningRate { choice.settings.learningRate = learningRate; choice.explicit.insert("learning_rate") }
        if let teacher { choice.settings.teacher = teacher }
        if let alignment { choice.settings.alignment = alignment; choice.explicit.insert("alignment") }
        if let statePath { choice.statePath = statePath }
        if let saveEvery { choice.saveEvery = saveEvery }
    }

    /// Lets a bare `--adapt` mean `--adapt both`: the argument parser needs a value, so one is
    /// inserted when the next word is another flag or missing.
    static func expandBareAdapt(_ arguments: [String]) -> [String] {
        var out: [String] = []
        for (i, a) in arguments.enumerated() {
            out.append(a)
            if a == "--adapt" && (i + 1 == arguments.count || arguments[i + 1].hasPrefix("-")) { out.append("both") }
        }
        return out
    }
}

/// Per-head defaults, chosen on tools/adapt-bench (README). The verifier re-normalizes its conv4
/// features and self-trains, both only under a measured shift of the image signals. For the
/// expression head every method measured lost more than a point on some stream (self-training
/// on every shifted video, re-normalization under impulse noise), so by default it only watches:
/// statistics, gate and pseudo-labels run and are reported, its answers stay the int8 model's.
/// `--adapt-align gated` or `--adapt-lr` turn it on.
func defaultSettings(for head: String, base: AdaptationSettings, explicit: Set<String> = []) -> AdaptationSettings {
    var s = base
    if head == "expression" {
        if !explicit.contains("alignment") { s.alignment = .off }
        if !explicit.contains("learning_rate") { s.learningRate = 0 }
        // Measured on adapt-bench's videos: the check halves what alignment loses under impulse
        // noise (-0.028 -> -0.014) and keeps its gains (low light +0.20, defocus +0.11).
        s.alignmentEntropyCheck = true
    }
    return s
}

/// The shipped source statistics of a model: `onet.tflite` -> `onet.source-stats`.
func sourceStatisticsPath(model: String) -> String {
    (model.hasSuffix(".tflite") ? String(model.dropLast(7)) : model) + ".source-stats"
}

/// Builds the pipeline's adaptation settings for the chosen heads, with source statistics
/// checked against the models' SHA-256.
func pipelineAdaptation(_ choice: AdaptationChoice, verifierModel: String, classifierModel: String,
                        into settings: inout PipelineSettings) throws -> [String: [UInt8]] {
    guard let target = choice.target else { return [:] }
    var hashes: [String: [UInt8]] = [:]
    func head(_ name: String, _ model: String) throws -> HeadAdaptation {
        let hash: [UInt8]
        do { hash = try SHA256.hashFile(path: model) } catch { throw CommandError("\(model): \(error)") }
        hashes[name] = hash
        let statsPath = sourceStatisticsPath(model: model)
        let source: SourceStatistics
        do { source = try SourceStatistics.load(path: statsPath, head: name, modelSHA256: hash) } catch {
            throw CommandError("--adapt \(name): \(error) (make it with `facecam adapt-calibrate`, see the README)")
        }
        return HeadAdaptation(settings: defaultSettings(for: name, base: choice.settings, explicit: choice.explicit), source: source)
    }
    if target.verifier { settings.verifierAdaptation = try head("verifier", verifierModel) }
    if target.expression { settings.expressionAdaptation = try head("expression", classifierModel) }
    return hashes
}
