import Foundation
import PhantomHDF5
import PhantomLinearAlgebra

/// An HDF5 file as plain values — groups, datasets and attributes — so that a test can alter any part of a valid
/// file (a shape, an axis, an attribute, a missing array) and write it back: structured mutants that reach the
/// readers' checks, where byte mutants mostly stop at the HDF5 library.
public struct HDF5Tree: Sendable {
    public struct Dataset: Sendable {
        public var path: String
        public var shape: [Int]
        /// Float64 values, or integer values (stored as int32 when `int32`).
        public var doubles: [Double]?
        public var integers: [Int64]?
        public var int32: Bool
        public var attributes: [(String, HDF5AttributeValue)]
    }

    /// Groups other than the root, parents first, with their attributes.
    public var groups: [(path: String, attributes: [(String, HDF5AttributeValue)])] = []
    public var rootAttributes: [(String, HDF5AttributeValue)] = []
    public var datasets: [Dataset] = []

    public init(reading path: String) throws {
        try HDF5File.withFile(at: path) { file in
            rootAttributes = try file.root.attributeNames().map { ($0, try file.root.attribute($0)) }
            func walk(_ group: HDF5Group, _ prefix: String) throws {
                for child in try group.children() {
                    let path = prefix.isEmpty ? child.name : prefix + "/" + child.name
                    switch child.kind {
                    case .group:
                        let sub = try group.group(child.name)
                        groups.append((path, try sub.attributeNames().map { ($0, try sub.attribute($0)) }))
                        try walk(sub, path)
                    case .dataset:
                        let info = try group.datasetInfo(child.name)
                        let attributes = try group.attributeNames(of: child.name).map { ($0, try group.attribute($0, of: child.name)) }
                        if info.elementType == .float64 || info.elementType == .float32 {
                            datasets.append(
                                Dataset(
                                    path: path, shape: info.shape, doubles: try group.readDoubles(child.name).values, integers: nil,
                                    int32: false, attributes: attributes))
                        } else {
                            datasets.append(
                                Dataset(
                                    path: path, shape: info.shape, doubles: nil, integers: try group.readIntegers(child.name).values,
                                    int32: info.elementType == .int32, attributes: attributes))
                        }
                    case .other: break
                    }
                }
            }
            try walk(file.root, "")
        }
    }

    public func write(to path: String) throws {
        try HDF5File.write(to: path, overwrite: true) { file in
            let root = file.root
            for (name, value) in rootAttributes { try root.setAttribute(name, value) }
            for (group, attributes) in groups {
                let parts = group.split(separator: "/").map(String.init)
                let parent = parts.count == 1 ? root : try root.group(parts.dropLast().joined(separator: "/"))
                let created = try parent.createGroup(parts[parts.count - 1])
                for (name, value) in attributes { try created.setAttribute(name, value) }
            }
            for dataset in datasets {
                let parts = dataset.path.split(separator: "/").map(String.init)
                let parent = parts.count == 1 ? root : try root.group(parts.dropLast().joined(separator: "/"))
                let name = parts[parts.count - 1]
                if let doubles = dataset.doubles {
                    try parent.write(name, HDF5Array(shape: dataset.shape, values: doubles))
                } else if let integers = dataset.integers {
                    if dataset.int32 {
                        try parent.write(name, HDF5Array(shape: dataset.shape, values: integers.map { Int32(truncatingIfNeeded: $0) }))
                    } else {
                        try parent.write(name, HDF5Array(shape: dataset.shape, values: integers))
                    }
                }
                for (attribute, value) in dataset.attributes { try parent.setAttribute(attribute, value, on: name) }
            }
        }
    }

    /// A deterministic structured mutant: one of eight alterations chosen by `rng`, touching a dataset's
    /// presence, shape, values or attributes, an axis, or a root attribute (among `attributeNames`).
    public func mutant(_ rng: inout SplitMix64, attributeNames: [String]) -> HDF5Tree {
        var m = self
        func random(_ n: Int) -> Int { Int(rng.next() % UInt64(max(n, 1))) }
        let strange: [Double] = [.nan, .infinity, -.infinity, -1, 0, 1e308, 2, 0.5, -0.0, 1e-320]
        let names = ["", "x", "1/0", "0/3", "3/2", "-1", "99999999999999", "upg,upg", "upg,bogus", "k", "2/1000000000", "\n", "1e3"]
        switch random(8) {
        case 0:
            if !m.datasets.isEmpty { m.datasets.remove(at: random(m.datasets.count)) }
        case 1:
            let i = random(m.datasets.count)
            let rank = random(5)
            let shape = (0..<rank).map { _ in random(4) }
            let count = shape.reduce(1, *)
            m.datasets[i].shape = shape
            if m.datasets[i].doubles != nil { m.datasets[i].doubles = (0..<count).map { _ in strange[random(strange.count)] } }
            if m.datasets[i].integers != nil { m.datasets[i].integers = (0..<count).map { _ in Int64(random(5)) - 2 } }
        case 2:
            let i = random(m.datasets.count)
            if var values = m.datasets[i].doubles, !values.isEmpty {
                for _ in 0..<(1 + random(4)) { values[random(values.count)] = strange[random(strange.count)] }
                m.datasets[i].doubles = values
            } else if var values = m.datasets[i].integers, !values.isEmpty {
                let wild: [Int64] = [-1, -2, 2, 3, 7, Int64(Int32.max), Int64.max, Int64.min, 1 << 40]
                for _ in 0..<(1 + random(4)) { values[random(values.count)] = wild[random(wild.count)] }
                m.datasets[i].integers = values
            }
        case 3:
            let name = attributeNames[random(attributeNames.count)]
            m.rootAttributes.removeAll { $0.0 == name }
            let values: [HDF5AttributeValue] = [
                .string(names[random(names.count)]), .integer(Int64(random(7)) - 3), .double(strange[random(strange.count)]),
                .integers([1, 2, 3])
            ]
            m.rootAttributes.append((name, values[random(values.count)]))
        case 4:
            if !m.rootAttributes.isEmpty { m.rootAttributes.remove(at: random(m.rootAttributes.count)) }
        case 5:
            // An axis altered: too long, unsorted, out of range, empty.
            let axes = m.datasets.indices.filter { m.datasets[$0].path.hasPrefix("axes/") }
            guard let i = axes.isEmpty ? nil : axes[random(axes.count)] else { break }
            let length = [0, 1, 2, 5000][random(4)]
            m.datasets[i].shape = [length]
            if m.datasets[i].doubles != nil { m.datasets[i].doubles = (0..<length).map { _ in strange[random(strange.count)] } }
            if m.datasets[i].integers != nil { m.datasets[i].integers = (0..<length).map { _ in Int64(random(2001)) - 500 } }
        case 6:
            let i = random(m.datasets.count)
            m.datasets[i].attributes = m.datasets[i].attributes.map { ($0.0, .string(names[random(names.count)])) }
        default:
            // One checkpoint fewer in an array than the series says.
            let i = random(m.datasets.count)
            guard let first = m.datasets[i].shape.first, first > 0 else { break }
            let stride = m.datasets[i].shape.dropFirst().reduce(1, *)
            m.datasets[i].shape[0] = first - 1
            m.datasets[i].doubles = m.datasets[i].doubles.map { Array($0.dropFirst(stride)) }
            m.datasets[i].integers = m.datasets[i].integers.map { Array($0.dropFirst(stride)) }
        }
        return m
    }
}
