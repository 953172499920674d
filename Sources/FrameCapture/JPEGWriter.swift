// Writing frames as JPEG, for annotated images and previews.
import CTurboJPEG
import Imaging

/// JPEG encoding through TurboJPEG, with a reused handle and output buffer.
public final class JPEGWriter {
    private var encoder: tjhandle?
    public init() {}
    deinit { if let encoder { tjDestroy(encoder) } }

    public func encode(_ image: RGBImage, quality: Int32 = 85) throws -> [UInt8] {
        if encoder == nil { encoder = tjInitCompress() }
        guard let encoder else { throw CaptureError(.io, "TurboJPEG could not be initialized") }
        var buffer: UnsafeMutablePointer<UInt8>?
        var size: UInt = 0
        let status = image.pixels.withUnsafeBufferPointer { p in
            tjCompress2(encoder, p.baseAddress, Int32(image.width), 0, Int32(image.height), Int32(TJPF_RGB.rawValue),
                        &buffer, &size, Int32(TJSAMP_420.rawValue), quality, 0)
        }
        defer { if let buffer { tjFree(buffer) } }
        guard status == 0, let buffer else {
            throw CaptureError(.io, "JPEG encoding failed: \(String(cString: tjGetErrorStr2(encoder)))")
        }
        return Array(UnsafeBufferPointer(start: buffer, count: Int(size)))
    }
}
