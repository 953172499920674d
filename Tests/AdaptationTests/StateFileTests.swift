import Adaptation
import Foundation
import XCTest

/// SHA-256, the state file format, its decoder's defences and the atomic writer.
final class StateFileTests: XCTestCase {
    // MARK: SHA-256

    func testSHA256KnownVectors() {
        // FIPS 180-4 examples (and the NIST one-million-'a' vector).
        let vectors: [([UInt8], String)] = [
            ([], "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
            (Array("abc".utf8), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
            (Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8),
             "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
            ([UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000),
             "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"),
        ]
        for (message, expected) in vectors {
            let digest = SHA256.hash(message)
            XCTAssertEqual(digest.count, 32)
            XCTAssertEqual(SHA256.hex(digest), expected, "message of \(message.count) bytes")
        }
    }

    func testSHA256IncrementalEqualsOneShot() {
        var generator = SplitMix(seed: 7)
        let message = (0..<10_000).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
        let expected = SHA256.hash(message)
        // Odd chunk sizes cross block boundaries at every offset; 55/56/63/64 hit the padding edges.
        for chunkSizes in [[1], [3, 5, 7], [63], [64], [65], [55, 56, 1], [127, 1, 2], [0, 13, 0, 4096]] {
            var hasher = SHA256()
            var offset = 0, turn = 0
            while offset < message.count {
                let size = min(chunkSizes[turn % chunkSizes.count], message.count - offset)
                message.withUnsafeBytes { hasher.update(UnsafeRawBufferPointer(rebasing: $0[offset..<offset + size])) }
                offset += size
                turn += 1
            }
            XCTAssertEqual(hasher.finalize(), expected, "chunks \(chunkSizes)")
        }
        // Every length around the padding boundaries, one-shot against byte-at-a-time.
        for length in 50...130 {
            let prefix = Array(message[0..<length])
            var hasher = SHA256()
            for byte in prefix { [byte].withUnsafeBytes { hasher.update($0) } }
            XCTAssertEqual(hasher.finalize(), SHA256.hash(prefix), "length \(length)")
        }
    }

    func testHashFileOfShippedModel() throws {
        // `sha256sum models/onet.tflite` (the models are committed and do not change).
        let digest = try SHA256.hashFile(path: modelPath("onet"))
        XCTAssertEqual(SHA256.hex(digest), "fc4bf1e9a619dfed4909631f37940acda10b20d423389e5377b19d77e5309b61")
        XCTAssertThrowsError(try SHA256.hashFile(path: "/nonexistent/model.tflite")) { error in
            guard case .io(let message) = error as? StateFileError else { return XCTFail("\(error)") }
            XCTAssertTrue(message.contains("/nonexistent/model.tflite") && message.contains("No such file"), message)
        }
    }

    // MARK: Format

    func testRoundTripPreservesEverythingBitForBit() throws {
        let state = largeState()
        let bytes = state.encoded()
        let decoded = try AdaptationState(decoding: bytes)
        XCTAssertEqual(decoded, state)
        let expression = try XCTUnwrap(decoded.head("expression"))
        let parameters = try XCTUnwrap(expression.array("parameters"))
        XCTAssertEqual(parameters.count, 300_000)
        let original = state.heads[0].arrays[0].values
        XCTAssertTrue(zip(parameters, original).allSatisfy { $0.bitPattern == $1.bitPattern })
        XCTAssertEqual(parameters[0].bitPattern, 0x7fc0_0001)  // quiet NaN with a payload
        XCTAssertEqual(parameters[1].bitPattern, 0x7f80_0001)  // signalling NaN
        XCTAssertEqual(parameters[2], .infinity)
        XCTAssertEqual(parameters[3], -.infinity)
        XCTAssertEqual(parameters[4].bitPattern, (-0.0 as Float).bitPattern)
        XCTAssertEqual(expression.counter("updates"), 0)
        XCTAssertEqual(expression.counter("resets"), Int64.min)
        XCTAssertNil(expression.counter("missing"))
        XCTAssertEqual(expression.array("empty"), [])
        let verifier = try XCTUnwrap(decoded.head("verifier"))
        XCTAssertEqual(verifier.counters, [])
        XCTAssertEqual(verifier.arrays, [])
        XCTAssertTrue(verifier.belongs(toModel: [UInt8](repeating: 0x11, count: 32)))
        XCTAssertFalse(verifier.belongs(toModel: expression.modelSHA256))
        XCTAssertFalse(verifier.belongs(toModel: []))
        XCTAssertNil(decoded.head("nope"))
        // Encoding is deterministic, and a state without heads is valid too.
        XCTAssertEqual(decoded.encoded(), bytes)
        XCTAssertEqual(try AdaptationState(decoding: AdaptationState(heads: []).encoded()), AdaptationState(heads: []))
    }

    func testEveryTruncationIsRejected() {
        let bytes = smallState().encoded()
        for length in 0..<bytes.count {
            XCTAssertThrowsError(try AdaptationState(decoding: Array(bytes[0..<length])), "length \(length)") { error in
                XCTAssertTrue(error is StateFileError)
                if length >= 24 { XCTAssertEqual(error as? StateFileError, .truncated("\(length) of \(bytes.count) bytes")) }
            }
        }
        XCTAssertEqual(decodeError(bytes + [0]), .malformed("1 unexpected bytes after the declared length \(bytes.count)"))
    }

    func testEveryBitFlipOfSmallStateIsRejected() {
        let bytes = smallState().encoded()
        for offset in bytes.indices {
            for bit in 0..<8 {
                var damaged = bytes
                damaged[offset] ^= 1 << bit
                XCTAssertNotNil(decodeError(damaged), "byte \(offset) bit \(bit)")
            }
        }
    }

    func testRandomBitFlipsOfLargeStateAreRejected() {
        let bytes = largeState(floats: 20_000).encoded()  // 80 KB: 2,000 decodes stay quick in debug builds
        var generator = SplitMix(seed: 2024)
        for _ in 0..<2_000 {
            let offset = Int(generator.next() % UInt64(bytes.count)), bit = Int(generator.next() % 8)
            var damaged = bytes
            damaged[offset] ^= 1 << bit
            XCTAssertNotNil(decodeError(damaged), "byte \(offset) bit \(bit)")
        }
        // The 300,000-float state too, at fewer places (each decode hashes 1.2 MB in a debug build).
        let large = largeState().encoded()
        for _ in 0..<20 {
            var damaged = large
            damaged[Int(generator.next() % UInt64(large.count))] ^= 1 << (generator.next() % 8)
            XCTAssertEqual(decodeError(damaged).map { _ in true }, true)
        }
    }

    func testHeaderDamageIsNamed() {
        let bytes = smallState().encoded()
        var wrongMagic = bytes
        wrongMagic[0] = UInt8(ascii: "X")
        XCTAssertEqual(decodeError(wrongMagic), .notAStateFile)
        XCTAssertEqual(decodeError(Array("hello, world, this is text".utf8)), .notAStateFile)
        XCTAssertEqual(decodeError([]), .truncated("the file is empty"))
        XCTAssertEqual(decodeError(Array(bytes[0..<5])), .truncated("5 bytes, the header alone is 24"))
        // A future version is named even though its checksum (of this layout) would not match.
        XCTAssertEqual(decodeError(patch(bytes, at: 8, UInt32(2), rechecksum: false)), .unsupportedVersion(2))
        XCTAssertEqual(decodeError(patch(bytes, at: 8, UInt32(0))), .unsupportedVersion(0))
        XCTAssertEqual(decodeError(patch(bytes, at: 16, UInt64.max, rechecksum: false)),
                       .malformed("declared length \(UInt64.max) is outside 56...\(64 << 20)"))
        XCTAssertEqual(decodeError(patch(bytes, at: 16, UInt64(10), rechecksum: false)),
                       .malformed("declared length 10 is outside 56...\(64 << 20)"))
        XCTAssertEqual(decodeError(patch(bytes, at: 16, UInt64(bytes.count + 1_000_000), rechecksum: false)),
                       .truncated("\(bytes.count) of \(bytes.count + 1_000_000) bytes"))
        var badChecksum = bytes
        badChecksum[bytes.count - 1] ^= 0x80
        XCTAssertEqual(decodeError(badChecksum), .checksumMismatch)
        // Descriptions are single lines.
        for error: StateFileError in [.notAStateFile, .unsupportedVersion(9), .truncated("x"), .checksumMismatch, .malformed("y")] {
            XCTAssertFalse(error.description.contains("\n"))
        }
        XCTAssertEqual(StateFileError.notAStateFile.description, "not a facecam adaptation state file (bad magic)")
    }

    /// Counts and lengths patched to absurd values with a recomputed checksum, so the checks
    /// behind the checksum are what rejects them (and nothing huge is allocated).
    func testAbsurdCountsWithValidChecksumAreRejected() {
        let bytes = smallState().encoded()
        // Offsets in smallState(): see its layout comment.
        let cases: [(Int, UInt32, String)] = [
            (12, 0xFFFF_FFFF, "4294967295 heads, at most 64 allowed"),
            (12, 3, "head 2 name length runs past the end of the content"),
            (12, 1, "\(bytes.count - 32 - 157) unused bytes after the last head"),
            (24, 0xFFFF_FFFF, "head 0 name is 4294967295 bytes, must be 1...255"),
            (24, 0, "head 0 name is 0 bytes, must be 1...255"),
            (70, 0xFFFF_FFFF, "head 'expression' has 4294967295 counters, at most 1024 allowed"),
            (70, 1000, "head 'expression' declares 1000 counters but only \(bytes.count - 32 - 74) bytes remain"),
            (111, 0xFFFF_FFFF, "head 'expression' has 4294967295 arrays, at most 1024 allowed"),
            (129, 0xFFFF_FFFF, "head 'expression' array 'parameters' declares 4294967295 floats but only \(bytes.count - 32 - 133) bytes remain"),
            // Two floats are read, then 3.5's bits (0x40600000) are taken as the next name's length.
            (129, 2, "head 'expression' array name is 1080033280 bytes, must be 1...255"),
        ]
        for (offset, value, message) in cases {
            XCTAssertEqual(decodeError(patch(bytes, at: offset, value)), .malformed(message), "offset \(offset) = \(value)")
        }
    }

    func testBadNamesAreRejected() {
        let hash = [UInt8](repeating: 1, count: 32)
        func rejects(_ state: AdaptationState) -> String? {
            if case .malformed(let message) = decodeError(state.encoded()) { return message }
            return nil
        }
        let twice = AdaptationState(heads: [HeadState(name: "verifier", modelSHA256: hash, counters: [], arrays: []),
                                            HeadState(name: "verifier", modelSHA256: hash, counters: [], arrays: [])])
        XCTAssertEqual(rejects(twice), "duplicate head name 'verifier'")
        let counters = AdaptationState(heads: [HeadState(name: "h", modelSHA256: hash,
            counters: [StateCounter(name: "updates", value: 1), StateCounter(name: "updates", value: 2)], arrays: [])])
        XCTAssertEqual(rejects(counters), "head 'h' has two counters named 'updates'")
        let arrays = AdaptationState(heads: [HeadState(name: "h", modelSHA256: hash, counters: [],
            arrays: [StateArray(name: "a", values: [1]), StateArray(name: "a", values: [])])])
        XCTAssertEqual(rejects(arrays), "head 'h' has two arrays named 'a'")
        let control = AdaptationState(heads: [HeadState(name: "two\nlines", modelSHA256: hash, counters: [], arrays: [])])
        XCTAssertEqual(rejects(control), "head 0 name contains control characters")
        let long = AdaptationState(heads: [HeadState(name: String(repeating: "x", count: 256), modelSHA256: hash, counters: [], arrays: [])])
        XCTAssertEqual(rejects(long), "head 0 name is 256 bytes, must be 1...255")
        // Invalid UTF-8 in a name (a lone continuation byte), with a valid checksum.
        var bytes = AdaptationState(heads: [HeadState(name: "abc", modelSHA256: hash, counters: [], arrays: [])]).encoded()
        bytes[29] = 0x80
        XCTAssertEqual(decodeError(rechecksummed(bytes)), .malformed("head 0 name is not valid UTF-8"))
    }

    // MARK: StateWriter

    func testSaveLoadAndSaveOverExisting() throws {
        let dir = try temporaryFolder()
        let path = dir + "/state.bin"
        let writer = StateWriter(path: path)
        let first = smallState()
        try writer.save(first.encoded())
        XCTAssertEqual(try AdaptationState.load(path: path), first)
        var second = first
        second.heads[0].counters[0].value = 99
        try writer.save(second.encoded())
        XCTAssertEqual(try AdaptationState.load(path: path), second)
        // A new writer (the next run) saves over the file the old one left.
        try StateWriter(path: path).save(largeState().encoded())
        XCTAssertEqual(try AdaptationState.load(path: path), largeState())
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), ["state.bin"])
    }

