import Foundation
import PhantomFileSystem
import PhantomHDF5
import PhantomTestSupport
import Testing

@Suite("HDF5 failures are errors naming the file and the dataset")
struct HDF5FailureTests {
    @Test("a missing file, a folder, a non-HDF5 file and a truncated file")
    func badFiles() throws {
        let folder = makeTemporaryFolder()
        let missing = folder + "/missing.h5"
        let error1 = try #require(throws: HDF5Error.self) { try HDF5File.open(missing) }
        #expect(error1.description.contains(missing) && error1.description.contains("no such file"))

        let text = folder + "/text.h5"
        try "not hdf5 at all".write(toFile: text, atomically: true, encoding: .utf8)
        let error2 = try #require(throws: HDF5Error.self) { try HDF5File.open(text) }
        #expect(error2.description.contains("not an HDF5 file"))

        #expect(throws: HDF5Error.self) { try HDF5File.open(folder) }

        let good = folder + "/good.h5"
        try HDF5File.write(to: good) { (file: HDF5File) throws in
            try file.root.write("big", HDF5Array(shape: [1000], values: (0..<1000).map(Double.init)))
        }
        let bytes = try Data(contentsOf: URL(fileURLWithPath: good))
        let truncated = folder + "/truncated.h5"
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: truncated))
        let error3 = try #require(throws: HDF5Error.self) {
            try HDF5File.withFile(at: truncated) { file in _ = try file.root.read("big", as: Double.self) }
        }
        #expect(error3.description.contains(truncated))
        #expect(error3.operation != nil && !error3.stack.isEmpty)  // the library's own stack is kept
    }

    @Test("wrong rank, wrong dtype, missing dataset and a group read as a dataset")
    func badReads() throws {
        let path = makeTemporaryFolder() + "/reads.h5"
        try HDF5File.write(to: path) { (file: HDF5File) throws in
            let g = try file.root.createGroup("params")
            try g.write("cell.weight", HDF5Array(shape: [2, 2], values: [1.0, 0, 0, 1]))
            try g.write("labels", vector: [Int64(1), 2])
        }
        try HDF5File.withFile(at: path) { (file: HDF5File) throws in
            let g = try file.root.group("params")
            let rank = try #require(throws: HDF5Error.self) { try g.readDoubles("cell.weight", rank: 1) }
            #expect(rank.description == "\(path): /params/cell.weight: has rank 2 (shape [2, 2]), expected rank 1")
            let dtype = try #require(throws: HDF5Error.self) { try g.read("cell.weight", as: Float.self) }
            #expect(dtype.description.contains("/params/cell.weight") && dtype.description.contains("float64"))
            let ints = try #require(throws: HDF5Error.self) { try g.readDoubles("labels") }
            #expect(ints.description.contains("int64"))
            let missing = try #require(throws: HDF5Error.self) { try g.readDoubles("injection.bias") }
            #expect(missing.description == "\(path): /params/injection.bias: no such dataset")
            #expect(throws: HDF5Error.self) { try file.root.readDoubles("params") }
            #expect(throws: HDF5Error.self) { try file.root.group("nothing") }
        }
    }

    @Test("a write that fails midway leaves no file at the target and no temporary file")
    func failedWriteLeavesNothing() throws {
        struct Interrupted: Error {}
        let folder = makeTemporaryFolder()
        let path = folder + "/results.h5"
        #expect(throws: Interrupted.self) {
            try HDF5File.write(to: path) { (file: HDF5File) throws in
                try file.root.write("partial", vector: [1.0, 2, 3])
                throw Interrupted()
            }
        }
        #expect(!FileManager.default.fileExists(atPath: path))
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder).isEmpty)
    }

    @Test("an existing output is kept unless overwriting is asked for; a missing folder is an error")
    func existingOutput() throws {
        let folder = makeTemporaryFolder()
        let path = folder + "/out.h5"
        try HDF5File.write(to: path) { try $0.root.write("v", vector: [1.0]) }
        let error = try #require(throws: OutputError.self) {
            try HDF5File.write(to: path) { try $0.root.write("v", vector: [2.0]) }
        }
        #expect(error.description.contains("already exists"))
        #expect(try HDF5File.withFile(at: path) { try $0.root.readDoubles("v").values } == [1.0])
        try HDF5File.write(to: path, overwrite: true) { try $0.root.write("v", vector: [2.0]) }
        #expect(try HDF5File.withFile(at: path) { try $0.root.readDoubles("v").values } == [2.0])
        #expect(throws: OutputError.self) { try HDF5File.write(to: folder + "/no/such/out.h5") { _ in } }
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder) == ["out.h5"])
    }
}

@Suite("SHA-256")
struct SHA256Tests {
    @Test("FIPS 180-4 test vectors and sha256sum agree")
    func vectors() throws {
        #expect(SHA256.hex([]) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256.hex(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(
            SHA256.hex(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        #expect(
            SHA256.hex([UInt8](repeating: 0x61, count: 1_000_000)) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
        // A file of every length class around the 64-byte block boundary, against coreutils.
        let folder = makeTemporaryFolder()
        for length in [55, 56, 63, 64, 65, 1000] {
            let path = folder + "/f\(length)"
            try Data((0..<length).map { UInt8($0 % 251) }).write(to: URL(fileURLWithPath: path))
            let reference = try runProcess("/usr/bin/sha256sum", [path]).stdout.prefix(64)
            #expect(try SHA256.hex(ofFile: path) == String(reference))
        }
    }

    @Test("a file of several chunks hashes as its bytes do, and as sha256sum does")
    func streamedFile() throws {
        let path = makeTemporaryFolder() + "/big"
        let bytes = (0..<(2 * SHA256.chunkBytes + 17)).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 7) }
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let reference = String(try runProcess("/usr/bin/sha256sum", [path]).stdout.prefix(64))
        #expect(try SHA256.hex(ofFile: path) == reference)
        #expect(SHA256.hex(bytes) == reference)
        #expect(throws: (any Error).self) { try SHA256.hex(ofFile: path + "-missing") }
    }
}
