// Live frames from a V4L2 camera through libv4l2: format/size/rate negotiation, mmap streaming,
// newest-frame-wins dequeueing. Nothing is allocated per frame: buffers are mapped once, frames
// point into them, and the returned buffer stays dequeued until the next call.
#if canImport(Glibc)
import Glibc
#endif
import CV4L2

public final class V4L2Source: FrameSource {
    /// What to ask the device for; the closest offered format/size/rate is used.
    public struct Request: Sendable {
        public var format: PixelFormat?
        public var width: Int
        public var height: Int
        /// nil: the fastest rate the device offers at the chosen size.
        public var fps: Double?
        public var bufferCount: Int
        /// How long `nextFrame()` waits for a frame before reporting the device as stalled.
        public var timeoutMilliseconds: Int
        public init(format: PixelFormat? = .yuyv, width: Int = 640, height: Int = 480, fps: Double? = nil,
                    bufferCount: Int = 4, timeoutMilliseconds: Int = 3000) {
            self.format = format; self.width = width; self.height = height; self.fps = fps
            self.bufferCount = bufferCount; self.timeoutMilliseconds = timeoutMilliseconds
        }
    }

    public let path: String
    public private(set) var name: String
    public var isLive: Bool { true }
    /// What was negotiated.
    public let format: PixelFormat
    public let width: Int
    public let height: Int
    public let bytesPerLine: Int
    /// Frames per second the driver accepted (nil if it does not report a rate).
    public let fps: Double?
    public let card: String
    public let driver: String

    /// Frames never returned: older ready buffers skipped for a newer one, plus gaps in the
    /// driver's sequence numbers (frames the driver dropped).
    public private(set) var droppedFrames: Int = 0
    /// Buffers the driver marked V4L2_BUF_FLAG_ERROR.
    public private(set) var corruptFrames: Int = 0
    /// Frames returned by `nextFrame()`.
    public private(set) var deliveredFrames: Int = 0

    private var fd: Int32
    private let timeout: Int32
    private var mappings: [(start: UnsafeMutableRawPointer, length: Int)] = []
    private var streaming = false
    /// The buffer index handed out by the last `nextFrame()`, re-queued by the next one.
    private var held: Int = -1
    private var firstSequence: UInt32 = 0
    private var lastSequence: UInt32 = 0
    private var sequenceOffset: Int = 0     // accumulated across 32-bit wraps
    private var seenAny = false

    /// Opens `path` (e.g. "/dev/video0"), negotiates the request and starts streaming.
    public init(path: String, request: Request = Request()) throws {
        let device = try V4L2Source.start(path: path, request: request)
        self.path = path
        self.timeout = Int32(clamping: max(1, request.timeoutMilliseconds))
        fd = device.fd
        mappings = device.mappings
        streaming = true
        card = device.card
        driver = device.driver
        format = device.format
        width = device.width
        height = device.height
        bytesPerLine = device.bytesPerLine
        fps = device.fps
        let rateText = fps.map { r in r == r.rounded() ? " @\(Int(r))" : " @\((r * 100).rounded() / 100)" } ?? ""
        name = "\(path) \(format.rawValue) \(width)x\(height)\(rateText) (\(card))"
    }

    /// An open, streaming device before it is wrapped in the class.
    private struct Started {
        var fd: Int32
        var mappings: [(start: UnsafeMutableRawPointer, length: Int)]
        var card: String, driver: String
        var format: PixelFormat, width: Int, height: Int, bytesPerLine: Int
        var fps: Double?
    }

