// Turns each TFLite operator into a cint8 kernel call: checks everything the kernel relies on
// (types, shapes, options, quantization) and fills the kernel descriptor. Work that does not
// depend on activations (weight packing, multipliers, lookup tables) is done by `prepare`.
import CInt8

/// Memory owned by an interpreter for its lifetime (lookup tables, scales, pointer lists).
final class Allocations {
    private var blocks: [UnsafeMutableRawPointer] = []
    private(set) var totalBytes = 0

    func allocate(_ byteCount: Int, alignment: Int = 64) -> UnsafeMutableRawPointer {
        let block = UnsafeMutableRawPointer.allocate(byteCount: max(byteCount, 1), alignment: alignment)
        block.initializeMemory(as: UInt8.self, repeating: 0, count: max(byteCount, 1))
        blocks.append(block)
        totalBytes += byteCount
        return block
    }

    func copy<T>(_ values: [T]) -> UnsafeMutablePointer<T> {
        let raw = allocate(values.count * MemoryLayout<T>.stride, alignment: max(MemoryLayout<T>.alignment, 16))
        let typed = raw.bindMemory(to: T.self, capacity: max(values.count, 1))
        for (i, value) in values.enumerated() { (typed + i).initialize(to: value) }
        return typed
    }

    deinit { blocks.forEach { $0.deallocate() } }
}

/// The kernel an operator runs, with its descriptor (which holds the selected micro-kernel).
enum Kernel {
    case conv2D(ci8_conv2d)
    case depthwiseConv2D(ci8_conv2d)
    case fullyConnected(ci8_fully_connected)
    case add(ci8_binary)
    case mul(ci8_binary)
    case prelu(ci8_binary)
    case maxPool2D(ci8_pool2d)
    case averagePool2D(ci8_pool2d)
    case mean(ci8_mean_hw)
    case pad(ci8_pad)
    case concatenation(ci8_concat)
    case copy(bytes: Int)
    /// Writes bytes known when planning (folded shape arithmetic).
    case fill(source: UnsafeRawPointer, bytes: Int)
    case softmax(ci8_softmax)
    case lookup(table: UnsafeMutablePointer<Int8>, count: Int)
    case blockedLookup(block: UnsafeMutablePointer<Int8>, tail: UnsafeMutablePointer<Int8>, count: Int)
    case quantizeFloat(ci8_quantize_f32)
    case dequantize(scale: Float, zeroPoint: Int32, count: Int)
    case resizeNearest(ci8_resize)
    case resizeBilinear(ci8_resize)

    /// The micro-kernel's name, e.g. "qs8-dwconv/4x16c-avx2" or "qs8-dwconv/ref".
    var name: String {
        switch self {
        case .conv2D(var d), .depthwiseConv2D(var d): return String(cString: ci8_conv2d_kernel_name(&d))
        case .fullyConnected(var d): return String(cString: ci8_fully_connected_kernel_name(&d))
        case .add(var d), .mul(var d), .prelu(var d): return String(cString: ci8_binary_kernel_name(&d))
        case .maxPool2D(var d), .averagePool2D(var d): return String(cString: ci8_pool2d_kernel_name(&d))
        case .mean(var d): return String(cString: ci8_mean_hw_kernel_name(&d))
        case .softmax(var d): return String(cString: ci8_softmax_kernel_name(&d))
        case .pad: return CI8_KERNEL_PAD
        case .concatenation: return CI8_KERNEL_CONCAT
        case .copy: return CI8_KERNEL_COPY
        // SHAPE, STRIDED_SLICE and PACK of static shapes: values computed once, copied per run.
        case .fill: return "folded"
        case .lookup: return CI8_KERNEL_LUT
        case .blockedLookup: return CI8_KERNEL_REQUANTIZE
        case .quantizeFloat(var d): return String(cString: ci8_quantize_f32_kernel_name(&d))
        case .dequantize: return CI8_KERNEL_DEQUANTIZE_F32
        case .resizeNearest: return CI8_KERNEL_RESIZE_NEAREST
        case .resizeBilinear: return CI8_KERNEL_RESIZE_BILINEAR
        }
    }
}

/// One operator after checking: its kernel and what preparation and execution need.
struct PlannedOp {
    let op: Operator
    var kernel: Kernel
    /// Constant weights and bias packed by `prepare` (convolutions, fully connected).
    var weights: Tensor?
    var bias: [Int32]?
    /// Multiply-accumulates per inference.
    var macs: Int = 0
    var preparedBytes: Int = 0
    var scratchBytes: Int = 0
}

