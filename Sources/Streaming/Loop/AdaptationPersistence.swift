// Loads the adapted heads of a running pipeline at start and saves them periodically (in the
// background, never waiting for the disk) and at the end (--adapt-state).
#if canImport(Glibc)
import Glibc
#endif
import Adaptation
import Int8Runtime

public final class AdaptationPersistence {
    public let path: String
    public let interval: Double
    /// SHA-256 of each head's model, by head name: a state saved for another model is refused.
    public let hashes: [String: [UInt8]]
    private let writer: StateWriter
    private var lastSave = monotonicNanoseconds()
    public private(set) var saves = 0

    public init(path: String, interval: Double, hashes: [String: [UInt8]]) {
        self.path = path
        self.interval = interval
        self.hashes = hashes
        writer = StateWriter(path: path)
    }

    /// Restores what the file holds for these heads. A missing file is a fresh start; a damaged
    /// or foreign one is reported and ignored (the heads start from the source).
    public func restore(_ adapters: [HeadAdapter], note: (String) -> Void) {
        guard access(path, F_OK) == 0 else {
            note("facecam: adaptation state \(path) does not exist yet; starting from the source weights")
            return
        }
        let state: AdaptationState
        do { state = try AdaptationState.load(path: path) } catch {
            note("facecam: adaptation state \(path) is not usable (\(error)); starting from the source weights")
            return
        }
        for adapter in adapters {
            guard let head = state.head(adapter.name) else {
                note("facecam: adaptation state \(path) has no '\(adapter.name)' head; it starts from the source weights")
                continue
            }
            do {
                try adapter.restore(from: head, modelSHA256: hashes[adapter.name] ?? [])
                note("facecam: restored the '\(adapter.name)' head from \(path) (\(adapter.updates) updates, \(adapter.resets) resets)")
            } catch {
                note("facecam: \(path): \(error); the '\(adapter.name)' head starts from the source weights")
            }
        }
    }

    func encode(_ adapters: [HeadAdapter]) -> [UInt8] {
        AdaptationState(heads: adapters.map { $0.headState(modelSHA256: hashes[$0.name] ?? []) }).encoded()
    }

    /// Saves in the background when the interval has passed (never waits for the disk).
    public func maybeSave(_ adapters: [HeadAdapter]) {
        let now = monotonicNanoseconds()
        guard Double(now - lastSave) / 1e9 >= interval else { return }
        lastSave = now
        if writer.saveInBackground(encode(adapters)) { saves += 1 }
    }

    /// The final save at exit: synchronous, after any background save.
    public func finish(_ adapters: [HeadAdapter]) throws {
        writer.finish()
        try writer.save(encode(adapters))
        saves += 1
    }

    public var lastError: String? { writer.lastError.map { "\($0)" } }
}
