import Adaptation

/// A named combination of adaptation settings for both heads: the methods the shift benchmark
/// compares (`default` is what `facecam run --adapt` uses).
public struct EvaluationVariant: Sendable {
    public let name: String
    public let verifier: AdaptationSettings
    public let expression: AdaptationSettings

    public init(name: String, verifier: AdaptationSettings, expression: AdaptationSettings) {
        self.name = name
        self.verifier = verifier
        self.expression = expression
    }

    /// The per-head defaults, then `change` applied to each head (its name is the second argument).
    public static func make(_ name: String, _ change: (inout AdaptationSettings, String) -> Void) -> EvaluationVariant {
        var v = defaultSettings(for: "verifier", base: AdaptationSettings())
        var e = defaultSettings(for: "expression", base: AdaptationSettings())
        change(&v, "verifier")
        change(&e, "expression")
        return EvaluationVariant(name: name, verifier: v, expression: e)
    }

    public static let all: [EvaluationVariant] = [
        make("default") { _, _ in },
        make("align-only") { s, _ in s.alignment = .gated; s.learningRate = 0 },
        make("expr-train") { s, head in if head == "expression" { s.learningRate = 1e-3 } },
        make("expr-align") { s, head in if head == "expression" { s.alignment = .gated } },
        make("expr-align-half") { s, head in if head == "expression" { s.alignment = .gated; s.alignmentStrength = 0.5 } },
        make("align-always") { s, _ in s.alignment = .always; s.learningRate = 0 },
        make("train-only") { s, _ in s.alignment = .off; s.learningRate = 1e-3 },
        make("ungated") { s, _ in s.gateUpdates = false; s.alignment = .off; s.learningRate = 1e-3 },
        make("ungated-align") { s, _ in s.gateUpdates = false; s.alignment = .always },
        make("fixmatch") { s, _ in s.method = .fixmatch },
        make("entropy") { s, _ in s.method = .entropy },
        make("ema-teacher") { s, _ in s.teacher = .ema },
        make("no-teacher") { s, _ in s.teacher = .none },
        make("lr-1e-2") { s, _ in s.learningRate = 1e-2 },
        make("deep") { s, head in if head == "verifier" { s.trainedLayers = 2 } },
        // Expression alignment without its entropy check, mean-only, and with bounded gains.
        make("expr-align-unchecked") { s, head in if head == "expression" { s.alignment = .gated; s.alignmentEntropyCheck = false } },
        make("expr-align-mean") { s, head in if head == "expression" { s.alignment = .gated; s.alignmentEntropyCheck = false; s.alignmentGainLimit = 1 } },
        make("expr-align-clamp") { s, head in if head == "expression" { s.alignment = .gated; s.alignmentEntropyCheck = false; s.alignmentGainLimit = 1.5 } },
        make("entropy-check") { s, _ in s.alignmentEntropyCheck = true },
        make("align-half") { s, _ in s.alignment = .gated; s.alignmentStrength = 0.5; s.learningRate = 0 },
    ]

    /// The variants of a `--methods` list: comma-separated names, or `all`.
    public static func named(_ list: String) throws -> [EvaluationVariant] {
        let names = list == "all" ? all.map(\.name) : list.split(separator: ",").map(String.init)
        return try names.map { n in
            guard let v = all.first(where: { $0.name == n }) else {
                throw EvaluationError("unknown method variant '\(n)' (known: \(all.map(\.name).joined(separator: ", ")))")
            }
            return v
        }
    }
}
