// swift-tools-version:6.0
import PackageDescription

// Hot loops are written over raw pointers; Swift 5 language mode keeps them free of
// Sendable ceremony when they run under DispatchQueue.concurrentPerform.
let fast: [SwiftSetting] = [
    .unsafeFlags(["-Ounchecked"], .when(configuration: .release)),
]

let package = Package(
    name: "fusellm",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "fusellm", targets: ["fusellm"]),
        .library(name: "FuseLLM", targets: ["FuseTensor", "FuseFormats", "FuseText", "FuseCorpus", "Llama", "Models", "Fusion", "Training", "Merging", "Ablation", "Distributed"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.0"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.1.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
    ],
    targets: [
        .systemLibrary(name: "CBLAS", path: "Sources/CBLAS",
                       providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CZstd", path: "Sources/CZstd",
                       providers: [.apt(["libzstd-dev"])]),
        // AVX-512 element-wise loops, checked at run time; no contraction to FMA, so results match the Swift loops.
        .target(name: "CVectorMath", cSettings: [.unsafeFlags(["-O3", "-ffp-contract=off"])]),
        // bf16 matrix products on AVX512-BF16 (`--precision bf16`); compiled for any x86-64, checked at run time.
        .target(name: "CBF16", cSettings: [.unsafeFlags(["-O3"])]),
        // Data parallelism: the process group of the ranks an MPI launcher started (Open MPI loaded at run time).
        .target(name: "Distributed"),
        .target(name: "FuseTensor", dependencies: ["CBLAS", "CVectorMath", "CBF16"], swiftSettings: fast),
        .target(name: "FuseFormats", dependencies: ["FuseTensor", "CZstd", .product(name: "Yams", package: "Yams")],
                swiftSettings: fast),
        .target(name: "FuseText", dependencies: ["FuseFormats", .product(name: "HeapModule", package: "swift-collections")],
                swiftSettings: fast),
        .target(name: "FuseCorpus", dependencies: ["FuseFormats"], swiftSettings: fast),
        .target(name: "Llama", dependencies: ["FuseTensor", "FuseFormats", "FuseText"], swiftSettings: fast),
        // Source models of every family (forward only) behind one protocol, and loading a model with its tokenizer.
        .target(name: "Models", dependencies: ["FuseTensor", "FuseFormats", "FuseText", "Llama"], swiftSettings: fast),
        .target(name: "Fusion", dependencies: [
            "FuseFormats", "FuseTensor", "FuseText", "FuseCorpus", "Llama", "Models", "Distributed",
            .product(name: "Crypto", package: "swift-crypto"),
        ], swiftSettings: fast),
        .target(name: "Training", dependencies: ["Llama", "FuseTensor", "FuseFormats", "FuseText", "Distributed"],
                swiftSettings: fast),
        .target(name: "Merging", dependencies: [
            "Llama", "Models", "FuseFormats", "FuseTensor", .product(name: "Yams", package: "Yams"),
        ], swiftSettings: fast),
        .target(name: "Ablation", dependencies: ["FuseFormats", .product(name: "Yams", package: "Yams")]),
        .executableTarget(name: "fusellm", dependencies: [
            "Ablation", "Merging", "Training", "Llama", "Models", "Fusion", "FuseCorpus", "FuseFormats", "FuseText", "FuseTensor",
            "Distributed", .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Yams", package: "Yams"),
        ], swiftSettings: fast),
        // Fixture paths and helpers every test target shares.
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .testTarget(name: "FuseTensorTests", dependencies: ["TestSupport", "FuseTensor"]),
        .testTarget(name: "FuseFormatsTests", dependencies: ["TestSupport", "FuseFormats", "FuseTensor"]),
        .testTarget(name: "LlamaTests", dependencies: ["TestSupport", "Llama", "Models", "FuseFormats", "FuseTensor"]),
        .testTarget(name: "ModelsTests", dependencies: ["TestSupport", "Models", "Llama", "FuseFormats", "FuseTensor", "FuseText"]),
        .testTarget(name: "FuseCorpusTests", dependencies: ["TestSupport", "FuseCorpus", "FuseFormats", "FuseTensor"]),
        .testTarget(name: "FuseTextTests", dependencies: ["TestSupport", "FuseText", "FuseFormats", "Llama", "Models"]),
        .testTarget(name: "FusionTests", dependencies: ["TestSupport", "Fusion", "FuseFormats", "FuseTensor", "FuseText", "FuseCorpus", "Llama", "Models"]),
        .testTarget(name: "MergeTests", dependencies: ["TestSupport", "Merging", "FuseFormats", "FuseTensor", "Llama", "Models"]),
        .testTarget(name: "AblationTests", dependencies: ["TestSupport", "Ablation", "FuseFormats"]),
        // Corrupted input for every reader (safetensors, GGUF, parquet, JSON lines, dumps, tokenizers, configs, YAML).
        .testTarget(name: "FuzzTests", dependencies: ["TestSupport", "FuseTensor", "FuseFormats", "FuseCorpus", "FuseText", "Fusion", "Llama",
                                                      "Models", "Merging", "Ablation"]),
        .testTarget(name: "TrainingTests", dependencies: ["TestSupport", "Training", "Llama", "FuseFormats", "FuseText", "Distributed"]),
        // mpirun -np 2 against one process (needs Open MPI's mpirun; skipped without it).
        .testTarget(name: "DistributedTests", dependencies: ["TestSupport", "Distributed", "FuseFormats"]),
    ],
    swiftLanguageModes: [.v5]
)
