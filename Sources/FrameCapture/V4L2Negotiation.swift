// What a V4L2 device offers (ENUM_FMT / ENUM_FRAMESIZES / ENUM_FRAMEINTERVALS), and the pure
// choice of format, size and frame rate from it. Kept free of ioctls so it can be unit-tested
// with made-up device descriptions.
#if canImport(Glibc)
import Glibc
#endif

/// A V4L2 fourcc as its four characters ("YUYV"); non-printable bytes become '?'.
public func fourccString(_ code: UInt32) -> String {
    var text = ""
    for shift in stride(from: 0, to: 32, by: 8) {
        let byte = UInt8((code >> UInt32(shift)) & 0xFF)
        text.unicodeScalars.append(byte >= 0x20 && byte < 0x7F ? Unicode.Scalar(byte) : "?")
    }
    return text
}

/// The fourcc of a four-character code ("YUYV" -> 0x56595559); nil unless exactly 4 ASCII bytes.
public func fourccCode(_ text: String) -> UInt32? {
    let bytes = Array(text.utf8)
    guard bytes.count == 4, bytes.allSatisfy({ $0 < 0x80 }) else { return nil }
    return bytes.enumerated().reduce(UInt32(0)) { $0 | UInt32($1.element) << UInt32(8 * $1.offset) }
}

/// A frame interval (seconds per frame) as V4L2 gives it.
public struct V4L2Interval: Equatable, Hashable, Sendable {
    public var numerator: UInt32
    public var denominator: UInt32
    public init(_ numerator: UInt32, _ denominator: UInt32) {
        self.numerator = numerator; self.denominator = denominator
    }
    /// Frames per second (0 for a malformed interval).
    public var fps: Double { numerator == 0 ? 0 : Double(denominator) / Double(numerator) }
    /// The interval closest to `fps` frames per second, as a fraction with a small denominator.
    public static func forRate(_ fps: Double) -> V4L2Interval {
        guard fps > 0, fps.isFinite else { return V4L2Interval(1, 30) }
        if fps == fps.rounded(), fps <= 100_000 { return V4L2Interval(1, UInt32(fps)) }
        return V4L2Interval(1000, UInt32(min(fps * 1000, Double(UInt32.max)).rounded()))
    }
}

/// Frame rates offered at one size: a list, or a continuous/stepwise range of intervals.
public enum V4L2Rates: Equatable, Sendable {
    case discrete([V4L2Interval])
    /// Intervals from `min` (fastest) to `max` (slowest); `step` is (0, 1) for continuous.
    case stepwise(min: V4L2Interval, max: V4L2Interval, step: V4L2Interval)
    /// The driver does not enumerate intervals.
    case unknown

    /// Every rate worth listing, fastest first (for a range: its two ends).
    public var listedFPS: [Double] {
        switch self {
        case .discrete(let list): return list.map(\.fps).sorted(by: >)
        case .stepwise(let lo, let hi, _): return [lo.fps, hi.fps]
        case .unknown: return []
        }
    }
}

/// One discrete frame size and its rates.
public struct V4L2Size: Equatable, Sendable {
    public var width: Int
    public var height: Int
    public var rates: V4L2Rates
    public init(width: Int, height: Int, rates: V4L2Rates = .unknown) {
        self.width = width; self.height = height; self.rates = rates
    }
}

/// A continuous or stepwise range of frame sizes.
public struct V4L2SizeRange: Equatable, Sendable {
    public var minWidth: Int, maxWidth: Int, stepWidth: Int
    public var minHeight: Int, maxHeight: Int, stepHeight: Int
    public init(minWidth: Int, maxWidth: Int, stepWidth: Int, minHeight: Int, maxHeight: Int, stepHeight: Int) {
        self.minWidth = minWidth; self.maxWidth = maxWidth; self.stepWidth = max(1, stepWidth)
        self.minHeight = minHeight; self.maxHeight = maxHeight; self.stepHeight = max(1, stepHeight)
    }

    /// The size in the range closest to the request (clamped, then snapped to the step).
    public func closest(width: Int, height: Int) -> (width: Int, height: Int) {
        func snap(_ value: Int, _ lo: Int, _ hi: Int, _ step: Int) -> Int {
            let clamped = min(max(value, lo), hi)
            let steps = Int((Double(clamped - lo) / Double(step)).rounded())
            return min(lo + steps * step, hi)
        }
        return (snap(width, minWidth, maxWidth, stepWidth), snap(height, minHeight, maxHeight, stepHeight))
    }
}

