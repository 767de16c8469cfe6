import RunnerdConfig

/// `runnerd status` for a terminal: one aligned line per group, and under each group one line
/// per service. Colour marks states only when the output is a terminal.
package struct StatusTable {
    package var report: StatusReport
    package var colour: Bool

    package init(_ report: StatusReport, colour: Bool) {
        self.report = report
        self.colour = colour
    }

    package var text: String {
        var out = "runnerd: \(paint(report.state, for: report.state)) (\(report.status))\n"
        guard !report.groups.isEmpty else { return out + "no groups\n" }
        // Memory and CPU time come from the services' own cgroups (under the shipped unit).
        let accounted = report.groups.contains { $0.memoryBytes != nil || $0.cpuUsage != nil }
        var rows: [[String]] = [["GROUP", "STATE", "READY", "UPTIME", "RESTARTS"] + (accounted ? ["MEMORY", "CPU"] : []) + ["LAST EXIT"]]
        var states: [String] = ["", ""]
        var serviceRows: [[[String]]] = []
        for group in report.groups {
            var state = group.state
            if group.stoppedByRequest { state = "stopped by request" }
            if let waitingFor = group.waitingFor { state = "waiting for \(waitingFor)" }
            var lastExit = group.lastExit ?? "-"
            if let next = group.nextRestartIn { lastExit += "; next run in \(Self.format(next))" }
            rows.append(
                [group.name, state, "\(group.ready)/\(group.total)", group.uptime.map(Self.format) ?? "-", "\(group.restarts)/\(group.restartLimit)"]
                    + (accounted ? [group.memoryBytes.map(Self.bytes) ?? "-", group.cpuUsage.map(Self.cpu) ?? "-"] : [])
                    + [lastExit]
            )
            states.append(group.state)
            serviceRows.append(group.services.map { service in Self.row(service, accounted: accounted) })
        }
        let groupWidths = Self.widths(rows)
        let allServices = serviceRows.flatMap { $0 }
        let serviceWidths = Self.widths(allServices)
        for (index, row) in rows.enumerated() {
            out += line(row, widths: groupWidths, stateColumn: 1, state: index == 0 ? nil : states[index])
            guard index > 0 else { continue }
            for service in serviceRows[index - 1] {
                out += line(service, widths: serviceWidths, stateColumn: 2, state: service[2])
            }
        }
        return out
    }

    private static func row(_ service: StatusReport.Service, accounted: Bool) -> [String] {
        var cells = ["  " + service.name]
        cells.append(service.pid.map { "pid \($0)" } ?? "-")
        cells.append(service.state)
        cells.append(service.readiness)
        cells.append(service.uptime.map { "up " + format($0) } ?? "-")
        if accounted {
            cells.append(service.memoryBytes.map { "mem " + bytes($0) } ?? "-")
            cells.append(service.cpuUsage.map { "cpu " + cpu($0) } ?? "-")
        }
        cells.append(service.status.map { "\"\($0)\"" } ?? "")
        return cells
    }

    private func line(_ cells: [String], widths: [Int], stateColumn: Int, state: String?) -> String {
        var parts: [String] = []
        for (column, cell) in cells.enumerated() {
            let isLast = column == cells.count - 1
            let padded = isLast ? cell : cell + String(repeating: " ", count: max(0, widths[column] - cell.count))
            parts.append(column == stateColumn && state != nil ? paint(padded, for: state!) : padded)
        }
        var text = parts.joined(separator: "  ")
        while text.hasSuffix(" ") { text.removeLast() }
        return text + "\n"
    }

    private static func widths(_ rows: [[String]]) -> [Int] {
        var widths: [Int] = []
        for row in rows {
            for (column, cell) in row.enumerated() {
                if column == widths.count { widths.append(0) }
                widths[column] = max(widths[column], cell.count)
            }
        }
        return widths
    }

    private func paint(_ text: String, for state: String) -> String {
        guard colour else { return text }
        let code: String
        switch state {
        case "running", "ready": code = "32"
        case "starting", "waiting", "restarting", "stopping", "reloading": code = "33"
        case "gave-up": code = "31"
        case "stopped", "down", "finished", "done": code = "2"
        default: return text
        }
        return "\u{1B}[\(code)m\(text)\u{1B}[0m"
    }

    /// Bytes as systemd shows memory: `812K`, `12.3M`, `1.5G`.
    static func bytes(_ count: UInt64) -> String {
        let units = ["B", "K", "M", "G", "T"]
        var value = Double(count)
        var unit = 0
        while value >= 1024 && unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        guard unit > 0 else { return "\(count)B" }
        let tenths = (value * 10).rounded()
        return tenths.truncatingRemainder(dividingBy: 10) == 0 || value >= 100
            ? "\(Int(value.rounded()))\(units[unit])" : "\(Int(tenths) / 10).\(Int(tenths) % 10)\(units[unit])"
    }

    /// CPU time: milliseconds under a second, then seconds with a tenth, whole past a minute.
    static func cpu(_ duration: Duration) -> String {
        let milliseconds = Int64((duration / .milliseconds(1)).rounded())
        if milliseconds < 1000 { return "\(milliseconds)ms" }
        if milliseconds < 60_000 { return "\(milliseconds / 1000).\(milliseconds % 1000 / 100)s" }
        return format(.milliseconds(milliseconds))
    }

    /// Whole seconds (`3m12s`), or milliseconds under a second, as the status line says them.
    static func format(_ duration: Duration) -> String {
        DurationText.format(DaemonLifecycle.rounded(duration))
    }
}
