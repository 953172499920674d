// Drawing results onto frames (boxes, keypoints, labels), so a person
// can look at what facecam saw. A 3x5 pixel font, scaled, covers the labels' characters.
// (JPEG writing is FrameCapture's JPEGWriter.)
import FacePipeline
import Imaging

public enum Annotator {
    public static func draw(_ faces: [Face], on image: inout RGBImage) {
        let thickness = max(1, min(image.width, image.height) / 240)
        for face in faces {
            let color: (UInt8, UInt8, UInt8) = (face.faceProbability ?? 1) >= 0.5 ? (40, 230, 60) : (230, 60, 40)
            rectangle(&image, face.box, color, thickness)
            for point in face.keypoints {
                fill(&image, Int(point.x) - thickness, Int(point.y) - thickness, 2 * thickness + 1, 2 * thickness + 1, (250, 220, 30))
            }
            var label = face.expression.map { $0.uppercased() } ?? "FACE"
            label += " " + String(Int((face.detectionScore * 100).rounded()))
            let scale = max(2, thickness * 2)
            let textY = Int(face.box.y) - 6 * scale - thickness
            text(&image, label, x: Int(face.box.x), y: textY >= 0 ? textY : Int(face.box.y + face.box.height) + thickness + 1, scale: scale, color)
        }
    }

    static func rectangle(_ image: inout RGBImage, _ box: Box, _ color: (UInt8, UInt8, UInt8), _ t: Int) {
        let x = Int(box.x), y = Int(box.y), w = Int(box.width), h = Int(box.height)
        fill(&image, x, y, w, t, color); fill(&image, x, y + h - t, w, t, color)
        fill(&image, x, y, t, h, color); fill(&image, x + w - t, y, t, h, color)
    }

    static func fill(_ image: inout RGBImage, _ x: Int, _ y: Int, _ w: Int, _ h: Int, _ color: (UInt8, UInt8, UInt8)) {
        let x0 = max(0, x), y0 = max(0, y), x1 = min(image.width, x + w), y1 = min(image.height, y + h)
        guard x0 < x1, y0 < y1 else { return }
        let width = image.width
        image.pixels.withUnsafeMutableBufferPointer { p in
            for yy in y0..<y1 {
                for xx in x0..<x1 {
                    let o = (yy * width + xx) * 3
                    p[o] = color.0; p[o + 1] = color.1; p[o + 2] = color.2
                }
            }
        }
    }

    static func text(_ image: inout RGBImage, _ string: String, x: Int, y: Int, scale: Int, _ color: (UInt8, UInt8, UInt8)) {
        // Dark backing box for contrast.
        fill(&image, x - scale, y - scale, (string.count * 4 + 1) * scale, 7 * scale, (0, 0, 0))
        var cx = x
        for character in string {
            let rows = glyph(character)
            for (r, bits) in rows.enumerated() {
                for c in 0..<3 where bits & (4 >> c) != 0 {
                    fill(&image, cx + c * scale, y + r * scale, scale, scale, color)
                }
            }
            cx += 4 * scale
        }
    }

    /// 3x5 glyphs, one row per entry, bit 2 = left column.
    static func glyph(_ c: Character) -> [UInt8] {
        switch c {
        case "A": return [2, 5, 7, 5, 5]
        case "B": return [6, 5, 6, 5, 6]
        case "C": return [3, 4, 4, 4, 3]
        case "D": return [6, 5, 5, 5, 6]
        case "E": return [7, 4, 6, 4, 7]
        case "F": return [7, 4, 6, 4, 4]
        case "G": return [3, 4, 5, 5, 3]
        case "H": return [5, 5, 7, 5, 5]
        case "I": return [7, 2, 2, 2, 7]
        case "J": return [1, 1, 1, 5, 2]
        case "K": return [5, 5, 6, 5, 5]
        case "L": return [4, 4, 4, 4, 7]
        case "M": return [5, 7, 7, 5, 5]
        case "N": return [6, 5, 5, 5, 5]
        case "O": return [2, 5, 5, 5, 2]
        case "P": return [6, 5, 6, 4, 4]
        case "Q": return [2, 5, 5, 6, 3]
        case "R": return [6, 5, 6, 5, 5]
        case "S": return [3, 4, 2, 1, 6]
        case "T": return [7, 2, 2, 2, 2]
        case "U": return [5, 5, 5, 5, 7]
        case "V": return [5, 5, 5, 5, 2]
        case "W": return [5, 5, 7, 7, 5]
        case "X": return [5, 5, 2, 5, 5]
        case "Y": return [5, 5, 2, 2, 2]
        case "Z": return [7, 1, 2, 4, 7]
        case "0": return [7, 5, 5, 5, 7]
        case "1": return [2, 6, 2, 2, 7]
        case "2": return [6, 1, 2, 4, 7]
        case "3": return [6, 1, 2, 1, 6]
        case "4": return [5, 5, 7, 1, 1]
        case "5": return [7, 4, 6, 1, 6]
        case "6": return [3, 4, 7, 5, 7]
        case "7": return [7, 1, 2, 2, 2]
        case "8": return [7, 5, 7, 5, 7]
        case "9": return [7, 5, 7, 1, 6]
        case ".": return [0, 0, 0, 0, 2]
        case "%": return [5, 1, 2, 4, 5]
        default: return [0, 0, 0, 0, 0]
        }
    }
}
