// Resampling a region of a frame straight into a model's int8 input tensor (pixel - 128, the
// input convention of the shipped models), in one pass: camera formats (YUYV, NV12, I420,
// GREY) are read where they lie, so no full-frame RGB copy is made for the models.

public enum PixelLayout: Sendable {
    case rgb
    /// ITU-R BT.601 luma, rounded: (299 R + 587 G + 114 B) / 1000.
    case gray
}

/// Borrowed pixels of one frame, in the frame's own format. Valid while the frame is.
public enum PixelView {
    case rgb(UnsafePointer<UInt8>, width: Int, height: Int, stride: Int)
    /// Packed 4:2:2, Y0 U Y1 V.
    case yuyv(UnsafePointer<UInt8>, width: Int, height: Int, stride: Int)
    /// Y plane, then interleaved U/V at half resolution.
    case nv12(luma: UnsafePointer<UInt8>, chroma: UnsafePointer<UInt8>, width: Int, height: Int, lumaStride: Int, chromaStride: Int)
    /// Planar Y, U, V, chroma at half resolution.
    case i420(luma: UnsafePointer<UInt8>, u: UnsafePointer<UInt8>, v: UnsafePointer<UInt8>, width: Int, height: Int,
              lumaStride: Int, chromaStride: Int)
    case grey(UnsafePointer<UInt8>, width: Int, height: Int, stride: Int)

    public var width: Int {
        switch self {
        case .rgb(_, let w, _, _), .yuyv(_, let w, _, _), .grey(_, let w, _, _): return w
        case .nv12(_, _, let w, _, _, _): return w
        case .i420(_, _, _, let w, _, _, _): return w
        }
    }

    public var height: Int {
        switch self {
        case .rgb(_, _, let h, _), .yuyv(_, _, let h, _), .grey(_, _, let h, _): return h
        case .nv12(_, _, _, let h, _, _): return h
        case .i420(_, _, _, _, let h, _, _): return h
        }
    }
}

/// Reads one pixel as RGB floats; specialized per format so the sampling loop stays tight.
protocol PixelFetch {
    func rgb(_ x: Int, _ y: Int) -> (Float, Float, Float)
}

struct RGBFetch: PixelFetch {
    let base: UnsafePointer<UInt8>, stride: Int
    @inline(__always) func rgb(_ x: Int, _ y: Int) -> (Float, Float, Float) {
        let p = base + y * stride + 3 * x
        return (Float(p[0]), Float(p[1]), Float(p[2]))
    }
}

struct GreyFetch: PixelFetch {
    let base: UnsafePointer<UInt8>, stride: Int
    @inline(__always) func rgb(_ x: Int, _ y: Int) -> (Float, Float, Float) {
        let g = Float(base[y * stride + x])
        return (g, g, g)
    }
}

/// BT.601 limited range, as webcams deliver it.
@inline(__always) func yuvToRGB(_ y: UInt8, _ u: UInt8, _ v: UInt8) -> (Float, Float, Float) {
    let c = 1.164383 * (Float(y) - 16), d = Float(u) - 128, e = Float(v) - 128
    return (min(255, max(0, c + 1.596027 * e)), min(255, max(0, c - 0.391762 * d - 0.812968 * e)), min(255, max(0, c + 2.017232 * d)))
}

struct YUYVFetch: PixelFetch {
    let base: UnsafePointer<UInt8>, stride: Int
    @inline(__always) func rgb(_ x: Int, _ y: Int) -> (Float, Float, Float) {
        let pair = base + y * stride + 4 * (x >> 1)
        return yuvToRGB(pair[(x & 1) * 2], pair[1], pair[3])
    }
}

struct NV12Fetch: PixelFetch {
    let luma: UnsafePointer<UInt8>, chroma: UnsafePointer<UInt8>, lumaStride: Int, chromaStride: Int
    @inline(__always) func rgb(_ x: Int, _ y: Int) -> (Float, Float, Float) {
        let c = chroma + (y >> 1) * chromaStride + 2 * (x >> 1)
        return yuvToRGB(luma[y * lumaStride + x], c[0], c[1])
    }
}

struct I420Fetch: PixelFetch {
    let luma: UnsafePointer<UInt8>, u: UnsafePointer<UInt8>, v: UnsafePointer<UInt8>, lumaStride: Int, chromaStride: Int
    @inline(__always) func rgb(_ x: Int, _ y: Int) -> (Float, Float, Float) {
        let c = (y >> 1) * chromaStride + (x >> 1)
        return yuvToRGB(luma[y * lumaStride + x], u[c], v[c])
    }
}

/// Reusable per-call tables (source indices and weights per output column/row), so sampling
/// allocates nothing once the largest size has been seen.
public final class SamplerScratch {
    public init() {}
    /// One axis: `capacity` index/weight pairs, grown (never shrunk) when a call needs more.
    final class Axis {
        private(set) var indices = UnsafeMutablePointer<Int32>.allocate(capacity: 1)
        private(set) var weights = UnsafeMutablePointer<Float>.allocate(capacity: 1)
        private var capacity = 1

        func reserve(_ count: Int) {
            guard count > capacity else { return }
            indices.deallocate(); weights.deallocate()
            indices = .allocate(capacity: count); weights = .allocate(capacity: count)
            capacity = count
        }

        deinit { indices.deallocate(); weights.deallocate() }
    }

