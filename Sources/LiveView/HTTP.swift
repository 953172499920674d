// The little of HTTP/1.1 the preview needs: one GET or HEAD request per connection, its head
// parsed with hard limits, and responses that always carry a status and close the connection.
// Pure functions on bytes, so the parser is tested without sockets (LiveViewTests).
#if canImport(Glibc)
import Glibc
#endif

/// A request refused before it is routed: answered with `status` and `message`, then closed.
public struct RequestError: Error, Equatable, Sendable {
    public let status: Int
    public let message: String
    public init(_ status: Int, _ message: String) { self.status = status; self.message = message }
}

public struct Request: Equatable, Sendable {
    public var method: String
    /// The path without the query, percent-decoded ("/metrics").
    public var path: String
    public var query: [Pair]
    /// Header names are lowercased; values trimmed.
    public var headers: [Pair]

    public struct Pair: Equatable, Sendable {
        public var name: String, value: String
        public init(_ name: String, _ value: String) { self.name = name; self.value = value }
    }

    public var isHead: Bool { method == "HEAD" }

    public func header(_ name: String) -> String? { headers.first { $0.name == name }?.value }
    public func queryValue(_ name: String) -> String? { query.first { $0.name == name }?.value }

    /// The access token: `Authorization: Bearer T`, else `?token=T` (what the page's own
    /// EventSource and fetch requests can carry).
    public var token: String? {
        if let auth = header("authorization") {
            let parts = auth.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
            if parts.count == 2, parts[0].lowercased() == "bearer" { return trimmed(parts[1]) }
        }
        return queryValue("token")
    }
}

/// Accumulates the bytes of a request head until the blank line that ends it.
public struct RequestHead {
    public let limit: Int
    private(set) var bytes: [UInt8] = []
    private var scanned = 0

    /// `limit`: the most bytes a head may have, request line and headers included (431 beyond).
    public init(limit: Int) {
        self.limit = limit
        bytes.reserveCapacity(min(limit, 4096) + 4)
    }

    /// Adds bytes read from the client. Returns the parsed request once the head is complete,
    /// nil while more is needed; throws 431 when the head grows past the limit, 400 when it is
    /// not a request. Bytes after the head (a body) are ignored: GET and HEAD have none.
    public mutating func append(_ chunk: some Collection<UInt8>) throws(RequestError) -> Request? {
        bytes.append(contentsOf: chunk)
        // A request starts with a method in capitals and a space: anything else (a TLS hello,
        // binary noise) is refused at once instead of waiting for a head that never comes.
        if scanned < 17 {
            for b in bytes.prefix(17) {
                if b == UInt8(ascii: " ") { break }
                guard b >= UInt8(ascii: "A") && b <= UInt8(ascii: "Z") else { throw RequestError(400, "not an HTTP request") }
            }
            if bytes.count >= 17 && !bytes.prefix(17).contains(UInt8(ascii: " ")) { throw RequestError(400, "not an HTTP request") }
        }
        var i = max(0, scanned - 3)
        while i + 3 < bytes.count {
            if bytes[i] == 13, bytes[i + 1] == 10, bytes[i + 2] == 13, bytes[i + 3] == 10 {
                guard i + 4 <= limit else { break }
                return try parseRequestHead(bytes[..<i])
            }
            i += 1
        }
        scanned = bytes.count
        if bytes.count > limit { throw RequestError(431, "request head larger than \(limit) bytes") }
        return nil
    }
}

/// Parses a request line and header lines (without the final blank line).
public func parseRequestHead(_ bytes: ArraySlice<UInt8>) throws(RequestError) -> Request {
    // Control bytes other than CR LF and tab have no place in a head; NUL in particular.
    for b in bytes where b < 32 && b != 13 && b != 10 && b != 9 || b == 127 {
        throw RequestError(400, "control characters in the request head")
    }
    guard let text = String(validating: bytes, as: UTF8.self) else { throw RequestError(400, "request head is not UTF-8") }
    // "\r\n" is one Character in Swift; a bare CR or LF left inside a line is an error.
    let lines = text.split(separator: "\r\n", omittingEmptySubsequences: false)
    if lines.contains(where: { $0.contains("\r") || $0.contains("\n") }) { throw RequestError(400, "bare CR or LF in the request head") }
    let parts = lines[0].split(separator: " ", omittingEmptySubsequences: false)
    guard parts.count == 3, !parts[0].isEmpty, parts[0].allSatisfy({ $0.isUppercase && $0.isASCII }) else {
        throw RequestError(400, "malformed request line")
    }
    guard parts[2] == "HTTP/1.1" || parts[2] == "HTTP/1.0" else { throw RequestError(400, "not an HTTP/1.x request") }
    guard parts[1].hasPrefix("/") else { throw RequestError(400, "the request target must be a path") }
    var headers: [Request.Pair] = []
    for line in lines.dropFirst() {
        guard let colon = line.firstIndex(of: ":"), colon != line.startIndex,
              !line[..<colon].contains(where: { $0 == " " || $0 == "\t" }) else {
            throw RequestError(400, "malformed header line")
        }
        headers.append(Request.Pair(line[..<colon].lowercased(), trimmed(line[line.index(after: colon)...])))
    }
    let target = parts[1].split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
    var query: [Request.Pair] = []
    if target.count == 2 {
        for item in target[1].split(separator: "&") {
            let kv = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            query.append(Request.Pair(percentDecoded(kv[0]), kv.count == 2 ? percentDecoded(kv[1]) : ""))
        }
    }
    return Request(method: String(parts[0]), path: percentDecoded(target[0]), query: query, headers: headers)
}

