// The size and count forms every report uses (printf-style `formatted` is in Streaming).
#if canImport(Glibc)
import Glibc
#endif
import Int8Runtime
import Streaming

public func formatBytes(_ n: Int) -> String {
    if n >= 1 << 20 { return formatted("%.2f MiB", Double(n) / Double(1 << 20)) }
    if n >= 1 << 10 { return formatted("%.1f KiB", Double(n) / 1024) }
    return "\(n) B"
}

public func formatCount(_ n: Int) -> String {
    if n >= 1_000_000 { return formatted("%.2f M", Double(n) / 1e6) }
    if n >= 1_000 { return formatted("%.1f K", Double(n) / 1e3) }
    return "\(n)"
}

/// `s` padded with spaces to `width` (one space after it when it fills the width).
func pad(_ s: String, _ width: Int) -> String {
    s.count >= width ? s + " " : s + String(repeating: " ", count: width - s.count)
}

/// `s` right-aligned in `width` (one space before it when it fills the width).
func lpad(_ s: String, _ width: Int) -> String {
    s.count >= width ? " " + s : String(repeating: " ", count: width - s.count) + s
}

public func quantizationText(_ tensor: Tensor) -> String {
    guard let q = tensor.quantization else { return "-" }
    if q.isPerTensor { return formatted("s=%.6g zp=%d", Double(q.scale), Int32(q.zeroPoint)) }
    let lo = q.scales.min()!, hi = q.scales.max()!
    return formatted("per-channel(%d, dim %d) s=%.3g..%.3g", Int32(q.scales.count), Int32(q.quantizedDimension), Double(lo), Double(hi))
}

public func tensorJSON(_ t: Tensor) -> JSON {
    var pairs: [(String, JSON)] = [
        ("index", .integer(t.index)), ("name", .string(t.name)), ("type", .string(t.type.description)),
        ("shape", .array(t.shape.map { .integer($0) })), ("constant", .bool(t.isConstant)), ("bytes", .integer(t.byteCount)),
    ]
    if let q = t.quantization {
        pairs.append(("scales", .array(q.scales.map { .number(Double($0)) })))
        pairs.append(("zero_points", .array(q.zeroPoints.map { .integer(Int($0)) })))
        if !q.isPerTensor { pairs.append(("quantized_dimension", .integer(q.quantizedDimension))) }
    }
    return .object(pairs)
}

/// Peak resident set size of this process, in bytes.
public func peakResidentBytes() -> Int {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Int(usage.ru_maxrss) * 1024
}
