// Which source a run reads: a V4L2 camera (/dev/...) or a file, image or folder.
import FrameCapture

public struct SourceSpec: Sendable {
    public var path: String
    /// Camera settings (files carry their own); fps also times files without timing.
    public var format: PixelFormat = .yuyv
    public var width = 640, height = 480
    public var fps: Double?

    public init(path: String) { self.path = path }

    public var isCamera: Bool { path.hasPrefix("/dev/") }

    /// Opens (or reopens) the source; throws CaptureError.
    public func open() throws -> FrameSource {
        if isCamera {
            return try V4L2Source(path: path, format: format, width: width, height: height, fps: fps ?? 30)
        }
        return try FileSources.open(path, fps: fps ?? 25)
    }
}
