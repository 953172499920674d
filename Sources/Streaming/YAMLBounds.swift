// A cheap scan of a board profile before the YAML parser sees it. The parser recurses once per
// nesting level, so a file like `a: [[[[...]]]]` 10,000 levels deep overflows the stack
// (a segmentation fault, not an error). Profiles are small and flat: bounding the size and
// the nesting depth here turns such files into a clear error.

public enum YAMLBounds {
    /// Largest profile accepted (the shipped ones are under 1 KiB).
    public static let maximumBytes = 64 * 1024
    /// Deepest nesting accepted: flow brackets, plus block levels (indentation and `- ` items).
    public static let maximumDepth = 32

    /// nil when the text is within bounds, else the reason.
    public static func check(_ bytes: [UInt8]) -> String? {
        if bytes.count > maximumBytes {
            return "the file is \(bytes.count) bytes; profiles are limited to \(maximumBytes) bytes"
        }
        var flow = 0                 // open [ and { (outside quotes and comments)
        var quote: UInt8 = 0         // the open quote character, 0 outside quotes
        var line = 1
        var atLineStart = true, indent = 0, blockItems = 0
        var indents: [Int] = []      // indentation of the enclosing block levels
        var i = 0
        while i < bytes.count {
            let c = bytes[i]
            if c == 0x0A {
                line += 1; atLineStart = true; indent = 0; blockItems = 0
                if quote == UInt8(ascii: "'") || quote == UInt8(ascii: "\"") { /* multi-line scalar: keep quote */ }
                i += 1; continue
            }
            if atLineStart {
                if c == 0x20 { indent += 1; i += 1; continue }
                atLineStart = false
                if flow == 0 && quote == 0 && c != UInt8(ascii: "#") {
                    while let last = indents.last, last >= indent { indents.removeLast() }
                    indents.append(indent)
                }
            }
            if quote != 0 {
                if c == quote { quote = 0 } else if c == 0x5C && quote == UInt8(ascii: "\"") { i += 1 }
                i += 1; continue
            }
            switch c {
            case UInt8(ascii: "#"):
                while i < bytes.count && bytes[i] != 0x0A { i += 1 }
                continue
            case UInt8(ascii: "'"), UInt8(ascii: "\""): quote = c
            case UInt8(ascii: "["), UInt8(ascii: "{"): flow += 1
            case UInt8(ascii: "]"), UInt8(ascii: "}"): flow = max(0, flow - 1)
            case UInt8(ascii: "-") where flow == 0 && i + 1 < bytes.count && (bytes[i + 1] == 0x20 || bytes[i + 1] == 0x0A):
                blockItems += 1   // `- - - x` nests one level per dash
            default: break
            }
            let depth = flow + indents.count + blockItems
            if depth > maximumDepth {
                return "line \(line): nested more than \(maximumDepth) levels deep; profiles are limited to \(maximumDepth)"
            }
            i += 1
        }
        return nil
    }
}
