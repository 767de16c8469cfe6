/// A decoder for journald's native protocol, as a test reads it off the socket.
///
/// A datagram is a sequence of fields. Each is either `NAME=value\n` (value without newlines) or
/// `NAME\n`, a little-endian 64-bit length, that many bytes of value, and `\n` (the binary form,
/// used when the value contains a newline). As in journald, a field is binary when its first
/// newline comes before any `=`.
enum NativeJournalProtocol {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    struct Field: Equatable, CustomStringConvertible {
        let name: String
        let value: [UInt8]
        /// Whether the field came in the binary-length form.
        let binary: Bool

        var text: String { String(decoding: value, as: UTF8.self) }

        var description: String { "\(name)\(binary ? "[binary]" : "")=\(String(reflecting: text))" }
    }

    static func decode(_ bytes: [UInt8]) throws -> [Field] {
        var fields: [Field] = []
        var index = 0
        while index < bytes.count {
            guard let newline = bytes[index...].firstIndex(of: UInt8(ascii: "\n")) else {
                throw Failure(description: "field at byte \(index) has no terminating newline")
            }
            if let equals = bytes[index..<newline].firstIndex(of: UInt8(ascii: "=")) {
                let name = String(decoding: bytes[index..<equals], as: UTF8.self)
                fields.append(Field(name: name, value: Array(bytes[(equals + 1)..<newline]), binary: false))
                index = newline + 1
            } else {
                let name = String(decoding: bytes[index..<newline], as: UTF8.self)
                let lengthStart = newline + 1
                guard lengthStart + 8 <= bytes.count else {
                    throw Failure(description: "binary field \(name) is cut off before its length")
                }
                var length: UInt64 = 0
                for (shift, byte) in bytes[lengthStart..<(lengthStart + 8)].enumerated() {
                    length |= UInt64(byte) << (8 * UInt64(shift))
                }
                let valueStart = lengthStart + 8
                let valueEnd = valueStart + Int(length)
                guard valueEnd < bytes.count, bytes[valueEnd] == UInt8(ascii: "\n") else {
                    throw Failure(description: "binary field \(name) of length \(length) is not followed by a newline")
                }
                fields.append(Field(name: name, value: Array(bytes[valueStart..<valueEnd]), binary: true))
                index = valueEnd + 1
            }
        }
        return fields
    }
}