enum OpPlanner {
    static func plan(_ c: OpContext, _ memory: Allocations) throws -> PlannedOp {
        let op = c.op
        if op.opcode == .custom {
            throw c.fail(.unsupported, "custom operators are not supported")
        }
        switch op.opcode {
        case .conv2D: return try conv2D(c, memory)
        case .depthwiseConv2D: return try depthwiseConv2D(c, memory)
        case .fullyConnected: return try fullyConnected(c, memory)
        case .add, .mul: return try addOrMul(c)
        case .prelu: return try prelu(c)
        case .maxPool2D, .averagePool2D: return try pool(c)
        case .mean: return try mean(c)
        case .pad, .padV2: return try pad(c)
        case .concatenation: return try concatenation(c, memory)
        case .reshape: return try reshape(c, memory)
        case .shape: return try shape(c, memory)
        case .stridedSlice: return try stridedSlice(c, memory)
        case .pack: return try pack(c, memory)
        case .softmax: return try softmax(c)
        case .relu, .relu6, .reluN1To1, .leakyRelu, .logistic, .tanh, .hardSwish:
            return try unaryLookup(c, memory)
        case .quantize: return try quantize(c, memory)
        case .dequantize: return try dequantize(c)
        case .resizeBilinear, .resizeNearestNeighbor: return try resize(c)
        default:
            throw c.fail(.unsupported, "operator type \(op.opcode.name) is not supported")
        }
    }

    // MARK: Convolutions

