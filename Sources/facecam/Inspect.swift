import ArgumentParser
import Foundation
import Imaging
import Streaming
import Int8Runtime

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
        let reports: [OperatorReport]
        do { reports = try ModelAnalysis.operators(of: loaded, kernels: kernelOptions.kernels) } catch {
            throw CommandError("--kernels \(kernelOptions.kernels): \(error)")
        }
        let problems = reports.compactMap(\.problem)
        var interpreter: Interpreter?
        var prepareError: String?
        if problems.isEmpty {
            var options = Interpreter.Options()
            options.kernels = kernelOptions.kernels
            do { interpreter = try Interpreter(model: loaded, options: options) } catch { prepareError = "\(error)" }
        }
        let totalMacs = reports.reduce(0) { $0 + $1.macs }
        if json {
            printJSON(loaded, reports, interpreter, prepareError, totalMacs)
        } else {
            printText(loaded, reports, interpreter, prepareError, totalMacs)
        }
        if !problems.isEmpty || prepareError != nil { throw ExitCode(2) }
    }

    private func printText(_ m: Model, _ reports: [OperatorReport], _ interpreter: Interpreter?, _ prepareError: String?, _ totalMacs: Int) {
        print("model      \(model)")
        print("file       \(formatBytes(m.fileSize)), schema v\(m.version), \(m.subgraphCount) subgraph(s)\(m.description.map { ", \"\($0)\"" } ?? "")")
        for (kind, list) in [("input ", m.inputs), ("output", m.outputs)] {
            for index in list {
                let t = m.tensors[index]
                print("\(kind)     \(t.index) '\(t.name)' \(t.type) \(t.shapeDescription) \(quantizationText(t))")
            }
        }
        print("\noperators (\(m.operators.count))")
        print("kernels    \(kernelOptions.kernels.resolved) (\(KernelSet.cpuDescription))")
        print(pad("#", 4) + pad("op", 24) + pad("inputs -> output", 44) + pad("MACs", 12) + pad("kernel", 28) + "status")
        for r in reports {
            let ins = r.op.inputs.filter { $0 >= 0 && !m.tensors[$0].isConstant }.map { m.tensors[$0].shapeDescription }.joined(separator: " ")
            let outs = r.op.outputs.map { m.tensors[$0].shapeDescription }.joined(separator: " ")
            let status = r.problem.map { "UNSUPPORTED: \($0.message)" } ?? "ok"
            print(pad("\(r.op.index)", 4) + pad(r.op.customName ?? r.op.opcode.name, 24) + pad("\(ins) -> \(outs)", 44)
                  + pad(r.macs > 0 ? formatCount(r.macs) : "-", 12) + pad(r.kernel ?? "-", 28) + status)
        }
        print("\ntensors (\(m.tensors.count), \(m.tensors.filter(\.isConstant).count) constant)")
        for t in m.tensors where constants || !t.isConstant {
            print(pad("\(t.index)", 5) + pad(t.type.description, 8) + pad(t.shapeDescription, 20) + pad(quantizationText(t), 44)
                  + (t.isConstant ? "const \(formatBytes(t.byteCount)) " : "") + "'\(t.name)'")
        }
        var counts: [String: Int] = [:]
        for op in m.operators { counts[op.opcode.name, default: 0] += 1 }
        print("\nop types   " + counts.sorted { $0.key < $1.key }.map { "\($0.key) x\($0.value)" }.joined(separator: ", "))
        print("MACs       \(formatCount(totalMacs)) per inference")
        let weights = m.tensors.filter(\.isConstant).reduce(0) { $0 + $1.byteCount }
        print("weights    \(formatBytes(weights)) constant data")
        if let interpreter {
            print("arena      \(interpreter.arenaBytes) bytes (\(formatBytes(interpreter.arenaBytes))) for all activations and scratch")
            print("prepared   \(formatBytes(interpreter.preparedBytes)) packed weights, multipliers and tables (kernels: \(interpreter.kernelSet))")
        }
        let unsupported = reports.filter { $0.problem != nil }
        if unsupported.isEmpty && prepareError == nil {
            print("supported  all \(m.operators.count) operators can run")
        } else {
            print("cannot run \(unsupported.count) operator(s):")
            for r in unsupported { print("  \(r.problem!)") }
            if let prepareError { print("  \(prepareError)") }
        }
    }

    private func printJSON(_ m: Model, _ reports: [OperatorReport], _ interpreter: Interpreter?, _ prepareError: String?, _ totalMacs: Int) {
        let ops: [JSON] = reports.map { r in
            .object([("index", .integer(r.op.index)), ("op", .string(r.op.customName ?? r.op.opcode.name)),
                     ("inputs", .array(r.op.inputs.map { .integer($0) })), ("outputs", .array(r.op.outputs.map { .integer($0) })),
                     ("macs", .integer(r.macs)), ("kernel", r.kernel.map { .string($0) } ?? .null),
                     ("supported", .bool(r.problem == nil)),
                     ("problem", r.problem.map { .string($0.description) } ?? .null)])
        }
        let object: JSON = .object([
            ("model", .string(model)), ("file_bytes", .integer(m.fileSize)), ("subgraphs", .integer(m.subgraphCount)),
            ("inputs", .array(m.inputs.map { tensorJSON(m.tensors[$0]) })),
            ("outputs", .array(m.outputs.map { tensorJSON(m.tensors[$0]) })),
            ("operators", .array(ops)),
            ("tensors", .array(m.tensors.filter { constants || !$0.isConstant }.map(tensorJSON))),
            ("total_macs", .integer(totalMacs)),
            ("kernels", .string(kernelOptions.kernels.resolved.rawValue)),
            ("arena_bytes", interpreter.map { .integer($0.arenaBytes) } ?? .null),
            ("prepared_bytes", interpreter.map { .integer($0.preparedBytes) } ?? .null),
            ("unsupported", .array(reports.compactMap { $0.problem.map { .string($0.description) } }
                                   + (prepareError.map { [.string($0)] } ?? []))),
        ])
        print(object.text)
    }

    private func pad(_ s: String, _ width: Int) -> String {
        s.count >= width ? s + " " : s + String(repeating: " ", count: width - s.count)
    }
}
