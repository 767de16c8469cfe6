/// A compiled `log-line` pattern: a Thompson NFA as a list of instructions, run as a Pike VM.
///
/// `matches` advances every live NFA state together, one scalar of the line at a time, and never
/// backtracks: each scalar costs at most one visit per instruction, so a line of n scalars costs
/// O(instructions × n) time and O(instructions) memory, whatever the pattern. (A backtracking
/// engine runs `^(a|aa)+$` on 100 `a`s and a `!` for longer than the universe has existed.)
struct LogLinePatternProgram: Sendable {
    /// The most instructions a program may have once counted repetitions are expanded. Time per
    /// line is bounded by size × length: at this size, a 16 KiB line (the longest the daemon
    /// passes on) that keeps every state alive costs tens of milliseconds in a release build
    /// (docs/config.md); the patterns people write for a probe need tens of instructions.
    static let maximumSize = 1_000

    enum Instruction: Sendable, Equatable {
        /// Consume this scalar.
        case scalar(Unicode.Scalar)
        /// Consume a scalar of `classes[index]`.
        case oneOf(Int)
        /// Continue at both.
        case split(Int, Int)
        case jump(Int)
        /// Continue only if the assertion holds between the previous scalar and the next.
        case assertion(LogLinePatternSyntax.Assertion)
        case match
    }

    private(set) var instructions: [Instruction] = []
    private(set) var classes: [LogLinePatternClass] = []
    /// For each class, which ASCII scalars it holds (0-63, then 64-127): a class tested on an
    /// ASCII scalar costs one bit test and no copy of the class.
    private var asciiMasks: [UInt64] = []

    /// Compiles `syntax`, or throws when its counted repetitions expand beyond `maximumSize`.
    init(_ syntax: LogLinePatternSyntax) throws(LogLinePatternProblem) {
        guard Self.size(of: syntax) <= Self.maximumSize else {
            // Checked on the tree before compiling, so that `(a{1000}){1000}` allocates nothing.
            throw LogLinePatternProblem(
                "is too large once its counted repetitions are expanded (over \(Self.maximumSize) steps); use + or * instead of large counts"
            )
        }
        emit(syntax)
        instructions.append(.match)
    }

    /// The instructions `syntax` compiles to, saturating at `Int.max`.
    private static func size(of syntax: LogLinePatternSyntax) -> Int {
        func add(_ a: Int, _ b: Int) -> Int { let (sum, overflow) = a.addingReportingOverflow(b); return overflow ? .max : sum }
        func multiply(_ a: Int, _ b: Int) -> Int { let (product, overflow) = a.multipliedReportingOverflow(by: b); return overflow ? .max : product }
        switch syntax {
        case .empty: return 0
        case .scalar, .oneOf, .assertion: return 1
        case .sequence(let parts): return parts.reduce(0) { add($0, size(of: $1)) }
        case .alternation(let branches): return branches.reduce(2 * (branches.count - 1)) { add($0, size(of: $1)) }
        case .repetition(let body, let minimum, let maximum):
            // As `emit` lays them out: the required copies, then a split per optional copy, or
            // one loop (a split after the last required copy, or split and jump around a star).
            let body = size(of: body)
            guard let maximum else { return add(multiply(body, max(minimum, 1)), minimum == 0 ? 2 : 1) }
            return add(multiply(body, minimum), multiply(add(body, 1), maximum - minimum))
        }
    }

