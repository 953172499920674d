// One libmosquitto client and the thread that feeds it from the sink's queue.
//
// Two threads, neither of them the frame loop:
// - mosquitto's own network thread (mosquitto_loop_start) reads and writes the socket, and
//   after a lost connection reconnects with backoff (mosquitto_reconnect_delay_set: 1 s,
//   4 s, then every 8 s). It calls our callbacks (connect, disconnect, publish done).
// - the publisher thread pops messages from the queue and hands them to mosquitto, but only
//   while connected and while fewer than `maxOutstanding` are unsent: a broker that is gone
//   or slow leaves the messages in the bounded drop-oldest queue (newest kept), not in
//   mosquitto's unbounded packet list.
#if canImport(Glibc)
import Glibc
#endif
import CMosquitto
import Int8Runtime  // monotonicNanoseconds
import Streaming

public enum MQTTQoS: Int32, Sendable {
    case atMostOnce = 0
    case atLeastOnce = 1
}

/// What the publisher did; any thread may read it.
public struct MQTTCounts: Sendable, Equatable {
    /// Frame messages the broker took (QoS 0: written to the socket; QoS 1: acknowledged).
    public var sent = 0
    /// Dropped by the queue when full (the oldest first): broker down or too slow.
    public var dropped = 0
    /// Handed to a connection that then broke (QoS 0), or refused by libmosquitto.
    public var lost = 0
    /// Still queued when the run ended without a connection to send them.
    public var unsent = 0
    /// Handed to libmosquitto and not yet sent (QoS 0) or acknowledged (QoS 1); at most 32.
    public var inFlight = 0
    /// Successful reconnections after a lost connection.
    public var reconnects = 0
    public var connected = false
}

final class MQTTConnection {
    let address: MQTTAddress
    let qos: MQTTQoS
    let queue: DropOldestQueue<String>
    private let note: (String) -> Void
    /// Messages handed to mosquitto and not yet sent/acknowledged, at most.
    static let maxOutstanding = 32
    private var maxOutstanding: Int { MQTTConnection.maxOutstanding }
    private static let keepaliveSeconds: Int32 = 15
    private static let flushTimeoutNs: UInt64 = 2_000_000_000

    private var handle: OpaquePointer?
    private var publisher: JoinableThread?

    // Guarded by `state`.
    private let state = Monitor()
    private var connected = false
    private var everConnected = false
    private var announcedDown = false
    private var stopping = false
    private var outstanding = 0
    private var counts = MQTTCounts()
    private var statusMid: Int32 = -1
    private var statusDone = false

    init(address: MQTTAddress, qos: MQTTQoS, queue: DropOldestQueue<String>, note: @escaping (String) -> Void) {
        self.address = address; self.qos = qos; self.queue = queue; self.note = note
    }

    deinit {
        if handle != nil { stop() }
    }

    var snapshot: MQTTCounts {
        var c = state.withLock { () -> MQTTCounts in
            var c = counts
            c.inFlight = outstanding
            return c
        }
        c.dropped = queue.dropped
        return c
    }

