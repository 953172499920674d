import ArgumentParser
import Foundation
import Imaging
import Streaming
import FrameCapture

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
            for device in devices { print(Devices.json(device).text) }
            if devices.isEmpty { FileHandle.standardError.write(Data("no V4L2 devices (/dev/video* is empty)\n".utf8)) }
            return
        }
        guard !devices.isEmpty else {
            print("No V4L2 devices found (/dev/video* is empty). Is the camera plugged in and its driver loaded?")
            return
        }
        for device in devices { print(Devices.text(device), terminator: "") }
    }

    // MARK: listing

    static func rateText(_ rates: V4L2Rates) -> String {
        func fmt(_ v: Double) -> String { v == v.rounded() ? String(Int(v)) : String(format: "%.2f", v) }
        switch rates {
        case .discrete(let list): return list.map(\.fps).sorted(by: >).map(fmt).joined(separator: ",") + " fps"
        case .stepwise(let fastest, let slowest, _): return "\(fmt(slowest.fps))-\(fmt(fastest.fps)) fps"
        case .unknown: return "rate not enumerated"
        }
    }

    static func text(_ device: V4L2Devices.DeviceInfo) -> String {
        if let error = device.error { return "\(device.path): \(error)\n" }
        var out = "\(device.path): \(device.card) (driver \(device.driver), bus \(device.bus))"
        guard device.isCapture else { return out + " - not a video capture device\n" }
        out += " - video capture\n"
        let native = device.formats.filter { !$0.emulated }
        for format in native where format.pixelFormat != nil {
            out += "  \(fourccString(format.fourcc)) \(format.description)\n"
            if let range = format.sizeRange {
                out += "    \(range.minWidth)x\(range.minHeight) to \(range.maxWidth)x\(range.maxHeight)"
                    + " (step \(range.stepWidth)x\(range.stepHeight))\n"
            }
            for size in format.sizes { out += "    \(size.width)x\(size.height): \(rateText(size.rates))\n" }
        }
        let unread = native.filter { $0.pixelFormat == nil }.map { fourccString($0.fourcc) }
        if !unread.isEmpty { out += "  also offers (facecam does not read them): \(unread.joined(separator: " "))\n" }
        let emulated = device.formats.count - native.count
        if emulated > 0 { out += "  (+\(emulated) formats converted in software by libv4l2)\n" }
        return out
    }

    static func json(_ device: V4L2Devices.DeviceInfo) -> JSON {
        var pairs: [(String, JSON)] = [("path", .string(device.path))]
        if let error = device.error {
            pairs.append(("error", .string(error)))
            return .object(pairs)
        }
        pairs += [("card", .string(device.card)), ("driver", .string(device.driver)), ("bus", .string(device.bus)),
                  ("capture", .bool(device.isCapture)),
                  ("capabilities", .string("0x" + String(device.capabilities, radix: 16)))]
        let formats: [JSON] = device.formats.map { format in
            var f: [(String, JSON)] = [
                ("fourcc", .string(fourccString(format.fourcc))), ("description", .string(format.description)),
                ("emulated", .bool(format.emulated)), ("compressed", .bool(format.compressed)),
                ("supported", .bool(format.pixelFormat != nil)),
            ]
            if let r = format.sizeRange {
                f.append(("size_range", .object([
                    ("min", .array([.integer(r.minWidth), .integer(r.minHeight)])),
                    ("max", .array([.integer(r.maxWidth), .integer(r.maxHeight)])),
                    ("step", .array([.integer(r.stepWidth), .integer(r.stepHeight)]))])))
            }
            f.append(("sizes", .array(format.sizes.map { size in
                .object([("width", .integer(size.width)), ("height", .integer(size.height)),
                         ("fps", .array(size.rates.listedFPS.map { .number(($0 * 1000).rounded() / 1000) }))])
            })))
            return .object(f)
        }
        pairs.append(("formats", .array(formats)))
        return .object(pairs)
    }

    // MARK: probe

    func runProbe(_ path: String) throws {
        let pixelFormat = format
        let parts = size.lowercased().split(separator: "x").compactMap { Int($0) }
        guard parts.count == 2, parts[0] > 0, parts[1] > 0 else { throw ValidationError("--size must be WxH, e.g. 640x480") }
        let request = V4L2Source.Request(format: pixelFormat, width: parts[0], height: parts[1], fps: fps,
                                         timeoutMilliseconds: timeoutMs)
        func log(_ line: String) { FileHandle.standardError.write(Data((line + "\n").utf8)) }
        func event(_ name: String, _ message: String) {
            print(JSON.object([("event", .string(name)), ("message", .string(message))]).text)
            fflush(stdout)
        }

        var source: V4L2Source
        do { source = try V4L2Source(path: path, request: request) } catch let error as CaptureError {
            throw CommandError(error.message)
        }
        log("probe: \(source.name)")
        var captured = 0, corrupt = 0, reconnects = 0, attemptsLeft = reconnect, dropped = 0
        while captured < frames {
            do {
                guard let frame = try source.nextFrame() else { break }
                captured += 1
                attemptsLeft = reconnect
                print(JSON.object([
                    ("frame", .integer(captured - 1)), ("sequence", .integer(frame.sequence)),
                    ("timestamp_ns", .integer(Int(frame.timestampNs))), ("format", .string(frame.format.rawValue)),
                    ("width", .integer(frame.width)), ("height", .integer(frame.height)),
                    ("bytes", .integer(frame.bytes.count)), ("mean_luma", .number(Devices.meanLuma(frame))),
                    ("dropped", .integer(dropped + source.droppedFrames)),
                ]).text)
                fflush(stdout)
            } catch let error as CaptureError where error.recoverable {
                corrupt += 1
                event("corrupt_frame", error.message)
            } catch let error as CaptureError where error.kind == .disconnected {
                dropped += source.droppedFrames
                source.close()
                event("disconnected", error.message)
                var reopened: V4L2Source?
                var lastMessage = error.message
                while reopened == nil && attemptsLeft > 0 {
                    attemptsLeft -= 1
                    let delay = 0.2 * pow(2, Double(reconnect - attemptsLeft - 1))
                    Thread.sleep(forTimeInterval: min(delay, 5))
                    do { reopened = try V4L2Source(path: path, request: request) } catch let e as CaptureError {
                        lastMessage = e.message
                        event("reconnect_failed", e.message)
                    }
                }
                guard let reopened else {
                    log("probe: \(captured) frames, \(corrupt) corrupt, \(reconnects) reconnects")
                    throw CommandError(reconnect == 0
                        ? "\(path): camera lost: \(error.message)"
                        : "\(path): camera lost and \(reconnect) reconnect attempt(s) failed: \(lastMessage)")
                }
                reconnects += 1
                source = reopened
                event("reconnected", source.name)
            } catch let error as CaptureError {
                throw CommandError(error.message)
            }
        }
        dropped += source.droppedFrames
        log("probe: \(captured) frames, \(dropped) dropped, \(corrupt) corrupt, \(reconnects) reconnects from \(source.name)")
        source.close()
    }

    /// Average luma over a sparse grid (a cheap "is there a picture" check).
    static func meanLuma(_ frame: Frame) -> Double {
        let step: Int, bytesPerPixel: Int
        switch frame.format {
        case .yuyv: (step, bytesPerPixel) = (8, 2)
        case .grey, .nv12, .i420: (step, bytesPerPixel) = (8, 1)
        case .rgb24: (step, bytesPerPixel) = (8, 3)
        case .mjpeg: return -1
        }
        var sum = 0, count = 0
        for y in stride(from: 0, to: frame.height, by: step) {
            let row = y * frame.bytesPerLine
            for x in stride(from: 0, to: frame.width, by: step) {
                let i = row + x * bytesPerPixel
                guard i < frame.bytes.count else { break }
                sum += Int(frame.bytes[i]); count += 1
            }
        }
        return count == 0 ? 0 : (Double(sum) / Double(count) * 10).rounded() / 10
    }
}
