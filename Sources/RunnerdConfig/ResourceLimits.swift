/// A service's resource limits: `memory-max`, `memory-high`, `cpu-weight`, `cpu-max`,
/// `tasks-max` and `io-weight`, with systemd's names (`MemoryMax=`, `CPUWeight=`, `CPUQuota=`,
/// `TasksMax=`, `IOWeight=`) and units. Written on a service, or on its group as the default of
/// every service that does not set its own. The daemon applies them to the service's own cgroup,
/// which needs a delegated cgroup (the shipped unit's `Delegate=yes`); without one, `runnerd run`
/// refuses a config that sets any of them.
public struct ResourceLimits: Sendable, Equatable {
    /// A byte count or a task count, or no limit.
    public enum Amount: Sendable, Equatable, CustomStringConvertible {
        /// This many bytes, or tasks.
        case value(UInt64)
        /// `infinity`: no limit (`max` in the cgroup file).
        case infinity

        /// What the cgroup file takes: the number, or `max`.
        public var cgroupText: String {
            switch self {
            case .value(let number): "\(number)"
            case .infinity: "max"
            }
        }

        /// As a size is written in the config: `256M`, `1G`, `1536K`, `100`, or `infinity`.
        public var description: String {
            switch self {
            case .value(let bytes): ResourceLimits.formatSize(bytes)
            case .infinity: "infinity"
            }
        }
    }

    /// `memory-max`: the hard memory limit (`memory.max`); past it the OOM killer acts.
    public var memoryMax: Amount?
    /// `memory-high`: the throttling limit (`memory.high`).
    public var memoryHigh: Amount?
    /// `cpu-weight`: 1 to 10000, 100 by default (`cpu.weight`).
    public var cpuWeight: Int?
    /// `cpu-max`: a quota in percent of one CPU (`50%`; above 100% for more CPUs), as systemd's
    /// `CPUQuota=` (`cpu.max`, over a period of 100 ms).
    public var cpuMaxPercent: Int?
    /// `tasks-max`: how many processes and threads the service may have (`pids.max`).
    public var tasksMax: Amount?
    /// `io-weight`: 1 to 10000, 100 by default (`io.weight`).
    public var ioWeight: Int?
    /// Where each limit that applies to the service is written, by key (`memory-max`), for
    /// messages that must name it (a config with limits where no cgroup can hold them).
    public var origins: [String: Origin] = [:]

    /// Where the first limit that applies is written, in file order.
    public var origin: Origin? {
        origins.values.min { ($0.line, $0.column) < ($1.line, $1.column) }
    }

    /// Where a limit is written: the key path (`groups.web.services.api.memory-max`) and its
    /// 1-based line and column.
    public struct Origin: Sendable, Equatable {
        /// E.g. `groups.web.services.api.memory-max`.
        public var keyPath: String
        /// The 1-based line of the key.
        public var line: Int
        /// The 1-based column of the key.
        public var column: Int

        /// A place in the config file.
        public init(keyPath: String, line: Int, column: Int) {
            self.keyPath = keyPath
            self.line = line
            self.column = column
        }
    }

    /// No limits.
    public init() {}

    /// Equal when the limits are: where they are written does not count, so that a reload of a
    /// file whose lines merely moved restarts nothing.
    public static func == (lhs: ResourceLimits, rhs: ResourceLimits) -> Bool {
        lhs.memoryMax == rhs.memoryMax && lhs.memoryHigh == rhs.memoryHigh && lhs.cpuWeight == rhs.cpuWeight
            && lhs.cpuMaxPercent == rhs.cpuMaxPercent && lhs.tasksMax == rhs.tasksMax && lhs.ioWeight == rhs.ioWeight
    }

    /// The config keys, in the order the docs list them.
    public static let keys = ["memory-max", "memory-high", "cpu-weight", "cpu-max", "tasks-max", "io-weight"]

    /// Whether no limit is set.
    public var isEmpty: Bool {
        memoryMax == nil && memoryHigh == nil && cpuWeight == nil && cpuMaxPercent == nil && tasksMax == nil
            && ioWeight == nil
    }

    /// These limits where set, else `defaults`' (a group's limits are its services' defaults).
    public func overriding(_ defaults: ResourceLimits) -> ResourceLimits {
        var merged = defaults
        if let memoryMax { merged.memoryMax = memoryMax }
        if let memoryHigh { merged.memoryHigh = memoryHigh }
        if let cpuWeight { merged.cpuWeight = cpuWeight }
        if let cpuMaxPercent { merged.cpuMaxPercent = cpuMaxPercent }
        if let tasksMax { merged.tasksMax = tasksMax }
        if let ioWeight { merged.ioWeight = ioWeight }
        merged.origins.merge(origins) { _, own in own }
        return merged
    }

