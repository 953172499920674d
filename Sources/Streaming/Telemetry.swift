// Live figures of the frame loop for other threads (a metrics endpoint, a web page). The loop
// writes a fixed-size snapshot after every frame with a try-lock: when a reader holds the lock
// at that instant the loop skips publishing that frame (the next one carries everything), so
// the loop never waits for a reader. Readers copy the whole snapshot under the lock; it holds
// no references, so copying allocates nothing.
#if canImport(Glibc)
import Glibc
#endif

/// State of one adapting head after the latest frame.
public struct HeadTelemetry: Sendable, Equatable {
    /// Faces this head has seen, gradient updates, pseudo-labels selected, collapse resets.
    public var samples = 0, updates = 0, selected = 0, resets = 0
    /// selected / samples.
    public var selectedFraction = 0.0
    /// Teacher confidence a pseudo-label needs now (Dash), from the latest face.
    public var threshold: Float = 1
    /// The shift gate, 0 (source-like images) ... 1 (fully shifted).
    public var shift: Float = 0
    /// Entropy (nats) of the head's latest prediction.
    public var entropy: Float = 0
    /// True while the head still answers with the source (int8) weights.
    public var atSource = true
    public init() {}
}

/// Where the source stands.
public enum SourceState: Sendable, Equatable {
    case starting, running, reconnecting, lost, ended
}

public struct TelemetrySnapshot: Sendable, Equatable {
    /// Snapshots published so far (a reader sees whether anything changed).
    public var version: UInt64 = 0
    public var state: SourceState = .starting
    /// Processed frames, camera drops, skipped corrupt frames, reconnections.
    public var frames = 0, dropped = 0, corrupt = 0, reconnects = 0
    /// Faces in the latest frame, and in all frames.
    public var faces = 0, facesTotal = 0
    /// Per-stage milliseconds of the latest frame, and summed over all frames.
    public var latency = StageLatency(), latencySum = StageLatency()
    /// Frames per second over the last second or so (exponential average of frame intervals).
    public var fps = 0.0
    /// CLOCK_MONOTONIC nanoseconds: the run's start and the latest processed frame (0: none yet).
    public var startedNs: UInt64 = 0, lastFrameNs: UInt64 = 0
    /// Adapting heads (nil when that head does not adapt).
    public var verifier: HeadTelemetry?, expression: HeadTelemetry?
    public init() {}
}

/// The loop's published telemetry. One writer (the loop); any number of readers.
public final class Telemetry: @unchecked Sendable {
    let monitor = Monitor()
    private var published = TelemetrySnapshot()
    private var skipped = 0

    public init() {}

    /// Reader: a copy of the latest published snapshot.
    public func snapshot() -> TelemetrySnapshot { monitor.withLock { published } }

    /// Writer (the loop): publishes unless a reader holds the lock right now. Returns whether
    /// it was published.
    @discardableResult
    func publish(_ snapshot: TelemetrySnapshot) -> Bool {
        let done = monitor.withLockIfAvailable { published = snapshot } != nil
        if !done { skipped += 1 }
        return done
    }

    /// Writer only: publications skipped because a reader held the lock.
    var skippedPublications: Int { skipped }
}
