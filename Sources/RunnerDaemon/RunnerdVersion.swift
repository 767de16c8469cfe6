/// runnerd's version: the one source of truth, which `runnerd --version` prints and the
/// packaging reads back from the built binary.
public enum RunnerdVersion {
    /// This build's version, in semantic-versioning form.
    public static let current = "0.1.0"
}
