import CHDF5

/// A group in an open ``HDF5File``: named datasets, subgroups and attributes.
///
/// A group keeps its file open. Its own id (for groups other than the root) is closed when the value is
/// released. All names are single path components or relative paths ("params/cell.weight").
public final class HDF5Group {
    public let file: HDF5File
    /// The group's absolute path inside the file ("/" for the root).
    public let path: String
    private let ownID: hid_t?

    init(file: HDF5File, id: hid_t?, path: String) {
        self.file = file
        self.ownID = id
        self.path = path
    }

    deinit {
        if let ownID { _ = probe { H5Gclose(ownID) } }
    }

    var id: hid_t { ownID ?? file.rawID }
    var location: Location { Location(file: file.path, object: path) }

    // MARK: - Children

    /// The kind of a child object.
    public enum ChildKind: String, Sendable { case group, dataset, other }

    /// True when a link `name` exists in this group (intermediate path components are checked first). Only
    /// hard links count: soft and external links are never followed (an external link would read another
    /// file, which no hash of this one covers).
    public func contains(_ name: String) -> Bool {
        var prefix = ""
        for component in name.split(separator: "/") {
            prefix += prefix.isEmpty ? String(component) : "/" + component
            let exists = probe { H5Lexists(id, prefix, phantom_H5P_DEFAULT()) }
            if exists <= 0 { return false }
            if probe({ phantom_link_is_hard(id, prefix) }) != 1 { return false }
        }
        return !prefix.isEmpty
    }

    /// True when `name` is a link that is not followed (soft or external).
    public func isUnfollowedLink(_ name: String) -> Bool {
        probe { H5Lexists(id, name, phantom_H5P_DEFAULT()) } > 0 && probe { phantom_link_is_hard(id, name) } != 1
    }

    /// The kind of the child `name`, or nil when there is none.
    public func kind(of name: String) -> ChildKind? {
        guard contains(name) else { return nil }
        let object = probe { H5Oopen(id, name, phantom_H5P_DEFAULT()) }
        guard object >= 0 else { return .other }
        defer { _ = probe { H5Oclose(object) } }
        switch H5Iget_type(object) {
        case H5I_GROUP: return .group
        case H5I_DATASET: return .dataset
        default: return .other
        }
    }

    /// The most links one group may hold: listing by name index costs the library more per link as a group grows
    /// (measured: 16,000 links 8 s, 100,000 minutes), and no file of this tool comes near it (a results group holds ~40).
    public static let maximumChildren = 1 << 12

    /// The children's names in name order, with their kinds.
    /// The corresponding C functions are `H5Gget_info` and `H5Lget_name_by_idx`.
    /// - Throws: ``HDF5Error`` also when the group holds more than ``maximumChildren`` links.
    public func children() throws(HDF5Error) -> [(name: String, kind: ChildKind)] {
        var info = H5G_info_t()
        try call("H5Gget_info", location, "cannot list the group") { H5Gget_info(id, &info) }
        guard info.nlinks <= UInt64(Self.maximumChildren) else {
            throw location.error("holds \(info.nlinks) objects, more than the \(Self.maximumChildren) a group may hold")
        }
        var result: [(String, ChildKind)] = []
        for index in 0..<info.nlinks {
            let length = try call("H5Lget_name_by_idx", location, "cannot list the group") {
                H5Lget_name_by_idx(id, ".", H5_INDEX_NAME, H5_ITER_INC, index, nil, 0, phantom_H5P_DEFAULT())
            }
            var buffer = [CChar](repeating: 0, count: Int(length) + 1)
            try call("H5Lget_name_by_idx", location, "cannot list the group") {
                H5Lget_name_by_idx(id, ".", H5_INDEX_NAME, H5_ITER_INC, index, &buffer, buffer.count, phantom_H5P_DEFAULT())
            }
            let name = string(fromNulTerminated: buffer)
            if isUnfollowedLink(name) {
                throw location.child(name).error("is a soft or external link; links are not followed (store the object itself)")
            }
            result.append((name, kind(of: name) ?? .other))
        }
        return result
    }

    // MARK: - Subgroups

    /// Creates the subgroup `name` (intermediate groups too). The corresponding C function is `H5Gcreate2`.
    public func createGroup(_ name: String) throws(HDF5Error) -> HDF5Group {
        let here = location.child(name)
        let lcpl = try Handle(.propertyList, "H5Pcreate", here, "cannot create the group") { H5Pcreate(phantom_H5P_LINK_CREATE()) }
        try call("H5Pset_create_intermediate_group", here, "cannot create the group") { H5Pset_create_intermediate_group(lcpl.id, 1) }
        let gcpl = try Handle(.propertyList, "H5Pcreate", here, "cannot create the group") { H5Pcreate(phantom_H5P_GROUP_CREATE()) }
        try call("H5Pset_obj_track_times", here, "cannot create the group") { H5Pset_obj_track_times(gcpl.id, false) }
        let gid = try call("H5Gcreate2", here, "cannot create the group") {
            H5Gcreate2(id, name, lcpl.id, gcpl.id, phantom_H5P_DEFAULT())
        }
        return HDF5Group(file: file, id: gid, path: here.object ?? name)
    }

    /// Opens the existing subgroup `name`.
    /// - Throws: when there is no such group. The corresponding C function is `H5Gopen2`.
    public func group(_ name: String) throws(HDF5Error) -> HDF5Group {
        let here = location.child(name)
        switch kind(of: name) {
        case nil: throw here.error("no such group")
        case .group?: break
        case let other?: throw here.error("is a \(other.rawValue), not a group")
        }
        let gid = try call("H5Gopen2", here, "cannot open the group") { H5Gopen2(id, name, phantom_H5P_DEFAULT()) }
        return HDF5Group(file: file, id: gid, path: here.object ?? name)
    }
}
