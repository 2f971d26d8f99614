/// Ceilings on every size and count read from a file, checked before anything is allocated: the one place
/// that says how large an input may be. A file that declares more is refused with an error naming it.
///
/// | what | ceiling |
/// |---|---|
/// | one array in a file (HDF5 dataset, safetensors tensor) | 2^28 elements (2 GiB as float64) |
/// | a model's parameters (cell, injection and head together) | 2^27 (1 GiB as float64) |
/// | a dimension: d, n_in, m, c, a sample count | 2^16 for d, n_in, m; 2^14 classes; 2^24 samples |
/// | a label | below 2^14 (the class-count ceiling) |
/// | an input file (read whole, hashed, parsed from memory) | 4 GiB |
public enum InputLimits {
    public static let maximumArrayElements = 1 << 28
    public static let maximumModelParameters = 1 << 27
    public static let maximumDimension = 1 << 16
    public static let maximumClasses = 1 << 14
    public static let maximumSamples = 1 << 24
    /// An input file read whole into memory (to hash exactly the bytes that are parsed): 4 GiB.
    public static let maximumFileBytes = 1 << 32

    /// The product of `extents`, or nil when it overflows or exceeds `limit`.
    public static func count(_ extents: [Int], limit: Int = maximumArrayElements) -> Int? {
        var product = 1
        for extent in extents {
            guard extent >= 0 else { return nil }
            let (next, overflow) = product.multipliedReportingOverflow(by: extent)
            guard !overflow, next <= limit else { return nil }
            product = next
        }
        return product
    }

    /// An integer read from a file as a Double (an epoch, a count), or nil when it is not a finite integer
    /// within ±2^53 (the range where every integer is exact).
    public static func integer(_ value: Double) -> Int? {
        guard value.isFinite, value == value.rounded(), abs(value) <= 9_007_199_254_740_992 else { return nil }
        return Int(value)
    }

    /// An Int64 read from a file as an Int within `range`, or nil.
    public static func integer(_ value: Int64, in range: ClosedRange<Int>) -> Int? {
        guard let int = Int(exactly: value), range.contains(int) else { return nil }
        return int
    }
}
