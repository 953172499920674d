import ArgumentParser
import Foundation
import Imaging
import Streaming
import Int8Runtime

/// Loads a model, turning its error into a clean command-line failure.
func loadModel(_ path: String) throws -> Model {
    do { return try Model(path: path) } catch let error as ModelError {
        throw CommandError("\(path): \(error)")
    }
}

func makeInterpreter(_ model: Model, path: String, options: Interpreter.Options = .init()) throws -> Interpreter {
    do { return try Interpreter(model: model, options: options) } catch let error as ModelError {
        throw CommandError("\(path): \(error)")
    } catch let error as KernelSetUnavailable {
        throw CommandError("--kernels \(error.set): \(error)")
    }
}

extension KernelSet: ExpressibleByArgument {}

/// `--kernels`, shared by the commands that run models.
struct KernelOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Kernel set: \(KernelSet.allCases.map(\.rawValue).joined(separator: ", ")) (best: the fastest this CPU runs).",
                               valueName: "set"))
    var kernels: KernelSet = .best

    /// Fails early, with the reason, when the set cannot run here.
    func validate() throws {
        do { try kernels.requireAvailable() } catch { throw ValidationError("--kernels \(kernels): \(error)") }
    }
}

/// An error reported as one line on stderr with exit status 1 (no stack trace, no usage text).
struct CommandError: Error, CustomStringConvertible {
    let description: String
    init(_ message: String) { description = message }
}

extension CommandError: LocalizedError {
    var errorDescription: String? { description }
}

func readFile(_ path: String) throws -> [UInt8] {
    guard let data = FileManager.default.contents(atPath: path) else {
        throw CommandError("cannot read '\(path)'")
    }
    return [UInt8](data)
}

func writeFile(_ path: String, _ bytes: UnsafeRawBufferPointer) throws {
    let data = Data(bytes)
    guard FileManager.default.createFile(atPath: path, contents: data) else {
        throw CommandError("cannot write '\(path)'")
    }
}

/// Peak resident set size of this process, in bytes.
func peakResidentBytes() -> Int {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Int(usage.ru_maxrss) * 1024
}

func formatBytes(_ n: Int) -> String {
    if n >= 1 << 20 { return String(format: "%.2f MiB", Double(n) / Double(1 << 20)) }
    if n >= 1 << 10 { return String(format: "%.1f KiB", Double(n) / 1024) }
    return "\(n) B"
}

func formatCount(_ n: Int) -> String {
    if n >= 1_000_000 { return String(format: "%.2f M", Double(n) / 1e6) }
    if n >= 1_000 { return String(format: "%.1f K", Double(n) / 1e3) }
    return "\(n)"
}

func quantizationText(_ tensor: Tensor) -> String {
    guard let q = tensor.quantization else { return "-" }
    if q.isPerTensor { return String(format: "s=%.6g zp=%d", q.scale, q.zeroPoint) }
    let lo = q.scales.min()!, hi = q.scales.max()!
    return String(format: "per-channel(%d, dim %d) s=%.3g..%.3g", q.scales.count, q.quantizedDimension, lo, hi)
}

func tensorJSON(_ t: Tensor) -> JSON {
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
