// One JSON object per processed frame on stdout (README "Output").
#if canImport(Glibc)
import Glibc
#endif

public final class JSONLinesSink: FrameSink {
    public init() {}

    public func consume(_ frame: ProcessedFrame, telemetry: TelemetrySnapshot) -> SinkAction {
        var line = frame.json.text
        line.append("\n")
        let ok = line.withCString { fputs($0, stdout) } >= 0 && fflush(stdout) == 0
        return ok ? .proceed : .stop   // stdout closed (e.g. piped into head): end the run cleanly
    }
}
