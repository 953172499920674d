// Frame sources over files: MJPEG streams (concatenated JPEGs, as cameras and ffmpeg's
// `-f mjpeg` write them), Y4M (4:2:0 or mono), single images, and folders of JPEG/PPM/PGM.
// Files are memory-mapped: frames point into the mapping, nothing is copied. Streams release
// the pages behind the frame being read, so resident memory stays flat however long the file.
#if canImport(Glibc)
import Glibc
#endif
import Imaging

/// A read-only memory mapping of a whole file.
final class MappedFile {
    let path: String
    let bytes: UnsafeRawBufferPointer

    init(_ path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            let reason = String(cString: strerror(errno))
            throw CaptureError(errno == ENOENT ? .notFound : .io, "\(path): \(reason)")
        }
        defer { Glibc.close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
            throw CaptureError(.unsupported, "\(path): not a regular file")
        }
        let size = Int(info.st_size)
        guard size > 0 else { throw CaptureError(.unsupported, "\(path): the file is empty") }
        guard let base = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), base != MAP_FAILED else {
            throw CaptureError(.io, "\(path): cannot map the file: \(String(cString: strerror(errno)))")
        }
        bytes = UnsafeRawBufferPointer(start: base, count: size)
        madvise(base, size, MADV_SEQUENTIAL)  // read ahead, and the kernel may drop what is behind
    }

    private var releasedUpTo = 0
    private static let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))

    /// Drops the mapped pages before `offset` from this process (they stay in the page cache
    /// and would be read again if touched). Called with the start of the frame being handed
    /// out, so nothing a caller still holds is released. In 4 MiB steps: a syscall every few frames.
    func release(before offset: Int) {
        let end = offset / Self.pageSize * Self.pageSize
        guard end - releasedUpTo >= 1 << 22, let base = bytes.baseAddress else { return }
        madvise(UnsafeMutableRawPointer(mutating: base + releasedUpTo), end - releasedUpTo, MADV_DONTNEED)
        releasedUpTo = end
    }

    deinit { munmap(UnsafeMutableRawPointer(mutating: bytes.baseAddress), bytes.count) }

    func hasPrefix(_ prefix: [UInt8]) -> Bool {
        bytes.count >= prefix.count && zip(bytes, prefix).allSatisfy { $0 == $1 }
    }
}

public enum FileSources {
    /// Opens a file or folder as a frame source, by its content (not its name).
    public static func open(_ path: String, fps: Double = 25) throws -> FrameSource {
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw CaptureError(.notFound, "\(path): no such file, folder or device")
        }
        if (info.st_mode & S_IFMT) == S_IFDIR { return try ImageFolderSource(folder: path, fps: fps) }
        let file = try MappedFile(path)
        if file.hasPrefix([0xFF, 0xD8, 0xFF]) { return MJPEGFileSource(file: file, fps: fps) }
        if file.hasPrefix(Array("YUV4MPEG2 ".utf8)) { return try Y4MSource(file: file) }
        if file.hasPrefix(Array("P6".utf8)) || file.hasPrefix(Array("P5".utf8)) {
            return try ImageFolderSource(files: [path], name: path, fps: fps)
        }
        throw CaptureError(.unsupported,
                           "\(path) is not a video or image facecam reads (MJPEG stream, Y4M, JPEG, PPM/PGM, or a folder of images)")
    }
}

/// Concatenated JPEG frames. Frame boundaries come from walking the JPEG marker structure
/// (segment lengths, then entropy-coded data up to the next marker) until EOI, so embedded
/// thumbnails do not split a frame, and a truncated frame ends where the next SOI begins. A
/// damaged frame is handed on as it is; the decoder rejects it and the consumer counts it.
public final class MJPEGFileSource: FrameSource {
    public let name: String
    public let isLive = false
    private let file: MappedFile
    private let frameDurationNs: UInt64
    private var position = 0
    private var sequence = 0

    init(file: MappedFile, fps: Double) {
        self.file = file
        name = "\(file.path) (MJPEG)"
        frameDurationNs = UInt64(1e9 / max(fps, 1))
    }

