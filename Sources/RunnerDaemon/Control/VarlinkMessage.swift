/// A varlink call, as a client sends it: one JSON object ended by a NUL byte.
///
/// `{"method": "io.runnerd.Manager.Status", "parameters": {...}, "more": true}`
package struct VarlinkCall: Sendable, Equatable {
    /// The fully qualified method: interface, a dot, and the method's name.
    package var method: String
    package var parameters: JSONValue
    /// The client wants a stream of replies, each with `continues: true` but the last.
    package var more: Bool
    /// The client wants no reply at all.
    package var oneway: Bool

    package init(method: String, parameters: JSONValue = .object([]), more: Bool = false, oneway: Bool = false) {
        self.method = method
        self.parameters = parameters
        self.more = more
        self.oneway = oneway
    }

    /// The interface part of `method` (everything before the last dot).
    package var interface: String {
        guard let dot = method.lastIndex(of: ".") else { return "" }
        return String(method[..<dot])
    }

    /// Why a message is not a call: the reply a client gets before the connection closes.
    package enum Problem: Error, Sendable, Equatable {
        case notJSON(JSONValue.ParseError)
        case notACall(String)
    }

    /// Decodes one message (without its NUL).
    package static func decode(_ bytes: some Collection<UInt8>) throws(Problem) -> VarlinkCall {
        let value: JSONValue
        do {
            value = try JSONValue.parse(bytes)
        } catch {
            throw .notJSON(error)
        }
        guard case .object(let members) = value else { throw .notACall("a call must be a JSON object") }
        var call = VarlinkCall(method: "")
        for (key, member) in members {
            switch key {
            case "method":
                guard let method = member.stringValue, Self.isQualifiedName(method) else {
                    throw .notACall("\"method\" must be an interface and method name, such as io.runnerd.Manager.Status")
                }
                call.method = method
            case "parameters":
                guard case .object = member else { throw .notACall("\"parameters\" must be an object") }
                call.parameters = member
            case "more":
                guard let flag = member.boolValue else { throw .notACall("\"more\" must be true or false") }
                call.more = flag
            case "oneway":
                guard let flag = member.boolValue else { throw .notACall("\"oneway\" must be true or false") }
                call.oneway = flag
            case "upgrade":
                guard member.boolValue != nil else { throw .notACall("\"upgrade\" must be true or false") }
            default:
                throw .notACall("unknown member \"\(key)\"")
            }
        }
        guard !call.method.isEmpty else { throw .notACall("a call needs a \"method\"") }
        return call
    }

    /// The message as sent, with its NUL.
    package var encoded: [UInt8] {
        var members: [(String, JSONValue)] = [("method", .string(method))]
        if case .object(let fields) = parameters, !fields.isEmpty { members.append(("parameters", parameters)) }
        if more { members.append(("more", true)) }
        if oneway { members.append(("oneway", true)) }
        return JSONValue.object(members).bytes + [0]
    }

    /// `interface.Method`, where the interface is dot-separated words and the method starts with
    /// a capital letter, as varlink names them.
    private static func isQualifiedName(_ text: String) -> Bool {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count >= 3, text.utf8.count <= 255, let method = parts.last, let first = method.first, first.isUppercase else { return false }
        return parts.allSatisfy { part in
            !part.isEmpty && part.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }
        }
    }
}

/// A varlink reply: parameters, or an error with its parameters.
package struct VarlinkReply: Sendable, Equatable {
    package var parameters: JSONValue
    /// A fully qualified error name, such as `org.varlink.service.MethodNotFound`.
    package var error: String?
    /// More replies to the same call follow.
    package var continues: Bool

    package init(parameters: JSONValue = .object([]), error: String? = nil, continues: Bool = false) {
        self.parameters = parameters
        self.error = error
        self.continues = continues
    }

    package static func failure(_ error: String, _ parameters: [(String, JSONValue)] = []) -> VarlinkReply {
        VarlinkReply(parameters: .object(parameters), error: error)
    }

    /// The message as sent, with its NUL.
    package var encoded: [UInt8] {
        var members: [(String, JSONValue)] = [("parameters", parameters)]
        if continues { members.append(("continues", true)) }
        if let error { members.append(("error", .string(error))) }
        return JSONValue.object(members).bytes + [0]
    }

    /// Decodes one reply (without its NUL).
    package static func decode(_ bytes: some Collection<UInt8>) throws(VarlinkCall.Problem) -> VarlinkReply {
        let value: JSONValue
        do {
            value = try JSONValue.parse(bytes)
        } catch {
            throw .notJSON(error)
        }
        guard case .object = value else { throw .notACall("a reply must be a JSON object") }
        let error = value["error"]?.stringValue
        return VarlinkReply(parameters: value["parameters"] ?? .object([]), error: error, continues: value["continues"]?.boolValue ?? false)
    }
}
