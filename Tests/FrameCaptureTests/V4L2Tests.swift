import XCTest
@testable import FrameCapture

/// V4L2 logic that needs no camera: fourccs, negotiation over made-up device descriptions,
/// device enumeration over a scratch directory, and the errors for missing devices.
/// (Capture itself is tested against the vivid driver in a VM: tools/vivid-test.)
final class V4L2Tests: XCTestCase {
    // vivid's webcam input at the sizes and rates it offers for YUYV.
    static let webcamSizes: [V4L2Size] = [
        V4L2Size(width: 320, height: 180, rates: .discrete([V4L2Interval(1, 60), V4L2Interval(1, 30), V4L2Interval(1, 15)])),
        V4L2Size(width: 640, height: 360, rates: .discrete([V4L2Interval(1, 40), V4L2Interval(1, 30), V4L2Interval(2, 25)])),
        V4L2Size(width: 640, height: 480, rates: .discrete([V4L2Interval(1, 25), V4L2Interval(1, 15), V4L2Interval(1, 5)])),
        V4L2Size(width: 1280, height: 720, rates: .discrete([V4L2Interval(1, 10), V4L2Interval(1, 5)])),
        V4L2Size(width: 1920, height: 1080, rates: .discrete([V4L2Interval(1, 5)])),
    ]

    func format(_ text: String, emulated: Bool = false, sizes: [V4L2Size] = webcamSizes) -> V4L2FormatInfo {
        V4L2FormatInfo(fourcc: fourccCode(text)!, description: text, emulated: emulated, sizes: sizes)
    }

    func testFourccRoundTrip() {
        XCTAssertEqual(fourccCode("YUYV"), 0x5659_5559)
        XCTAssertEqual(fourccString(0x5659_5559), "YUYV")
        for pf in PixelFormat.allCases {
            XCTAssertEqual(fourccCode(pf.rawValue), pf.fourcc, "\(pf)")
            XCTAssertEqual(fourccString(pf.fourcc), pf.rawValue)
            XCTAssertEqual(PixelFormat(fourcc: pf.fourcc), pf)
        }
        XCTAssertEqual(PixelFormat(fourcc: fourccCode("JPEG")!), .mjpeg)
        XCTAssertNil(PixelFormat(fourcc: fourccCode("BA81")!))
        XCTAssertNil(fourccCode("YUY"))
        XCTAssertNil(fourccCode("YUYV2"))
        XCTAssertEqual(fourccString(0x0000_0041), "A???")
    }

    func testExactRequestIsKept() {
        let choice = V4L2Negotiation.choose(from: [format("YUYV"), format("GREY")], format: .grey,
                                            width: 640, height: 480, fps: 15)
        XCTAssertEqual(choice, V4L2Choice(format: .grey, fourcc: fourccCode("GREY")!, width: 640, height: 480,
                                          interval: V4L2Interval(1, 15)))
    }

    func testClosestSizeAndRate() {
        let formats = [format("YUYV")]
        // 600x450 is nearest to 640x480 (same aspect, small ratio), not 640x360.
        var choice = V4L2Negotiation.choose(from: formats, format: .yuyv, width: 600, height: 450, fps: 30)!
        XCTAssertEqual([choice.width, choice.height], [640, 480])
        XCTAssertEqual(choice.interval, V4L2Interval(1, 25), "30 fps is not offered at 640x480; 25 is nearest")
        // 1280x960: 1280x720 (log distance 0.415) beats 640x480 (2.0) and 1920x1080 (0.755).
        choice = V4L2Negotiation.choose(from: formats, format: .yuyv, width: 1280, height: 960, fps: nil)!
        XCTAssertEqual([choice.width, choice.height], [1280, 720])
        XCTAssertEqual(choice.interval, V4L2Interval(1, 10), "no rate requested: the fastest")
        // Tiny request: the smallest size.
        choice = V4L2Negotiation.choose(from: formats, format: .yuyv, width: 16, height: 16, fps: 1000)!
        XCTAssertEqual([choice.width, choice.height, Int(choice.interval!.fps)], [320, 180, 60])
        // 12.5 fps (2/25) at 640x360 when 12 is asked for.
        choice = V4L2Negotiation.choose(from: formats, format: .yuyv, width: 640, height: 360, fps: 12)!
        XCTAssertEqual(choice.interval, V4L2Interval(2, 25))
    }

