/// Reads a `log-line` pattern into a `LogLinePatternSyntax` tree, accepting only what a
/// linear-time engine can run (see docs/config.md for the syntax), and rejecting the rest with a
/// `LogLinePatternProblem` that names the construct, its position (in characters, from 1) and
/// what to write instead.
struct LogLinePatternParser {
    /// The largest count a `{m,n}` quantifier may use.
    static let maximumCount = 1000
    /// The deepest groups may nest: the parser recurses once per level, and a pattern of a
    /// hundred thousand `(` must be an error, not a stack overflow.
    static let maximumDepth = 100

    private let scalars: [Unicode.Scalar]
    private var position = 0
    /// Whether the pattern starts with `(?i)`.
    private(set) var caseInsensitive = false
    /// How many groups are open around `position`.
    private var depth = 0

    private init(_ pattern: String) {
        scalars = Array(pattern.unicodeScalars)
    }

    /// The tree of `pattern`, and whether it matches case-insensitively.
    static func parse(_ pattern: String) throws(LogLinePatternProblem) -> (syntax: LogLinePatternSyntax, caseInsensitive: Bool) {
        var parser = LogLinePatternParser(pattern)
        if parser.scalars.starts(with: "(?i)".unicodeScalars) {
            parser.caseInsensitive = true
            parser.position = 4
        }
        let syntax = try parser.parseAlternation()
        if parser.position < parser.scalars.count {
            // Only an unmatched `)` stops the top-level alternation early.
            throw .syntax("the ) at character \(parser.position + 1) closes no group; remove it, or write \\) to match a )")
        }
        return (syntax, parser.caseInsensitive)
    }

    // MARK: - Reading

    private var peek: Unicode.Scalar? { position < scalars.count ? scalars[position] : nil }

    private func peek(_ offset: Int) -> Unicode.Scalar? {
        position + offset < scalars.count ? scalars[position + offset] : nil
    }

    /// The text from `start` (a scalar index) for `count` scalars, for messages.
    private func text(from start: Int, count: Int) -> String {
        var view = String.UnicodeScalarView()
        view.append(contentsOf: scalars[start..<min(start + count, scalars.count)])
        return String(view)
    }

    // MARK: - Structure

    private mutating func parseAlternation() throws(LogLinePatternProblem) -> LogLinePatternSyntax {
        var branches = [try parseSequence()]
        while peek == "|" {
            position += 1
            branches.append(try parseSequence())
        }
        return branches.count == 1 ? branches[0] : .alternation(branches)
    }

    private mutating func parseSequence() throws(LogLinePatternProblem) -> LogLinePatternSyntax {
        var parts: [LogLinePatternSyntax] = []
        while let next = peek, next != "|" {
            if next == ")" {
                if depth > 0 { break }
                throw .syntax("the ) at character \(position + 1) closes no group; remove it, or write \\) to match a )")
            }
            let atom = try parseAtom()
            parts.append(try parseQuantifier(of: atom))
        }
        switch parts.count {
        case 0: return .empty
        case 1: return parts[0]
        default: return .sequence(parts)
        }
    }

    private mutating func parseAtom() throws(LogLinePatternProblem) -> LogLinePatternSyntax {
        let start = position
        let scalar = scalars[position]
        position += 1
        switch scalar {
        case "(":
            return try parseGroup(openedAt: start)
        case "[":
            return .oneOf(try parseClass(openedAt: start))
        case ".":
            return .oneOf(.anyButLineTerminator)
        case "^":
            return .assertion(.lineStart)
        case "$":
            return .assertion(.lineEnd)
        case "\\":
            return try parseEscape(at: start)
        case "*", "+", "?":
            throw .syntax("the \(scalar) at character \(start + 1) follows nothing it could repeat; write \\\(scalar) to match a \(scalar)")
        case "{" where countQuantifier(at: start) != nil:
            throw .syntax("the \(text(from: start, count: countLength(at: start))) at character \(start + 1) follows nothing it could repeat; write \\{ to match a {")
        default:
            return literal(scalar)
        }
    }

    private func literal(_ scalar: Unicode.Scalar) -> LogLinePatternSyntax {
        // A scalar without another case stays a plain scalar, so that it can serve as required text.
        guard caseInsensitive, scalar.properties.changesWhenCaseMapped else { return .scalar(scalar) }
        return .oneOf(LogLinePatternClass.eitherCase(scalar))
    }

