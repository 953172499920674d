import ArgumentParser
import Foundation
import Imaging
import Streaming
import Int8Runtime

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure model load time and inference latency (min/median/p90) on random inputs.")

    @Argument(help: "Path to an int8 .tflite model.")
    var model: String

    @Option(help: "Worker threads (1 = single-threaded).")
    var threads = 1

    @Option(help: "Timed inferences.")
    var iterations = 100

    @Option(help: "Untimed inferences first (caches, page faults).")
    var warmup = 5

    @Flag(help: "Use the portable reference kernels instead of the best SIMD set.")
    var reference = false

    @Flag(help: "Print one JSON object.")
    var json = false

    func validate() throws {
        guard threads >= 1 && threads <= 64 else { throw ValidationError("--threads must be in 1...64") }
        guard iterations >= 1 else { throw ValidationError("--iterations must be at least 1") }
        guard warmup >= 0 else { throw ValidationError("--warmup must not be negative") }
    }

    func run() throws {
        if reference { KernelSelection.useReference() }
        let start = monotonicNanoseconds()
        let loaded = try loadModel(model)
        var options = Interpreter.Options()
        options.threads = threads
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
        let rss = peakResidentBytes()

        if json {
            let object: JSON = .object([
                ("model", .string(model)), ("kernels", .string(interpreter.kernelSet)), ("threads", .integer(threads)),
                ("iterations", .integer(iterations)), ("load_ms", .number(Double(loadNs) / 1e6)),
                ("latency_ms", .object([("min", .number(samples[0])), ("median", .number(median)), ("p90", .number(p90)),
                                        ("mean", .number(mean)), ("max", .number(samples.last!))])),
                ("macs", .integer(macs)), ("gmacs_per_s", .number(gmacs)),
                ("arena_bytes", .integer(interpreter.arenaBytes)), ("prepared_bytes", .integer(interpreter.preparedBytes)),
                ("model_bytes", .integer(loaded.fileSize)), ("peak_rss_bytes", .integer(rss)),
            ])
            print(object.text)
        } else {
            print("model     \(model) (\(formatBytes(loaded.fileSize)), \(formatCount(macs)) MACs)")
            print("kernels   \(interpreter.kernelSet), \(threads) thread(s)")
            print(String(format: "load      %.3f ms (parse, validate, pack weights, plan arena)", Double(loadNs) / 1e6))
            print(String(format: "latency   min %.3f ms  median %.3f ms  p90 %.3f ms  mean %.3f ms  (%d runs)",
                         samples[0], median, p90, mean, iterations))
            print(String(format: "speed     %.2f GMAC/s at the median", gmacs))
            print("memory    arena \(formatBytes(interpreter.arenaBytes)), prepared \(formatBytes(interpreter.preparedBytes)), peak RSS \(formatBytes(rss))")
        }
    }
}
