import Adaptation
import BoardProfile
import FacePipeline
import Foundation
import XCTest

/// Board profiles: every key is checked against the same ranges as the flags; bad files give
/// one line naming the file, the line and the key, never a crash.
final class BoardConfigTests: XCTestCase {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    private func settings(_ text: String) throws -> RunSettings {
        var s = RunSettings()
        try BoardConfig.apply(text, name: "test.yaml", into: &s)
        return s
    }

    private func error(_ text: String, file: StaticString = #filePath, line: UInt = #line) -> String {
        var s = RunSettings()
        do { try BoardConfig.apply(text, name: "test.yaml", into: &s) } catch let e as ConfigError { return e.description } catch {
            XCTFail("not a ConfigError: \(error)", file: file, line: line)
            return ""
        }
        XCTFail("accepted:\n\(text)", file: file, line: line)
        return ""
    }

    func testEveryShippedProfileLoads() throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: "\(root)/firmware-config").filter { $0.hasSuffix(".yaml") }
        XCTAssertGreaterThanOrEqual(names.count, 4)
        for name in names {
            var s = RunSettings()
            XCTAssertNoThrow(try BoardConfig.load("\(root)/firmware-config/\(name)", into: &s), name)
        }
        var s = RunSettings()
        try BoardConfig.load("\(root)/firmware-config/x86-generic.yaml", into: &s)
        XCTAssertEqual(s.device, "/dev/video0")
        XCTAssertEqual(s.format, .yuyv)
        XCTAssertEqual(s.width, 640)
        XCTAssertEqual(s.fps, 30)
        XCTAssertEqual(s.threads, 2)
        XCTAssertEqual(s.detectionThreshold, 0.6)
    }

    func testKeysSetTheirSettings() throws {
        let s = try settings("""
            camera:
              format: MJPEG
              height: 8192
            models:
              detector: d.tflite
            thresholds:
              verification: 0
              max_faces: 64
            adaptation:
              heads: verifier
              method: fixmatch
              learning_rate: 0.01
              alignment: always
              state: s.bin
              save_every: 0.5
            reconnect:
              attempts: 0
            """)
        XCTAssertEqual(s.format, .mjpeg)
        XCTAssertEqual(s.height, 8192)
        XCTAssertEqual(s.detector, "d.tflite")
        XCTAssertEqual(s.verificationThreshold, 0)
        XCTAssertEqual(s.maxFaces, 64)
        XCTAssertEqual(s.adaptation.target, .verifier)
        XCTAssertEqual(s.adaptation.settings.method, .fixmatch)
        XCTAssertEqual(s.adaptation.settings.learningRate, 0.01)
        XCTAssertEqual(s.adaptation.settings.alignment, .always)
        XCTAssertEqual(s.adaptation.explicit, ["learning_rate", "alignment"])
        XCTAssertEqual(s.adaptation.statePath, "s.bin")
        XCTAssertEqual(s.adaptation.saveEvery, 0.5)
        XCTAssertEqual(s.reconnectAttempts, 0)
        XCTAssertNil(try settings("adaptation:\n  heads: none\n").adaptation.target)
    }

    func testUnknownSectionsAndKeysAreNamedWithTheirLine() {
        XCTAssertEqual(error("board: b\ncamera:\n  width: 640\n  colour: red\n"),
                       "test.yaml:4: unknown key 'camera.colour' (known: device, format, width, height, fps)")
        XCTAssertTrue(error("board: b\nnetwork: {}\n").hasPrefix("test.yaml:2: unknown section 'network'"))
        XCTAssertEqual(error("camera: 3\n"), "test.yaml:1: 'camera' must be a mapping with keys device, format, width, height, fps")
        XCTAssertEqual(error("- a\n- b\n"), "test.yaml:1: expected a mapping of sections")
        XCTAssertEqual(error(""), "test.yaml: the file is empty")
    }

    /// Each bound: the edge is accepted, one step past it is refused with the range.
    func testValuesAreBoundedAsTheFlagsAre() throws {
        XCTAssertEqual(try settings("camera:\n  width: 16\n").width, 16)
        XCTAssertEqual(error("camera:\n  width: 15\n"), "test.yaml:2: 'camera.width' must be an integer in 16...8192, got '15'")
        XCTAssertEqual(error("camera:\n  height: 8193\n"), "test.yaml:2: 'camera.height' must be an integer in 16...8192, got '8193'")
        XCTAssertEqual(try settings("camera:\n  fps: 240\n").fps, 240)
        XCTAssertEqual(error("camera:\n  fps: 999\n"), "test.yaml:2: 'camera.fps' must be a number in 1.0...240.0, got '999'")
        XCTAssertEqual(error("camera:\n  fps: [1]\n"), "test.yaml:2: 'camera.fps' must be a number in 1.0...240.0, got 'a collection'")
        XCTAssertEqual(try settings("runtime:\n  threads: 64\n").threads, 64)
        XCTAssertEqual(error("runtime:\n  threads: 0\n"), "test.yaml:2: 'runtime.threads' must be an integer in 1...64, got '0'")
        XCTAssertEqual(error("runtime:\n  threads: 2.5\n"), "test.yaml:2: 'runtime.threads' must be an integer in 1...64, got '2.5'")
        XCTAssertEqual(try settings("thresholds:\n  detection: 1\n").detectionThreshold, 1)
        XCTAssertEqual(error("thresholds:\n  detection: 7\n"),
                       "test.yaml:2: 'thresholds.detection' must be a number in 0.0...1.0, got '7'")
        XCTAssertEqual(error("thresholds:\n  max_faces: 65\n"), "test.yaml:2: 'thresholds.max_faces' must be an integer in 1...64, got '65'")
        XCTAssertEqual(error("reconnect:\n  attempts: 1001\n"),
                       "test.yaml:2: 'reconnect.attempts' must be an integer in 0...1000, got '1001'")
        XCTAssertEqual(error("adaptation:\n  learning_rate: 0\n"), "test.yaml:2: 'adaptation.learning_rate' must be above 0")
        XCTAssertEqual(error("adaptation:\n  save_every: 0\n"), "test.yaml:2: 'adaptation.save_every' must be above 0")
        XCTAssertEqual(error("camera:\n  format: rgb\n"), "test.yaml:2: 'camera.format' must be one of yuyv, mjpeg, grey, nv12, got 'rgb'")
        XCTAssertEqual(error("adaptation:\n  teacher: nobody\n"),
                       "test.yaml:2: 'adaptation.teacher' must be one of \(TeacherKind.allCases.map(\.rawValue).joined(separator: ", ")), got 'nobody'")
        XCTAssertEqual(error("models:\n  directory: ''\n"), "test.yaml:2: 'models.directory' must be a non-empty string")
        // The ranges are the flags' ranges.
        XCTAssertEqual(SettingRange.threads, 1...64)
        XCTAssertEqual(SettingRange.fps, 1...240)
    }

    func testDeepAndLargeFilesAreRefusedBeforeTheParser() {
        let deep = "a: " + String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000) + "\n"
        XCTAssertTrue(error(deep).hasPrefix("test.yaml: line 1: nested more than"), error(deep))
        let large = "board: b\n" + String(repeating: "# padding\n", count: 7000)
        XCTAssertTrue(error(large).hasPrefix("test.yaml: the file is"))
    }

    func testFilesThatCannotBeReadAreOneLine() {
        var s = RunSettings()
        XCTAssertThrowsError(try BoardConfig.load("\(root)/no-such-profile.yaml", into: &s)) {
            XCTAssertEqual("\($0)", "\(root)/no-such-profile.yaml: cannot read the file")
        }
        XCTAssertThrowsError(try BoardConfig.load("\(root)/firmware-config", into: &s)) {
            XCTAssertEqual("\($0)", "\(root)/firmware-config: cannot read the file")
        }
    }

    func testSizesAndDerivedSettings() {
        XCTAssertTrue(parseSize("640X480")! == (640, 480))
        XCTAssertNil(parseSize("15x480"))
        XCTAssertNil(parseSize("640x8193"))
        XCTAssertNil(parseSize("640"))
        var s = RunSettings()
        XCTAssertEqual(s.sourceSpec.path, "/dev/video0")
        XCTAssertEqual(s.sourceSpec.width, 640)
        s.device = "clip.mjpeg"
        s.format = .grey
        s.modelsDirectory = "m"
        XCTAssertEqual(s.sourceSpec.path, "clip.mjpeg")
        XCTAssertEqual(s.sourceSpec.format, .grey)
        XCTAssertEqual(s.modelPaths.map(\.path), ["m/blazeface.tflite", "m/onet.tflite", "m/expression.tflite"])
    }

    func testAdaptationNeedsShippedStatisticsOfTheSameModel() throws {
        var choice = AdaptationChoice()
        var settings = PipelineSettings()
        XCTAssertEqual(try pipelineAdaptation(choice, verifierModel: "x", classifierModel: "y", into: &settings), [:])
        choice.target = .verifier
        let hashes = try pipelineAdaptation(choice, verifierModel: "\(root)/models/onet.tflite", classifierModel: "unused",
                                            into: &settings)
        XCTAssertEqual(Array(hashes.keys), ["verifier"])
        XCTAssertNotNil(settings.verifierAdaptation)
        XCTAssertNil(settings.expressionAdaptation)
        // The expression head's statistics belong to another model: refused with the fix.
        choice.target = .expression
        XCTAssertThrowsError(try pipelineAdaptation(choice, verifierModel: "", classifierModel: "\(root)/models/blazeface.tflite",
                                                    into: &settings)) {
            XCTAssertTrue("\($0)".hasPrefix("--adapt expression: "), "\($0)")
        }
    }
}
