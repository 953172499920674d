// Public read-only views of the operator options that code outside the runtime needs, e.g. to
// rebuild the final layers of a model in float for on-device adaptation. The interpreter reads
// the same fields in Ops/OpPlanner.swift; both go through OpContext so errors name the op.

/// Geometry and fused activation of a CONV_2D operator.
public struct ConvolutionOptions: Sendable, Equatable {
    public let padding: Padding
    public let strideHeight: Int, strideWidth: Int
    public let dilationHeight: Int, dilationWidth: Int
    public let activation: FusedActivation
}

extension Model {
    /// CONV_2D options of `op`; throws a ModelError naming the op when it is not a valid CONV_2D.
    public func convolutionOptions(_ op: Operator) throws -> ConvolutionOptions {
        let c = OpContext(model: self, op: op)
        try c.require(op.opcode == .conv2D, "is not CONV_2D")
        guard let options = try c.options(.conv2D) else { throw c.fail(.malformed, "missing Conv2DOptions") }
        return try c.read {
            ConvolutionOptions(
                padding: try c.padding(try options.scalar(0, Int8.self, default: 0)),
                strideHeight: Int(try options.scalar(2, Int32.self, default: 0)),
                strideWidth: Int(try options.scalar(1, Int32.self, default: 0)),
                dilationHeight: Int(try options.scalar(5, Int32.self, default: 1)),
                dilationWidth: Int(try options.scalar(4, Int32.self, default: 1)),
                activation: try c.fusedActivation(try options.scalar(3, Int8.self, default: 0)))
        }
    }

    /// Fused activation of a FULLY_CONNECTED operator.
    public func fullyConnectedActivation(_ op: Operator) throws -> FusedActivation {
        let c = OpContext(model: self, op: op)
        try c.require(op.opcode == .fullyConnected, "is not FULLY_CONNECTED")
        let options = try c.options(.fullyConnected)
        return try c.read { try c.fusedActivation(try options?.scalar(0, Int8.self, default: 0) ?? 0) }
    }

    /// Beta of a SOFTMAX operator.
    public func softmaxBeta(_ op: Operator) throws -> Float {
        let c = OpContext(model: self, op: op)
        try c.require(op.opcode == .softmax, "is not SOFTMAX")
        let options = try c.options(.softmax)
        return try c.read { try options?.float(0, default: 0) ?? 0 }
    }
}
