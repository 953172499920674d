// The live view's HTTP/1.1 server: GET and HEAD, one request per connection. FlyingSocks
// (FlyingFox's socket layer) gives non-blocking sockets on epoll driven by Swift
// concurrency; the request handling is ours (HTTP.swift) because FlyingFox's HTTPServer has
// no limit on header size or connection count and closes malformed requests without an
// answer. Limits: `maxConnections` open at once (more get 503), `maxHeaderBytes` of request
// head (431), `headTimeout` to send it (408); a client that stops reading a stream is
// dropped after `stallSeconds`. The server reads the loop's state only through LiveFeed and
// Telemetry, so nothing it does can make the loop wait.
#if canImport(Glibc)
import Glibc
#endif
import FlyingSocks
import FoundationEssentials  // Data: what FlyingSocks' AsyncSocket.write takes
import Int8Runtime
import Streaming
import Synchronization

public struct ServeSettings: Sendable {
    public var address: ServeAddress
    /// When set, every request must carry it (Authorization: Bearer, or ?token=).
    public var token: String?
    /// Without a token, only loopback peers are answered unless this is set.
    public var allowPublic = false
    public var maxConnections = 16
    public var maxHeaderBytes = 8192
    public var headTimeout = 10.0
    public var stallSeconds = 10.0
    public var streamFPS = 10.0
    /// /healthz answers 503 when no frame arrived for this long.
    public var staleSeconds = 5.0

    public init(address: ServeAddress) { self.address = address }
}

public struct ServeError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

public final class PreviewServer: @unchecked Sendable {  // `sink` is used by the loop thread only
    public let settings: ServeSettings
    /// Add it to the loop's sinks.
    public let sink: PreviewSink
    let feed: LiveFeed
    let telemetry: Telemetry
    let metrics: MetricsExporter
    private let listener: Socket
    /// The port actually bound (port 0 picks a free one).
    public let boundPort: UInt16
    let openConnections = Atomic<Int>(0)

    /// Binds and listens at once, so a taken port is an error before the loop starts.
    public init(settings: ServeSettings, telemetry: Telemetry, info: BuildInfo) throws(ServeError) {
        self.settings = settings
        self.telemetry = telemetry
        feed = LiveFeed()
        sink = PreviewSink(feed: feed, streamFPS: settings.streamFPS)
        metrics = MetricsExporter(feed: feed, telemetry: telemetry, info: info)
        let address = settings.address
        let name = "--serve \(address.display)"
        do {
            let socket = try Socket(domain: address.isIPv6 ? AF_INET6 : AF_INET)
            do {
                try socket.setValue(true, for: .localAddressReuse)  // a restart binds despite TIME_WAIT
                if address.isIPv6 {
                    try socket.bind(to: sockaddr_in6.inet6(ip6: address.host, port: address.port))
                } else {
                    try socket.bind(to: sockaddr_in.inet(ip4: address.host, port: address.port))
                }
                try socket.listen(maxPendingConnection: 64)
            } catch {
                try? socket.close()
                throw error
            }
            listener = socket
            switch try socket.sockname() {
            case .ip4(_, let port), .ip6(_, let port): boundPort = port
            default: boundPort = address.port
            }
        } catch SocketError.failed(let type, let code, let message) {
            switch code {
            case EADDRINUSE: throw ServeError("\(name): the port is already in use (is another facecam or server running there?)")
            case EACCES: throw ServeError("\(name): permission denied (ports below 1024 need privileges)")
            case EADDRNOTAVAIL: throw ServeError("\(name): this machine has no such address")
            default: throw ServeError("\(name): \(type.lowercased()) failed: \(message)")
            }
        } catch SocketError.unsupportedAddress {
            throw ServeError("\(name): not a numeric IPv4 or IPv6 address")
        } catch {
            throw ServeError("\(name): \(error)")
        }
    }

    public var url: String {
        let host = settings.address.isIPv6 ? "[\(settings.address.host)]" : settings.address.host
        return "http://\(host):\(boundPort)/"
    }

    /// Starts serving on Swift concurrency's threads; returns at once. `note` reports a fatal
    /// server error (the loop goes on without the live view).
    public func start(note: @escaping @Sendable (String) -> Void) {
        Task.detached { [self] in
            do { try await serve() } catch { note("facecam: the live view stopped: \(error)") }
        }
        Task.detached { [metrics] in  // keeps the sample ring drained between scrapes
            while true {
                try? await Task.sleep(nanoseconds: 1_000_000_000)
                metrics.update()
            }
        }
    }

    private func serve() async throws {
        let pool = SocketPool.make(maxEvents: 64)
        try await pool.prepare()
        Task.detached { try await pool.run() }
        let server = try AsyncSocket(socket: listener, pool: pool)
        while true {
            let client: AsyncSocket
            do { client = try await server.accept() } catch {
                // Out of file descriptors or an aborted handshake: wait a little, keep serving.
                try await Task.sleep(nanoseconds: 50_000_000)
                continue
            }
            let open = openConnections.wrappingAdd(1, ordering: .relaxed).newValue
            Task {
                defer {
                    try? client.close()
                    openConnections.wrappingSubtract(1, ordering: .relaxed)
                }
                if open > settings.maxConnections {
                    try? await send(client, Response.text(503, "too many connections (at most \(settings.maxConnections))",
                                                          extraHeaders: ["Retry-After: 1"]).bytes(headOnly: false))
                    await closeAfterError(client, seconds: 0.2)  // short: a flood must not pile up
                    return
                }
                await handle(client)
            }
        }
    }

