import Adaptation
import ArgumentParser
import BoardProfile

extension AdaptTarget: ExpressibleByArgument {}
extension AdaptationMethod: ExpressibleByArgument {}
extension TeacherKind: ExpressibleByArgument {}
extension AlignmentMode: ExpressibleByArgument {}

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
