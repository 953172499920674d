// `facecam bench`: inference latency on deterministic random inputs, and per-operator profiles.
import Int8Runtime
import Streaming

/// Latency statistics of a set of samples (milliseconds).
public struct LatencyStatistics: Sendable, Equatable {
    public let min: Double, median: Double, p90: Double, mean: Double, max: Double, count: Int

    /// `samples` must not be empty. The median is the upper middle; p90 the sample at rank
    /// ceil(0.9 n) (1-based).
    public init(_ samples: [Double]) {
        precondition(!samples.isEmpty, "no samples")
        let sorted = samples.sorted()
        min = sorted[0]
        max = sorted[sorted.count - 1]
        median = sorted[sorted.count / 2]
        p90 = sorted[Swift.min(sorted.count - 1, Int((Double(sorted.count) * 0.9).rounded(.up)) - 1)]
        mean = sorted.reduce(0, +) / Double(sorted.count)
        count = sorted.count
    }
}

/// One run of `bench`: load time, latency, memory, and (when profiled) per-operator medians.
public struct BenchmarkResult {
    public let path: String
    public let threads: Int
    public let loadNs: UInt64
    public let latency: LatencyStatistics
    public let macs: Int
    public let peakResidentBytes: Int
    public let modelBytes: Int
    public let arenaBytes: Int
    public let preparedBytes: Int
    public let kernelSet: KernelSet
    /// Per operator: name, micro-kernel, MACs.
    public let operators: [(op: String, kernel: String, macs: Int)]
    /// Per operator, the median of the profiled runs (ms); nil without profiling.
    public let operatorMedians: [Double]?

    public var gmacsPerSecond: Double { Double(macs) / (latency.median * 1e6) }
}

public enum Benchmark {
    /// Fills every input with deterministic pseudo-random values (xorshift), so runs compare.
    public static func fillInputs(_ interpreter: Interpreter) {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        for i in 0..<interpreter.inputCount {
            let buffer = interpreter.inputBuffer(i)
            if interpreter.inputTensor(i).type == .float32 {
                let floats = buffer.bindMemory(to: Float.self)
                for j in floats.indices {
                    state ^= state << 13; state ^= state >> 7; state ^= state << 17
                    floats[j] = Float(state % 2001) / 1000 - 1
                }
            } else {
                for j in buffer.indices {
                    state ^= state << 13; state ^= state >> 7; state ^= state << 17
                    buffer[j] = UInt8(truncatingIfNeeded: state)
                }
            }
        }
    }

    /// Times `iterations` inferences after `warmup` untimed ones; with `profile`, as many again
    /// with a clock read around every operator. `loadNs` is how long loading took the caller.
    public static func run(_ interpreter: Interpreter, path: String, threads: Int, loadNs: UInt64, iterations: Int, warmup: Int,
                           profile: Bool) -> BenchmarkResult {
        precondition(iterations >= 1 && warmup >= 0)
        fillInputs(interpreter)
        for _ in 0..<warmup { interpreter.invoke() }
        var samples = [Double](repeating: 0, count: iterations)
        for i in 0..<iterations {
            let t0 = monotonicNanoseconds()
            interpreter.invoke()
            samples[i] = Double(monotonicNanoseconds() - t0) / 1e6
        }
        let ops = interpreter.model.operators.indices.map { i in
            (op: interpreter.model.operators[i].customName ?? interpreter.model.operators[i].opcode.name,
             kernel: interpreter.kernelNames[i], macs: interpreter.macsPerOperator[i])
        }
        let medians = profile ? profileOperators(interpreter, iterations: iterations) : nil
        return BenchmarkResult(path: path, threads: threads, loadNs: loadNs, latency: LatencyStatistics(samples),
                               macs: interpreter.macsPerOperator.reduce(0, +), peakResidentBytes: peakResidentBytes(),
                               modelBytes: interpreter.model.fileSize, arenaBytes: interpreter.arenaBytes,
                               preparedBytes: interpreter.preparedBytes, kernelSet: interpreter.kernelSet, operators: ops,
                               operatorMedians: medians)
    }

    /// Per operator, the median of `iterations` profiled runs, in milliseconds.
    public static func profileOperators(_ interpreter: Interpreter, iterations: Int) -> [Double] {
        let count = interpreter.model.operators.count
        var times = [UInt64](repeating: 0, count: count * iterations)
        times.withUnsafeMutableBufferPointer { all in
            for i in 0..<iterations {
                interpreter.invoke(profilingInto: UnsafeMutableBufferPointer(rebasing: all[(i * count)..<((i + 1) * count)]))
            }
        }
        return (0..<count).map { op in
            let samples = (0..<iterations).map { times[$0 * count + op] }.sorted()
            return Double(samples[samples.count / 2]) / 1e6
        }
    }
}

