// Helpers shared by the per-op preparation code: checked access to an operator's tensors and
// options, quantization parameters, activation ranges and TFLite's padding arithmetic.
import CInt8

/// What a preparation function sees of one operator.
struct OpContext {
    let model: Model
    let op: Operator
    /// The kernel set's table the planner selects the operator's micro-kernel from (nil when
    /// only reading options; selecting then fails with "bad parameters").
    var kernels: OpaquePointer? = nil
    /// Integer tensors folded so far (shape arithmetic); shared by all ops of one plan.
    var folded = FoldedTensors()

    var label: String { op.label }

    func fail(_ kind: ModelError.Kind, _ message: String) -> ModelError {
        ModelError(kind, "\(op.label): \(message)")
    }

    func require(_ condition: Bool, _ message: @autoclosure () -> String,
                 _ kind: ModelError.Kind = .invalid) throws {
        if !condition { throw fail(kind, message()) }
    }

    func requireCounts(inputs: ClosedRange<Int>, outputs: ClosedRange<Int>) throws {
        try require(inputs.contains(op.inputs.count),
                     "has \(op.inputs.count) inputs, expected \(inputs.lowerBound == inputs.upperBound ? "\(inputs.lowerBound)" : "\(inputs.lowerBound)...\(inputs.upperBound)")", .malformed)
        try require(outputs.contains(op.outputs.count),
                     "has \(op.outputs.count) outputs, expected \(outputs.lowerBound)", .malformed)
    }

    /// Input `i`; nil when the optional input is omitted (-1 or absent).
    func optionalInput(_ i: Int) -> Tensor? {
        guard i < op.inputs.count, op.inputs[i] >= 0 else { return nil }
        return model.tensors[op.inputs[i]]
    }

    func input(_ i: Int, _ role: String = "input") throws -> Tensor {
        guard let tensor = optionalInput(i) else { throw fail(.malformed, "\(role) (input \(i)) is missing") }
        return tensor
    }

    func output(_ i: Int = 0) -> Tensor { model.tensors[op.outputs[i]] }

    /// The builtin options table, checked to be of the type this op expects. nil if absent.
    func options(_ expected: BuiltinOptionsType) throws -> FBTable? {
        guard let table = op.options else { return nil }
        try require(op.optionsType == expected.rawValue,
                    "options are of union type \(op.optionsType), expected \(expected.rawValue) (\(expected))", .malformed)
        return table
    }

    /// Reads option fields, turning FlatBuffer errors into errors that name this op.
    func read<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch let error as FlatBufferError {
            throw fail(.malformed, "options: \(error.description)")
        }
    }

    func requireType(_ tensor: Tensor, _ role: String, _ types: TensorType...) throws {
        try require(types.contains(tensor.type),
                    "\(role) \(tensor.label) is \(tensor.type); expected \(types.map(\.description).joined(separator: " or "))",
                    .unsupported)
    }

    func requireRank(_ tensor: Tensor, _ role: String, _ rank: Int) throws {
        try require(tensor.shape.count == rank, "\(role) \(tensor.label) has shape \(tensor.shapeDescription); expected rank \(rank)")
    }

    func requireConstant(_ tensor: Tensor, _ role: String) throws {
        try require(tensor.isConstant, "\(role) \(tensor.label) must be a constant", .unsupported)
    }

    func requireShape(_ tensor: Tensor, _ role: String, _ shape: [Int]) throws {
        try require(tensor.shape == shape,
                    "\(role) \(tensor.label) has shape \(tensor.shapeDescription); expected [\(shape.map(String.init).joined(separator: ", "))]")
    }

    /// Per-tensor int8 quantization of an activation tensor.
    func int8Quantization(_ tensor: Tensor, _ role: String) throws -> (scale: Float, zeroPoint: Int32) {
        try requireType(tensor, role, .int8)
        guard let q = tensor.quantization else {
            throw fail(.invalid, "\(role) \(tensor.label) is int8 without quantization parameters")
        }
        try require(q.isPerTensor, "\(role) \(tensor.label) has per-channel quantization; expected one scale", .unsupported)
        return (q.scale, q.zeroPoint)
    }

    /// Symmetric int8 weights: returns the scales (one, or one per channel along `channelDimension`).
    func weightScales(_ tensor: Tensor, _ role: String, channelDimension: Int, channels: Int) throws -> [Float] {
        try requireType(tensor, role, .int8)
        guard let q = tensor.quantization else {
            throw fail(.invalid, "\(role) \(tensor.label) is int8 without quantization parameters")
        }
        try require(q.zeroPoints.allSatisfy { $0 == 0 }, "\(role) \(tensor.label) has non-zero zero points; int8 weights must be symmetric", .unsupported)
        if q.scales.count > 1 {
            try require(q.quantizedDimension == channelDimension && q.scales.count == channels,
                        "\(role) \(tensor.label) has \(q.scales.count) scales along dimension \(q.quantizedDimension); expected \(channels) along dimension \(channelDimension)")
        }
        return q.scales
    }

    /// The int32 bias of a convolution or fully connected op, copied (aligned) or nil.
    func bias(_ index: Int, channels: Int) throws -> [Int32]? {
        guard let tensor = optionalInput(index) else { return nil }
        try requireType(tensor, "bias", .int32)
        try requireConstant(tensor, "bias")
        try require(tensor.elementCount == channels, "bias \(tensor.label) has \(tensor.elementCount) elements; expected \(channels)")
        return model.constantIntegers(tensor)!.map { Int32(truncatingIfNeeded: $0) }
    }

    func fusedActivation(_ raw: Int8) throws -> FusedActivation {
        guard let activation = FusedActivation(rawValue: raw) else {
            throw fail(.malformed, "unknown fused activation \(raw)")
        }
        return activation
    }

    /// TFLite's CalculateActivationRangeQuantized for an int8 output.
    func activationRange(_ activation: FusedActivation, scale: Float, zeroPoint: Int32) throws -> (Int32, Int32) {
        func quantize(_ value: Float) -> Int32 {
            let q = (value / scale).rounded(.toNearestOrAwayFromZero)
            return zeroPoint + Int32(max(-1e9, min(1e9, q)))
        }
        switch activation {
        case .none: return (-128, 127)
        case .relu: return (max(-128, quantize(0)), 127)
        case .relu6: return (max(-128, quantize(0)), min(127, quantize(6)))
        case .reluN1To1: return (max(-128, quantize(-1)), min(127, quantize(1)))
        case .tanh, .signBit: throw fail(.unsupported, "fused activation \(activation) is not supported")
        }
    }

    func padding(_ raw: Int8) throws -> Padding {
        guard let padding = Padding(rawValue: raw) else { throw fail(.malformed, "unknown padding \(raw)") }
        return padding
    }

    func requirePositive(_ value: Int32, _ name: String, limit: Int32 = 1 << 16) throws {
        try require(value >= 1 && value <= limit, "\(name) is \(value); expected 1...\(limit)")
    }

    func requireSameQuantization(_ a: Tensor, _ b: Tensor) throws {
        let qa = try int8Quantization(a, "input")
        let qb = try int8Quantization(b, "output")
        try require(qa.scale == qb.scale && qa.zeroPoint == qb.zeroPoint,
                    "input \(a.label) (scale \(qa.scale), zero point \(qa.zeroPoint)) and output \(b.label) (scale \(qb.scale), zero point \(qb.zeroPoint)) must share quantization",
                    .unsupported)
    }
}

