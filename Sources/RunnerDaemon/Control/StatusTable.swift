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
        var rows: [[String]] = [["GROUP", "STATE", "READY", "UPTIME", "RESTARTS", "LAST EXIT"]]
        var states: [String] = ["", ""]
        var serviceRows: [[[String]]] = []
        for group in report.groups {
            var state = group.state
            if group.stoppedByRequest { state = "stopped by request" }
            var lastExit = group.lastExit ?? "-"
            if let next = group.nextRestartIn { lastExit += "; next run in \(Self.format(next))" }
            rows.append([
                group.name, state, "\(group.ready)/\(group.total)", group.uptime.map(Self.format) ?? "-",
                "\(group.restarts)/\(group.restartLimit)", lastExit,
            ])
            states.append(group.state)
            serviceRows.append(group.services.map { service in
                [
                    "  " + service.name, service.pid.map { "pid \($0)" } ?? "-", service.state, service.readiness,
                    service.uptime.map { "up " + Self.format($0) } ?? "-", service.status.map { "\"\($0)\"" } ?? "",
                ]
            })
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
        case "starting", "restarting", "stopping", "reloading": code = "33"
        case "gave-up": code = "31"
        case "stopped", "down", "finished": code = "2"
        default: return text
        }
        return "\u{1B}[\(code)m\(text)\u{1B}[0m"
    }

    /// Whole seconds (`3m12s`), or milliseconds under a second.
    static func format(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        guard seconds > 0 else { return DurationText.format(.milliseconds(attoseconds / 1_000_000_000_000_000)) }
        var left = seconds
        var text = ""
        if left >= 86400 { text += "\(left / 86400)d"; left %= 86400 }
        if left >= 3600 { text += "\(left / 3600)h"; left %= 3600 }
        if left >= 60 { text += "\(left / 60)m"; left %= 60 }
        if left > 0 || text.isEmpty { text += "\(left)s" }
        return text
    }
}
