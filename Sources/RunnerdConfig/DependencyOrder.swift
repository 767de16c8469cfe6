/// The order that `after:` (and, between groups, `binds-to:`) puts on a set of names: which
/// start in which wave, and the cycles that make an order impossible.
///
/// Pure and deterministic: waves and cycles follow the order in which the names were given, so
/// that `runnerd check` prints the same plan each time.
public struct DependencyOrder: Sendable, Equatable {
    /// The names, in the order given (file order).
    public let names: [String]
    /// For each name, the names it starts after; names not in ``names`` are ignored.
    public let dependencies: [String: [String]]

    /// An order over `names`, where `dependencies[x]` lists what `x` starts after.
    public init(names: [String], dependencies: [String: [String]]) {
        self.names = names
        var known: [String: [String]] = [:]
        let members = Set(names)
        for name in names {
            var seen: Set<String> = []
            known[name] = (dependencies[name] ?? []).filter { members.contains($0) && seen.insert($0).inserted }
        }
        self.dependencies = known
    }

    /// Whether any name starts after another.
    public var isOrdered: Bool {
        dependencies.values.contains { !$0.isEmpty }
    }

    /// For each name, the names that start after it.
    public var dependents: [String: [String]] {
        var result: [String: [String]] = [:]
        for name in names {
            for dependency in dependencies[name] ?? [] { result[dependency, default: []].append(name) }
        }
        return result
    }

    /// The start plan: wave 1 holds the names that start after nothing, and each later wave the
    /// names whose dependencies are all in earlier waves (a name is in the wave after its latest
    /// dependency). Names caught in a cycle are left out; ``cycles`` names them.
    public var waves: [[String]] {
        // Kahn's walk, in O(names + dependencies).
        var waiting: [String: Int] = [:]
        var wave: [String: Int] = [:]
        var ready: [String] = []
        for name in names {
            let count = dependencies[name]?.count ?? 0
            waiting[name] = count
            if count == 0 {
                wave[name] = 0
                ready.append(name)
            }
        }
        let dependents = self.dependents
        var index = 0
        while index < ready.count {
            let name = ready[index]
            index += 1
            for dependent in dependents[name] ?? [] {
                wave[dependent] = max(wave[dependent] ?? 0, wave[name]! + 1)
                waiting[dependent]! -= 1
                if waiting[dependent] == 0 { ready.append(dependent) }
            }
        }
        let placed = Set(ready)
        guard let last = ready.map({ wave[$0]! }).max() else { return [] }
        var result = Array(repeating: [String](), count: last + 1)
        for name in names where placed.contains(name) { result[wave[name]!].append(name) }
        return result
    }

    /// The cycles, each as the names along it: `[a, b, c]` means a starts after b, b after c and
    /// c after a (printed `a -> b -> c -> a`); `[a]` is a name after itself. Each cycle that a
    /// depth-first walk in name order closes is reported once.
    public var cycles: [[String]] {
        enum Mark { case open, done }
        var marks: [String: Mark] = [:]
        var found: [[String]] = []
        var seen: Set<[String]> = []
        for root in names where marks[root] == nil {
            // An explicit stack: a long chain must not exhaust the thread's stack.
            var path: [String] = [root]
            var next: [Int] = [0]
            marks[root] = .open
            while let top = path.last {
                let deps = dependencies[top] ?? []
                let index = next[next.count - 1]
                guard index < deps.count else {
                    marks[top] = .done
                    path.removeLast()
                    next.removeLast()
                    continue
                }
                next[next.count - 1] += 1
                let dependency = deps[index]
                switch marks[dependency] {
                case nil:
                    marks[dependency] = .open
                    path.append(dependency)
                    next.append(0)
                case .open?:
                    let start = path.lastIndex(of: dependency)!
                    let cycle = Array(path[start...])
                    if seen.insert(Self.rotated(cycle)).inserted { found.append(cycle) }
                case .done?:
                    break
                }
            }
        }
        return found
    }

    /// A cycle starting at its smallest name, so that each cycle has one spelling.
    private static func rotated(_ cycle: [String]) -> [String] {
        guard let smallest = cycle.indices.min(by: { cycle[$0] < cycle[$1] }) else { return cycle }
        return Array(cycle[smallest...] + cycle[..<smallest])
    }
}
