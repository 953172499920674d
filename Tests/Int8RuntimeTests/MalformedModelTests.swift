import XCTest
@testable import Int8Runtime

/// Corrupted models must fail with a ModelError that says what is wrong, or, when the
/// corruption leaves a valid model (e.g. a flipped weight bit), load and run. Never a crash or
/// an out-of-bounds access: run these under `swift test --sanitize=address` too.
final class MalformedModelTests: XCTestCase {
    var rng = SplitMix64(seed: 0xFACE_CA11)

    /// Loads, prepares and runs; returns the error message, or nil when the model ran.
    @discardableResult
    func attempt(_ bytes: [UInt8], _ what: String, file: StaticString = #filePath, line: UInt = #line) -> String? {
        do {
            let model = try Model(bytes: bytes)
            let interpreter = try Interpreter(model: model)
            interpreter.invoke()
            return nil
        } catch let error as ModelError {
            XCTAssertFalse(error.message.isEmpty, "\(what): empty error message", file: file, line: line)
            return error.description
        } catch {
            XCTFail("\(what): unexpected error type \(type(of: error)): \(error)", file: file, line: line)
            return "\(error)"
        }
    }

    func shippedModelBytes() throws -> [(String, [UInt8])] {
        let models = Paths.shippedModels
        XCTAssertFalse(models.isEmpty, "no shipped models in models/")
        return try models.map { ($0.lastPathComponent, [UInt8](try Data(contentsOf: $0))) }
    }

    func testIntactShippedModelsLoadAndRun() throws {
        for (name, bytes) in try shippedModelBytes() {
            XCTAssertNil(attempt(bytes, name), name)
        }
    }

    func testEmptyAndTinyFiles() {
        for length in 0..<16 {
            let message = attempt([UInt8](repeating: 0, count: length), "zeros(\(length))")
            XCTAssertNotNil(message)
        }
        XCTAssertTrue(attempt(Array("not a model at all, just text".utf8), "text")?.contains("TFL3") ?? false)
    }

    func testTruncations() throws {
        for (name, bytes) in try shippedModelBytes() {
            var lengths = Array(0..<min(96, bytes.count))
            for _ in 0..<80 { lengths.append(Int.random(in: 0..<bytes.count, using: &rng)) }
            lengths.append(bytes.count - 1)
            for length in lengths {
                XCTAssertNotNil(attempt(Array(bytes[..<length]), "\(name) truncated to \(length)"),
                                "\(name) truncated to \(length) bytes was accepted")
            }
        }
    }

    func testBitFlips() throws {
        var failed = 0, ran = 0
        for (name, bytes) in try shippedModelBytes() {
            // Flips concentrated in the FlatBuffer metadata (where they matter most): the
            // start of the file and its tail, where tflite writers put tables and vtables.
            for trial in 0..<250 {
                var mutated = bytes
                let region = trial % 2 == 0 ? 0..<min(4096, bytes.count) : max(0, bytes.count - 8192)..<bytes.count
                let flips = 1 + Int.random(in: 0..<3, using: &rng)
                for _ in 0..<flips {
                    let at = Int.random(in: region, using: &rng)
                    mutated[at] ^= UInt8(1) << UInt8.random(in: 0..<8, using: &rng)
                }
                if attempt(mutated, "\(name) bit flip trial \(trial)") == nil { ran += 1 } else { failed += 1 }
            }
        }
        print("bit flips: \(failed) rejected with an error, \(ran) still valid and ran")
    }

    func testRandomBytes() {
        for trial in 0..<300 {
            let length = Int.random(in: 8..<4096, using: &rng)
            var bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &rng) }
            if trial % 2 == 0 { bytes.replaceSubrange(4..<8, with: Array("TFL3".utf8)) }
            XCTAssertNotNil(attempt(bytes, "random bytes trial \(trial)"))
        }
    }

    /// Rewrites real fields of real models with absurd values: dimensions, buffer indices,
    /// offsets, quantization scales, operator options.
    func testAbsurdFieldValues() throws {
        let absurd: [UInt32] = [0, 0xFFFF_FFFF, 0x7FFF_FFFF, 0x8000_0000, 0x0001_0000, 0x4000_0000, 3]
        for (name, bytes) in try shippedModelBytes() {
            var targets: [(String, Int)] = []  // (what, byte position of a 4-byte field)
            try bytes.withUnsafeBytes { raw in
                let fb = FlatBuffer(base: raw.baseAddress!, count: raw.count)
                let model = try fb.rootTable()
                let graph = try model.vector(2, elementSize: 4)!.table(0)
                let tensors = try graph.vector(0, elementSize: 4)!
                for i in 0..<tensors.count {
                    let tensor = try tensors.table(i)
                    if let shape = try tensor.vector(0, elementSize: 4) {
                        for d in 0..<shape.count { targets.append(("tensor \(i) dim \(d)", shape.start + 4 * d)) }
                        targets.append(("tensor \(i) rank", shape.start - 4))
                    }
                    if let at = try tensor.field(2, size: 4) { targets.append(("tensor \(i) buffer index", at)) }
                    if let at = try tensor.field(0, size: 4) { targets.append(("tensor \(i) shape offset", at)) }
                    if let q = try tensor.table(4), let scales = try q.vector(2, elementSize: 4) {
                        targets.append(("tensor \(i) scale", scales.start))
                        targets.append(("tensor \(i) scale count", scales.start - 4))
                    }
                }
                let ops = try graph.vector(3, elementSize: 4)!
                for i in 0..<ops.count {
                    let op = try ops.table(i)
                    if let inputs = try op.vector(1, elementSize: 4) {
                        for k in 0..<inputs.count { targets.append(("op \(i) input \(k)", inputs.start + 4 * k)) }
                    }
                    if let at = try op.field(0, size: 4) { targets.append(("op \(i) opcode index", at)) }
                    if let at = try op.field(4, size: 4) { targets.append(("op \(i) options offset", at)) }
                    if let options = try op.table(4) {
                        for slot in 0..<7 {
                            if let at = try? options.field(slot, size: 4) { targets.append(("op \(i) option \(slot)", at)) }
                        }
                    }
                }
                targets.append(("root offset", 0))
            }
            XCTAssertGreaterThan(targets.count, 50, name)
            var rejected = 0
            for (what, position) in targets {
                for value in absurd.shuffled(using: &rng).prefix(2) {
                    var mutated = bytes
                    withUnsafeBytes(of: value.littleEndian) { mutated.replaceSubrange(position..<position + 4, with: $0) }
                    if attempt(mutated, "\(name) \(what) = \(value)") != nil { rejected += 1 }
                }
            }
            print("\(name): \(targets.count) fields rewritten, \(rejected) rewrites rejected with an error")
        }
    }

    func testErrorsNameTheCulprit() throws {
        guard let (_, bytes) = try shippedModelBytes().first else { return }
        var mutated = bytes
        // Make the first tensor's first dimension absurd: the error must name that tensor.
        var position = 0
        try bytes.withUnsafeBytes { raw in
            let fb = FlatBuffer(base: raw.baseAddress!, count: raw.count)
            let graph = try fb.rootTable().vector(2, elementSize: 4)!.table(0)
            let tensor = try graph.vector(0, elementSize: 4)!.table(0)
            position = try tensor.vector(0, elementSize: 4)!.start
        }
        withUnsafeBytes(of: Int32(-5).littleEndian) { mutated.replaceSubrange(position..<position + 4, with: $0) }
        let message = attempt(mutated, "negative dimension") ?? ""
        XCTAssertTrue(message.contains("tensor 0"), message)
        XCTAssertTrue(message.contains("-5"), message)
    }
}
