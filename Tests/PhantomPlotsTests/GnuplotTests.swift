import Foundation
import PhantomPlots
import PhantomTestSupport
import Testing

@Suite("gnuplot through a pipe")
struct GnuplotTests {
    static let figure = Figure(
        name: "figure", title: "y = x²", blocks: [(0...20).map { "\($0) \($0 * $0)" }.joined(separator: "\n")],
        body: "set title \"y = x²\"\nset xlabel \"x\"\nplot 'figure.dat' index 0 with linespoints title \"data\"")

    @Test(
        "renders PNG, SVG and PDF with valid headers and non-trivial size",
        arguments: [Terminal.png(), .svg(), .pdf()])
    func renders(terminal: Terminal) throws {
        let folder = makeTemporaryFolder()
        let path = folder + "/figure.\(terminal.fileExtension)"
        try FigureWriter(folder: folder, formats: [terminal.fileExtension], overwrite: false).write(Self.figure)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        #expect(bytes.count > 1000)
        switch terminal {
        case .png: #expect(Array(bytes.prefix(8)) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        case .svg: #expect(String(decoding: bytes.prefix(400), as: UTF8.self).contains("<svg"))
        case .pdf: #expect(String(decoding: bytes.prefix(5), as: UTF8.self) == "%PDF-")
        }
        #expect(
            try FileManager.default.contentsOfDirectory(atPath: folder).sorted()
                == ["figure.\(terminal.fileExtension)", "figure.dat", "figure.gp"].sorted())
    }

    @Test("a broken script throws gnuplot's own message and leaves no output")
    func brokenScript() throws {
        let folder = makeTemporaryFolder()
        let broken = Figure(name: "broken", title: "broken", blocks: ["1 2"], body: "plot 'broken.dat' using 1:2 with linez")
        let error = try #require(throws: GnuplotError.self) {
            try FigureWriter(folder: folder, formats: ["png"], overwrite: false).write(broken)
        }
        guard case let .failed(status, message) = error else { Issue.record("unexpected \(error)"); return }
        #expect(status != 0)
        #expect(message.contains("unrecognized plot type"))
        #expect(error.description.contains("unrecognized plot type"))
        #expect(error.description.hasPrefix("gnuplot failed"))
        #expect(!FileManager.default.fileExists(atPath: folder + "/broken.png"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder).allSatisfy { !$0.hasPrefix(".") })
    }

    @Test("a missing gnuplot names the package to install")
    func missingGnuplot() throws {
        let error = try #require(throws: GnuplotError.self) {
            _ = try Gnuplot(executable: "gnuplot-that-does-not-exist").run("print 1")
        }
        #expect(error.description.contains("apt-get install gnuplot-nox"))
        #expect(throws: GnuplotError.self) { _ = try Gnuplot(executable: "/nonexistent/gnuplot").run("print 1") }
    }

    @Test("a large datablock does not deadlock the pipes, and stdout is returned")
    func largeData() throws {
        let many = (0..<200_000).map { "\($0) \($0 % 97)" }.joined(separator: "\n")
        let out = try Gnuplot().run("$d << EOD\n\(many)\nEOD\nstats $d using 2 nooutput\nset print '-'\nprint STATS_records\n")
        #expect(out.trimmingCharacters(in: .whitespacesAndNewlines) == "200000")
    }

    @Test("titles and paths with quotes are escaped")
    func escaping() {
        #expect(Gnuplot.escape("it's") == "it''s")
        let script = Figure(name: "a", title: "t", blocks: ["1 2"], body: "plot 'a.dat'", width: 10, height: 20).script(
            format: "png", output: "/tmp/o'k.png")
        #expect(
            script.contains(
                "set terminal pngcairo enhanced font 'Sans,10' size 10,20\nset output '/tmp/o''k.png'\nplot 'a.dat'\nunset output\n"))
    }
}