    private static func start(path: String, request: Request) throws -> Started {
        var info = stat()
        if stat(path, &info) != 0 {
            let code = errno
            if code == ENOENT || code == ENOTDIR {
                throw CaptureError(.notFound, V4L2Devices.missingDeviceMessage(path, devices: V4L2Devices.list(formats: false)))
            }
            throw CaptureError(.io, "\(path): \(V4L2IO.errorText(code))")
        }
        guard (info.st_mode & S_IFMT) == S_IFCHR else {
            throw CaptureError(.unsupported, "\(path) is not a device node")
        }
        let fd = facecam_v4l2_open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else {
            let code = errno
            switch code {
            case ENOENT, ENODEV, ENXIO:
                throw CaptureError(.notFound, "\(path): \(V4L2IO.errorText(code)) (device gone?)")
            case EBUSY:
                throw CaptureError(.io, "\(path) is busy (another program is using the camera)")
            case ENOTTY, EINVAL:  // libv4l2's open fails this way when QUERYCAP does
                throw CaptureError(.unsupported, "\(path) is not a V4L2 device")
            case EACCES, EPERM:
                throw CaptureError(.io, "\(path): permission denied (add the user to the 'video' group)")
            default:
                throw CaptureError(.io, "\(path): cannot open: \(V4L2IO.errorText(code))")
            }
        }
        // From here on, failures must release the descriptor and any mappings.
        var mappings: [(start: UnsafeMutableRawPointer, length: Int)] = []
        var streaming = false
        var ok = false
        defer { if !ok { release(fd: fd, mappings: mappings, streaming: streaming) } }

        var cap = v4l2_capability()
        let status = V4L2IO.call(fd, FACECAM_VIDIOC_QUERYCAP, &cap)
        guard status == 0 else {
            throw CaptureError(.unsupported, "\(path) is not a V4L2 device: \(V4L2IO.errorText(status))")
        }
        let card = V4L2IO.string(cap.card)
        let driver = V4L2IO.string(cap.driver)
        let caps = V4L2IO.nodeCapabilities(cap)
        guard V4L2IO.isCapture(caps) else {
            let mplane = caps & FACECAM_CAP_VIDEO_CAPTURE_MPLANE != 0
            let others = V4L2Devices.list(formats: false).filter { $0.isCapture && $0.path != path }
            let hint = others.isEmpty ? "" : "; capture devices: " + others.map(\.summary).joined(separator: ", ")
            throw CaptureError(.unsupported, "\(path) (\(card), \(driver)) " +
                               (mplane ? "only does multi-planar capture, which facecam does not support"
                                       : "is not a video capture device") + hint)
        }
        guard caps & FACECAM_CAP_STREAMING != 0 else {
            throw CaptureError(.unsupported, "\(path) (\(card)) does not support streaming I/O")
        }

        // Negotiate format, size and rate.
        let offered = V4L2IO.enumerateFormats(fd)
        guard let choice = V4L2Negotiation.choose(from: offered, format: request.format, width: request.width,
                                                  height: request.height, fps: request.fps) else {
            let names = offered.map { fourccString($0.fourcc) }.joined(separator: ", ")
            throw CaptureError(.unsupported, "\(path) (\(card)) offers no format facecam reads (offers: " +
                               (names.isEmpty ? "none" : names) + "; facecam reads YUYV, MJPG, NV12, YU12, GREY, RGB3)")
        }
        var fmt = v4l2_format()
        fmt.type = FACECAM_BUF_TYPE_VIDEO_CAPTURE
        fmt.fmt.pix.width = UInt32(choice.width)
        fmt.fmt.pix.height = UInt32(choice.height)
        fmt.fmt.pix.pixelformat = choice.fourcc
        fmt.fmt.pix.field = FACECAM_FIELD_ANY
        var code = V4L2IO.call(fd, FACECAM_VIDIOC_S_FMT, &fmt)
        if code != 0 {
            throw error(code, "\(path): setting \(fourccString(choice.fourcc)) \(choice.width)x\(choice.height)")
        }
        guard let format = PixelFormat(fourcc: fmt.fmt.pix.pixelformat) else {
            throw CaptureError(.unsupported, "\(path) switched to \(fourccString(fmt.fmt.pix.pixelformat)), which facecam does not read")
        }
        let width = Int(fmt.fmt.pix.width), height = Int(fmt.fmt.pix.height)
        guard width > 0, height > 0 else { throw CaptureError(.unsupported, "\(path) reported an empty frame size") }
        let minimumLine = format == .yuyv ? width * 2 : format == .rgb24 ? width * 3 : format == .mjpeg ? 0 : width
        let bytesPerLine = max(Int(fmt.fmt.pix.bytesperline), minimumLine)

        // Frame rate: only when the driver supports it; read back what it took.
        var parm = v4l2_streamparm()
        parm.type = FACECAM_BUF_TYPE_VIDEO_CAPTURE
        var fps: Double?
        if V4L2IO.call(fd, FACECAM_VIDIOC_G_PARM, &parm) == 0,
           parm.parm.capture.capability & FACECAM_CAP_TIMEPERFRAME != 0 {
            if let interval = choice.interval, interval.numerator > 0, interval.denominator > 0 {
                parm.parm.capture.timeperframe.numerator = interval.numerator
                parm.parm.capture.timeperframe.denominator = interval.denominator
                _ = V4L2IO.call(fd, FACECAM_VIDIOC_S_PARM, &parm)
            }
            let tpf = parm.parm.capture.timeperframe
            let got = V4L2Interval(tpf.numerator, tpf.denominator).fps
            fps = got > 0 ? got : nil
        }

        // Buffers: request, map, queue, start.
        var req = v4l2_requestbuffers()
        req.count = UInt32(min(max(request.bufferCount, 2), 32))
        req.type = FACECAM_BUF_TYPE_VIDEO_CAPTURE
        req.memory = FACECAM_MEMORY_MMAP
        code = V4L2IO.call(fd, FACECAM_VIDIOC_REQBUFS, &req)
        if code != 0 { throw error(code, "\(path): requesting buffers") }
        guard req.count >= 2 else {
            throw CaptureError(.io, "\(path): the driver gave \(req.count) buffer(s); streaming needs at least 2")
        }
        mappings.reserveCapacity(Int(req.count))
        for index in 0..<req.count {
            var buf = v4l2_buffer()
            buf.index = index
            buf.type = FACECAM_BUF_TYPE_VIDEO_CAPTURE
            buf.memory = FACECAM_MEMORY_MMAP
            code = V4L2IO.call(fd, FACECAM_VIDIOC_QUERYBUF, &buf)
            if code != 0 { throw error(code, "\(path): querying buffer \(index)") }
            let length = Int(buf.length)
            guard let start = facecam_mmap(length, fd, Int64(buf.m.offset)), start != MAP_FAILED else {
                throw error(errno, "\(path): mapping buffer \(index)")
            }
            mappings.append((start, length))
        }
        for index in 0..<mappings.count {
            code = queue(fd, index)
            if code != 0 { throw error(code, "\(path): queueing buffer \(index)") }
        }
        var type = Int32(bitPattern: FACECAM_BUF_TYPE_VIDEO_CAPTURE)
        code = V4L2IO.call(fd, FACECAM_VIDIOC_STREAMON, &type)
        if code != 0 {
            let failure = error(code, "\(path): starting the stream")
            throw failure.kind == .disconnected ? failure : CaptureError(.io, failure.message)
        }
        streaming = true
        ok = true
        return Started(fd: fd, mappings: mappings, card: card, driver: driver, format: format, width: width,
                       height: height, bytesPerLine: bytesPerLine, fps: fps)
    }

