// The stderr summary of a run: per-stage latency percentiles, fps, drops, corrupt frames,
// reconnects and one line per adapting head, every `interval` seconds and at the end.
// tools/check-run reads these lines; keep their wording.
#if canImport(Glibc)
import Glibc
#endif
import Adaptation
import FacePipeline
import Int8Runtime

public final class RunStatistics {
    public let sourceName: String
    public let interval: Double
    public private(set) var corrupt = 0
    public private(set) var reconnects = 0
    public var adapters: [HeadAdapter] = []
    private let noteHandler: (String) -> Void
    private var dropped = 0
    private var frames = 0
    private var windowFrames = 0
    /// Latency ring buffers, one per stage, allocated once: recording a frame allocates nothing.
    private static let capacity = 4096
    private var samples = [[Double]](repeating: [Double](repeating: 0, count: capacity), count: StageLatency.names.count)
    private var recorded = 0
    private let started = monotonicNanoseconds()
    private var windowStart = monotonicNanoseconds()

    /// `note` receives every line (the command writes it to stderr).
    public init(sourceName: String, interval: Double, note: @escaping (String) -> Void) {
        self.sourceName = sourceName
        self.interval = interval
        noteHandler = note
    }

    public func note(_ message: String) { noteHandler(message) }

    func countCorrupt() { corrupt += 1 }
    func countReconnect() { reconnects += 1 }

    func record(_ latency: StageLatency, dropped: Int) {
        frames += 1
        windowFrames += 1
        self.dropped = dropped
        let slot = recorded % Self.capacity
        recorded += 1
        for stage in 0..<StageLatency.names.count { samples[stage][slot] = latency[stage] }
    }

    func maybeSummarize() {
        guard interval > 0, Double(monotonicNanoseconds() - windowStart) / 1e9 >= interval else { return }
        summarize(final: false)
    }

    func summarize(final: Bool) {
        let now = monotonicNanoseconds()
        let seconds = Double(now - (final ? started : windowStart)) / 1e9
        let frameCount = final ? frames : windowFrames
        let fps = seconds > 0 ? Double(frameCount) / seconds : 0
        var parts: [String] = []
        let count = min(recorded, Self.capacity)  // percentiles over the most recent frames
        for (i, name) in StageLatency.names.enumerated() where count > 0 {
            let sorted = samples[i][0..<count].sorted()
            guard sorted.last! > 0 else { continue }   // stage not used by this source
            let p50 = sorted[count / 2], p95 = sorted[min(count - 1, Int(Double(count) * 0.95))]
            parts.append("\(name) \(fixed(p50, 1))/\(fixed(p95, 1))")
        }
        let head = final ? "facecam: done:" : "facecam:"
        note("\(head) \(frameCount) frames, \(fixed(fps, 1)) fps, dropped \(dropped), corrupt \(corrupt)"
             + (reconnects > 0 ? ", reconnects \(reconnects)" : "") + "; latency ms p50/p95: " + parts.joined(separator: ", "))
        for adapter in adapters {
            note(adaptationSummary(adapter, labels: adapter.name == "verifier" ? ["non-face", "face"] : ExpressionClassifier.labels))
        }
        windowStart = now
        windowFrames = 0
    }
}

/// One line per adapting head for the stderr summary.
public func adaptationSummary(_ adapter: HeadAdapter, labels: [String]) -> String {
    let selected = adapter.samples > 0 ? Double(adapter.selectedCount) / Double(adapter.samples) : 0
    let histogram = (0..<adapter.classCount).map { "\(labels[$0]) \(adapter.pseudoLabelHistogram[$0])" }.joined(separator: ", ")
    return "facecam: adapt \(adapter.name): \(adapter.samples) faces, \(adapter.updates) updates, selected \(fixed(selected * 100, 1))%, "
        + "pseudo-labels [\(histogram)], resets \(adapter.resets), shift \(fixed(Double(adapter.gate.value), 2)), "
        + "\(fixed(adapter.meanStepMicroseconds, 1)) us per face"
}

