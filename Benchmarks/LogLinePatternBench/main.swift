// The cost per line of a `log-line` probe's matcher, `LogLinePattern` against the `Regex`-based
// matcher it replaced (RegexLineMatcher.swift), side by side in one run: for each case, the two
// take turns for `rounds` rounds of `iterations` lines each; the median ns per line is printed,
// with min-max and the ratio new ÷ old. Built and run by Benchmarks/run-log-line-pattern-bench.sh.
let arguments = CommandLine.arguments
let rounds = arguments.count > 1 ? Int(arguments[1])! : 5

/// A log line of 100 bytes that no probe below is waiting for.
let ordinary = "2026-12-07 23:10:40.914 info api: GET /healthz 200 in 3ms from 10.0.0.7 user-agent curl/8.1.2 ok"
/// A line that holds the literal of `listening on (port )?\d+` but not a match.
let nearMiss = "2026-12-07 23:10:40.914 info api: listening on port eighty, as configured in /etc/api/api.conf"

let cases: [(name: String, pattern: String, line: String, iterations: Int)] = [
    ("plain text, line without it", "listening on", ordinary, 2_000_000),
    ("regex, line without its literal", #"listening on (port )?\d+"#, ordinary, 2_000_000),
    ("regex, line with its literal, no match", #"listening on (port )?\d+"#, nearMiss, 100_000),
    ("regex without a literal, no match", "(?i)ready|listening", ordinary, 100_000),
    ("anchored regex, no match", #"^\[INFO\] started in \d+ms$"#, ordinary, 2_000_000),
]

func nanosecondsPerLine(_ iterations: Int, _ line: [UInt8], _ match: (UnsafeRawBufferPointer) -> Bool) -> Double {
    line.withUnsafeBytes { bytes in
        var matched = 0
        let start = ContinuousClock.now
        for _ in 0..<iterations where match(bytes) { matched += 1 }
        let elapsed = ContinuousClock.now - start
        precondition(matched == 0, "a case meant not to match matched")
        let (seconds, attoseconds) = elapsed.components
        return (Double(seconds) * 1e9 + Double(attoseconds) / 1e9) / Double(iterations)
    }
}

func summary(_ samples: [Double]) -> (median: Double, text: String) {
    let sorted = samples.sorted()
    let median = sorted[sorted.count / 2]
    func format(_ value: Double) -> String { value < 10 ? String(Double(Int(value * 10)) / 10) : String(Int(value.rounded())) }
    return (median, "\(format(median)) (\(format(sorted.first!))–\(format(sorted.last!)))")
}

print("| case | pattern | Regex matcher, ns/line | LogLinePattern, ns/line | new ÷ old |")
print("|---|---|---|---|---|")
for testCase in cases {
    let old = try RegexLineMatcher(pattern: testCase.pattern)
    let new = try LogLinePattern(testCase.pattern)
    let line = Array(testCase.line.utf8)
    var oldSamples: [Double] = []
    var newSamples: [Double] = []
    for _ in 0..<rounds {
        oldSamples.append(nanosecondsPerLine(testCase.iterations, line) { old.matches($0) })
        newSamples.append(nanosecondsPerLine(testCase.iterations, line) { new.matches($0) })
    }
    let (oldMedian, oldText) = summary(oldSamples)
    let (newMedian, newText) = summary(newSamples)
    let ratio = Double(Int(newMedian / oldMedian * 100)) / 100
    let pattern = testCase.pattern.split(separator: "|", omittingEmptySubsequences: false).joined(separator: "\\|")
    print("| \(testCase.name) | `\(pattern)` | \(oldText) | \(newText) | \(ratio)× |")
}