    private mutating func parseGroup(openedAt start: Int) throws(LogLinePatternProblem) -> LogLinePatternSyntax {
        if peek == "?" {
            switch (peek(1), peek(2)) {
            case (":", _):
                position += 2
            case ("<", "="), ("<", "!"):
                throw .needsBacktracking("a lookbehind \(text(from: start, count: 4))", at: start + 1, instead: "match the text before it as part of the pattern")
            case ("=", _), ("!", _):
                throw .needsBacktracking("a lookahead \(text(from: start, count: 3))", at: start + 1, instead: "match the text after it as part of the pattern")
            case ("<", _), ("P", "<"), ("'", _):
                // A named group: nothing is captured, so the name does not matter.
                let close: Unicode.Scalar = peek(1) == "'" ? "'" : ">"
                guard let end = scalars[position...].firstIndex(of: close) else {
                    throw .syntax("the group name at character \(start + 1) is not closed; write (?<name>...)")
                }
                position = end + 1
            case (">", _):
                throw .unsupported("an atomic group (?>", at: start + 1, instead: "write a plain group (?:...) instead")
            case ("(", _):
                throw .unsupported("a conditional (?(", at: start + 1, instead: "write an alternation such as (a|b) instead")
            case ("P", "="), ("P", ">"), ("&", _), ("R", _):
                throw .needsBacktracking("a reference to a group \(text(from: start, count: 3))", at: start + 1, instead: "repeat the text itself instead")
            case (let option?, _) where option.properties.isAlphabetic || option == "-" || option == "^":
                let length = scalars[(position + 1)...].prefix { $0 != ")" && $0 != ":" }.count
                throw .unsupported(
                    "the inline option \(text(from: start, count: 2 + length))", at: start + 1,
                    instead: "only (?i) at the very start is supported, for case-insensitive matching"
                )
            default:
                throw .unsupported("the group syntax \(text(from: start, count: 3))", at: start + 1, instead: "write a plain group (...) or (?:...) instead")
            }
        }
        guard depth < Self.maximumDepth else {
            throw LogLinePatternProblem("nests groups more than \(Self.maximumDepth) deep at character \(start + 1); write fewer groups")
        }
        depth += 1
        let body = try parseAlternation()
        depth -= 1
        guard peek == ")" else {
            throw .syntax("the ( at character \(start + 1) is not closed; close it with ), or write \\( to match a (")
        }
        position += 1
        return body
    }

    // MARK: - Quantifiers

    private mutating func parseQuantifier(of atom: LogLinePatternSyntax) throws(LogLinePatternProblem) -> LogLinePatternSyntax {
        guard let next = peek else { return atom }
        let start = position
        let minimum: Int
        let maximum: Int?
        switch next {
        case "*": (minimum, maximum) = (0, nil); position += 1
        case "+": (minimum, maximum) = (1, nil); position += 1
        case "?": (minimum, maximum) = (0, 1); position += 1
        case "{":
            guard let count = countQuantifier(at: start) else { return atom }
            let written = text(from: start, count: countLength(at: start))
            if let maximum = count.maximum, count.minimum > maximum {
                throw .syntax("the count \(written) at character \(start + 1) has its minimum above its maximum; write {\(maximum),\(count.minimum)}")
            }
            if max(count.minimum, count.maximum ?? 0) > Self.maximumCount {
                throw LogLinePatternProblem(
                    "repeats \(written) at character \(start + 1), more than the \(Self.maximumCount) times a log-line pattern may count; use + or * for long runs"
                )
            }
            (minimum, maximum) = count
            position += countLength(at: start)
        default:
            return atom
        }
        let quantifier = text(from: start, count: position - start)
        if peek == "+" {
            throw .unsupported("the possessive quantifier \(quantifier)+", at: start + 1, instead: "write \(quantifier) instead")
        }
        if peek == "?" { position += 1 }  // Lazy: the same lines match.
        if let after = peek, after == "*" || after == "+" || after == "?" || (after == "{" && countQuantifier(at: position) != nil) {
            throw .syntax("the \(after) at character \(position + 1) follows another quantifier; group the first, as in (a\(quantifier))\(after)")
        }
        return .repetition(atom, minimum: minimum, maximum: maximum)
    }

