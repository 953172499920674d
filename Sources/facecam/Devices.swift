import ArgumentParser
import Foundation
import FrameCapture
import Reports

/// `facecam devices`: the V4L2 devices present and what each capture device offers.
/// `--probe DEVICE` opens one with V4L2Source and prints a JSON line per frame (a capture check
/// that needs no models).
struct Devices: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "devices",
        abstract: "List V4L2 cameras (/dev/video*) with their formats, sizes and frame rates.",
        discussion: "With --probe DEVICE, capture frames from one device and print one JSON line per frame.")

    @Flag(help: "One JSON object per device, one per line.")
    var json = false

    @Option(help: ArgumentHelp("Capture from this device instead of listing.", valueName: "DEVICE"))
    var probe: String?

    @Option(help: "With --probe: frames to capture.")
    var frames = 20

    @Option(help: "With --probe: pixel format (or its fourcc).")
    var format: PixelFormat = .yuyv

    @Option(help: ArgumentHelp("With --probe: frame size.", valueName: "WxH"))
    var size = "640x480"

    @Option(help: "With --probe: frames per second (default: the fastest offered).")
    var fps: Double?

    @Option(help: "With --probe: reopen attempts after a disconnect (0: fail at once).")
    var reconnect = 0

    @Option(help: "With --probe: milliseconds to wait for a frame before calling the camera stalled.")
    var timeoutMs = 3000

    func run() throws {
        if let probe { return try runProbe(probe) }
        let devices = V4L2Devices.list()
        if json {
            for device in devices { print(DeviceReport.json(device).text) }
            if devices.isEmpty { FileHandle.standardError.write(Data("no V4L2 devices (/dev/video* is empty)\n".utf8)) }
            return
        }
        guard !devices.isEmpty else {
            print("No V4L2 devices found (/dev/video* is empty). Is the camera plugged in and its driver loaded?")
            return
        }
        for device in devices { print(DeviceReport.text(device), terminator: "") }
    }

    func runProbe(_ path: String) throws {
        let parts = size.lowercased().split(separator: "x").compactMap { Int($0) }
        guard parts.count == 2, parts[0] > 0, parts[1] > 0 else { throw ValidationError("--size must be WxH, e.g. 640x480") }
        let request = V4L2Source.Request(format: format, width: parts[0], height: parts[1], fps: fps, timeoutMilliseconds: timeoutMs)
        let probe = DeviceProbe(path: path, request: request, frames: frames, reconnect: reconnect)
        do {
            try probe.run(emit: { print($0.text); fflush(stdout) },
                          log: { FileHandle.standardError.write(Data(($0 + "\n").utf8)) })
        } catch let error as ProbeError { throw CommandError(error.description) }
    }
}