    private func handle(_ client: AsyncSocket) async {
        let request: Request
        do {
            request = try await withTimeout(settings.headTimeout) { [settings] in
                var head = RequestHead(limit: settings.maxHeaderBytes)
                while true {
                    let chunk = try await client.read(atMost: 4096)
                    if chunk.isEmpty { throw SocketError.disconnected }
                    if let request = try head.append(chunk) { return request }
                }
            }
        } catch let error as RequestError {
            try? await send(client, Response.error(error).bytes(headOnly: false))
            await closeAfterError(client)
            return
        } catch is Timeout {
            try? await send(client, Response.text(408, "request head not received within \(Int(settings.headTimeout)) s").bytes(headOnly: false))
            return
        } catch { return }  // the client went away

        if let refusal = refusal(request, peer: try? client.socket.remotePeer()) {
            try? await send(client, Response.error(refusal).bytes(headOnly: request.isHead))
            await closeAfterError(client)
            return
        }
        do {
            switch request.path {
            case "/":
                try await send(client, Response(status: 200, contentType: "text/html; charset=utf-8", body: Array(previewPage.utf8))
                    .bytes(headOnly: request.isHead))
            case "/metrics":
                try await send(client, Response(status: 200, contentType: "text/plain; version=0.0.4; charset=utf-8",
                                                body: metrics.exposition()).bytes(headOnly: request.isHead))
            case "/healthz":
                let (ok, why) = health()
                try await send(client, Response.text(ok ? 200 : 503, why).bytes(headOnly: request.isHead))
            case "/stream.mjpeg": try await streamFrames(client, headOnly: request.isHead)
            case "/events": try await streamEvents(client, headOnly: request.isHead)
            default:
                    try await send(client, Response.text(404, "no such path (try /, /stream.mjpeg, /events, /metrics, /healthz)")
                    .bytes(headOnly: request.isHead))
            }
        } catch {}  // the client closed, or stalled past stallSeconds
    }

    /// Why a request is refused, or nil. Method first (405 tells what works), then access.
    func refusal(_ request: Request, peer: Socket.Address?) -> RequestError? {
        guard request.method == "GET" || request.method == "HEAD" else {
            return RequestError(405, "only GET and HEAD are served")
        }
        if let token = settings.token {
            guard let given = request.token, constantTimeEqual(given, token) else {
                return RequestError(401, "a valid token is required (Authorization: Bearer TOKEN, or ?token=TOKEN)")
            }
            return nil
        }
        if !settings.allowPublic, let peer, !isLoopback(peer) {
            return RequestError(403, "only loopback clients are served without --serve-token (or give --serve-public)")
        }
        return nil
    }

    /// 200 while frames arrive; 503 before the first, when the source is lost or ended, or
    /// when no frame came for `staleSeconds` (a camera that hangs or reconnects).
    func health() -> (Bool, String) {
        let t = telemetry.snapshot()
        if feed.finished.load(ordering: .relaxed) || t.state == .ended { return (false, "the source has ended") }
        if t.state == .lost { return (false, "the camera is lost") }
        if t.state == .reconnecting { return (false, "the camera is lost; reconnecting") }
        if t.lastFrameNs == 0 { return (false, "waiting for the first frame") }
        let age = Double(monotonicNanoseconds() &- t.lastFrameNs) / 1e9
        if age > settings.staleSeconds { return (false, "no frame for \(Int(age)) s") }
        return (true, "ok: \(t.frames) frames, \(Int(t.fps.rounded())) fps")
    }

    /// After an error answer to a request we did not read whole: closing with unread bytes
    /// would reset the connection, and the client could lose the answer. So: end our side,
    /// then read and discard until the client closes (at most `seconds`).
    private func closeAfterError(_ client: AsyncSocket, seconds: Double = 1) async {
        _ = shutdown(client.socket.file.rawValue, Int32(SHUT_WR))
        _ = try? await withTimeout(seconds) { () async throws -> Bool in
            while try await !client.read(atMost: 4096).isEmpty {}  // ends with .disconnected at EOF
            return true
        }
    }

    private func send(_ client: AsyncSocket, _ bytes: [UInt8]) async throws {
        try await withTimeout(settings.stallSeconds) { try await client.write(Data(bytes)) }
    }

