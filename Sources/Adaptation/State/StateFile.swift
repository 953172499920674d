// The persisted adaptation state: adapted float heads and feature statistics that survive a
// restart of the board. One file, written atomically by StateWriter, read back by
// AdaptationState.load.
//
// Format version 1. All integers little-endian, no padding or alignment anywhere.
//
//   offset  size  field
//   0       8     magic "FCADAPT\0" (46 43 41 44 41 50 54 00)
//   8       4     format version, UInt32 = 1
//   12      4     head count H, UInt32, 0...64
//   16      8     total file length L in bytes, UInt64, including the checksum; 56...64 MiB
//   24      ...   H heads, each:
//                   name            string (see below), unique among the heads
//                   model SHA-256   32 bytes: SHA-256 of the .tflite file the head was built from
//                   counter count C UInt32, 0...1024
//                   C counters      name (string, unique in the head), value Int64
//                   array count A   UInt32, 0...1024
//                   A arrays        name (string, unique in the head), element count N UInt32,
//                                   then N float32 as IEEE 754 bit patterns (NaN payloads kept)
//   L-32    32    SHA-256 of bytes 0..<L-32
//
//   string: UInt32 byte length 1...255, then that many bytes of UTF-8 with no control characters.
//
// The heads must end exactly at L-32. A reader checks, in this order: magic, version, header
// length, L against the 64 MiB cap and the real size, the checksum, then every count and length
// against the bytes that remain before allocating anything, so damage is reported, never trapped.
import Glibc

public struct StateCounter: Equatable, Sendable {
    public var name: String
    public var value: Int64
    public init(name: String, value: Int64) {
        self.name = name
        self.value = value
    }
}

public struct StateArray: Equatable, Sendable {
    public var name: String
    public var values: [Float]
    public init(name: String, values: [Float]) {
        self.name = name
        self.values = values
    }

    /// Equality of bit patterns, so NaN == NaN and a saved state equals its reload.
    public static func == (lhs: StateArray, rhs: StateArray) -> Bool {
        guard lhs.name == rhs.name, lhs.values.count == rhs.values.count else { return false }
        for i in lhs.values.indices where lhs.values[i].bitPattern != rhs.values[i].bitPattern { return false }
        return true
    }
}

/// One adapted head: which model it belongs to and its numbers.
public struct HeadState: Equatable, Sendable {
    public var name: String              // "expression" or "verifier"
    public var modelSHA256: [UInt8]      // 32 bytes: SHA-256 of the .tflite file the head was built from
    public var counters: [StateCounter]  // e.g. updates, resets, step
    public var arrays: [StateArray]      // e.g. parameters, feature_mean, feature_variance

    public init(name: String, modelSHA256: [UInt8], counters: [StateCounter], arrays: [StateArray]) {
        self.name = name
        self.modelSHA256 = modelSHA256
        self.counters = counters
        self.arrays = arrays
    }

    public func counter(_ name: String) -> Int64? {
        counters.first { $0.name == name }?.value
    }

    public func array(_ name: String) -> [Float]? {
        arrays.first { $0.name == name }?.values
    }

    /// Whether this head was built from the model with this SHA-256 (a head for another model
    /// must be discarded, not applied).
    public func belongs(toModel sha256: [UInt8]) -> Bool {
        sha256.count == 32 && sha256 == modelSHA256
    }
}

public enum StateFileError: Error, CustomStringConvertible, Equatable {
    case io(String)                 // cannot open/read/write: names the path and strerror
    case notAStateFile              // wrong magic
    case unsupportedVersion(UInt32)
    case truncated(String)
    case checksumMismatch
    case malformed(String)          // absurd counts, lengths, bad UTF-8, duplicate names...

    public var description: String {
        switch self {
        case .io(let message): return message
        case .notAStateFile: return "not a facecam adaptation state file (bad magic)"
        case .unsupportedVersion(let v):
            return "unsupported adaptation state format version \(v) (this build reads version \(AdaptationState.formatVersion))"
        case .truncated(let detail): return "truncated adaptation state file: \(detail)"
        case .checksumMismatch: return "adaptation state file is damaged (checksum mismatch)"
        case .malformed(let detail): return "malformed adaptation state file: \(detail)"
        }
    }
}

public struct AdaptationState: Equatable, Sendable {
    public var heads: [HeadState]

    public static let magic: [UInt8] = Array("FCADAPT".utf8) + [0]
    public static let formatVersion: UInt32 = 1
    // Caps that keep a damaged length field from turning into a huge allocation.
    public static let maxFileBytes = 64 << 20
    public static let maxHeads = 64
    public static let maxCountersPerHead = 1024
    public static let maxArraysPerHead = 1024
    public static let maxNameBytes = 255
    static let headerBytes = 24
    static let checksumBytes = 32

    public init(heads: [HeadState]) {
        self.heads = heads
    }

    public func head(_ name: String) -> HeadState? {
        heads.first { $0.name == name }
    }

