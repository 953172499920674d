// Keeps the loop's running telemetry and publishes it after every frame.
#if canImport(Glibc)
import Glibc
#endif
import Adaptation
import FacePipeline
import Int8Runtime

public final class TelemetryRecorder {
    public let telemetry: Telemetry
    public private(set) var current = TelemetrySnapshot()
    private let verifier: HeadAdapter?, expression: HeadAdapter?

    /// `telemetry` is where snapshots are published (readers may hold it before the loop starts).
    public init(verifier: HeadAdapter?, expression: HeadAdapter?, telemetry: Telemetry = Telemetry()) {
        self.telemetry = telemetry
        self.verifier = verifier
        self.expression = expression
        current.startedNs = monotonicNanoseconds()
        if verifier != nil { current.verifier = HeadTelemetry() }
        if expression != nil { current.expression = HeadTelemetry() }
    }

    /// After a processed frame: updates and publishes the snapshot that sinks then receive.
    public func record(faces: [Face], latency: StageLatency, dropped: Int, corrupt: Int, reconnects: Int) -> TelemetrySnapshot {
        let now = monotonicNanoseconds()
        if current.lastFrameNs > 0 {
            let interval = Double(now - current.lastFrameNs) / 1e9
            if interval > 0 { current.fps = current.fps == 0 ? 1 / interval : 0.9 * current.fps + 0.1 / interval }
        }
        current.lastFrameNs = now
        current.state = .running
        current.frames += 1
        current.dropped = dropped; current.corrupt = corrupt; current.reconnects = reconnects
        current.faces = faces.count; current.facesTotal += faces.count
        current.latency = latency; current.latencySum.add(latency)
        if let verifier { update(&current.verifier, verifier, faces.last(where: { $0.verifierAdaptation != nil })?.verifierAdaptation) }
        if let expression { update(&current.expression, expression, faces.last(where: { $0.expressionAdaptation != nil })?.expressionAdaptation) }
        publish()
        return current
    }

    /// Source state changes and counters outside a processed frame (corrupt frames, reconnects).
    public func update(state: SourceState, corrupt: Int, reconnects: Int) {
        current.state = state; current.corrupt = corrupt; current.reconnects = reconnects
        publish()
    }

    private func publish() {
        current.version &+= 1
        telemetry.publish(current)
    }

    private func update(_ head: inout HeadTelemetry?, _ adapter: HeadAdapter, _ step: AdaptationStep?) {
        var h = head ?? HeadTelemetry()
        h.samples = adapter.samples; h.updates = adapter.updates; h.selected = adapter.selectedCount; h.resets = adapter.resets
        h.selectedFraction = adapter.samples > 0 ? Double(adapter.selectedCount) / Double(adapter.samples) : 0
        h.shift = adapter.gate.value
        h.atSource = adapter.atSource
        if let step { h.threshold = step.threshold }
        var entropy: Float = 0
        for p in adapter.prediction where p > 0 { entropy -= p * logf(p) }
        h.entropy = entropy
        head = h
    }
}
