// POSIX threads for the consumers of the loop's hand-offs (the MQTT publisher, the live view's
// encoder): blocking waits that must not occupy one of Swift concurrency's cooperative threads.
#if canImport(Glibc)
import Glibc
#endif

/// A pthread running `body`; `join()` waits for it, `detached` starts one nobody joins.
public final class JoinableThread {
    private var thread = pthread_t()
    private var joined = false

    public init(_ body: @escaping () -> Void) {
        thread = JoinableThread.spawn(body)
    }

    public func join() {
        guard !joined else { return }
        joined = true
        pthread_join(thread, nil)
    }

    public static func detached(_ body: @escaping @Sendable () -> Void) {
        pthread_detach(spawn(body))
    }

    private static func spawn(_ body: @escaping () -> Void) -> pthread_t {
        final class Box { let body: () -> Void; init(_ body: @escaping () -> Void) { self.body = body } }
        let context = Unmanaged.passRetained(Box(body)).toOpaque()
        var thread = pthread_t()
        let status = pthread_create(&thread, nil, { context in
            Unmanaged<Box>.fromOpaque(context!).takeRetainedValue().body()
            return nil
        }, context)
        precondition(status == 0, "pthread_create failed (\(status))")
        return thread
    }
}
