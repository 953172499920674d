// Runs a model: ops are prepared once (weights packed, multipliers and tables computed), all
// activations live in one arena planned from tensor lifetimes, and an inference walks a flat
// list of kernel calls with every pointer already resolved -- no allocation, no locks, no
// logging per inference.
import CInt8

/// A resolved kernel call.
struct Step {
    var kernel: Kernel
    let input0: UnsafeRawPointer?
    let input1: UnsafeRawPointer?
    let output: UnsafeMutableRawPointer
    let scratch: UnsafeMutableRawPointer?
    let inputList: UnsafeMutablePointer<UnsafePointer<Int8>?>?
    /// For convolutions run on the thread pool: the call's arguments in stable memory.
    let rowJob: UnsafeMutablePointer<RowJob>?
}

/// Arguments of a convolution split by output rows across threads.
struct RowJob {
    var conv: ci8_conv2d
    var input: UnsafePointer<Int8>
    var output: UnsafeMutablePointer<Int8>
    var scratch: UnsafeMutableRawPointer?
    /// Bytes of scratch per thread (each worker gets its own slice).
    var scratchStride: Int
}

/// Runs rows [begin, end) of a RowJob; a C function so the pool needs no closure.
private func runConvolutionRows(_ context: UnsafeRawPointer?, _ begin: Int, _ end: Int, _ worker: Int) {
    let job = UnsafeMutableRawPointer(mutating: context!).assumingMemoryBound(to: RowJob.self)
    var scratch: UnsafeMutableRawPointer? = nil
    if let base = job.pointee.scratch { scratch = base + worker * job.pointee.scratchStride }
    let input = job.pointee.input
    let output = job.pointee.output
    ci8_conv2d_run(&job.pointee.conv, input, output, scratch, Int32(begin), Int32(end))
}

/// The operators needed to compute some tensors, for running part of a graph.
public struct PartialRun: Sendable {
    public let targets: [Int]
    let steps: [Int]
    /// Number of operators the partial run executes.
    public var operatorCount: Int { steps.count }
}

public final class Interpreter {
    public struct Options: Sendable {
        /// Worker threads for convolutions and fully connected layers (1 = the calling thread).
        public var threads: Int = 1
        /// Tensors whose contents must stay readable after `invoke()` (e.g. an embedding).
        public var preservedTensors: [Int] = []
        /// Keep every tensor readable after `invoke()` (debugging; the arena grows).
        public var preserveAllTensors = false
        /// The kernel set; a set that cannot run on this machine makes `init` throw
        /// `KernelSetUnavailable`.
        public var kernels: KernelSet = .best
        public init() {}
    }

    public let model: Model
    public let options: Options
    /// Bytes of the activation arena (all intermediate tensors and scratch).
    public let arenaBytes: Int
    /// Bytes of prepared data: packed weights, multipliers, lookup tables.
    public let preparedBytes: Int
    /// Multiply-accumulates per inference, per operator.
    public let macsPerOperator: [Int]
    /// The kernel set this interpreter runs (never `.best`: the set it resolved to).
    public let kernelSet: KernelSet
    /// Per operator, the micro-kernel that runs it (e.g. "qs8-dwconv/4x16c-avx2").
    public let kernelNames: [String]

    private let memory = Allocations()
    private let arena: UnsafeMutableRawPointer
    private var steps: [Step]
    private let address: [UnsafeMutableRawPointer?]
    private let pool: ThreadPool?

