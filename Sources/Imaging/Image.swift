// 8-bit RGB images and the PNM formats (PPM/PGM) the demo and tests read and write.
#if canImport(Glibc)
import Glibc
#endif

public struct RGBImage: Sendable {
    public let width: Int
    public let height: Int
    /// Row-major RGB, 3 bytes per pixel.
    public var pixels: [UInt8]

    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(pixels.count == width * height * 3)
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    public init(width: Int, height: Int) {
        self.init(width: width, height: height, pixels: [UInt8](repeating: 0, count: width * height * 3))
    }
}

public struct ImageError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ message: String) { description = message }
}

public enum PNM {
    /// Largest image accepted (a guard against absurd headers).
    public static let maximumPixels = 8192 * 8192

    /// Decodes binary PPM (P6) or PGM (P5) with maxval 255; gray is expanded to RGB.
    public static func decode(_ bytes: [UInt8]) throws -> RGBImage {
        var position = 0
        func skipSpaceAndComments() {
            while position < bytes.count {
                if bytes[position] == UInt8(ascii: "#") {
                    while position < bytes.count && bytes[position] != UInt8(ascii: "\n") { position += 1 }
                } else if bytes[position] == 0x20 || (0x09...0x0D).contains(bytes[position]) {
                    position += 1
                } else { return }
            }
        }
        func number(_ what: String) throws -> Int {
            skipSpaceAndComments()
            var value = 0, digits = 0
            while position < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[position]) {
                value = value * 10 + Int(bytes[position] - UInt8(ascii: "0"))
                digits += 1; position += 1
                guard value <= 1 << 20 else { throw ImageError("PNM \(what) is too large") }
            }
            guard digits > 0 else { throw ImageError("PNM header: expected the \(what)") }
            return value
        }
        guard bytes.count >= 2, bytes[0] == UInt8(ascii: "P"), bytes[1] == UInt8(ascii: "5") || bytes[1] == UInt8(ascii: "6") else {
            throw ImageError("not a binary PPM (P6) or PGM (P5) image")
        }
        let channels = bytes[1] == UInt8(ascii: "6") ? 3 : 1
        position = 2
        let width = try number("width"), height = try number("height"), maxval = try number("maximum value")
        guard width > 0, height > 0, width * height <= maximumPixels else { throw ImageError("PNM size \(width)x\(height) is not supported") }
        guard maxval == 255 else { throw ImageError("PNM maximum value \(maxval) is not supported (only 255)") }
        position += 1  // the single whitespace byte after maxval
        let needed = width * height * channels
        guard bytes.count - position >= needed else {
            throw ImageError("PNM data is truncated: \(bytes.count - position) of \(needed) bytes")
        }
        if channels == 3 { return RGBImage(width: width, height: height, pixels: Array(bytes[position..<position + needed])) }
        var rgb = [UInt8](repeating: 0, count: width * height * 3)
        for i in 0..<(width * height) {
            let g = bytes[position + i]
            rgb[3 * i] = g; rgb[3 * i + 1] = g; rgb[3 * i + 2] = g
        }
        return RGBImage(width: width, height: height, pixels: rgb)
    }

    public static func encodePPM(_ image: RGBImage) -> [UInt8] {
        Array("P6\n\(image.width) \(image.height)\n255\n".utf8) + image.pixels
    }
}
