import CHDF5

extension HDF5Group {
    /// Sets attribute `name` on this group, or on its child `object` (a dataset or subgroup), replacing
    /// an existing one. Strings are stored as variable-length UTF-8 (h5py reads them as `str`).
    /// The corresponding C functions are `H5Acreate_by_name` and `H5Awrite`.
    public func setAttribute(_ name: String, _ value: HDF5AttributeValue, on object: String = ".") throws(HDF5Error) {
        let here = object == "." ? location : location.child(object)
        let what = "cannot write attribute '\(name)'"
        if probe({ H5Aexists_by_name(id, object, name, phantom_H5P_DEFAULT()) }) > 0 {
            try call("H5Adelete_by_name", here, what) { H5Adelete_by_name(id, object, name, phantom_H5P_DEFAULT()) }
        }
        switch value {
        case .string(let text):
            let type = try Handle(.datatype, "H5Tcopy", here, what) { H5Tcopy(phantom_H5T_C_S1()) }
            try call("H5Tset_size", here, what) { H5Tset_size(type.id, phantom_H5T_VARIABLE()) }
            try call("H5Tset_cset", here, what) { H5Tset_cset(type.id, H5T_CSET_UTF8) }
            let space = try Handle(.dataspace, "H5Screate", here, what) { H5Screate(H5S_SCALAR) }
            let attribute = try Handle(.attribute, "H5Acreate_by_name", here, what) {
                H5Acreate_by_name(id, object, name, type.id, space.id, phantom_H5P_DEFAULT(), phantom_H5P_DEFAULT(), phantom_H5P_DEFAULT())
            }
            _ = try text.withCString { pointer in
                var pointers: [UnsafePointer<CChar>?] = [pointer]
                return Result { () throws(HDF5Error) in
                    try call("H5Awrite", here, what) { H5Awrite(attribute.id, type.id, &pointers) }
                }
            }.get()
        case .integer(let v): try writeNumbers(name, [v], scalar: true, .int64, object, here)
        case .integers(let v): try writeNumbers(name, v, scalar: false, .int64, object, here)
        case .double(let v): try writeNumbers(name, [v], scalar: true, .float64, object, here)
        case .doubles(let v): try writeNumbers(name, v, scalar: false, .float64, object, here)
        }
    }

