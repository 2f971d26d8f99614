import Foundation
import Testing
import PhantomTestSupport

@Suite("The phantom executable")
struct CLITests {
    let phantom = phantomExecutable()

    @Test("--version prints the version; --help names the tool and its purpose")
    func versionAndHelp() throws {
        let version = try runProgram(phantom, ["--version"])
        #expect(version.status == 0)
        #expect(version.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "0.1.0")
        let help = try runProgram(phantom, ["--help"])
        #expect(help.status == 0)
        #expect(help.stdout.contains("USAGE: phantom"))
        #expect(help.stdout.contains("phantom gradients"))
    }

    @Test("an unknown option is one line on stderr and a non-zero exit", arguments: [
        ["--frobnicate"], ["smoke", "--bogus", "1"], ["no-such-command"],
    ])
    func unknownOption(arguments: [String]) throws {
        let result = try runProgram(phantom, arguments)
        #expect(result.status != 0)
        let lines = result.stderr.split(separator: "\n")
        #expect(lines.count == 1, "stderr: \(result.stderr)")
        #expect(lines.first?.hasPrefix("phantom: ") == true)
        #expect(result.stdout.isEmpty)
    }

    @Test("smoke writes an HDF5 file and a PNG; a second run without --force refuses and changes nothing")
    func smoke() throws {
        let folder = makeTemporaryFolder()
        let h5 = folder + "/smoke.h5", png = folder + "/smoke.png"
        let first = try runProgram(phantom, ["smoke", "-o", h5, "--plot", png])
        #expect(first.status == 0, "stderr: \(first.stderr)")
        let pngBytes = try Data(contentsOf: URL(fileURLWithPath: png))
        #expect(pngBytes.count > 1000 && pngBytes.prefix(4) == Data([0x89, 0x50, 0x4E, 0x47]))
        let before = try FileManager.default.attributesOfItem(atPath: h5)[.modificationDate] as? Date
        let second = try runProgram(phantom, ["smoke", "-o", h5, "--plot", png])
        #expect(second.status != 0)
        #expect(second.stderr == "phantom: \(h5): already exists; refusing to overwrite it (use --force)\n")
        #expect(try FileManager.default.attributesOfItem(atPath: h5)[.modificationDate] as? Date == before)
        let missingFolder = try runProgram(phantom, ["smoke", "-o", folder + "/nope/smoke.h5", "--plot", folder + "/x.png"])
        #expect(missingFolder.status != 0 && missingFolder.stderr.contains("does not exist"))
        #expect(!FileManager.default.fileExists(atPath: folder + "/x.png"))
    }
}
