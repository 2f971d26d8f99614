import Foundation
import PhantomFileSystem

/// Turns a data-set reference — a path, or the name of a bundled data set such as `digits` — into a file.
///
/// The one resolver shared by `train`, `analyze` and `inspect`. In order:
/// 1. an existing file at `reference` (relative to the working directory, or absolute);
/// 2. for a reference stored in a checkpoint, the same relative path next to that checkpoint;
/// 3. for a bare name (no `/`, no `.h5`): `NAME.h5` in the bundled folders (``bundledFolders``: `$PHANTOM_DATA`,
///    the installation's `share/phantom`, `notebooks-data`, the repository's), then next to the checkpoint.
public enum DataSetResolver {
    /// The folder bundled data sets are looked up in, relative to the working directory.
    public static let bundledFolder = "notebooks-data"
    /// An environment variable naming a folder of bundled data sets, searched first.
    public static let environmentVariable = "PHANTOM_DATA"

    /// Where bundled data sets (`NAME.h5`) are looked for, in order: `$PHANTOM_DATA`; `share/phantom` beside the
    /// installed executable (`make install`); `notebooks-data` in the working directory; the repository's
    /// `notebooks-data` for an executable built in its `.build` folder.
    public static var bundledFolders: [String] {
        var folders: [String] = []
        if let folder = ProcessInfo.processInfo.environment[environmentVariable], !folder.isEmpty { folders.append(folder) }
        let executable = URL(fileURLWithPath: Executable.path).deletingLastPathComponent()
        folders.append(executable.deletingLastPathComponent().appendingPathComponent("share/phantom").path)
        folders.append(bundledFolder)
        var up = executable
        for _ in 0..<4 {
            up.deleteLastPathComponent()
            if up.lastPathComponent == ".build" {
                folders.append(up.deletingLastPathComponent().appendingPathComponent(bundledFolder).path)
                break
            }
        }
        return folders
    }

    /// - Parameters:
    ///   - reference: a path or a bundled name.
    ///   - near: the checkpoint that named the data set, if any (its folder is searched too).
    /// - Throws: ``InputError`` naming the reference and where it was looked for.
    /// Runs `body`, which resolves and reads the data that the `dataset` attribute of `checkpoint` names; its error
    /// is repeated with the checkpoint and the attribute it came from (the resolved path alone does not say why that
    /// file was read).
    public static func named<T>(by checkpoint: String, _ reference: String, _ body: () throws -> T) throws -> T {
        do { return try body() } catch {
            throw InputError(
                path: checkpoint, message: "attribute 'dataset' = '\(reference.prefix(200))' (pass --data to use another file): \(error)")
        }
    }

    public static func resolve(_ reference: String, near checkpoint: String? = nil) throws -> String {
        let folder = checkpoint.map { URL(fileURLWithPath: $0).deletingLastPathComponent().path }
        let isName = !reference.contains("/") && !reference.hasSuffix(".h5")
        var candidates = [reference]
        if isName { candidates += bundledFolders.map { "\($0)/\(reference).h5" } }
        if let folder { candidates.append(folder + "/" + (isName ? reference + ".h5" : reference)) }
        for candidate in candidates where FileManager.default.fileExists(atPath: candidate) && !RunFolder.isFolder(candidate) {
            return candidate
        }
        if !isName && checkpoint == nil { throw InputError(path: reference, message: "no such file") }
        let source = checkpoint.map { "\($0) names data set '\(reference)'" } ?? "data set '\(reference)'"
        throw InputError(
            path: reference,
            message: "\(source) was not found (looked for \(candidates.joined(separator: ", "))); pass the data file's path")
    }
}