    private func writeNumbers<T: HDF5Element>(
        _ name: String, _ values: [T], scalar: Bool, _ type: HDF5ElementType,
        _ object: String, _ here: Location
    ) throws(HDF5Error) {
        let what = "cannot write attribute '\(name)'"
        var dims = [hsize_t(values.count)]
        let space = try Handle(.dataspace, "H5Screate", here, what) {
            scalar ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &dims, nil)
        }
        let attribute = try Handle(.attribute, "H5Acreate_by_name", here, what) {
            H5Acreate_by_name(
                id, object, name, type.fileType, space.id, phantom_H5P_DEFAULT(), phantom_H5P_DEFAULT(), phantom_H5P_DEFAULT())
        }
        if values.isEmpty { return }
        _ = try values.withUnsafeBytes { buffer in
            Result { () throws(HDF5Error) in
                try call("H5Awrite", here, what) { H5Awrite(attribute.id, type.memoryType, buffer.baseAddress) }
            }
        }.get()
    }

    /// The names of the attributes of this group or of its child `object`, in name order.
    public func attributeNames(of object: String = ".") throws(HDF5Error) -> [String] {
        let here = object == "." ? location : location.child(object)
        if object != "." && !contains(object) { throw here.error("no such object") }
        final class Names { var list: [String] = [] }
        let names = Names()
        let unmanaged = Unmanaged.passRetained(names)
        defer { unmanaged.release() }
        try call("H5Aiterate_by_name", here, "cannot list attributes") {
            H5Aiterate_by_name(
                id, object, H5_INDEX_NAME, H5_ITER_INC, nil,
                { _, name, _, context in
                    guard let name, let context else { return -1 }
                    Unmanaged<Names>.fromOpaque(context).takeUnretainedValue().list.append(String(cString: name))
                    return 0
                }, unmanaged.toOpaque(), phantom_H5P_DEFAULT())
        }
        return names.list
    }

    /// True when this group (or its child `object`) has the attribute `name`.
    public func hasAttribute(_ name: String, on object: String = ".") -> Bool {
        if object != "." && !contains(object) { return false }
        return probe { H5Aexists_by_name(id, object, name, phantom_H5P_DEFAULT()) } > 0
    }

    /// Reads attribute `name` of this group or of its child `object`.
    ///
    /// Strings (fixed or variable length), integers (any size, read as Int64) and floats (read as Double);
    /// a scalar or one-dimensional attribute.
    /// - Throws: ``HDF5Error`` when missing or of another kind.
    public func attribute(_ name: String, of object: String = ".") throws(HDF5Error) -> HDF5AttributeValue {
        let here = object == "." ? location : location.child(object)
        guard hasAttribute(name, on: object) else { throw here.error("has no attribute '\(name)'") }
        let what = "cannot read attribute '\(name)'"
        let attribute = try Handle(.attribute, "H5Aopen_by_name", here, what) {
            H5Aopen_by_name(id, object, name, phantom_H5P_DEFAULT(), phantom_H5P_DEFAULT())
        }
        let type = try Handle(.datatype, "H5Aget_type", here, what) { H5Aget_type(attribute.id) }
        let space = try Handle(.dataspace, "H5Aget_space", here, what) { H5Aget_space(attribute.id) }
        let count = Int(try call("H5Sget_simple_extent_npoints", here, what) { H5Sget_simple_extent_npoints(space.id) })
        let rank = try call("H5Sget_simple_extent_ndims", here, what) { H5Sget_simple_extent_ndims(space.id) }
        guard rank <= 1 else { throw here.error("attribute '\(name)' has rank \(rank); only scalars and vectors are read") }
        switch H5Tget_class(type.id) {
        case H5T_STRING:
            guard count == 1 else { throw here.error("attribute '\(name)' is an array of \(count) strings; expected one") }
            return .string(try readString(attribute, type, here, what))
        case H5T_INTEGER:
            var values = [Int64](repeating: 0, count: count)
            try call("H5Aread", here, what) { H5Aread(attribute.id, phantom_H5T_NATIVE_INT64(), &values) }
            return rank == 0 ? .integer(values.first ?? 0) : .integers(values)
        case H5T_FLOAT:
            var values = [Double](repeating: 0, count: count)
            try call("H5Aread", here, what) { H5Aread(attribute.id, phantom_H5T_NATIVE_DOUBLE(), &values) }
            return rank == 0 ? .double(values.first ?? 0) : .doubles(values)
        default:
            throw here.error("attribute '\(name)' has an unsupported type (not a string or number)")
        }
    }

    private func readString(
        _ attribute: borrowing Handle, _ type: borrowing Handle, _ here: Location,
        _ what: String
    ) throws(HDF5Error) -> String {
        if H5Tis_variable_str(type.id) > 0 {
            let memory = try Handle(.datatype, "H5Tcopy", here, what) { H5Tcopy(phantom_H5T_C_S1()) }
            try call("H5Tset_size", here, what) { H5Tset_size(memory.id, phantom_H5T_VARIABLE()) }
            try call("H5Tset_cset", here, what) { H5Tset_cset(memory.id, H5Tget_cset(type.id)) }
            var pointer: UnsafeMutablePointer<CChar>? = nil
            try call("H5Aread", here, what) { H5Aread(attribute.id, memory.id, &pointer) }
            guard let pointer else { return "" }
            defer { H5free_memory(pointer) }
            return String(cString: pointer)
        }
        let size = H5Tget_size(type.id)
        var bytes = [UInt8](repeating: 0, count: size + 1)
        try call("H5Aread", here, what) { H5Aread(attribute.id, type.id, &bytes) }
        let end = bytes.firstIndex(of: 0) ?? size
        let text = String(decoding: bytes[..<end], as: UTF8.self)
        return text.trimmingSuffixSpaces()
    }
}

extension String {
    /// Fixed-length HDF5 strings may be space-padded (H5T_STR_SPACEPAD).
    func trimmingSuffixSpaces() -> String {
        var s = Substring(self)
        while s.last == " " { s.removeLast() }
        return String(s)
    }
}
