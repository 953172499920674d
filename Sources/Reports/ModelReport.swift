// `facecam inspect`: a model's operators, tensors, quantization, MACs, arena and what cannot run.
import Int8Runtime
import Streaming

public struct ModelReport {
    public let path: String
    public let model: Model
    public let kernels: KernelSet
    public let operators: [OperatorReport]
    /// Prepared when every operator is supported, to report the arena and packed weights.
    public let interpreter: Interpreter?
    public let prepareError: String?
    public var totalMacs: Int { operators.reduce(0) { $0 + $1.macs } }
    /// True when every operator is supported and the interpreter prepared.
    public var runnable: Bool { operators.allSatisfy { $0.problem == nil } && prepareError == nil }

    public init(model: Model, path: String, kernels: KernelSet) throws(KernelSetUnavailable) {
        self.path = path
        self.model = model
        self.kernels = kernels
        operators = try ModelAnalysis.operators(of: model, kernels: kernels)
        var interpreter: Interpreter?
        var prepareError: String?
        if operators.allSatisfy({ $0.problem == nil }) {
            var options = Interpreter.Options()
            options.kernels = kernels
            do { interpreter = try Interpreter(model: model, options: options) } catch { prepareError = "\(error)" }
        }
        self.interpreter = interpreter
        self.prepareError = prepareError
    }

    /// The tables, line by line; `constants` also lists weights and biases.
    public func lines(constants: Bool) -> [String] {
        let m = model
        var out = ["model      \(path)",
                   "file       \(formatBytes(m.fileSize)), schema v\(m.version), \(m.subgraphCount) subgraph(s)\(m.description.map { ", \"\($0)\"" } ?? "")"]
        for (kind, list) in [("input ", m.inputs), ("output", m.outputs)] {
            for index in list {
                let t = m.tensors[index]
                out.append("\(kind)     \(t.index) '\(t.name)' \(t.type) \(t.shapeDescription) \(quantizationText(t))")
            }
        }
        out.append("\noperators (\(m.operators.count))")
        out.append("kernels    \(kernels.resolved) (\(KernelSet.cpuDescription))")
        out.append(pad("#", 4) + pad("op", 24) + pad("inputs -> output", 44) + pad("MACs", 12) + pad("kernel", 28) + "status")
        for r in operators {
            let ins = r.op.inputs.filter { $0 >= 0 && !m.tensors[$0].isConstant }.map { m.tensors[$0].shapeDescription }.joined(separator: " ")
            let outs = r.op.outputs.map { m.tensors[$0].shapeDescription }.joined(separator: " ")
            let status = r.problem.map { "UNSUPPORTED: \($0.message)" } ?? "ok"
            out.append(pad("\(r.op.index)", 4) + pad(r.op.customName ?? r.op.opcode.name, 24) + pad("\(ins) -> \(outs)", 44)
                       + pad(r.macs > 0 ? formatCount(r.macs) : "-", 12) + pad(r.kernel ?? "-", 28) + status)
        }
        out.append("\ntensors (\(m.tensors.count), \(m.tensors.filter(\.isConstant).count) constant)")
        for t in m.tensors where constants || !t.isConstant {
            out.append(pad("\(t.index)", 5) + pad(t.type.description, 8) + pad(t.shapeDescription, 20) + pad(quantizationText(t), 44)
                       + (t.isConstant ? "const \(formatBytes(t.byteCount)) " : "") + "'\(t.name)'")
        }
        var counts: [String: Int] = [:]
        for op in m.operators { counts[op.opcode.name, default: 0] += 1 }
        out.append("\nop types   " + counts.sorted { $0.key < $1.key }.map { "\($0.key) x\($0.value)" }.joined(separator: ", "))
        out.append("MACs       \(formatCount(totalMacs)) per inference")
        let weights = m.tensors.filter(\.isConstant).reduce(0) { $0 + $1.byteCount }
        out.append("weights    \(formatBytes(weights)) constant data")
        if let interpreter {
            out.append("arena      \(interpreter.arenaBytes) bytes (\(formatBytes(interpreter.arenaBytes))) for all activations and scratch")
            out.append("prepared   \(formatBytes(interpreter.preparedBytes)) packed weights, multipliers and tables (kernels: \(interpreter.kernelSet))")
        }
        let unsupported = operators.filter { $0.problem != nil }
        if unsupported.isEmpty && prepareError == nil {
            out.append("supported  all \(m.operators.count) operators can run")
        } else {
            out.append("cannot run \(unsupported.count) operator(s):")
            for r in unsupported { out.append("  \(r.problem!)") }
            if let prepareError { out.append("  \(prepareError)") }
        }
        return out
    }

    public func json(constants: Bool) -> JSON {
        let m = model
        let ops: [JSON] = operators.map { r in
            .object([("index", .integer(r.op.index)), ("op", .string(r.op.customName ?? r.op.opcode.name)),
                     ("inputs", .array(r.op.inputs.map { .integer($0) })), ("outputs", .array(r.op.outputs.map { .integer($0) })),
                     ("macs", .integer(r.macs)), ("kernel", r.kernel.map { .string($0) } ?? .null),
                     ("supported", .bool(r.problem == nil)),
                     ("problem", r.problem.map { .string($0.description) } ?? .null)])
        }
        return .object([
            ("model", .string(path)), ("file_bytes", .integer(m.fileSize)), ("subgraphs", .integer(m.subgraphCount)),
            ("inputs", .array(m.inputs.map { tensorJSON(m.tensors[$0]) })),
            ("outputs", .array(m.outputs.map { tensorJSON(m.tensors[$0]) })),
            ("operators", .array(ops)),
            ("tensors", .array(m.tensors.filter { constants || !$0.isConstant }.map(tensorJSON))),
            ("total_macs", .integer(totalMacs)),
            ("kernels", .string(kernels.resolved.rawValue)),
            ("arena_bytes", interpreter.map { .integer($0.arenaBytes) } ?? .null),
            ("prepared_bytes", interpreter.map { .integer($0.preparedBytes) } ?? .null),
            ("unsupported", .array(operators.compactMap { $0.problem.map { .string($0.description) } }
                                   + (prepareError.map { [.string($0)] } ?? []))),
        ])
    }
}