    /// The counts of a `{m}`, `{m,}`, `{m,n}` or `{,n}` quantifier starting at `start`, or nil
    /// when the text there is not one (then `{` is a literal brace, as in `{"ok":true}`).
    private func countQuantifier(at start: Int) -> (minimum: Int, maximum: Int?)? {
        let length = countLength(at: start)
        guard length > 0 else { return nil }
        let inside = text(from: start + 1, count: length - 2)
        let parts = inside.split(separator: ",", omittingEmptySubsequences: false)
        // Counts are capped before they are parsed, so that `{99999999999999999999}` is "too many", not invalid.
        func number(_ text: Substring) -> Int? { Int(text.prefix(9)).map { text.count > 9 ? Int.max : $0 } }
        switch parts.count {
        case 1:
            guard let count = number(parts[0]) else { return nil }
            return (count, count)
        case 2:
            if parts[0].isEmpty {
                guard let maximum = number(parts[1]) else { return nil }
                return (0, maximum)
            }
            guard let minimum = number(parts[0]) else { return nil }
            if parts[1].isEmpty { return (minimum, nil) }
            guard let maximum = number(parts[1]) else { return nil }
            return (minimum, maximum)
        default:
            return nil
        }
    }

    /// The length of `{digits,digits}` at `start`, braces included, or 0.
    private func countLength(at start: Int) -> Int {
        guard start < scalars.count, scalars[start] == "{" else { return 0 }
        var index = start + 1
        while index < scalars.count, scalars[index] == "," || (scalars[index].value >= 0x30 && scalars[index].value <= 0x39) {
            index += 1
        }
        guard index < scalars.count, scalars[index] == "}", index > start + 1 else { return 0 }
        return index - start + 1
    }

    // MARK: - Escapes

    /// What an escape outside a class stands for; `start` is the position of its backslash.
    private mutating func parseEscape(at start: Int) throws(LogLinePatternProblem) -> LogLinePatternSyntax {
        guard let letter = peek else {
            throw .syntax("it ends with a lone \\; write \\\\ to match a \\")
        }
        switch letter {
        case "b": position += 1; return .assertion(.wordBoundary)
        case "B": position += 1; return .assertion(.notWordBoundary)
        case "A": position += 1; return .assertion(.lineStart)
        case "z", "Z": position += 1; return .assertion(.lineEnd)
        case "1"..."9":
            let digits = scalars[position...].prefix { $0.value >= 0x30 && $0.value <= 0x39 }.count
            throw .needsBacktracking("the backreference \(text(from: start, count: 1 + digits))", at: start + 1, instead: "repeat the text itself instead")
        case "k", "g":
            throw .needsBacktracking("the backreference \\\(letter)", at: start + 1, instead: "repeat the text itself instead")
        default:
            break
        }
        switch try parseClassEscape(at: start) {
        case .scalar(let scalar): return literal(scalar)
        case .named(let named): return .oneOf(LogLinePatternClass(ranges: [], named: [named], caseInsensitive: caseInsensitive))
        }
    }

    private enum ClassEscape {
        case scalar(Unicode.Scalar)
        case named(LogLinePatternClass.NamedBuiltin)
    }

    /// An escape that stands for one scalar or a builtin class, in or outside a bracketed
    /// class; `start` is the position of its backslash, and `position` is just after it.
    private mutating func parseClassEscape(at start: Int) throws(LogLinePatternProblem) -> ClassEscape {
        guard let letter = peek else {
            throw .syntax("it ends with a lone \\; write \\\\ to match a \\")
        }
        position += 1
        switch letter {
        case "d": return .named(.init(builtin: .digit, negated: false))
        case "D": return .named(.init(builtin: .digit, negated: true))
        case "w": return .named(.init(builtin: .word, negated: false))
        case "W": return .named(.init(builtin: .word, negated: true))
        case "s": return .named(.init(builtin: .space, negated: false))
        case "S": return .named(.init(builtin: .space, negated: true))
        case "t": return .scalar("\t")
        case "n": return .scalar("\n")
        case "r": return .scalar("\r")
        case "f": return .scalar("\u{0C}")
        case "x", "u":
            return .scalar(try parseHexEscape(letter, at: start))
        case "p", "P":
            throw .unsupported("the Unicode property \\\(letter)", at: start + 1, instead: "write a class such as [A-Za-z] or \\w instead")
        case "Q", "E":
            throw .unsupported("the quoting \\\(letter)", at: start + 1, instead: "escape each special character with \\ instead")
        default:
            if letter.properties.isAlphabetic || (letter.value >= 0x30 && letter.value <= 0x39) {
                throw .unsupported(
                    "\\\(letter)", at: start + 1,
                    instead: "write \(letter) to match the character itself; the escapes there are: \\d \\D \\w \\W \\s \\S \\b \\B \\A \\z \\t \\n \\r \\f \\xHH \\x{H...} \\uHHHH"
                )
            }
            return .scalar(letter)
        }
    }

