// A fixed pool of worker threads for splitting one kernel call across cores. Each call posts
// one POSIX semaphore per worker and waits for them to finish: no allocation and no mutex per
// call; workers sleep in sem_wait between calls instead of spinning (boards run hot). Work is
// a C function pointer plus a context pointer, so posting it allocates nothing.
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

final class ThreadPool {
    let threads: Int
    private var threadIDs: [pthread_t] = []
    private let start: UnsafeMutablePointer<sem_t>
    private let done: UnsafeMutablePointer<sem_t>
    /// The work of the current call: a C function and its context (no closure, so posting
    /// work allocates nothing).
    typealias Task = @convention(c) (UnsafeRawPointer?, Int, Int, Int) -> Void
    private var task: Task?
    private var context: UnsafeRawPointer?
    private var itemCount = 0
    private var stopping = false

    /// `threads` counts the calling thread: threads - 1 workers are started.
    init(threads: Int) {
        self.threads = max(1, threads)
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
        stopping = true
        for k in 0..<threadIDs.count { sem_post(start + k) }
        for id in threadIDs { pthread_join(id, nil) }
        for k in 0..<threadIDs.count { sem_destroy(start + k) }
        sem_destroy(done)
        start.deallocate()
        done.deallocate()
    }

    /// Calls task(context, begin, end, worker) on disjoint ranges covering 0..<count, one range
    /// per thread, and returns when all are done. worker is 0 for the calling thread.
    func parallelFor(_ count: Int, context: UnsafeRawPointer, _ task: Task) {
        let workers = threadIDs.count
        if workers == 0 || count < 2 { task(context, 0, count, 0); return }
        self.task = task
        self.context = context
        itemCount = count
        for k in 0..<workers { sem_post(start + k) }
        share(0)
        for _ in 0..<workers { while sem_wait(done) != 0 {} }
        self.task = nil
        self.context = nil
    }

    private func share(_ worker: Int) {
        let parts = threadIDs.count + 1
        let chunk = (itemCount + parts - 1) / parts
        let begin = worker * chunk
        let end = min(itemCount, begin + chunk)
        if begin < end { task!(context, begin, end, worker) }
    }

    private func workerLoop(_ index: Int) {
        while true {
            while sem_wait(start + (index - 1)) != 0 {}
            if stopping { return }
            share(index)
            sem_post(done)
        }
    }
}
