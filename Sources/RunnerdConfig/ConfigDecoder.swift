import Yams

/// Walks a composed config, turning it into a `DaemonConfig` while collecting every problem.
///
/// Each `decode...` method reports what is wrong with its part and returns the best value it can
/// (a default in place of a bad value), so that decoding always reaches the end of the file. The
/// result is only used when no problem was reported.
package struct ConfigDecoder {
    let file: String
    let document: YAMLDocument
    /// The daemon's environment: `PATH` for finding commands.
    let environment: [String: String]
    /// Where relative environment-file paths start from: the config file's directory.
    let configDirectory: String
    private(set) var errors: [ConfigError] = []
    /// The user whose service is being decoded, when it has `user:` or `group:`: its programs
    /// and working directory are judged as that user, who will use them.
    var serviceUser: UserAccess?
    /// Names and references for the checks of `after:` and `binds-to:` (see `checkOrder`).
    var order = OrderNotes()
    /// Each command's lookup, made once per load: many services run the same program, and a bare
    /// name costs a `stat` per `PATH` directory.
    private var resolvedPrograms: [ProgramLookup: Result<String, ExecutableLookup.Failure>] = [:]

    /// What a command's lookup depends on.
    private struct ProgramLookup: Hashable {
        var program: String
        var searchPath: String?
        /// Only for names with a `/`, which the working directory can complete.
        var workingDirectory: String?
        var user: UserAccess?
    }

    init(file: String, document: YAMLDocument, environment: [String: String]) {
        self.file = file
        self.document = document
        self.environment = environment
        if let slash = file.lastIndex(of: "/") {
            configDirectory = slash == file.startIndex ? "/" : String(file[..<slash])
        } else {
            configDirectory = "."
        }
    }

    /// `program` looked up as the spawn will find it, once per load for each program.
    mutating func resolve(_ program: String, workingDirectory: String?) -> Result<String, ExecutableLookup.Failure> {
        let key = ProgramLookup(
            program: program, searchPath: environment["PATH"],
            workingDirectory: program.contains("/") ? workingDirectory : nil, user: serviceUser)
        if let known = resolvedPrograms[key] {
            return known
        }
        let result = ExecutableLookup.resolve(
            program, searchPath: key.searchPath, workingDirectory: workingDirectory, user: serviceUser)
        resolvedPrograms[key] = result
        return result
    }

    // MARK: Reporting

    mutating func report(_ mark: Mark?, _ keyPath: String, _ message: String) {
        let (line, column) = document.position(of: mark)
        errors.append(ConfigError(file: file, line: line, column: column, keyPath: keyPath, message: message))
    }

    /// Reports at the value of `entry`.
    mutating func report(_ entry: Entry, _ message: String) {
        report(entry.value.mark, entry.path, message)
    }

    /// The line of a node, for "the first is on line N".
    func line(of mark: Mark?) -> Int {
        document.position(of: mark).line
    }

    // MARK: Maps

    /// One key and its value in a map, with the key path of the value.
    struct Entry {
        var name: String
        var key: Node
        var value: Node
        var path: String
        var keyMark: Mark? { key.mark }
    }

    /// The keys of a map with a fixed set of keys, each with its first occurrence.
    struct Fields {
        var entries: [String: Entry] = [:]
        /// The path of the map itself and the mark of the key that introduced it, for "is missing".
        var path: String
        var mark: Mark?

        subscript(_ name: String) -> Entry? { entries[name] }

        /// The path of a key in this map, whether or not it is present.
        func path(_ name: String) -> String { ConfigDecoder.join(path, name) }
    }

    static func join(_ path: String, _ key: String) -> String {
        // A key with a control character (a newline, an escape) is quoted and escaped, so that
        // one error stays one line of plain text.
        let printable = key.unicodeScalars.contains { $0.properties.generalCategory == .control } ? key.debugDescription : key
        return path.isEmpty ? printable : "\(path).\(printable)"
    }

    /// The entries of a map, in file order, with keys as written (duplicates included); nil, with
    /// a report, when `node` is not a map. `hint` finishes the wrong-type message.
    mutating func entries(of node: Node, path: String, keyMark: Mark?, hint: String) -> [Entry]? {
        guard case .mapping(let mapping) = node else {
            if case .scalar(let scalar) = node, !isNull(node) {
                report(node.mark ?? keyMark, path, "\(scalar.string.debugDescription) is not a map; \(hint)")
            } else {
                report(node.mark ?? keyMark, path, "\(kind(of: node)); \(hint)")
            }
            return nil
        }
        var result: [Entry] = []
        for (key, value) in mapping {
            guard let name = document.keyText(key) else {
                report(key.mark, path, "a key here is \(kind(of: key).dropFirst(3)); keys are plain words")
                continue
            }
            result.append(Entry(name: name, key: key, value: value, path: Self.join(path, name)))
        }
        return result
    }

    /// Reads a map whose keys must come from `allowed`. Unknown keys are reported with the
    /// nearest valid spelling or where they belong (`misplaced(name)`); a repeated key is reported
    /// at its second occurrence. Returns nil, with a report, when `node` is not a map.
    mutating func fields(
        of node: Node, path: String, keyMark: Mark?, allowed: [String], hint: String,
        misplaced: (String) -> String? = { _ in nil }
    ) -> Fields? {
        guard let entries = entries(of: node, path: path, keyMark: keyMark, hint: hint) else { return nil }
        var fields = Fields(path: path, mark: keyMark)
        for entry in entries {
            if let first = fields.entries[entry.name] {
                report(entry.keyMark, entry.path, "is set twice; the first is on line \(line(of: first.keyMark)); remove one")
            } else if allowed.contains(entry.name) {
                fields.entries[entry.name] = entry
            } else if entry.name == "<<" {
                report(entry.keyMark, entry.path, "YAML merge keys (<<) are not supported; write the settings out, or put shared limits in defaults:")
            } else if let suggestion = KeySuggestion.nearest(to: entry.name, among: allowed) {
                report(entry.keyMark, entry.path, "unknown key; did you mean \(suggestion)?")
            } else if let belongs = misplaced(entry.name) {
                report(entry.keyMark, entry.path, "unknown key; \(belongs)")
            } else {
                report(entry.keyMark, entry.path, "unknown key; valid keys here are \(Self.list(allowed))")
            }
        }
        return fields
    }

    /// Reads a map of names (groups, services, variables): each name must pass `validate` (which
    /// returns a message when it does not), and a repeated name is reported at its second
    /// occurrence as `duplicate`.
    mutating func namedEntries(
        of node: Node, path: String, keyMark: Mark?, hint: String, duplicate: String,
        validate: (String) -> String?
    ) -> [Entry]? {
        guard let entries = entries(of: node, path: path, keyMark: keyMark, hint: hint) else { return nil }
        var firstLines: [String: Int] = [:]
        var result: [Entry] = []
        for entry in entries {
            if let firstLine = firstLines[entry.name] {
                report(entry.keyMark, entry.path, "\(duplicate); the first is on line \(firstLine); rename or remove one")
                continue
            }
            firstLines[entry.name] = line(of: entry.keyMark)
            if let problem = validate(entry.name) {
                report(entry.keyMark, entry.path, problem)
                continue
            }
            result.append(entry)
        }
        return result
    }

    // MARK: Scalars

    /// `is a map`, `is a list`, `has no value`, or `"text"` (a scalar, quoted as written).
    func kind(of node: Node) -> String {
        switch node {
        case .mapping: return "is a map"
        case .sequence: return "is a list"
        case .alias: return "is an alias"
        case .scalar(let scalar):
            if isNull(node) { return "has no value" }
            return scalar.string.debugDescription
        }
    }

    func isNull(_ node: Node) -> Bool {
        guard case .scalar(let scalar) = node, scalar.style == .plain || scalar.style == .any else { return false }
        return tagName(of: scalar) == .null
    }

    /// A scalar's tag: the one written (`!!null ~`), or for an untagged scalar the one Yams'
    /// default resolver gives it, as far as the decoder asks: null and booleans (YAML 1.1's
    /// words for them); anything else is text here. The document is composed with Yams' basic
    /// resolver instead, because the default one matches every scalar against seven regular
    /// expressions, and Yams resolves every key's tag to check a map for duplicates: that was
    /// most of the time of loading a config.
    func tagName(of scalar: Node.Scalar) -> Tag.Name {
        // `description` is the tag as parsed, without resolving it; "" when none was written.
        let written = scalar.tag.description
        guard written.isEmpty else { return written == "!" ? .str : Tag.Name(rawValue: written) }
        switch scalar.string {
        case "", "~", "null", "Null", "NULL":
            return .null
        case "yes", "Yes", "YES", "no", "No", "NO", "true", "True", "TRUE", "false", "False", "FALSE",
             "on", "On", "ON", "off", "Off", "OFF":
            return .bool
        default:
            return .str
        }
    }

    /// The text of a scalar value (numbers and booleans as written); nil, with a report ending in
    /// `hint`, for a map, a list or no value.
    mutating func string(_ entry: Entry, hint: String) -> String? {
        guard case .scalar(let scalar) = entry.value, !isNull(entry.value) else {
            report(entry, "\(kind(of: entry.value)); \(hint)")
            return nil
        }
        // Every string ends up as a C string (an argument, a variable, a path, a name), which
        // would silently end at the NUL: "/bin/echo\0rm" would run /bin/echo.
        guard !scalar.string.utf8.contains(0) else {
            report(entry, "\(scalar.string.debugDescription) contains a NUL byte, which no argument, path, name or variable can hold; remove it")
            return nil
        }
        return scalar.string
    }

    /// A plain `true` or `false`.
    mutating func bool(_ entry: Entry) -> Bool? {
        guard case .scalar(let scalar) = entry.value, !isNull(entry.value) else {
            report(entry, "\(kind(of: entry.value)); write true or false")
            return nil
        }
        if tagName(of: scalar) == .bool, ["true", "True", "TRUE"].contains(scalar.string) {
            return true
        }
        if tagName(of: scalar) == .bool, ["false", "False", "FALSE"].contains(scalar.string) {
            return false
        }
        if scalar.style != .plain, ["true", "false"].contains(scalar.string.lowercased()) {
            report(entry, "\(scalar.string.debugDescription) is quoted, so it is text; write \(scalar.string.lowercased()) without quotes")
        } else {
            report(entry, "\(scalar.string.debugDescription) is not true or false; write true or false")
        }
        return nil
    }

    /// A whole number of at least `minimum`, written in decimal without quotes.
    mutating func count(_ entry: Entry, minimum: Int, example: Int) -> Int? {
        guard case .scalar(let scalar) = entry.value, !isNull(entry.value) else {
            report(entry, "\(kind(of: entry.value)); write a whole number such as \(example)")
            return nil
        }
        let text = scalar.string
        // Decimal digits only, with a minus for the message below: Int("+5") would read 5.
        let digits = text.hasPrefix("-") ? text.utf8.dropFirst() : text.utf8[...]
        let decimal = digits.allSatisfy { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }
        guard decimal || Int(text) == nil else {
            report(entry, "\(text.debugDescription) is not written in decimal digits; write e.g. \(example)")
            return nil
        }
        guard let number = Int(text), scalar.style == .plain || scalar.style == .any else {
            if Int(text) != nil {
                report(entry, "\(text.debugDescription) is quoted, so it is text; write \(text) without quotes")
            } else {
                report(entry, "\(text.debugDescription) is not a whole number; write a number such as \(example)")
            }
            return nil
        }
        guard number >= minimum else {
            let least = minimum == 0 ? "0 or more" : "at least \(minimum)"
            report(entry, "\(text.debugDescription) is \(number < 0 ? "negative" : "too small"); write \(least), e.g. \(example)")
            return nil
        }
        return number
    }

    /// A duration (see `DurationText`), at least zero, or more than zero unless `allowZero`.
    /// `example` is what the messages suggest writing.
    /// The shortest value a duration that must be longer than 0 may have.
    static let shortestPeriod = Duration.milliseconds(1)

    mutating func duration(_ entry: Entry, allowZero: Bool, example: Duration) -> Duration? {
        let exampleText = DurationText.format(example)
        guard case .scalar(let scalar) = entry.value, !isNull(entry.value) else {
            report(entry, "\(kind(of: entry.value)); write a duration, e.g. \(exampleText)")
            return nil
        }
        let text = scalar.string
        let quoted = text.debugDescription
        switch DurationText.parse(text) {
        case .success(let duration):
            if duration == .zero, !allowZero {
                report(entry, "\(quoted) must be longer than 0; write e.g. \(exampleText)")
                return nil
            }
            // A period the daemon waits for between attempts: below a millisecond it would
            // busy-loop (0.0000001s once made a health check spin), so that is the resolution.
            if !allowZero, duration < Self.shortestPeriod {
                report(entry, "\(quoted) is shorter than 1ms, the shortest runnerd waits; write e.g. \(exampleText)")
                return nil
            }
            return duration
        case .failure(.negative):
            report(entry, "\(quoted) is negative; write \(allowZero ? "0 or more" : "a positive duration"), e.g. \(exampleText)")
        case .failure(.noUnit):
            report(entry, "\(quoted) has no unit; write e.g. \(text)s")
        case .failure(.unknownUnit(let unit)):
            report(entry, "\(quoted) has an unknown unit \(unit.debugDescription); use ms, s, m or h, e.g. \(exampleText)")
        case .failure(.malformed):
            report(entry, "\(quoted) is not a duration; write e.g. \(exampleText), 250ms or 1m30s")
        case .failure(.tooLong):
            report(entry, "\(quoted) is too long; write at most a few years, e.g. \(exampleText)")
        }
        return nil
    }

    /// `a, b or c`.
    static func list(_ words: [String], conjunction: String = "and") -> String {
        guard words.count > 1 else { return words.first ?? "" }
        return words.dropLast().joined(separator: ", ") + " \(conjunction) " + words.last!
    }
}