    public func nextFrame() throws -> Frame? {
        let data = file.bytes
        // Skip anything before the next SOI (garbage between frames).
        while position + 2 < data.count && !(data[position] == 0xFF && data[position + 1] == 0xD8) { position += 1 }
        guard position + 2 < data.count else { position = data.count; return nil }
        let start = position
        file.release(before: start)  // the previous frame is no longer valid to the caller
        let end = MJPEGFileSource.frameEnd(data, from: start)
        position = end
        defer { sequence += 1 }
        return Frame(width: 0, height: 0, format: .mjpeg, bytes: UnsafeRawBufferPointer(rebasing: data[start..<end]),
                     bytesPerLine: 0, sequence: sequence, timestampNs: UInt64(sequence) * frameDurationNs)
    }

    /// End (exclusive) of the JPEG starting at `start`: after its EOI, or at the next SOI or
    /// the end of the data when the frame is damaged.
    static func frameEnd(_ data: UnsafeRawBufferPointer, from start: Int) -> Int {
        var i = start + 2
        while i + 1 < data.count {
            guard data[i] == 0xFF else { return resync(data, from: i) }
            let marker = data[i + 1]
            switch marker {
            case 0xFF: i += 1                                  // fill byte
            case 0xD9: return i + 2                            // EOI
            case 0xD8: return i                                // next frame's SOI: this one is truncated
            case 0x01, 0xD0...0xD7: i += 2                     // markers without a length
            default:
                guard i + 3 < data.count else { return data.count }
                let length = Int(data[i + 2]) << 8 | Int(data[i + 3])
                guard length >= 2 else { return resync(data, from: i + 2) }
                let segmentEnd = min(data.count, i + 2 + length)
                // Only APPn segments may hold a whole JPEG (a thumbnail); an SOI inside any
                // other segment means this frame was cut short and the next one starts there.
                if !(0xE0...0xEF).contains(marker) {
                    let next = resync(data, from: i + 4)
                    if next < segmentEnd { return next }
                }
                i = segmentEnd
                if marker == 0xDA {                            // SOS: entropy-coded data follows
                    while i + 1 < data.count {
                        if data[i] == 0xFF, data[i + 1] != 0x00, !(0xD0...0xD7).contains(data[i + 1]) { break }
                        i += 1
                    }
                }
            }
        }
        return data.count
    }

    /// After a structural error: the frame ends at the next SOI (or the end of the data).
    private static func resync(_ data: UnsafeRawBufferPointer, from i: Int) -> Int {
        var j = i
        while j + 2 < data.count {
            if data[j] == 0xFF && data[j + 1] == 0xD8 && data[j + 2] == 0xFF { return j }
            j += 1
        }
        return data.count
    }

    public func close() {}
}

/// YUV4MPEG2: a text header, then "FRAME" lines each followed by the raw planes.
public final class Y4MSource: FrameSource {
    public let name: String
    public let isLive = false
    let width: Int, height: Int
    private let format: PixelFormat
    private let frameBytes: Int
    private let frameDurationNs: UInt64
    private let file: MappedFile
    private var position: Int
    private var sequence = 0

    init(file: MappedFile) throws {
        self.file = file
        let data = file.bytes
        guard let newline = data.firstIndex(of: 0x0A), newline < 1024 else {
            throw CaptureError(.unsupported, "\(file.path): Y4M header is not terminated")
        }
        let header = String(decoding: UnsafeRawBufferPointer(rebasing: data[0..<newline]), as: UTF8.self)
        var w = 0, h = 0, rate = (25, 1), colorspace = "420jpeg"
        for field in header.split(separator: " ").dropFirst() {
            let value = field.dropFirst()
            switch field.first {
            case "W": w = Int(value) ?? 0
            case "H": h = Int(value) ?? 0
            case "F":
                let parts = value.split(separator: ":").compactMap { Int($0) }
                if parts.count == 2, parts[0] > 0, parts[1] > 0 { rate = (parts[0], parts[1]) }
            case "C": colorspace = String(value)
            default: break
            }
        }
        guard w > 0, h > 0, w * h <= PNM.maximumPixels else {
            throw CaptureError(.unsupported, "\(file.path): Y4M header has no valid size (W/H)")
        }
        if colorspace.hasPrefix("420") { format = .i420 } else if colorspace == "mono" { format = .grey } else {
            throw CaptureError(.unsupported, "\(file.path): Y4M colorspace C\(colorspace) is not supported (4:2:0 or mono)")
        }
        width = w; height = h
        frameBytes = format.frameBytes(width: w, height: h)!
        frameDurationNs = UInt64(1e9 * Double(rate.1) / Double(rate.0))
        position = newline + 1
        name = "\(file.path) (Y4M \(format == .grey ? "mono" : "4:2:0") \(w)x\(h))"
    }

