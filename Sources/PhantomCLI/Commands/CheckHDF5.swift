import ArgumentParser
import Foundation
import PhantomFileSystem
import PhantomHDF5

/// `phantom check-hdf5 NAME` (hidden): reads an HDF5 file's bytes from stdin and every object in them; the
/// isolated reader every other command runs on an input's snapshot before parsing it itself
/// (``HDF5File/isolation``). Exit 0: the bytes read cleanly; 65: one line on stderr says what is wrong; a crash
/// is the parent's evidence of a corrupted file.
struct CheckHDF5: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-hdf5",
        abstract: "Read every object of an HDF5 file (the isolated reader used for untrusted inputs).",
        shouldDisplay: false
    )

    @Argument(help: "The file's name (for messages); its bytes come on stdin.") var file: String

    func run() throws {
        let status = HDF5File.runIsolatedReader(name: file)
        if status != 0 { throw ExitCode(status) }
    }
}
