// Kernel sets as an interpreter option. cint8 keeps one immutable table of micro-kernels per
// set; an interpreter takes its table when it is created and every operator keeps the
// micro-kernel it was prepared with, so interpreters with different sets can run side by side.
import CInt8

/// Which cint8 kernel set an interpreter runs.
public enum KernelSet: String, CaseIterable, Sendable, CustomStringConvertible {
    /// The fastest set this build contains and this CPU supports.
    case best
    /// The portable C kernels (TFLite's semantics; the oracle the SIMD sets are tested against).
    case reference
    /// x86-64 with AVX2 and FMA.
    case avx2
    /// Armv8.0 Advanced SIMD (Cortex-A53/A72).
    case neon
    /// Armv8.2 dot product (Cortex-A55/A76).
    case neonDot = "neon-dot"

    public var description: String { rawValue }

    /// The concrete sets (not `.best`) that run on this machine, in enum order.
    public static var available: [KernelSet] {
        allCases.filter { $0 != .best && (try? $0.table()) != nil }
    }

    /// The concrete set `.best` stands for on this machine.
    public static var bestAvailable: KernelSet { KernelSet(ci8_best_isa()) }

    /// What the kernel sets see of this CPU, e.g. "x86-64 with avx2, fma".
    public static var cpuDescription: String { String(cString: ci8_cpu_description()) }

    /// The concrete set: `.best` resolved, others unchanged.
    public var resolved: KernelSet { self == .best ? KernelSet.bestAvailable : self }

    private var isa: ci8_isa {
        switch resolved {
        case .best, .reference: return CI8_ISA_REFERENCE
        case .avx2: return CI8_ISA_AVX2
        case .neon: return CI8_ISA_NEON
        case .neonDot: return CI8_ISA_NEON_DOT
        }
    }

    private init(_ isa: ci8_isa) {
        switch isa {
        case CI8_ISA_AVX2: self = .avx2
        case CI8_ISA_NEON: self = .neon
        case CI8_ISA_NEON_DOT: self = .neonDot
        default: self = .reference
        }
    }

    /// Throws, saying why, when the set cannot run on this machine.
    public func requireAvailable() throws(KernelSetUnavailable) { _ = try table() }

    /// The set's table, or an error saying why it cannot run here.
    func table() throws(KernelSetUnavailable) -> KernelTable {
        let set = resolved
        var pointer: OpaquePointer?
        let status = ci8_kernels_get(set.isa, &pointer)
        guard status == CI8_OK, let pointer else {
            throw KernelSetUnavailable(set: set, notBuilt: status == CI8_ERR_NOT_BUILT)
        }
        return KernelTable(set: set, pointer: pointer)
    }
}

/// A kernel set that this build does not contain or this CPU cannot run.
public struct KernelSetUnavailable: Error, CustomStringConvertible, Sendable {
    public let set: KernelSet
    /// True when the set is not compiled into this build (another architecture); false when it
    /// is built but the CPU lacks its instructions.
    public let notBuilt: Bool

    public var description: String {
        let why = notBuilt ? "is not built for this architecture" : "is not supported by this CPU"
        let here = KernelSet.available.map(\.rawValue).joined(separator: ", ")
        return "kernel set '\(set)' \(why) (this CPU: \(KernelSet.cpuDescription); sets that run here: \(here))"
    }
}

/// A resolved kernel set: the C table every operator of one interpreter selects from.
struct KernelTable {
    let set: KernelSet
    let pointer: OpaquePointer
}
