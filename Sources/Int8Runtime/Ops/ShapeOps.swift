// Shape arithmetic that TFLite converters leave in graphs (e.g. SHAPE -> STRIDED_SLICE -> PACK
// -> RESHAPE in a Keras autoencoder). Every tensor shape is static here, so these integer values
// are known when the interpreter is created: they are folded while planning, and at run time the
// op only writes the known values (a few bytes) in case anything reads the tensor.
// STRIDED_SLICE and PACK of tensors computed at run time are refused.

/// Values of int32/int64 tensors computed while planning (by SHAPE, STRIDED_SLICE, PACK).
/// One per interpreter (or per `inspect`), filled in graph order.
final class FoldedTensors {
    private var values: [Int: [Int]] = [:]

    func set(_ tensor: Int, _ v: [Int]) { values[tensor] = v }
    func get(_ tensor: Int) -> [Int]? { values[tensor] }
}

extension OpContext {
    /// The integer values of `tensor` if they are known before running: a constant, or folded.
    func knownIntegers(_ tensor: Tensor) -> [Int]? {
        if tensor.isConstant { return model.constantIntegers(tensor) }
        return folded.get(tensor.index)
    }

    /// The values of an int32/int64 input that must be known before running.
    func requireKnownIntegers(_ tensor: Tensor, _ role: String) throws -> [Int] {
        try requireType(tensor, role, .int32, .int64)
        guard let values = knownIntegers(tensor) else {
            throw fail(.unsupported, "\(role) \(tensor.label) is computed at run time; only values known when the model is prepared (constants, shape arithmetic) are supported")
        }
        return values
    }
}

extension OpPlanner {
    /// Records the folded values of the op's output and returns the op that writes them.
    static func folded(_ c: OpContext, _ memory: Allocations, _ values: [Int]) throws -> PlannedOp {
        let output = c.output()
        try c.requireType(output, "output", .int32, .int64)
        try c.require(output.elementCount == values.count,
                      "output \(output.label) has shape \(output.shapeDescription) but the op yields \(values.count) values")
        let wide = output.type == .int64
        if !wide {
            try c.require(values.allSatisfy { $0 >= Int(Int32.min) && $0 <= Int(Int32.max) },
                          "values \(values) do not fit the int32 output \(output.label)")
        }
        let bytes = memory.allocate(output.byteCount)
        for (i, v) in values.enumerated() {
            if wide {
                bytes.storeBytes(of: Int64(v).littleEndian, toByteOffset: i * 8, as: Int64.self)
            } else {
                bytes.storeBytes(of: Int32(v).littleEndian, toByteOffset: i * 4, as: Int32.self)
            }
        }
        c.folded.set(output.index, values)
        return PlannedOp(op: c.op, kernel: .fill(source: UnsafeRawPointer(bytes), bytes: output.byteCount))
    }

    static func shape(_ c: OpContext, _ memory: Allocations) throws -> PlannedOp {
        try c.requireCounts(inputs: 1...1, outputs: 1...1)
        let options = try c.options(.shape)
        let outType = try c.read { try options?.scalar(0, UInt8.self, default: TensorType.int32.rawValue) ?? TensorType.int32.rawValue }
        let input = try c.input(0), output = c.output()
        try c.require(outType == output.type.rawValue,
                      "out_type \(TensorType(rawValue: outType)?.description ?? "\(outType)") differs from output \(output.label) (\(output.type))")
        try c.requireShape(output, "output", [input.shape.count])
        return try folded(c, memory, input.shape)
    }

