/// An environment for a child, as `NAME=value` entries: the daemon's, parsed once, to which each
/// service adds or replaces a few variables.
///
/// Every service starts from the same base, so a spawn copies the base's entries (sharing their
/// strings) and only builds the entries it sets, instead of taking the whole environment apart
/// and joining it again for every child.
struct ChildEnvironment: Sendable, Equatable {
    /// One entry per name, each where the name first appeared, with the value it was last given.
    private(set) var entries: [String]
    /// Where each name of the base is in `entries`.
    private let basePositions: [String: Int]
    /// Where each name added after the base is in `entries`: a dictionary, so that a service
    /// with 20,000 variables costs 20,000 look-ups, not 200 million comparisons (issue 14).
    private var addedPositions: [String: Int] = [:]

    /// The environment of `entries`. Entries without `=` are dropped; of a name given more than
    /// once, the last value is kept, at the first one's place.
    init(_ entries: [String]) {
        var kept: [String] = []
        var positions: [String: Int] = [:]
        for entry in entries {
            guard let equals = entry.firstIndex(of: "=") else { continue }
            let name = String(entry[..<equals])
            if let position = positions[name] {
                kept[position] = entry
            } else {
                positions[name] = kept.count
                kept.append(entry)
            }
        }
        self.entries = kept
        self.basePositions = positions
    }

    /// Sets `name` to `value`: in place if the name is there already, or at the end.
    mutating func set(_ name: String, _ value: String) {
        let entry = "\(name)=\(value)"
        if let position = basePositions[name] {
            entries[position] = entry
        } else if let position = addedPositions[name] {
            entries[position] = entry
        } else {
            addedPositions[name] = entries.count
            entries.append(entry)
        }
    }

}
