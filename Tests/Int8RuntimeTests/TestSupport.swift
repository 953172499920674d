import Foundation
@testable import Int8Runtime

enum Paths {
    /// The package root, found from this file's location (tests need no bundle resources).
    static let root: URL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let golden = root.appendingPathComponent("Tests/Int8RuntimeTests/Golden")
    static let models = root.appendingPathComponent("models")

    static var shippedModels: [URL] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: models.path)) ?? []
        return names.filter { $0.hasSuffix(".tflite") }.sorted().map { models.appendingPathComponent($0) }
    }
}

/// One golden case: a model, raw inputs, and the raw outputs LiteRT's built-in kernels gave.
struct GoldenCase {
    let name: String
    let modelPath: String
    let inputs: [[UInt8]]
    let outputs: [[UInt8]]

    static func all(in group: String) throws -> [GoldenCase] {
        let dir = Paths.golden.appendingPathComponent(group)
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: dir.path) else { return [] }
        return try names.sorted().compactMap { name in
            let caseDir = dir.appendingPathComponent(name)
            var modelPath = caseDir.appendingPathComponent("model.tflite").path
            let ref = caseDir.appendingPathComponent("model-ref.txt")
            if let text = try? String(contentsOf: ref, encoding: .utf8) {
                modelPath = Paths.root.appendingPathComponent(text.trimmingCharacters(in: .whitespacesAndNewlines)).path
            }
            guard FileManager.default.fileExists(atPath: modelPath) else { return nil }
            func numbered(_ prefix: String) throws -> [[UInt8]] {
                var result: [[UInt8]] = []
                while true {
                    let path = caseDir.appendingPathComponent("\(prefix)\(result.count).bin").path
                    guard let data = FileManager.default.contents(atPath: path) else { return result }
                    result.append([UInt8](data))
                }
            }
            return GoldenCase(name: "\(group)/\(name)", modelPath: modelPath, inputs: try numbered("input"), outputs: try numbered("output"))
        }
    }
}

/// Deterministic generator for reproducible random tests.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
