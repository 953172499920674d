// A fixed pool of worker threads for splitting one kernel call across cores.
//
// A call is cut into tiles that threads claim one at a time from a shared counter, the caller
// included, so a worker that wakes late or runs on a busy core only takes fewer tiles instead
// of holding up the operator; the caller never waits for a worker that has not started a tile.
// The counter shares one 64-bit word with the call's generation and tile count, so a claim is
// a compare-and-swap that also proves the call is still the current one: a worker that wakes
// after its call has ended cannot run a tile of it, or of the next one, by mistake.
//
// Waiting: ops come back to back within an inference, so workers poll that word for a bounded
// time (spinNanoseconds), yielding the core every 64 polls (on a loaded board another runnable
// thread, often the caller, gets it), and then sleep on a POSIX semaphore (boards run hot). The caller posts a semaphore only to workers that
// announced they sleep. The caller waits for claimed tiles the same way. No allocation, no
// mutex per call; work is a C function pointer plus a context pointer.
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Synchronization

final class ThreadPool {
    let threads: Int
    /// The work of a call: task(context, begin, end, worker) computes items [begin, end) with
    /// the worker's scratch (worker 0 is the calling thread).
    typealias Task = @convention(c) (UnsafeRawPointer?, Int, Int, Int) -> Void

    /// At most this many workers (one bit each in `sleepers`).
    static let maximumWorkers = 63
    /// How long an idle thread spins before it sleeps: longer than the gap between two split
    /// operators of an inference (most unsplit ADD/PAD/pool ops in between take 5-60 us here),
    /// short against the time between frames.
    static let spinNanoseconds: UInt64 = 100_000

    /// generation (32 bits) | tile count (16 bits) | next unclaimed tile (16 bits).
    private let call = Atomic<UInt64>(0)
    /// The current call's parameters: written before `call` publishes them, and only after the
    /// previous call finished, so a successful claim proves they belong to the claimed tile.
    private let taskBits = Atomic<UInt>(0)
    private let contextBits = Atomic<UInt>(0)
    private let itemCount = Atomic<Int>(0)
    private let tileSize = Atomic<Int>(1)
    /// Tiles finished in the current call.
    private let finished = Atomic<Int>(0)
    /// Bit k - 1: worker k sleeps (or is about to) on start[k - 1].
    private let sleepers = Atomic<UInt64>(0)
    /// The caller sleeps (or is about to) on `done`.
    private let callerWaits = Atomic<Bool>(false)
    private let stopping = Atomic<Bool>(false)
    /// The last generation published (caller only).
    private var generation: UInt32 = 0

    private var threadIDs: [pthread_t] = []
    private let start: UnsafeMutablePointer<sem_t>
    private let done: UnsafeMutablePointer<sem_t>

    /// `threads` counts the calling thread: threads - 1 workers are started.
    init(threads: Int) {
        self.threads = max(1, min(threads, ThreadPool.maximumWorkers + 1))
        let workers = self.threads - 1
        start = .allocate(capacity: max(workers, 1))
        done = .allocate(capacity: 1)
        sem_init(done, 0, 0)
        for k in 0..<workers {
            sem_init(start + k, 0, 0)
            let context = Unmanaged.passRetained(WorkerContext(pool: self, index: k + 1)).toOpaque()
            var id = pthread_t()
            let result = pthread_create(&id, nil, { raw in
                let context = Unmanaged<WorkerContext>.fromOpaque(raw!).takeRetainedValue()
                context.pool?.workerLoop(context.index)
                return nil
            }, context)
            if result == 0 { threadIDs.append(id) } else {
                Unmanaged<WorkerContext>.fromOpaque(context).release()
                sem_destroy(start + k)
                break
            }
        }
    }

    private final class WorkerContext {
        unowned(unsafe) let pool: ThreadPool?
        let index: Int
        init(pool: ThreadPool, index: Int) { self.pool = pool; self.index = index }
    }

    var workerCount: Int { threadIDs.count }

    deinit {
        stopping.store(true, ordering: .sequentiallyConsistent)
        generation &+= 1
        call.store(UInt64(generation) << 32, ordering: .sequentiallyConsistent)
        wakeSleepers()
        for id in threadIDs { pthread_join(id, nil) }
        for k in 0..<threadIDs.count { sem_destroy(start + k) }
        sem_destroy(done)
        start.deallocate()
        done.deallocate()
    }

    /// Calls task(context, begin, end, worker) on the tiles of 0..<count (ParallelTiles) and
    /// returns when all are done.
    func parallelFor(_ count: Int, tileSize size: Int, context: UnsafeRawPointer, _ task: Task) {
        let tiles = ParallelTiles(items: count, tileSize: size)
        if threadIDs.isEmpty || tiles.count < 2 { task(context, 0, count, 0); return }
        taskBits.store(UInt(bitPattern: unsafeBitCast(task, to: UnsafeRawPointer.self)), ordering: .sequentiallyConsistent)
        contextBits.store(UInt(bitPattern: context), ordering: .sequentiallyConsistent)
        itemCount.store(count, ordering: .sequentiallyConsistent)
        tileSize.store(tiles.tileSize, ordering: .sequentiallyConsistent)
        finished.store(0, ordering: .sequentiallyConsistent)
        generation &+= 1
        call.store(UInt64(generation) << 32 | UInt64(tiles.count) << 16, ordering: .sequentiallyConsistent)
        wakeSleepers()
        runTiles(worker: 0, generation: generation)
        waitForTiles(tiles.count)
    }