    public init(model: Model, options: Options = Options()) throws {
        self.model = model
        self.options = options
        let table = try options.kernels.table()
        kernelSet = table.set

        // 1. Check every operator, build its kernel descriptor and select its micro-kernel.
        var plans: [PlannedOp] = []
        let folded = FoldedTensors()
        for op in model.operators {
            plans.append(try OpPlanner.plan(OpContext(model: model, op: op, kernels: table.pointer, folded: folded), memory))
        }
        macsPerOperator = plans.map(\.macs)
        kernelNames = plans.map(\.kernel.name)

        // 2. Prepare: pack weights, compute multipliers, into one block.
        let preparedTotal = plans.reduce(0) { $0 + ArenaPlanner.align($1.preparedBytes) }
        let prepared = memory.allocate(preparedTotal)
        var cursor = 0
        for i in plans.indices {
            try Interpreter.prepare(&plans[i], prepared + cursor, model: model, kernels: table.pointer)
            cursor += ArenaPlanner.align(plans[i].preparedBytes)
        }
        preparedBytes = memory.totalBytes

        // 3. Lifetimes -> one arena.
        let stepCount = plans.count
        var first = [Int](repeating: Int.max, count: model.tensors.count)
        var last = [Int](repeating: -1, count: model.tensors.count)
        for index in model.inputs { first[index] = 0; last[index] = stepCount }
        for (step, op) in model.operators.enumerated() {
            for t in op.outputs { first[t] = min(first[t], step); last[t] = max(last[t], step) }
            for t in op.inputs where t >= 0 { last[t] = max(last[t], step) }
        }
        for index in model.outputs { last[index] = stepCount }
        for index in options.preservedTensors where index >= 0 && index < model.tensors.count && last[index] >= 0 {
            last[index] = stepCount
        }
        var requests: [ArenaRequest] = []
        var owner: [(tensor: Int?, step: Int?)] = []
        for tensor in model.tensors where !tensor.isConstant && last[tensor.index] >= 0 {
            let begin = options.preserveAllTensors ? 0 : min(first[tensor.index], last[tensor.index])
            let end = options.preserveAllTensors ? stepCount : last[tensor.index]
            requests.append(ArenaRequest(size: tensor.byteCount, first: begin, last: end))
            owner.append((tensor.index, nil))
        }
        for (step, plan) in plans.enumerated() where plan.scratchBytes > 0 {
            requests.append(ArenaRequest(size: ArenaPlanner.align(plan.scratchBytes) * max(options.threads, 1), first: step, last: step))
            owner.append((nil, step))
        }
        let (offsets, size) = ArenaPlanner.plan(requests)
        arenaBytes = size
        arena = UnsafeMutableRawPointer.allocate(byteCount: max(size, 1), alignment: ArenaPlanner.alignment)
        arena.initializeMemory(as: UInt8.self, repeating: 0, count: max(size, 1))

        var address = [UnsafeMutableRawPointer?](repeating: nil, count: model.tensors.count)
        var scratch = [UnsafeMutableRawPointer?](repeating: nil, count: stepCount)
        for (i, who) in owner.enumerated() {
            if let t = who.tensor { address[t] = arena + offsets[i] }
            if let s = who.step { scratch[s] = arena + offsets[i] }
        }
        for tensor in model.tensors where tensor.isConstant {
            address[tensor.index] = UnsafeMutableRawPointer(mutating: model.constantBytes(tensor)!.baseAddress!)
        }
        self.address = address

        // 4. Resolve every pointer once.
        let memory = self.memory
        steps = plans.enumerated().map { step, plan in
            let op = plan.op
            let inputs = op.inputs.map { $0 >= 0 ? UnsafeRawPointer(address[$0]) : nil }
            var list: UnsafeMutablePointer<UnsafePointer<Int8>?>?
            if case .concatenation = plan.kernel {
                list = memory.copy(inputs.map { $0?.assumingMemoryBound(to: Int8.self) })
            }
            var rowJob: UnsafeMutablePointer<RowJob>?
            if options.threads > 1 {
                var conv: ci8_conv2d?
                if case .conv2D(let d) = plan.kernel { conv = d }
                if case .depthwiseConv2D(let d) = plan.kernel { conv = d }
                if let conv {
                    let job = RowJob(conv: conv,
                                     input: inputs[0]!.assumingMemoryBound(to: Int8.self),
                                     output: address[op.outputs[0]]!.assumingMemoryBound(to: Int8.self),
                                     scratch: scratch[step], scratchStride: ArenaPlanner.align(plan.scratchBytes))
                    rowJob = memory.copy([job])
                }
            }
            return Step(kernel: plan.kernel,
                        input0: inputs.count > 0 ? inputs[0] : nil,
                        input1: inputs.count > 1 ? inputs[1] : nil,
                        output: address[op.outputs[0]]!,
                        scratch: scratch[step],
                        inputList: list,
                        rowJob: rowJob)
        }
        pool = options.threads > 1 ? ThreadPool(threads: options.threads) : nil
    }

    deinit { arena.deallocate() }

