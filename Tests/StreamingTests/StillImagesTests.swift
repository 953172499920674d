import FacePipeline
import Foundation
import Streaming
import XCTest

final class StillImagesTests: XCTestCase {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    func testFoldersGiveTheirImagesInNameOrderAndFilesStayAsGiven() throws {
        let files = try StillImages.files(["\(root)/samples", "\(root)/samples/README.md"])
        let inFolder = files.dropLast()
        XCTAssertFalse(inFolder.isEmpty)
        XCTAssertTrue(inFolder.allSatisfy { $0.hasPrefix("\(root)/samples/") && ($0.hasSuffix(".ppm") || $0.hasSuffix(".pgm")) })
        XCTAssertEqual(Array(inFolder), inFolder.sorted())
        XCTAssertEqual(files.last, "\(root)/samples/README.md")
        XCTAssertThrowsError(try StillImages.files(["\(root)/nope"])) { XCTAssertEqual("\($0)", "\(root)/nope: no such file or folder") }
        XCTAssertThrowsError(try StillImages.files(["\(root)/firmware-config"])) {
            XCTAssertEqual("\($0)", "no .ppm or .pgm images in \(root)/firmware-config")
        }
    }

    func testSummaryIsTheMeanPerImage() {
        var total = PipelineTimings()
        total.detectMs = 3; total.verifyMs = 1; total.classifyMs = 0.5
        XCTAssertEqual(StillImages.summary(images: 2, faces: 3, total: total),
                       "facecam: 2 image(s), 3 face(s); mean per image: detect 1.50 ms, verify 0.50 ms, classify 0.25 ms")
        XCTAssertTrue(StillImages.summary(images: 0, faces: 0, total: PipelineTimings()).hasSuffix("detect 0.00 ms, verify 0.00 ms, classify 0.00 ms"))
    }
}