    /// The cgroup controllers these limits need, by their kernel names (`memory`, `cpu`, `pids`,
    /// `io`), in the order the kernel lists them.
    public var controllers: [String] {
        var needed: [String] = []
        if cpuWeight != nil || cpuMaxPercent != nil { needed.append("cpu") }
        if ioWeight != nil { needed.append("io") }
        if memoryMax != nil || memoryHigh != nil { needed.append("memory") }
        if tasksMax != nil { needed.append("pids") }
        return needed
    }

    /// The controller each key needs.
    public static func controller(of key: String) -> String {
        switch key {
        case "memory-max", "memory-high": "memory"
        case "cpu-weight", "cpu-max": "cpu"
        case "io-weight": "io"
        default: "pids"
        }
    }

    /// The cgroup files to write and what to write, in the order written.
    public var cgroupFiles: [(file: String, value: String)] {
        var files: [(String, String)] = []
        if let memoryHigh { files.append(("memory.high", memoryHigh.cgroupText)) }
        if let memoryMax { files.append(("memory.max", memoryMax.cgroupText)) }
        if let cpuWeight { files.append(("cpu.weight", "\(cpuWeight)")) }
        if let cpuMaxPercent { files.append(("cpu.max", "\(cpuMaxPercent * 1000) 100000")) }
        if let tasksMax { files.append(("pids.max", tasksMax.cgroupText)) }
        if let ioWeight { files.append(("io.weight", "default \(ioWeight)")) }
        return files
    }

    // MARK: - Parsing, as systemd reads these settings

    /// A size as systemd's `MemoryMax=` takes it: bytes, or a number with `K`, `M`, `G` or `T`
    /// (powers of 1024), a fraction allowed (`1.5G`); or `infinity`. Nil when it is none of these
    /// or is 0.
    public static func parseSize(_ text: String) -> Amount? {
        if text == "infinity" { return .infinity }
        let units: [Character: UInt64] = ["K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40]
        var number = Substring(text)
        var multiplier: UInt64 = 1
        if let last = number.last, let unit = units[last] {
            multiplier = unit
            number = number.dropLast()
        }
        let parts = number.split(separator: ".", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), parts.allSatisfy({ !$0.isEmpty && $0.allSatisfy(\.isASCII) && $0.allSatisfy(\.isNumber) }),
              let whole = UInt64(parts[0]) else { return nil }
        let (scaled, overflow) = whole.multipliedReportingOverflow(by: multiplier)
        guard !overflow else { return nil }
        var bytes = scaled
        if parts.count == 2 {
            // The fraction, to the byte: digits beyond what a UInt64 holds add nothing.
            let digits = parts[1].prefix(12)
            guard let fraction = UInt64(digits) else { return nil }
            var scale: UInt64 = 1
            for _ in digits { scale *= 10 }
            bytes += UInt64((Double(fraction) / Double(scale) * Double(multiplier)).rounded(.down))
        }
        return bytes == 0 ? nil : .value(bytes)
    }

    /// A CPU quota as systemd's `CPUQuota=` takes it: a whole percentage, at least 1%.
    public static func parsePercent(_ text: String) -> Int? {
        guard text.hasSuffix("%"), text.count > 1 else { return nil }
        let digits = text.dropLast()
        guard digits.allSatisfy({ $0.isASCII && $0.isNumber }), let value = Int(digits), value >= 1, value <= 1_000_000 else {
            return nil
        }
        return value
    }

    /// A task count: a whole number of at least 1, or `infinity`.
    public static func parseTasks(_ text: String) -> Amount? {
        if text == "infinity" { return .infinity }
        guard !text.isEmpty, text.allSatisfy({ $0.isASCII && $0.isNumber }), let value = UInt64(text), value >= 1 else { return nil }
        return .value(value)
    }

    /// A weight, as `CPUWeight=` and `IOWeight=` take it: 1 to 10000.
    public static func parseWeight(_ text: String) -> Int? {
        guard !text.isEmpty, text.allSatisfy({ $0.isASCII && $0.isNumber }), let value = Int(text), (1...10000).contains(value) else {
            return nil
        }
        return value
    }

    /// `bytes` in the largest unit that divides it: `256M`, `1G`, `1536K`, `100`.
    public static func formatSize(_ bytes: UInt64) -> String {
        for (unit, size) in [("T", UInt64(1) << 40), ("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10)] where bytes % size == 0 {
            return "\(bytes / size)\(unit)"
        }
        return "\(bytes)"
    }
}