    /// Creates the client and starts connecting in the background. Throws only when the
    /// library cannot run at all; an unreachable broker is reported once and retried.
    func start() throws(MQTTError) {
        MQTTConnection.initializeLibrary
        let id = MQTTConnection.clientID()
        guard let mosq = mosquitto_new(id, true, Unmanaged.passUnretained(self).toOpaque()) else {
            throw MQTTError("mqtt: cannot create a client (out of memory)")
        }
        handle = mosq
        mosquitto_connect_callback_set(mosq) { _, context, rc in MQTTConnection.from(context).connected(rc) }
        mosquitto_disconnect_callback_set(mosq) { _, context, rc in MQTTConnection.from(context).disconnected(rc) }
        mosquitto_publish_callback_set(mosq) { _, context, mid in MQTTConnection.from(context).published(mid) }
        // The broker publishes the retained "offline" when we vanish without a goodbye.
        var rc = address.statusTopic.withCString { mosquitto_will_set(mosq, $0, 7, "offline", 1, true) }
        guard rc == MOSQ_ERR_SUCCESS.rawValue else { throw MQTTError("mqtt: cannot set the last will: \(String(cString: mosquitto_strerror(rc)))") }
        mosquitto_reconnect_delay_set(mosq, 1, 8, true)
        rc = mosquitto_loop_start(mosq)  // it waits until the publisher thread has connected
        guard rc == MOSQ_ERR_SUCCESS.rawValue else { throw MQTTError("mqtt: cannot start the network thread: \(String(cString: mosquitto_strerror(rc)))") }
        // unowned(unsafe): stop() joins the thread before this object can go away, even from deinit.
        publisher = JoinableThread { [unowned(unsafe) self] in self.publishLoop() }
    }

    /// Sends what is queued (for up to 2 s, while connected), the retained "offline", and
    /// disconnects. Safe to call more than once.
    func stop() {
        guard let mosq = handle else { return }
        state.update { stopping = true }
        publisher?.join()
        publisher = nil
        let wasConnected = state.withLock { connected }
        // A clean goodbye suppresses the will, so the offline status is published by hand.
        if wasConnected {
            let deadline = monotonicNanoseconds() + MQTTConnection.flushTimeoutNs
            let queued = state.update {
                statusDone = false
                return publishStatus("offline")
            }
            if queued { _ = state.wait(until: { statusDone || !connected }, deadlineNs: deadline) }
        }
        mosquitto_disconnect(mosq)
        // Without a connection the network thread may sit in a blocking connect(): cancel it.
        mosquitto_loop_stop(mosq, !wasConnected)
        mosquitto_destroy(mosq)
        handle = nil
        let left = queue.elementCount
        state.update {
            counts.unsent += left
            counts.connected = false
        }
    }

    // MARK: The publisher thread

    private func publishLoop() {
        // Connecting resolves the host name, which can take seconds without a network: here,
        // not on the thread that called start().
        let rc = mosquitto_connect_async(handle, address.host, Int32(address.port), MQTTConnection.keepaliveSeconds)
        if rc != MOSQ_ERR_SUCCESS.rawValue {  // mosquitto's thread retries; nothing is fatal here
            announceDown(rc == MOSQ_ERR_ERRNO.rawValue ? String(cString: strerror(errno)) : String(cString: mosquitto_strerror(rc)))
        }
        var flushDeadline: UInt64?
        while true {
            let now = monotonicNanoseconds()
            // Wait until a message may go out; on stop, keep sending only while connected,
            // for a bounded time.
            let canSend = state.wait(until: { (connected && outstanding < maxOutstanding) || stopping },
                                     deadlineNs: now + 250_000_000)
            let (isStopping, isConnected, roomLeft) = state.withLock { (stopping, connected, outstanding < maxOutstanding) }
            if isStopping {
                if flushDeadline == nil { flushDeadline = now + MQTTConnection.flushTimeoutNs }
                guard isConnected, monotonicNanoseconds() < flushDeadline! else { return }
                if !roomLeft {  // waiting for mosquitto to send what it has
                    _ = state.wait(until: { outstanding < maxOutstanding || !connected }, deadlineNs: flushDeadline!)
                    continue
                }
                guard let message = queue.pop() else {  // all handed over: wait until they are sent
                    _ = state.wait(until: { outstanding == 0 || !connected }, deadlineNs: flushDeadline!)
                    return
                }
                publish(message)
                continue
            }
            guard canSend, isConnected, roomLeft else { continue }
            guard let message = queue.pop(timeoutMs: 250) else { continue }
            publish(message)
        }
    }

