// Asking a running loop to stop from anywhere: another thread (a server, a test) or a signal
// handler. The loop reads the flag between frames and while it waits to reconnect.
#if canImport(Glibc)
import Glibc
#endif
import Synchronization

public final class StopRequest: Sendable {
    private let flag = Atomic<Int>(0)

    public init() {}

    /// Lock-free, so also safe inside a signal handler.
    public func request() { flag.store(1, ordering: .releasing) }

    public var isRequested: Bool { flag.load(ordering: .acquiring) != 0 }

    /// Makes SIGINT and SIGTERM request this stop, and ignores SIGPIPE (a closed stdout or
    /// socket is then an error to handle, not a silent death). One target per process: the
    /// last call wins.
    public func installSignalHandlers() {
        let previous = signalTarget.exchange(Unmanaged.passRetained(self).toOpaque(), ordering: .acquiringAndReleasing)
        if let previous { Unmanaged<StopRequest>.fromOpaque(previous).release() }
        signal(SIGINT) { _ in stopFromSignal() }
        signal(SIGTERM) { _ in stopFromSignal() }
        signal(SIGPIPE, SIG_IGN)
    }
}

/// The request signal handlers set (a C signal handler cannot capture a context).
private let signalTarget = Atomic<UnsafeMutableRawPointer?>(nil)

private func stopFromSignal() {
    guard let target = signalTarget.load(ordering: .acquiring) else { return }
    Unmanaged<StopRequest>.fromOpaque(target).takeUnretainedValue().request()
}
