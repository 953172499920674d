// Frames from cameras and files behind one protocol. A source hands out frames in its native
// pixel format; converting to what a model needs happens once, downstream (PixelConversion).

/// Pixel formats facecam understands (V4L2 fourccs where they exist).
public enum PixelFormat: String, Sendable, CaseIterable {
    case yuyv = "YUYV"    // packed 4:2:2, Y0 U Y1 V
    case mjpeg = "MJPG"   // one JPEG per frame
    case grey = "GREY"    // 8-bit luma
    case nv12 = "NV12"    // Y plane, then interleaved UV at half resolution
    case rgb24 = "RGB3"   // packed RGB
    case i420 = "YU12"    // planar Y, U, V at half resolution (Y4M 4:2:0)

    public var fourcc: UInt32 {
        let b = Array(rawValue.utf8)
        return UInt32(b[0]) | UInt32(b[1]) << 8 | UInt32(b[2]) << 16 | UInt32(b[3]) << 24
    }

    public init?(fourcc: UInt32) {
        let chars = (0..<4).map { Character(UnicodeScalar(UInt8((fourcc >> (8 * $0)) & 0xFF))) }
        let name = String(chars)
        if name == "JPEG" { self = .mjpeg; return }
        self.init(rawValue: name)
    }

    /// Bytes of one frame, or nil for compressed formats.
    public func frameBytes(width: Int, height: Int) -> Int? {
        switch self {
        case .yuyv: return width * height * 2
        case .grey: return width * height
        case .nv12, .i420: return width * height + 2 * ((width + 1) / 2) * ((height + 1) / 2)
        case .rgb24: return width * height * 3
        case .mjpeg: return nil
        }
    }
}

/// One captured frame. `bytes` stays valid until the next call to `nextFrame()` on its source.
public struct Frame {
    public let width: Int
    public let height: Int
    public let format: PixelFormat
    public let bytes: UnsafeRawBufferPointer
    /// Bytes per row of the (first) plane.
    public let bytesPerLine: Int
    /// 0-based number of this frame in the source's stream (gaps mean frames were dropped).
    public let sequence: Int
    /// Capture time (CLOCK_MONOTONIC nanoseconds for cameras; the stream time for files).
    public let timestampNs: UInt64

    public init(width: Int, height: Int, format: PixelFormat, bytes: UnsafeRawBufferPointer, bytesPerLine: Int,
                sequence: Int, timestampNs: UInt64) {
        self.width = width; self.height = height; self.format = format; self.bytes = bytes
        self.bytesPerLine = bytesPerLine; self.sequence = sequence; self.timestampNs = timestampNs
    }
}

/// Why a source failed. `recoverable` errors (a corrupt frame) skip one frame; others end
/// the stream, and `disconnected` may be retried by reopening the device.
public struct CaptureError: Error, CustomStringConvertible, Sendable {
    public enum Kind: Sendable { case notFound, unsupported, corruptFrame, disconnected, io }
    public let kind: Kind
    public let message: String
    public init(_ kind: Kind, _ message: String) { self.kind = kind; self.message = message }
    public var description: String { message }
    public var recoverable: Bool { kind == .corruptFrame }
}

public protocol FrameSource: AnyObject {
    /// Human-readable name ("/dev/video0 YUYV 640x480 @30", "clip.mjpeg").
    var name: String { get }
    /// True for live cameras: the consumer should drop stale frames and process the newest.
    var isLive: Bool { get }
    /// The next frame, or nil at the end of a file. Throws CaptureError.
    func nextFrame() throws -> Frame?
    /// Releases buffers and the device; also done on deinit.
    func close()
    /// Frames the source delivered but skipped to stay on the newest one (0 for files).
    var droppedFrames: Int { get }
}

extension FrameSource {
    public var droppedFrames: Int { 0 }
}

import Imaging

extension Frame {
    /// The frame's pixels as the face pipeline reads them, without conversion; nil for
    /// compressed frames (decode those first) or when the buffer is too short.
    public var pixelView: PixelView? {
        guard format != .mjpeg, let needed = format.frameBytes(width: width, height: height),
              let base = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return nil }
        let lumaBytes = bytesPerLine * height
        let chromaW = (width + 1) / 2, chromaH = (height + 1) / 2
        switch format {
        case .rgb24:
            guard bytesPerLine >= width * 3, bytes.count >= lumaBytes else { return nil }
            return .rgb(base, width: width, height: height, stride: bytesPerLine)
        case .grey:
            guard bytesPerLine >= width, bytes.count >= lumaBytes else { return nil }
            return .grey(base, width: width, height: height, stride: bytesPerLine)
        case .yuyv:
            guard bytesPerLine >= width * 2, bytes.count >= lumaBytes else { return nil }
            return .yuyv(base, width: width, height: height, stride: bytesPerLine)
        case .nv12:
            guard bytesPerLine >= width, bytes.count >= lumaBytes + bytesPerLine * chromaH, bytes.count >= needed else { return nil }
            return .nv12(luma: base, chroma: base + lumaBytes, width: width, height: height, lumaStride: bytesPerLine,
                         chromaStride: bytesPerLine)
        case .i420:
            guard bytesPerLine == width, bytes.count >= needed else { return nil }
            return .i420(luma: base, u: base + lumaBytes, v: base + lumaBytes + chromaW * chromaH, width: width, height: height,
                         lumaStride: width, chromaStride: chromaW)
        case .mjpeg:
            return nil
        }
    }
}
