import ArgumentParser
import Foundation
import Imaging
import Streaming
import Int8Runtime

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure model load time and inference latency (min/median/p90) on random inputs.",
        discussion: """
            --profile then runs the same number of inferences again with a clock read around every \
            operator and prints, per operator, the median time, its micro-kernel, MACs, GMAC/s and \
            share of the summed medians (the latency figures above come from unprofiled runs).
            """)

    @Argument(help: "Path to an int8 .tflite model.")
    var model: String

    @Option(help: "Threads for CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED (split by output rows or channels: identical results for any count; small layers and other operators stay on one thread).")
    var threads = 1

    @Option(help: "Timed inferences.")
    var iterations = 100

    @Option(help: "Untimed inferences first (caches, page faults).")
    var warmup = 5

    @OptionGroup var kernelOptions: KernelOptions

    @Flag(help: "Also time every operator (median over --iterations more runs).")
    var profile = false

    @Flag(help: "Print one JSON object.")
    var json = false

    func validate() throws {
        guard threads >= 1 && threads <= 64 else { throw ValidationError("--threads must be in 1...64") }
        guard iterations >= 1 else { throw ValidationError("--iterations must be at least 1") }
        guard warmup >= 0 else { throw ValidationError("--warmup must not be negative") }
    }

    func run() throws {
        let start = monotonicNanoseconds()
        let loaded = try loadModel(model)
        var options = Interpreter.Options()
        options.threads = threads
        options.kernels = kernelOptions.kernels
        let interpreter = try makeInterpreter(loaded, path: model, options: options)
        let loadNs = monotonicNanoseconds() - start

        // Deterministic pseudo-random inputs (xorshift), so runs are comparable.
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        for i in 0..<interpreter.inputCount {
            let buffer = interpreter.inputBuffer(i)
            let tensor = interpreter.inputTensor(i)
            if tensor.type == .float32 {
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
        for _ in 0..<warmup { interpreter.invoke() }
        var samples = [Double](repeating: 0, count: iterations)
        for i in 0..<iterations {
            let t0 = monotonicNanoseconds()
            interpreter.invoke()
            samples[i] = Double(monotonicNanoseconds() - t0) / 1e6
        }
        samples.sort()
        let median = samples[samples.count / 2]
        let p90 = samples[min(samples.count - 1, Int((Double(samples.count) * 0.9).rounded(.up)) - 1)]
        let mean = samples.reduce(0, +) / Double(samples.count)
        let macs = interpreter.macsPerOperator.reduce(0, +)
        let gmacs = Double(macs) / (median * 1e6)
        let operators = profile ? profileOperators(interpreter) : nil
        let rss = peakResidentBytes()

        if json {
            let object: JSON = .object([
                ("model", .string(model)), ("kernels", .string(interpreter.kernelSet.rawValue)), ("threads", .integer(threads)),
                ("iterations", .integer(iterations)), ("load_ms", .number(Double(loadNs) / 1e6)),
                ("latency_ms", .object([("min", .number(samples[0])), ("median", .number(median)), ("p90", .number(p90)),
                                        ("mean", .number(mean)), ("max", .number(samples.last!))])),
                ("macs", .integer(macs)), ("gmacs_per_s", .number(gmacs)),
                ("arena_bytes", .integer(interpreter.arenaBytes)), ("prepared_bytes", .integer(interpreter.preparedBytes)),
                ("model_bytes", .integer(loaded.fileSize)), ("peak_rss_bytes", .integer(rss)),
                ("operators", .array(operatorsJSON(interpreter, operators))),
            ])
            print(object.text)
        } else {
            print("model     \(model) (\(formatBytes(loaded.fileSize)), \(formatCount(macs)) MACs)")
            print("kernels   \(interpreter.kernelSet), \(threads) thread(s): \(kernelCounts(interpreter))")
            print(String(format: "load      %.3f ms (parse, validate, pack weights, plan arena)", Double(loadNs) / 1e6))
            print(String(format: "latency   min %.3f ms  median %.3f ms  p90 %.3f ms  mean %.3f ms  (%d runs)",
                         samples[0], median, p90, mean, iterations))
            print(String(format: "speed     %.2f GMAC/s at the median", gmacs))
            print("memory    arena \(formatBytes(interpreter.arenaBytes)), prepared \(formatBytes(interpreter.preparedBytes)), peak RSS \(formatBytes(rss))")
            if let operators { printProfile(interpreter, operators) }
        }
    }

    /// Per operator, the median of `iterations` profiled runs, in milliseconds.
    private func profileOperators(_ interpreter: Interpreter) -> [Double] {
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

    /// "qs8-conv/im2col-4x16-avx2 x12, ...", most used first.
    private func kernelCounts(_ interpreter: Interpreter) -> String {
        var counts: [String: Int] = [:]
        for name in interpreter.kernelNames { counts[name, default: 0] += 1 }
        return counts.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
            .map { "\($0.key) x\($0.value)" }.joined(separator: ", ")
    }

    private func operatorsJSON(_ interpreter: Interpreter, _ medians: [Double]?) -> [JSON] {
        let total = medians?.reduce(0, +) ?? 0
        return interpreter.model.operators.indices.map { i in
            let op = interpreter.model.operators[i]
            var pairs: [(String, JSON)] = [
                ("index", .integer(i)), ("op", .string(op.customName ?? op.opcode.name)),
                ("kernel", .string(interpreter.kernelNames[i])), ("macs", .integer(interpreter.macsPerOperator[i])),
            ]
            if let medians {
                let ms = medians[i]
                pairs.append(("median_ms", .number(ms)))
                pairs.append(("share", .number(total > 0 ? ms / total : 0)))
                pairs.append(("gmacs_per_s", .number(ms > 0 ? Double(interpreter.macsPerOperator[i]) / (ms * 1e6) : 0)))
            }
            return .object(pairs)
        }
    }

    private func printProfile(_ interpreter: Interpreter, _ medians: [Double]) {
        let total = medians.reduce(0, +)
        let ops = interpreter.model.operators
        print(String(format: "\nprofile   median per operator over %d runs; they sum to %.3f ms", iterations, total))
        print(pad("#", 5) + pad("op", 20) + pad("kernel", 28) + lpad("ms", 8) + lpad("share", 8) + lpad("MACs", 10) + lpad("GMAC/s", 8))
        for i in ops.indices {
            print(pad("\(i)", 5) + pad(ops[i].customName ?? ops[i].opcode.name, 20) + pad(interpreter.kernelNames[i], 28)
                  + row(medians[i], total, interpreter.macsPerOperator[i]))
        }
        // By micro-kernel, like LiteRT's "summary by node type".
        var byKernel: [String: (count: Int, ms: Double, macs: Int)] = [:]
        for i in ops.indices {
            let k = interpreter.kernelNames[i]
            let old = byKernel[k] ?? (0, 0, 0)
            byKernel[k] = (old.count + 1, old.ms + medians[i], old.macs + interpreter.macsPerOperator[i])
        }
        print("\nby kernel")
        print(pad("kernel", 33) + lpad("count", 6) + lpad("ms", 10) + lpad("share", 8) + lpad("MACs", 10) + lpad("GMAC/s", 8))
        for (k, v) in byKernel.sorted(by: { $0.value.ms > $1.value.ms }) {
            print(pad(k, 33) + lpad("\(v.count)", 6) + lpad("", 2) + row(v.ms, total, v.macs))
        }
    }

    private func row(_ ms: Double, _ total: Double, _ macs: Int) -> String {
        let share = total > 0 ? 100 * ms / total : 0
        let gmacs = macs > 0 && ms > 0 ? String(format: "%.2f", Double(macs) / (ms * 1e6)) : "-"
        return lpad(String(format: "%.4f", ms), 8) + lpad(String(format: "%.1f%%", share), 8)
            + lpad(macs > 0 ? formatCount(macs) : "-", 10) + lpad(gmacs, 8)
    }

    private func pad(_ s: String, _ width: Int) -> String {
        s.count >= width ? s + " " : s + String(repeating: " ", count: width - s.count)
    }

    private func lpad(_ s: String, _ width: Int) -> String {
        s.count >= width ? " " + s : String(repeating: " ", count: width - s.count) + s
    }
}