    /// multipart/x-mixed-replace JPEG frames; each part names its frame (`X-Frame`, the
    /// JSON Lines `frame`) so the page can draw that frame's boxes on it.
    private func streamFrames(_ client: AsyncSocket, headOnly: Bool) async throws {
        let boundary = "facecamframe"
        try await send(client, Response.streamHead(contentType: "multipart/x-mixed-replace; boundary=\(boundary)"))
        if headOnly { return }
        feed.streamClients.wrappingAdd(1, ordering: .relaxed)
        defer { feed.streamClients.wrappingSubtract(1, ordering: .relaxed) }
        var sent = feed.jpeg.peek()?.version ?? 0  // only frames encoded from now on
        while true {
            // Waiting: the loop hands frames to the encoder only while some client waits.
            feed.streamWaiting.wrappingAdd(1, ordering: .relaxed)
            var next: (value: EncodedFrame, version: UInt64)?
            do {
                while next == nil {
                    if let newest = feed.jpeg.peek(), newest.version != sent { next = newest } else {
                        try await Task.sleep(nanoseconds: 10_000_000)
                    }
                }
            } catch {
                feed.streamWaiting.wrappingSubtract(1, ordering: .relaxed)
                throw error
            }
            feed.streamWaiting.wrappingSubtract(1, ordering: .relaxed)
            guard let (frame, version) = next else { continue }
            sent = version
            var part = Array("--\(boundary)\r\nContent-Type: image/jpeg\r\nContent-Length: \(frame.jpeg.count)\r\nX-Frame: \(frame.index)\r\n\r\n".utf8)
            part += frame.jpeg
            part += [13, 10]
            try await send(client, part)
        }
    }

    /// Server-Sent Events: every frame's JSON Lines object as a `data:` line, and twice a second
    /// an `event: telemetry` (fps, counters, adaptation) read from the loop's Telemetry.
    private func streamEvents(_ client: AsyncSocket, headOnly: Bool) async throws {
        try await send(client, Response.streamHead(contentType: "text/event-stream") + Array("retry: 1000\n\n".utf8))
        if headOnly { return }
        feed.eventClients.wrappingAdd(1, ordering: .relaxed)
        defer { feed.eventClients.wrappingSubtract(1, ordering: .relaxed) }
        var cursor = feed.events.version
        var batch: [String] = []
        var lastTelemetry: UInt64 = 0, lastWrite = monotonicNanoseconds()
        while true {
            batch.removeAll(keepingCapacity: true)
            feed.events.read(after: &cursor, into: &batch)
            var text = ""
            for event in batch { text += "data: "; text += event; text += "\n\n" }
            let now = monotonicNanoseconds()
            if now &- lastTelemetry >= 500_000_000 {
                lastTelemetry = now
                text += "event: telemetry\ndata: "
                text += telemetryJSON(telemetry.snapshot(), feed: feed, now: now).text
                text += "\n\n"
            }
            if text.isEmpty && now &- lastWrite > 10_000_000_000 { text = ": keep-alive\n\n" }
            if !text.isEmpty {
                try await send(client, Array(text.utf8))
                lastWrite = now
            }
            try await Task.sleep(nanoseconds: 40_000_000)
        }
    }
}

func telemetryJSON(_ t: TelemetrySnapshot, feed: LiveFeed, now: UInt64) -> JSON {
    var pairs: [(String, JSON)] = [
        ("state", .string("\(t.state)")), ("frames", .integer(t.frames)), ("dropped", .integer(t.dropped)),
        ("corrupt", .integer(t.corrupt)), ("reconnects", .integer(t.reconnects)), ("faces", .integer(t.faces)),
        ("fps", .number(round1(t.fps))),
        ("uptime_s", .number(round1(t.startedNs > 0 ? Double(now &- t.startedNs) / 1e9 : 0))),
        ("stream_clients", .integer(feed.streamClients.load(ordering: .relaxed))),
        ("event_clients", .integer(feed.eventClients.load(ordering: .relaxed))),
    ]
    var heads: [(String, JSON)] = []
    for (name, head) in [("verifier", t.verifier), ("expression", t.expression)] {
        guard let h = head else { continue }
        heads.append((name, .object([
            ("samples", .integer(h.samples)), ("updates", .integer(h.updates)), ("selected", .integer(h.selected)),
            ("resets", .integer(h.resets)), ("selected_fraction", .number(round3(h.selectedFraction))),
            ("threshold", .number(round3(Double(h.threshold)))), ("shift", .number(round3(Double(h.shift)))),
            ("entropy", .number(round3(Double(h.entropy)))), ("at_source", .bool(h.atSource)),
        ])))
    }
    pairs.append(("adaptation", .object(heads)))
    return .object(pairs)
}

func isLoopback(_ address: Socket.Address) -> Bool {
    switch address {
    case .ip4(let ip, _): return ip.hasPrefix("127.")
    case .ip6(let ip, _): return ip == "::1" || ip.hasPrefix("::ffff:127.")
    case .unix: return true
    }
}

struct Timeout: Error {}

/// `body`, or Timeout after `seconds` (the body is then cancelled).
func withTimeout<T: Sendable>(_ seconds: Double, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(nanoseconds: UInt64(seconds * 1e9))
            throw Timeout()
        }
        defer { group.cancelAll() }
        return try await group.next()!
    }
}
