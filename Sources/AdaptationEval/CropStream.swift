// Crop streams: the labeled face / non-face crops that calibrate the verifier and that the
// shift benchmark scores it on.
#if canImport(Glibc)
import Glibc
#endif

/// An error of the evaluation or calibration, one line that names the file.
public struct EvaluationError: Error, CustomStringConvertible {
    public let description: String
    public init(_ message: String) { description = message }
}

/// Crop streams for calibration and the shift benchmark: an ASCII header line
/// `FCCROPS 1 <width> <height> <channels> <count>\n`, then `count` records of one label byte
/// (1 face, 0 non-face, 255 unknown) and width*height*channels pixels (row-major, interleaved).
public struct CropStream {
    public let width: Int, height: Int, channels: Int
    public let labels: [UInt8]
    public let pixels: [UInt8]
    public var count: Int { labels.count }
    public var cropBytes: Int { width * height * channels }

    public init(path: String) throws {
        try self.init(bytes: try readWholeFile(path), name: path)
    }

    /// Parses the bytes of a crop stream; `name` labels errors.
    public init(bytes: [UInt8], name: String) throws {
        guard let newline = bytes.prefix(128).firstIndex(of: 10),
              bytes[0..<newline].allSatisfy({ $0 < 0x80 }) else {
            throw EvaluationError("\(name): not a crop stream (no FCCROPS header line)")
        }
        let header = String(decoding: bytes[0..<newline], as: UTF8.self)
        let fields = header.split(separator: " ")
        guard fields.count == 6, fields[0] == "FCCROPS", fields[1] == "1", let w = Int(fields[2]), let h = Int(fields[3]),
              let c = Int(fields[4]), let n = Int(fields[5]), (1...1024).contains(w), (1...1024).contains(h), [1, 3].contains(c),
              (0...1_000_000).contains(n) else {
            throw EvaluationError("\(name): bad crop stream header '\(header)'")
        }
        let record = 1 + w * h * c
        guard bytes.count == newline + 1 + n * record else {
            throw EvaluationError("\(name): \(bytes.count - newline - 1) bytes of records; the header promises \(n) x \(record)")
        }
        (width, height, channels) = (w, h, c)
        var labels = [UInt8](), pixels = [UInt8]()
        labels.reserveCapacity(n)
        pixels.reserveCapacity(n * w * h * c)
        for i in 0..<n {
            let start = newline + 1 + i * record
            labels.append(bytes[start])
            pixels.append(contentsOf: bytes[(start + 1)..<(start + record)])
        }
        self.labels = labels
        self.pixels = pixels
    }

    /// Writes crop `i` into an int8 model input (pixel - 128).
    public func write(_ i: Int, into input: UnsafeMutableRawBufferPointer) {
        let out = input.bindMemory(to: Int8.self)
        let base = i * cropBytes
        for k in 0..<cropBytes { out[k] = Int8(Int(pixels[base + k]) - 128) }
    }
}

/// The whole file at `path` (POSIX reads; the benchmark's inputs are at most a few hundred MB).
func readWholeFile(_ path: String) throws -> [UInt8] {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw EvaluationError("cannot read '\(path)'") }
    defer { close(fd) }
    var out: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 1 << 16)
    while true {
        let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n < 0 {
            if errno == EINTR { continue }
            throw EvaluationError("cannot read '\(path)'")
        }
        if n == 0 { return out }
        out.append(contentsOf: chunk[0..<n])
    }
}