    private static func conv2D(_ c: OpContext, _ memory: Allocations) throws -> PlannedOp {
        try c.requireCounts(inputs: 2...3, outputs: 1...1)
        guard let options = try c.options(.conv2D) else { throw c.fail(.malformed, "missing Conv2DOptions") }
        let (paddingRaw, strideW, strideH, activationRaw, dilationW, dilationH) = try c.read {
            (try options.scalar(0, Int8.self, default: 0), try options.scalar(1, Int32.self, default: 0),
             try options.scalar(2, Int32.self, default: 0), try options.scalar(3, Int8.self, default: 0),
             try options.scalar(4, Int32.self, default: 1), try options.scalar(5, Int32.self, default: 1))
        }
        let input = try c.input(0), filter = try c.input(1, "filter"), output = c.output()
        try c.requireRank(input, "input", 4)
        try c.requireRank(filter, "filter", 4)
        try c.requireConstant(filter, "filter")
        let (n, h, w, ic) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3])
        let (oc, kh, kw, fic) = (filter.shape[0], filter.shape[1], filter.shape[2], filter.shape[3])
        try c.require(fic == ic, "filter \(filter.label) has \(fic) input channels but the input has \(ic) (grouped convolution is not supported)", .unsupported)
        let scales = try c.weightScales(filter, "filter", channelDimension: 0, channels: oc)
        return try convolution(c, memory, depthwise: false, input: input, output: output, filter: filter, scales: scales,
                               geometry: (n, h, w, ic, oc, kh, kw, 1), paddingRaw: paddingRaw,
                               strides: (strideH, strideW), dilations: (dilationH, dilationW), activationRaw: activationRaw,
                               macsPerOutput: kh * kw * ic)
    }

    private static func depthwiseConv2D(_ c: OpContext, _ memory: Allocations) throws -> PlannedOp {
        try c.requireCounts(inputs: 2...3, outputs: 1...1)
        guard let options = try c.options(.depthwiseConv2D) else { throw c.fail(.malformed, "missing DepthwiseConv2DOptions") }
        let (paddingRaw, strideW, strideH, multiplier, activationRaw, dilationW, dilationH) = try c.read {
            (try options.scalar(0, Int8.self, default: 0), try options.scalar(1, Int32.self, default: 0),
             try options.scalar(2, Int32.self, default: 0), try options.scalar(3, Int32.self, default: 0),
             try options.scalar(4, Int8.self, default: 0), try options.scalar(5, Int32.self, default: 1),
             try options.scalar(6, Int32.self, default: 1))
        }
        let input = try c.input(0), filter = try c.input(1, "filter"), output = c.output()
        try c.requireRank(input, "input", 4)
        try c.requireRank(filter, "filter", 4)
        try c.requireConstant(filter, "filter")
        let (n, h, w, ic) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3])
        let (one, kh, kw, oc) = (filter.shape[0], filter.shape[1], filter.shape[2], filter.shape[3])
        try c.require(one == 1, "filter \(filter.label) has shape \(filter.shapeDescription); expected [1, h, w, channels]")
        try c.require(ic > 0 && oc % ic == 0, "filter \(filter.label) has \(oc) channels, not a multiple of the input's \(ic)")
        let depthMultiplier = oc / max(ic, 1)
        try c.require(multiplier == 0 || Int(multiplier) == depthMultiplier,
                      "depth_multiplier is \(multiplier) but filter and input channels imply \(depthMultiplier)")
        let scales = try c.weightScales(filter, "filter", channelDimension: 3, channels: oc)
        return try convolution(c, memory, depthwise: true, input: input, output: output, filter: filter, scales: scales,
                               geometry: (n, h, w, ic, oc, kh, kw, depthMultiplier), paddingRaw: paddingRaw,
                               strides: (strideH, strideW), dilations: (dilationH, dilationW), activationRaw: activationRaw,
                               macsPerOutput: kh * kw)
    }

    private static func convolution(
        _ c: OpContext, _ memory: Allocations, depthwise: Bool, input: Tensor, output: Tensor, filter: Tensor, scales: [Float],
        geometry g: (n: Int, h: Int, w: Int, ic: Int, oc: Int, kh: Int, kw: Int, multiplier: Int), paddingRaw: Int8,
        strides: (Int32, Int32), dilations: (Int32, Int32), activationRaw: Int8, macsPerOutput: Int
    ) throws -> PlannedOp {
        try c.requirePositive(strides.0, "stride_h")
        try c.requirePositive(strides.1, "stride_w")
        try c.requirePositive(dilations.0, "dilation_h_factor")
        try c.requirePositive(dilations.1, "dilation_w_factor")
        let padding = try c.padding(paddingRaw)
        let activation = try c.fusedActivation(activationRaw)
        let inQ = try c.int8Quantization(input, "input")
        let outQ = try c.int8Quantization(output, "output")
        try c.require(g.kh > 0 && g.kw > 0 && g.oc > 0, "filter \(filter.label) has an empty dimension")
        let (sh, sw, dh, dw) = (Int(strides.0), Int(strides.1), Int(dilations.0), Int(dilations.1))
        let oh = Geometry.outputSize(padding, input: g.h, filter: g.kh, stride: sh, dilation: dh)
        let ow = Geometry.outputSize(padding, input: g.w, filter: g.kw, stride: sw, dilation: dw)
        try c.require(oh > 0 && ow > 0, "filter \(g.kh)x\(g.kw) (dilation \(dh)x\(dw)) does not fit the \(g.h)x\(g.w) input")
        try c.requireShape(output, "output", [g.n, oh, ow, g.oc])
        let bias = try c.bias(2, channels: g.oc)
        let (lo, hi) = try c.activationRange(activation, scale: outQ.scale, zeroPoint: outQ.zeroPoint)

        var d = ci8_conv2d()
        d.batches = Int32(g.n); d.input_height = Int32(g.h); d.input_width = Int32(g.w); d.input_channels = Int32(g.ic)
        d.output_height = Int32(oh); d.output_width = Int32(ow); d.output_channels = Int32(g.oc)
        d.filter_height = Int32(g.kh); d.filter_width = Int32(g.kw)
        d.stride_height = strides.0; d.stride_width = strides.1
        d.dilation_height = dilations.0; d.dilation_width = dilations.1
        d.padding_top = Int32(Geometry.paddingBefore(input: g.h, filter: g.kh, stride: sh, dilation: dh, output: oh))
        d.padding_left = Int32(Geometry.paddingBefore(input: g.w, filter: g.kw, stride: sw, dilation: dw, output: ow))
        d.depth_multiplier = Int32(g.multiplier)
        d.input_scale = inQ.scale; d.output_scale = outQ.scale
        d.input_zero_point = inQ.zeroPoint; d.output_zero_point = outQ.zeroPoint
        d.activation_min = lo; d.activation_max = hi
        d.filter_scales = UnsafePointer(memory.copy(scales))
        d.filter_scale_count = Int32(scales.count)

        try check(depthwise ? ci8_depthwise_conv2d_select(c.kernels, &d) : ci8_conv2d_select(c.kernels, &d), c)
        var planned = PlannedOp(op: c.op, kernel: depthwise ? .depthwiseConv2D(d) : .conv2D(d), weights: filter, bias: bias)
        planned.macs = g.n * oh * ow * g.oc * macsPerOutput
        planned.preparedBytes = ci8_conv2d_prepared_size(&d)
        planned.scratchBytes = ci8_conv2d_scratch_size(&d)
        return planned
    }

    private static func fullyConnected(_ c: OpContext, _ memory: Allocations) throws -> PlannedOp {
        try c.requireCounts(inputs: 2...3, outputs: 1...1)
        let options = try c.options(.fullyConnected)
        let (activationRaw, format, keepDims) = try c.read {
            (try options?.scalar(0, Int8.self, default: 0) ?? 0, try options?.scalar(1, Int8.self, default: 0) ?? 0,
             try options?.bool(2) ?? false)
        }
        try c.require(format == 0, "weights_format \(format) is not supported", .unsupported)
        let input = try c.input(0), weights = try c.input(1, "weights"), output = c.output()
        try c.requireRank(weights, "weights", 2)
        try c.requireConstant(weights, "weights")
        let (units, depth) = (weights.shape[0], weights.shape[1])
        try c.require(depth > 0 && units > 0, "weights \(weights.label) have an empty dimension")
        try c.require(input.elementCount % depth == 0,
                      "input \(input.label) with shape \(input.shapeDescription) cannot be split into rows of \(depth)")
        let batches = input.elementCount / depth
        if keepDims {
            try c.require(input.shape.last == depth, "keep_num_dims needs the input's last dimension to be \(depth)")
            try c.requireShape(output, "output", Array(input.shape.dropLast()) + [units])
        } else {
            try c.require(output.elementCount == batches * units && output.shape.last == units,
                          "output \(output.label) has shape \(output.shapeDescription); expected [\(batches), \(units)]")
        }
        let scales = try c.weightScales(weights, "weights", channelDimension: 0, channels: units)
        let inQ = try c.int8Quantization(input, "input")
        let outQ = try c.int8Quantization(output, "output")
        let bias = try c.bias(2, channels: units)
        let (lo, hi) = try c.activationRange(try c.fusedActivation(activationRaw), scale: outQ.scale, zeroPoint: outQ.zeroPoint)

        var d = ci8_fully_connected()
        d.batches = Int32(batches); d.input_depth = Int32(depth); d.output_depth = Int32(units)
        d.input_scale = inQ.scale; d.output_scale = outQ.scale
        d.input_zero_point = inQ.zeroPoint; d.output_zero_point = outQ.zeroPoint
        d.activation_min = lo; d.activation_max = hi
        d.filter_scales = UnsafePointer(memory.copy(scales))
        d.filter_scale_count = Int32(scales.count)
        try check(ci8_fully_connected_select(c.kernels, &d), c)
        var planned = PlannedOp(op: c.op, kernel: .fullyConnected(d), weights: weights, bias: bias)
        planned.macs = batches * units * depth
        planned.preparedBytes = ci8_fully_connected_prepared_size(&d)
        planned.scratchBytes = ci8_fully_connected_scratch_size(&d)
        return planned
    }

    // MARK: Elementwise binary

    private static func binary(_ c: OpContext, activationRaw: Int8) throws -> ci8_binary {
        let a = try c.input(0), b = try c.input(1), output = c.output()
        try c.require(a.shape.count <= Broadcast.maxRank && b.shape.count <= Broadcast.maxRank,
                      "inputs of rank above \(Broadcast.maxRank) are not supported", .unsupported)
        guard let shape = Broadcast.shape(a.shape, b.shape) else {
            throw c.fail(.invalid, "inputs \(a.label) \(a.shapeDescription) and \(b.label) \(b.shapeDescription) do not broadcast")
        }
        try c.requireShape(output, "output", shape)
        let qa = try c.int8Quantization(a, "input"), qb = try c.int8Quantization(b, "input")
        let qo = try c.int8Quantization(output, "output")
        let (lo, hi) = try c.activationRange(try c.fusedActivation(activationRaw), scale: qo.scale, zeroPoint: qo.zeroPoint)
        var d = ci8_binary()
        d.shape = Broadcast.descriptor(a.shape, b.shape, output: shape)
        d.input1_scale = qa.scale; d.input2_scale = qb.scale; d.output_scale = qo.scale
        d.input1_zero_point = qa.zeroPoint; d.input2_zero_point = qb.zeroPoint; d.output_zero_point = qo.zeroPoint
        d.activation_min = lo; d.activation_max = hi
        return d
    }

    private static func addOrMul(_ c: OpContext) throws -> PlannedOp {
        try c.requireCounts(inputs: 2...2, outputs: 1...1)
        let isAdd = c.op.opcode == .add
        let options = try c.options(isAdd ? .add : .mul)
        let activationRaw = try c.read { try options?.scalar(0, Int8.self, default: 0) ?? 0 }
        var d = try binary(c, activationRaw: activationRaw)
        try check(isAdd ? ci8_add_select(c.kernels, &d) : ci8_mul_select(c.kernels, &d), c)
        var planned = PlannedOp(op: c.op, kernel: isAdd ? .add(d) : .mul(d))
        planned.preparedBytes = ci8_binary_prepared_size(&d)
        return planned
    }

    private static func prelu(_ c: OpContext) throws -> PlannedOp {
        try c.requireCounts(inputs: 2...2, outputs: 1...1)
        var d = try binary(c, activationRaw: 0)
        try check(ci8_prelu_select(c.kernels, &d), c)
        var planned = PlannedOp(op: c.op, kernel: .prelu(d))
        planned.preparedBytes = ci8_binary_prepared_size(&d)
        return planned
    }

    // MARK: Pooling and reductions

    private static func pool(_ c: OpContext) throws -> PlannedOp {
        try c.requireCounts(inputs: 1...1, outputs: 1...1)
        guard let options = try c.options(.pool2D) else { throw c.fail(.malformed, "missing Pool2DOptions") }
        let (paddingRaw, strideW, strideH, filterW, filterH, activationRaw) = try c.read {
            (try options.scalar(0, Int8.self, default: 0), try options.scalar(1, Int32.self, default: 0),
             try options.scalar(2, Int32.self, default: 0), try options.scalar(3, Int32.self, default: 0),
             try options.scalar(4, Int32.self, default: 0), try options.scalar(5, Int8.self, default: 0))
        }
        try c.requirePositive(strideH, "stride_h"); try c.requirePositive(strideW, "stride_w")
        try c.requirePositive(filterH, "filter_height"); try c.requirePositive(filterW, "filter_width")
        let input = try c.input(0), output = c.output()
        try c.requireRank(input, "input", 4)
        try c.requireSameQuantization(input, output)
        let padding = try c.padding(paddingRaw)
        let (n, h, w, ch) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3])
        let oh = Geometry.outputSize(padding, input: h, filter: Int(filterH), stride: Int(strideH), dilation: 1)
        let ow = Geometry.outputSize(padding, input: w, filter: Int(filterW), stride: Int(strideW), dilation: 1)
        try c.require(oh > 0 && ow > 0, "filter \(filterH)x\(filterW) does not fit the \(h)x\(w) input")
        try c.requireShape(output, "output", [n, oh, ow, ch])
        let q = try c.int8Quantization(output, "output")
        let (lo, hi) = try c.activationRange(try c.fusedActivation(activationRaw), scale: q.scale, zeroPoint: q.zeroPoint)
        var d = ci8_pool2d()
        d.batches = Int32(n); d.input_height = Int32(h); d.input_width = Int32(w); d.channels = Int32(ch)
        d.output_height = Int32(oh); d.output_width = Int32(ow)
        d.filter_height = filterH; d.filter_width = filterW
        d.stride_height = strideH; d.stride_width = strideW
        d.padding_top = Int32(Geometry.paddingBefore(input: h, filter: Int(filterH), stride: Int(strideH), dilation: 1, output: oh))
        d.padding_left = Int32(Geometry.paddingBefore(input: w, filter: Int(filterW), stride: Int(strideW), dilation: 1, output: ow))
        d.activation_min = lo; d.activation_max = hi
        let isMax = c.op.opcode == .maxPool2D
        try check(isMax ? ci8_max_pool2d_select(c.kernels, &d) : ci8_average_pool2d_select(c.kernels, &d), c)
        return PlannedOp(op: c.op, kernel: isMax ? .maxPool2D(d) : .averagePool2D(d))
    }

    private static func mean(_ c: OpContext) throws -> PlannedOp {
        try c.requireCounts(inputs: 2...2, outputs: 1...1)
        let options = try c.options(.reducer)
        let keepDims = try c.read { try options?.bool(0) ?? false }
        let input = try c.input(0), axisTensor = try c.input(1, "axis"), output = c.output()
        try c.requireConstant(axisTensor, "axis")
        try c.requireType(axisTensor, "axis", .int32, .int64)
        try c.requireRank(input, "input", 4)
        let axes = Set(c.model.constantIntegers(axisTensor)!.map { $0 < 0 ? $0 + 4 : $0 })
        try c.require(axes == [1, 2], "MEAN over axes \(axes.sorted()) is not supported (only height and width)", .unsupported)
        let (n, h, w, ch) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3])
        try c.requireShape(output, "output", keepDims ? [n, 1, 1, ch] : [n, ch])
        let qi = try c.int8Quantization(input, "input"), qo = try c.int8Quantization(output, "output")
        var d = ci8_mean_hw()
        d.batches = Int32(n); d.height = Int32(h); d.width = Int32(w); d.channels = Int32(ch)
        d.input_scale = qi.scale; d.output_scale = qo.scale
        d.input_zero_point = qi.zeroPoint; d.output_zero_point = qo.zeroPoint
        d.keep_dims = keepDims ? 1 : 0
        try check(ci8_mean_hw_select(c.kernels, &d), c)
        var planned = PlannedOp(op: c.op, kernel: .mean(d))
        planned.preparedBytes = ci8_mean_hw_prepared_size(&d)
        planned.scratchBytes = ci8_mean_hw_scratch_size(&d)
        return planned
    }

    // MARK: Data movement

    private static func pad(_ c: OpContext) throws -> PlannedOp {
        let isV2 = c.op.opcode == .padV2
        try c.requireCounts(inputs: isV2 ? 2...3 : 2...2, outputs: 1...1)
        let input = try c.input(0), paddings = try c.input(1, "paddings"), output = c.output()
        try c.requireConstant(paddings, "paddings")
        try c.requireType(paddings, "paddings", .int32, .int64)
        let rank = input.shape.count
        try c.require(rank <= Broadcast.maxRank, "inputs of rank above \(Broadcast.maxRank) are not supported", .unsupported)
        try c.requireShape(paddings, "paddings", [rank, 2])
        let values = c.model.constantIntegers(paddings)!
        try c.require(values.allSatisfy { $0 >= 0 && $0 <= 1 << 16 }, "paddings \(values) must be in 0...65536")
        var expected: [Int] = []
        for d in 0..<rank { expected.append(input.shape[d] + values[2 * d] + values[2 * d + 1]) }
        try c.requireShape(output, "output", expected)
        try c.requireSameQuantization(input, output)
        var padValue = try c.int8Quantization(output, "output").zeroPoint
        if isV2, let constant = c.optionalInput(2) {
            try c.requireConstant(constant, "constant_values")
            try c.requireType(constant, "constant_values", .int8)
            try c.require(constant.elementCount == 1, "constant_values \(constant.label) must hold one value")
            padValue = Int32(c.model.constantBytes(constant)!.load(as: Int8.self))
        }
        var d = ci8_pad()
        let lead = Broadcast.maxRank - rank
        setTuple(&d.input_shape, Array(repeating: 1, count: lead) + input.shape.map { Int32($0) })
        setTuple(&d.pad_before, Array(repeating: 0, count: lead) + (0..<rank).map { Int32(values[2 * $0]) })
        setTuple(&d.pad_after, Array(repeating: 0, count: lead) + (0..<rank).map { Int32(values[2 * $0 + 1]) })
        d.pad_value = Int8(padValue)
        return PlannedOp(op: c.op, kernel: .pad(d))
    }

    private static func concatenation(_ c: OpContext, _ memory: Allocations) throws -> PlannedOp {
        try c.requireCounts(inputs: 1...1024, outputs: 1...1)
        let options = try c.options(.concatenation)
        let (axisRaw, activationRaw) = try c.read {
            (try options?.scalar(0, Int32.self, default: 0) ?? 0, try options?.scalar(1, Int8.self, default: 0) ?? 0)
        }
        try c.require(try c.fusedActivation(activationRaw) == .none, "fused activations on CONCATENATION are not supported", .unsupported)
        let output = c.output()
        let rank = output.shape.count
        let axis = Int(axisRaw) < 0 ? Int(axisRaw) + rank : Int(axisRaw)
        try c.require(axis >= 0 && axis < rank, "axis \(axisRaw) is out of range for rank \(rank)")
        let inputs = try (0..<c.op.inputs.count).map { try c.input($0) }
        var axisTotal = 0
        for input in inputs {
            try c.require(input.shape.count == rank, "input \(input.label) has rank \(input.shape.count); expected \(rank)")
            for d in 0..<rank where d != axis {
                try c.require(input.shape[d] == output.shape[d],
                              "input \(input.label) \(input.shapeDescription) does not match output \(output.shapeDescription) outside axis \(axis)")
            }
            try c.requireSameQuantization(input, output)
            axisTotal += input.shape[axis]
        }
        try c.require(axisTotal == output.shape[axis], "inputs add up to \(axisTotal) along axis \(axis), output has \(output.shape[axis])")
        let outer = output.shape[..<axis].reduce(1, *)
        let inner = output.shape[(axis + 1)...].reduce(1, *)
        var d = ci8_concat()
        d.outer_size = Int32(outer)
        d.input_count = Int32(inputs.count)
        d.input_row_sizes = UnsafePointer(memory.copy(inputs.map { Int32($0.shape[axis] * inner) }))
        return PlannedOp(op: c.op, kernel: .concatenation(d))
    }

    private static func reshape(_ c: OpContext, _ memory: Allocations) throws -> PlannedOp {
        try c.requireCounts(inputs: 1...2, outputs: 1...1)
        let input = try c.input(0), output = c.output()
        try c.require(input.type == output.type, "input is \(input.type) but output is \(output.type)")
        try c.require(input.elementCount == output.elementCount,
                      "input \(input.shapeDescription) and output \(output.shapeDescription) differ in element count")
        if input.type == .int8 { try c.requireSameQuantization(input, output) }
        try c.require(input.type.byteSize != nil, "tensors of type \(input.type) are not supported", .unsupported)
        try checkReshapeTarget(c, input: input, output: output)
        if let values = c.knownIntegers(input) {  // reshaping folded shape arithmetic stays folded
            return try folded(c, memory, values)
        }
        return PlannedOp(op: c.op, kernel: .copy(bytes: input.byteCount))
    }

    private static func resize(_ c: OpContext) throws -> PlannedOp {
        try c.requireCounts(inputs: 2...2, outputs: 1...1)
        let bilinear = c.op.opcode == .resizeBilinear
        let options = try c.options(bilinear ? .resizeBilinear : .resizeNearestNeighbor)
        let (alignCorners, halfPixel) = try c.read {
            bilinear ? (try options?.bool(2) ?? false, try options?.bool(3) ?? false)
                     : (try options?.bool(0) ?? false, try options?.bool(1) ?? false)
        }
        try c.require(!(alignCorners && halfPixel), "align_corners and half_pixel_centers cannot both be set")
        let input = try c.input(0), size = try c.input(1, "size"), output = c.output()
        try c.requireRank(input, "input", 4)
        try c.requireConstant(size, "size")
        try c.requireType(size, "size", .int32)
        try c.requireShape(size, "size", [2])
        let hw = c.model.constantIntegers(size)!
        try c.require(hw.allSatisfy { $0 > 0 && $0 <= 1 << 16 }, "size \(hw) must be positive")
        try c.requireShape(output, "output", [input.shape[0], hw[0], hw[1], input.shape[3]])
        try c.requireSameQuantization(input, output)
        var d = ci8_resize()
        d.batches = Int32(input.shape[0]); d.input_height = Int32(input.shape[1]); d.input_width = Int32(input.shape[2])
        d.channels = Int32(input.shape[3]); d.output_height = Int32(hw[0]); d.output_width = Int32(hw[1])
        d.align_corners = alignCorners ? 1 : 0; d.half_pixel_centers = halfPixel ? 1 : 0
        return PlannedOp(op: c.op, kernel: bilinear ? .resizeBilinear(d) : .resizeNearest(d))
    }

    // MARK: Activations and (de)quantization

    private static func softmax(_ c: OpContext) throws -> PlannedOp {
        try c.requireCounts(inputs: 1...1, outputs: 1...1)
        let options = try c.options(.softmax)
        let beta = try c.read { try options?.float(0, default: 0) ?? 0 }
        try c.require(beta.isFinite, "beta \(beta) is not finite")
        let input = try c.input(0), output = c.output()
        try c.require(!input.shape.isEmpty && input.shape == output.shape,
                      "input \(input.shapeDescription) and output \(output.shapeDescription) must have the same shape of rank >= 1")
        let qi = try c.int8Quantization(input, "input"), qo = try c.int8Quantization(output, "output")
        try c.require(qo.zeroPoint == -128 && abs(qo.scale - 1.0 / 256) <= 0.001 / 256,
                      "int8 SOFTMAX output must have scale 1/256 and zero point -128 (has \(qo.scale), \(qo.zeroPoint))")
        let depth = input.shape.last!
        var d = ci8_softmax()
        d.rows = Int32(input.elementCount / max(depth, 1)); d.depth = Int32(depth); d.beta = beta
        d.input_scale = qi.scale; d.output_scale = qo.scale
        d.input_zero_point = qi.zeroPoint; d.output_zero_point = qo.zeroPoint
        try check(ci8_softmax_select(c.kernels, &d), c)
        var planned = PlannedOp(op: c.op, kernel: .softmax(d))
        planned.preparedBytes = ci8_softmax_prepared_size(&d)
        return planned
    }

    private static func unaryLookup(_ c: OpContext, _ memory: Allocations) throws -> PlannedOp {
        try c.requireCounts(inputs: 1...1, outputs: 1...1)
        let input = try c.input(0), output = c.output()
        try c.require(input.shape == output.shape, "input \(input.shapeDescription) and output \(output.shapeDescription) differ")
        let qi = try c.int8Quantization(input, "input"), qo = try c.int8Quantization(output, "output")
        var q = ci8_unary_quant(input_scale: qi.scale, output_scale: qo.scale,
                                input_zero_point: qi.zeroPoint, output_zero_point: qo.zeroPoint)
        let table = memory.allocate(256).bindMemory(to: Int8.self, capacity: 256)
        let status: ci8_status
        switch c.op.opcode {
        case .relu: status = ci8_lut_relu(&q, 0, .infinity, table)
        case .relu6: status = ci8_lut_relu(&q, 0, 6, table)
        case .reluN1To1: status = ci8_lut_relu(&q, -1, 1, table)
        case .leakyRelu:
            let options = try c.options(.leakyRelu)
            let alpha = try c.read { try options?.float(0, default: 0) ?? 0 }
            try c.require(alpha.isFinite, "alpha \(alpha) is not finite")
            status = ci8_lut_leaky_relu(&q, alpha, table)
        case .logistic: status = ci8_lut_logistic(&q, table)
        case .tanh: status = ci8_lut_tanh(&q, table)
        default: status = ci8_lut_hard_swish(&q, table)
        }
        try check(status, c)
        return PlannedOp(op: c.op, kernel: .lookup(table: table, count: input.elementCount))
    }

    private static func quantize(_ c: OpContext, _ memory: Allocations) throws -> PlannedOp {
        try c.requireCounts(inputs: 1...1, outputs: 1...1)
        let input = try c.input(0), output = c.output()
        try c.require(input.shape == output.shape, "input \(input.shapeDescription) and output \(output.shapeDescription) differ")
        let qo = try c.int8Quantization(output, "output")
        switch input.type {
        case .float32:
            var d = ci8_quantize_f32()
            d.count = input.elementCount
            d.scale = qo.scale
            d.zero_point = qo.zeroPoint
            try check(ci8_quantize_f32_select(c.kernels, &d), c)
            return PlannedOp(op: c.op, kernel: .quantizeFloat(d))
        case .int8:
            let qi = try c.int8Quantization(input, "input")
            var q = ci8_unary_quant(input_scale: qi.scale, output_scale: qo.scale,
                                    input_zero_point: qi.zeroPoint, output_zero_point: qo.zeroPoint)
            // LiteRT rounds whole blocks and the tail differently: two tables.
            let tail = memory.allocate(256).bindMemory(to: Int8.self, capacity: 256)
            let block = memory.allocate(256).bindMemory(to: Int8.self, capacity: 256)
            try check(ci8_lut_requantize(&q, tail), c)
            try check(ci8_lut_requantize_block(&q, block), c)
            return PlannedOp(op: c.op, kernel: .blockedLookup(block: block, tail: tail, count: input.elementCount))
        default:
            throw c.fail(.unsupported, "QUANTIZE from \(input.type) is not supported (float32 or int8 only)")
        }
    }

    private static func dequantize(_ c: OpContext) throws -> PlannedOp {
        try c.requireCounts(inputs: 1...1, outputs: 1...1)
        let input = try c.input(0), output = c.output()
        try c.require(input.shape == output.shape, "input \(input.shapeDescription) and output \(output.shapeDescription) differ")
        try c.requireType(output, "output", .float32)
        let qi = try c.int8Quantization(input, "input")
        return PlannedOp(op: c.op, kernel: .dequantize(scale: qi.scale, zeroPoint: qi.zeroPoint, count: input.elementCount))
    }

    static func check(_ status: ci8_status, _ c: OpContext) throws {
        guard status != CI8_OK else { return }
        let kind: ModelError.Kind = status == CI8_ERR_UNSUPPORTED ? .unsupported : .invalid
        throw c.fail(kind, String(cString: ci8_status_message(status)))
    }
}
