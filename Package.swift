// swift-tools-version: 6.0
// phantom — how good is a cheap gradient? Exact vs phantom gradients of implicit models.
import PackageDescription

let package = Package(
    name: "phantom",
    products: [
        .executable(name: "phantom", targets: ["PhantomCLI"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // MARK: C libraries — each imported by exactly one Swift module.
        .systemLibrary(
            name: "CHDF5",
            pkgConfig: "hdf5",
            providers: [.apt(["libhdf5-dev"])]
        ),
        .systemLibrary(
            name: "CLinAlg",
            pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev", "liblapacke-dev"])]
        ),

        // MARK: Atomic output files (temporary file + rename), shared by every writer.
        .target(name: "PhantomFileSystem"),

        // MARK: I/O — HDF5 files (checkpoints, data sets, results). The only importer of CHDF5.
        .target(name: "PhantomHDF5", dependencies: ["CHDF5", "PhantomFileSystem"]),

        // MARK: I/O — safetensors files (PyTorch checkpoints).
        .target(name: "PhantomSafetensors"),

        // MARK: Dense kernels, linear operators, Krylov solvers. The only importer of CLinAlg.
        .target(name: "PhantomLinearAlgebra", dependencies: ["CLinAlg"]),

        // MARK: Implicit models: cells with hand-written JVP/VJP, forward solvers, checkpoints, data sets.
        .target(name: "PhantomModel", dependencies: ["PhantomHDF5", "PhantomLinearAlgebra"]),

        // MARK: Gradient estimators: the exact implicit gradient, UPG, NPG, JFB, RBP, BPTT, the (k, λ) grid.
        .target(name: "PhantomGradients", dependencies: ["PhantomModel", "PhantomLinearAlgebra"]),

        // MARK: Analysis: Theorem 1, its bounds and certificates per sample and per (k, λ).
        .target(name: "PhantomAnalysis", dependencies: ["PhantomGradients", "PhantomModel", "PhantomLinearAlgebra"]),

        // MARK: Interoperability: PyTorch checkpoints (safetensors) → phantom checkpoints.
        .target(name: "PhantomInterop", dependencies: ["PhantomSafetensors", "PhantomModel", "PhantomHDF5", "PhantomLinearAlgebra"]),

        // MARK: Training with a selectable gradient estimator.
        .target(name: "PhantomTraining", dependencies: ["PhantomGradients", "PhantomModel", "PhantomHDF5", "PhantomLinearAlgebra"]),

        // MARK: Results I/O: the analysis results file (HDF5).
        .target(name: "PhantomResults", dependencies: ["PhantomAnalysis", "PhantomHDF5"]),

        // MARK: Figures through a gnuplot pipe.
        .target(name: "PhantomPlots", dependencies: ["PhantomFileSystem", "PhantomModel", "PhantomResults", "PhantomTraining"]),

        // MARK: The `phantom` command.
        .executableTarget(
            name: "PhantomCLI",
            dependencies: [
                "PhantomAnalysis", "PhantomFileSystem", "PhantomGradients", "PhantomHDF5", "PhantomInterop", "PhantomLinearAlgebra",
                "PhantomModel", "PhantomPlots", "PhantomResults", "PhantomTraining",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),

        // MARK: Tests
        .target(name: "PhantomTestSupport", dependencies: ["PhantomModel", "PhantomLinearAlgebra"], path: "Tests/PhantomTestSupport"),
        .testTarget(
            name: "PhantomLinearAlgebraTests",
            dependencies: ["PhantomLinearAlgebra", "PhantomTestSupport"]
        ),
        .testTarget(
            name: "PhantomHDF5Tests",
            dependencies: ["PhantomFileSystem", "PhantomHDF5", "PhantomTestSupport"]
        ),
        .testTarget(
            name: "PhantomModelTests",
            dependencies: ["PhantomModel", "PhantomTestSupport"]
        ),
        .testTarget(
            name: "PhantomGradientsTests",
            dependencies: ["PhantomGradients", "PhantomModel", "PhantomTestSupport"]
        ),
        .testTarget(
            name: "PhantomAnalysisTests",
            dependencies: ["PhantomAnalysis", "PhantomGradients", "PhantomHDF5", "PhantomModel", "PhantomResults", "PhantomTestSupport"]
        ),
        .testTarget(
            name: "PhantomTrainingTests",
            dependencies: ["PhantomTraining", "PhantomGradients", "PhantomModel", "PhantomTestSupport"]
        ),
        .testTarget(
            name: "PhantomInteropTests",
            dependencies: ["PhantomInterop", "PhantomSafetensors", "PhantomModel", "PhantomLinearAlgebra", "PhantomTestSupport"]
        ),
        .testTarget(
            name: "PhantomPlotsTests",
            dependencies: ["PhantomPlots", "PhantomAnalysis", "PhantomGradients", "PhantomModel", "PhantomResults",
                           "PhantomTraining", "PhantomLinearAlgebra", "PhantomTestSupport"],
            exclude: ["Golden"]
        ),
        .testTarget(
            name: "PhantomCLITests",
            dependencies: ["PhantomCLI", "PhantomHDF5", "PhantomInterop", "PhantomLinearAlgebra", "PhantomModel", "PhantomTestSupport"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