    static func stridedSlice(_ c: OpContext, _ memory: Allocations) throws -> PlannedOp {
        try c.requireCounts(inputs: 4...4, outputs: 1...1)
        let options = try c.options(.stridedSlice)
        let (beginMask, endMask, ellipsisMask, newAxisMask, shrinkMask, offset) = try c.read {
            (try options?.scalar(0, Int32.self, default: 0) ?? 0, try options?.scalar(1, Int32.self, default: 0) ?? 0,
             try options?.scalar(2, Int32.self, default: 0) ?? 0, try options?.scalar(3, Int32.self, default: 0) ?? 0,
             try options?.scalar(4, Int32.self, default: 0) ?? 0, try options?.bool(5) ?? false)
        }
        try c.require(ellipsisMask == 0 && newAxisMask == 0,
                      "ellipsis_mask \(ellipsisMask) and new_axis_mask \(newAxisMask) are not supported (must be 0)", .unsupported)
        try c.require(!offset, "offset = true is not supported", .unsupported)
        let input = try c.input(0), output = c.output()
        try c.require(input.type == output.type, "input is \(input.type) but output is \(output.type)")
        let values = try c.requireKnownIntegers(input, "input")
        let begin = try c.requireKnownIntegers(try c.input(1, "begin"), "begin")
        let end = try c.requireKnownIntegers(try c.input(2, "end"), "end")
        let strides = try c.requireKnownIntegers(try c.input(3, "strides"), "strides")
        let rank = input.shape.count
        try c.require(rank >= 1, "input \(input.label) is a scalar")
        try c.require(begin.count == rank && end.count == rank && strides.count == rank,
                      "begin, end and strides have \(begin.count), \(end.count), \(strides.count) values; expected one per input dimension (\(rank))",
                      .unsupported)

        // TFLite's StartForAxis / StopForAxis: masks, negative indices, clamping.
        var ranges: [(start: Int, stride: Int, count: Int)] = []
        var outputShape: [Int] = []
        for axis in 0..<rank {
            let size = input.shape[axis], stride = strides[axis]
            try c.require(stride != 0, "strides[\(axis)] is 0")
            let shrink = shrinkMask & (1 << axis) != 0
            var start = beginMask & (1 << axis) != 0 ? (stride > 0 ? 0 : size - 1) : begin[axis]
            if start < 0 { start += size }
            if shrink {
                try c.require(stride > 0, "shrink_axis_mask on axis \(axis) with a negative stride is not supported", .unsupported)
                try c.require(start >= 0 && start < size, "begin[\(axis)] = \(begin[axis]) is out of range for dimension \(size)")
                ranges.append((start, 1, 1))
                continue
            }
            var stop = endMask & (1 << axis) != 0 ? (stride > 0 ? size : -1) : end[axis]
            if endMask & (1 << axis) == 0 && stop < 0 { stop += size }
            if stride > 0 {
                start = min(max(start, 0), size); stop = min(max(stop, 0), size)
            } else {
                start = min(max(start, -1), size - 1); stop = min(max(stop, -1), size - 1)
            }
            let span = stride > 0 ? stop - start : start - stop
            let count = span > 0 ? (span + abs(stride) - 1) / abs(stride) : 0
            ranges.append((start, stride, count))
            outputShape.append(count)
        }
        try c.requireShape(output, "output", outputShape)

        // Gather, outermost axis first (row-major).
        var inputStrides = [Int](repeating: 1, count: rank)
        for axis in stride(from: rank - 2, through: 0, by: -1) { inputStrides[axis] = inputStrides[axis + 1] * input.shape[axis + 1] }
        var result: [Int] = []
        func walk(_ axis: Int, _ base: Int) {
            if axis == rank { result.append(values[base]); return }
            let r = ranges[axis]
            for k in 0..<r.count { walk(axis + 1, base + (r.start + k * r.stride) * inputStrides[axis]) }
        }
        walk(0, 0)
        return try folded(c, memory, result)
    }

    static func pack(_ c: OpContext, _ memory: Allocations) throws -> PlannedOp {
        try c.requireCounts(inputs: 1...1024, outputs: 1...1)
        let options = try c.options(.pack)
        let (valuesCount, axisRaw) = try c.read {
            (try options?.scalar(0, Int32.self, default: 0) ?? 0, try options?.scalar(1, Int32.self, default: 0) ?? 0)
        }
        let count = c.op.inputs.count
        try c.require(Int(valuesCount) == count, "values_count is \(valuesCount) but the op has \(count) inputs")
        let inputs = try (0..<count).map { try c.input($0) }
        let shape = inputs[0].shape
        let axis = Int(axisRaw) < 0 ? Int(axisRaw) + shape.count + 1 : Int(axisRaw)
        try c.require(axis >= 0 && axis <= shape.count, "axis \(axisRaw) is out of range for inputs of rank \(shape.count)")
        let output = c.output()
        var values: [[Int]] = []
        for input in inputs {
            try c.require(input.shape == shape, "input \(input.label) has shape \(input.shapeDescription); expected \(inputs[0].shapeDescription)")
            try c.require(input.type == output.type, "input \(input.label) is \(input.type) but output is \(output.type)")
            guard input.type == .int32 || input.type == .int64 else {
                throw c.fail(.unsupported, "PACK of \(input.type) tensors is not supported (only int32/int64 shape arithmetic)")
            }
            values.append(try c.requireKnownIntegers(input, "input"))
        }
        var outputShape = shape
        outputShape.insert(count, at: axis)
        try c.requireShape(output, "output", outputShape)
        // output[outer][k][inner] = input_k[outer][inner]
        let inner = shape[axis...].reduce(1, *), outer = shape[..<axis].reduce(1, *)
        var result: [Int] = []
        result.reserveCapacity(outer * count * inner)
        for o in 0..<outer {
            for k in 0..<count { result += values[k][(o * inner)..<((o + 1) * inner)] }
        }
        return try folded(c, memory, result)
    }

    /// RESHAPE's target shape, when known before running, must be the output tensor's shape
    /// (after resolving one -1): the runtime sizes everything from the file's shapes.
    static func checkReshapeTarget(_ c: OpContext, input: Tensor, output: Tensor) throws {
        var target: [Int]?
        if let shapeTensor = c.optionalInput(1) {
            try c.requireType(shapeTensor, "shape", .int32, .int64)
            target = c.knownIntegers(shapeTensor)
            try c.require(target != nil,
                          "shape \(shapeTensor.label) is computed at run time; only shapes known when the model is prepared are supported",
                          .unsupported)
        } else if let options = try c.options(.reshape), let vector = try c.read({ try options.vector(0, elementSize: 4) }) {
            target = vector.int32s().map { Int($0) }
        }
        guard var shape = target else { return }
        let unknown = shape.indices.filter { shape[$0] == -1 }
        try c.require(unknown.count <= 1 && shape.allSatisfy { $0 >= -1 }, "shape \(shape) is not a valid target shape")
        if let i = unknown.first {
            let known = shape.filter { $0 != -1 }.reduce(1, *)
            try c.require(known > 0 && input.elementCount % known == 0,
                          "shape \(shape) does not fit the \(input.elementCount) elements of \(input.label)")
            shape[i] = input.elementCount / known
        }
        try c.require(shape == output.shape, "target shape \(shape) differs from output \(output.label) \(output.shapeDescription)")
    }
}
