import ArgumentParser
import Foundation
import PhantomHDF5

/// `phantom check-hdf5 FILE` (hidden): opens and reads everything in an HDF5 file; the isolated reader that
/// every other command runs on an input file before opening it itself (``HDF5File/isolation``). Exit 0: the
/// file reads cleanly; 65: one line on stderr says what is wrong; a crash is the parent's evidence of a
/// corrupted file.
struct CheckHDF5: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-hdf5",
        abstract: "Read every object of an HDF5 file (the isolated reader used for untrusted inputs).",
        shouldDisplay: false
    )

    @Argument(help: "An HDF5 file.") var file: String

    func run() throws {
        do { try HDF5File.traverse(file) } catch {
            FileHandle.standardError.write(Data("phantom: \(error)\n".utf8))
            throw ExitCode(HDF5File.traversalRefused)
        }
    }
}
