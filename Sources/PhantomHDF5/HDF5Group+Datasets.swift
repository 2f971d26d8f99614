import CHDF5
import PhantomFileSystem

/// Shape and element type of a stored dataset.
public struct DatasetInfo: Sendable, Equatable {
    public let shape: [Int]
    public let elementType: HDF5ElementType
    public init(shape: [Int], elementType: HDF5ElementType) {
        self.shape = shape
        self.elementType = elementType
    }
    public var rank: Int { shape.count }
}

extension HDF5Group {
    // MARK: - Writing

    /// Writes `array` as the new dataset `name` (rank 0–4 and beyond), stored little-endian.
    ///
    /// - Parameter options: chunked shuffle + gzip storage on request (``DatasetOptions/compressed``).
    /// - Throws: ``HDF5Error`` when the name exists or the library fails.
    ///   The corresponding C functions are `H5Screate_simple`, `H5Dcreate2` and `H5Dwrite`.
    public func write<T: HDF5Element>(
        _ name: String, _ array: HDF5Array<T>,
        options: DatasetOptions = DatasetOptions()
    ) throws(HDF5Error) {
        let here = location.child(name)
        if contains(name) { throw here.error("already exists") }
        let dims = array.shape.map { hsize_t($0) }
        let space = try Handle(.dataspace, "H5Screate", here, "cannot create the dataspace") {
            dims.isEmpty ? H5Screate(H5S_SCALAR) : H5Screate_simple(Int32(dims.count), dims, nil)
        }
        let dcpl = try Handle(.propertyList, "H5Pcreate", here, "cannot create the dataset") {
            H5Pcreate(phantom_H5P_DATASET_CREATE())
        }
        // No modification times in the file: the same content gives the same bytes.
        try call("H5Pset_obj_track_times", here, "cannot create the dataset") { H5Pset_obj_track_times(dcpl.id, false) }
        if options.compressed && !dims.isEmpty && !dims.contains(0) {
            guard H5Zfilter_avail(H5Z_FILTER_DEFLATE) > 0 else {
                throw here.error("gzip compression is not available in this HDF5 library")
            }
            let chunk = (options.chunkShape ?? Self.defaultChunk(array.shape, elementSize: MemoryLayout<T>.size))
                .enumerated().map { hsize_t(max(1, min($0.element, array.shape[$0.offset]))) }
            guard chunk.count == dims.count else { throw here.error("chunk shape has rank \(chunk.count), data has rank \(dims.count)") }
            try call("H5Pset_chunk", here, "cannot set chunking") { H5Pset_chunk(dcpl.id, Int32(chunk.count), chunk) }
            try call("H5Pset_shuffle", here, "cannot set the shuffle filter") { H5Pset_shuffle(dcpl.id) }
            try call("H5Pset_deflate", here, "cannot set gzip") { H5Pset_deflate(dcpl.id, UInt32(min(max(options.gzipLevel, 1), 9))) }
        }
        let type = T.elementType
        let dataset = try Handle(.dataset, "H5Dcreate2", here, "cannot create the dataset") {
            H5Dcreate2(id, name, type.fileType, space.id, phantom_H5P_DEFAULT(), dcpl.id, phantom_H5P_DEFAULT())
        }
        if array.values.isEmpty { return }
        _ = try array.values.withUnsafeBytes { buffer in
            Result { () throws(HDF5Error) in
                try call("H5Dwrite", here, "cannot write the data") {
                    H5Dwrite(dataset.id, type.memoryType, phantom_H5S_ALL(), phantom_H5S_ALL(), phantom_H5P_DEFAULT(), buffer.baseAddress)
                }
            }
        }.get()
    }

    /// Writes a rank-1 dataset.
    public func write<T: HDF5Element>(_ name: String, vector: [T], options: DatasetOptions = DatasetOptions()) throws(HDF5Error) {
        try write(name, HDF5Array(shape: [vector.count], values: vector), options: options)
    }

    /// Chunks of whole trailing dimensions, up to ~256 KiB.
    static func defaultChunk(_ shape: [Int], elementSize: Int) -> [Int] {
        var chunk = shape
        var bytes = shape.reduce(elementSize, *)
        var axis = 0
        while bytes > 262_144 && axis < chunk.count {
            let shrink = max(1, chunk[axis] * 262_144 / max(bytes, 1))
            bytes = bytes / max(chunk[axis], 1) * shrink
            chunk[axis] = shrink
            axis += 1
        }
        return chunk
    }

    // MARK: - Reading

    /// Shape and stored element type of the dataset `name`.
    public func datasetInfo(_ name: String) throws(HDF5Error) -> DatasetInfo {
        let here = location.child(name)
        let dataset = try openDataset(name, here)
        return try info(of: dataset, here)
    }

