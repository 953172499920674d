// A bounds-checked FlatBuffers reader. Every offset and length read from the file is checked
// against the buffer before it is followed, so a malformed model yields an error, never an
// out-of-bounds read. Only what the TFLite schema needs is implemented.

/// Thrown by the reader; the model loader adds which table and field it was reading.
public struct FlatBufferError: Error, CustomStringConvertible {
    public let description: String
    init(_ message: String) { description = message }
}

/// A read-only view of the whole file. The owner (Model) keeps the memory alive.
struct FlatBuffer {
    let base: UnsafeRawPointer
    let count: Int

    @inline(__always)
    func check(_ position: Int, _ size: Int, _ what: StaticString) throws {
        // Written so that no intermediate sum can overflow.
        guard position >= 0, size >= 0, position <= count, size <= count - position else {
            throw FlatBufferError("\(what) at byte \(position) (size \(size)) lies outside the \(count)-byte file")
        }
    }

    func load<T: FixedWidthInteger>(_ type: T.Type, at position: Int, _ what: StaticString) throws -> T {
        try check(position, MemoryLayout<T>.size, what)
        return T(littleEndian: base.loadUnaligned(fromByteOffset: position, as: T.self))
    }

    func loadFloat(at position: Int, _ what: StaticString) throws -> Float {
        Float(bitPattern: try load(UInt32.self, at: position, what))
    }

    /// Follows a uoffset stored at `position` (relative to that position).
    func follow(_ position: Int, _ what: StaticString) throws -> Int {
        let relative = Int(try load(UInt32.self, at: position, what))
        let target = position + relative
        try check(target, 0, what)
        return target
    }

    func rootTable() throws -> FBTable {
        try check(0, 8, "file header")
        return try FBTable(self, at: try follow(0, "root table offset"))
    }

    func identifier() -> [UInt8]? {
        guard count >= 8 else { return nil }
        return (4..<8).map { base.load(fromByteOffset: $0, as: UInt8.self) }
    }
}

/// A table: its position and its vtable, both validated on creation.
struct FBTable {
    let buffer: FlatBuffer
    let position: Int
    private let vtable: Int
    private let vtableSize: Int
    private let tableSize: Int

    init(_ buffer: FlatBuffer, at position: Int) throws {
        self.buffer = buffer
        self.position = position
        let soffset = Int(try buffer.load(Int32.self, at: position, "table"))
        let vtable = position - soffset
        try buffer.check(vtable, 4, "vtable")
        let vtableSize = Int(try buffer.load(UInt16.self, at: vtable, "vtable size"))
        let tableSize = Int(try buffer.load(UInt16.self, at: vtable + 2, "table size"))
        guard vtableSize >= 4, vtableSize % 2 == 0 else {
            throw FlatBufferError("vtable at byte \(vtable) has invalid size \(vtableSize)")
        }
        guard tableSize >= 4 else {
            throw FlatBufferError("table at byte \(position) has invalid size \(tableSize)")
        }
        try buffer.check(vtable, vtableSize, "vtable")
        try buffer.check(position, tableSize, "table")
        self.vtable = vtable
        self.vtableSize = vtableSize
        self.tableSize = tableSize
    }

    /// Absolute position of field `slot`, or nil when the field is absent (default value).
    func field(_ slot: Int, size: Int) throws -> Int? {
        let entry = 4 + 2 * slot
        guard entry + 2 <= vtableSize else { return nil }
        let offset = Int(try buffer.load(UInt16.self, at: vtable + entry, "vtable entry"))
        guard offset != 0 else { return nil }
        guard offset >= 4, offset + size <= tableSize else {
            throw FlatBufferError("field \(slot) of the table at byte \(position) lies outside the table")
        }
        return position + offset
    }

    func scalar<T: FixedWidthInteger>(_ slot: Int, _ type: T.Type, default value: T) throws -> T {
        guard let at = try field(slot, size: MemoryLayout<T>.size) else { return value }
        return try buffer.load(T.self, at: at, "scalar field")
    }

    func float(_ slot: Int, default value: Float) throws -> Float {
        guard let at = try field(slot, size: 4) else { return value }
        return try buffer.loadFloat(at: at, "float field")
    }

    func bool(_ slot: Int, default value: Bool = false) throws -> Bool {
        try scalar(slot, UInt8.self, default: value ? 1 : 0) != 0
    }

    func table(_ slot: Int) throws -> FBTable? {
        guard let at = try field(slot, size: 4) else { return nil }
        return try FBTable(buffer, at: try buffer.follow(at, "table offset"))
    }

    func vector(_ slot: Int, elementSize: Int) throws -> FBVector? {
        guard let at = try field(slot, size: 4) else { return nil }
        let start = try buffer.follow(at, "vector offset")
        let length = Int(try buffer.load(UInt32.self, at: start, "vector length"))
        let (bytes, overflow) = length.multipliedReportingOverflow(by: elementSize)
        guard !overflow else { throw FlatBufferError("vector at byte \(start) is too long") }
        try buffer.check(start + 4, bytes, "vector data")
        return FBVector(buffer: buffer, start: start + 4, count: length, elementSize: elementSize)
    }

    func string(_ slot: Int) throws -> String? {
        guard let vector = try vector(slot, elementSize: 1) else { return nil }
        let bytes = UnsafeRawBufferPointer(start: buffer.base + vector.start, count: vector.count)
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// A vector of scalars or of offsets to tables, bounds already checked.
struct FBVector {
    let buffer: FlatBuffer
    let start: Int
    let count: Int
    let elementSize: Int

    func scalar<T: FixedWidthInteger>(_ index: Int, _ type: T.Type) -> T {
        precondition(index >= 0 && index < count && MemoryLayout<T>.size == elementSize)
        return T(littleEndian: buffer.base.loadUnaligned(fromByteOffset: start + index * elementSize, as: T.self))
    }

    func float(_ index: Int) -> Float {
        Float(bitPattern: scalar(index, UInt32.self))
    }

    func table(_ index: Int) throws -> FBTable {
        precondition(index >= 0 && index < count && elementSize == 4)
        return try FBTable(buffer, at: try buffer.follow(start + index * 4, "vector element"))
    }

    func int32s() -> [Int32] { (0..<count).map { scalar($0, Int32.self) } }
    func int64s() -> [Int64] { (0..<count).map { scalar($0, Int64.self) } }
    func floats() -> [Float] { (0..<count).map { float($0) } }
}
