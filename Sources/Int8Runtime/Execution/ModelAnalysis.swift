// What `facecam inspect` reports: per-operator work and whether facecam can run it, without
// stopping at the first problem.
import CInt8

public struct OperatorReport: Sendable {
    public let op: Operator
    /// Multiply-accumulates per inference (0 for ops without a MAC loop).
    public let macs: Int
    /// The micro-kernel that would run it with the analysed kernel set (nil with a problem).
    public let kernel: String?
    /// Why the operator cannot run, or nil.
    public let problem: ModelError?
}

public enum ModelAnalysis {
    /// Checks every operator independently, selecting micro-kernels from `kernels`.
    public static func operators(of model: Model, kernels: KernelSet = .best) throws(KernelSetUnavailable) -> [OperatorReport] {
        let table = try kernels.table()
        let memory = Allocations()
        let folded = FoldedTensors()
        return model.operators.map { op in
            do {
                let plan = try OpPlanner.plan(OpContext(model: model, op: op, kernels: table.pointer, folded: folded), memory)
                return OperatorReport(op: op, macs: plan.macs, kernel: plan.kernel.name, problem: nil)
            } catch let error as ModelError {
                return OperatorReport(op: op, macs: 0, kernel: nil, problem: error)
            } catch {
                return OperatorReport(op: op, macs: 0, kernel: nil, problem: ModelError(.invalid, "\(op.label): \(error)"))
            }
        }
    }
}