    private static func prepare(_ plan: inout PlannedOp, _ prepared: UnsafeMutableRawPointer, model: Model,
                                kernels: OpaquePointer) throws {
        let context = OpContext(model: model, op: plan.op, kernels: kernels)
        // Int8 weights are read in place from the model file (no alignment needed); prepare
        // packs them into `prepared`.
        let weights = plan.weights.map { model.constantBytes($0)!.baseAddress!.assumingMemoryBound(to: Int8.self) }
        let bias = plan.bias
        func withBias<R>(_ body: (UnsafePointer<Int32>?) -> R) -> R {
            guard let bias else { return body(nil) }
            return bias.withUnsafeBufferPointer { body($0.baseAddress) }
        }
        switch plan.kernel {
        case .conv2D(var d):
            let status = withBias { ci8_conv2d_prepare(&d, weights, $0, prepared) }
            try OpPlanner.check(status, context)
            plan.kernel = .conv2D(d)
        case .depthwiseConv2D(var d):
            let status = withBias { ci8_conv2d_prepare(&d, weights, $0, prepared) }
            try OpPlanner.check(status, context)
            plan.kernel = .depthwiseConv2D(d)
        case .fullyConnected(var d):
            let status = withBias { ci8_fully_connected_prepare(&d, weights, $0, prepared) }
            try OpPlanner.check(status, context)
            plan.kernel = .fullyConnected(d)
        case .add(var d):
            try OpPlanner.check(ci8_binary_prepare(&d, prepared), context)
            plan.kernel = .add(d)
        case .mul(var d):
            try OpPlanner.check(ci8_binary_prepare(&d, prepared), context)
            plan.kernel = .mul(d)
        case .prelu(var d):
            try OpPlanner.check(ci8_binary_prepare(&d, prepared), context)
            plan.kernel = .prelu(d)
        case .mean(var d):
            try OpPlanner.check(ci8_mean_hw_prepare(&d, prepared), context)
            plan.kernel = .mean(d)
        case .softmax(var d):
            try OpPlanner.check(ci8_softmax_prepare(&d, prepared), context)
            plan.kernel = .softmax(d)
        default:
            break
        }
    }

    // MARK: Inputs and outputs

    public var inputCount: Int { model.inputs.count }
    public var outputCount: Int { model.outputs.count }
    public func inputTensor(_ i: Int) -> Tensor { model.tensors[model.inputs[i]] }
    public func outputTensor(_ i: Int) -> Tensor { model.tensors[model.outputs[i]] }

    /// The memory of graph input `i`; write the input here before `invoke()`.
    public func inputBuffer(_ i: Int) -> UnsafeMutableRawBufferPointer {
        let tensor = inputTensor(i)
        return UnsafeMutableRawBufferPointer(start: address[tensor.index], count: tensor.byteCount)
    }

    /// Copies `bytes` into graph input `i`; the size must match exactly.
    public func setInput(_ i: Int, _ bytes: UnsafeRawBufferPointer) throws {
        guard i >= 0 && i < inputCount else { throw ModelError.invalid("input \(i) does not exist (the model has \(inputCount))") }
        let tensor = inputTensor(i)
        guard bytes.count == tensor.byteCount else {
            throw ModelError.invalid("input \(i) \(tensor.label) takes \(tensor.byteCount) bytes (\(tensor.type) \(tensor.shapeDescription)); got \(bytes.count)")
        }
        if let base = bytes.baseAddress { inputBuffer(i).baseAddress!.copyMemory(from: base, byteCount: bytes.count) }
    }

