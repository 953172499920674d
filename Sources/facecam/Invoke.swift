import ArgumentParser
import Foundation
import Imaging
import Streaming
import Int8Runtime

struct Invoke: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a model once on raw input files and write raw output files.",
        discussion: """
            Inputs and outputs are the tensors' raw little-endian bytes, in the order of the \
            model's inputs and outputs. Used by tools/compare-litert to check facecam against LiteRT.
            """)

    @Argument(help: "Path to an int8 .tflite model.")
    var model: String

    @Option(name: [.short, .customLong("input")], help: "Raw bytes of one model input (repeat in input order).")
    var inputs: [String] = []

    @Option(name: [.short, .customLong("output")], help: "File for one model output (repeat in output order).")
    var outputs: [String] = []

    @Option(help: "Threads for CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED (split by output rows or channels: identical results for any count; small layers and other operators stay on one thread).")
    var threads = 1

    @OptionGroup var kernelOptions: KernelOptions

    func run() throws {
        let loaded = try loadModel(model)
        var options = Interpreter.Options()
        options.threads = max(1, threads)
        options.kernels = kernelOptions.kernels
        let interpreter = try makeInterpreter(loaded, path: model, options: options)
        guard inputs.count == interpreter.inputCount else {
            throw CommandError("\(model) has \(interpreter.inputCount) input(s); \(inputs.count) given with -i")
        }
        guard outputs.count <= interpreter.outputCount else {
            throw CommandError("\(model) has \(interpreter.outputCount) output(s); \(outputs.count) given with -o")
        }
        for (i, path) in inputs.enumerated() {
            do { try interpreter.setInput(i, try readFile(path)) } catch let error as ModelError {
                throw CommandError("\(path): \(error.message)")
            }
        }
        interpreter.invoke()
        for (i, path) in outputs.enumerated() {
            try writeFile(path, interpreter.outputBuffer(i))
        }
    }
}
