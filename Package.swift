// swift-tools-version:5.9
import PackageDescription

let package = Package(
    name: "facecam",
    products: [
        // The int8 runtime is a library other packages can depend on by version.
        .library(name: "Int8Runtime", targets: ["Int8Runtime"]),
        .library(name: "FacePipeline", targets: ["FacePipeline"]),
        .library(name: "Adaptation", targets: ["Adaptation"]),
        .library(name: "Imaging", targets: ["Imaging"]),
        .library(name: "FrameCapture", targets: ["FrameCapture"]),
        .library(name: "Streaming", targets: ["Streaming"]),
        .library(name: "BoardProfile", targets: ["BoardProfile"]),
        .library(name: "AdaptationEval", targets: ["AdaptationEval"]),
        .library(name: "Reports", targets: ["Reports"]),
        .executable(name: "facecam", targets: ["facecam"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        // Board profiles are YAML: Yams keeps each node's line, so errors can name it.
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
        // The live preview: FlyingFox's socket layer (epoll + Swift concurrency, no SwiftNIO: see
        // the README's "Live view" for why), and Prometheus text exposition.
        .package(url: "https://github.com/swhitty/FlyingFox", from: "0.27.1"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
    ],
    targets: [
        // Int8 kernels in C: reference/ defines TFLite's int8 semantics; SIMD variants
        // are picked at run time by dispatch.c.
        .target(name: "CInt8", path: "Sources/CInt8", cSettings: [.define("_GNU_SOURCE")]),
        .target(name: "Int8Runtime", dependencies: ["CInt8"]),
        // System libraries: TurboJPEG (returns errors instead of exit()), libv4l2.
        .systemLibrary(name: "CTurboJPEG", pkgConfig: "libturbojpeg",
                       providers: [.apt(["libturbojpeg0-dev"])]),
        .systemLibrary(name: "CV4L2", pkgConfig: "libv4l2", providers: [.apt(["libv4l-dev"])]),
        .systemLibrary(name: "CMosquitto", pkgConfig: "libmosquitto", providers: [.apt(["libmosquitto-dev"])]),
        // Image types, geometry and resampling: what capture and the pipeline share, so
        // neither has to import the other.
        .target(name: "Imaging"),
        // Frames from V4L2 cameras and files, decoding and pixel conversion.
        .target(name: "FrameCapture", dependencies: ["CTurboJPEG", "CV4L2", "Imaging"]),
        // Test-time adaptation: float heads on the frozen int8 backbones, self-training,
        // feature-statistics alignment, persisted state.
        .target(name: "Adaptation", dependencies: ["Int8Runtime"]),
        // Face pipeline: preprocessing, BlazeFace decoding + NMS, tracking, verifier and classifier.
        .target(name: "FacePipeline", dependencies: ["Imaging", "Int8Runtime", "Adaptation"]),
        // The frame loop: a source -> the face pipeline -> sinks (JSON Lines, annotated images,
        // and whatever an embedding program adds), with reconnects, statistics and telemetry.
        .target(name: "Streaming", dependencies: ["Imaging", "FrameCapture", "FacePipeline", "Adaptation", "Int8Runtime"]),
        // What `facecam run` runs with: board profiles (firmware-config/*.yaml, through Yams),
        // the settings' ranges and defaults, the pipeline and source they make.
        .target(name: "BoardProfile", dependencies: [
            "Adaptation", "FacePipeline", "FrameCapture", "Int8Runtime", "Streaming",
            .product(name: "Yams", package: "Yams"),
        ]),
        // The shift benchmark (`adapt-eval`, tools/adapt-bench) and source calibration
        // (`adapt-calibrate`): crop streams, method variants, online scoring, the reports.
        .target(name: "AdaptationEval", dependencies: ["Adaptation", "FacePipeline", "FrameCapture", "Imaging", "Int8Runtime", "Streaming"]),
        // What `inspect`, `bench`, `devices` and `adapt-state` print, as text lines and JSON:
        // model tables, latency statistics and operator profiles, V4L2 device listings and the
        // capture probe, adaptation state files.
        .target(name: "Reports", dependencies: ["Adaptation", "FrameCapture", "Int8Runtime", "Streaming"]),
        // `--mqtt`: frames with faces to an MQTT broker through libmosquitto, off the loop thread.
        .target(name: "MQTTPublisher", dependencies: ["CMosquitto", "Streaming", "Int8Runtime"]),
        // The live preview over HTTP: the page, MJPEG, Server-Sent Events, /metrics, /healthz.
        // An adapter at the edge like the command-line tool: it uses FoundationEssentials for
        // `Data`, which FlyingSocks' write API takes; the core targets stay without Foundation.
        .target(name: "LiveView", dependencies: [
            "Streaming", "FrameCapture", "FacePipeline", "Imaging", "Int8Runtime",
            .product(name: "FlyingSocks", package: "FlyingFox"),
            .product(name: "Prometheus", package: "swift-prometheus"),
        ]),
        .executableTarget(
            name: "facecam",
            dependencies: [
                "Int8Runtime",
                "FacePipeline",
                "FrameCapture",
                "Adaptation",
                "Imaging",
                "Streaming",
                "MQTTPublisher",
                "LiveView",
                "BoardProfile",
                "AdaptationEval",
                "Reports",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
        // Test support: counts heap allocations to prove hot paths allocate nothing.
        .target(name: "CAllocationCounter", path: "Tests/CAllocationCounter"),
        .testTarget(
            name: "Int8RuntimeTests",
            dependencies: ["Int8Runtime", "CInt8", "CAllocationCounter"],
            exclude: ["Golden"]),  // read from the source tree (#filePath), not bundled
        .testTarget(
            name: "FrameCaptureTests",
            dependencies: ["FrameCapture", "Imaging"]),
        .testTarget(
            name: "StreamingTests",
            dependencies: ["Streaming", "FrameCapture", "FacePipeline", "Adaptation", "Imaging", "CAllocationCounter"]),
        .testTarget(
            name: "MQTTPublisherTests",
            dependencies: ["MQTTPublisher", "Streaming", "FrameCapture", "FacePipeline", "Imaging", "CAllocationCounter"]),
        .testTarget(
            name: "LiveViewTests",
            dependencies: ["LiveView", "Streaming", "FrameCapture", "Imaging", "CAllocationCounter",
                           .product(name: "FlyingSocks", package: "FlyingFox")]),
        .testTarget(
            name: "FacePipelineTests",
            dependencies: ["FacePipeline", "Imaging", "Int8Runtime", "CAllocationCounter"]),
        .testTarget(
            name: "BoardProfileTests",
            dependencies: ["BoardProfile", "Adaptation", "FacePipeline"]),
        .testTarget(
            name: "AdaptationEvalTests",
            dependencies: ["AdaptationEval", "Adaptation", "Streaming"]),
        .testTarget(
            name: "ReportsTests",
            dependencies: ["Reports", "Int8Runtime", "FrameCapture", "Adaptation", "Streaming"]),
        .testTarget(
            name: "AdaptationTests",
            dependencies: ["Adaptation", "Int8Runtime", "FacePipeline", "Imaging", "CAllocationCounter"]),
    ]
)