/// TFLite's output-size and padding formulas for SAME and VALID.
enum Geometry {
    static func outputSize(_ padding: Padding, input: Int, filter: Int, stride: Int, dilation: Int) -> Int {
        let effective = (filter - 1) * dilation + 1
        switch padding {
        case .same: return (input + stride - 1) / stride
        case .valid: return (input + stride - effective) / stride
        }
    }

    static func paddingBefore(input: Int, filter: Int, stride: Int, dilation: Int, output: Int) -> Int {
        let effective = (filter - 1) * dilation + 1
        let total = (output - 1) * stride + effective - input
        return max(total, 0) / 2
    }
}

/// Broadcasting of two shapes, right-aligned as TFLite does, into cint8's fixed-rank form.
enum Broadcast {
    static let maxRank = Int(CI8_MAX_RANK)

    static func shape(_ a: [Int], _ b: [Int]) -> [Int]? {
        let rank = max(a.count, b.count)
        var result: [Int] = []
        for i in 0..<rank {
            let da = i < rank - a.count ? 1 : a[i - (rank - a.count)]
            let db = i < rank - b.count ? 1 : b[i - (rank - b.count)]
            if da == db || db == 1 { result.append(da) } else if da == 1 { result.append(db) } else { return nil }
        }
        return result
    }

    /// Strides (in elements) of `input`, right-aligned to the fixed rank (0 where the input has
    /// size 1: broadcast, or a unit dimension).
    static func strides(_ input: [Int]) -> [Int32] {
        let padded = Array(repeating: 1, count: maxRank - input.count) + input
        var strides = [Int32](repeating: 0, count: maxRank)
        var running = 1
        for i in stride(from: maxRank - 1, through: 0, by: -1) {
            strides[i] = padded[i] == 1 ? 0 : Int32(running)
            running *= padded[i]
        }
        return strides
    }

    static func descriptor(_ a: [Int], _ b: [Int], output: [Int]) -> ci8_broadcast {
        var d = ci8_broadcast()
        let outputPadded = (Array(repeating: 1, count: maxRank - output.count) + output).map { Int32($0) }
        let sa = strides(a)
        let sb = strides(b)
        withUnsafeMutableBytes(of: &d.output_shape) { raw in
            let p = raw.bindMemory(to: Int32.self)
            for i in 0..<maxRank { p[i] = outputPadded[i] }
        }
        withUnsafeMutableBytes(of: &d.input1_strides) { raw in
            let p = raw.bindMemory(to: Int32.self)
            for i in 0..<maxRank { p[i] = sa[i] }
        }
        withUnsafeMutableBytes(of: &d.input2_strides) { raw in
            let p = raw.bindMemory(to: Int32.self)
            for i in 0..<maxRank { p[i] = sb[i] }
        }
        return d
    }
}

/// Writes `values` into a fixed-size C array imported as a tuple.
func setTuple<T>(_ tuple: inout T, _ values: [Int32]) {
    withUnsafeMutableBytes(of: &tuple) { raw in
        let p = raw.bindMemory(to: Int32.self)
        precondition(values.count <= p.count)
        for i in 0..<values.count { p[i] = values[i] }
    }
}
