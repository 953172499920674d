import ArgumentParser
import Int8Runtime
import Reports

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print a model's operators, tensors, quantization, MACs, arena size and unsupported ops.")

    @Argument(help: "Path to an int8 .tflite model.")
    var model: String

    @Flag(help: "Print one JSON object instead of tables.")
    var json = false

    @Flag(name: .long, help: "Also list constant tensors (weights, biases) in the tensor table.")
    var constants = false

    @OptionGroup var kernelOptions: KernelOptions

    func run() throws {
        let loaded = try loadModel(model)
        let report: ModelReport
        do { report = try ModelReport(model: loaded, path: model, kernels: kernelOptions.kernels) } catch {
            throw CommandError("--kernels \(kernelOptions.kernels): \(error)")
        }
        if json { print(report.json(constants: constants).text) } else { report.lines(constants: constants).forEach { print($0) } }
        if !report.runnable { throw ExitCode(2) }
    }
}