    /// The file's bytes. A state beyond the documented caps (names over 255 bytes, more than 64
    /// heads, ...) still encodes, but decoding rejects it as malformed.
    public func encoded() -> [UInt8] {
        var size = Self.headerBytes + Self.checksumBytes
        for head in heads {
            size += 4 + head.name.utf8.count + 32 + 4 + 4
            for c in head.counters { size += 4 + c.name.utf8.count + 8 }
            for a in head.arrays { size += 4 + a.name.utf8.count + 4 + 4 * a.values.count }
        }
        var out: [UInt8] = []
        out.reserveCapacity(size)
        out.append(contentsOf: Self.magic)
        appendLE(&out, Self.formatVersion)
        appendLE(&out, UInt32(truncatingIfNeeded: heads.count))
        appendLE(&out, UInt64(size))
        for head in heads {
            appendString(&out, head.name)
            // Always 32 bytes, so a wrong-sized hash cannot shift the rest of the file.
            var hash = Array(head.modelSHA256.prefix(32))
            hash.append(contentsOf: [UInt8](repeating: 0, count: 32 - hash.count))
            out.append(contentsOf: hash)
            appendLE(&out, UInt32(truncatingIfNeeded: head.counters.count))
            for c in head.counters {
                appendString(&out, c.name)
                appendLE(&out, UInt64(bitPattern: c.value))
            }
            appendLE(&out, UInt32(truncatingIfNeeded: head.arrays.count))
            for a in head.arrays {
                appendString(&out, a.name)
                appendLE(&out, UInt32(truncatingIfNeeded: a.values.count))
                #if _endian(little)
                a.values.withUnsafeBytes { out.append(contentsOf: $0) }
                #else
                for v in a.values { appendLE(&out, v.bitPattern) }
                #endif
            }
        }
        out.append(contentsOf: SHA256.hash(out))
        return out
    }

    /// Decodes and validates a whole file. Throws StateFileError, never traps.
    public init(decoding bytes: [UInt8]) throws {
        heads = try bytes.withUnsafeBytes { try Self.decodeHeads($0) }
    }

    public static func load(path: String) throws -> AdaptationState {
        try AdaptationState(decoding: readBytes(path: path))
    }

    /// Reads a whole file, refusing files larger than maxFileBytes before reading them.
    public static func readBytes(path: String) throws -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw StateFileError.io("cannot open '\(path)': \(errnoText())") }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw StateFileError.io("cannot read '\(path)': \(errnoText())") }
        if info.st_size > maxFileBytes {
            throw StateFileError.malformed("'\(path)' is \(info.st_size) bytes, more than the 64 MiB limit")
        }
        var out: [UInt8] = []
        out.reserveCapacity(Int(max(0, info.st_size)))
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw StateFileError.io("cannot read '\(path)': \(errnoText())")
            }
            if n == 0 { return out }
            out.append(contentsOf: chunk[0..<n])
            // The file may have grown since fstat.
            if out.count > maxFileBytes {
                throw StateFileError.malformed("'\(path)' is more than the 64 MiB limit")
            }
        }
    }

    private static func decodeHeads(_ file: UnsafeRawBufferPointer) throws -> [HeadState] {
        let magicBytes = Self.magic
        let prefix = min(file.count, magicBytes.count)
        for i in 0..<prefix where file[i] != magicBytes[i] { throw StateFileError.notAStateFile }
        // Checked before the rest of the header so a future format with another header is named.
        guard file.count >= 12 else {
            throw StateFileError.truncated(file.count == 0 ? "the file is empty" : "\(file.count) bytes, the header alone is \(headerBytes)")
        }
        var header = Reader(file, end: file.count)
        header.offset = 8
        let version: UInt32 = try header.integer("version")
        guard version == formatVersion else { throw StateFileError.unsupportedVersion(version) }
        guard file.count >= headerBytes else {
            throw StateFileError.truncated("\(file.count) bytes, the header alone is \(headerBytes)")
        }
        let headCount: UInt32 = try header.integer("head count")
        let declared: UInt64 = try header.integer("length")
        guard declared >= UInt64(headerBytes + checksumBytes), declared <= UInt64(maxFileBytes) else {
            throw StateFileError.malformed("declared length \(declared) is outside \(headerBytes + checksumBytes)...\(maxFileBytes)")
        }
        let length = Int(declared)
        guard file.count >= length else { throw StateFileError.truncated("\(file.count) of \(length) bytes") }
        guard file.count == length else {
            throw StateFileError.malformed("\(file.count - length) unexpected bytes after the declared length \(length)")
        }
        let contentEnd = length - checksumBytes
        let digest = SHA256.hash(UnsafeRawBufferPointer(rebasing: file[0..<contentEnd]))
        for i in 0..<checksumBytes where digest[i] != file[contentEnd + i] { throw StateFileError.checksumMismatch }

        guard headCount <= UInt32(maxHeads) else {
            throw StateFileError.malformed("\(headCount) heads, at most \(maxHeads) allowed")
        }
        var reader = Reader(file, end: contentEnd)
        reader.offset = headerBytes
        var heads: [HeadState] = []
        for index in 0..<Int(headCount) {
            let name = try reader.string("head \(index) name")
            let place = "head '\(name)'"
            if heads.contains(where: { $0.name == name }) { throw StateFileError.malformed("duplicate head name '\(name)'") }
            let hash = Array(try reader.bytes(32, "\(place) model hash"))
            let counterCount: UInt32 = try reader.integer("\(place) counter count")
            guard counterCount <= UInt32(maxCountersPerHead) else {
                throw StateFileError.malformed("\(place) has \(counterCount) counters, at most \(maxCountersPerHead) allowed")
            }
            // Each counter takes at least 4 + 1 + 8 bytes; refuse before reserving space for them.
            guard Int(counterCount) * 13 <= reader.remaining else {
                throw StateFileError.malformed("\(place) declares \(counterCount) counters but only \(reader.remaining) bytes remain")
            }
            var counters: [StateCounter] = []
            counters.reserveCapacity(Int(counterCount))
            for _ in 0..<Int(counterCount) {
                let counterName = try reader.string("\(place) counter name")
                if counters.contains(where: { $0.name == counterName }) {
                    throw StateFileError.malformed("\(place) has two counters named '\(counterName)'")
                }
                let bits: UInt64 = try reader.integer("\(place) counter '\(counterName)'")
                counters.append(StateCounter(name: counterName, value: Int64(bitPattern: bits)))
            }
            let arrayCount: UInt32 = try reader.integer("\(place) array count")
            guard arrayCount <= UInt32(maxArraysPerHead) else {
                throw StateFileError.malformed("\(place) has \(arrayCount) arrays, at most \(maxArraysPerHead) allowed")
            }
            guard Int(arrayCount) * 9 <= reader.remaining else {
                throw StateFileError.malformed("\(place) declares \(arrayCount) arrays but only \(reader.remaining) bytes remain")
            }
            var arrays: [StateArray] = []
            arrays.reserveCapacity(Int(arrayCount))
            for _ in 0..<Int(arrayCount) {
                let arrayName = try reader.string("\(place) array name")
                if arrays.contains(where: { $0.name == arrayName }) {
                    throw StateFileError.malformed("\(place) has two arrays named '\(arrayName)'")
                }
                let count: UInt32 = try reader.integer("\(place) array '\(arrayName)' length")
                guard UInt64(count) * 4 <= UInt64(reader.remaining) else {
                    throw StateFileError.malformed("\(place) array '\(arrayName)' declares \(count) floats but only \(reader.remaining) bytes remain")
                }
                let raw = try reader.bytes(Int(count) * 4, "\(place) array '\(arrayName)'")
                let values = [Float](unsafeUninitializedCapacity: Int(count)) { buffer, initialized in
                    #if _endian(little)
                    if count > 0 { UnsafeMutableRawBufferPointer(buffer).copyMemory(from: raw) }
                    #else
                    for i in 0..<Int(count) {
                        buffer[i] = Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
                    }
                    #endif
                    initialized = Int(count)
                }
                arrays.append(StateArray(name: arrayName, values: values))
            }
            heads.append(HeadState(name: name, modelSHA256: hash, counters: counters, arrays: arrays))
        }
        guard reader.remaining == 0 else {
            throw StateFileError.malformed("\(reader.remaining) unused bytes after the last head")
        }
        return heads
    }
}

