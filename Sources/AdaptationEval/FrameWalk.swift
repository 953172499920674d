import FrameCapture
import Imaging

/// Calls `body` with every frame of a file source as a pixel view (JPEG decoded to RGB) and
/// the frame's index; corrupt frames are skipped but keep their index.
public func forEachFrame(_ path: String, fps: Double = 10, _ body: (PixelView, Int) throws -> Void) throws {
    let source: FrameSource
    do { source = try FileSources.open(path, fps: fps) } catch let error as CaptureError { throw EvaluationError(error.message) }
    defer { source.close() }
    let converter = FrameConverter()
    var image = RGBImage(width: 1, height: 1)
    var index = 0
    while true {
        let frame: Frame
        do {
            guard let next = try source.nextFrame() else { break }
            frame = next
        } catch let error as CaptureError where error.kind == .corruptFrame { index += 1; continue }
        catch let error as CaptureError { throw EvaluationError(error.message) }
        if let view = frame.pixelView {
            try body(view, index)
        } else {
            do { try converter.convert(frame, into: &image) } catch { index += 1; continue }
            try image.pixels.withUnsafeBufferPointer { p in
                try body(.rgb(p.baseAddress!, width: image.width, height: image.height, stride: image.width * 3), index)
            }
        }
        index += 1
    }
}
