import ArgumentParser
import Int8Runtime
import Reports

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

    @OptionGroup var threadOptions: ThreadOptions
    var threads: Int { threadOptions.resolvedThreads }

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
        let result = Benchmark.run(interpreter, path: model, threads: threads, loadNs: loadNs, iterations: iterations,
                                   warmup: warmup, profile: profile)
        if json { print(result.json.text) } else { result.lines.forEach { print($0) } }
    }
}
