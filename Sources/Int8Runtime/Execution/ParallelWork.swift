// How CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED are split across the thread pool. Every
// split is over outputs -- output rows, batch rows, or slices of output channels -- never over
// a reduction: each output byte is computed by one thread with exactly the arithmetic of a
// single-threaded run, so any thread count gives the same bytes. The items are cut into tiles
// that the threads claim dynamically (ThreadPool), several per thread, so a late or slower
// thread takes fewer of them. Small operators stay on the calling thread (ParallelWork.minimumMACs).
import CInt8

/// One operator's parallel call: `task(context, begin, end, worker)` over items 0..<items, in
/// tiles of `tileSize` items.
struct ParallelWork {
    let items: Int
    let tileSize: Int
    let context: UnsafeRawPointer
    let task: ThreadPool.Task

    init(items: Int, threads: Int, context: UnsafeRawPointer, task: ThreadPool.Task) {
        self.items = items
        self.tileSize = ParallelWork.tileSize(items: items, threads: threads)
        self.context = context
        self.task = task
    }

    /// Below these multiply-accumulates an operator runs on the calling thread. Workers spin
    /// between the operators of an inference and the caller never waits for one that has not
    /// started, so a split costs a few microseconds (claims, one kernel call per tile, the
    /// last tile's wait). Depthwise convolutions run at fewer MAC/s than GEMM-based ones
    /// (~4-8 GMAC/s against ~16-25 on one core), hence the lower bound.
    static let minimumMACs = 150_000
    static let minimumDepthwiseMACs = 40_000
    /// Tiles per thread: enough that a thread that starts late or runs slower costs little,
    /// few enough that per-tile kernel setup stays small.
    static let tilesPerThread = 4

    /// Items per tile for `items` on `threads` threads: about tilesPerThread tiles per thread,
    /// at least one item per tile.
    static func tileSize(items: Int, threads: Int) -> Int {
        max(1, items / (max(threads, 1) * tilesPerThread))
    }
    /// FULLY_CONNECTED slices hold whole tiles of output channels (16: the widest GEMM tile).
    static let channelGranule = 16
    /// Slices per thread of a single-row FULLY_CONNECTED (claimed like tiles).
    static let slicesPerThread = 2
}

/// How an operator is split across threads.
enum Split {
    case none
    /// Output rows (convolutions) or batch rows (FULLY_CONNECTED).
    case rows
    /// Output-channel slices of a single-row FULLY_CONNECTED.
    case slices([Range<Int>])

    static func of(_ plan: PlannedOp, threads: Int, everything: Bool) -> Split {
        guard threads > 1 else { return .none }
        switch plan.kernel {
        case .conv2D(let d):
            return d.output_height > 1 && (everything || plan.macs >= ParallelWork.minimumMACs) ? .rows : .none
        case .depthwiseConv2D(let d):
            return d.output_height > 1 && (everything || plan.macs >= ParallelWork.minimumDepthwiseMACs) ? .rows : .none
        case .fullyConnected(let d):
            guard everything || plan.macs >= ParallelWork.minimumMACs else { return .none }
            if d.batches > 1 { return .rows }
            let ranges = channelSlices(Int(d.output_depth), threads: threads)
            return d.batches == 1 && ranges.count > 1 ? .slices(ranges) : .none
        default:
            return .none
        }
    }
}

/// A convolution split by output rows (the micro-kernels take a row range).
struct ConvolutionRows {
    var conv: ci8_conv2d
    let input: UnsafePointer<Int8>
    let output: UnsafeMutablePointer<Int8>
    let scratch: UnsafeMutableRawPointer?
    /// Bytes of scratch per thread (each worker gets its own slice).
    let scratchStride: Int
}

/// A FULLY_CONNECTED split by batch rows.
struct FullyConnectedRows {
    var fc: ci8_fully_connected
    let input: UnsafePointer<Int8>
    let output: UnsafeMutablePointer<Int8>
    let scratch: UnsafeMutableRawPointer?
    let scratchStride: Int
}

/// A single-row FULLY_CONNECTED split into slices of output channels, each prepared (packed) as
/// an operator of its own at load time: slice i computes channels firstChannel[i] ..< that plus
/// slices[i].output_depth, from the same input row.
struct FullyConnectedSlices {
    let slices: UnsafeMutablePointer<ci8_fully_connected>
    let firstChannel: UnsafePointer<Int>
    let input: UnsafePointer<Int8>
    let output: UnsafeMutablePointer<Int8>
    let scratch: UnsafeMutableRawPointer?
    let scratchStride: Int
}

/// The channel ranges of a FULLY_CONNECTED of `channels` outputs on `threads` threads: whole
/// granules, as even as they go; a single range means "do not split".
func channelSlices(_ channels: Int, threads: Int) -> [Range<Int>] {
    let slicesPerThread = ParallelWork.slicesPerThread
    let granule = ParallelWork.channelGranule
    let granules = (channels + granule - 1) / granule
    let parts = max(1, min(threads * slicesPerThread, granules))
    var ranges: [Range<Int>] = []
    var start = 0
    for part in 0..<parts {
        let end = min(channels, (granules * (part + 1) / parts) * granule)
        if end > start { ranges.append(start..<end) }
        start = end
    }
    return ranges
}

@inline(__always)
private func workerScratch(_ base: UnsafeMutableRawPointer?, _ stride: Int, _ worker: Int) -> UnsafeMutableRawPointer? {
    base.map { $0 + worker * stride }
}

/// Runs rows [begin, end) of a ConvolutionRows; C functions, so posting work allocates nothing.
func runConvolutionRows(_ context: UnsafeRawPointer?, _ begin: Int, _ end: Int, _ worker: Int) {
    let job = UnsafeMutableRawPointer(mutating: context!).assumingMemoryBound(to: ConvolutionRows.self)
    ci8_conv2d_run(&job.pointee.conv, job.pointee.input, job.pointee.output,
                   workerScratch(job.pointee.scratch, job.pointee.scratchStride, worker), Int32(begin), Int32(end))
}

func runFullyConnectedRows(_ context: UnsafeRawPointer?, _ begin: Int, _ end: Int, _ worker: Int) {
    let job = UnsafeMutableRawPointer(mutating: context!).assumingMemoryBound(to: FullyConnectedRows.self)
    ci8_fully_connected_run(&job.pointee.fc, job.pointee.input, job.pointee.output,
                            workerScratch(job.pointee.scratch, job.pointee.scratchStride, worker), Int32(begin), Int32(end))
}

func runFullyConnectedSlices(_ context: UnsafeRawPointer?, _ begin: Int, _ end: Int, _ worker: Int) {
    let job = context!.assumingMemoryBound(to: FullyConnectedSlices.self)
    let scratch = workerScratch(job.pointee.scratch, job.pointee.scratchStride, worker)
    for i in begin..<end {
        ci8_fully_connected_run(job.pointee.slices + i, job.pointee.input, job.pointee.output + job.pointee.firstChannel[i],
                                scratch, 0, 1)
    }
}