    private mutating func emit(_ syntax: LogLinePatternSyntax) {
        switch syntax {
        case .empty:
            break
        case .scalar(let scalar):
            instructions.append(.scalar(scalar))
        case .oneOf(let set):
            if let index = classes.firstIndex(of: set) {
                instructions.append(.oneOf(index))
            } else {
                classes.append(set)
                asciiMasks += set.asciiMasks
                instructions.append(.oneOf(classes.count - 1))
            }
        case .assertion(let assertion):
            instructions.append(.assertion(assertion))
        case .sequence(let parts):
            for part in parts { emit(part) }
        case .alternation(let branches):
            // split L1, next; L1: first; jump end; next: split L2, ...; last branch falls through.
            var jumps: [Int] = []
            for branch in branches.dropLast() {
                let split = placeholder()
                emit(branch)
                jumps.append(placeholder())
                instructions[split] = .split(split + 1, instructions.count)
            }
            emit(branches[branches.count - 1])
            for jump in jumps { instructions[jump] = .jump(instructions.count) }
        case .repetition(let body, let minimum, let maximum):
            if maximum == nil && minimum >= 1 {
                // The last required copy loops: body; split body, out. (Half the size of a star.)
                for _ in 1..<minimum { emit(body) }
                let loop = instructions.count
                emit(body)
                instructions.append(.split(loop, instructions.count + 1))
                return
            }
            for _ in 0..<minimum { emit(body) }
            if let maximum {
                // Each optional copy may be skipped, which skips all the copies after it too.
                var splits: [Int] = []
                for _ in minimum..<maximum {
                    splits.append(placeholder())
                    emit(body)
                }
                for split in splits { instructions[split] = .split(split + 1, instructions.count) }
            } else {
                // loop: split body, out; body; jump loop.
                let loop = placeholder()
                emit(body)
                instructions.append(.jump(loop))
                instructions[loop] = .split(loop + 1, instructions.count)
            }
        }
    }

    private mutating func placeholder() -> Int {
        instructions.append(.match)
        return instructions.count - 1
    }

    // MARK: - Running

    /// Whether the program matches anywhere in `line`, read as UTF-8 with every ill-formed
    /// sequence as U+FFFD (as `String(decoding:as:)` reads it).
    ///
    /// Written with raw pointers and no helper calls in the loop, because the daemon also runs
    /// debug builds in tests, where every call and every copy of a struct holding arrays costs:
    /// this way a 100,000-character line takes milliseconds in either build
    /// (`LogLinePatternTests.pathologicalPatternsRunInLinearTime`).
    func matches(_ line: UnsafeRawBufferPointer) -> Bool {
        let size = instructions.count
        // Live states now, live states after this scalar, states reached at this position (each a
        // sparse set: dense list, then index), and the closure's stack: one allocation per line.
        // (The loops below are `while` loops: a `for` over a range costs calls in a debug build.)
        return withUnsafeTemporaryAllocation(of: Int32.self, capacity: 9 * size) { memory in
            let base = memory.baseAddress!
            memory.initialize(repeating: 0)
            var current = (dense: base, sparse: base + size, count: 0)
            var next = (dense: base + 2 * size, sparse: base + 3 * size, count: 0)
            let visitedDense = base + 4 * size
            let visitedSparse = base + 5 * size
            var visitedCount = 0
            // Every state reached pushes at most two more, so the stack never holds more than 3 × size.
            let stack = base + 6 * size
            return instructions.withUnsafeBufferPointer { program in
                classes.withUnsafeBufferPointer { classes in
                  asciiMasks.withUnsafeBufferPointer { asciiMasks in
                    let program = program.baseAddress!
                    var offset = 0
                    var previous: Unicode.Scalar? = nil
                    var scalar = Self.scalar(in: line, at: &offset)
                    // A match may start at every position: the start state is live from the start.
                    current.dense[0] = 0
                    current.sparse[0] = 0
                    current.count = 1
                    while true {
                        // The epsilon closure of the live states at this position, into `visited`.
                        visitedCount = 0
                        var depth = 0
                        while depth < current.count {
                            stack[depth] = current.dense[depth]
                            depth += 1
                        }
                        while depth > 0 {
                            depth -= 1
                            let pc = Int(stack[depth])
                            let slot = Int(visitedSparse[pc])
                            if slot < visitedCount && Int(visitedDense[slot]) == pc { continue }
                            visitedDense[visitedCount] = Int32(pc)
                            visitedSparse[pc] = Int32(visitedCount)
                            visitedCount += 1
                            switch program[pc] {
                            case .match:
                                return true
                            case .jump(let target):
                                stack[depth] = Int32(target)
                                depth += 1
                            case .split(let first, let second):
                                stack[depth] = Int32(second)
                                stack[depth + 1] = Int32(first)
                                depth += 2
                            case .assertion(let assertion):
                                if Self.holds(assertion, previous, scalar) {
                                    stack[depth] = Int32(pc + 1)
                                    depth += 1
                                }
                            case .scalar, .oneOf:
                                break
                            }
                        }
                        guard let consumed = scalar else { return false }
                        // The states that consume this scalar live on after it, with the start state.
                        next.dense[0] = 0
                        next.sparse[0] = 0
                        next.count = 1
                        var index = 0
                        while index < visitedCount {
                            let pc = Int(visitedDense[index])
                            index += 1
                            let advances: Bool
                            switch program[pc] {
                            case .scalar(let expected): advances = expected == consumed
                            case .oneOf(let set):
                                let value = consumed.value
                                advances = value < 128
                                    ? asciiMasks[2 &* set &+ Int(value >> 6)] & (1 &<< UInt64(value & 63)) != 0
                                    : classes[set].contains(consumed)
                            default: advances = false
                            }
                            guard advances else { continue }
                            let target = pc + 1
                            let slot = Int(next.sparse[target])
                            if slot < next.count && Int(next.dense[slot]) == target { continue }
                            next.dense[next.count] = Int32(target)
                            next.sparse[target] = Int32(next.count)
                            next.count += 1
                        }
                        swap(&current, &next)
                        previous = consumed
                        scalar = Self.scalar(in: line, at: &offset)
                    }
                  }
                }
            }
        }
    }

