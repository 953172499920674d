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

/// Counts of a sink that publishes frames elsewhere (the MQTT publisher): read from it when a
/// reader takes a snapshot, never on the loop thread.
public struct PublisherTelemetry: Sendable, Equatable {
    /// Messages the broker took, dropped by the bounded queue (oldest first), lost with a
    /// broken connection; successful reconnections.
    public var published = 0, dropped = 0, lost = 0, reconnects = 0
    public init(published: Int = 0, dropped: Int = 0, lost: Int = 0, reconnects: Int = 0) {
        (self.published, self.dropped, self.lost, self.reconnects) = (published, dropped, lost, reconnects)
    }
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
    /// The MQTT publisher's counts, when one is attached (`Telemetry.attachPublisher`).
    public var mqtt: PublisherTelemetry?
    public init() {}
}

/// The loop's published telemetry. One writer (the loop); any number of readers.
public final class Telemetry: @unchecked Sendable {
    let monitor = Monitor()
    private var published = TelemetrySnapshot()
    private var skipped = 0
    private var mqttCounts: (@Sendable () -> PublisherTelemetry)?

    public init() {}

    /// Reader: a copy of the latest published snapshot, with the attached publisher's counts
    /// as they are now.
    public func snapshot() -> TelemetrySnapshot {
        var (snapshot, counts) = monitor.withLock { (published, mqttCounts) }
        snapshot.mqtt = counts?()
        return snapshot
    }

    /// Makes snapshots carry a publisher's counts: `counts` is called by readers (any
    /// thread), outside the lock the loop publishes under.
    public func attachPublisher(_ counts: @escaping @Sendable () -> PublisherTelemetry) {
        monitor.withLock { mqttCounts = counts }
    }

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
