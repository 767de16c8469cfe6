/// A parsed `log-line` pattern: the tree that `LogLinePatternParser` builds and
/// `LogLinePatternProgram` compiles. Groups leave no node of their own (nothing is captured).
indirect enum LogLinePatternSyntax: Sendable, Equatable {
    /// Matches the empty string (an empty pattern, or an empty branch such as `a|`).
    case empty
    /// One Unicode scalar, exactly.
    case scalar(Unicode.Scalar)
    /// One scalar from a class (`.`, `[a-z]`, `\d`, or a letter under `(?i)`).
    case oneOf(LogLinePatternClass)
    /// A zero-width test between two scalars.
    case assertion(Assertion)
    /// Each part in turn.
    case sequence([LogLinePatternSyntax])
    /// Any one of the branches.
    case alternation([LogLinePatternSyntax])
    /// `body` at least `minimum` and at most `maximum` times (nil: no limit). Laziness is not
    /// kept: it changes which match is found, never whether one is.
    case repetition(LogLinePatternSyntax, minimum: Int, maximum: Int?)

    enum Assertion: Sendable, Equatable {
        /// `^` or `\A`: the start of the line.
        case lineStart
        /// `$`, `\z` or `\Z`: the end of the line (its `\r\n` or `\n` already removed).
        case lineEnd
        /// `\b`: a word character (`\w`) on exactly one side.
        case wordBoundary
        /// `\B`: word characters on both sides or on neither.
        case notWordBoundary
    }

    /// U+FFFD, which stands for every ill-formed byte sequence of a line too: text with it in is
    /// no text to search the line's bytes for.
    static let replacement: Unicode.Scalar = "\u{FFFD}"

    /// The text itself when the tree is a plain run of scalars, with no class, anchor or
    /// repetition: such a pattern matches exactly the lines that contain that text.
    var plainText: String? {
        switch self {
        case .empty: return ""
        case .scalar(let scalar): return scalar == Self.replacement ? nil : String(Character(scalar))
        case .sequence(let parts):
            var text = String.UnicodeScalarView()
            for part in parts {
                guard case .scalar(let scalar) = part, scalar != Self.replacement else { return nil }
                text.append(scalar)
            }
            return String(text)
        default: return nil
        }
    }

    /// The longest run of scalars that every match contains ("" when none is known). A run is
    /// a stretch of consecutive literal scalars within one sequence; a part that may repeat or
    /// branch ends the run, though a part that must occur at least once offers its own.
    var requiredText: String {
        String(requiredScalars)
    }

    private var requiredScalars: String.UnicodeScalarView {
        switch self {
        case .empty, .oneOf, .assertion, .alternation:
            // A branch could contribute what all of its branches share; not worth the code.
            return String.UnicodeScalarView()
        case .scalar(let scalar):
            var view = String.UnicodeScalarView()
            if scalar != Self.replacement { view.append(scalar) }
            return view
        case .repetition(let body, let minimum, _):
            return minimum >= 1 ? body.requiredScalars : String.UnicodeScalarView()
        case .sequence(let parts):
            var best = String.UnicodeScalarView()
            var run = String.UnicodeScalarView()
            for part in parts {
                if case .scalar(let scalar) = part, scalar != Self.replacement {
                    run.append(scalar)
                    continue
                }
                if run.count > best.count { best = run }
                run = String.UnicodeScalarView()
                let inner = part.requiredScalars
                if inner.count > best.count { best = inner }
            }
            return run.count > best.count ? run : best
        }
    }
}