extension BenchmarkResult {
    /// "qs8-conv/im2col-4x16-avx2 x12, ...", most used first.
    public var kernelCounts: String {
        var counts: [String: Int] = [:]
        for op in operators { counts[op.kernel, default: 0] += 1 }
        return counts.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
            .map { "\($0.key) x\($0.value)" }.joined(separator: ", ")
    }

    /// Per micro-kernel: operators, summed median ms and MACs, slowest first (like LiteRT's
    /// "summary by node type"); empty without a profile.
    public var byKernel: [(kernel: String, count: Int, ms: Double, macs: Int)] {
        guard let medians = operatorMedians else { return [] }
        var table: [String: (count: Int, ms: Double, macs: Int)] = [:]
        for (i, op) in operators.enumerated() {
            let old = table[op.kernel] ?? (0, 0, 0)
            table[op.kernel] = (old.count + 1, old.ms + medians[i], old.macs + op.macs)
        }
        return table.sorted { $0.value.ms > $1.value.ms }.map { ($0.key, $0.value.count, $0.value.ms, $0.value.macs) }
    }

    public var json: JSON {
        .object([
            ("model", .string(path)), ("kernels", .string(kernelSet.rawValue)), ("threads", .integer(threads)),
            ("iterations", .integer(latency.count)), ("load_ms", .number(Double(loadNs) / 1e6)),
            ("latency_ms", .object([("min", .number(latency.min)), ("median", .number(latency.median)), ("p90", .number(latency.p90)),
                                    ("mean", .number(latency.mean)), ("max", .number(latency.max))])),
            ("macs", .integer(macs)), ("gmacs_per_s", .number(gmacsPerSecond)),
            ("arena_bytes", .integer(arenaBytes)), ("prepared_bytes", .integer(preparedBytes)),
            ("model_bytes", .integer(modelBytes)), ("peak_rss_bytes", .integer(peakResidentBytes)),
            ("operators", .array(operatorsJSON)),
        ])
    }

    private var operatorsJSON: [JSON] {
        let total = operatorMedians?.reduce(0, +) ?? 0
        return operators.enumerated().map { i, op in
            var pairs: [(String, JSON)] = [
                ("index", .integer(i)), ("op", .string(op.op)), ("kernel", .string(op.kernel)), ("macs", .integer(op.macs)),
            ]
            if let medians = operatorMedians {
                let ms = medians[i]
                pairs.append(("median_ms", .number(ms)))
                pairs.append(("share", .number(total > 0 ? ms / total : 0)))
                pairs.append(("gmacs_per_s", .number(ms > 0 ? Double(op.macs) / (ms * 1e6) : 0)))
            }
            return .object(pairs)
        }
    }

    /// The text report, line by line.
    public var lines: [String] {
        var out = [
            "model     \(path) (\(formatBytes(modelBytes)), \(formatCount(macs)) MACs)",
            "kernels   \(kernelSet), \(threads) thread(s): \(kernelCounts)",
            formatted("load      %.3f ms (parse, validate, pack weights, plan arena)", Double(loadNs) / 1e6),
            formatted("latency   min %.3f ms  median %.3f ms  p90 %.3f ms  mean %.3f ms  (%d runs)",
                      latency.min, latency.median, latency.p90, latency.mean, Int32(latency.count)),
            formatted("speed     %.2f GMAC/s at the median", gmacsPerSecond),
            "memory    arena \(formatBytes(arenaBytes)), prepared \(formatBytes(preparedBytes)), peak RSS \(formatBytes(peakResidentBytes))",
        ]
        guard let medians = operatorMedians else { return out }
        let total = medians.reduce(0, +)
        out.append(formatted("\nprofile   median per operator over %d runs; they sum to %.3f ms", Int32(latency.count), total))
        out.append(pad("#", 5) + pad("op", 20) + pad("kernel", 28) + lpad("ms", 8) + lpad("share", 8) + lpad("MACs", 10) + lpad("GMAC/s", 8))
        for (i, op) in operators.enumerated() {
            out.append(pad("\(i)", 5) + pad(op.op, 20) + pad(op.kernel, 28) + Self.row(medians[i], total, op.macs))
        }
        out.append("\nby kernel")
        out.append(pad("kernel", 33) + lpad("count", 6) + lpad("ms", 10) + lpad("share", 8) + lpad("MACs", 10) + lpad("GMAC/s", 8))
        for k in byKernel {
            out.append(pad(k.kernel, 33) + lpad("\(k.count)", 6) + lpad("", 2) + Self.row(k.ms, total, k.macs))
        }
        return out
    }

    private static func row(_ ms: Double, _ total: Double, _ macs: Int) -> String {
        let share = total > 0 ? 100 * ms / total : 0
        let gmacs = macs > 0 && ms > 0 ? formatted("%.2f", Double(macs) / (ms * 1e6)) : "-"
        return lpad(formatted("%.4f", ms), 8) + lpad(formatted("%.1f%%", share), 8)
            + lpad(macs > 0 ? formatCount(macs) : "-", 10) + lpad(gmacs, 8)
    }
}
