import Foundation

/// A run folder: the checkpoint series one training run writes, `epoch-0000.h5`, `epoch-0005.h5`, …
///
/// This is the one rule for what a run folder is, shared by `train` (which writes, resumes and, with
/// `--force`, clears it), `analyze` (which takes the series) and `plot` (which draws its training curves).
/// Other files in the folder are not part of the series and are never touched.
public enum RunFolder {
    /// The name of the checkpoint of `epoch`: `epoch-0030.h5`.
    public static func checkpointName(epoch: Int) -> String { String(format: "epoch-%04d.h5", epoch) }

    /// Whether `name` (a file name, no folder) is a checkpoint of a run: `epoch-` + digits + `.h5`.
    public static func isCheckpointName(_ name: String) -> Bool { epoch(ofCheckpointName: name) != nil }

    /// The epoch a checkpoint name says (`epoch-0030.h5` → 30), or nil for a name that is not one.
    public static func epoch(ofCheckpointName name: String) -> Int? {
        guard name.hasPrefix("epoch-"), name.hasSuffix(".h5") else { return nil }
        let digits = name.dropFirst("epoch-".count).dropLast(".h5".count)
        guard !digits.isEmpty, digits.allSatisfy(\.isASCII), digits.allSatisfy(\.isNumber) else { return nil }
        return Int(digits)
    }

    /// The checkpoints in `folder`, ordered by name (= by epoch); empty when the folder cannot be read.
    public static func checkpoints(in folder: String) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        let base = folder.hasSuffix("/") ? String(folder.dropLast()) : folder
        return names.filter(isCheckpointName).sorted().map { base + "/" + $0 }
    }

    /// Whether `path` is an existing folder.
    public static func isFolder(_ path: String) -> Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue
    }
}
