@testable import RunnerDaemon
import Testing

/// The control socket's message codec: JSON as RFC 8259 has it, varlink calls and replies, and the
/// decoding of calls into requests, each with what a hostile or careless client may send.
@Suite("Varlink codec")
struct VarlinkCodecTests {
    @Test func jsonRoundTripsEveryKindOfValue() throws {
        let text = #"{"a":[1,-2.5,true,false,null],"b":"x\"y\\z\n\u0001é😀","c":{}}"#
        let value = try JSONValue.parse(Array(text.utf8))
        #expect(value["a"] == .array([1, .number(-2.5), true, false, .null]))
        #expect(value["b"] == .string("x\"y\\z\n\u{01}é😀"))
        #expect(try JSONValue.parse(Array(value.text.utf8)) == value)
        #expect(try JSONValue.parse(Array(#""\ud83d\ude00""#.utf8)) == .string("😀"))
    }

    @Test(arguments: [
        ("", "unexpected end of the text"),
        ("{", "expected a member name"),
        (#"{"a":1,}"#, "expected a member name"),
        (#"{"a":1,"a":2}"#, "the member \"a\" appears twice"),
        ("[1 2]", "expected ',' or ']'"),
        ("01", "unexpected text after the value"),
        ("1.", "expected a digit after '.'"),
        ("1e999", "a number out of range"),
        (#""\x""#, "unknown escape"),
        (#""\ud800""#, "a high surrogate without its low half"),
        ("\"\u{01}\"", "a control character in a string must be escaped"),
        ("nul", "unexpected character"),
        ("{} {}", "unexpected text after the value"),
    ])
    func malformedJSONIsRefusedWithWhereAndWhy(text: String, reason: String) {
        #expect(throws: JSONValue.ParseError.self) { try JSONValue.parse(Array(text.utf8)) }
        do {
            _ = try JSONValue.parse(Array(text.utf8))
        } catch {
            #expect(error.reason == reason)
        }
    }

    @Test func aDuplicateMemberIsFoundInSmallAndLargeObjects() {
        let many = (0..<40).map { "\"k\($0)\":\($0)" }.joined(separator: ",")
        #expect(throws: Never.self) { try JSONValue.parse(Array("{\(many)}".utf8)) }
        for duplicate in ["k3", "k39"] {
            #expect(throws: JSONValue.ParseError.self) { try JSONValue.parse(Array("{\(many),\"\(duplicate)\":0}".utf8)) }
        }
        #expect(throws: JSONValue.ParseError.self) { try JSONValue.parse(Array(#"{"a":1,"b":2,"a":3}"#.utf8)) }
    }

    @Test func escapesInsideLongerStringsDecodeInPlace() throws {
        let value = try JSONValue.parse(Array(#"["before \"quoted\" after\\tab\u00e9\ud83d\ude00 end", "plain"]"#.utf8))
        #expect(value == .array([.string("before \"quoted\" after\\tabé😀 end"), "plain"]))
    }

    @Test func membersAreFoundWithoutDecodingAndTheirTextIsTheValue() throws {
        let text = Array(#" {"parameters": {"a": [1, {"b": "x\"}"}], "c": null} , "continues":true}"#.utf8)
        let members = try JSONValue.memberRanges(of: text)
        #expect(members.map(\.name) == ["parameters", "continues"])
        let parameters = Array(text[members[0].range])
        #expect(String(decoding: parameters, as: UTF8.self) == #"{"a": [1, {"b": "x\"}"}], "c": null}"#)
        #expect(try JSONValue.parse(parameters)["c"] == .null)
        for bad in [#"{"a": [1, }"#, #"{"a": "\x"}"#, #"{"a" 1}"#, #"[1]"#, #"{"a": 1} x"#, #"{"a": {"b" "c"}}"#, "{\"a\": \"\u{01}\"}"] {
            #expect(throws: JSONValue.ParseError.self, "\(bad)") { try JSONValue.memberRanges(of: Array(bad.utf8)) }
        }
    }

    @Test func numbersAreWrittenExactlyAndShort() throws {
        let cases: [(Double, String)] = [(3.046, "3.046"), (-0.25, "-0.25"), (0.001, "0.001"), (12, "12"), (-7, "-7"), (2.5e-7, "2.5e-07"), (1234.5678, "1234.5678")]
        for (value, text) in cases {
            #expect(JSONValue.number(value).text == text)
            #expect(try JSONValue.parse(Array(text.utf8)) == .number(value))
        }
        #expect(Duration.milliseconds(3046).seconds == 3.046)
    }

    @Test func invalidUTF8AndDeepNestingAreRefused() {
        #expect(throws: JSONValue.ParseError.self) { try JSONValue.parse([0x22, 0xFF, 0x22]) }
        let deep = String(repeating: "[", count: JSONValue.maximumDepth + 1) + String(repeating: "]", count: JSONValue.maximumDepth + 1)
        #expect(throws: JSONValue.ParseError.self) { try JSONValue.parse(Array(deep.utf8)) }
        let fine = String(repeating: "[", count: JSONValue.maximumDepth - 1) + String(repeating: "]", count: JSONValue.maximumDepth - 1)
        #expect(throws: Never.self) { try JSONValue.parse(Array(fine.utf8)) }
    }

    @Test func aCallDecodesAndEncodesAsVarlinkSaysAndRejectsWhatItDoesNotKnow() throws {
        let call = try VarlinkCall.decode(Array(#"{"method":"io.runnerd.Manager.Status","parameters":{"groups":["web"]},"more":true}"#.utf8))
        #expect(call == VarlinkCall(method: "io.runnerd.Manager.Status", parameters: .object([("groups", .array(["web"]))]), more: true))
        #expect(call.interface == "io.runnerd.Manager")
        #expect(call.encoded.last == 0)
        #expect(try VarlinkCall.decode(call.encoded.dropLast()) == call)
        for bad in [#"[]"#, #"{"parameters":{}}"#, #"{"method":"Status"}"#, #"{"method":"io.runnerd.Manager.status"}"#,
                    #"{"method":"io.runnerd.Manager.Status","parameters":[]}"#, #"{"method":"a.b.C","more":1}"#,
                    #"{"method":"a.b.C","extra":1}"#] {
            #expect(throws: VarlinkCall.Problem.self, "\(bad)") { try VarlinkCall.decode(Array(bad.utf8)) }
        }
    }

    @Test func callsBecomeRequestsOrTheErrorsTheSpecificationNames() {
        func decode(_ method: String, _ parameters: [(String, JSONValue)] = [], more: Bool = false) -> ControlInterface.Decoding {
            ControlInterface.request(for: VarlinkCall(method: method, parameters: .object(parameters), more: more))
        }
        #expect(decode("io.runnerd.Manager.Status", more: true) == .request(.status(groups: [], watch: true)))
        #expect(decode("io.runnerd.Manager.Restart", [("groups", .array(["web", "web", "db"]))]) == .request(.group(.restart, ["web", "db"])))
        #expect(decode("io.runnerd.Manager.Reload", [("dryRun", true)]) == .request(.reload(dryRun: true)))
        #expect(decode("org.varlink.service.GetInterfaceDescription", [("interface", "io.runnerd.Manager")]) == .request(.describe(interface: "io.runnerd.Manager")))
        #expect(decode("io.runnerd.Manager.Stop") == .error(.failure("org.varlink.service.InvalidParameter", [("parameter", "groups")])))
        #expect(decode("io.runnerd.Manager.Stop", [("groups", .array([1]))]) == .error(.failure("org.varlink.service.InvalidParameter", [("parameter", "groups")])))
        #expect(decode("io.runnerd.Manager.Reload", [("dryRun", "yes")]) == .error(.failure("org.varlink.service.InvalidParameter", [("parameter", "dryRun")])))
        #expect(decode("io.runnerd.Manager.Explode") == .error(.failure("org.varlink.service.MethodNotFound", [("method", "io.runnerd.Manager.Explode")])))
        #expect(decode("com.example.Other.Method") == .error(.failure("org.varlink.service.InterfaceNotFound", [("interface", "com.example.Other")])))
    }

    @Test func rootMayDoEverythingTheControlGroupMayOnlyLookAndOthersNothing() {
        let root = ControlAccess(uid: 0, gid: 0, groups: [], controlGroup: 500)
        let member = ControlAccess(uid: 1000, gid: 1000, groups: [27, 500], controlGroup: 500)
        let primary = ControlAccess(uid: 1000, gid: 500, groups: [], controlGroup: 500)
        let stranger = ControlAccess(uid: 1000, gid: 1000, groups: [27], controlGroup: 500)
        let noGroupConfigured = ControlAccess(uid: 1000, gid: 500, groups: [500], controlGroup: nil)
        #expect(root.allows("io.runnerd.Manager.Restart"))
        #expect(member.allows("io.runnerd.Manager.Status") && !member.allows("io.runnerd.Manager.Restart") && !member.allows("io.runnerd.Manager.Reload"))
        #expect(primary.allows("org.varlink.service.GetInfo") && !primary.allows("io.runnerd.Manager.Stop"))
        #expect(!stranger.allows("io.runnerd.Manager.Status") && !stranger.allows("org.varlink.service.GetInfo"))
        #expect(!noGroupConfigured.allows("io.runnerd.Manager.Status"))
    }

    @Test func theStatusReportSurvivesItsOwnJSON() throws {
        let report = StatusReport(state: "running", status: "1 group", unit: "runnerd.service", journal: true, groups: [
            .init(name: "web", state: "restarting", required: true, ready: 0, total: 1, restarts: 2, restartLimit: 5,
                  lastExit: "service api exited with status 3", nextRestartIn: .seconds(4), services: [
                      .init(name: "api", state: "down", readiness: "notify", status: "loading"),
                  ]),
        ])
        #expect(try StatusReport(json: report.json) == report)
    }
}
