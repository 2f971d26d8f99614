import Foundation
import PhantomHDF5
import PhantomModel
import PhantomModelIO
import PhantomTestSupport
import Testing

@Suite("Hostile inputs that must work, harmlessly")
struct HostileInputTests {
    let phantom = phantomExecutable()

    @Test("a run folder whose checkpoint carries a gnuplot command in its estimator, and NaN/huge history values, plots harmlessly")
    func plotRunInjection() throws {
        let folder = makeTemporaryFolder()
        let good = try Checkpoint.load(SweepFixture.folder + "/good.h5")
        var checkpoint = Checkpoint(
            model: good.model, dataset: "data.h5", epoch: 2, step: 4,
            estimator: #"upg" title "x"; system("touch \#(folder)/PWNED"); #"#,
            history: [
                "epoch": HDF5Array(shape: [4], values: [1, 2, .nan, 1e300]),
                "loss": HDF5Array(shape: [4], values: [1, 0.5, .infinity, 0.2]),
                "steps": HDF5Array(shape: [4], values: [2, 2, -1e300, .nan]),
                "train_accuracy": HDF5Array(shape: [4], values: [0.5, 0.6, 0.7, 0.8]),
                "test_accuracy": HDF5Array(shape: [4], values: [0.5, 0.6, 0.7, 0.8]),
                "forward_seconds": HDF5Array(shape: [4], values: [1, 1, 1, 1]),
                "backward_seconds": HDF5Array(shape: [4], values: [1, 1, 1, 1])
            ])
        checkpoint.metadata = [:]
        try FileManager.default.createDirectory(atPath: folder + "/run\"'; x", withIntermediateDirectories: true)
        try checkpoint.save(to: folder + "/run\"'; x/epoch-0002.h5")
        let result = try runProgram(phantom, ["plot", folder + "/run\"'; x", "-o", folder + "/figs"])
        #expect(result.status == 0 && result.stdout.contains("training_curves"), "\(result.stdout) \(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: folder + "/PWNED"))
        let script = try String(contentsOfFile: folder + "/figs/training_curves.gp", encoding: .utf8)
        #expect(!script.contains("system(") && !script.contains("run\""))
    }

    @Test("a results file with cosines of 1e300 and NaN plots without trapping")
    func plotExtremeValues() throws {
        let folder = makeTemporaryFolder()
        try HDF5File.write(to: folder + "/r.h5") { file in
            let root = file.root
            try root.setAttribute("format", .string("phantom-analysis"))
            try root.setAttribute("version", .integer(1))
            try root.setAttribute("estimators", .string("upg,npg"))
            let axes = try root.createGroup("axes")
            try axes.write("k", vector: [Int64(1), 2])
            try axes.write("lambda", vector: [0.5, 1.0])
            try axes.write("epoch", vector: [Int64(0)])
            let cells = try root.createGroup("cells")
            try cells.write("cosine", HDF5Array(shape: [1, 2, 2, 2, 3], values: (0..<24).map { [1e300, .nan, -1e300, 0.5][$0 % 4] }))
        }
        let result = try runProgram(phantom, ["plot", folder + "/r.h5", "-o", folder + "/figs"])
        #expect(result.status == 0 && !result.crashed, "\(result.stderr)")
    }

    @Test("training that diverges stops with an error and leaves only good checkpoints")
    func divergence() throws {
        let folder = makeTemporaryFolder()
        let result = try runProgram(
            phantom,
            [
                "train", "--data", SweepFixture.folder + "/data.h5", "--hidden", "4", "--lr", "1e308",
                "--epochs", "3", "--save-every", "1", "--max-norm", "0", "-o", folder + "/run"
            ])
        #expect(result.status != 0 && result.stderr.contains("training diverged"), "\(result.stderr)")
        for path in RunFolder.checkpoints(in: folder + "/run") {
            #expect(try Checkpoint.load(path).model.cell.parameters.allSatisfy(\.isFinite), "\(path)")
        }
    }

    @Test("SIGTERM during an analysis exits with 143 and leaves no temporary file")
    func terminate() throws {
        let folder = makeTemporaryFolder()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: phantom)
        process.arguments = ["analyze", repositoryPath("notebooks-data/reference/tanh-upg"), "--samples", "64", "-o", folder + "/r.h5"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        Thread.sleep(forTimeInterval: 1.5)
        process.terminate()
        process.waitUntilExit()
        #expect(
            process.terminationStatus == 143,
            "status \(process.terminationStatus) (\(process.terminationReason == .exit ? "exit" : "signal"))")
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder).isEmpty)
    }
}

extension HostileInputTests {
    /// True when this process may mount a small tmpfs (root, as in CI): the full-disk test needs one.
    static let canMount: Bool = getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/bin/mount")

    @Test(
        "a full disk is an error naming the output; nothing is left behind and the tool does not crash",
        .enabled(if: canMount, "needs root to mount a 40 KiB tmpfs"))
    func fullDisk() throws {
        let folder = makeTemporaryFolder() + "/small"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let mounted = try runProgram("/bin/mount", ["-t", "tmpfs", "-o", "size=40k", "tmpfs", folder])
        try #require(mounted.status == 0, "mount failed: \(mounted.stderr)")
        defer { _ = try? runProgram("/bin/umount", [folder]) }
        let result = try runProgram(
            phantom,
            [
                "analyze", repositoryPath("notebooks-data/reference/tanh-upg/epoch-0030.h5"),
                "--data", repositoryPath("notebooks-data/digits.h5"), "--samples", "4", "--k", "1,2",
                "--lambda", "0.5", "-o", folder + "/r.h5"
            ])
        #expect(!result.crashed && result.status != 0, "status \(result.status)")
        #expect(result.stderr.contains(folder + "/r.h5") && result.stderr.contains("cannot be written"), "\(result.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder).isEmpty)
    }
}

/// A file of the repository, from this source file's location.
func repositoryPath(_ relative: String) -> String {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { url.deleteLastPathComponent() }
    return url.appendingPathComponent(relative).path
}

@Suite("phantom inspect --data")
struct InspectSelectionTests {
    @Test("selects the samples analyze takes (the test split first) and prints class and loss")
    func selection() throws {
        let folder = SweepFixture.folder
        let result = try runProgram(phantomExecutable(), ["inspect", folder + "/good.h5", "--data", folder + "/data.h5", "--samples", "3"])
        #expect(result.status == 0, "\(result.stderr)")
        let table = result.stdout.split(separator: "\n").drop { !$0.hasPrefix("row") }
        #expect(table.first?.contains("class") == true && table.first?.contains("loss") == true)
        // data.h5's split alternates 0, 1: the test split is rows 1, 3, 5, …
        #expect(table.dropFirst().prefix(3).map { $0.split(separator: " ").first.map(String.init) } == ["1", "3", "5"])
    }
}
