// Converting frames to 8-bit RGB for the face pipeline, into a caller-owned image that is
// reused frame after frame (no allocation once its size is stable). YUV uses BT.601
// limited-range coefficients in 16.16 fixed point, the convention of webcams and libjpeg.
import CTurboJPEG
import Imaging

public final class FrameConverter {
    private var decoder: tjhandle?
    /// Frames whose JPEG data could not be decoded.
    public private(set) var corruptFrames = 0

    public init() {}

    deinit { if let decoder { tjDestroy(decoder) } }

    /// Converts `frame` into `image` (resized if needed). Throws CaptureError.corruptFrame for
    /// undecodable JPEG data; the image is then left as it was.
    public func convert(_ frame: Frame, into image: inout RGBImage) throws {
        if frame.format == .mjpeg {
            try decodeJPEG(frame.bytes, into: &image)
            return
        }
        let (w, h) = (frame.width, frame.height)
        guard let needed = frame.format.frameBytes(width: w, height: h), frame.bytes.count >= needed,
              frame.bytesPerLine >= minimumStride(frame.format, w) else {
            corruptFrames += 1
            throw CaptureError(.corruptFrame, "frame \(frame.sequence): \(frame.bytes.count) bytes is short for \(frame.format.rawValue) \(w)x\(h)")
        }
        if image.width != w || image.height != h { image = RGBImage(width: w, height: h) }
        let src = frame.bytes.bindMemory(to: UInt8.self)
        let stride = frame.bytesPerLine
        image.pixels.withUnsafeMutableBufferPointer { dst in
            switch frame.format {
            case .yuyv:
                for y in 0..<h {
                    let row = y * stride, out = y * w * 3
                    var x = 0
                    while x + 1 < w {
                        let s = row + 2 * x
                        let u = Int32(src[s + 1]) - 128, v = Int32(src[s + 3]) - 128
                        yuvToRGB(Int32(src[s]), u, v, dst, out + 3 * x)
                        yuvToRGB(Int32(src[s + 2]), u, v, dst, out + 3 * x + 3)
                        x += 2
                    }
                    if x < w {  // odd width: last pixel shares the previous pair's chroma
                        let s = row + 2 * x
                        yuvToRGB(Int32(src[s]), Int32(src[s + 1]) - 128, Int32(src[min(s + 3, frame.bytes.count - 1)]) - 128, dst, out + 3 * x)
                    }
                }
            case .nv12, .i420:
                let lumaBytes = stride * h
                let chromaW = (w + 1) / 2
                for y in 0..<h {
                    for x in 0..<w {
                        let u: Int32, v: Int32
                        if frame.format == .nv12 {
                            let c = lumaBytes + (y / 2) * stride + 2 * (x / 2)  // V4L2: the UV plane has the Y stride
                            u = Int32(src[c]) - 128; v = Int32(src[c + 1]) - 128
                        } else {
                            let chromaH = (h + 1) / 2
                            let c = (y / 2) * chromaW + x / 2
                            u = Int32(src[lumaBytes + c]) - 128; v = Int32(src[lumaBytes + chromaW * chromaH + c]) - 128
                        }
                        yuvToRGB(Int32(src[y * stride + x]), u, v, dst, (y * w + x) * 3)
                    }
                }
            case .grey:
                for y in 0..<h {
                    for x in 0..<w {
                        let g = src[y * stride + x], o = (y * w + x) * 3
                        dst[o] = g; dst[o + 1] = g; dst[o + 2] = g
                    }
                }
            case .rgb24:
                for y in 0..<h {
                    for i in 0..<(w * 3) { dst[y * w * 3 + i] = src[y * stride + i] }
                }
            case .mjpeg:
                break
            }
        }
    }

    private func minimumStride(_ format: PixelFormat, _ width: Int) -> Int {
        switch format {
        case .yuyv: return width * 2
        case .rgb24: return width * 3
        default: return width
        }
    }

    @inline(__always)
    private func yuvToRGB(_ y: Int32, _ u: Int32, _ v: Int32, _ dst: UnsafeMutableBufferPointer<UInt8>, _ at: Int) {
        let c = (y - 16) * 76309  // 1.164 in 16.16
        dst[at] = clamp((c + 104597 * v + 32768) >> 16)
        dst[at + 1] = clamp((c - 25675 * u - 53279 * v + 32768) >> 16)
        dst[at + 2] = clamp((c + 132201 * u + 32768) >> 16)
    }

    @inline(__always)
    private func clamp(_ x: Int32) -> UInt8 { UInt8(max(0, min(255, x))) }

    /// JPEG through TurboJPEG: header check, then decode straight into the RGB buffer.
    public func decodeJPEG(_ data: UnsafeRawBufferPointer, into image: inout RGBImage) throws {
        if decoder == nil { decoder = tjInitDecompress() }
        guard let decoder else { throw CaptureError(.io, "TurboJPEG could not be initialized") }
        guard data.count >= 4, let base = data.baseAddress else {
            corruptFrames += 1
            throw CaptureError(.corruptFrame, "empty JPEG frame")
        }
        var width: Int32 = 0, height: Int32 = 0, subsampling: Int32 = 0, colorspace: Int32 = 0
        let jpeg = base.assumingMemoryBound(to: UInt8.self)
        guard tjDecompressHeader3(decoder, jpeg, UInt(data.count), &width, &height, &subsampling, &colorspace) == 0,
              width > 0, height > 0, Int(width) * Int(height) <= PNM.maximumPixels else {
            corruptFrames += 1
            throw CaptureError(.corruptFrame, "corrupt JPEG frame: \(resetDecoder(decoder))")
        }
        if image.width != Int(width) || image.height != Int(height) { image = RGBImage(width: Int(width), height: Int(height)) }
        let status = image.pixels.withUnsafeMutableBufferPointer { dst in
            tjDecompress2(decoder, jpeg, UInt(data.count), dst.baseAddress, width, 0, height, Int32(TJPF_RGB.rawValue), 0)
        }
        if status != 0 {
            // Warnings (e.g. truncated data) leave part of the image grey: skip such frames too.
            corruptFrames += 1
            throw CaptureError(.corruptFrame, "corrupt JPEG frame: \(resetDecoder(decoder))")
        }
    }

    /// After a failed decode TurboJPEG's handle can keep the aborted state (the next, valid frame
    /// then fails too), so errors start a fresh handle. Returns the error message.
    private func resetDecoder(_ handle: tjhandle) -> String {
        let message = String(cString: tjGetErrorStr2(handle))
        tjDestroy(handle)
        decoder = nil
        return message
    }
}
