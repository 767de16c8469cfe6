/// The variables of one environment file, read the way systemd's `EnvironmentFile=` reads them.
///
/// The syntax, following systemd's `load_env_file`:
/// - `KEY=VALUE` assignments, one per line. Whitespace before the key, around `=` and at the end
///   of an unquoted value is dropped.
/// - Lines that are blank, or whose first non-blank character is `#` or `;`, are comments. A `#`
///   later in a line is part of the value.
/// - `'single quotes'` keep everything up to the next `'` literally, newlines included.
///   `"double quotes"` do the same, except that a backslash escapes `"`, `\`, `` ` `` and `$`,
///   and a backslash before a newline joins the lines; before any other character it stays.
/// - Outside quotes, a backslash makes the next character literal, and a backslash at the end of a
///   line joins it with the next one.
/// - Quoted and unquoted pieces run together: `A="x"y` is `xy`.
/// - There is no `export` keyword and no `$VAR` expansion, exactly as in systemd.
///
/// Stricter than systemd, so that a typo never silently does nothing: a variable name that is not
/// `[A-Za-z_][A-Za-z0-9_]*`, a line with no `=`, and a quote left open at the end of the file are
/// ``Problem``s (systemd skips the first two and accepts the third). Parsing never stops at a
/// problem: every valid assignment is still returned.
public struct EnvironmentFile: Sendable, Equatable {
    /// One problem, on a 1-based line of the file.
    public struct Problem: Sendable, Equatable, CustomStringConvertible {
        /// The line on which the offending assignment starts.
        public var line: Int
        /// What is wrong and what to do.
        public var message: String

        /// A problem on `line`.
        public init(line: Int, message: String) {
            self.line = line
            self.message = message
        }

        /// `line: message`; prefix it with the file's path for `path:line: message`.
        public var description: String { "\(line): \(message)" }
    }

    /// The assignments in file order. A name assigned twice appears twice; the later one wins
    /// when the environment is built.
    public var variables: [EnvironmentVariable]
    /// The problems, in line order; empty for a valid file.
    public var problems: [Problem]

    /// Parses the text of an environment file; never fails, see ``problems``.
    public init(parsing contents: String) {
        var parser = Parser()
        for scalar in contents.unicodeScalars {
            parser.consume(scalar)
        }
        parser.finish()
        variables = parser.variables
        problems = parser.problems
    }

    /// Reads and parses the file at `path`.
    ///
    /// - Throws: ``ReadError`` when the file cannot be opened or read; bytes that are not UTF-8
    ///   are replaced with U+FFFD rather than rejected.
    public static func read(path: String) throws(ReadError) -> EnvironmentFile {
        switch FileContents.read(path: path, limit: FileContents.environmentFileLimit) {
        case .success(let bytes):
            return EnvironmentFile(parsing: String(decoding: bytes, as: UTF8.self))
        case .failure(let error):
            throw ReadError(path: path, reason: error.reason, errno: error.errno)
        }
    }

    /// An environment file that could not be read.
    public struct ReadError: Error, Sendable, Equatable, CustomStringConvertible {
        /// The path as given.
        public var path: String
        /// The system's description of the failure, e.g. `No such file or directory`.
        public var reason: String
        /// The `errno` value behind ``reason``.
        public var errno: Int32

        /// `cannot read PATH: reason`.
        public var description: String { "cannot read \(path): \(reason)" }
    }

