import CHDF5

/// The element types a dataset can hold: `Double`, `Float`, `Int64`, `Int32`.
public protocol HDF5Element: Sendable {
    /// The HDF5 type class and byte size that a dataset of this element must have to be read strictly.
    static var elementType: HDF5ElementType { get }
}

/// The element type of a dataset as stored in the file.
public enum HDF5ElementType: String, Sendable, CustomStringConvertible {
    case float64, float32, int64, int32, other

    public var description: String { rawValue }

    var memoryType: hid_t {
        switch self {
        case .float64, .other: return phantom_H5T_NATIVE_DOUBLE()
        case .float32: return phantom_H5T_NATIVE_FLOAT()
        case .int64: return phantom_H5T_NATIVE_INT64()
        case .int32: return phantom_H5T_NATIVE_INT32()
        }
    }

    /// The little-endian type written to files, so they read the same on every machine.
    var fileType: hid_t {
        switch self {
        case .float64, .other: return phantom_H5T_IEEE_F64LE()
        case .float32: return phantom_H5T_IEEE_F32LE()
        case .int64: return phantom_H5T_STD_I64LE()
        case .int32: return phantom_H5T_STD_I32LE()
        }
    }

    /// Classifies a file datatype.
    init(datatype: hid_t) {
        let size = H5Tget_size(datatype)
        switch H5Tget_class(datatype) {
        case H5T_FLOAT: self = size == 8 ? .float64 : size == 4 ? .float32 : .other
        case H5T_INTEGER: self = size == 8 ? .int64 : size == 4 ? .int32 : .other
        default: self = .other
        }
    }

    var isFloatingPoint: Bool { self == .float64 || self == .float32 }
}

extension Double: HDF5Element { public static var elementType: HDF5ElementType { .float64 } }
extension Float: HDF5Element { public static var elementType: HDF5ElementType { .float32 } }
extension Int64: HDF5Element { public static var elementType: HDF5ElementType { .int64 } }
extension Int32: HDF5Element { public static var elementType: HDF5ElementType { .int32 } }

/// An n-dimensional array in row-major (C) order, as HDF5 and NumPy store it. Rank 0 (a scalar) has
/// `shape == []` and one value.
public struct HDF5Array<Element: HDF5Element>: Sendable {
    public let shape: [Int]
    public let values: [Element]

    /// - Precondition: every extent ≥ 0 and `values.count` equals their product (a programming error).
    public init(shape: [Int], values: [Element]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative extent in \(shape)")
        precondition(values.count == shape.reduce(1, *), "shape \(shape) needs \(shape.reduce(1, *)) values, got \(values.count)")
        self.shape = shape
        self.values = values
    }

    /// A rank-0 array.
    public init(scalar: Element) { self.init(shape: [], values: [scalar]) }

    public var rank: Int { shape.count }
}

/// A value stored as an attribute: a string, or one or several numbers.
public enum HDF5AttributeValue: Equatable, Sendable {
    case string(String)
    case integer(Int64)
    case double(Double)
    case integers([Int64])
    case doubles([Double])

    /// The value as an integer when it is one (or a one-element integer array).
    public var integerValue: Int64? {
        switch self {
        case .integer(let v): return v
        case .integers(let v) where v.count == 1: return v[0]
        default: return nil
        }
    }

    /// The value as a Double when it is numeric and single.
    public var doubleValue: Double? {
        switch self {
        case .double(let v): return v
        case .doubles(let v) where v.count == 1: return v[0]
        case .integer(let v): return Double(v)
        case .integers(let v) where v.count == 1: return Double(v[0])
        default: return nil
        }
    }

    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }
}

/// How a dataset is laid out on disk.
public struct DatasetOptions: Sendable {
    /// Chunked storage with the shuffle filter and gzip (deflate) at `gzipLevel`. Ignored for rank 0 and
    /// for arrays with a zero extent, which cannot be chunked.
    public var compressed: Bool
    /// 1…9.
    public var gzipLevel: Int
    /// Chunk extents; nil chooses chunks of at most ~256 KiB.
    public var chunkShape: [Int]?

    public init(compressed: Bool = false, gzipLevel: Int = 4, chunkShape: [Int]? = nil) {
        self.compressed = compressed
        self.gzipLevel = gzipLevel
        self.chunkShape = chunkShape
    }

    public static let compressed = DatasetOptions(compressed: true)
}
