import ArgumentParser
import FacePipeline
import Foundation
import Imaging
import Streaming
import Int8Runtime

struct Demo: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the face pipeline (detect, verify, classify expression) on images; print JSON Lines.",
        discussion: """
            Reads binary PPM/PGM images (files, or folders of them). One JSON object per image \
            on stdout: image, width, height, faces (box [x, y, w, h] in pixels, score, 6 \
            keypoints, face_probability from ONet, expression and its probabilities) and \
            latency_ms per stage. A summary goes to stderr. Camera and video sources come with \
            `facecam run`.
            """)

    @Argument(help: "Images or folders of .ppm/.pgm images.")
    var paths: [String] = ["samples"]

    @Option(help: "Folder holding blazeface.tflite, onet.tflite and expression.tflite.")
    var models = "models"

    @Option(help: "Minimum BlazeFace score.")
    var threshold: Float = 0.6

    @Option(help: "Per model: threads for CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED (split by output rows or channels: identical results for any count; small layers and other operators stay on one thread).")
    var threads = 1

    @OptionGroup var kernelOptions: KernelOptions

    func validate() throws {
        if !(0...1).contains(threshold) { throw ValidationError("--threshold must be in 0...1 (got \(threshold))") }
        if !(1...64).contains(threads) { throw ValidationError("--threads must be in 1...64") }
    }

    func run() throws {
        var settings = PipelineSettings()
        settings.detectionThreshold = threshold
        settings.threads = max(1, threads)
        settings.kernels = kernelOptions.kernels
        let pipeline: FacePipeline
        do {
            pipeline = try FacePipeline(detector: "\(models)/blazeface.tflite", verifier: "\(models)/onet.tflite",
                                        classifier: "\(models)/expression.tflite", settings: settings)
        } catch { throw CommandError("\(error)") }

        let files = try imageFiles()
        var faceCount = 0, failures = 0
        var total = PipelineTimings()
        for file in files {
            let image: RGBImage
            do { image = try PNM.decode(try readFile(file)) } catch {
                FileHandle.standardError.write(Data("facecam: \(file): \(error)\n".utf8))
                failures += 1
                continue
            }
            var timings = PipelineTimings()
            let faces = pipeline.process(image, timings: &timings)
            faceCount += faces.count
            total.detectMs += timings.detectMs; total.verifyMs += timings.verifyMs; total.classifyMs += timings.classifyMs
            let line: JSON = .object([
                ("image", .string(file)), ("width", .integer(image.width)), ("height", .integer(image.height)),
                ("faces", .array(faces.map(faceJSON))),
                ("latency_ms", .object([("detect", .number(round3(timings.detectMs))), ("verify", .number(round3(timings.verifyMs))),
                                        ("classify", .number(round3(timings.classifyMs)))])),
            ])
            print(line.text)
        }
        let n = max(files.count - failures, 1)
        FileHandle.standardError.write(Data(String(
            format: "facecam: %d image(s), %d face(s); mean per image: detect %.2f ms, verify %.2f ms, classify %.2f ms\n",
            files.count - failures, faceCount, total.detectMs / Double(n), total.verifyMs / Double(n), total.classifyMs / Double(n)).utf8))
        if failures > 0 { throw ExitCode(1) }
    }

    private func imageFiles() throws -> [String] {
        var files: [String] = []
        for path in paths {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
                throw CommandError("\(path): no such file or folder")
            }
            if isDirectory.boolValue {
                let names = try FileManager.default.contentsOfDirectory(atPath: path).sorted()
                files += names.filter { $0.hasSuffix(".ppm") || $0.hasSuffix(".pgm") }.map { "\(path)/\($0)" }
            } else {
                files.append(path)
            }
        }
        guard !files.isEmpty else { throw CommandError("no .ppm or .pgm images in \(paths.joined(separator: ", "))") }
        return files
    }
}