    /// Whether `name` may be an environment variable's name: `[A-Za-z_][A-Za-z0-9_]*`, as systemd
    /// requires.
    public static func isValidName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, first == "_" || first.isASCIILetter else { return false }
        return name.unicodeScalars.allSatisfy { $0 == "_" || $0.isASCIILetter || ("0"..."9").contains($0) }
    }

    /// The state machine of systemd's `parse_env_file_internal`, fed one Unicode scalar at a time.
    private struct Parser {
        enum State {
            case preKey, key, preValue, value, valueEscape, singleQuote, doubleQuote, doubleQuoteEscape, comment
        }

        var state = State.preKey
        var line = 1
        var keyLine = 1
        var key: [Unicode.Scalar] = []
        /// The key's length without trailing whitespace.
        var keyEnd = 0
        var value: [Unicode.Scalar] = []
        /// Where the value's trailing unquoted whitespace starts, if it ends in some.
        var valueWhitespaceStart: Int?
        var variables: [EnvironmentVariable] = []
        var problems: [Problem] = []

        static func isNewline(_ c: Unicode.Scalar) -> Bool { c == "\n" || c == "\r" }
        static func isWhitespace(_ c: Unicode.Scalar) -> Bool { c == " " || c == "\t" || isNewline(c) }

        mutating func consume(_ c: Unicode.Scalar) {
            switch state {
            case .preKey:
                if c == "#" || c == ";" {
                    state = .comment
                } else if !Self.isWhitespace(c) {
                    keyLine = line
                    key = []
                    keyEnd = 0
                    value = []
                    valueWhitespaceStart = nil
                    if c == "=" {
                        state = .preValue
                    } else {
                        state = .key
                        appendToKey(c)
                    }
                }
            case .key:
                if Self.isNewline(c) {
                    reportMissingEquals()
                    state = .preKey
                } else if c == "=" {
                    state = .preValue
                } else {
                    appendToKey(c)
                }
            case .preValue:
                if Self.isNewline(c) {
                    push()
                } else if c == "'" {
                    state = .singleQuote
                } else if c == "\"" {
                    state = .doubleQuote
                } else if c == "\\" {
                    state = .valueEscape
                } else if !Self.isWhitespace(c) {
                    state = .value
                    value.append(c)
                }
            case .value:
                if Self.isNewline(c) {
                    chompTrailingWhitespace()
                    push()
                } else if c == "\\" {
                    state = .valueEscape
                    valueWhitespaceStart = nil
                } else {
                    if !Self.isWhitespace(c) {
                        valueWhitespaceStart = nil
                    } else if valueWhitespaceStart == nil {
                        valueWhitespaceStart = value.count
                    }
                    value.append(c)
                }
            case .valueEscape:
                state = .value
                if !Self.isNewline(c) {
                    value.append(c)
                }
            case .singleQuote:
                if c == "'" {
                    state = .preValue
                } else {
                    value.append(c)
                }
            case .doubleQuote:
                if c == "\"" {
                    state = .preValue
                } else if c == "\\" {
                    state = .doubleQuoteEscape
                } else {
                    value.append(c)
                }
            case .doubleQuoteEscape:
                state = .doubleQuote
                if "\"\\`$".unicodeScalars.contains(c) {
                    value.append(c)
                } else if c != "\n" {
                    value.append("\\")
                    value.append(c)
                }
            case .comment:
                if Self.isNewline(c) {
                    state = .preKey
                }
            }
            if c == "\n" {
                line += 1
            }
        }

        mutating func finish() {
            switch state {
            case .preKey, .comment:
                break
            case .key:
                reportMissingEquals()
            case .value:
                chompTrailingWhitespace()
                push()
            case .preValue, .valueEscape:
                push()
            case .singleQuote, .doubleQuote, .doubleQuoteEscape:
                let quote = state == .singleQuote ? "'" : "\""
                problems.append(Problem(
                    line: keyLine,
                    message: "the quoted value of \(name) is never closed; add the closing \(quote)"
                ))
            }
            state = .preKey
        }

        var name: String {
            var text = ""
            text.unicodeScalars.append(contentsOf: key.prefix(keyEnd))
            return text
        }

        mutating func appendToKey(_ c: Unicode.Scalar) {
            key.append(c)
            if !Self.isWhitespace(c) {
                keyEnd = key.count
            }
        }

        mutating func chompTrailingWhitespace() {
            if let start = valueWhitespaceStart {
                value.removeSubrange(start...)
            }
        }

        mutating func reportMissingEquals() {
            problems.append(Problem(line: keyLine, message: "\(name.debugDescription) has no \"=\"; write \(name)=value"))
        }

        mutating func push() {
            state = .preKey
            let name = self.name
            if EnvironmentFile.isValidName(name), value.contains("\0") {
                // execve would cut the value there without a word.
                problems.append(Problem(line: keyLine, message: "the value of \(name) contains a NUL byte, which no environment variable can hold; remove it"))
            } else if EnvironmentFile.isValidName(name) {
                var text = ""
                text.unicodeScalars.append(contentsOf: value)
                variables.append(EnvironmentVariable(name: name, value: text))
            } else if name.isEmpty {
                problems.append(Problem(line: keyLine, message: "an assignment has no variable name; write NAME=value"))
            } else if name.hasPrefix("export "), EnvironmentFile.isValidName(String(name.dropFirst(7))) {
                problems.append(Problem(
                    line: keyLine,
                    message: "\(name.debugDescription) is not a valid variable name; systemd reads no \"export\", so drop it"
                ))
            } else {
                problems.append(Problem(
                    line: keyLine,
                    message: "\(name.debugDescription) is not a valid variable name; use letters, digits and _, not starting with a digit"
                ))
            }
        }
    }
}

extension Unicode.Scalar {
    fileprivate var isASCIILetter: Bool { ("a"..."z").contains(self) || ("A"..."Z").contains(self) }
}
