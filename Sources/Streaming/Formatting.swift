// printf-style number formatting without Foundation's String(format:).
#if canImport(Glibc)
import Glibc
#endif

/// `format` filled as C's printf fills it, for numbers only (no %s or %@: put strings in with \(...)).
public func formatted(_ format: String, _ arguments: CVarArg...) -> String {
    var buffer = [CChar](repeating: 0, count: 256)
    var count = withVaList(arguments) { vsnprintf(&buffer, buffer.count, format, $0) }
    if count >= buffer.count {
        buffer = [CChar](repeating: 0, count: Int(count) + 1)
        count = withVaList(arguments) { vsnprintf(&buffer, buffer.count, format, $0) }
    }
    guard count >= 0 else { return format }
    return String(decoding: buffer.prefix(Int(count)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// `x` with `digits` decimals, rounded as printf's %.Nf does.
public func fixed(_ x: Double, _ digits: Int) -> String {
    formatted("%.\(digits)f", x)
}