    /// `\xHH`, `\x{H...}`, `\uHHHH` or `\u{H...}`; `position` is just after the letter.
    private mutating func parseHexEscape(_ letter: Unicode.Scalar, at start: Int) throws(LogLinePatternProblem) -> Unicode.Scalar {
        let fixed = letter == "x" ? 2 : 4
        let example = letter == "x" ? "\\x41 or \\x{263A}" : "\\u263A or \\u{263A}"
        let problem = LogLinePatternProblem.syntax("the \\\(letter) at character \(start + 1) needs \(fixed) hex digits or {hex digits}, e.g. \(example)")
        let digits: Substring
        if peek == "{" {
            guard let close = scalars[position...].firstIndex(of: "}") else { throw problem }
            digits = Substring(text(from: position + 1, count: close - position - 1))
            position = close + 1
        } else {
            guard position + fixed <= scalars.count else { throw problem }
            digits = Substring(text(from: position, count: fixed))
            position += fixed
        }
        guard !digits.isEmpty, digits.count <= 8, let value = UInt32(digits, radix: 16) else { throw problem }
        guard let scalar = Unicode.Scalar(value) else {
            throw .syntax("the \\\(letter) at character \(start + 1) names \(digits), which is not a Unicode scalar")
        }
        return scalar
    }

    // MARK: - Classes

    /// A bracketed class; `position` is just after its `[`.
    private mutating func parseClass(openedAt start: Int) throws(LogLinePatternProblem) -> LogLinePatternClass {
        var negated = false
        if peek == "^" {
            negated = true
            position += 1
        }
        var ranges: [ClosedRange<UInt32>] = []
        var named: [LogLinePatternClass.NamedBuiltin] = []
        var first = true
        while true {
            guard let next = peek else {
                throw .syntax("the [ at character \(start + 1) is not closed; close it with ], or write \\[ to match a [")
            }
            if next == "]" && !first {
                position += 1
                break
            }
            first = false
            if next == "[" {
                throw .unsupported("a nested or POSIX class [ inside a class", at: position + 1, instead: "write \\[ to match a [")
            }
            if let following = peek(1), (next == "&" || next == "~" || next == "-") && following == next {
                throw .unsupported("the class operation \(next)\(next)", at: position + 1, instead: "list the characters in one class instead")
            }
            let itemStart = position
            let low: Unicode.Scalar
            switch try classItem() {
            case .named(let builtin):
                named.append(builtin)
                continue
            case .scalar(let scalar):
                low = scalar
            }
            guard peek == "-", let after = peek(1), after != "]" else {
                ranges.append(low.value...low.value)
                continue
            }
            position += 1
            guard case .scalar(let high) = try classItem() else {
                throw .syntax("the range at character \(itemStart + 1) ends in a class such as \\d; write \\- to match a -")
            }
            guard low <= high else {
                throw .syntax("the range \(text(from: itemStart, count: position - itemStart)) at character \(itemStart + 1) runs backwards; write \(high)-\(low)")
            }
            ranges.append(low.value...high.value)
        }
        return LogLinePatternClass(ranges: ranges, named: named, negated: negated, caseInsensitive: caseInsensitive)
    }

    /// One member of a class: a scalar, or an escape.
    private mutating func classItem() throws(LogLinePatternProblem) -> ClassEscape {
        let start = position
        let scalar = scalars[position]
        position += 1
        guard scalar == "\\" else { return .scalar(scalar) }
        if peek == "b" {
            throw .unsupported("\\b inside a class", at: start + 1, instead: "use \\b outside a class for a word boundary, or \\x08 for a backspace")
        }
        return try parseClassEscape(at: start)
    }
}
