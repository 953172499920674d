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
    /// Set when the operator runs on the thread pool (ParallelWork.swift).
    let parallel: ParallelWork?
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
        /// Threads for CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED, counting the calling
        /// thread (1: everything runs on the caller; at most 64). Those operators are split by
        /// output rows (batch rows, or 16-channel slices for a single-row FULLY_CONNECTED) into
        /// about 4 tiles per thread that the threads, the caller included, claim from a shared
        /// counter, so results are byte-identical for every thread count and a late worker
        /// costs little. Operators under 150 K multiply-accumulates (40 K for depthwise), and
        /// every other operator, run on the calling thread. Idle workers poll for ~100 us
        /// between operators (yielding the core), then sleep.
        public var threads: Int = 1
        /// Tensors whose contents must stay readable after `invoke()` (e.g. an embedding).
        public var preservedTensors: [Int] = []
        /// Keep every tensor readable after `invoke()` (debugging; the arena grows).
        public var preserveAllTensors = false
        /// The kernel set; a set that cannot run on this machine makes `init` throw
        /// `KernelSetUnavailable`.
        public var kernels: KernelSet = .best
        /// Split every CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED across the threads however
        /// small it is (slower; for tests of the split paths).
        public var splitEverything = false
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
    /// Per operator, whether it runs split across the threads (Options.threads).
    public let splitOperators: [Bool]

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

        // Which operators run on the pool; single-row FULLY_CONNECTED layers become slices of
        // output channels, each prepared as an operator of its own.
        let threads = max(options.threads, 1)
        let splits = plans.map { Split.of($0, threads: threads, everything: options.splitEverything) }
        var slices = [[ci8_fully_connected]](repeating: [], count: plans.count)
        for i in plans.indices {
            guard case .slices(let ranges) = splits[i], case .fullyConnected(let d) = plans[i].kernel else { continue }
            var bytes = 0, scratchBytes = 0
            for range in ranges {
                var s = d
                s.output_depth = Int32(range.count)
                if d.filter_scale_count > 1 {
                    s.filter_scales = d.filter_scales + range.lowerBound
                    s.filter_scale_count = Int32(range.count)
                }
                try OpPlanner.check(ci8_fully_connected_select(table.pointer, &s), OpContext(model: model, op: plans[i].op, kernels: table.pointer))
                bytes += ArenaPlanner.align(ci8_fully_connected_prepared_size(&s))
                scratchBytes = max(scratchBytes, ci8_fully_connected_scratch_size(&s))
                slices[i].append(s)
            }
            plans[i].preparedBytes = bytes
            plans[i].scratchBytes = scratchBytes
        }
        let isSplit = splits.map { if case .none = $0 { return false } else { return true } }
        splitOperators = isSplit

        // 2. Prepare: pack weights, compute multipliers, into one block.
        let preparedTotal = plans.reduce(0) { $0 + ArenaPlanner.align($1.preparedBytes) }
        let prepared = memory.allocate(preparedTotal)
        var cursor = 0
        var sliceFirst = [[Int]](repeating: [], count: plans.count)
        for i in plans.indices {
            if case .slices(let ranges) = splits[i] {
                var sliceCursor = cursor
                for (k, range) in ranges.enumerated() {
                    try Interpreter.prepareSlice(&slices[i][k], range, plans[i], prepared + sliceCursor, model: model)
                    sliceCursor += ArenaPlanner.align(ci8_fully_connected_prepared_size(&slices[i][k]))
                }
                sliceFirst[i] = ranges.map(\.lowerBound)
            } else {
                try Interpreter.prepare(&plans[i], prepared + cursor, model: model, kernels: table.pointer)
            }
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
            let copies = isSplit[step] ? threads : 1  // one scratch per thread
            requests.append(ArenaRequest(size: ArenaPlanner.align(plan.scratchBytes) * copies, first: step, last: step))
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
            let input = inputs.first.flatMap { $0 }?.assumingMemoryBound(to: Int8.self)
            let output = address[op.outputs[0]]!.assumingMemoryBound(to: Int8.self)
            let stride = ArenaPlanner.align(plan.scratchBytes)
            var parallel: ParallelWork?
            switch (splits[step], plan.kernel) {
            case (.rows, .conv2D(let d)), (.rows, .depthwiseConv2D(let d)):
                let job = memory.copy([ConvolutionRows(conv: d, input: input!, output: output, scratch: scratch[step], scratchStride: stride)])
                parallel = ParallelWork(items: Int(d.output_height), threads: threads, context: UnsafeRawPointer(job), task: runConvolutionRows)
            case (.rows, .fullyConnected(let d)):
                let job = memory.copy([FullyConnectedRows(fc: d, input: input!, output: output, scratch: scratch[step], scratchStride: stride)])
                parallel = ParallelWork(items: Int(d.batches), threads: threads, context: UnsafeRawPointer(job), task: runFullyConnectedRows)
            case (.slices, _):
                let job = memory.copy([FullyConnectedSlices(slices: memory.copy(slices[step]), firstChannel: memory.copy(sliceFirst[step]),
                                                            input: input!, output: output, scratch: scratch[step], scratchStride: stride)])
                parallel = ParallelWork(items: slices[step].count, threads: threads, context: UnsafeRawPointer(job), task: runFullyConnectedSlices)
            default:
                break
            }
            return Step(kernel: plan.kernel,
                        input0: inputs.count > 0 ? inputs[0] : nil,
                        input1: inputs.count > 1 ? inputs[1] : nil,
                        output: address[op.outputs[0]]!,
                        scratch: scratch[step],
                        inputList: list,
                        parallel: parallel)
        }
        pool = isSplit.contains(true) ? ThreadPool(threads: threads) : nil
    }

    /// Packs output channels `range` of a FULLY_CONNECTED into `prepared` as an operator of its own.
    private static func prepareSlice(_ slice: inout ci8_fully_connected, _ range: Range<Int>, _ plan: PlannedOp,
                                     _ prepared: UnsafeMutableRawPointer, model: Model) throws {
        let context = OpContext(model: model, op: plan.op, kernels: nil)
        let weights = model.constantBytes(plan.weights!)!.baseAddress!.assumingMemoryBound(to: Int8.self)
            + range.lowerBound * Int(slice.input_depth)
        let bias = plan.bias.map { Array($0[range]) }
        let status: ci8_status
        if let bias {
            status = bias.withUnsafeBufferPointer { ci8_fully_connected_prepare(&slice, weights, $0.baseAddress, prepared) }
        } else {
            status = ci8_fully_connected_prepare(&slice, weights, nil, prepared)
        }
        try OpPlanner.check(status, context)
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
        if let work = step.parallel, let pool {
            pool.parallelFor(work.items, tileSize: work.tileSize, context: work.context, work.task)
            return
        }
        let out = step.output
        switch step.kernel {
        case .conv2D(var d), .depthwiseConv2D(var d):
            ci8_conv2d_run(&d, i8(step.input0), o8(out), step.scratch, 0, d.output_height)
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
