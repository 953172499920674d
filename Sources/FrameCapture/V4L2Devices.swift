// Enumerating V4L2 devices (/dev/video*) and what each capture device offers, plus the small
// ioctl helpers V4L2Source shares.
#if canImport(Glibc)
import Glibc
#endif
import CV4L2

/// ioctl and C-struct helpers for V4L2 (libv4l2 underneath).
enum V4L2IO {
    /// One ioctl, retried on EINTR by the shim. Returns 0 on success, else errno.
    @inline(__always)
    static func call<T>(_ fd: Int32, _ request: UInt, _ argument: inout T) -> Int32 {
        let result = withUnsafeMutablePointer(to: &argument) { facecam_v4l2_ioctl(fd, request, $0) }
        return result == 0 ? 0 : errno
    }

    /// A NUL-terminated C string stored in a fixed-size char array (imported as a tuple).
    static func string<T>(_ tuple: T) -> String {
        withUnsafeBytes(of: tuple) { raw in
            let end = raw.firstIndex(of: 0) ?? raw.count
            return String(decoding: raw[..<end], as: UTF8.self)
        }
    }

    static func errorText(_ code: Int32) -> String { String(cString: strerror(code)) }

    /// The capabilities that apply to this node: device_caps when the driver reports them.
    static func nodeCapabilities(_ cap: v4l2_capability) -> UInt32 {
        cap.capabilities & FACECAM_CAP_DEVICE_CAPS != 0 ? cap.device_caps : cap.capabilities
    }

    static func isCapture(_ caps: UInt32) -> Bool { caps & FACECAM_CAP_VIDEO_CAPTURE != 0 }

    /// Every capture format, with its frame sizes and the frame rates at each size.
    static func enumerateFormats(_ fd: Int32) -> [V4L2FormatInfo] {
        var formats: [V4L2FormatInfo] = []
        var index: UInt32 = 0
        while index < 256 {
            var desc = v4l2_fmtdesc()
            desc.index = index
            desc.type = FACECAM_BUF_TYPE_VIDEO_CAPTURE
            guard call(fd, FACECAM_VIDIOC_ENUM_FMT, &desc) == 0 else { break }
            index += 1
            var info = V4L2FormatInfo(fourcc: desc.pixelformat, description: string(desc.description),
                                      emulated: desc.flags & FACECAM_FMT_FLAG_EMULATED != 0,
                                      compressed: desc.flags & FACECAM_FMT_FLAG_COMPRESSED != 0)
            enumerateSizes(fd, &info)
            formats.append(info)
        }
        return formats
    }

    static func enumerateSizes(_ fd: Int32, _ info: inout V4L2FormatInfo) {
        var index: UInt32 = 0
        while index < 1024 {
            var size = v4l2_frmsizeenum()
            size.index = index
            size.pixel_format = info.fourcc
            guard call(fd, FACECAM_VIDIOC_ENUM_FRAMESIZES, &size) == 0 else { return }
            index += 1
            if size.type == FACECAM_FRMSIZE_TYPE_DISCRETE {
                let w = Int(size.discrete.width), h = Int(size.discrete.height)
                info.sizes.append(V4L2Size(width: w, height: h, rates: enumerateRates(fd, info.fourcc, w, h)))
            } else {
                let s = size.stepwise
                info.sizeRange = V4L2SizeRange(
                    minWidth: Int(s.min_width), maxWidth: Int(s.max_width), stepWidth: Int(s.step_width),
                    minHeight: Int(s.min_height), maxHeight: Int(s.max_height), stepHeight: Int(s.step_height))
                return  // a range is the only entry
            }
        }
    }

    static func enumerateRates(_ fd: Int32, _ fourcc: UInt32, _ width: Int, _ height: Int) -> V4L2Rates {
        var list: [V4L2Interval] = []
        var index: UInt32 = 0
        while index < 256 {
            var ival = v4l2_frmivalenum()
            ival.index = index
            ival.pixel_format = fourcc
            ival.width = UInt32(width)
            ival.height = UInt32(height)
            guard call(fd, FACECAM_VIDIOC_ENUM_FRAMEINTERVALS, &ival) == 0 else { break }
            index += 1
            if ival.type == FACECAM_FRMIVAL_TYPE_DISCRETE {
                list.append(V4L2Interval(ival.discrete.numerator, ival.discrete.denominator))
            } else {
                let s = ival.stepwise
                return .stepwise(min: V4L2Interval(s.min.numerator, s.min.denominator),
                                 max: V4L2Interval(s.max.numerator, s.max.denominator),
                                 step: V4L2Interval(s.step.numerator, s.step.denominator))
            }
        }
        return list.isEmpty ? .unknown : .discrete(list)
    }
}

