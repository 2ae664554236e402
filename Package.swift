// swift-tools-version: 6.0
import PackageDescription

/// DCMTK libraries the bridge needs: parsing, the network (send, listen) and DICOM TLS
/// over OpenSSL, image rendering and the
/// decompression codecs (JPEG baseline/extended/lossless, JPEG-LS, RLE);
/// OpenJPEG for the bridge's own JPEG 2000 decoder; zlib for the pre-scan of
/// deflated datasets.
let dcmtkLibraries = [
    "dcmimage", "dcmimgle", "dcmjpeg", "ijg8", "ijg12", "ijg16", "dcmjpls", "dcmtkcharls",
    "dcmnet", "dcmtls", "dcmdata", "oflog", "ofstd", "openjp2", "ssl", "crypto", "z",
].map { LinkerSetting.linkedLibrary($0) }

let package = Package(
    name: "medsynth",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "medsynth", targets: ["MedsynthCLI"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.0.0"),
    ],
    targets: [
        // C++ shim over DCMTK (and OpenSSL's SHA-256, which DCMTK already links).
        .target(
            name: "CDCMTKBridge",
            linkerSettings: dcmtkLibraries
        ),
        // C shim over libpng (its errors longjmp, which must stay in C).
        .target(name: "CPNG", linkerSettings: [.linkedLibrary("png")]),
        // C shim over libhdf5 (Debian's serial build) for Keras weight files.
        .target(
            name: "CHDF5",
            cSettings: [.unsafeFlags(["-I/usr/include/hdf5/serial"])],
            linkerSettings: [.linkedLibrary("hdf5_serial")]
        ),
        // Linux calls Swift's Glibc module does not export.
        .target(name: "CPlatform"),
        .target(
            name: "DICOM",
            dependencies: ["CDCMTKBridge", "CPlatform", .product(name: "Logging", package: "swift-log")]
        ),
        .target(name: "Imaging", dependencies: ["CPNG"]),
        // OpenBLAS's CBLAS, for every matrix product of the engine.
        .systemLibrary(name: "COpenBLAS"),
        // C shim over oneDNN (Debian's libdnnl, on libgomp's OpenMP threads):
        // the engine's convolutions and transposed convolutions.
        .target(name: "COneDNN", linkerSettings: [.linkedLibrary("dnnl"), .linkedLibrary("gomp")]),
        // Swift 5 mode: the engine's loops share raw buffers between threads by
        // disjoint ranges, which Swift 6's Sendable checking cannot express.
        // Optimised in debug builds too: its SIMD loops run many times slower
        // unoptimised, and the debug test suite trains networks on them.
        .target(
            name: "Engine", dependencies: ["COneDNN", "COpenBLAS"],
            swiftSettings: [.swiftLanguageMode(.v5), .unsafeFlags(["-O"], .when(configuration: .debug))]),
        .target(name: "GAN", dependencies: ["CHDF5", "Engine"]),
        .target(
            name: "Catalog",
            dependencies: [
                "CPlatform", "DICOM",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // What training, synthesis and evaluation share: the model registry and
        // model.json, checkpoint folders, the frame data set and its split, a
        // model's real frames, seed streams, a trained model opened for
        // inference, frame matrices and the copy measure.
        .target(
            name: "Models", dependencies: ["Catalog", "DICOM", "Engine", "GAN", "Imaging", .product(name: "GRDB", package: "GRDB.swift")]),
        // Creating and resuming models, the training loop, the model folder's files.
        .target(name: "Training", dependencies: ["Catalog", "DICOM", "Engine", "GAN", "Imaging", "Models"]),
        // Generation from a model, the synthetic DICOM writer, provenance and registration.
        .target(name: "Synthesis", dependencies: ["Catalog", "DICOM", "Engine", "Imaging", "Models"]),
        // The figures of `medsynth evaluate`: two-sample test, data copying, diversity, statistics, report.
        .target(name: "Evaluation", dependencies: ["Catalog", "Engine", "Imaging", "Models"]),
        .executableTarget(
            name: "MedsynthCLI",
            dependencies: [
                "CPlatform", "Catalog", "DICOM", "Engine", "Evaluation", "GAN", "Imaging", "Models", "Synthesis", "Training",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Helpers the test targets share: sample paths, temporary folders.
        .target(name: "TestSupport", dependencies: ["Catalog", "DICOM", "Engine", "Imaging", "Models"], path: "Tests/TestSupport"),
        .testTarget(name: "DICOMTests", dependencies: ["DICOM", "TestSupport"], resources: [.copy("Fixtures")]),
        .testTarget(name: "ImagingTests", dependencies: ["Imaging", "TestSupport"]),
        .testTarget(name: "CatalogTests", dependencies: ["Catalog", "DICOM", "TestSupport"]),
        .testTarget(name: "EngineTests", dependencies: ["Engine", "TestSupport"], resources: [.copy("Fixtures")]),
        .testTarget(name: "GANTests", dependencies: ["GAN", "Engine", "TestSupport"], resources: [.copy("Fixtures")]),
        .testTarget(
            name: "ModelsTests", dependencies: ["Models", "Catalog", "DICOM", "GAN", "Engine", "Imaging", "TestSupport"],
            resources: [.copy("Fixtures")]),
        .testTarget(
            name: "TrainingTests", dependencies: ["Training", "Models", "Catalog", "DICOM", "GAN", "Engine", "Imaging", "TestSupport"]),
        .testTarget(
            name: "SynthesisTests", dependencies: ["Synthesis", "Models", "Training", "Catalog", "DICOM", "GAN", "Engine", "TestSupport"]),
        .testTarget(
            name: "EvaluationTests", dependencies: ["Evaluation", "Models", "Training", "Catalog", "Engine", "GAN", "TestSupport"]),
        .testTarget(name: "MedsynthCLITests", dependencies: ["MedsynthCLI", "TestSupport"]),
    ],
    cxxLanguageStandard: .cxx17
)
