import Yams

/// A config file composed into Yams nodes, tolerant of duplicate keys, with positions that point
/// into the text as written.
///
/// Yams' composer rejects a map that repeats a key, names only the first occurrence, and stops,
/// which would hide every other problem in the file. So when it does, the first occurrence's key
/// is renamed in a copy of the text (a marker is inserted at its start) and the copy is composed
/// again, until it composes. The decoder then sees both occurrences, strips the marker with
/// ``keyText(_:)`` and reports the second one with the first one's line. Positions of nodes on a
/// line that received a marker are shifted back by ``position(of:)``.
package struct YAMLDocument {
    /// The root node; nil for an empty document.
    let root: Node?
    /// The markers inserted into the text, each at the start of one key.
    private let markers: [String]
    /// The insertions, in the order they were made: each position is in the text as it was when
    /// that insertion was made (so after the earlier ones).
    private let insertions: [(line: Int, column: Int, length: Int)]

    /// A YAML syntax error, at the position libyaml reports.
    struct SyntaxError: Error {
        var line: Int
        var column: Int
        var message: String
    }

    /// How many duplicate keys are renamed at most. Each one costs a compose of the whole text,
    /// so without a bound a file of a thousand repeated keys took seconds (a fuzzer's find); past
    /// it, the next duplicate is reported as a syntax error, which ends the list of problems.
    static let maximumRenamedDuplicates = 20

    /// Composes `text`. A syntax error, or a duplicate key that cannot be renamed (one written
    /// with an anchor, a tag or as a collection, or one past `maximumRenamedDuplicates`), is
    /// returned as a `SyntaxError`.
    static func compose(_ text: String) -> Result<YAMLDocument, SyntaxError> {
        var current = text
        var markers: [String] = []
        var insertions: [(line: Int, column: Int, length: Int)] = []
        while true {
            do {
                // The basic resolver: no regular expressions (see ConfigDecoder.tagName(of:)).
                let root = try Yams.compose(yaml: current, .basic)
                return .success(YAMLDocument(root: root, markers: markers, insertions: insertions))
            } catch YamlError.duplicatedKeysInMapping(let duplicates, let context) {
                let marker = "runnerd~duplicate~\(markers.count)~"
                let key = duplicates.first ?? ""
                guard markers.count < Self.maximumRenamedDuplicates,
                      let (edited, column) = insert(marker, before: key, at: context.mark, in: current)
                else {
                    let original = unshift(line: context.mark.line, column: context.mark.column, insertions)
                    return .failure(SyntaxError(
                        line: original.line, column: original.column,
                        message: "the key \(key.debugDescription) appears twice in this map; remove or rename one"
                    ))
                }
                current = edited
                markers.append(marker)
                insertions.append((context.mark.line, column, marker.unicodeScalars.count))
            } catch let error as YamlError {
                let (line, column, message) = describe(error, in: current)
                let original = unshift(line: line, column: column, insertions)
                return .failure(SyntaxError(line: original.line, column: original.column, message: message))
            } catch {
                return .failure(SyntaxError(line: 0, column: 0, message: "invalid YAML: \(error)"))
            }
        }
    }

    /// The text of a key node, without any duplicate marker; nil for a key that is not a scalar.
    func keyText(_ node: Node) -> String? {
        guard case .scalar(let scalar) = node else { return nil }
        for marker in markers where scalar.string.hasPrefix(marker) {
            return String(scalar.string.dropFirst(marker.count))
        }
        return scalar.string
    }

    /// The line and column of `mark` in the text as written.
    func position(of mark: Mark?) -> (line: Int, column: Int) {
        guard let mark else { return (1, 1) }
        return Self.unshift(line: mark.line, column: mark.column, insertions)
    }

    private static func unshift(
        line: Int, column: Int, _ insertions: [(line: Int, column: Int, length: Int)]
    ) -> (line: Int, column: Int) {
        var column = column
        for insertion in insertions.reversed() where insertion.line == line && column > insertion.column {
            column -= insertion.length
        }
        return (line, column)
    }

    /// Inserts `marker` at the start of the key `key` found at `mark` (after any anchor or tag),
    /// or just inside its opening quote; returns the new text and the column of the insertion, or nil when the text at
    /// `mark` is not that key written plainly or in quotes.
    ///
    /// Lines are counted as libyaml counts them (see ``isLineBreak(_:)``), and columns in
    /// Unicode scalars, so that `mark` finds its line even in a file with `\r` line ends.
    private static func insert(_ marker: String, before key: String, at mark: Mark, in text: String) -> (String, Int)? {
        var scalars = Array(text.unicodeScalars)
        guard mark.line >= 1, mark.column >= 1, let lineStart = start(ofLine: mark.line, in: scalars) else { return nil }
        let lineEnd = scalars[lineStart...].firstIndex(where: isLineBreak) ?? scalars.endIndex
        var offset = lineStart + mark.column - 1
        guard offset < lineEnd else { return nil }
        // An anchor (`&a`) or a tag (`!!str`) may come before the key itself.
        while offset < lineEnd, scalars[offset] == "&" || scalars[offset] == "!" {
            while offset < lineEnd, scalars[offset] != " " { offset += 1 }
            while offset < lineEnd, scalars[offset] == " " { offset += 1 }
        }
        guard offset < lineEnd else { return nil }
        if scalars[offset] == "\"" || scalars[offset] == "'" {
            offset += 1
        }
        guard !key.isEmpty, scalars[offset..<lineEnd].starts(with: key.unicodeScalars) else { return nil }
        scalars.insert(contentsOf: marker.unicodeScalars, at: offset)
        var edited = ""
        edited.unicodeScalars.append(contentsOf: scalars)
        return (edited, offset - lineStart + 1)
    }

    /// Whether libyaml ends a line at `scalar`: LF, CR (CR LF counts once), NEL, LS and PS.
    package static func isLineBreak(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar {
        case "\n", "\r", "\u{85}", "\u{2028}", "\u{2029}": true
        default: false
        }
    }

    /// The index in `scalars` where 1-based line `line` starts, or nil past the last line.
    private static func start(ofLine line: Int, in scalars: [Unicode.Scalar]) -> Int? {
        var current = 1
        var index = 0
        while current < line {
            guard let found = scalars[index...].firstIndex(where: isLineBreak) else { return nil }
            index = found + (scalars[found] == "\r" && found + 1 < scalars.count && scalars[found + 1] == "\n" ? 2 : 1)
            current += 1
        }
        return index
    }

    /// The position and message for a libyaml error.
    private static func describe(_ error: YamlError, in text: String) -> (Int, Int, String) {
        let hint = "; check the indentation, quotes and brackets here"
        switch error {
        case .scanner(let context, let problem, let mark, _),
             .parser(let context, let problem, let mark, _),
             .composer(let context, let problem, let mark, _):
            var message = "invalid YAML: \(problem)"
            if let context {
                message += " (\(context.text) from line \(context.mark.line), column \(context.mark.column))"
            }
            return (mark.line, mark.column, message + hint)
        case .reader(let problem, let offset, _, _):
            let (line, column) = offset.map { lineAndColumn(ofCharacter: $0, in: text) } ?? (0, 0)
            return (line, column, "invalid YAML: \(problem); remove or replace that character")
        default:
            return (0, 0, "invalid YAML: \(error)")
        }
    }

    /// The line and column of the character at `offset` (Yams counts reader errors in
    /// `Character`s), with lines ended as libyaml ends them and columns in Unicode scalars.
    private static func lineAndColumn(ofCharacter offset: Int, in text: String) -> (Int, Int) {
        var line = 1
        var column = 1
        for character in text.prefix(offset) {
            // "\r\n" is one Character, and libyaml's one line break.
            if character.unicodeScalars.contains(where: isLineBreak) {
                line += 1
                column = 1
            } else {
                column += character.unicodeScalars.count
            }
        }
        return (line, column)
    }
}