    func testLeftoverTemporaryFilesAreIgnoredAndCleanedUp() throws {
        let dir = try temporaryFolder()
        let path = dir + "/state.bin"
        try StateWriter(path: path).save(smallState().encoded())
        // What a writer killed mid-save leaves: a dead process's half file, one with our own pid
        // (pids repeat after a reboot), and one of a process that is still alive (pid 1).
        let dead = dir + "/.state.bin.tmp-2147483647", own = dir + "/.state.bin.tmp-\(getpid())", alive = dir + "/.state.bin.tmp-1"
        for leftover in [dead, own, alive] {
            XCTAssertTrue(FileManager.default.createFile(atPath: leftover, contents: Data(smallState().encoded().prefix(40))))
        }
        XCTAssertEqual(try AdaptationState.load(path: path), smallState())
        var next = smallState()
        next.heads[1].name = "verifier2"
        try StateWriter(path: path).save(next.encoded())
        XCTAssertEqual(try AdaptationState.load(path: path), next)
        let left = Set(try FileManager.default.contentsOfDirectory(atPath: dir))
        XCTAssertEqual(left, ["state.bin", ".state.bin.tmp-1"])
        // A leftover in place of the target's name is not a state file and says so.
        XCTAssertEqual(loadError(dir + "/.state.bin.tmp-1"), .truncated("40 of \(smallState().encoded().count) bytes"))
    }

