// What the frame loop hands to its outputs. Sinks run on the loop thread, one after another,
// for every processed frame: a sink that does slow work (network, disk, encoding for a
// viewer) must hand it to its own thread through a LatestSlot (newest wins: previews) or a
// DropOldestQueue (every recent message: MQTT) and return at once. A sink that blocks slows
// the camera loop and makes a live camera drop frames.
import FacePipeline
import FrameCapture
import Imaging

/// Milliseconds spent per stage of one frame. `decode` is JPEG decoding, `convert` a raw
/// camera frame's conversion to RGB (0 unless a sink asked for the image); detect/verify/
/// classify are the pipeline's models; `total` is capture to results.
public struct StageLatency: Sendable, Equatable {
    public var capture = 0.0, decode = 0.0, convert = 0.0, detect = 0.0, verify = 0.0, classify = 0.0, total = 0.0
    public init() {}

    public static let names = ["capture", "decode", "convert", "detect", "verify", "classify", "total"]

    /// A stage by its index in `names`.
    public subscript(stage: Int) -> Double {
        switch stage {
        case 0: return capture
        case 1: return decode
        case 2: return convert
        case 3: return detect
        case 4: return verify
        case 5: return classify
        default: return total
        }
    }

    mutating func add(_ other: StageLatency) {
        capture += other.capture; decode += other.decode; convert += other.convert; detect += other.detect
        verify += other.verify; classify += other.classify; total += other.total
    }
}

/// One processed frame. Borrowed: `frame.bytes`, `view` and the storage of `image` belong to
/// the loop and are valid only during `FrameSink.consume`; copy what you keep (holding on to
/// `image` is safe but makes the loop copy it for the next frame).
public struct ProcessedFrame {
    /// 0-based count of processed frames in this run (the JSON Lines `frame` field).
    public let index: Int
    /// The captured frame in its own format (`sequence`, `timestampNs`, `format`).
    public let frame: Frame
    /// Size of the image the models read.
    public let width: Int
    public let height: Int
    public let faces: [Face]
    public let latency: StageLatency
    /// Frames the camera dropped so far in this run (across reconnects).
    public let dropped: Int
    /// The frame's raw pixels, for formats the models read in place (nil for JPEG).
    public let view: PixelView?
    /// The frame as RGB: always for JPEG sources; for raw camera formats only when some sink's
    /// `wantsImage` was true for this frame.
    public let image: RGBImage?

    public init(index: Int, frame: Frame, width: Int, height: Int, faces: [Face], latency: StageLatency, dropped: Int,
                view: PixelView?, image: RGBImage?) {
        self.index = index; self.frame = frame; self.width = width; self.height = height; self.faces = faces
        self.latency = latency; self.dropped = dropped; self.view = view; self.image = image
    }
}

/// Facts about the stream that do not change from frame to frame.
public struct StreamInfo: Sendable {
    public var sourceName: String
    public var isLive: Bool
    /// Adapting heads ("verifier", "expression"), empty without adaptation.
    public var adaptingHeads: [String]
    public init(sourceName: String, isLive: Bool, adaptingHeads: [String]) {
        self.sourceName = sourceName; self.isLive = isLive; self.adaptingHeads = adaptingHeads
    }
}

public enum SinkAction: Sendable {
    case proceed
    /// End the run cleanly (e.g. stdout was closed).
    case stop
}

public protocol FrameSink: AnyObject {
    /// Asked before each frame. True makes the loop also produce `ProcessedFrame.image` for raw
    /// camera frames (a conversion per frame): return true only while someone needs pixels.
    var wantsImage: Bool { get }
    /// Once, before the first frame. A thrown error ends the run before it starts.
    func start(_ info: StreamInfo) throws
    /// Every processed frame, on the loop thread. Must not block (see the file comment).
    func consume(_ frame: ProcessedFrame, telemetry: TelemetrySnapshot) -> SinkAction
    /// Once, after the last frame, also after errors. A thrown error is reported and makes
    /// the run fail (exit status 1).
    func finish(_ telemetry: TelemetrySnapshot) throws
}

extension FrameSink {
    public var wantsImage: Bool { false }
    public func start(_ info: StreamInfo) throws {}
    public func finish(_ telemetry: TelemetrySnapshot) throws {}
}
