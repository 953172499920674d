// Reading whole files with POSIX calls, so the core runtime does not need Foundation.
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

enum FileIO {
    /// Reads the file at `path` into freshly allocated memory aligned to `alignment` bytes.
    /// The caller owns the memory. Files above `limit` bytes are refused before reading.
    static func readAll(path: String, alignment: Int, limit: Int) throws -> (UnsafeMutableRawPointer, Int) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ModelError.io("cannot open '\(path)': \(errnoMessage())") }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw ModelError.io("cannot stat '\(path)': \(errnoMessage())") }
        guard (info.st_mode & S_IFMT) == S_IFREG else { throw ModelError.io("'\(path)' is not a regular file") }
        let size = Int(info.st_size)
        guard size <= limit else {
            throw ModelError.io("'\(path)' is \(size) bytes; models above \(limit) bytes are refused")
        }
        let memory = UnsafeMutableRawPointer.allocate(byteCount: max(size, 1), alignment: alignment)
        var done = 0
        while done < size {
            let n = read(fd, memory + done, size - done)
            if n < 0 {
                if errno == EINTR { continue }
                let message = errnoMessage()
                memory.deallocate()
                throw ModelError.io("cannot read '\(path)': \(message)")
            }
            if n == 0 { break }
            done += n
        }
        guard done == size else {
            memory.deallocate()
            throw ModelError.io("'\(path)' changed size while being read")
        }
        return (memory, size)
    }

    static func errnoMessage() -> String {
        String(cString: strerror(errno))
    }
}

/// Monotonic time in nanoseconds, for load-time and latency figures.
public func monotonicNanoseconds() -> UInt64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
}
