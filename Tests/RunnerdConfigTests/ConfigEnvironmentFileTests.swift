import Testing
import RunnerdConfig
import RunnerdTestSupport

@Suite("Config: environment files read the way systemd reads them")
struct ConfigEnvironmentFileTests {
    func variables(_ text: String) -> [String] {
        EnvironmentFile(parsing: text).variables.map { "\($0.name)=\($0.value)" }
    }

    func problems(_ text: String) -> [String] {
        EnvironmentFile(parsing: text).problems.map(\.description)
    }

    @Test func plainAssignmentsWithWhitespaceAroundTheEqualsSign() {
        #expect(variables("A=1\n  B = two words  \nC=\tx\t\nD=\n") == ["A=1", "B=two words", "C=x", "D="])
        #expect(problems("A=1\n  B = two words  \n") == [])
    }

    @Test func commentsAndBlankLinesAreSkippedButAHashInAValueIsKept() {
        #expect(variables("# a comment\n; another\n\n   # indented\nURL=http://x/#frag\nA=1 # not a comment\n")
            == ["URL=http://x/#frag", "A=1 # not a comment"])
    }

    @Test func singleQuotesKeepEverythingLiterally() {
        #expect(variables(#"A='  spaced \n $HOME "x" '"#) == [#"A=  spaced \n $HOME "x" "#])
        #expect(variables("A='one\ntwo'\nB=3\n") == ["A=one\ntwo", "B=3"])
    }

    @Test func doubleQuotesUnescapeOnlyQuoteBackslashBacktickAndDollar() {
        #expect(variables(#"A="say \"hi\" \\ \` \$ \n \t""#) == [#"A=say "hi" \ ` $ \n \t"#])
    }

    @Test func backslashNewlineJoinsLinesInsideDoubleQuotesAndUnquoted() {
        #expect(variables("A=\"one \\\ntwo\"\nB=three \\\nfour\nC=5\n") == ["A=one two", "B=three four", "C=5"])
    }

    @Test func backslashOutsideQuotesMakesTheNextCharacterLiteral() {
        #expect(variables(#"A=a\ b\\c\"d"#) == [#"A=a b\c"d"#])
        #expect(variables("A=x\\ \n") == ["A=x "])
    }

    @Test func quotedAndUnquotedPiecesRunTogether() {
        #expect(variables(#"A="x"'y'z"#) == ["A=xyz"])
        // As in systemd, a quote opens only where a value or piece starts, not mid-word.
        #expect(variables(#"A="x"y'z'  "#) == ["A=xy'z'"])
        #expect(variables(#"A=  "padded"  "#) == ["A=padded"])
    }

    @Test func laterAssignmentsOfTheSameNameAreAllKept() {
        #expect(variables("A=1\nA=2\n") == ["A=1", "A=2"])
    }

    @Test func crlfLineEndingsWork() {
        #expect(variables("A=1\r\nB=2\r\n") == ["A=1", "B=2"])
    }

    @Test func lastLineWithoutNewlineCounts() {
        #expect(variables("A=1\nB=2") == ["A=1", "B=2"])
    }

    @Test func invalidLinesAreProblemsOnTheirOwnLinesAndTheRestStillLoads() {
        let text = """
            # header
            GOOD=1
            1BAD=2
            NO_EQUALS
            export E=5
            =nameless
            MULTI="a
            b"
            AFTER=ok
            HAS SPACE=x
            """
        #expect(variables(text) == ["GOOD=1", "MULTI=a\nb", "AFTER=ok"])
        #expect(problems(text) == [
            #"3: "1BAD" is not a valid variable name; use letters, digits and _, not starting with a digit"#,
            #"4: "NO_EQUALS" has no "="; write NO_EQUALS=value"#,
            #"5: "export E" is not a valid variable name; systemd reads no "export", so drop it"#,
            "6: an assignment has no variable name; write NAME=value",
            #"10: "HAS SPACE" is not a valid variable name; use letters, digits and _, not starting with a digit"#,
        ])
    }

    @Test func quoteLeftOpenAtTheEndIsAProblem() {
        #expect(problems("A=1\nB=\"never closed\nC=2\n") == [#"2: the quoted value of B is never closed; add the closing ""#])
        #expect(problems("A='x") == ["1: the quoted value of A is never closed; add the closing '"])
        #expect(variables("A=1\nB=\"never closed\n") == ["A=1"])
    }

    @Test func validNamesFollowSystemdsRule() {
        #expect(EnvironmentFile.isValidName("_A1"))
        #expect(EnvironmentFile.isValidName("lower_case"))
        #expect(!EnvironmentFile.isValidName("1A"))
        #expect(!EnvironmentFile.isValidName("A-B"))
        #expect(!EnvironmentFile.isValidName(""))
        #expect(!EnvironmentFile.isValidName("É"))
    }

    @Test func readingAFileParsesIt() throws {
        let file = try EnvironmentFile.read(path: "\(ConfigFixture.env)/first.env")
        #expect(file == EnvironmentFile(parsing: "A=1\nB=2\n"))
    }

    @Test func readingAMissingFileThrowsWithTheSystemsReason() {
        let path = "\(ConfigFixture.env)/missing.env"
        #expect(throws: EnvironmentFile.ReadError.self) { try EnvironmentFile.read(path: path) }
        do {
            _ = try EnvironmentFile.read(path: path)
        } catch {
            #expect(error.description == "cannot read \(path): No such file or directory")
        }
    }
}
