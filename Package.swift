// swift-tools-version: 6.0
// phantom — how good is a cheap gradient? Exact vs phantom gradients of implicit models.
import PackageDescription

let package = Package(
    name: "phantom",
    products: [
        .executable(name: "phantom", targets: ["PhantomCLI"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.0"),
        .package(url: "https://github.com/apple/swift-numerics", from: "1.1.0"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0")
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
        .target(name: "PhantomFileSystem", dependencies: [.product(name: "Crypto", package: "swift-crypto")]),

        // MARK: I/O — HDF5 files (checkpoints, data sets, results). The only importer of CHDF5.
        .target(name: "PhantomHDF5", dependencies: ["CHDF5", "PhantomFileSystem"]),

        // MARK: I/O — safetensors files (PyTorch checkpoints).
        .target(name: "PhantomSafetensors", dependencies: ["PhantomFileSystem"]),

        // MARK: I/O — ONNX model files (protobuf; code generated once from Proto/onnx-subset.proto and committed).
        .target(
            name: "PhantomONNX",
            dependencies: ["PhantomFileSystem", .product(name: "SwiftProtobuf", package: "swift-protobuf")],
            exclude: ["Proto/onnx-subset.proto", "Proto/README.md"]),

        // MARK: Dense kernels, linear operators, Krylov solvers. The only importer of CLinAlg.
        .target(name: "PhantomLinearAlgebra", dependencies: ["CLinAlg", .product(name: "Numerics", package: "swift-numerics")]),

        // MARK: Implicit models (math only): cells with hand-written JVP/VJP, the output head, forward solvers.
        .target(name: "PhantomModel", dependencies: ["PhantomLinearAlgebra"]),

        // MARK: Models and data on disk: checkpoints, data sets, run folders, the data-set resolver.
        .target(name: "PhantomModelIO", dependencies: ["PhantomFileSystem", "PhantomHDF5", "PhantomModel", "PhantomLinearAlgebra"]),

        // MARK: Gradient estimators: the exact implicit gradient, the estimator families (UPG, NPG, JFB, RBP, …)
        // with their grid engines and certificates, BPTT.
        .target(name: "PhantomGradients", dependencies: ["PhantomModel", "PhantomLinearAlgebra"]),

        // MARK: Interoperability: PyTorch checkpoints (safetensors) → phantom checkpoints.
        .target(
            name: "PhantomInterop",
            dependencies: [
                "PhantomFileSystem", "PhantomONNX", "PhantomSafetensors", "PhantomModel", "PhantomModelIO", "PhantomHDF5", "PhantomLinearAlgebra"
            ]),

        // MARK: Analysis: the analysis run (inputs → series → per-sample spectra, metrics and certificates).
        .target(
            name: "PhantomAnalysis",
            dependencies: [
                "PhantomFileSystem", "PhantomGradients", "PhantomHDF5", "PhantomInterop", "PhantomModel",
                "PhantomModelIO", "PhantomLinearAlgebra",
                .product(name: "Numerics", package: "swift-numerics")
            ]),

        // MARK: Training with a selectable gradient estimator: the training run and its folder.
        .target(
            name: "PhantomTraining",
            dependencies: ["PhantomFileSystem", "PhantomGradients", "PhantomModel", "PhantomModelIO", "PhantomHDF5", "PhantomLinearAlgebra"]
        ),

        // MARK: Results I/O: the analysis results file (HDF5).
        .target(name: "PhantomResults", dependencies: ["PhantomAnalysis", "PhantomFileSystem", "PhantomHDF5", "PhantomLinearAlgebra"]),

        // MARK: Figures through a gnuplot pipe.
        .target(
            name: "PhantomPlots",
            dependencies: [
                "PhantomAnalysis", "PhantomFileSystem", "PhantomGradients", "PhantomModel", "PhantomModelIO",
                "PhantomResults", "PhantomTraining"
            ]),

        // MARK: Benchmarks (`phantom bench`): timing the engines and training, reported as medians and ratios.
        .target(
            name: "PhantomBenchmarks",
            dependencies: [
                "PhantomAnalysis", "PhantomFileSystem", "PhantomGradients", "PhantomLinearAlgebra", "PhantomModel",
                "PhantomModelIO", "PhantomTraining"
            ]),

        // MARK: The `phantom` command.
        .executableTarget(
            name: "PhantomCLI",
            dependencies: [
                "PhantomAnalysis", "PhantomBenchmarks", "PhantomFileSystem", "PhantomGradients", "PhantomHDF5", "PhantomInterop",
                "PhantomLinearAlgebra", "PhantomONNX",
                "PhantomModel", "PhantomModelIO", "PhantomPlots", "PhantomResults", "PhantomSafetensors", "PhantomTraining",
                .product(name: "ArgumentParser", package: "swift-argument-parser")
            ]
        ),

        // MARK: Tests
        .target(
            name: "PhantomTestSupport", dependencies: ["PhantomHDF5", "PhantomModel", "PhantomModelIO", "PhantomLinearAlgebra"],
            path: "Tests/PhantomTestSupport"),
        .testTarget(
            name: "PhantomLinearAlgebraTests",
            dependencies: ["PhantomLinearAlgebra", "PhantomTestSupport", .product(name: "Numerics", package: "swift-numerics")]
        ),
        .testTarget(
            name: "PhantomHDF5Tests",
            dependencies: ["PhantomFileSystem", "PhantomHDF5", "PhantomTestSupport"]
        ),
        .testTarget(
            name: "PhantomModelTests",
            dependencies: ["PhantomFileSystem", "PhantomModel", "PhantomModelIO", "PhantomHDF5", "PhantomTestSupport"]
        ),
        .testTarget(
            name: "PhantomGradientsTests",
            dependencies: ["PhantomGradients", "PhantomModel", "PhantomTestSupport"]
        ),
        .testTarget(
            name: "PhantomAnalysisTests",
            dependencies: [
                "PhantomAnalysis", "PhantomGradients", "PhantomHDF5", "PhantomModel", "PhantomModelIO", "PhantomResults",
                "PhantomPlots", "PhantomTestSupport", .product(name: "Numerics", package: "swift-numerics")
            ]
        ),
        .testTarget(
            name: "PhantomTrainingTests",
            dependencies: [
                "PhantomTraining", "PhantomFileSystem", "PhantomGradients", "PhantomHDF5", "PhantomModel", "PhantomModelIO",
                "PhantomTestSupport"
            ]
        ),
        .testTarget(
            name: "PhantomInteropTests",
            dependencies: [
                "PhantomGradients", "PhantomInterop", "PhantomONNX", "PhantomSafetensors", "PhantomModel", "PhantomModelIO", "PhantomLinearAlgebra", "PhantomFileSystem",
                "PhantomTestSupport"
            ]
        ),
        .testTarget(
            name: "PhantomPlotsTests",
            dependencies: [
                "PhantomPlots", "PhantomAnalysis", "PhantomGradients", "PhantomModel", "PhantomModelIO", "PhantomResults",
                "PhantomTraining", "PhantomLinearAlgebra", "PhantomTestSupport"
            ],
            exclude: ["Golden"]
        ),
        .testTarget(
            name: "PhantomCLITests",
            dependencies: [
                "PhantomAnalysis", "PhantomBenchmarks", "PhantomCLI", "PhantomFileSystem", "PhantomGradients", "PhantomHDF5",
                "PhantomInterop", "PhantomLinearAlgebra", "PhantomModel", "PhantomModelIO", "PhantomPlots", "PhantomResults",
                "PhantomSafetensors", "PhantomTestSupport"
            ]
        )
    ],
    swiftLanguageModes: [.v6]
)
