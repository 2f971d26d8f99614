import Foundation
import PhantomInterop
import PhantomLinearAlgebra
import PhantomModel
import PhantomModelIO
import PhantomTestSupport
import Testing

/// Byte-level mutants of small input files: every one is read or refused with one line, never a crash.
@Suite("Byte mutations of input files never crash the tool")
struct MutationTests {
    /// Deterministic mutants: truncations, a few random bytes, runs of 0xFF, and huge little-endian sizes.
    static func mutants(of bytes: [UInt8], count: Int, seed: UInt64) -> [[UInt8]] {
        var rng = SplitMix64(seed: seed)
        func random(_ n: Int) -> Int { Int(rng.next() % UInt64(max(n, 1))) }
        return (0..<count).map { i in
            var m = bytes
            switch i % 4 {
            case 0: m = Array(m.prefix(random(m.count)))
            case 1: for _ in 0..<(1 + random(8)) { m[random(m.count)] = UInt8(random(256)) }
            case 2: let at = random(m.count); for j in at..<min(at + 16, m.count) { m[j] = 0xFF }
            default:
                let at = random(m.count - 8)
                m.replaceSubrange(
                    at..<(at + 8), with: withUnsafeBytes(of: (UInt64.max >> UInt64(random(8) * 8)).littleEndian) { Array($0) })
            }
            return m
        }
    }

    static func model(_ kind: CellKind = .resmlp) -> ImplicitModel {
        switch kind {
        case .mdeq:
            RandomModels.mdeq(MDEQCell.Geometry(channels: 2, inChannels: 1, height: 3, width: 2, expansion: 2, groups: 2), c: 2, seed: 21)
        default: RandomModels.resmlp(d: 4, n: 3, m: 5, c: 2, normCenter: 0.7, seed: 21)
        }
    }

    @Test(
        "mutants of a checkpoint through phantom inspect (200 resmlp, 100 mdeq): read or refused in one line, never a crash",
        arguments: [(CellKind.resmlp, 200), (.mdeq, 100)])
    func checkpointMutants(kind: CellKind, count: Int) throws {
        let folder = makeTemporaryFolder()
        let path = folder + "/good.h5"
        try Checkpoint(model: Self.model(kind), dataset: "digits", epoch: 1).save(to: path)
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        var refused = 0, isolatedCrashes = 0
        for (i, mutant) in Self.mutants(of: bytes, count: count, seed: 17).enumerated() {
            let file = folder + "/m\(i).h5"
            try Data(mutant).write(to: URL(fileURLWithPath: file))
            let result = try runProgram(phantomExecutable(), ["inspect", file])
            #expect(!result.crashed, "mutant \(i) crashed phantom (signal \(result.status))")
            if result.status != 0 {
                refused += 1
                if result.stderr.contains("crashed the HDF5 library") { isolatedCrashes += 1 }
                #expect(
                    result.stderr.hasPrefix("phantom: ") && result.stderr.split(separator: "\n").count == 1, "mutant \(i): \(result.stderr)"
                )
            }
        }
        print(
            "\(kind) checkpoint mutants: \(refused) of \(count) refused (\(isolatedCrashes) crashed libhdf5 in the isolated reader), phantom never crashed"
        )
        #expect(refused > count / 4)
    }

    @Test(
        "mutants of a safetensors file (400 resmlp, 200 mdeq): imported or refused with an error, never a crash",
        arguments: [(CellKind.resmlp, 400), (.mdeq, 200)])
    func safetensorsMutants(kind: CellKind, count: Int) throws {
        let folder = makeTemporaryFolder()
        let path = folder + "/good.safetensors"
        try SafetensorsExporter.export(Checkpoint(model: Self.model(kind)), to: path)
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        var refused = 0
        for (i, mutant) in Self.mutants(of: bytes, count: count, seed: 23).enumerated() {
            let file = folder + "/m\(i).safetensors"
            try Data(mutant).write(to: URL(fileURLWithPath: file))
            do { _ = try SafetensorsImporter(cell: kind).importCheckpoint(file) } catch { refused += 1 }
        }
        print("\(kind) safetensors mutants: \(refused) of \(count) refused, none crashed")
        #expect(refused > count / 4)
    }
}
