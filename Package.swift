// swift-tools-version: 6.0
import PackageDescription

/// DCMTK libraries the bridge needs: parsing, the network (send, listen) and DICOM TLS
/// over OpenSSL, image rendering, Segmentations (dcmseg over dcmfg and dcmiod) and
/// Structured Reports (dcmsr), and the
/// decompression codecs (JPEG baseline/extended/lossless, JPEG-LS, RLE);
/// OpenJPEG for the bridge's own JPEG 2000 decoder; zlib for the pre-scan of
/// deflated datasets.
let dcmtkLibraries = [
    "dcmsr", "dcmseg", "dcmfg", "dcmiod", "dcmimage", "dcmimgle", "dcmjpeg", "ijg8", "ijg12", "ijg16", "dcmjpls", "dcmtkcharls",
    "dcmnet", "dcmtls", "dcmdata", "oflog", "ofstd", "openjp2", "ssl", "crypto", "z",
].map { LinkerSetting.linkedLibrary($0) }

let package = Package(
    name: "medsynth",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "medsynth", targets: ["MedsynthCLI"]),
        .executable(name: "medsynth-decode-worker", targets: ["MedsynthDecodeWorker"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.0.0"),
    ],
    targets: [
        // Floor 0: the C and C++ shims, the only code that sees the system libraries.
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
        // Floor 1: DICOM files (read, decode, write, digests) and the engine.
        .target(
            name: "DICOM",
            dependencies: ["CDCMTKBridge", .product(name: "Logging", package: "swift-log")]
        ),
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
        // Floor 2: the DICOM network, the decode worker, the catalog, images and their measures, the GAN.
        .target(name: "DICOMNetwork", dependencies: ["CDCMTKBridge", "DICOM"]),
        // The child process that parses and decodes untrusted files for import and listen.
        .executableTarget(name: "MedsynthDecodeWorker", dependencies: ["DICOM"]),
        .target(
            name: "Catalog",
            dependencies: [
                "CPlatform", "DICOM",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(name: "Imaging", dependencies: ["CPNG", "DICOM", "Engine"]),
        .target(name: "GAN", dependencies: ["CHDF5", "Engine"]),
        // The utility measure's task model: a compact keypoint U-Net on the engine.
        .target(name: "TaskModel", dependencies: ["Engine"]),
        // Floor 3: bringing files in (import, listen's receiver, the decode-worker
        // pool), and the frame data set with its preparation and split.
        .target(
            name: "Ingest",
            dependencies: [
                "CPlatform", "Catalog", "DICOM", "DICOMNetwork", "Imaging",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "Frames",
            dependencies: ["Catalog", "DICOM", "Engine", "Imaging", "TaskModel", .product(name: "GRDB", package: "GRDB.swift")]),
        // Floor 4: what training, synthesis and evaluation share of a model: the
        // registry and lineage, model.json, checkpoint folders, a trained model,
        // its real frames, latents.
        .target(
            name: "ModelStore",
            dependencies: ["Catalog", "DICOM", "Engine", "Frames", "GAN", "Imaging", .product(name: "GRDB", package: "GRDB.swift")]),
        // Floor 5, side by side: creating, resuming and running a training.
        .target(name: "Training", dependencies: ["Catalog", "DICOM", "Engine", "Frames", "GAN", "Imaging", "ModelStore"]),
        // Generation from a model, the synthetic DICOM writer, provenance and registration.
        .target(name: "Synthesis", dependencies: ["Catalog", "DICOM", "Engine", "Imaging", "Ingest", "ModelStore"]),
        // The figures of `medsynth evaluate`: two-sample test, data copying, diversity, statistics, report.
        .target(name: "Evaluation", dependencies: ["Catalog", "DICOM", "Engine", "Frames", "Imaging", "ModelStore", "TaskModel"]),
        // Floor 6: the command line.
        .executableTarget(
            name: "MedsynthCLI",
            dependencies: [
                "CPlatform", "Catalog", "DICOM", "DICOMNetwork", "Engine", "Evaluation", "Frames", "GAN", "Imaging", "Ingest",
                "ModelStore", "Synthesis", "TaskModel", "Training",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Helpers the test targets share: sample paths, temporary folders.
        .target(
            name: "TestSupport", dependencies: ["Catalog", "DICOM", "Engine", "Frames", "Imaging", "Ingest", "ModelStore"],
            path: "Tests/TestSupport"),
        .testTarget(name: "DICOMTests", dependencies: ["DICOM", "TestSupport"], resources: [.copy("Fixtures")]),
        .testTarget(name: "ImagingTests", dependencies: ["DICOM", "Imaging", "Engine", "TestSupport"]),
        .testTarget(name: "CatalogTests", dependencies: ["Catalog", "DICOM", "Ingest", "TestSupport"]),
        // The decode worker is a dependency so that it is built beside the test runner, where import finds it.
        .testTarget(name: "IngestTests", dependencies: ["Ingest", "Catalog", "DICOM", "MedsynthDecodeWorker", "TestSupport"]),
        .testTarget(name: "EngineTests", dependencies: ["Engine", "TestSupport"], resources: [.copy("Fixtures")]),
        .testTarget(name: "TaskModelTests", dependencies: ["TaskModel", "Engine", "TestSupport"]),
        .testTarget(name: "GANTests", dependencies: ["GAN", "Engine", "TestSupport"], resources: [.copy("Fixtures")]),
        .testTarget(
            name: "FramesTests", dependencies: ["Frames", "Catalog", "DICOM", "Engine", "Imaging", "Ingest", "TestSupport"],
            resources: [.copy("Fixtures")]),
        .testTarget(name: "ModelStoreTests", dependencies: ["ModelStore", "Engine", "GAN", "TestSupport"]),
        .testTarget(
            name: "TrainingTests",
            dependencies: ["Training", "ModelStore", "Frames", "Catalog", "DICOM", "GAN", "Engine", "Imaging", "Ingest", "TestSupport"]),
        .testTarget(
            name: "SynthesisTests",
            dependencies: [
                "Synthesis", "ModelStore", "Frames", "Training", "Catalog", "DICOM", "GAN", "Engine", "Imaging", "Ingest", "TestSupport",
            ]),
        .testTarget(
            name: "EvaluationTests",
            dependencies: [
                "Evaluation", "ModelStore", "Training", "Synthesis", "Catalog", "DICOM", "Engine", "GAN", "Imaging", "Ingest",
                "TaskModel", "TestSupport",
            ]),
        .testTarget(name: "MedsynthCLITests", dependencies: ["MedsynthCLI", "Catalog", "DICOM", "Imaging", "Ingest", "TestSupport"]),
    ],
    cxxLanguageStandard: .cxx17
)