    func testEquallyDistantSizesPreferTheLarger() {
        let sizes = [V4L2Size(width: 320, height: 240), V4L2Size(width: 1280, height: 960)]
        let choice = V4L2Negotiation.choose(from: [format("YUYV", sizes: sizes)], format: .yuyv,
                                            width: 640, height: 480, fps: nil)!
        XCTAssertEqual([choice.width, choice.height], [1280, 960])
        XCTAssertNil(choice.interval, "rates unknown and none requested: leave the device's rate alone")
    }

    func testFormatFallbackOrder() {
        // Requested NV12 missing: YUYV first among the preferences, native before emulated.
        let offered = [format("GREY"), format("RGB3", emulated: true), format("YUYV", emulated: true),
                       format("MJPG"), format("BA81")]
        var choice = V4L2Negotiation.choose(from: offered, format: .nv12, width: 640, height: 480, fps: nil)!
        XCTAssertEqual(choice.format, .mjpeg, "native MJPEG beats emulated YUYV")
        choice = V4L2Negotiation.choose(from: offered, format: .rgb24, width: 640, height: 480, fps: nil)!
        XCTAssertEqual(choice.format, .mjpeg, "a native format beats the requested one emulated in software")
        choice = V4L2Negotiation.choose(from: [format("BA81"), format("RGB3", emulated: true)], format: .yuyv,
                                        width: 640, height: 480, fps: nil)!
        XCTAssertEqual(choice.format, .rgb24, "a Bayer-only camera works through libv4l2's conversion")
        XCTAssertNil(V4L2Negotiation.choose(from: [format("BA81"), format("H264")], format: .yuyv,
                                            width: 640, height: 480, fps: nil))
        XCTAssertNil(V4L2Negotiation.choose(from: [], format: nil, width: 640, height: 480, fps: nil))
        choice = V4L2Negotiation.choose(from: [format("GREY"), format("NV12")], format: nil, width: 640, height: 480, fps: nil)!
        XCTAssertEqual(choice.format, .nv12, "no request: the preference order")
    }

    func testStepwiseSizesAndRates() {
        let range = V4L2SizeRange(minWidth: 48, maxWidth: 4096, stepWidth: 16, minHeight: 32, maxHeight: 2304, stepHeight: 8)
        let info = V4L2FormatInfo(fourcc: PixelFormat.yuyv.fourcc, sizeRange: range)
        var choice = V4L2Negotiation.choose(from: [info], format: .yuyv, width: 641, height: 479, fps: 30)!
        XCTAssertEqual([choice.width, choice.height], [640, 480])
        XCTAssertEqual(choice.interval, V4L2Interval(1, 30))
        choice = V4L2Negotiation.choose(from: [info], format: .yuyv, width: 10_000, height: 1, fps: nil)!
        XCTAssertEqual([choice.width, choice.height], [4096, 32])
        XCTAssertEqual(range.closest(width: 57, height: 37).width, 64, "57 is nearer 64 than 48 on a 16 step")

        let rates = V4L2Rates.stepwise(min: V4L2Interval(1, 60), max: V4L2Interval(1, 1), step: V4L2Interval(1, 1000))
        XCTAssertEqual(V4L2Negotiation.chooseInterval(rates, fps: 24), V4L2Interval(1, 24))
        XCTAssertEqual(V4L2Negotiation.chooseInterval(rates, fps: 500), V4L2Interval(1, 60))
        XCTAssertEqual(V4L2Negotiation.chooseInterval(rates, fps: nil), V4L2Interval(1, 60))
        XCTAssertEqual(V4L2Negotiation.chooseInterval(rates, fps: 29.97), V4L2Interval(1000, 29970))
        XCTAssertEqual(V4L2Negotiation.chooseInterval(.unknown, fps: nil), nil)
        XCTAssertEqual(V4L2Negotiation.chooseInterval(.discrete([V4L2Interval(0, 0)]), fps: 30), nil)
    }

