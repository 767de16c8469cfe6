import RunnerdConfig
import RunnerdTestSupport
import Testing

/// Inputs the fuzzer (Fuzz/) found, and what they led to, kept so that they stay fixed.
///
/// libyaml ends a line at LF, CR (CR LF once), NEL, LS and PS, and reports positions that way.
/// The loader counted only LF when it renamed a duplicate key in the text, and when it placed a
/// YAML reader error, so in a file with other line ends it missed the key (and reported a bare
/// YAML error instead of the duplicate's own message) or put the error on the wrong line.
@Suite("Config: inputs found by fuzzing")
struct ConfigFuzzRegressionTests {
    private func errors(_ yaml: String) -> [String] {
        ConfigFixture.errors(yaml)
    }

    /// The fuzzer's first two finds: errors at the end of a file with a lone CR, one line past
    /// its last (libyaml starts a new line at the end of the input).
    @Test(arguments: [
        ("\r[", "runnerd.yaml:3:1: invalid YAML: did not find expected node content (while parsing a flow node from line 3, column 1); check the indentation, quotes and brackets here"),
        ("[$\r/", "runnerd.yaml:3:1: invalid YAML: did not find expected ',' or ']' (while parsing a flow sequence from line 1, column 1); check the indentation, quotes and brackets here"),
    ])
    func errorsAtTheEndOfAFileWithCRLineEndsArePlacedAsLibyamlCountsLines(input: String, expected: String) {
        #expect(errors(input) == [expected])
    }

    @Test(arguments: ["\n", "\r\n", "\r", "\u{85}", "\u{2028}", "\u{2029}"])
    func aDuplicateServiceIsNamedWhateverEndsTheLines(lineEnd: String) {
        let yaml = ["groups:", "  web:", "    services:", "      api: { command: [tool] }", "      api: { command: [tool] }"]
            .joined(separator: lineEnd) + lineEnd
        #expect(errors(yaml) == [
            "runnerd.yaml:5:7: groups.web.services.api: a service of this name is already in this group; the first is on line 4; rename or remove one",
        ])
    }

    @Test(arguments: ["\n", "\r", "\u{2028}"])
    func aControlCharacterIsPlacedOnItsLineWhateverEndsTheLines(lineEnd: String) {
        let yaml = ["groups:", "  web:", "    services: é\u{7}"].joined(separator: lineEnd) + lineEnd
        #expect(errors(yaml) == [
            "runnerd.yaml:3:16: invalid YAML: control characters are not allowed; remove or replace that character",
        ])
    }
}
