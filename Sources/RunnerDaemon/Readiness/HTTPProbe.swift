import RunnerdConfig
/// One attempt of an http probe: a minimal HTTP/1.1 client over a plain TCP socket.
///
/// It sends `GET <path> HTTP/1.1` with `Host:`, `Connection: close` and `User-Agent: runnerd`,
/// reads until the status line is complete, and succeeds on a 2xx status. It gives up when no line
/// ends within the first `replyLimit` bytes, so a server that answers with something else cannot
/// make it buffer much. After the status line it only drops what has already arrived (so that
/// closing does not reset the connection) and never waits for more. There is no TLS, no redirect
/// following and no proxy: the config loader accepts only `http://` URLs.
struct HTTPProbe: Sendable, Equatable {
    /// The status line must end within this many bytes of the reply.
    static let replyLimit = 4096
    /// At most this much of the rest of a reply is read (and dropped) if it has already arrived.
    static let discardLimit = 65536

    /// The URL as configured, for messages.
    let url: String
    /// The host to connect to, without IPv6 brackets.
    let host: String
    /// The port: the URL's, or 80.
    let port: UInt16
    /// The `Host:` header: the URL's authority as written (`127.0.0.1:8080`, `[::1]:8080`).
    let hostHeader: String
    /// The request target: the URL's path and query (`/healthz?full=1`), `/` when it has no path;
    /// a fragment is dropped, and bytes that may not appear in a request line are percent-encoded.
    let target: String

    /// Parses an `http://host[:port][/path][?query][#fragment]` URL the way the config loader
    /// validates it (the scheme in any case, an IPv6 host in brackets).
    init(url: String) throws(ProbeFailure) {
        guard url.lowercased().hasPrefix("http://") else {
            let problem = url.lowercased().hasPrefix("https://") ? "https is not supported" : "it does not start with http://"
            throw .invalidURL(url: url, problem: problem)
        }
        let rest = url.dropFirst("http://".count)
        let authority = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        let address: (host: String, port: UInt16?)
        switch ConfigDecoder.hostAndPort(String(authority), portRequired: false) {
        case .success(let parsed): address = parsed
        case .failure(let problem): throw .invalidURL(url: url, problem: "\(String(authority).debugDescription) \(problem)")
        }
        self.url = url
        host = address.host
        port = address.port ?? 80
        hostHeader = String(authority)
        let pathAndQuery = rest[authority.endIndex...].prefix { $0 != "#" }
        let path = pathAndQuery.hasPrefix("/") ? String(pathAndQuery) : "/" + pathAndQuery
        target = Self.encodeRequestLine(path)
    }

    /// The request's bytes.
    var request: [UInt8] {
        Array("GET \(target) HTTP/1.1\r\nHost: \(hostHeader)\r\nConnection: close\r\nUser-Agent: runnerd\r\n\r\n".utf8)
    }

    /// Blocking: connects, sends the request and reads the status line, until done or woken.
    /// Returns `.cancelled` when woken; the caller decides whether that was the deadline.
    func attempt(wakeup: ProbeWakeup) -> Result<Void, ProbeFailure> {
        let socket: ProbeSocket
        switch ProbeSocket.connect(host: host, port: port, wakeup: wakeup) {
        case .success(let connected): socket = connected
        case .failure(let failure): return .failure(failure)
        }
        switch socket.send(request) {
        case .done: break
        case .woken: return .failure(.cancelled)
        case .failed(let error):
            return .failure(.badReply(url: url, problem: "sending the request failed: \(ProbeFailure.reason(error))"))
        }
        var reply: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1024)
        while true {
            let room = min(chunk.count, Self.replyLimit - reply.count)
            switch chunk.withUnsafeMutableBytes({ socket.receive(into: UnsafeMutableRawBufferPointer(rebasing: $0[..<room])) }) {
            case .done(0):
                let problem = reply.isEmpty
                    ? "the server closed the connection without a reply"
                    : "the server closed the connection within its status line \(Self.excerpt(reply))"
                return .failure(.badReply(url: url, problem: problem))
            case .done(let count):
                reply += chunk[..<count]
            case .woken:
                return .failure(.cancelled)
            case .failed(let error):
                return .failure(.badReply(url: url, problem: "reading the reply failed: \(ProbeFailure.reason(error))"))
            }
            switch Self.statusLine(reply) {
            case .incomplete where reply.count >= Self.replyLimit:
                return .failure(.badReply(url: url, problem: "no status line within the first \(Self.replyLimit) bytes of the reply"))
            case .incomplete:
                continue
            case .malformed:
                return .failure(.badReply(url: url, problem: "the reply is not HTTP: \(Self.excerpt(reply))"))
            case .status(let status):
                socket.discardAvailable(limit: Self.discardLimit)
                return (200...299).contains(status) ? .success(()) : .failure(.httpStatus(url: url, status: status))
            }
        }
    }

    /// What the start of a reply says.
    enum StatusLine: Equatable {
        /// No line end yet, and what there is could still begin a status line.
        case incomplete
        /// The reply does not begin with `HTTP/<version> <3 digits>`.
        case malformed
        /// The status code of a complete status line.
        case status(Int)
    }

    /// Reads the status line at the start of `reply` (`HTTP/1.1 200 OK\r\n`; a bare `\n` ends it
    /// too, and the reason phrase may be missing).
    static func statusLine(_ reply: [UInt8]) -> StatusLine {
        let prefix = Array("HTTP/".utf8)
        guard reply.starts(with: prefix.prefix(reply.count)) else { return .malformed }
        guard let newline = reply.firstIndex(of: UInt8(ascii: "\n")) else { return .incomplete }
        var line = reply[..<newline]
        if line.last == UInt8(ascii: "\r") { line = line.dropLast() }
        let parts = line.split(separator: UInt8(ascii: " "), maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count >= 2, parts[0].count > prefix.count, parts[1].count == 3,
              parts[1].allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }) else { return .malformed }
        return .status(parts[1].reduce(0) { $0 * 10 + Int($1 - UInt8(ascii: "0")) })
    }

    /// The reply's first line, cut to 60 bytes, quoted, for messages.
    private static func excerpt(_ reply: [UInt8]) -> String {
        let line = reply.prefix { $0 != UInt8(ascii: "\r") && $0 != UInt8(ascii: "\n") }
        let text = String(decoding: line.prefix(60), as: UTF8.self)
        return text.debugDescription + (line.count > 60 ? "…" : "")
    }

    /// Percent-encodes the bytes of `path` that may not appear in a request line: controls,
    /// spaces and non-ASCII bytes. Escapes already written as `%XX` stay as they are.
    private static func encodeRequestLine(_ path: String) -> String {
        var encoded = ""
        for byte in path.utf8 {
            if byte > 0x20 && byte < 0x7f {
                encoded.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                let hex = Array("0123456789ABCDEF".unicodeScalars)
                encoded.unicodeScalars.append("%")
                encoded.unicodeScalars.append(hex[Int(byte >> 4)])
                encoded.unicodeScalars.append(hex[Int(byte & 0xf)])
            }
        }
        return encoded
    }
}
