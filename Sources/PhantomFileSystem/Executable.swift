import Foundation

/// The running program's own file.
public enum Executable {
    /// The absolute path of the running executable, links resolved (`/proc/self/exe`): right however the
    /// program was started (through PATH, a relative path or a link), unlike `argv[0]`.
    public static var path: String { URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path }
}