    /// Shorthand for the common request.
    public convenience init(path: String, format: PixelFormat?, width: Int, height: Int, fps: Double? = nil) throws {
        try self.init(path: path, request: Request(format: format, width: width, height: height, fps: fps))
    }

    deinit { close() }

    /// Maps an errno to the right kind: a device that vanished or failed is `.disconnected`.
    static func error(_ code: Int32, _ context: String) -> CaptureError {
        switch code {
        case ENODEV, ENXIO, EIO, EPIPE, ESHUTDOWN, ENOENT:
            return CaptureError(.disconnected, "\(context): \(V4L2IO.errorText(code)) (camera disconnected or failed)")
        case EBUSY:
            return CaptureError(.io, "\(context): device busy (another program is using the camera)")
        case EINVAL, ENOTTY:
            return CaptureError(.unsupported, "\(context): \(V4L2IO.errorText(code))")
        default:
            return CaptureError(.io, "\(context): \(V4L2IO.errorText(code))")
        }
    }

    @inline(__always)
    private func queue(_ index: Int) -> Int32 { V4L2Source.queue(fd, index) }

    /// poll() flagged an error: tell an unplugged device (QUERYCAP fails with ENODEV) from a
    /// driver that stopped streaming (vb2's queue error: DQBUF would fail with EIO).
    private func streamFailure() -> CaptureError {
        var cap = v4l2_capability()
        let code = V4L2IO.call(fd, FACECAM_VIDIOC_QUERYCAP, &cap)
        if code != 0 {
            return CaptureError(.disconnected, "\(path): camera disconnected (\(V4L2IO.errorText(code)))")
        }
        return CaptureError(.disconnected, "\(path): the driver reported a streaming error (camera failed)")
    }

