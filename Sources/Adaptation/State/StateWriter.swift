// Atomic saving of state files: the frame loop hands a snapshot over and goes on; whatever
// moment the board loses power or the process is killed, the file on disk is whole.
import Glibc

/// Writes state files atomically: temporary file in the same folder, write all, fsync, rename
/// over the target, fsync the folder. A crash (even SIGKILL) at any moment leaves either the
/// old file or the new one, whole. Leftover temporary files from a killed writer are ignored
/// by load and cleaned up by the next save.
///
/// Temporary files are named ".<file name>.tmp-<pid>" next to the target; a writer only
/// removes ones whose process no longer exists, so two processes never delete each other's.
public final class StateWriter: @unchecked Sendable {
    public let path: String
    private let folder: String
    private let temporaryPrefix: String
    private let temporaryPath: String

    // Serializes the file operations of synchronous and background saves (they share the
    // temporary file).
    private let ioLock = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    // Guards everything below and wakes the worker / waiters.
    private let lock = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let changed = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var pending: [UInt8]?
    private var busy = false        // a background save is queued or running
    private var stopping = false
    private var worker: pthread_t?
    private var backgroundError: StateFileError?
    private var cleanedUp = false

    public init(path: String) {
        self.path = path
        let name: Substring
        if let slash = path.lastIndex(of: "/") {
            let dir = path[..<slash]
            folder = dir.isEmpty ? "/" : String(dir)
            name = path[path.index(after: slash)...]
        } else {
            folder = "."
            name = Substring(path)
        }
        temporaryPrefix = "." + name + ".tmp-"
        temporaryPath = (folder == "/" ? "/" : folder + "/") + temporaryPrefix + String(getpid())
        pthread_mutex_init(ioLock, nil)
        pthread_mutex_init(lock, nil)
        pthread_cond_init(changed, nil)
    }

    deinit {
        finish()
        pthread_cond_destroy(changed)
        pthread_mutex_destroy(lock)
        pthread_mutex_destroy(ioLock)
        changed.deallocate()
        lock.deallocate()
        ioLock.deallocate()
    }

    /// The error of the latest background save that failed (nil if none has). A later
    /// successful save does not clear it, so a failure is never missed between two polls.
    public var lastError: StateFileError? {
        pthread_mutex_lock(lock)
        defer { pthread_mutex_unlock(lock) }
        return backgroundError
    }

    /// Synchronous, atomic save.
    public func save(_ bytes: [UInt8]) throws {
        pthread_mutex_lock(ioLock)
        defer { pthread_mutex_unlock(ioLock) }
        try writeAtomically(bytes)
        if !cleanedUp {
            cleanedUp = true
            removeLeftovers()
        }
    }

    /// Hands the bytes to a background thread (pthread; no Dispatch needed) so the frame loop
    /// never waits for fsync. Returns false (and drops this snapshot) if the previous save is
    /// still in flight. Errors of background saves are kept: `lastError`.
    public func saveInBackground(_ bytes: [UInt8]) -> Bool {
        pthread_mutex_lock(lock)
        defer { pthread_mutex_unlock(lock) }
        if busy { return false }
        if worker == nil {
            var thread = pthread_t()
            let context = Unmanaged.passUnretained(self).toOpaque()
            // The thread holds no reference: deinit joins it (finish) before the object goes.
            let status = pthread_create(&thread, nil, { context in
                Unmanaged<StateWriter>.fromOpaque(context!).takeUnretainedValue().workerLoop()
                return nil
            }, context)
            guard status == 0 else {
                backgroundError = .io("cannot save '\(path)': cannot start the saving thread: \(errnoText(status))")
                return false
            }
            worker = thread
        }
        pending = bytes
        busy = true
        pthread_cond_broadcast(changed)
        return true
    }

    /// Waits for an in-flight save and stops the saving thread (a later saveInBackground
    /// starts a new one).
    public func finish() {
        pthread_mutex_lock(lock)
        while busy { pthread_cond_wait(changed, lock) }
        guard let thread = worker else {
            pthread_mutex_unlock(lock)
            return
        }
        stopping = true
        pthread_cond_broadcast(changed)
        pthread_mutex_unlock(lock)
        pthread_join(thread, nil)
        pthread_mutex_lock(lock)
        worker = nil
        stopping = false
        pthread_mutex_unlock(lock)
    }

    private func workerLoop() {
        while true {
            pthread_mutex_lock(lock)
            while pending == nil && !stopping { pthread_cond_wait(changed, lock) }
            guard let bytes = pending else {
                pthread_mutex_unlock(lock)
                return
            }
            pending = nil
            pthread_mutex_unlock(lock)
            var failure: StateFileError?
            do { try save(bytes) } catch let error as StateFileError { failure = error } catch {
                failure = .io("cannot save '\(path)': \(error)")
            }
            pthread_mutex_lock(lock)
            if let failure { backgroundError = failure }
            busy = false
            pthread_cond_broadcast(changed)
            pthread_mutex_unlock(lock)
        }
    }

    private func writeAtomically(_ bytes: [UInt8]) throws {
        func failure(_ step: String) -> StateFileError {
            .io("cannot save '\(path)': \(step): \(errnoText())")
        }
        // A leftover from an earlier process with our pid (pids repeat after a reboot).
        unlink(temporaryPath)
        let fd = open(temporaryPath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw failure("cannot create '\(temporaryPath)'") }
        var written = 0
        while written < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + written, $0.count - written) }
            if n < 0 {
                if errno == EINTR { continue }
                let error = failure("cannot write '\(temporaryPath)'")
                close(fd)
                unlink(temporaryPath)
                throw error
            }
            written += n
        }
        // Data on disk before the rename makes it visible; otherwise a power cut could leave
        // the new name pointing at an empty file.
        if fsync(fd) != 0 {
            let error = failure("cannot flush '\(temporaryPath)'")
            close(fd)
            unlink(temporaryPath)
            throw error
        }
        if close(fd) != 0 {
            let error = failure("cannot close '\(temporaryPath)'")
            unlink(temporaryPath)
            throw error
        }
        if rename(temporaryPath, path) != 0 {
            let error = failure("cannot rename '\(temporaryPath)' over it")
            unlink(temporaryPath)
            throw error
        }
        // The rename itself is durable only once the folder is flushed.
        let dirFD = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard dirFD >= 0 else { throw failure("cannot open folder '\(folder)'") }
        defer { close(dirFD) }
        // Some file systems cannot fsync a folder (EINVAL); the rename has happened anyway.
        if fsync(dirFD) != 0 && errno != EINVAL { throw failure("cannot flush folder '\(folder)'") }
    }

    /// Removes temporary files of writers that were killed mid-save (their process is gone).
    private func removeLeftovers() {
        guard let dir = opendir(folder) else { return }
        defer { closedir(dir) }
        let ownName = String(getpid())
        var stale: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw -> String in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            guard name.hasPrefix(temporaryPrefix) else { continue }
            let suffix = name.dropFirst(temporaryPrefix.count)
            if suffix == ownName { continue }
            if let pid = Int32(suffix), pid > 0, kill(pid, 0) == 0 || errno == EPERM { continue }  // still alive
            stale.append(name)
        }
        for name in stale { unlink((folder == "/" ? "/" : folder + "/") + name) }
    }
}