    /// The scalar at `offset` in `bytes`, moving `offset` past it, or nil at the end. An
    /// ill-formed sequence reads as one U+FFFD per maximal subpart (Unicode 3.9, table 3-7), as
    /// `String(decoding:as:)` reads it.
    @inline(__always)
    private static func scalar(in bytes: UnsafeRawBufferPointer, at offset: inout Int) -> Unicode.Scalar? {
        guard offset < bytes.count else { return nil }
        let lead = bytes[offset]
        offset += 1
        if lead < 0x80 { return Unicode.Scalar(lead) }
        let length: Int
        var value: UInt32
        var secondRange: ClosedRange<UInt8> = 0x80...0xBF
        switch lead {
        case 0xC2...0xDF: (length, value) = (2, UInt32(lead & 0x1F))
        case 0xE0: (length, value, secondRange) = (3, 0, 0xA0...0xBF)
        case 0xE1...0xEC, 0xEE...0xEF: (length, value) = (3, UInt32(lead & 0x0F))
        case 0xED: (length, value, secondRange) = (3, 0xD, 0x80...0x9F)
        case 0xF0: (length, value, secondRange) = (4, 0, 0x90...0xBF)
        case 0xF1...0xF3: (length, value) = (4, UInt32(lead & 0x07))
        case 0xF4: (length, value, secondRange) = (4, 4, 0x80...0x8F)
        default: return replacement
        }
        for index in 1..<length {
            guard offset < bytes.count else { return replacement }
            let byte = bytes[offset]
            guard index == 1 ? secondRange.contains(byte) : (0x80...0xBF).contains(byte) else { return replacement }
            value = value << 6 | UInt32(byte & 0x3F)
            offset += 1
        }
        return Unicode.Scalar(value) ?? replacement
    }

    private static let replacement: Unicode.Scalar = "\u{FFFD}"

    private static func holds(_ assertion: LogLinePatternSyntax.Assertion, _ previous: Unicode.Scalar?, _ next: Unicode.Scalar?) -> Bool {
        switch assertion {
        case .lineStart: return previous == nil
        case .lineEnd: return next == nil
        case .wordBoundary, .notWordBoundary:
            let before = previous.map(LogLinePatternClass.isWord) ?? false
            let after = next.map(LogLinePatternClass.isWord) ?? false
            return (before != after) == (assertion == .wordBoundary)
        }
    }
}
