import PhantomFileSystem
import PhantomHDF5
import PhantomLinearAlgebra
import PhantomModel

/// A data set: inputs `x` [N, n_in] (or images [N, C_in, H, W], kept flat in NCHW order), optional targets `y` — class labels [N]
/// (integers) or regression
/// targets [N, c] (floats) — and an optional `split` [N] (0 = train, 1 = test), read from an HDF5 file.
public struct DataSet: Sendable {
    public var name: String
    /// N×n_in.
    public var x: Matrix
    public var y: Targets?
    /// 0 (train) or 1 (test) per sample, when the file defines a split.
    public var split: [Int]?
    /// The row of each sample in the file it was loaded from.
    public var rows: [Int]
    /// [C_in, H, W] when the file stores x as images [N, C_in, H, W]; nil for flat [N, n_in].
    public var imageShape: [Int]?

    public init(name: String, x: Matrix, y: Targets?, split: [Int]? = nil, rows: [Int]? = nil, imageShape: [Int]? = nil) {
        self.name = name
        self.imageShape = imageShape
        self.x = x
        self.y = y
        self.split = split
        self.rows = rows ?? Array(0..<x.rows)
    }

    public var count: Int { x.rows }

    /// The samples at `indices` (positions in this set).
    public func selecting(_ indices: [Int]) -> DataSet {
        DataSet(
            name: name, x: x.selectingRows(indices), y: y?.selecting(indices),
            split: split.map { s in indices.map { s[$0] } }, rows: indices.map { rows[$0] }, imageShape: imageShape)
    }

    /// The first `n` samples (all when n ≥ N).
    public func prefix(_ n: Int) -> DataSet { selecting(Array(0..<min(n, count))) }

    /// The samples of one part of the split (all samples when the file has no split).
    public func part(_ value: Int) -> DataSet {
        guard let split else { return self }
        return selecting(split.indices.filter { split[$0] == value })
    }

    /// The samples an analysis takes: the test split first (every sample when the file has no split), then the
    /// first `count` of it. - Throws: ``InputError`` naming the data file when that leaves no sample.
    public func analysisSamples(_ count: Int, path: String) throws -> DataSet {
        let chosen = part(1).prefix(count)
        guard chosen.count > 0 else { throw InputError(path: path, message: "the test split (split = 1) holds no samples") }
        return chosen
    }

    /// Checks that the inputs fit a model with `n` inputs and, for an image cell, input images `image`
    /// = [C_in, H, W]: flat rows of C_in·H·W values, or images of exactly that shape. `model` names the model in
    /// the error ("the checkpoint"). - Throws: ``InputError`` naming the data file.
    public func checkInputs(_ n: Int, image: [Int]? = nil, path: String, model: String) throws {
        if let image, let imageShape, imageShape != image {
            throw InputError(path: path, message: "x holds images of shape \(imageShape) (C_in, H, W), \(model) expects \(image)")
        }
        guard x.columns == n else {
            let held = imageShape.map { " (images \($0.map(String.init).joined(separator: "×")))" } ?? ""
            let expected =
                image.map { "C_in×H×W = \($0.map(String.init).joined(separator: "×")) = \(n) values per sample" } ?? "n_in = \(n)"
            throw InputError(path: path, message: "x has \(x.columns) features\(held), \(model) expects \(expected)")
        }
    }

    /// Checks that targets fit a model with `outputs` outputs: labels in 0..<c, or regression targets with c
    /// columns. - Throws: ``InputError`` naming the data file.
    public static func checkTargets(_ targets: Targets, outputs c: Int, path: String) throws {
        switch targets {
        case .labels(let labels):
            if let bad = labels.first(where: { $0 >= c }) {
                throw InputError(path: path, message: "y: label \(bad) is out of range for a model with c = \(c) outputs")
            }
        case .values(let values):
            guard values.columns == c else {
                throw InputError(path: path, message: "y: \(values.columns) regression targets per sample, the model has c = \(c) outputs")
            }
        }
    }

