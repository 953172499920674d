/// Per-head defaults, chosen on tools/adapt-bench (README). The verifier re-normalizes its conv4
/// features and self-trains, both only under a measured shift of the image signals. For the
/// expression head every method measured lost more than a point on some stream (self-training
/// on every shifted video, re-normalization under impulse noise), so by default it only watches:
/// statistics, gate and pseudo-labels run and are reported, its answers stay the int8 model's.
/// `--adapt-align gated` or `--adapt-lr` turn it on. `explicit` names the settings the user
/// chose ("alignment", "learning_rate"): these defaults never override them.
public func defaultSettings(for head: String, base: AdaptationSettings, explicit: Set<String> = []) -> AdaptationSettings {
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
public func sourceStatisticsPath(model: String) -> String {
    (model.hasSuffix(".tflite") ? String(model.dropLast(7)) : model) + ".source-stats"
}
