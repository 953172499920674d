// What the frame loop (through PreviewSink) shares with the server's threads. Every structure
// is fixed-size and the loop's side never waits: it uses try-locks and atomics, and a value
// it cannot hand over at that instant is dropped (a viewer loses a frame, the loop nothing).
#if canImport(Glibc)
import Glibc
#endif
import Imaging
import Streaming
import Synchronization

/// An RGB copy of a frame on its way to the JPEG encoder. A few of these circulate between
/// the loop and the encoder thread, so steady-state streaming allocates no pixel buffers.
final class PreviewFrame: @unchecked Sendable {
    var image: RGBImage
    var index = 0
    init(width: Int, height: Int) { image = RGBImage(width: width, height: height) }
}

/// A frame as JPEG, for every /stream.mjpeg client.
struct EncodedFrame: Sendable {
    var index: Int
    var jpeg: [UInt8]
}

final class LiveFeed: Sendable {
    /// MJPEG clients waiting for their next frame: the loop copies pixels only while this is
    /// above 0 (a client blocked in a write to a stalled peer is not waiting).
    let streamWaiting = Atomic<Int>(0)
    let streamClients = Atomic<Int>(0)
    /// /events clients: the loop makes each frame's JSON only while this is above 0.
    let eventClients = Atomic<Int>(0)
    /// Loop -> encoder thread (newest wins), and the buffers the encoder gives back.
    let raw = LatestSlot<PreviewFrame>()
    let spares = Mutex<[PreviewFrame]>([])
    static let frameBuffers = 3
    /// Encoder thread -> MJPEG clients.
    let jpeg = LatestSlot<EncodedFrame>()
    let events = EventRing(capacity: 256)
    let samples = SampleRing(capacity: 4096)
    /// Set by the sink's finish(): the loop has ended.
    let finished = Atomic<Bool>(false)

    init() {
        spares.withLock { $0.reserveCapacity(Self.frameBuffers) }
    }
}

/// The JSON objects of recent frames for Server-Sent Events clients, each of which keeps its
/// own cursor. A client slower than the ring skips what was overwritten.
final class EventRing: Sendable {
    private struct State {
        var version: UInt64 = 0  // events published so far
        var ring: [String]
    }
    private let state: Mutex<State>
    let capacity: Int

    init(capacity: Int) {
        self.capacity = capacity
        state = Mutex(State(ring: [String](repeating: "", count: capacity)))
    }

    /// Loop side: false (the event is dropped) when a reader holds the lock right now.
    @discardableResult
    func publish(_ text: String) -> Bool {
        let done: Bool? = state.withLockIfAvailable { s in
            s.ring[Int(s.version % UInt64(capacity))] = text
            s.version &+= 1
            return true
        }
        return done != nil
    }

    var version: UInt64 { state.withLock { $0.version } }

    /// Reader side: appends the events after `cursor` (at most the last `capacity`) to `out`
    /// and advances the cursor.
    func read(after cursor: inout UInt64, into out: inout [String]) {
        state.withLock { s in
            var first = cursor
            if s.version - first > UInt64(capacity) { first = s.version - UInt64(capacity) }
            while first < s.version {
                out.append(s.ring[Int(first % UInt64(capacity))])
                first += 1
            }
            cursor = s.version
        }
    }
}

/// Per-frame latency samples (7 stages in ms, then the face count) for the /metrics
/// histograms: the loop writes a row into a preallocated ring and publishes the new head with
/// release ordering (no lock, no allocation); the metrics side drains it about once a second.
final class SampleRing: @unchecked Sendable {
    static let width = 8
    let capacity: Int
    private let rows: UnsafeMutablePointer<Double>
    private let head = Atomic<Int>(0)
    /// The reader's position, and rows it lost to lapping; used by one reader at a time.
    private let reader = Mutex<Int>(0)

    init(capacity: Int) {
        self.capacity = capacity
        rows = .allocate(capacity: capacity * Self.width)
        rows.initialize(repeating: 0, count: capacity * Self.width)
    }

    deinit { rows.deallocate() }

    /// Loop side, once per processed frame.
    func record(_ latency: StageLatency, faces: Int) {
        let h = head.load(ordering: .relaxed)
        let row = rows + (h % capacity) * Self.width
        for stage in 0..<7 { row[stage] = latency[stage] }
        row[7] = Double(faces)
        head.store(h + 1, ordering: .releasing)
    }

    /// Reader side: hands every row published since the last drain to `body`; returns how many
    /// rows were overwritten before they could be read (not handed over).
    func drain(_ body: (UnsafeBufferPointer<Double>) -> Void) -> Int {
        reader.withLock { tail in
            let h = head.load(ordering: .acquiring)
            var lost = 0
            if h - tail > capacity { lost = h - tail - capacity; tail = h - capacity }
            var copy = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
            while tail < h {
                withUnsafeMutableBytes(of: &copy) { raw in
                    raw.copyMemory(from: UnsafeRawBufferPointer(start: rows + (tail % capacity) * Self.width,
                                                                count: Self.width * MemoryLayout<Double>.stride))
                }
                // The loop may have lapped this row while it was copied: then it is not trusted.
                if head.load(ordering: .acquiring) - tail > capacity {
                    lost += 1
                } else {
                    withUnsafeBytes(of: &copy) { body($0.bindMemory(to: Double.self)) }
                }
                tail += 1
            }
            return lost
        }
    }
}
