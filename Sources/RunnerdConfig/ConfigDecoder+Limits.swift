import Yams

/// Resource limits (`memory-max`, `cpu-weight`, ...), on a service or on its group as the default
/// of its services.
extension ConfigDecoder {
    /// The limits written among `fields`, each checked as systemd checks its setting of the same
    /// name. A value that is wrong is reported and left out.
    mutating func decodeLimits(_ fields: Fields) -> ResourceLimits {
        var limits = ResourceLimits()
        for key in ResourceLimits.keys {
            guard let entry = fields[key] else { continue }
            guard let text = string(entry, hint: Self.limitHint(key)) else { continue }
            var valid = true
            switch key {
            case "memory-max", "memory-high":
                if let amount = ResourceLimits.parseSize(text) {
                    if key == "memory-max" { limits.memoryMax = amount } else { limits.memoryHigh = amount }
                } else { valid = false }
            case "cpu-weight", "io-weight":
                if let weight = ResourceLimits.parseWeight(text) {
                    if key == "cpu-weight" { limits.cpuWeight = weight } else { limits.ioWeight = weight }
                } else { valid = false }
            case "cpu-max":
                if let percent = ResourceLimits.parsePercent(text) { limits.cpuMaxPercent = percent } else { valid = false }
            default:
                if let tasks = ResourceLimits.parseTasks(text) { limits.tasksMax = tasks } else { valid = false }
            }
            guard valid else {
                report(entry, "\(text.debugDescription) is not valid; \(Self.limitHint(key))")
                continue
            }
            let (line, column) = document.position(of: entry.keyMark)
            limits.origins[key] = ResourceLimits.Origin(keyPath: entry.path, line: line, column: column)
        }
        if case .value(let high)? = limits.memoryHigh, case .value(let max)? = limits.memoryMax, high > max,
           let entry = fields["memory-high"] {
            report(entry, "\(ResourceLimits.formatSize(high)) is above memory-max \(ResourceLimits.formatSize(max)), so it would never throttle; make it lower or remove it")
        }
        return limits
    }

    /// What to write for each limit.
    static func limitHint(_ key: String) -> String {
        switch key {
        case "memory-max", "memory-high":
            "write a size in bytes, or with K, M, G or T (powers of 1024), e.g. 256M or 1.5G, or infinity"
        case "cpu-weight", "io-weight":
            "write a weight from 1 to 10000 (100 is the default share)"
        case "cpu-max":
            "write a quota in percent of one CPU, e.g. 50% (200% is two CPUs)"
        default:
            "write a number of processes and threads of at least 1, e.g. 512, or infinity"
        }
    }
}