    @inline(__always)
    private static func queue(_ fd: Int32, _ index: Int) -> Int32 {
        var buf = v4l2_buffer()
        buf.index = UInt32(index)
        buf.type = FACECAM_BUF_TYPE_VIDEO_CAPTURE
        buf.memory = FACECAM_MEMORY_MMAP
        return V4L2IO.call(fd, FACECAM_VIDIOC_QBUF, &buf)
    }

    /// Notes a dequeued buffer's sequence number; returns its 0-based position in the stream.
    @inline(__always)
    private func account(sequence: UInt32) -> Int {
        if !seenAny {
            seenAny = true
            firstSequence = sequence
            lastSequence = sequence
            return 0
        }
        let step = sequence &- lastSequence  // wraps correctly across 2^32
        if step == 0 || step > 0x8000_0000 {
            // Repeated or going backwards: a driver quirk (or a restarted counter); don't count.
            lastSequence = sequence
        } else {
            droppedFrames += Int(step) - 1
            if sequence < lastSequence { sequenceOffset += 1 << 32 }
            lastSequence = sequence
        }
        return sequenceOffset + Int(sequence) - Int(firstSequence)
    }

    /// Waits for frames, dequeues every ready buffer and returns only the newest (older ones are
    /// re-queued and counted in `droppedFrames`). The frame's bytes stay valid until the next
    /// call. Throws `.corruptFrame` (recoverable) when the driver flagged a buffer in the batch
    /// as bad, `.disconnected` when the device vanished, failed or stalled.
    public func nextFrame() throws -> Frame? {
        guard fd >= 0, streaming else { throw CaptureError(.io, "\(path): the source is closed") }
        if held >= 0 {
            let index = held
            held = -1
            let code = queue(index)
            if code != 0 { throw V4L2Source.error(code, "\(path): re-queueing a buffer") }
        }
        while true {
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&pfd, 1, timeout)
            if ready < 0 {
                if errno == EINTR { continue }
                throw V4L2Source.error(errno, "\(path): waiting for a frame")
            }
            if ready == 0 {
                throw CaptureError(.disconnected, "\(path): no frame within \(timeout) ms (camera stalled)")
            }
            if pfd.revents & Int16(POLLNVAL) != 0 {
                throw CaptureError(.disconnected, "\(path): the device descriptor became invalid")
            }
            if pfd.revents & Int16(POLLIN) == 0 {
                if pfd.revents & Int16(POLLERR | POLLHUP) != 0 { throw streamFailure() }
                continue  // a wake-up without a frame (e.g. an event): wait again
            }

            // Dequeue everything that is ready; keep the newest good buffer.
            var newest = v4l2_buffer()
            var haveNewest = false
            var newestPosition = 0
            var sawCorrupt = false
            while true {
                var buf = v4l2_buffer()
                buf.type = FACECAM_BUF_TYPE_VIDEO_CAPTURE
                buf.memory = FACECAM_MEMORY_MMAP
                let code = V4L2IO.call(fd, FACECAM_VIDIOC_DQBUF, &buf)
                if code == EAGAIN { break }
                if code != 0 {
                    if haveNewest { _ = queue(Int(newest.index)) }
                    throw V4L2Source.error(code, "\(path): dequeueing a frame")
                }
                let position = account(sequence: buf.sequence)
                if buf.flags & FACECAM_BUF_FLAG_ERROR != 0 {
                    corruptFrames += 1
                    sawCorrupt = true
                    let requeue = queue(Int(buf.index))
                    if requeue != 0 { throw V4L2Source.error(requeue, "\(path): re-queueing a bad buffer") }
                    var more = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                    if poll(&more, 1, 0) <= 0 || more.revents & Int16(POLLIN) == 0 { break }
                    continue
                }
                if haveNewest {
                    droppedFrames += 1
                    let requeue = queue(Int(newest.index))
                    if requeue != 0 { throw V4L2Source.error(requeue, "\(path): re-queueing a stale buffer") }
                }
                newest = buf
                haveNewest = true
                newestPosition = position
                // More ready? (Asking poll, not a DQBUF that fails with EAGAIN: libv4l2 prints
                // every failed DQBUF to stderr.)
                var more = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                if poll(&more, 1, 0) <= 0 || more.revents & Int16(POLLIN) == 0 { break }
            }
            if sawCorrupt {
                // Surface the fault; a newer good frame in the same batch is given up (dropped).
                if haveNewest {
                    droppedFrames += 1
                    let requeue = queue(Int(newest.index))
                    if requeue != 0 { throw V4L2Source.error(requeue, "\(path): re-queueing a buffer") }
                }
                throw CaptureError(.corruptFrame, "\(path): the driver marked a frame as corrupt (V4L2_BUF_FLAG_ERROR)")
            }
            if !haveNewest { continue }

            let index = Int(newest.index)
            guard index < mappings.count else {
                throw CaptureError(.io, "\(path): the driver returned unknown buffer \(index)")
            }
            held = index
            deliveredFrames += 1
            let mapping = mappings[index]
            let used = newest.bytesused > 0 ? min(Int(newest.bytesused), mapping.length) : mapping.length
            let stamp: UInt64
            let timestampKind = newest.flags & FACECAM_BUF_FLAG_TIMESTAMP_MASK
            if timestampKind == FACECAM_BUF_FLAG_TIMESTAMP_MONOTONIC,
               newest.timestamp.tv_sec > 0 || newest.timestamp.tv_usec > 0 {
                stamp = UInt64(newest.timestamp.tv_sec) * 1_000_000_000 + UInt64(newest.timestamp.tv_usec) * 1_000
            } else {
                var now = timespec()
                clock_gettime(CLOCK_MONOTONIC, &now)
                stamp = UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
            }
            return Frame(width: width, height: height, format: format,
                         bytes: UnsafeRawBufferPointer(start: mapping.start, count: used),
                         bytesPerLine: bytesPerLine, sequence: newestPosition, timestampNs: stamp)
        }
    }

    /// Stops streaming, unmaps the buffers and closes the device. Safe to call more than once.
    public func close() {
        guard fd >= 0 else { return }
        V4L2Source.release(fd: fd, mappings: mappings, streaming: streaming)
        fd = -1
        streaming = false
        held = -1
        mappings.removeAll()
    }

    private static func release(fd: Int32, mappings: [(start: UnsafeMutableRawPointer, length: Int)], streaming: Bool) {
        if streaming {
            var type = Int32(bitPattern: FACECAM_BUF_TYPE_VIDEO_CAPTURE)
            _ = V4L2IO.call(fd, FACECAM_VIDIOC_STREAMOFF, &type)  // fails harmlessly after a disconnect
        }
        for mapping in mappings { _ = facecam_munmap(mapping.start, mapping.length) }
        // Free the driver's buffers (count 0) so that a reopen can request new ones at once.
        var req = v4l2_requestbuffers()
        req.type = FACECAM_BUF_TYPE_VIDEO_CAPTURE
        req.memory = FACECAM_MEMORY_MMAP
        _ = V4L2IO.call(fd, FACECAM_VIDIOC_REQBUFS, &req)
        _ = facecam_v4l2_close(fd)
    }
}
