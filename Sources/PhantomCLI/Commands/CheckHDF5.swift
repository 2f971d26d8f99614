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
        // The reader dies with its parent: it polls for a new parent (the parent gone, it is re-parented).
        let parent = getppid()
        Thread.detachNewThread {
            while getppid() == parent { usleep(100_000) }
            _exit(ExitStatus.software)
        }
        do {
            let bytes = FileHandle.standardInput.readDataToEndOfFile()
            guard bytes.count <= InputLimits.maximumFileBytes else { throw InputError(path: file, message: "is too large") }
            try HDF5File.traverse(FileSnapshot(path: file, bytes: [UInt8](bytes)))
        } catch {
            FileHandle.standardError.write(Data("phantom: \(error)\n".utf8))
            throw ExitCode(HDF5File.traversalRefused)
        }
    }
}