    func testSaveIntoMissingOrUnwritableFolderNamesThePath() throws {
        let missing = "/nonexistent-facecam-folder/state.bin"
        XCTAssertThrowsError(try StateWriter(path: missing).save([1, 2, 3])) { error in
            guard case .io(let message) = error as? StateFileError else { return XCTFail("\(error)") }
            XCTAssertTrue(message.hasPrefix("cannot save '\(missing)'"), message)
            XCTAssertTrue(message.contains("No such file or directory"), message)
        }
        // Nobody, not even root, can create files in /proc.
        XCTAssertThrowsError(try StateWriter(path: "/proc/facecam-state.bin").save([1])) { error in
            guard case .io(let message) = error as? StateFileError else { return XCTFail("\(error)") }
            XCTAssertTrue(message.contains("/proc/facecam-state.bin"), message)
        }
        let dir = try temporaryFolder()
        XCTAssertEqual(chmod(dir, 0o555), 0)
        defer { chmod(dir, 0o755) }
        if geteuid() != 0 {  // root ignores folder permissions
            XCTAssertThrowsError(try StateWriter(path: dir + "/state.bin").save([1])) { error in
                guard case .io(let message) = error as? StateFileError else { return XCTFail("\(error)") }
                XCTAssertTrue(message.contains(dir + "/state.bin") && message.contains("Permission denied"), message)
            }
        }
        XCTAssertEqual(loadError(dir + "/absent.bin"), .io("cannot open '\(dir)/absent.bin': No such file or directory"))
        XCTAssertNotNil(loadError(dir))  // a folder, not a file
    }

