import CLinuxSupport
import Glibc

/// One service's stdout or stderr: the daemon's read end of the pipe, read on the event loop,
/// split into lines and handed to the `LogWriter`.
///
/// Lines longer than `maximumLine` bytes are cut into several, never inside a UTF-8 character (a
/// cut character would show as `[blob data]` in both pieces), a last line without a newline is
/// still forwarded at end of file, and a child that writes without newlines cannot make the
/// daemon buffer more than one `maximumLine` per pipe. Loop only, except `init`.
final class OutputPipe: @unchecked Sendable {
    // @unchecked: after init, every member is used only on the event loop's thread.

    /// journald's own default line limit is 48 KiB; 16 KiB keeps entries readable and bounds memory.
    static let maximumLine = 16 * 1024
    /// Read at most this much per wake-up, so that one flooding child cannot starve the others.
    static let readChunk = 256 * 1024
    /// What the kernel may buffer per pipe (F_SETPIPE_SZ; 64 KiB by default). With 256 KiB, and
    /// reads as large, a chatty child is read a quarter as often: 1,000,000 lines of 100 bytes
    /// went through about 1.5 times faster in `Benchmarks/run-supervisor-bench.sh`. It is kernel
    /// memory only while the child has written more than the daemon has read.
    static let pipeCapacity = 256 * 1024

    let source: LogWriter.Source
    let stream: LogWriter.Stream
    /// The daemon's end, non-blocking.
    let readFD: Int32
    /// The child's end, given to the spawn and closed in the daemon right after.
    let writeFD: Int32
    private let router: OutputRouter
    private var partial: [UInt8] = []
    private var pid: Int32 = 0
    private(set) var isOpen = true
    /// Called once, at end of file.
    var onClose: (() -> Void)?
    /// Sees each line before the writer does, while it is set (a `log-line` readiness probe).
    private var lineWatcher: (@Sendable (UnsafeRawBufferPointer) -> Bool)?

    init(source: LogWriter.Source, stream: LogWriter.Stream, router: OutputRouter) throws(SpawnError) {
        var fds: [Int32] = [-1, -1]
        guard runnerd_pipe_cloexec(&fds) == 0 else {
            throw SpawnError(stage: Int32(RUNNERD_SPAWN_STAGE_STDIO.rawValue), errno: errno, executable: "", workingDirectory: nil, credentials: nil)
        }
        readFD = fds[0]
        writeFD = fds[1]
        _ = fcntl(readFD, F_SETFL, fcntl(readFD, F_GETFL) | O_NONBLOCK)
        // A bigger pipe lets a chatty child write longer between two reads; if the kernel
        // refuses (an unprivileged user over its pipe quota), the default 64 KiB stays.
        _ = fcntl(readFD, 1031 /* F_SETPIPE_SZ */, Int32(Self.pipeCapacity))
        self.source = source
        self.stream = stream
        self.router = router
    }

    /// Loop only. Closes the child's end (now held by the child) and starts reading. `lineWatcher`
    /// sees every line until it returns false.
    func start(pid: Int32, lineWatcher: (@Sendable (UnsafeRawBufferPointer) -> Bool)? = nil) {
        self.pid = pid
        self.lineWatcher = lineWatcher
        close(writeFD)
        router.loop.watch(readFD) { [self] in readAvailable() }
    }

    /// Loop only. Gives up on a pipe whose child was never spawned.
    func abandon() {
        close(writeFD)
        close(readFD)
        isOpen = false
    }

    /// Loop only. Resumes reading after the writer throttled it.
    func resume() {
        guard isOpen else { return }
        router.loop.watch(readFD) { [self] in readAvailable() }
        readAvailable()
    }

    private func readAvailable() {
        let count = read(readFD, router.scratch.baseAddress, router.scratch.count)
        if count < 0 {
            if errno == EAGAIN || errno == EINTR { return }
            finish()
            return
        }
        if count == 0 {
            finish()
            return
        }
        let chunk = UnsafeRawBufferPointer(rebasing: router.scratch[..<count])
        var accepting = true
        if lineWatcher == nil {
            // The usual case: the whole chunk's lines go to the writer under one lock.
            accepting = router.writer.appendLines(from: source, stream: stream, pid: pid) { add in
                split(chunk, add)
            }
        } else {
            split(chunk) { line in accepting = emit(line) && accepting }
        }
        if !accepting {
            router.loop.unwatch(readFD)
            router.throttled(self)
        }
    }