    public func setInput(_ i: Int, _ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try setInput(i, $0) }
    }

    public func setInput(_ i: Int, int8 values: [Int8]) throws {
        try values.withUnsafeBytes { try setInput(i, $0) }
    }

    /// Graph output `i`, valid after `invoke()`.
    public func outputBuffer(_ i: Int) -> UnsafeRawBufferPointer {
        tensorBytes(model.outputs[i])!
    }

    /// The bytes of any tensor. An intermediate tensor holds its value right after the operator
    /// that writes it; later operators may reuse its memory unless it was preserved in Options
    /// or was the target of the last partial run.
    public func tensorBytes(_ index: Int) -> UnsafeRawBufferPointer? {
        guard index >= 0 && index < model.tensors.count, let base = address[index] else { return nil }
        return UnsafeRawBufferPointer(start: base, count: model.tensors[index].byteCount)
    }

    // MARK: Running

    /// Runs the whole graph.
    public func invoke() {
        for i in steps.indices { run(i) }
    }

    /// Runs the whole graph like `invoke()` and stores each operator's wall time, in
    /// nanoseconds, at its index in `nanoseconds` (at least `model.operators.count` entries).
    /// For profiling: one clock read per operator (tens of nanoseconds), which `invoke()` does
    /// not pay; nothing is allocated.
    public func invoke(profilingInto nanoseconds: UnsafeMutableBufferPointer<UInt64>) {
        precondition(nanoseconds.count >= steps.count, "need one entry per operator")
        var before = monotonicNanoseconds()
        for i in steps.indices {
            run(i)
            let after = monotonicNanoseconds()
            nanoseconds[i] = after &- before
            before = after
        }
    }

    /// Plans a run that computes only `targets` (and what they depend on), e.g. up to the
    /// embedding a trainable head reads.
    public func partialRun(to targets: [Int]) throws -> PartialRun {
        var needed = [Bool](repeating: false, count: steps.count)
        var stack: [Int] = []
        for target in targets {
            guard target >= 0 && target < model.tensors.count else {
                throw ModelError.invalid("tensor \(target) does not exist (the model has \(model.tensors.count))")
            }
            guard address[target] != nil else {
                throw ModelError.invalid("\(model.tensors[target].label) is not used by the graph")
            }
            if let producer = model.producer[target] { stack.append(producer) }
        }
        while let op = stack.popLast() {
            if needed[op] { continue }
            needed[op] = true
            for input in model.operators[op].inputs where input >= 0 {
                if let producer = model.producer[input], !needed[producer] { stack.append(producer) }
            }
        }
        return PartialRun(targets: targets, steps: needed.indices.filter { needed[$0] })
    }

    /// Runs only the operators of a partial run, in graph order.
    public func invoke(_ partial: PartialRun) {
        partial.steps.withUnsafeBufferPointer { indices in
            for k in 0..<indices.count { run(indices[k]) }
        }
    }

    @inline(__always)
    private func run(_ index: Int) {
        let step = steps[index]
        let out = step.output
        switch step.kernel {
        case .conv2D(var d):
            if let pool, let job = step.rowJob, d.output_height > 1 {
                pool.parallelFor(Int(d.output_height), context: UnsafeRawPointer(job), runConvolutionRows)
            } else {
                ci8_conv2d_run(&d, i8(step.input0), o8(out), step.scratch, 0, d.output_height)
            }
        case .depthwiseConv2D(var d):
            if let pool, let job = step.rowJob, d.output_height > 1 {
                pool.parallelFor(Int(d.output_height), context: UnsafeRawPointer(job), runConvolutionRows)
            } else {
                ci8_conv2d_run(&d, i8(step.input0), o8(out), step.scratch, 0, d.output_height)
            }
        case .fullyConnected(var d):
            ci8_fully_connected_run(&d, i8(step.input0), o8(out), step.scratch, 0, d.batches)
        case .add(var d), .mul(var d), .prelu(var d): ci8_binary_run(&d, i8(step.input0), i8(step.input1), o8(out))
        case .maxPool2D(var d), .averagePool2D(var d): ci8_pool2d_run(&d, i8(step.input0), o8(out))
        case .mean(var d): ci8_mean_hw_run(&d, i8(step.input0), o8(out), step.scratch)
        case .pad(var d): ci8_pad_run(&d, i8(step.input0), o8(out))
        case .concatenation(var d): ci8_concat_run(&d, step.inputList, o8(out))
        case .copy(let bytes): out.copyMemory(from: step.input0!, byteCount: bytes)
        case .fill(let source, let bytes): out.copyMemory(from: source, byteCount: bytes)
        case .softmax(var d): ci8_softmax_run(&d, i8(step.input0), o8(out))
        case .lookup(let table, let count): ci8_lut_run(table, i8(step.input0), o8(out), count)
        case .blockedLookup(let block, let tail, let count):
            ci8_lut_run_blocked(block, tail, Int(CI8_REQUANTIZE_BLOCK), i8(step.input0), o8(out), count)
        case .quantizeFloat(var d):
            ci8_quantize_f32_op_run(&d, step.input0!.assumingMemoryBound(to: Float.self), o8(out))
        case .dequantize(let scale, let zeroPoint, let count):
            ci8_dequantize_f32_run(i8(step.input0), out.assumingMemoryBound(to: Float.self), count, scale, zeroPoint)
        case .resizeNearest(var d): ci8_resize_nearest_run(&d, i8(step.input0), o8(out))
        case .resizeBilinear(var d): ci8_resize_bilinear_run(&d, i8(step.input0), o8(out))
        }
    }
}

@inline(__always) private func i8(_ p: UnsafeRawPointer?) -> UnsafePointer<Int8> { p!.assumingMemoryBound(to: Int8.self) }
@inline(__always) private func o8(_ p: UnsafeMutableRawPointer) -> UnsafeMutablePointer<Int8> { p.assumingMemoryBound(to: Int8.self) }