    func testNodePathsAreNumericallyOrdered() throws {
        let dir = NSTemporaryDirectory() + "facecam-v4l2-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for name in ["video10", "video2", "video0", "videoX", "vbi0", "media0"] {
            XCTAssertTrue(FileManager.default.createFile(atPath: dir + "/" + name, contents: Data()))
        }
        XCTAssertEqual(V4L2Devices.nodePaths(in: dir), ["video0", "video2", "video10"].map { dir + "/" + $0 })
        // Regular files are not V4L2 devices: listed with the reason, not dropped, not a crash.
        let listed = V4L2Devices.list(in: dir)
        XCTAssertEqual(listed.count, 3)
        XCTAssertTrue(listed.allSatisfy { !$0.isCapture && ($0.error ?? "").contains("not a V4L2 device") },
                      "\(listed.map(\.summary))")
        XCTAssertEqual(V4L2Devices.list(in: dir + "/missing").count, 0)
    }

    func testMissingDeviceMessageListsDevices() {
        XCTAssertEqual(V4L2Devices.missingDeviceMessage("/dev/video9", devices: []),
                       "/dev/video9: no such device, and no V4L2 devices exist (/dev/video* is empty)")
        let devices = [
            V4L2Devices.DeviceInfo(path: "/dev/video0", card: "HD Webcam", driver: "uvcvideo", isCapture: true),
            V4L2Devices.DeviceInfo(path: "/dev/video1", card: "HD Webcam", driver: "uvcvideo", isCapture: false),
        ]
        let message = V4L2Devices.missingDeviceMessage("/dev/video9", devices: devices)
        XCTAssertTrue(message.hasPrefix("/dev/video9: no such device; V4L2 devices: "), message)
        XCTAssertTrue(message.contains("/dev/video0 (HD Webcam, uvcvideo, capture)"), message)
        XCTAssertTrue(message.contains("/dev/video1 (HD Webcam, uvcvideo, not capture)"), message)
        XCTAssertTrue(V4L2Devices.missingDeviceMessage("/dev/video9", devices: [devices[1]]).hasSuffix("none of them captures video"))
    }

    func testOpeningAMissingDeviceThrowsNotFound() {
        let path = "/dev/video-facecam-missing"
        XCTAssertThrowsError(try V4L2Source(path: path)) { error in
            guard let error = error as? CaptureError else { return XCTFail("\(error)") }
            XCTAssertEqual(error.kind, .notFound)
            XCTAssertTrue(error.message.hasPrefix("\(path): no such device"), error.message)
            // It names what exists (here: whatever /dev/video* this machine has, possibly none).
            let present = V4L2Devices.nodePaths()
            if present.isEmpty {
                XCTAssertTrue(error.message.contains("no V4L2 devices exist"), error.message)
            } else {
                for node in present { XCTAssertTrue(error.message.contains(node), error.message) }
            }
        }
    }

    func testOpeningANonDeviceIsUnsupported() {
        XCTAssertThrowsError(try V4L2Source(path: "/dev/null")) { error in
            XCTAssertEqual((error as? CaptureError)?.kind, .unsupported, "\(error)")
        }
        XCTAssertThrowsError(try V4L2Source(path: "/etc/hostname")) { error in
            XCTAssertEqual((error as? CaptureError)?.kind, .unsupported, "\(error)")
            XCTAssertTrue("\(error)".contains("not a device node"))
        }
    }

    func testErrnoMapping() {
        XCTAssertEqual(V4L2Source.error(ENODEV, "x").kind, .disconnected)
        XCTAssertEqual(V4L2Source.error(EIO, "x").kind, .disconnected)
        XCTAssertEqual(V4L2Source.error(EBUSY, "x").kind, .io)
        XCTAssertEqual(V4L2Source.error(EINVAL, "x").kind, .unsupported)
        XCTAssertFalse(V4L2Source.error(EIO, "x").recoverable)
    }
}