    /// Cuts `chunk` into lines, the first one joined to what the previous chunk left unfinished,
    /// none longer than `maximumLine`, and hands each to `deliver`; keeps an unfinished last line.
    private func split(_ chunk: UnsafeRawBufferPointer, _ deliver: (UnsafeRawBufferPointer) -> Void) {
        var lineStart = 0
        while let newline = Self.newline(in: chunk, from: lineStart) {
            let piece = UnsafeRawBufferPointer(rebasing: chunk[lineStart..<newline])
            if partial.isEmpty {
                deliverSplitting(piece, deliver)
            } else {
                partial.append(contentsOf: piece)
                partial.withUnsafeBytes { deliverSplitting($0, deliver) }
                partial.removeAll(keepingCapacity: true)
            }
            lineStart = newline + 1
        }
        partial.append(contentsOf: chunk[lineStart...])
        while partial.count >= Self.maximumLine {
            let cut = partial.withUnsafeBytes { bytes in
                let cut = Self.characterBoundary(in: bytes, atOrBefore: Self.maximumLine)
                deliver(UnsafeRawBufferPointer(rebasing: bytes[..<cut]))
                return cut
            }
            partial.removeFirst(cut)
        }
    }

    /// The offset of the first newline in `chunk` at or after `start`. `memchr` rather than
    /// `firstIndex(of:)`, which an unoptimised (debug) build runs through unspecialised generics
    /// at some 15 MB/s: a flooding child would then pin the loop.
    private static func newline(in chunk: UnsafeRawBufferPointer, from start: Int) -> Int? {
        guard start < chunk.count, let base = chunk.baseAddress,
              let found = memchr(base + start, Int32(UInt8(ascii: "\n")), chunk.count - start)
        else { return nil }
        return base.distance(to: UnsafeRawPointer(found))
    }

    /// Hands `line` to `deliver` in pieces of at most `maximumLine` bytes, each cut at a character
    /// boundary.
    private func deliverSplitting(_ line: UnsafeRawBufferPointer, _ deliver: (UnsafeRawBufferPointer) -> Void) {
        var start = 0
        repeat {
            var end = line.count
            if end - start > Self.maximumLine {
                end = start + Self.characterBoundary(in: UnsafeRawBufferPointer(rebasing: line[start...]), atOrBefore: Self.maximumLine)
            }
            deliver(UnsafeRawBufferPointer(rebasing: line[start..<end]))
            start = end
        } while start < line.count
    }

    /// Where to cut `bytes` so that the first piece has at most `limit` bytes and ends on a UTF-8
    /// character boundary: `limit` itself unless the byte there continues a character, in which
    /// case up to three bytes earlier, where that character starts. Bytes that are not UTF-8 have
    /// no characters to keep whole: after three continuation bytes the cut stays at `limit`.
    static func characterBoundary(in bytes: UnsafeRawBufferPointer, atOrBefore limit: Int) -> Int {
        guard limit < bytes.count else { return bytes.count }
        var cut = limit
        while cut > limit - 3, cut > 1, bytes[cut] & 0xC0 == 0x80 { cut -= 1 }
        return bytes[cut] & 0xC0 == 0x80 ? limit : cut
    }

    private func emit(_ line: UnsafeRawBufferPointer) -> Bool {
        if let watcher = lineWatcher, !watcher(line) { lineWatcher = nil }
        return router.writer.append(line, from: source, stream: stream, pid: pid)
    }

    private func finish() {
        if !partial.isEmpty {
            partial.withUnsafeBytes { deliverSplitting($0) { _ = emit($0) } }
            partial = []
        }
        router.loop.unwatch(readFD)
        close(readFD)
        isOpen = false
        onClose?()
        onClose = nil
    }
}

/// Connects every service's pipes to the log writer, and pauses and resumes them together when
/// the writer falls behind.
final class OutputRouter: @unchecked Sendable {
    // @unchecked: `paused` and `scratch` are used only on the event loop's thread.

    let loop: EventLoop
    let writer: LogWriter
    /// One read buffer for all pipes: reads happen one at a time on the loop. Allocated, not
    /// filled: the allocator maps a block this large on its own, and the kernel backs only the
    /// pages that reads have written, so an idle daemon does not hold 256 KiB of zeros.
    fileprivate let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: OutputPipe.readChunk, alignment: 16)
    private var paused: [OutputPipe] = []

    init(loop: EventLoop, writer: LogWriter) {
        self.loop = loop
        self.writer = writer
        writer.onDrained { [self] in
            loop.execute { [self] in
                let resumed = paused
                paused = []
                for pipe in resumed { pipe.resume() }
            }
        }
    }

    deinit {
        scratch.deallocate()
    }

    fileprivate func throttled(_ pipe: OutputPipe) {
        paused.append(pipe)
    }
}