    /// Reads the dataset `name` strictly: its stored element type must be `T`.
    ///
    /// - Parameter rank: when given, the dataset's rank must equal it.
    /// - Throws: ``HDF5Error`` naming the file and dataset when it is missing, is not a dataset, has another
    ///   element type or rank, or cannot be read. The corresponding C function is `H5Dread`.
    public func read<T: HDF5Element>(_ name: String, as type: T.Type, rank: Int? = nil) throws(HDF5Error) -> HDF5Array<T> {
        let here = location.child(name)
        let dataset = try openDataset(name, here)
        let stored = try info(of: dataset, here)
        guard stored.elementType == T.elementType else {
            throw here.error("holds \(stored.elementType) values, expected \(T.elementType)")
        }
        return try readValues(dataset, stored, rank: rank, here)
    }

    /// Reads a floating-point dataset (float64 or float32) as `Double`; float32 widens exactly.
    public func readDoubles(_ name: String, rank: Int? = nil) throws(HDF5Error) -> HDF5Array<Double> {
        let here = location.child(name)
        let dataset = try openDataset(name, here)
        let stored = try info(of: dataset, here)
        guard stored.elementType.isFloatingPoint else {
            throw here.error("holds \(stored.elementType) values, expected floating-point (float64 or float32)")
        }
        return try readValues(dataset, stored, rank: rank, here)
    }

    /// Reads an integer dataset (int64 or int32) as `Int64`.
    public func readIntegers(_ name: String, rank: Int? = nil) throws(HDF5Error) -> HDF5Array<Int64> {
        let here = location.child(name)
        let dataset = try openDataset(name, here)
        let stored = try info(of: dataset, here)
        guard stored.elementType == .int64 || stored.elementType == .int32 else {
            throw here.error("holds \(stored.elementType) values, expected integers (int64 or int32)")
        }
        return try readValues(dataset, stored, rank: rank, here)
    }

    private func openDataset(_ name: String, _ here: Location) throws(HDF5Error) -> Handle {
        switch kind(of: name) {
        case nil where isUnfollowedLink(name):
            throw here.error("is a soft or external link; links are not followed (store the dataset itself)")
        case nil: throw here.error("no such dataset")
        case .dataset?: break
        case let other?: throw here.error("is a \(other.rawValue), not a dataset")
        }
        let dataset = try Handle(.dataset, "H5Dopen2", here, "cannot open the dataset") { H5Dopen2(id, name, phantom_H5P_DEFAULT()) }
        // Data stored elsewhere (a virtual dataset, external raw files) is never read: no hash of this file covers it.
        guard probe({ phantom_dataset_is_local(dataset.id) }) == 1 else {
            throw here.error("is a virtual dataset or keeps its data in external files; only data stored in this file is read")
        }
        return dataset
    }

    private func info(of dataset: borrowing Handle, _ here: Location) throws(HDF5Error) -> DatasetInfo {
        let space = try Handle(.dataspace, "H5Dget_space", here, "cannot read the shape") { H5Dget_space(dataset.id) }
        let rank = try call("H5Sget_simple_extent_ndims", here, "cannot read the shape") { H5Sget_simple_extent_ndims(space.id) }
        var dims = [hsize_t](repeating: 0, count: Int(rank))
        if rank > 0 {
            try call("H5Sget_simple_extent_dims", here, "cannot read the shape") { H5Sget_simple_extent_dims(space.id, &dims, nil) }
        }
        let type = try Handle(.datatype, "H5Dget_type", here, "cannot read the element type") { H5Dget_type(dataset.id) }
        // Extents beyond Int are refused here; their product is checked before any read (InputLimits).
        var shape: [Int] = []
        for extent in dims {
            guard let value = Int(exactly: extent) else { throw here.error("declares an extent of \(extent), beyond what can be read") }
            shape.append(value)
        }
        return DatasetInfo(shape: shape, elementType: HDF5ElementType(datatype: type.id))
    }

    private func readValues<T: HDF5Element>(
        _ dataset: borrowing Handle, _ stored: DatasetInfo, rank: Int?,
        _ here: Location
    ) throws(HDF5Error) -> HDF5Array<T> {
        if let rank, rank != stored.rank {
            throw here.error("has rank \(stored.rank) (shape \(stored.shape)), expected rank \(rank)")
        }
        guard let count = InputLimits.count(stored.shape) else {
            throw here.error(
                "declares shape \(stored.shape), more than the \(InputLimits.maximumArrayElements) elements a file's array may hold")
        }
        var values = [T]()
        if count > 0 {
            values = try [T](unsafeUninitializedCapacity: count) { buffer, initialized throws(HDF5Error) in
                _ = try call("H5Dread", here, "cannot read the data") {
                    H5Dread(
                        dataset.id, T.elementType.memoryType, phantom_H5S_ALL(), phantom_H5S_ALL(),
                        phantom_H5P_DEFAULT(), UnsafeMutableRawPointer(buffer.baseAddress))
                }
                initialized = count
            }
        }
        return HDF5Array(shape: stored.shape, values: values)
    }
}