    private func wakeSleepers() {
        var sleeping = sleepers.exchange(0, ordering: .sequentiallyConsistent)
        while sleeping != 0 {
            let k = sleeping.trailingZeroBitCount
            sem_post(start + k)
            sleeping &= sleeping - 1
        }
    }

    /// Claims and runs tiles of call `generation` until none is left.
    private func runTiles(worker: Int, generation: UInt32) {
        var word = call.load(ordering: .sequentiallyConsistent)
        guard UInt32(truncatingIfNeeded: word >> 32) == generation else { return }
        let task = unsafeBitCast(UnsafeRawPointer(bitPattern: taskBits.load(ordering: .sequentiallyConsistent))!, to: Task.self)
        let context = UnsafeRawPointer(bitPattern: contextBits.load(ordering: .sequentiallyConsistent))
        let count = itemCount.load(ordering: .sequentiallyConsistent)
        let size = tileSize.load(ordering: .sequentiallyConsistent)
        var ran = 0
        while true {
            // The word still names this call and holds an unclaimed tile, or this thread stops.
            guard UInt32(truncatingIfNeeded: word >> 32) == generation,
                  word & 0xFFFF < (word >> 16) & 0xFFFF else { break }
            let (exchanged, current) = call.compareExchange(expected: word, desired: word + 1,
                                                            ordering: .sequentiallyConsistent)
            if !exchanged { word = current; continue }
            let tile = Int(word & 0xFFFF)
            word += 1
            let begin = tile * size
            task(context, begin, min(count, begin + size), worker)
            ran += 1
        }
        guard ran > 0 else { return }
        let total = finished.add(ran, ordering: .sequentiallyConsistent).newValue
        if worker != 0 && total == Int((word >> 16) & 0xFFFF)
            && callerWaits.exchange(false, ordering: .sequentiallyConsistent) {
            sem_post(done)
        }
    }

    /// The caller's wait for the tiles other threads claimed: spin, then sleep on `done`.
    private func waitForTiles(_ tiles: Int) {
        if finished.load(ordering: .sequentiallyConsistent) == tiles { return }
        let deadline = monotonicNanoseconds() &+ ThreadPool.spinNanoseconds
        var polls = 0
        while finished.load(ordering: .sequentiallyConsistent) != tiles {
            polls += 1
            guard polls & 63 == 0 else { continue }
            if monotonicNanoseconds() <= deadline { sched_yield(); continue }
            callerWaits.store(true, ordering: .sequentiallyConsistent)
            if finished.load(ordering: .sequentiallyConsistent) == tiles {
                // The last worker may have seen the flag already and posted: take that post.
                if !callerWaits.exchange(false, ordering: .sequentiallyConsistent) { semWait(done) }
            } else {
                semWait(done)
            }
            return
        }
    }

    private func workerLoop(_ index: Int) {
        let bit = UInt64(1) << UInt64(index - 1)
        var seen: UInt32 = 0
        while true {
            var word = call.load(ordering: .sequentiallyConsistent)
            if UInt32(truncatingIfNeeded: word >> 32) == seen {
                let deadline = monotonicNanoseconds() &+ ThreadPool.spinNanoseconds
                var polls = 0
                while UInt32(truncatingIfNeeded: word >> 32) == seen {
                    polls += 1
                    if polls & 63 == 0 && monotonicNanoseconds() <= deadline { sched_yield() }
                    if polls & 63 == 0 && monotonicNanoseconds() > deadline {
                        // Announce the sleep, then look once more: a call published before the
                        // announcement did not see the bit and posts nothing.
                        sleepers.bitwiseOr(bit, ordering: .sequentiallyConsistent)
                        word = call.load(ordering: .sequentiallyConsistent)
                        if UInt32(truncatingIfNeeded: word >> 32) != seen {
                            let before = sleepers.bitwiseAnd(~bit, ordering: .sequentiallyConsistent).oldValue
                            if before & bit == 0 { semWait(start + (index - 1)) }  // the caller posted
                        } else {
                            semWait(start + (index - 1))
                        }
                        polls = 0
                    }
                    word = call.load(ordering: .sequentiallyConsistent)
                }
            }
            seen = UInt32(truncatingIfNeeded: word >> 32)
            if stopping.load(ordering: .sequentiallyConsistent) { return }
            runTiles(worker: index, generation: seen)
        }
    }
}

@inline(__always)
private func semWait(_ semaphore: UnsafeMutablePointer<sem_t>) {
    while sem_wait(semaphore) != 0 {}
}

/// The tiles of a parallel call: items 0..<items in tiles of tileSize (the last one may be
/// shorter); tile t covers range(t). Every item is in exactly one tile.
struct ParallelTiles: Equatable {
    let items: Int
    let tileSize: Int
    /// At most this many tiles (16 bits of the pool's call word).
    static let maximumCount = 0xFFFF

    init(items: Int, tileSize: Int) {
        self.items = max(items, 0)
        let smallest = (self.items + ParallelTiles.maximumCount - 1) / ParallelTiles.maximumCount
        self.tileSize = max(tileSize, smallest, 1)
    }

    var count: Int { (items + tileSize - 1) / tileSize }

    func range(_ tile: Int) -> Range<Int> {
        let begin = tile * tileSize
        return begin..<min(items, begin + tileSize)
    }
}