/// One pixel format a capture device offers.
public struct V4L2FormatInfo: Equatable, Sendable {
    public var fourcc: UInt32
    public var description: String
    /// Produced by libv4l2 converting in software, not by the device.
    public var emulated: Bool
    public var compressed: Bool
    public var sizes: [V4L2Size]
    /// Set when the device takes any size in a range (then `sizes` is empty).
    public var sizeRange: V4L2SizeRange?
    public var pixelFormat: PixelFormat? { PixelFormat(fourcc: fourcc) }

    public init(fourcc: UInt32, description: String = "", emulated: Bool = false, compressed: Bool = false,
                sizes: [V4L2Size] = [], sizeRange: V4L2SizeRange? = nil) {
        self.fourcc = fourcc; self.description = description; self.emulated = emulated
        self.compressed = compressed; self.sizes = sizes; self.sizeRange = sizeRange
    }
}

/// The format, size and interval facecam will ask the device for.
public struct V4L2Choice: Equatable, Sendable {
    public var format: PixelFormat
    public var fourcc: UInt32
    public var width: Int
    public var height: Int
    /// nil: leave the device's frame rate alone.
    public var interval: V4L2Interval?
}

public enum V4L2Negotiation {
    /// Formats facecam converts natively, most preferred first when the requested one is missing:
    /// uncompressed YUYV needs no decoding, MJPEG is what most USB cameras give at high sizes.
    public static let preference: [PixelFormat] = [.yuyv, .mjpeg, .nv12, .i420, .grey, .rgb24]

    /// How far apart two sizes are: the sum of the log ratios of width and height, so halving and
    /// doubling count alike; a small bias prefers the larger of two equally distant sizes.
    static func sizeDistance(_ w: Int, _ h: Int, _ rw: Int, _ rh: Int) -> Double {
        guard w > 0, h > 0, rw > 0, rh > 0 else { return .infinity }
        let d = abs(log2(Double(w) / Double(rw))) + abs(log2(Double(h) / Double(rh)))
        return d - (w * h >= rw * rh ? 1e-9 : 0)
    }

    static func rateDistance(_ fps: Double, _ requested: Double) -> Double {
        guard fps > 0, requested > 0 else { return .infinity }
        // Prefer the faster of two equally distant rates (frames can be skipped, not made up).
        return abs(log2(fps / requested)) - (fps >= requested ? 1e-9 : 0)
    }

    /// The interval from `rates` closest to `fps`; with no request, the fastest one.
    public static func chooseInterval(_ rates: V4L2Rates, fps: Double?) -> V4L2Interval? {
        switch rates {
        case .unknown:
            return fps.map { V4L2Interval.forRate($0) }
        case .discrete(let list):
            let valid = list.filter { $0.fps > 0 }
            guard !valid.isEmpty else { return nil }
            guard let fps, fps > 0 else { return valid.max { $0.fps < $1.fps } }
            return valid.min { rateDistance($0.fps, fps) < rateDistance($1.fps, fps) }
        case .stepwise(let fastest, let slowest, _):
            guard let fps, fps > 0 else { return fastest }
            let clamped = min(max(fps, slowest.fps), fastest.fps)
            return V4L2Interval.forRate(clamped)
        }
    }

    /// Picks the format (the requested one if offered natively, else the first of `preference`
    /// offered natively, else the same among libv4l2's emulated formats), then the size closest
    /// to `width`x`height`, then the interval closest to `fps`. nil when no usable format exists.
    public static func choose(from formats: [V4L2FormatInfo], format requested: PixelFormat?,
                              width: Int, height: Int, fps: Double?) -> V4L2Choice? {
        let order = (requested.map { [$0] } ?? []) + preference.filter { $0 != requested }
        var picked: (PixelFormat, V4L2FormatInfo)?
        search: for emulated in [false, true] {
            for candidate in order {
                if let info = formats.first(where: { $0.pixelFormat == candidate && $0.emulated == emulated }) {
                    picked = (candidate, info)
                    break search
                }
            }
        }
        guard let (format, info) = picked else { return nil }

        if let best = info.sizes.min(by: {
            sizeDistance($0.width, $0.height, width, height) < sizeDistance($1.width, $1.height, width, height)
        }) {
            return V4L2Choice(format: format, fourcc: info.fourcc, width: best.width, height: best.height,
                              interval: chooseInterval(best.rates, fps: fps))
        }
        if let range = info.sizeRange {
            let size = range.closest(width: width, height: height)
            return V4L2Choice(format: format, fourcc: info.fourcc, width: size.width, height: size.height,
                              interval: fps.map { V4L2Interval.forRate($0) })
        }
        // Nothing enumerated: ask for the request and let S_FMT adjust it.
        return V4L2Choice(format: format, fourcc: info.fourcc, width: width, height: height,
                          interval: fps.map { V4L2Interval.forRate($0) })
    }
}
