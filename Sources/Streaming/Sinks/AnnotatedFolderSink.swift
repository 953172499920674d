// Every processed frame, with boxes and labels drawn, as frame-NNNNNN.jpg in a folder.
// Encoding and writing happen on the loop thread (the feature is for inspection, not for
// live use); a write failure is reported once and the run goes on.
#if canImport(Glibc)
import Glibc
#endif
import FrameCapture
import Imaging

public final class AnnotatedFolderSink: FrameSink {
    public let folder: String
    private let note: (String) -> Void
    private let writer = JPEGWriter()
    private var image = RGBImage(width: 1, height: 1)
    private var failed = false

    /// `note` reports the first failure (e.g. to stderr).
    public init(folder: String, note: @escaping (String) -> Void) {
        self.folder = folder
        self.note = note
    }

    public var wantsImage: Bool { true }

    public func consume(_ frame: ProcessedFrame, telemetry: TelemetrySnapshot) -> SinkAction {
        guard let source = frame.image else { return .proceed }
        // Drawn on our own buffer (copied into, not shared), so the loop's image stays as it is.
        if image.width != source.width || image.height != source.height { image = RGBImage(width: source.width, height: source.height) }
        image.pixels.withUnsafeMutableBufferPointer { out in
            source.pixels.withUnsafeBufferPointer { out.baseAddress!.update(from: $0.baseAddress!, count: $0.count) }
        }
        Annotator.draw(frame.faces, on: &image)
        let path = "\(folder)/frame-\(zeroPadded(frame.index, 6)).jpg"
        var written = false
        if let bytes = try? writer.encode(image), let file = fopen(path, "wb") {
            written = bytes.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, file) == $0.count }
            written = fclose(file) == 0 && written
        }
        if !written && !failed {
            failed = true
            note("facecam: cannot write \(path); annotated frames are not being saved")
        }
        return .proceed
    }
}

func zeroPadded(_ value: Int, _ digits: Int) -> String {
    let text = String(value)
    return text.count >= digits ? text : String(repeating: "0", count: digits - text.count) + text
}
