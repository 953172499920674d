// Hand-offs from the frame loop to other threads (a web server, an MQTT client). The loop is
// the producer and must never wait for a consumer: a slow consumer loses values, the loop
// does not slow down. Both types hold their lock only for an O(1) swap of one element, never
// across I/O, and allocate nothing after init.
#if canImport(Glibc)
import Glibc
#endif
import Int8Runtime  // monotonicNanoseconds

/// A pthread mutex and condition variable at a stable heap address (the hand-offs below, the
/// telemetry, and the MQTT publisher's connection state).
public final class Monitor: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)

    public init() {
        pthread_mutex_init(mutex, nil)
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)  // timeouts immune to clock changes
        pthread_cond_init(condition, &attributes)
        pthread_condattr_destroy(&attributes)
    }

    deinit {
        pthread_cond_destroy(condition); pthread_mutex_destroy(mutex)
        condition.deallocate(); mutex.deallocate()
    }

    /// Runs `body` under the lock if it is free right now; nil when another thread holds it.
    @inline(__always) public func withLockIfAvailable<R>(_ body: () -> R) -> R? {
        guard pthread_mutex_trylock(mutex) == 0 else { return nil }
        defer { pthread_mutex_unlock(mutex) }
        return body()
    }

    @inline(__always) public func withLock<R>(_ body: () -> R) -> R {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return body()
    }

    /// Runs `body` under the lock and wakes the waiters (what it changes may be what they wait for).
    public func update<R>(_ body: () -> R) -> R {
        pthread_mutex_lock(mutex)
        defer { pthread_cond_broadcast(condition); pthread_mutex_unlock(mutex) }
        return body()
    }

    /// Waits under the lock until `ready()` holds or `timeoutMs` passes; then runs `body`.
    func wait<R>(until ready: () -> Bool, timeoutMs: Int, _ body: () -> R) -> R {
        let deadlineNs = monotonicNanoseconds() + UInt64(max(timeoutMs, 0)) * 1_000_000
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        waitLocked(until: ready, deadlineNs: deadlineNs)
        return body()
    }

    /// Waits under the lock until `ready()` or the CLOCK_MONOTONIC `deadlineNs`; returns `ready()`.
    public func wait(until ready: () -> Bool, deadlineNs: UInt64) -> Bool {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return waitLocked(until: ready, deadlineNs: deadlineNs)
    }

    @discardableResult
    private func waitLocked(until ready: () -> Bool, deadlineNs: UInt64) -> Bool {
        var deadline = timespec(tv_sec: Int(deadlineNs / 1_000_000_000), tv_nsec: Int(deadlineNs % 1_000_000_000))
        while !ready() {
            if pthread_cond_timedwait(condition, mutex, &deadline) == ETIMEDOUT { return ready() }
        }
        return true
    }

    func broadcast() { pthread_cond_broadcast(condition) }
}

/// Single producer, any consumers, newest wins: `offer` replaces whatever the consumers have
/// not taken yet. Made for frames to a live preview: a consumer always gets the most recent
/// value, and the producer never waits (if a consumer holds the lock at that instant, the
/// offer is refused and the value handed back, as if it had been replaced at once).
///
/// Buffers can circulate without allocation: `offer` returns the value it displaced (or the
/// refused one), which the producer reuses for the next frame.
public final class LatestSlot<Value>: @unchecked Sendable {
    let monitor = Monitor()
    private var value: Value?
    private var version: UInt64 = 0

    public init() {}

    /// Producer: publishes `newValue`. Returns the value it displaces (never taken by a
    /// consumer), or `newValue` itself when the slot was busy; nil when the slot was empty.
    @discardableResult
    public func offer(_ newValue: Value) -> Value? {
        let outcome: Value?? = monitor.withLockIfAvailable {
            let old = value
            value = newValue
            version &+= 1
            return old
        }
        guard let displaced = outcome else { return newValue }
        monitor.broadcast()
        return displaced
    }

    /// Consumer: removes and returns the newest value, if any.
    public func take() -> Value? {
        monitor.withLock {
            let v = value
            value = nil
            return v
        }
    }

    /// Consumer: the newest value without removing it (for several readers), with its version.
    public func peek() -> (value: Value, version: UInt64)? {
        monitor.withLock { value.map { ($0, version) } }
    }

    /// Consumer: waits up to `timeoutMs` for a value newer than `version` (0: any value) and
    /// returns it without removing it; nil on timeout.
    public func next(after version: UInt64, timeoutMs: Int) -> (value: Value, version: UInt64)? {
        monitor.wait(until: { self.value != nil && self.version != version }, timeoutMs: timeoutMs) {
            guard let v = self.value, self.version != version else { return nil }
            return (v, self.version)
        }
    }

    /// Times a value was offered and accepted.
    public var offers: UInt64 { monitor.withLock { version } }
}

/// A bounded first-in first-out queue that drops the oldest element when full: for messages
/// (MQTT) where every recent one matters but a stalled consumer must not grow memory or block
/// the producer. Storage is allocated once.
public final class DropOldestQueue<Element>: @unchecked Sendable {
    let monitor = Monitor()
    private var ring: [Element?]
    private var head = 0      // index of the oldest element
    private var count = 0
    private var droppedCount = 0
    public let capacity: Int

    public init(capacity: Int) {
        precondition(capacity > 0, "a queue needs room for at least one element")
        self.capacity = capacity
        ring = [Element?](repeating: nil, count: capacity)
    }

    /// Producer: appends `element`; when full, the oldest element is removed and returned.
    @discardableResult
    public func push(_ element: Element) -> Element? {
        let dropped: Element? = monitor.withLock {
            var oldest: Element?
            if count == capacity {
                oldest = ring[head].take()
                head = (head + 1) % capacity
                count -= 1
                droppedCount += 1
            }
            ring[(head + count) % capacity] = element
            count += 1
            return oldest
        }
        monitor.broadcast()
        return dropped
    }

    /// Consumer: the oldest element, or nil when empty.
    public func pop() -> Element? {
        monitor.withLock { popLocked() }
    }

    /// Consumer: waits up to `timeoutMs` for an element.
    public func pop(timeoutMs: Int) -> Element? {
        monitor.wait(until: { self.count > 0 }, timeoutMs: timeoutMs) { popLocked() }
    }

    private func popLocked() -> Element? {
        guard count > 0 else { return nil }
        let element = ring[head].take()
        head = (head + 1) % capacity
        count -= 1
        return element
    }

    public var isEmpty: Bool { monitor.withLock { count == 0 } }
    public var elementCount: Int { monitor.withLock { count } }
    /// Elements dropped because the queue was full.
    public var dropped: Int { monitor.withLock { droppedCount } }
}
