import ControlCodec
import Glibc

// The control socket's request parser under libFuzzer: every input is a stream of bytes as a
// client might send it. It is cut at NUL bytes the way the socket cuts messages, and each message
// goes through the daemon's own decoding: JSON, the varlink call, the request. Beyond not
// crashing, what decodes must survive its own encoding unchanged, what does not decode must say
// where (an offset inside the message), and an object's members found by skimming (as a client
// printing `--json` does) must be exactly the decoded ones.

@_silgen_name("LLVMFuzzerRunDriver")
private func runFuzzerDriver(
    _ argc: UnsafeMutablePointer<Int32>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt

@_cdecl("LLVMFuzzerTestOneInput")
public func controlRequestFuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    for message in bytes.split(separator: 0, omittingEmptySubsequences: false) {
        check(Array(message))
    }
    return 0
}

private func check(_ message: [UInt8]) {
    do {
        let value = try JSONValue.parse(message)
        let again = try JSONValue.parse(Array(value.text.utf8))
        if again != value { fatalError("JSON does not survive its own text: \(value.text)") }
    } catch {
        if error.offset < 0 || error.offset > message.count { fatalError("a parse error outside the message: \(error)") }
    }
    // What the client skims (`--json`) must agree with what it would decode. (The skim checks the
    // grammar only: it may accept text that does not decode, such as invalid UTF-8.)
    if case .object(let decoded)? = try? JSONValue.parse(message) {
        guard let members = try? JSONValue.memberRanges(of: message), members.count == decoded.count else {
            fatalError("an object the skim rejects, or whose members it miscounts")
        }
        for (member, value) in zip(members, decoded) where member.name != value.0 || (try? JSONValue.parse(Array(message[member.range]))) != value.1 {
            fatalError("a skimmed member differs from the decoded one: \(member.name)")
        }
    }
    guard let call = try? VarlinkCall.decode(message) else { return }
    let encoded = call.encoded
    guard encoded.last == 0, let decoded = try? VarlinkCall.decode(encoded.dropLast()), decoded == call else {
        fatalError("a call does not survive its own encoding: \(String(decoding: encoded, as: UTF8.self))")
    }
    switch ControlInterface.request(for: call) {
    case .request:
        break
    case .error(let reply):
        if reply.error == nil { fatalError("an error reply without an error name") }
        guard (try? VarlinkReply.decode(reply.encoded.dropLast())) == reply else {
            fatalError("an error reply does not survive its own encoding")
        }
    }
}

var argc = CommandLine.argc
var argv = CommandLine.unsafeArgv
exit(runFuzzerDriver(&argc, &argv) { data, size in controlRequestFuzz(data, size) })
