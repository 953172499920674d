// Resampling a region of an RGB image straight into a model's int8 input tensor (pixel - 128,
// the input convention of the shipped models), in one pass with no intermediate image.

public enum PixelLayout: Sendable {
    case rgb
    /// ITU-R BT.601 luma, rounded: (299 R + 587 G + 114 B) / 1000.
    case gray
}

public enum Sampler {
    /// Fills `output` (height x width x channels int8) by bilinear sampling of `region` of
    /// `image`; pixels outside the image read as black. Downscaling by more than 2x averages a
    /// grid of bilinear taps so that small faces in large frames are not aliased.
    public static func sample(_ image: RGBImage, region: Box, into output: UnsafeMutableRawBufferPointer,
                              width: Int, height: Int, layout: PixelLayout) {
        let channels = layout == .rgb ? 3 : 1
        precondition(output.count >= width * height * channels)
        let out = output.bindMemory(to: Int8.self)
        let stepX = region.width / Float(width), stepY = region.height / Float(height)
        let tapsX = max(1, min(4, Int(stepX.rounded(.up)) / 2)), tapsY = max(1, min(4, Int(stepY.rounded(.up)) / 2))
        image.pixels.withUnsafeBufferPointer { src in
            for j in 0..<height {
                for i in 0..<width {
                    var sum: (Float, Float, Float) = (0, 0, 0)
                    for ty in 0..<tapsY {
                        for tx in 0..<tapsX {
                            let sx = region.x + (Float(i) + (Float(tx) + 0.5) / Float(tapsX)) * stepX - 0.5
                            let sy = region.y + (Float(j) + (Float(ty) + 0.5) / Float(tapsY)) * stepY - 0.5
                            let p = bilinear(src, image.width, image.height, sx, sy)
                            sum.0 += p.0; sum.1 += p.1; sum.2 += p.2
                        }
                    }
                    let n = Float(tapsX * tapsY)
                    let (r, g, b) = (sum.0 / n, sum.1 / n, sum.2 / n)
                    let index = (j * width + i) * channels
                    switch layout {
                    case .rgb:
                        out[index] = toInt8(r); out[index + 1] = toInt8(g); out[index + 2] = toInt8(b)
                    case .gray:
                        out[index] = toInt8((299 * r + 587 * g + 114 * b) / 1000)
                    }
                }
            }
        }
    }

    @inline(__always)
    private static func toInt8(_ value: Float) -> Int8 {
        Int8(max(0, min(255, value.rounded())) - 128)
    }

    @inline(__always)
    private static func bilinear(_ src: UnsafeBufferPointer<UInt8>, _ w: Int, _ h: Int, _ x: Float, _ y: Float) -> (Float, Float, Float) {
        let x0f = x.rounded(.down), y0f = y.rounded(.down)
        let fx = x - x0f, fy = y - y0f
        let x0 = Int(x0f), y0 = Int(y0f)
        var result: (Float, Float, Float) = (0, 0, 0)
        @inline(__always) func tap(_ xx: Int, _ yy: Int, _ weight: Float) {
            guard weight > 0, xx >= 0, xx < w, yy >= 0, yy < h else { return }
            let base = (yy * w + xx) * 3
            result.0 += weight * Float(src[base])
            result.1 += weight * Float(src[base + 1])
            result.2 += weight * Float(src[base + 2])
        }
        tap(x0, y0, (1 - fx) * (1 - fy))
        tap(x0 + 1, y0, fx * (1 - fy))
        tap(x0, y0 + 1, (1 - fx) * fy)
        tap(x0 + 1, y0 + 1, fx * fy)
        return result
    }
}