/// Bounds-checked little-endian reads from a byte range; running past `end` is malformed.
private struct Reader {
    let file: UnsafeRawBufferPointer
    let end: Int
    var offset = 0

    init(_ file: UnsafeRawBufferPointer, end: Int) {
        self.file = file
        self.end = end
    }

    var remaining: Int { end - offset }

    mutating func bytes(_ count: Int, _ what: @autoclosure () -> String) throws -> UnsafeRawBufferPointer {
        guard count >= 0, count <= remaining else {
            throw StateFileError.malformed("\(what()) runs past the end of the content")
        }
        let slice = UnsafeRawBufferPointer(rebasing: file[offset..<(offset + count)])
        offset += count
        return slice
    }

    mutating func integer<T: FixedWidthInteger>(_ what: @autoclosure () -> String) throws -> T {
        let raw = try bytes(MemoryLayout<T>.size, what())
        return T(littleEndian: raw.loadUnaligned(as: T.self))
    }

    mutating func string(_ what: @autoclosure () -> String) throws -> String {
        let length: UInt32 = try integer("\(what()) length")
        guard length >= 1, length <= UInt32(AdaptationState.maxNameBytes) else {
            throw StateFileError.malformed("\(what()) is \(length) bytes, must be 1...\(AdaptationState.maxNameBytes)")
        }
        let raw = try bytes(Int(length), what())
        guard let text = String(validating: raw, as: UTF8.self) else {
            throw StateFileError.malformed("\(what()) is not valid UTF-8")
        }
        guard !text.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7f }) else {
            throw StateFileError.malformed("\(what()) contains control characters")
        }
        return text
    }
}

private func appendLE<T: FixedWidthInteger>(_ out: inout [UInt8], _ value: T) {
    var v = value.littleEndian
    withUnsafeBytes(of: &v) { out.append(contentsOf: $0) }
}

private func appendString(_ out: inout [UInt8], _ text: String) {
    appendLE(&out, UInt32(truncatingIfNeeded: text.utf8.count))
    out.append(contentsOf: text.utf8)
}