    func testBackgroundSavesAndFinish() throws {
        let dir = try temporaryFolder()
        let path = dir + "/state.bin"
        let writer = StateWriter(path: path)
        var lastAccepted: AdaptationState?
        var accepted = 0, dropped = 0
        for step in 0..<200 {
            var state = smallState()
            state.heads[0].counters[0].value = Int64(step)
            if writer.saveInBackground(state.encoded()) {
                accepted += 1
                lastAccepted = state
            } else {
                dropped += 1
            }
        }
        writer.finish()
        XCTAssertGreaterThan(accepted, 0)
        XCTAssertEqual(accepted + dropped, 200)
        XCTAssertEqual(try AdaptationState.load(path: path), lastAccepted)
        XCTAssertNil(writer.lastError)
        // After finish the writer still works, and finish is idempotent.
        writer.finish()
        XCTAssertTrue(writer.saveInBackground(largeState().encoded()))
        writer.finish()
        XCTAssertEqual(try AdaptationState.load(path: path), largeState())

        let failing = StateWriter(path: "/nonexistent-facecam-folder/state.bin")
        XCTAssertTrue(failing.saveInBackground([1, 2, 3]))
        failing.finish()
        guard case .io(let message) = failing.lastError else { return XCTFail("\(String(describing: failing.lastError))") }
        XCTAssertTrue(message.contains("/nonexistent-facecam-folder/state.bin"), message)
    }

