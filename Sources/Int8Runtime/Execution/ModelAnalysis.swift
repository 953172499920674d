// What `facecam inspect` reports: per-operator work and whether facecam can run it, without
// stopping at the first problem.
import CInt8

public struct OperatorReport: Sendable {
    public let op: Operator
    /// Multiply-accumulates per inference (0 for ops without a MAC loop).
    public let macs: Int
    /// Why the operator cannot run, or nil.
    public let problem: ModelError?
}

public enum ModelAnalysis {
    /// Checks every operator independently.
    public static func operators(of model: Model) -> [OperatorReport] {
        let memory = Allocations()
        let folded = FoldedTensors()
        return model.operators.map { op in
            do {
                let plan = try OpPlanner.plan(OpContext(model: model, op: op, folded: folded), memory)
                return OperatorReport(op: op, macs: plan.macs, problem: nil)
            } catch let error as ModelError {
                return OperatorReport(op: op, macs: 0, problem: error)
            } catch {
                return OperatorReport(op: op, macs: 0, problem: ModelError(.invalid, "\(op.label): \(error)"))
            }
        }
    }
}

/// The kernel sets this build and CPU offer (cint8's run-time dispatch).
public enum KernelSelection {
    public static var detected: String { String(cString: ci8_isa_name(ci8_detect_isa())) }
    public static var selected: String { String(cString: ci8_isa_name(ci8_selected_isa())) }

    /// Forces the portable reference kernels (for checking SIMD results against them).
    /// Must be called before any Interpreter is created.
    public static func useReference() { _ = ci8_select_kernels(CI8_ISA_REFERENCE) }
    /// Selects the best kernel set for this CPU (the default).
    public static func useBest() { _ = ci8_select_kernels(ci8_detect_isa()) }
}
