import ArgumentParser
import Foundation
import PhantomFileSystem
import PhantomHDF5
import PhantomLinearAlgebra
import PhantomPlots
import PhantomSafetensors
import PhantomTraining

/// `phantom`: how good is a cheap gradient? Exact vs phantom gradients of implicit models.
@main
struct Phantom: ParsableCommand {
    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "phantom",
        abstract: "Measure how well phantom gradients (UPG, NPG) approximate the exact gradient of implicit models.",
        discussion: """
            Implicit models (deep equilibrium models) define their output by a fixed point h* = f(h*, x; θ). The exact gradient needs a \
            linear solve with (I − J); the phantom gradients of Geng et al. (NeurIPS 2021) replace it with k damped steps. phantom \
            trains or loads such models, computes both gradients, measures the angle and norm error between them across k and λ, checks \
            the paper's Theorem 1 per sample, writes everything to HDF5 and renders the figures with gnuplot.
            """,
        version: version,
        subcommands: [
            Train.self, Analyze.self, Merge.self, Slurm.self, Plot.self, Import.self, Export.self, Inspect.self, Bench.self,
            CheckHDF5.self
        ]
    )
}

extension Phantom {
    /// Parses, runs, and reports any failure as exactly one line on stderr (`phantom: …`), with a
    /// non-zero exit code. Help and version requests print as usual.
    static func main() {
        AtomicOutput.removeTemporariesOnSignals()
        Memory.keepLargeBlocks()
        // Untrusted HDF5 inputs are read by a child process first: libhdf5 can crash on a corrupted file.
        HDF5File.isolation = HDF5File.Isolation(executable: Executable.path) { ["check-hdf5", $0] }
        do {
            _ = try Parallel.slurmCPUs(in: ProcessInfo.processInfo.environment)  // refused at once when malformed
            var command = try parseAsRoot()
            // Under Slurm, BLAS uses the CPUs the task was given (not OPENBLAS_*: the library call).
            if let cpus = Parallel.slurmCPUs { try BLASInfo.withThreads(cpus) { try command.run() } } else { try command.run() }
        } catch {
            let code = exitCode(for: error)
            if code == .success || error is CleanExit {
                exit(withError: error)  // --help, --version: printed to stdout, exit 0
            }
            if !(error is ExitCode) {
                var message = (ExitStatus.fileErrorText(error) ?? Phantom.message(for: error)).split(whereSeparator: \.isNewline)
                    .map { $0.trimmingCharacters(in: .whitespaces) }
                    .filter { !$0.isEmpty }
                    .joined(separator: " ")
                if let output = error as? OutputError, output.targetExists { message += " (use --force)" }
                FileHandle.standardError.write(Data("phantom: \(message)\n".utf8))
            }
            Foundation.exit(error is ExitCode ? code.rawValue : ExitStatus.of(error, parserCode: code.rawValue))
        }
    }
}

/// Which exit status (``ExitStatus``) each class of error ends the command with.
extension ExitStatus {
    static func of(_ error: any Error, parserCode: Int32) -> Int32 {
        switch error {
        case is ValidationError, is ConfigurationError: return usage
        case is InputError, is HDF5Error, is SafetensorsError, is TrainingDiverged, is DecodingError: return dataError
        case is OutputError: return ioError
        case let file as CocoaError where file.code.rawValue >= CocoaError.fileWriteUnknown.rawValue: return ioError
        case is CocoaError: return dataError
        case let gnuplot as GnuplotError:
            if case .notInstalled = gnuplot { return unavailable }
            return software
        default:
            // ArgumentParser's own errors (unknown option, bad value) come as usage errors with its code.
            let parsing = String(reflecting: type(of: error)).contains("ArgumentParser")
            return parserCode == 0 || parserCode == 1 ? (parsing ? usage : software) : parserCode
        }
    }
}
