import Glibc
import RunnerdConfig

// SwiftPM gives every executable a main of its own, so this one runs libFuzzer's driver itself
// (LLVMFuzzerRunDriver, in the runtime that `-sanitize=fuzzer` links) with the same arguments
// as libFuzzer's own main: `ConfigLoaderFuzz -runs=1000000 corpus/`.

@_silgen_name("LLVMFuzzerRunDriver")
private func runFuzzerDriver(
    _ argc: UnsafeMutablePointer<Int32>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt

// libFuzzer calls `configLoaderFuzz` once per input. Inputs that are UTF-8
// go to `ConfigLoader.parse` as they are; others go through `ConfigLoader.load` from a file
// (which must reject them as not UTF-8), and then, decoded with replacement characters, to
// `parse` as well. Beyond not crashing, every error must be placed: a line and a column that
// are 0 only together and only for the empty file, a line within the text, and a message.

/// The environment every input is loaded with: a PATH where `sh`, `sleep` and friends exist.
private let environment = ["PATH": "/usr/bin:/bin"]

/// A file for the inputs that are not UTF-8, reused for every one of them.
private let scratchPath: String = {
    var template = Array("/tmp/runnerd-fuzz-XXXXXX".utf8CString)
    let fd = mkstemp(&template)
    precondition(fd >= 0, "mkstemp failed")
    close(fd)
    return String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}()

/// One input, as libFuzzer hands it over. Exported under libFuzzer's name as well, for its own
/// main, which the linker may pick instead of this file's.
@_cdecl("LLVMFuzzerTestOneInput")
public func configLoaderFuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = UnsafeBufferPointer(start: data, count: size)
    if let text = String(validating: bytes, as: UTF8.self) {
        check(text) { () throws(ConfigErrors) in try ConfigLoader.parse(yaml: text, path: "fuzz.yaml", environment: environment) }
    } else {
        let fd = open(scratchPath, O_WRONLY | O_TRUNC | O_CLOEXEC)
        precondition(fd >= 0 && write(fd, data, size) == size, "cannot write \(scratchPath)")
        close(fd)
        do {
            _ = try ConfigLoader.load(path: scratchPath, environment: environment)
            fatalError("a file that is not UTF-8 was accepted")
        } catch {
            precondition(error.errors.map(\.message) == ["is not UTF-8 text; save it as UTF-8"], "\(error)")
        }
        let text = String(decoding: bytes, as: UTF8.self)
        check(text) { () throws(ConfigErrors) in try ConfigLoader.parse(yaml: text, path: "fuzz.yaml", environment: environment) }
    }
    return 0
}

/// Runs `load` and checks the errors it throws, if any.
private func check(_ text: String, _ load: () throws(ConfigErrors) -> DaemonConfig) {
    do {
        _ = try load()
    } catch {
        precondition(!error.errors.isEmpty, "an empty ConfigErrors")
        // Lines as libyaml ends them (CR LF once), which may put an error at the end of the
        // input on the line after the last.
        let scalars = Array(text.unicodeScalars)
        let lines = 1 + scalars.indices.filter { index in
            YAMLDocument.isLineBreak(scalars[index]) && !(scalars[index] == "\r" && index + 1 < scalars.count && scalars[index + 1] == "\n")
        }.count
        for problem in error.errors {
            precondition(!problem.message.isEmpty, "an error without a message: \(problem)")
            precondition(problem.file == "fuzz.yaml", "an error naming another file: \(problem)")
            precondition((problem.line == 0) == (problem.column == 0), "a half-placed error: \(problem)")
            // Every error points at its place in the file, except the one about an empty file,
            // which has no place to point at.
            precondition(problem.line > 0 || problem.message.hasPrefix("is missing: the file is empty"), "an error without a place: \(problem)")
            precondition(problem.line >= 0 && problem.line <= lines + 1, "an error past the end (\(lines) lines): \(problem)")
        }
    }
}

var argc = CommandLine.argc
var argv = CommandLine.unsafeArgv
exit(runFuzzerDriver(&argc, &argv) { data, size in configLoaderFuzz(data, size) })