func percentDecoded(_ text: Substring) -> String {
    var out: [UInt8] = []
    var bytes = Array(text.utf8)[...]
    while let b = bytes.popFirst() {
        if b == UInt8(ascii: "%"), bytes.count >= 2, let hi = hexValue(bytes[bytes.startIndex]),
           let lo = hexValue(bytes[bytes.startIndex + 1]) {
            out.append(hi << 4 | lo)
            bytes = bytes.dropFirst(2)
        } else if b == UInt8(ascii: "+") {
            out.append(UInt8(ascii: " "))
        } else {
            out.append(b)
        }
    }
    return String(decoding: out, as: UTF8.self)
}

private func hexValue(_ b: UInt8) -> UInt8? {
    switch b {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): return b - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): return b - UInt8(ascii: "a") + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): return b - UInt8(ascii: "A") + 10
    default: return nil
    }
}

func trimmed(_ s: Substring) -> String {
    var s = s
    while let c = s.first, c == " " || c == "\t" { s.removeFirst() }
    while let c = s.last, c == " " || c == "\t" { s.removeLast() }
    return String(s)
}

public struct Response: Sendable {
    public var status: Int
    public var contentType: String
    public var body: [UInt8]
    public var extraHeaders: [String] = []

    public init(status: Int, contentType: String, body: [UInt8], extraHeaders: [String] = []) {
        self.status = status; self.contentType = contentType; self.body = body; self.extraHeaders = extraHeaders
    }

    public static func text(_ status: Int, _ text: String, extraHeaders: [String] = []) -> Response {
        Response(status: status, contentType: "text/plain; charset=utf-8", body: Array((text + "\n").utf8), extraHeaders: extraHeaders)
    }

    public static func error(_ error: RequestError) -> Response { text(error.status, error.message) }

    public static func reason(_ status: Int) -> String {
        switch status {
        case 200: return "OK"
        case 400: return "Bad Request"
        case 401: return "Unauthorized"
        case 403: return "Forbidden"
        case 404: return "Not Found"
        case 405: return "Method Not Allowed"
        case 408: return "Request Timeout"
        case 431: return "Request Header Fields Too Large"
        case 503: return "Service Unavailable"
        default: return "Error"
        }
    }

    /// Status line and headers; `Content-Length` is the body's even for HEAD.
    public var head: [UInt8] {
        var text = "HTTP/1.1 \(status) \(Response.reason(status))\r\nContent-Type: \(contentType)\r\nContent-Length: \(body.count)\r\n"
        if status == 405 { text += "Allow: GET, HEAD\r\n" }
        if status == 401 { text += "WWW-Authenticate: Bearer\r\n" }
        for line in extraHeaders { text += line + "\r\n" }
        text += "Cache-Control: no-store\r\nConnection: close\r\n\r\n"
        return Array(text.utf8)
    }

    public func bytes(headOnly: Bool) -> [UInt8] { headOnly ? head : head + body }

    /// The head of an endless response (MJPEG, Server-Sent Events): no length, closed at the end.
    public static func streamHead(contentType: String) -> [UInt8] {
        Array("HTTP/1.1 200 OK\r\nContent-Type: \(contentType)\r\nCache-Control: no-store\r\nX-Accel-Buffering: no\r\nConnection: close\r\n\r\n".utf8)
    }
}

/// Compares without stopping at the first difference (the time does not tell the prefix).
public func constantTimeEqual(_ a: String, _ b: String) -> Bool {
    let x = Array(a.utf8), y = Array(b.utf8)
    var diff: UInt8 = x.count == y.count ? 0 : 1
    for i in 0..<max(x.count, y.count) {
        diff |= (i < x.count ? x[i] : 0) ^ (i < y.count ? y[i] : 0)
    }
    return diff == 0
}

/// `[HOST:]PORT` of `--serve`: `8080`, `0.0.0.0:8080`, `[::1]:8080`, `localhost:8080`.
public struct ServeAddress: Equatable, Sendable {
    public var host: String
    public var port: UInt16

    public init(host: String, port: UInt16) { self.host = host; self.port = port }

    public init(parsing text: String) throws(RequestError) {
        var host = "127.0.0.1", portText = Substring(text)
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else {
                throw RequestError(0, "expected [IPV6]:PORT")
            }
            host = String(text[text.index(after: text.startIndex)..<close])
            portText = text[text.index(close, offsetBy: 2)...]
        } else if let colon = text.lastIndex(of: ":") {
            host = String(text[..<colon])
            portText = text[text.index(after: colon)...]
            guard !host.contains(":") else { throw RequestError(0, "write an IPv6 address in brackets: [::1]:8080") }
        }
        if host == "localhost" { host = "127.0.0.1" }
        guard !host.isEmpty else { throw RequestError(0, "the host is empty") }
        var scratch = in6_addr()
        guard inet_pton(host.contains(":") ? AF_INET6 : AF_INET, host, &scratch) == 1 else {
            throw RequestError(0, "the host must be a numeric IPv4 or IPv6 address (or localhost)")
        }
        guard let port = UInt16(portText) else { throw RequestError(0, "the port must be a number in 0...65535") }
        self.host = host
        self.port = port
    }

    public var isIPv6: Bool { host.contains(":") }
    public var isLoopback: Bool { host.hasPrefix("127.") || host == "::1" }
    public var display: String { isIPv6 ? "[\(host)]:\(port)" : "\(host):\(port)" }
}
