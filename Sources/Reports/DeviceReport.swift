// `facecam devices`: what each V4L2 device offers, and a capture probe of one device.
#if canImport(Glibc)
import Glibc
#endif
import FrameCapture
import Streaming

public enum DeviceReport {
    public static func rateText(_ rates: V4L2Rates) -> String {
        func fmt(_ v: Double) -> String { v == v.rounded() ? String(Int(v)) : formatted("%.2f", v) }
        switch rates {
        case .discrete(let list): return list.map(\.fps).sorted(by: >).map(fmt).joined(separator: ",") + " fps"
        case .stepwise(let fastest, let slowest, _): return "\(fmt(slowest.fps))-\(fmt(fastest.fps)) fps"
        case .unknown: return "rate not enumerated"
        }
    }

    /// The device's lines, each ending in a newline: formats facecam reads with their sizes
    /// and rates, then what it offers but facecam does not read.
    public static func text(_ device: V4L2Devices.DeviceInfo) -> String {
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

    public static func json(_ device: V4L2Devices.DeviceInfo) -> JSON {
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

    /// Average luma over a sparse grid (a cheap "is there a picture" check); -1 for MJPEG.
    public static func meanLuma(_ frame: Frame) -> Double {
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

/// `devices --probe`: captures frames from one device with V4L2Source, reopening it after a
/// disconnect up to `reconnect` times with doubling waits (0.2 s, 0.4 s, ... at most 5 s).
public struct DeviceProbe {
    public var path: String
    public var request: V4L2Source.Request
    public var frames: Int
    public var reconnect: Int

    public init(path: String, request: V4L2Source.Request, frames: Int, reconnect: Int) {
        (self.path, self.request, self.frames, self.reconnect) = (path, request, frames, reconnect)
    }

    /// `emit` gets one JSON object per frame and per event (corrupt_frame, disconnected,
    /// reconnect_failed, reconnected); `log` the opening and closing status lines. Throws a
    /// CaptureError's message as a ProbeError when the device cannot be opened or is lost.
    public func run(emit: (JSON) -> Void, log: (String) -> Void) throws {
        func event(_ name: String, _ message: String) {
            emit(.object([("event", .string(name)), ("message", .string(message))]))
        }
        var source: V4L2Source
        do { source = try V4L2Source(path: path, request: request) } catch let error as CaptureError {
            throw ProbeError(description: error.message)
        }
        log("probe: \(source.name)")
        var captured = 0, corrupt = 0, reconnects = 0, attemptsLeft = reconnect, dropped = 0
        while captured < frames {
            do {
                guard let frame = try source.nextFrame() else { break }
                captured += 1
                attemptsLeft = reconnect
                emit(.object([
                    ("frame", .integer(captured - 1)), ("sequence", .integer(frame.sequence)),
                    ("timestamp_ns", .integer(Int(frame.timestampNs))), ("format", .string(frame.format.rawValue)),
                    ("width", .integer(frame.width)), ("height", .integer(frame.height)),
                    ("bytes", .integer(frame.bytes.count)), ("mean_luma", .number(DeviceReport.meanLuma(frame))),
                    ("dropped", .integer(dropped + source.droppedFrames)),
                ]))
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
                    let delay = min(0.2 * pow(2, Double(reconnect - attemptsLeft - 1)), 5)
                    usleep(useconds_t(delay * 1e6))
                    do { reopened = try V4L2Source(path: path, request: request) } catch let e as CaptureError {
                        lastMessage = e.message
                        event("reconnect_failed", e.message)
                    }
                }
                guard let reopened else {
                    log("probe: \(captured) frames, \(corrupt) corrupt, \(reconnects) reconnects")
                    throw ProbeError(description: reconnect == 0
                        ? "\(path): camera lost: \(error.message)"
                        : "\(path): camera lost and \(reconnect) reconnect attempt(s) failed: \(lastMessage)")
                }
                reconnects += 1
                source = reopened
                event("reconnected", source.name)
            } catch let error as CaptureError {
                throw ProbeError(description: error.message)
            }
        }
        dropped += source.droppedFrames
        log("probe: \(captured) frames, \(dropped) dropped, \(corrupt) corrupt, \(reconnects) reconnects from \(source.name)")
        source.close()
    }
}

public struct ProbeError: Error, CustomStringConvertible {
    public let description: String
}
