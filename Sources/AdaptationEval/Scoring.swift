import Streaming

/// Mean per-class recall over the classes present in the truth: a collapse onto the majority
/// class cannot score as a gain. 1 when the truth is empty.
public func balancedScore(truth: [Int], predicted: [Int], classes: Int) -> Double {
    var hits = [Int](repeating: 0, count: classes), totals = [Int](repeating: 0, count: classes)
    for (t, p) in zip(truth, predicted) { totals[t] += 1; if t == p { hits[t] += 1 } }
    let present = (0..<classes).filter { totals[$0] > 0 }
    guard !present.isEmpty else { return 1 }
    return present.map { Double(hits[$0]) / Double(totals[$0]) }.reduce(0, +) / Double(present.count)
}

/// One scored row: a model's head on a stream with one variant, scored online (each
/// prediction made before its own update).
public struct EvaluationRow: Sendable {
    public var stream: EvaluationStream
    public var head: String
    public var variant: String
    /// Balanced scores of the frozen model on the stream, the adapting one, the frozen one on
    /// the clean stream.
    public var frozen: Double, adapted: Double, clean: Double
    public var histogram: [Int]
    public var selectedFraction: Double, pseudoLabelPrecision: Double?
    public var resets: Int, microseconds: Double
    /// Predictions the frozen model made on the stream; a row without any (e.g. a video on
    /// which the detector finds no face) cannot be scored and counts in no summary figure.
    public var samples: Int

    public init(stream: EvaluationStream, head: String, variant: String, frozen: Double, adapted: Double, clean: Double,
                histogram: [Int], selectedFraction: Double, pseudoLabelPrecision: Double?, resets: Int, microseconds: Double,
                samples: Int) {
        (self.stream, self.head, self.variant, self.frozen, self.adapted, self.clean) = (stream, head, variant, frozen, adapted, clean)
        (self.histogram, self.selectedFraction, self.pseudoLabelPrecision) = (histogram, selectedFraction, pseudoLabelPrecision)
        (self.resets, self.microseconds, self.samples) = (resets, microseconds, samples)
    }

    public var scored: Bool { samples > 0 }
    /// The share of the corruption's loss that adaptation wins back; nil unless the stream
    /// costs the frozen model more than 0.02.
    public var recovery: Double? { scored && clean - frozen > 0.02 ? (adapted - frozen) / (clean - frozen) : nil }
    public var delta: Double { adapted - frozen }
}

/// The benchmark's printed forms: a table line per row, a JSON object per row, the summary.
public enum EvaluationReport {
    public static var header: String {
        pad("stream", 30) + pad("head", 11) + pad("method", 14) + ["frozen", "adapted", "clean", "recovery", "select", "PL-prec",
            "resets", "us"].map { pad($0, 9, right: true) }.joined() + "  predicted classes"
    }

    public static func line(_ r: EvaluationRow) -> String {
        guard r.scored else {
            return pad(r.stream.name, 30) + pad(r.head, 11) + pad(r.variant, 14) + "  no samples (nothing to score; left out of the summary)"
        }
        let cells = [fixed(r.frozen, 3), fixed(r.adapted, 3), fixed(r.clean, 3), r.recovery.map(signed3) ?? "-",
                     fixed(r.selectedFraction, 3), r.pseudoLabelPrecision.map { fixed($0, 3) } ?? "-", String(r.resets),
                     fixed(r.microseconds, 1)]
        return pad(r.stream.name, 30) + pad(r.head, 11) + pad(r.variant, 14) + cells.map { pad($0, 9, right: true) }.joined() + "  "
            + r.histogram.map(String.init).joined(separator: "/")
    }

    public static func json(_ r: EvaluationRow) -> JSON {
        .object([("stream", .string(r.stream.name)), ("head", .string(r.head)), ("method", .string(r.variant)),
                 ("corruption", .string(r.stream.corruption)), ("severity", .integer(r.stream.severity)), ("mix", .string(r.stream.mix)),
                 ("frozen", .number(round4(r.frozen))), ("adapted", .number(round4(r.adapted))), ("clean", .number(round4(r.clean))),
                 ("recovery", r.recovery.map { .number(round4($0)) } ?? .null), ("delta", .number(round4(r.delta))),
                 ("selected_fraction", .number(round4(r.selectedFraction))),
                 ("pseudo_label_precision", r.pseudoLabelPrecision.map { .number(round4($0)) } ?? .null),
                 ("resets", .integer(r.resets)), ("update_us", .number(round3(r.microseconds))),
                 ("samples", .integer(r.samples)), ("predicted_histogram", .array(r.histogram.map { .integer($0) }))])
    }

    /// The benchmark's verdict for the default method (mean recovery over the balanced
    /// severity-5 corruptions, worst deltas overall, on clean streams and under label shift),
    /// and the same figures for every other variant, so the default is chosen by measurement.
    public static func summary(_ rows: [EvaluationRow]) -> JSON {
        let unscored = rows.filter { $0.variant == "default" && !$0.scored }.map { JSON.string("\($0.stream.name)/\($0.head)") }
        let d = rows.filter { $0.variant == "default" && $0.scored }
        var pairs: [(String, JSON)] = [
            ("mean_recovery", meanRecovery(d)),
            ("recovery_rows", .integer(recoveries(d).count)),
            ("worst_delta", worst(d)),
            ("clean_delta", worst(d.filter { isClean($0) && $0.stream.mix == "balanced" })),
            ("label_shift_delta", worst(d.filter { $0.stream.mix != "balanced" })),
            ("unscored_rows", .array(unscored)),
        ]
        var others: [(String, JSON)] = []
        for name in Set(rows.map(\.variant)).sorted() where name != "default" {
            let v = rows.filter { $0.variant == name && $0.scored }
            others.append((name, .object([
                ("mean_recovery", meanRecovery(v)),
                ("worst_delta", worst(v)), ("clean_delta", worst(v.filter { isClean($0) && $0.stream.mix == "balanced" })),
                ("label_shift_delta", worst(v.filter { $0.stream.mix != "balanced" })),
            ])))
        }
        if !others.isEmpty { pairs.append(("variants", .object(others))) }
        return .object(pairs)
    }

    private static func isClean(_ r: EvaluationRow) -> Bool { r.stream.corruption == "clean" }

    /// Recoveries of the rows that define the headline: balanced mix, severity 5, a corruption
    /// (not clean, not the continual stream).
    private static func recoveries(_ rows: [EvaluationRow]) -> [Double] {
        rows.filter { $0.stream.mix == "balanced" && $0.stream.severity == 5 && !isClean($0) && $0.stream.corruption != "continual" }
            .compactMap(\.recovery)
    }

    private static func meanRecovery(_ rows: [EvaluationRow]) -> JSON {
        let r = recoveries(rows)
        return r.isEmpty ? .null : .number(round4(r.reduce(0, +) / Double(r.count)))
    }

    private static func worst(_ rows: [EvaluationRow]) -> JSON { rows.isEmpty ? .null : .number(round4(rows.map(\.delta).min()!)) }

    private static func pad(_ s: String, _ width: Int, right: Bool = false) -> String {
        let fill = String(repeating: " ", count: max(0, width - s.count))
        return right ? fill + s : s + fill + (s.count >= width ? " " : "")
    }

    /// printf's %+.3f.
    private static func signed3(_ x: Double) -> String {
        let s = fixed(x, 3)
        return s.hasPrefix("-") ? s : "+" + s
    }
}

func round4(_ x: Double) -> Double { (x * 10000).rounded() / 10000 }
