import Foundation
import PhantomFileSystem

/// Turns a data-set reference — a path, or the name of a bundled data set such as `digits` — into a file.
///
/// The one resolver shared by `train`, `analyze` and `inspect`. In order:
/// 1. an existing file at `reference` (relative to the working directory, or absolute);
/// 2. for a reference stored in a checkpoint, the same relative path next to that checkpoint;
/// 3. for a bare name (no `/`, no `.h5`): the bundled `notebooks-data/NAME.h5`, then `NAME.h5` next to the
///    checkpoint.
public enum DataSetResolver {
    /// The folder bundled data sets are looked up in, relative to the working directory.
    public static let bundledFolder = "notebooks-data"

    /// - Parameters:
    ///   - reference: a path or a bundled name.
    ///   - near: the checkpoint that named the data set, if any (its folder is searched too).
    /// - Throws: ``InputError`` naming the reference and where it was looked for.
    public static func resolve(_ reference: String, near checkpoint: String? = nil) throws -> String {
        let folder = checkpoint.map { URL(fileURLWithPath: $0).deletingLastPathComponent().path }
        let isName = !reference.contains("/") && !reference.hasSuffix(".h5")
        var candidates = [reference]
        if isName { candidates.append("\(bundledFolder)/\(reference).h5") }
        if let folder { candidates.append(folder + "/" + (isName ? reference + ".h5" : reference)) }
        for candidate in candidates where FileManager.default.fileExists(atPath: candidate) && !RunFolder.isFolder(candidate) {
            return candidate
        }
        if !isName && checkpoint == nil { throw InputError(path: reference, message: "no such file") }
        let source = checkpoint.map { "\($0) names data set '\(reference)'" } ?? "data set '\(reference)'"
        throw InputError(path: reference, message: "\(source) was not found (looked for \(candidates.joined(separator: ", "))); pass the data file's path")
    }
}