    public func nextFrame() throws -> Frame? {
        let data = file.bytes
        guard position < data.count else { return nil }
        guard let newline = data[position...].firstIndex(of: 0x0A), newline - position < 1024,
              data[position..<min(position + 5, data.count)].elementsEqual(Array("FRAME".utf8)) else {
            position = data.count
            throw CaptureError(.corruptFrame, "\(file.path): frame \(sequence) does not start with FRAME; stream ends here")
        }
        let start = newline + 1
        guard data.count - start >= frameBytes else {
            position = data.count
            throw CaptureError(.corruptFrame, "\(file.path): frame \(sequence) is truncated")
        }
        file.release(before: position)  // the previous frame is no longer valid to the caller
        position = start + frameBytes
        defer { sequence += 1 }
        return Frame(width: width, height: height, format: format,
                     bytes: UnsafeRawBufferPointer(rebasing: data[start..<start + frameBytes]),
                     bytesPerLine: width, sequence: sequence, timestampNs: UInt64(sequence) * frameDurationNs)
    }

    public func close() {}
}

/// A folder of images (or one image), in name order. JPEGs are handed on compressed; PPM/PGM
/// are decoded here (they are tiny to parse).
public final class ImageFolderSource: FrameSource {
    public let name: String
    public let isLive = false
    private let files: [String]
    private let frameDurationNs: UInt64
    private var index = 0
    private var current: MappedFile?
    private var decoded = RGBImage(width: 1, height: 1)

    convenience init(folder: String, fps: Double) throws {
        guard let dir = opendir(folder) else {
            throw CaptureError(.io, "\(folder): cannot read the folder: \(String(cString: strerror(errno)))")
        }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: entry.pointee.d_name) { String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self)) }
            let lower = name.lowercased()
            if [".jpg", ".jpeg", ".ppm", ".pgm"].contains(where: { lower.hasSuffix($0) }) { names.append(name) }
        }
        closedir(dir)
        guard !names.isEmpty else {
            throw CaptureError(.unsupported, "\(folder): no .jpg, .jpeg, .ppm or .pgm images in the folder")
        }
        try self.init(files: names.sorted().map { "\(folder)/\($0)" }, name: "\(folder) (\(names.count) images)", fps: fps)
    }

    init(files: [String], name: String, fps: Double) throws {
        self.files = files
        self.name = name
        frameDurationNs = UInt64(1e9 / max(fps, 1))
    }

    public func nextFrame() throws -> Frame? {
        guard index < files.count else { return nil }
        let sequence = index
        index += 1
        let path = files[sequence]
        let file: MappedFile
        do { file = try MappedFile(path) } catch let error as CaptureError {
            throw CaptureError(.corruptFrame, error.message)
        }
        current = file
        let timestamp = UInt64(sequence) * frameDurationNs
        if file.hasPrefix([0xFF, 0xD8]) {
            return Frame(width: 0, height: 0, format: .mjpeg, bytes: file.bytes, bytesPerLine: 0, sequence: sequence, timestampNs: timestamp)
        }
        do { decoded = try PNM.decode(Array(file.bytes)) } catch {
            throw CaptureError(.corruptFrame, "\(path): \(error)")
        }
        return decoded.pixels.withUnsafeBytes { raw in
            // `decoded` is kept until the next call, so its storage outlives the frame.
            Frame(width: decoded.width, height: decoded.height, format: .rgb24, bytes: UnsafeRawBufferPointer(raw),
                  bytesPerLine: decoded.width * 3, sequence: sequence, timestampNs: timestamp)
        }
    }

    public func close() {}
}
