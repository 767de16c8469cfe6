/// Finds the valid spelling a typo was probably meant to be, for "did you mean ...?" hints.
enum KeySuggestion {
    /// The candidate nearest to `typo`, if it is close enough to be a likely typo: at most one
    /// edit for short words, and at most a quarter of the word's length (up to 3) for longer ones.
    /// An edit is an insertion, a deletion, a substitution or a swap of neighbours; case is
    /// ignored, so `Command` suggests `command`. Ties go to the earlier candidate.
    static func nearest(to typo: String, among candidates: [String]) -> String? {
        let typoScalars = Array(typo.lowercased().unicodeScalars)
        var best: (candidate: String, distance: Int)?
        for candidate in candidates {
            let limit = min(3, max(1, candidate.count / 4))
            let distance = editDistance(typoScalars, Array(candidate.lowercased().unicodeScalars))
            if distance <= limit, distance < (best?.distance ?? .max) {
                best = (candidate, distance)
            }
        }
        return best?.candidate
    }

    /// The optimal string alignment distance (Damerau-Levenshtein without repeated edits of one
    /// substring), so that `restart-dealy` is one edit from `restart-delay`.
    static func editDistance(_ a: [Unicode.Scalar], _ b: [Unicode.Scalar]) -> Int {
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previousPrevious = [Int](repeating: 0, count: b.count + 1)
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                    current[j] = min(current[j], previousPrevious[j - 2] + 1)
                }
            }
            (previousPrevious, previous, current) = (previous, current, previousPrevious)
        }
        return previous[b.count]
    }
}