    let columns = Axis()
    let rows = Axis()
}

public enum Sampler {
    /// Fills `output` (height x width x channels int8) by bilinear sampling of `region` of the
    /// view; pixels outside the frame read as black. Downscaling by more than 2x averages a
    /// grid of bilinear taps so that small faces in large frames are not aliased.
    public static func sample(_ view: PixelView, region: Box, into output: UnsafeMutableRawBufferPointer,
                              width: Int, height: Int, layout: PixelLayout) {
        sample(view, region: region, into: output, width: width, height: height, layout: layout, scratch: SamplerScratch())
    }

    public static func sample(_ image: RGBImage, region: Box, into output: UnsafeMutableRawBufferPointer,
                              width: Int, height: Int, layout: PixelLayout) {
        image.pixels.withUnsafeBufferPointer { p in
            sample(.rgb(p.baseAddress!, width: image.width, height: image.height, stride: image.width * 3),
                   region: region, into: output, width: width, height: height, layout: layout)
        }
    }

    public static func sample(_ view: PixelView, region: Box, into output: UnsafeMutableRawBufferPointer,
                              width: Int, height: Int, layout: PixelLayout, scratch: SamplerScratch) {
        switch view {
        case .rgb(let p, _, _, let stride):
            run(RGBFetch(base: p, stride: stride), view, region, output, width, height, layout, scratch)
        case .grey(let p, _, _, let stride):
            run(GreyFetch(base: p, stride: stride), view, region, output, width, height, layout, scratch)
        case .yuyv(let p, _, _, let stride):
            run(YUYVFetch(base: p, stride: stride), view, region, output, width, height, layout, scratch)
        case .nv12(let l, let c, _, _, let ls, let cs):
            run(NV12Fetch(luma: l, chroma: c, lumaStride: ls, chromaStride: cs), view, region, output, width, height, layout, scratch)
        case .i420(let l, let u, let v, _, _, let ls, let cs):
            run(I420Fetch(luma: l, u: u, v: v, lumaStride: ls, chromaStride: cs), view, region, output, width, height, layout, scratch)
        }
    }

    /// Bilinear taps along one axis: for output index i and tap t, the two source indices
    /// (clamped into the frame) and their weights (0 for neighbours outside the frame).
    private static func axisTaps(start: Float, step: Float, count: Int, taps: Int, size: Int, into axis: SamplerScratch.Axis) {
        axis.reserve(count * taps * 2)
        let indices = axis.indices, weights = axis.weights
        for i in 0..<count {
            for t in 0..<taps {
                let s = start + (Float(i) + (Float(t) + 0.5) / Float(taps)) * step - 0.5
                let s0 = s.rounded(.down)
                let f = s - s0
                let i0 = Int(s0), k = (i * taps + t) * 2
                let inside0 = i0 >= 0 && i0 < size, inside1 = i0 + 1 >= 0 && i0 + 1 < size
                indices[k] = Int32(inside0 ? i0 : 0)
                weights[k] = inside0 ? (1 - f) / Float(taps) : 0
                indices[k + 1] = Int32(inside1 ? i0 + 1 : 0)
                weights[k + 1] = inside1 ? f / Float(taps) : 0
            }
        }
    }

    private static func run<F: PixelFetch>(_ fetch: F, _ view: PixelView, _ region: Box, _ output: UnsafeMutableRawBufferPointer,
                                           _ width: Int, _ height: Int, _ layout: PixelLayout, _ scratch: SamplerScratch) {
        let channels = layout == .rgb ? 3 : 1
        precondition(output.count >= width * height * channels)
        let out = output.bindMemory(to: Int8.self)
        let stepX = region.width / Float(width), stepY = region.height / Float(height)
        let tapsX = max(1, min(4, Int(stepX.rounded(.up)) / 2)), tapsY = max(1, min(4, Int(stepY.rounded(.up)) / 2))
        axisTaps(start: region.x, step: stepX, count: width, taps: tapsX, size: view.width, into: scratch.columns)
        axisTaps(start: region.y, step: stepY, count: height, taps: tapsY, size: view.height, into: scratch.rows)
        let cx = scratch.columns.indices, wx = scratch.columns.weights
        let cy = scratch.rows.indices, wy = scratch.rows.weights
        for j in 0..<height {
            for i in 0..<width {
                var r: Float = 0, g: Float = 0, b: Float = 0
                for ty in 0..<(tapsY * 2) {
                    let rowWeight = wy[j * tapsY * 2 + ty]
                    if rowWeight == 0 { continue }
                    let y = Int(cy[j * tapsY * 2 + ty])
                    for tx in 0..<(tapsX * 2) {
                        let weight = rowWeight * wx[i * tapsX * 2 + tx]
                        if weight == 0 { continue }
                        let p = fetch.rgb(Int(cx[i * tapsX * 2 + tx]), y)
                        r += weight * p.0; g += weight * p.1; b += weight * p.2
                    }
                }
                let index = (j * width + i) * channels
                if layout == .rgb {
                    out[index] = toInt8(r); out[index + 1] = toInt8(g); out[index + 2] = toInt8(b)
                } else {
                    out[index] = toInt8((299 * r + 587 * g + 114 * b) / 1000)
                }
            }
        }
    }

    @inline(__always)
    private static func toInt8(_ value: Float) -> Int8 {
        Int8(max(0, min(255, value.rounded())) - 128)
    }
}