public enum V4L2Devices {
    /// One /dev/video* node.
    public struct DeviceInfo: Sendable {
        public var path: String
        public var card: String
        public var driver: String
        public var bus: String
        /// The node's capabilities (device_caps when reported), V4L2_CAP_* bits.
        public var capabilities: UInt32
        /// Single-planar video capture (what facecam captures from).
        public var isCapture: Bool
        /// Capture formats, with sizes and rates (empty for other nodes).
        public var formats: [V4L2FormatInfo]
        /// Why the node could not be opened or queried, if so.
        public var error: String?

        public init(path: String, card: String = "", driver: String = "", bus: String = "",
                    capabilities: UInt32 = 0, isCapture: Bool = false, formats: [V4L2FormatInfo] = [],
                    error: String? = nil) {
            self.path = path; self.card = card; self.driver = driver; self.bus = bus
            self.capabilities = capabilities; self.isCapture = isCapture; self.formats = formats
            self.error = error
        }

        /// "/dev/video0 (vivid: Webcam, capture)".
        public var summary: String {
            if let error { return "\(path) (\(error))" }
            let kind = isCapture ? "capture" : "not capture"
            return "\(path) (\(card.isEmpty ? "?" : card), \(driver), \(kind))"
        }
    }

    /// The video device nodes in `directory`, in numeric order (video0, video1, ..., video10).
    public static func nodePaths(in directory: String = "/dev") -> [String] {
        guard let dir = opendir(directory) else { return [] }
        defer { closedir(dir) }
        var numbered: [(Int, String)] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw -> String in
                String(decoding: raw[..<(raw.firstIndex(of: 0) ?? raw.count)], as: UTF8.self)
            }
            guard name.hasPrefix("video"), let number = Int(name.dropFirst(5)), number >= 0 else { continue }
            numbered.append((number, directory + "/" + name))
        }
        return numbered.sorted { $0.0 < $1.0 }.map(\.1)
    }

    /// Describes one node; never throws (problems go into `error`).
    public static func describe(_ path: String, formats wanted: Bool = true) -> DeviceInfo {
        let fd = facecam_v4l2_open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else {
            let code = errno  // libv4l2's open fails with ENOTTY when QUERYCAP does
            return DeviceInfo(path: path, error: code == ENOTTY ? "not a V4L2 device" : V4L2IO.errorText(code))
        }
        defer { _ = facecam_v4l2_close(fd) }
        var cap = v4l2_capability()
        let status = V4L2IO.call(fd, FACECAM_VIDIOC_QUERYCAP, &cap)
        guard status == 0 else {
            return DeviceInfo(path: path, error: "not a V4L2 device: \(V4L2IO.errorText(status))")
        }
        let caps = V4L2IO.nodeCapabilities(cap)
        var info = DeviceInfo(path: path, card: V4L2IO.string(cap.card), driver: V4L2IO.string(cap.driver),
                              bus: V4L2IO.string(cap.bus_info), capabilities: caps,
                              isCapture: V4L2IO.isCapture(caps))
        if info.isCapture && wanted { info.formats = V4L2IO.enumerateFormats(fd) }
        return info
    }

    /// Every /dev/video* node with its card, driver, bus and (for capture nodes) formats.
    public static func list(in directory: String = "/dev", formats: Bool = true) -> [DeviceInfo] {
        nodePaths(in: directory).map { describe($0, formats: formats) }
    }

    /// The message for a device path that does not exist: names the devices that do.
    public static func missingDeviceMessage(_ path: String, devices: [DeviceInfo]) -> String {
        if devices.isEmpty { return "\(path): no such device, and no V4L2 devices exist (/dev/video* is empty)" }
        let capture = devices.filter(\.isCapture)
        let listed = devices.map(\.summary).joined(separator: ", ")
        let hint = capture.isEmpty ? "; none of them captures video" : ""
        return "\(path): no such device; V4L2 devices: \(listed)\(hint)"
    }
}