    private func publish(_ message: String) {
        // Under the lock, so that the publish callback (mosquitto's thread) cannot count the
        // message before it is counted as outstanding.
        state.update {
            guard connected, let mosq = handle else { counts.lost += 1; return }
            var utf8 = message
            let rc = utf8.withUTF8 { bytes in
                address.topic.withCString {
                    mosquitto_publish(mosq, nil, $0, Int32(bytes.count), bytes.baseAddress, qos.rawValue, false)
                }
            }
            if rc == MOSQ_ERR_SUCCESS.rawValue { outstanding += 1 } else { counts.lost += 1 }
        }
    }

    /// Publishes a retained status under `state`'s lock, remembering its message id.
    private func publishStatus(_ text: String) -> Bool {
        guard let mosq = handle else { return false }
        var mid: Int32 = 0
        let rc = address.statusTopic.withCString { topic in
            text.withCString { mosquitto_publish(mosq, &mid, topic, Int32(strlen($0)), $0, 1, true) }
        }
        statusMid = rc == MOSQ_ERR_SUCCESS.rawValue ? mid : -1
        return rc == MOSQ_ERR_SUCCESS.rawValue
    }

    // MARK: Callbacks, on mosquitto's network thread

    private func connected(_ rc: Int32) {
        guard rc == 0 else {
            let reason = String(cString: mosquitto_connack_string(rc))
            let first = state.update { () -> Bool in defer { announcedDown = true }; return !announcedDown }
            if first { note("facecam: mqtt: \(address) refused the connection (\(reason)); retrying with backoff") }
            return
        }
        let (first, reconnected) = state.update { () -> (Bool, Bool) in
            connected = true
            counts.connected = true
            // QoS 0 packets mosquitto had not written died with the old connection; QoS 1
            // ones are sent again by mosquitto and acknowledged later.
            if qos == .atMostOnce {
                counts.lost += outstanding
                outstanding = 0
            }
            _ = publishStatus("online")
            let first = !everConnected
            everConnected = true
            if !first { counts.reconnects += 1 }
            return (first, !first)
        }
        if first { note("facecam: mqtt: connected to \(address)") }
        if reconnected { note("facecam: mqtt: reconnected to \(address)") }
    }

    private func disconnected(_ rc: Int32) {
        let (wasConnected, quitting, before) = state.update { () -> (Bool, Bool, Bool) in
            let was = connected
            connected = false
            counts.connected = false
            return (was, stopping, everConnected)
        }
        guard !quitting else { return }
        if wasConnected {
            note("facecam: mqtt: lost the connection to \(address); reconnecting with backoff, frames keep being processed")
        } else if !before {
            announceDown(rc == MOSQ_ERR_ERRNO.rawValue ? String(cString: strerror(errno)) : String(cString: mosquitto_strerror(rc)))
        }
    }

    private func published(_ mid: Int32) {
        state.update {
            if mid == statusMid {
                statusDone = true
                statusMid = -1
            } else if outstanding > 0 {
                outstanding -= 1
                counts.sent += 1
            }
        }
    }

    private func announceDown(_ reason: String) {
        let first = state.update { () -> Bool in defer { announcedDown = true }; return !announcedDown }
        if first {
            note("facecam: mqtt: cannot reach the broker at \(address) (\(reason)); retrying in the background, frames wait in a bounded queue")
        }
    }

    // MARK: Library

    private static func from(_ context: UnsafeMutableRawPointer?) -> MQTTConnection {
        Unmanaged<MQTTConnection>.fromOpaque(context!).takeUnretainedValue()
    }

    /// mosquitto_lib_init is not thread safe: once per process, on first use.
    private static let initializeLibrary: Void = { _ = mosquitto_lib_init() }()

    /// facecam-HOSTNAME-PID: recognisable in the broker's log, unique per process.
    private static func clientID() -> String {
        var name = [CChar](repeating: 0, count: 64)
        let host = gethostname(&name, name.count - 1) == 0 ? String(cString: name) : "host"
        return "facecam-\(host.prefix(40))-\(getpid())"
    }
}

public struct MQTTError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
