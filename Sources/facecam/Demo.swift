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

    @OptionGroup(title: "Models")
    var modelOptions: ModelOptions

    @OptionGroup var kernelOptions: KernelOptions

    func run() throws {
        var settings = modelOptions.pipelineSettings
        settings.kernels = kernelOptions.kernels
        let models = modelOptions.modelsFolder
        let pipeline: FacePipeline
        do {
            pipeline = try FacePipeline(detector: "\(models)/blazeface.tflite", verifier: "\(models)/onet.tflite",
                                        classifier: "\(models)/expression.tflite", settings: settings)
        } catch { throw CommandError("\(error)") }

        let files: [String]
        do { files = try StillImages.files(paths) } catch let error as StillImageError { throw CommandError(error.description) }
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
            print(StillImages.record(file: file, image: image, faces: faces, timings: timings).text)
        }
        FileHandle.standardError.write(Data((StillImages.summary(images: files.count - failures, faces: faceCount, total: total) + "\n").utf8))
        if failures > 0 { throw ExitCode(1) }
    }
}