    // MARK: Helpers

    /// Layout (offsets used by the count tests):
    ///   24 name length, 28 "expression", 38 hash, 70 counter count,
    ///   74 "updates" (4+7) + value 8 -> 93, "resets" (4+6) + 8 -> 111, 111 array count,
    ///   115 "parameters" (4+10), 129 element count, 133 three floats -> 145,
    ///   145 "mean" (4+4), 153 element count 0 -> 157; second head at 157:
    ///   "verifier" (4+8) -> 169, hash -> 201, counter count 0, array count 1, "x", 1 NaN.
    private func smallState() -> AdaptationState {
        AdaptationState(heads: [
            HeadState(name: "expression", modelSHA256: [UInt8](repeating: 0xAB, count: 32),
                      counters: [StateCounter(name: "updates", value: 3), StateCounter(name: "resets", value: 0)],
                      arrays: [StateArray(name: "parameters", values: [1, -2, 3.5]), StateArray(name: "mean", values: [])]),
            HeadState(name: "verifier", modelSHA256: [UInt8](repeating: 0xCD, count: 32),
                      counters: [], arrays: [StateArray(name: "x", values: [.nan])]),
        ])
    }

    private func largeState(floats: Int = 300_000) -> AdaptationState {
        var generator = SplitMix(seed: 42)
        var values = (0..<floats).map { _ in Float(bitPattern: UInt32(truncatingIfNeeded: generator.next())) }
        let specials: [Float] = [Float(bitPattern: 0x7fc0_0001), Float(bitPattern: 0x7f80_0001), .infinity, -.infinity, -0.0]
        for (i, v) in specials.enumerated() { values[i] = v }
        return AdaptationState(heads: [
            HeadState(name: "expression", modelSHA256: (0..<32).map { UInt8($0) },
                      counters: [StateCounter(name: "updates", value: 0), StateCounter(name: "resets", value: .min),
                                 StateCounter(name: "step", value: .max)],
                      arrays: [StateArray(name: "parameters", values: values), StateArray(name: "empty", values: []),
                               StateArray(name: "feature_mean", values: [0.25, 0.5])]),
            HeadState(name: "verifier", modelSHA256: [UInt8](repeating: 0x11, count: 32), counters: [], arrays: []),
        ])
    }

    private func decodeError(_ bytes: [UInt8]) -> StateFileError? {
        do {
            _ = try AdaptationState(decoding: bytes)
            return nil
        } catch let error as StateFileError {
            return error
        } catch {
            XCTFail("not a StateFileError: \(error)")
            return nil
        }
    }

    private func loadError(_ path: String) -> StateFileError? {
        do {
            _ = try AdaptationState.load(path: path)
            return nil
        } catch {
            return error as? StateFileError
        }
    }

    /// Writes a little-endian integer into the file and (by default) recomputes the checksum.
    private func patch<T: FixedWidthInteger>(_ bytes: [UInt8], at offset: Int, _ value: T, rechecksum: Bool = true) -> [UInt8] {
        var out = bytes
        withUnsafeBytes(of: value.littleEndian) { raw in
            for (i, byte) in raw.enumerated() { out[offset + i] = byte }
        }
        return rechecksum ? rechecksummed(out) : out
    }

    private func rechecksummed(_ bytes: [UInt8]) -> [UInt8] {
        let contentEnd = bytes.count - 32
        return Array(bytes[0..<contentEnd]) + SHA256.hash(Array(bytes[0..<contentEnd]))
    }

    private func temporaryFolder() throws -> String {
        var template = Array((NSTemporaryDirectory() + "/facecam-state-XXXXXX").utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        let path = try XCTUnwrap(made.map { String(cString: $0) })
        addTeardownBlock {
            chmod(path, 0o755)
            try? FileManager.default.removeItem(atPath: path)
        }
        return path
    }
}

/// Deterministic pseudo-random numbers (SplitMix64), so failures reproduce.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1330_11EB
        return z ^ (z >> 31)
    }
}
