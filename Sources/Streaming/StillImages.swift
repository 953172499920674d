// `facecam demo`: the face pipeline on still PPM/PGM images, one JSON object per image.
#if canImport(Glibc)
import Glibc
#endif
import FacePipeline
import Imaging

public struct StillImageError: Error, CustomStringConvertible {
    public let description: String
}

public enum StillImages {
    /// The images among `paths`: files as given, and the .ppm/.pgm files of folders in name
    /// order. A missing path, or no image at all, is an error.
    public static func files(_ paths: [String]) throws -> [String] {
        var files: [String] = []
        for path in paths {
            var info = stat()
            guard stat(path, &info) == 0 else { throw StillImageError(description: "\(path): no such file or folder") }
            if (info.st_mode & S_IFMT) == S_IFDIR {
                files += entries(path).sorted().filter { $0.hasSuffix(".ppm") || $0.hasSuffix(".pgm") }.map { "\(path)/\($0)" }
            } else {
                files.append(path)
            }
        }
        guard !files.isEmpty else { throw StillImageError(description: "no .ppm or .pgm images in \(paths.joined(separator: ", "))") }
        return files
    }

    /// The JSON Lines record of one image: its faces and the latency of each stage.
    public static func record(file: String, image: RGBImage, faces: [Face], timings: PipelineTimings) -> JSON {
        .object([
            ("image", .string(file)), ("width", .integer(image.width)), ("height", .integer(image.height)),
            ("faces", .array(faces.map(faceJSON))),
            ("latency_ms", .object([("detect", .number(round3(timings.detectMs))), ("verify", .number(round3(timings.verifyMs))),
                                    ("classify", .number(round3(timings.classifyMs)))])),
        ])
    }

    /// "facecam: N image(s), F face(s); mean per image: detect ... ms, ..." over `images` images
    /// whose stage times add up to `total`.
    public static func summary(images: Int, faces: Int, total: PipelineTimings) -> String {
        let n = Double(max(images, 1))
        return "facecam: \(images) image(s), \(faces) face(s); mean per image: detect \(fixed(total.detectMs / n, 2)) ms, "
            + "verify \(fixed(total.verifyMs / n, 2)) ms, classify \(fixed(total.classifyMs / n, 2)) ms"
    }

    private static func entries(_ path: String) -> [String] {
        guard let dir = opendir(path) else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }
}