    /// Loads `x` and, when present, `y` from an HDF5 file, checking ranks, shapes, finiteness and labels.
    /// - Throws: ``InputError`` (naming the file and dataset) or ``HDF5Error``.
    public static func load(_ path: String) throws -> DataSet {
        try load(FileSnapshot(path))
    }

    /// Loads a data set from a snapshot of its file (the bytes its hash covers).
    public static func load(_ snapshot: FileSnapshot) throws -> DataSet {
        let path = snapshot.path
        return try HDF5File.withFile(snapshot) { file in
            let root = file.root
            func fail(_ message: String) -> InputError { InputError(path: path, message: message) }
            guard root.kind(of: "x") == .dataset else { throw fail("dataset 'x' (the inputs, [N, n_in]) is missing") }
            // Declared shapes first (no data read): every size is bounded, and y and split have N rows, before
            // anything is allocated; the arrays read below have exactly these shapes (one file image).
            let xShape = try root.datasetInfo("x").shape
            guard xShape.count == 2 || xShape.count == 4 else {
                throw fail("x: has rank \(xShape.count) (shape \(xShape)), expected [N, n_in] or images [N, C_in, H, W]")
            }
            // Each image axis is bounded before the product is formed (no overflow).
            guard xShape.dropFirst().allSatisfy({ (1...InputLimits.maximumDimension).contains($0) }),
                (1...InputLimits.maximumSamples).contains(xShape[0]),
                (1...InputLimits.maximumDimension).contains(xShape.dropFirst().reduce(1, *))
            else {
                throw fail(
                    "x: shape \(xShape) is outside 1…\(InputLimits.maximumSamples) samples × 1…\(InputLimits.maximumDimension) features")
            }
            for name in ["y", "split"] where root.contains(name) {
                let shape = try root.datasetInfo(name).shape
                guard shape.first == xShape[0], shape.count <= 2, shape.count == 1 || (1...InputLimits.maximumClasses).contains(shape[1])
                else {
                    throw fail(
                        "\(name): shape \(shape) does not fit \(xShape[0]) samples (expected "
                            + "[N]\(name == "y" ? " or [N, c] with 1 ≤ c ≤ \(InputLimits.maximumClasses)" : ""))"
                    )
                }
            }
            let x = try root.readDoubles("x", rank: xShape.count)
            guard x.values.allSatisfy(\.isFinite) else { throw fail("x: contains NaN or infinity") }
            let inputs = Matrix(rows: x.shape[0], columns: x.shape.dropFirst().reduce(1, *), elements: x.values)
            var targets: Targets?
            if root.contains("y") {
                let info = try root.datasetInfo("y")
                switch (info.rank, info.elementType) {
                case (1, .int64), (1, .int32):
                    let labels = try root.readIntegers("y", rank: 1).values
                    guard labels.allSatisfy({ $0 >= 0 && $0 < InputLimits.maximumClasses }) else {
                        throw fail("y: labels must be integers in 0…\(InputLimits.maximumClasses - 1)")
                    }
                    targets = .labels(labels.map { Int($0) })
                case (2, .float64), (2, .float32):
                    let values = try root.readDoubles("y", rank: 2)
                    guard values.values.allSatisfy(\.isFinite) else { throw fail("y: contains NaN or infinity") }
                    targets = .values(Matrix(rows: values.shape[0], columns: values.shape[1], elements: values.values))
                default:
                    throw fail("y: must be integer labels [N] or float targets [N, c], found \(info.elementType) of shape \(info.shape)")
                }
            }
            var split: [Int]?
            if root.contains("split") {
                let values = try root.readIntegers("split", rank: 1).values
                guard values.allSatisfy({ $0 == 0 || $0 == 1 }) else { throw fail("split: entries must be 0 (train) or 1 (test)") }
                split = values.map { Int($0) }
            }
            for child in try root.children() where !["x", "y", "split"].contains(child.name) {
                throw fail("unexpected dataset '\(child.name)' (a data file holds x, y and split)")
            }
            return DataSet(
                name: path, x: inputs, y: targets, split: split, imageShape: xShape.count == 4 ? Array(x.shape.dropFirst()) : nil)
        }
    }
}
