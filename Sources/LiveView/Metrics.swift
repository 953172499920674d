// /metrics: Prometheus text exposition through swift-prometheus. The loop never touches the
// registry (its histograms take a lock per sample): counters and gauges are read from the
// loop's Telemetry at scrape time, and the per-frame samples are drained from the feed's ring
// into the histograms about once a second and before every scrape.
import Prometheus
import Streaming
import Synchronization

/// What the info metric tells about this process.
public struct BuildInfo: Sendable {
    public var kernelSet: String
    /// ("detector", hex SHA-256), ... in a fixed order.
    public var modelHashes: [(String, String)]
    public var source: String

    public init(kernelSet: String, modelHashes: [(String, String)], source: String) {
        self.kernelSet = kernelSet; self.modelHashes = modelHashes; self.source = source
    }
}

final class MetricsExporter: Sendable {
    let registry = PrometheusCollectorRegistry()
    private let feed: LiveFeed
    private let telemetry: Telemetry
    private let frames, dropped, corrupt, reconnects, lostSamples: Counter
    private let stages: [ValueHistogram]
    private let faces: ValueHistogram
    private let fps, streamClients, eventClients: Gauge
    /// Gauges of the adapting heads, made when a head first shows up in the telemetry.
    private let heads = Mutex<[String: HeadGauges]>([:])
    /// The MQTT publisher's counters, made when its counts first show up in the telemetry.
    private let mqtt = Mutex<PublisherCounters?>(nil)
    /// Counter values already exported: Prometheus counters only move by increments.
    private let exported = Mutex((frames: 0, dropped: 0, corrupt: 0, reconnects: 0))

