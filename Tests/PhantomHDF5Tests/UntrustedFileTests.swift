import Foundation
import PhantomFileSystem
import PhantomHDF5
import PhantomTestSupport
import Testing

@Suite("HDF5 files are read only from themselves, and only as large as they may be")
struct UntrustedFileTests {
    @Test(
        "external and soft links, virtual datasets and external raw storage are refused, never followed",
        .enabled(if: h5pyAvailable, "python3 with h5py is not installed (pip install h5py)"))
    func linksAndExternalData() throws {
        let folder = makeTemporaryFolder()
        let script = """
            import h5py, numpy as np
            with h5py.File('\(folder)/other.h5', 'w') as f:
                f.create_dataset('secret', data=np.arange(4.0))
            with h5py.File('\(folder)/links.h5', 'w') as f:
                f.create_dataset('real', data=np.arange(4.0))
                f['external'] = h5py.ExternalLink('\(folder)/other.h5', '/secret')
                f['soft'] = h5py.SoftLink('/real')
                layout = h5py.VirtualLayout(shape=(4,), dtype='f8')
                layout[:] = h5py.VirtualSource('\(folder)/other.h5', 'secret', shape=(4,))
                f.create_virtual_dataset('virtual', layout)
                open('\(folder)/raw.bin', 'wb').write(np.arange(4.0).tobytes())
                f.create_dataset('raw', shape=(4,), dtype='f8', external=[('\(folder)/raw.bin', 0, 32)])
            print('ok')
            """
        let made = try runProcess("/usr/bin/env", ["python3", "-c", script])
        try #require(made.status == 0, "h5py could not make the fixture: \(made.stderr)")
        try HDF5File.withFile(at: folder + "/links.h5") { (file: HDF5File) throws in
            let root = file.root
            #expect(try root.readDoubles("real").values == [0, 1, 2, 3])
            for name in ["external", "soft"] {
                #expect(!root.contains(name))
                let error = try #require(throws: HDF5Error.self) { try root.readDoubles(name) }
                #expect(error.description.contains("links are not followed"), "\(name): \(error)")
            }
            for name in ["virtual", "raw"] {
                let error = try #require(throws: HDF5Error.self) { try root.readDoubles(name) }
                #expect(error.description.contains("only data stored in this file is read"), "\(name): \(error)")
            }
            #expect(throws: HDF5Error.self) { try root.children() }
        }
    }

    @Test(
        "a dataset declared far larger than it is stored is refused before anything is read or allocated",
        .enabled(if: h5pyAvailable, "python3 with h5py is not installed (pip install h5py)"))
    func sizeBomb() throws {
        let folder = makeTemporaryFolder()
        // A chunked dataset of 2^30 elements, never written: a few kilobytes on disk.
        let made = try runProcess(
            "/usr/bin/env",
            [
                "python3", "-c",
                """
                import h5py
                with h5py.File('\(folder)/bomb.h5', 'w') as f:
                    f.create_dataset('x', shape=(2**15, 2**15), dtype='f8', chunks=(64, 64), compression='gzip')
                """
            ])
        try #require(made.status == 0, "\(made.stderr)")
        let error = try #require(throws: HDF5Error.self) {
            try HDF5File.withFile(at: folder + "/bomb.h5") { (file: HDF5File) throws in _ = try file.root.readDoubles("x") }
        }
        #expect(error.description.contains("more than the \(InputLimits.maximumArrayElements) elements"))
        #expect(InputLimits.count([1 << 40, 1 << 40]) == nil && InputLimits.count([3, 4]) == 12 && InputLimits.count([-1]) == nil)
        #expect(
            InputLimits.integer(Double.nan) == nil && InputLimits.integer(1e300) == nil && InputLimits.integer(7) == 7
                && InputLimits.integer(2.5) == nil)
    }
}