    static let latencyBuckets: [Double] = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2]

    init(feed: LiveFeed, telemetry: Telemetry, info: BuildInfo) {
        self.feed = feed
        self.telemetry = telemetry
        let r = registry
        frames = r.makeCounter(descriptor: named("frames_total", "Frames processed by the face pipeline."))
        dropped = r.makeCounter(descriptor: named("dropped_frames_total", "Camera frames skipped to stay on the newest one."))
        corrupt = r.makeCounter(descriptor: named("corrupt_frames_total", "Frames skipped because they could not be decoded."))
        reconnects = r.makeCounter(descriptor: named("reconnects_total", "Camera reconnections after a disconnect."))
        lostSamples = r.makeCounter(descriptor: named("latency_samples_lost_total",
                                                      "Per-frame samples overwritten before the metrics side read them."))
        let latency = named("stage_latency_seconds", "Per-frame latency of each pipeline stage (total: capture to results).")
        stages = StageLatency.names.map { r.makeValueHistogram(descriptor: latency, labels: [("stage", $0)], buckets: Self.latencyBuckets) }
        faces = r.makeValueHistogram(descriptor: named("faces_per_frame", "Faces found per processed frame."),
                                     buckets: [0, 1, 2, 3, 4, 6, 8, 16])
        fps = r.makeGauge(descriptor: named("fps", "Processed frames per second (recent average)."))
        streamClients = r.makeGauge(descriptor: named("preview_stream_clients", "Clients connected to /stream.mjpeg."))
        eventClients = r.makeGauge(descriptor: named("preview_event_clients", "Clients connected to /events."))
        var labels = [("kernel_set", info.kernelSet), ("source", info.source)]
        for (model, hash) in info.modelHashes { labels.append(("\(model)_sha256", hash)) }
        r.makeGauge(descriptor: named("info", "Kernel set, source and model hashes of this process."), labels: labels).set(to: 1)
    }

    private struct HeadGauges {
        let threshold, selectedFraction, entropy, shift, resets: Gauge
        init(_ r: PrometheusCollectorRegistry, head: String) {
            let l = [("head", head)]
            threshold = r.makeGauge(descriptor: named("adaptation_threshold", "Confidence a pseudo-label needs now."), labels: l)
            selectedFraction = r.makeGauge(descriptor: named("adaptation_selected_fraction", "Pseudo-labels selected / faces seen."),
                                           labels: l)
            entropy = r.makeGauge(descriptor: named("adaptation_entropy", "Entropy (nats) of the latest prediction."), labels: l)
            shift = r.makeGauge(descriptor: named("adaptation_shift", "Shift gate, 0 source-like ... 1 shifted."), labels: l)
            resets = r.makeGauge(descriptor: named("adaptation_resets", "Collapse resets so far."), labels: l)
        }
        func set(_ h: HeadTelemetry) {
            threshold.set(to: Double(h.threshold)); selectedFraction.set(to: h.selectedFraction)
            entropy.set(to: Double(h.entropy)); shift.set(to: Double(h.shift)); resets.set(to: Double(h.resets))
        }
    }

    private final class PublisherCounters {
        let published, dropped, lost, reconnects: Counter
        var done = PublisherTelemetry()
        init(_ r: PrometheusCollectorRegistry) {
            published = r.makeCounter(descriptor: named("mqtt_published_total", "Frame messages the MQTT broker took."))
            dropped = r.makeCounter(descriptor: named("mqtt_dropped_total", "Frame messages dropped by the full MQTT queue (oldest first)."))
            lost = r.makeCounter(descriptor: named("mqtt_lost_total", "Frame messages lost with a broken MQTT connection."))
            reconnects = r.makeCounter(descriptor: named("mqtt_reconnects_total", "MQTT reconnections after a lost connection."))
        }
        func advance(to now: PublisherTelemetry) {
            advanceCounter(published, &done.published, to: now.published)
            advanceCounter(dropped, &done.dropped, to: now.dropped)
            advanceCounter(lost, &done.lost, to: now.lost)
            advanceCounter(reconnects, &done.reconnects, to: now.reconnects)
        }
    }

    /// Moves new samples from the ring into the histograms, and the telemetry into counters.
    func update() {
        let lost = feed.samples.drain { row in
            for (i, histogram) in stages.enumerated() { histogram.record(row[i] / 1000) }
            faces.record(row[7])
        }
        if lost > 0 { lostSamples.increment(by: Int64(lost)) }
        let t = telemetry.snapshot()
        exported.withLock { e in
            advanceCounter(frames, &e.frames, to: t.frames)
            advanceCounter(dropped, &e.dropped, to: t.dropped)
            advanceCounter(corrupt, &e.corrupt, to: t.corrupt)
            advanceCounter(reconnects, &e.reconnects, to: t.reconnects)
        }
        if let counts = t.mqtt {
            mqtt.withLock { c in
                if c == nil { c = PublisherCounters(registry) }
                c!.advance(to: counts)
            }
        }
        fps.set(to: t.fps)
        streamClients.set(to: Double(feed.streamClients.load(ordering: .relaxed)))
        eventClients.set(to: Double(feed.eventClients.load(ordering: .relaxed)))
        heads.withLock { gauges in
            for (name, head) in [("verifier", t.verifier), ("expression", t.expression)] {
                guard let head else { continue }
                if gauges[name] == nil { gauges[name] = HeadGauges(registry, head: name) }
                gauges[name]!.set(head)
            }
        }
    }

    func exposition() -> [UInt8] {
        update()
        return registry.emitToBuffer()
    }
}

/// facecam_NAME, with its help text (the unit, when there is one, is part of NAME).
private func named(_ name: String, _ help: String) -> MetricNameDescriptor {
    MetricNameDescriptor(namespace: "facecam", metricName: name, unitName: "", helpText: help)
}

/// Prometheus counters only rise: moves `counter` up to the loop's running total `now`, of
/// which `done` has been exported so far.
private func advanceCounter(_ counter: Counter, _ done: inout Int, to now: Int) {
    if now > done { counter.increment(by: Int64(now - done)); done = now }
}
