@testable import Adaptation
import FacePipeline
import Imaging
import Int8Runtime
import XCTest

/// The float heads give the int8 models' answers before any update, and their hand-written
/// backward pass agrees with finite differences.
final class FloatHeadTests: XCTestCase {
    static let expressionFeature = "model_1_1/add_4_1/Add"
    static let verifierFeature = "functional_1_1/prelu4_1/add"
    static let verifierShallowFeature = "functional_1_1/prelu5_1/add"

    /// Crops jittered around the faces of the shipped samples, plus non-face crops.
    static func crops(width: Int, height: Int, layout: PixelLayout, count: Int) throws -> [[Int8]] {
        let root = modelPath("onet").split(separator: "/").dropLast(2).joined(separator: "/")
        // (image, face centre x, y, side) in the 320-px samples; non-face images use the centre.
        let sources: [(String, Float, Float, Float)] = [
            ("astronaut", 170, 105, 95), ("grace_hopper", 160, 120, 150), ("camera", 160, 110, 120),
            ("chelsea", 160, 106, 120), ("coffee", 160, 106, 120),
        ]
        var generator = TestRandom(seed: 7)
        var out: [[Int8]] = []
        for (name, cx, cy, side) in sources {
            let bytes = try Array(contentsOf: "/" + root + "/samples/\(name).ppm")
            let image = try PNM.decode(bytes)
            for _ in 0..<(count / sources.count) {
                let s = side * generator.uniform(0.7, 1.6)
                let box = Box(x: cx + side * generator.uniform(-0.3, 0.3) - s / 2, y: cy + side * generator.uniform(-0.3, 0.3) - s / 2,
                              width: s, height: s)
                var crop = [Int8](repeating: 0, count: width * height * (layout == .gray ? 1 : 3))
                crop.withUnsafeMutableBytes { Sampler.sample(image, region: box, into: $0, width: width, height: height, layout: layout) }
                out.append(crop)
            }
        }
        return out
    }

    func agreement(model name: String, feature: String, output: String, inputWidth: Int, layout: PixelLayout, count: Int = 500) throws
        -> (agree: Double, maxDifference: Float)
    {
        let model = try Model(path: modelPath(name))
        let extracted = try HeadExtraction.extract(from: model, feature: feature, output: output)
        var options = Interpreter.Options()
        options.preservedTensors = [extracted.featureTensor.index]
        let interpreter = try Interpreter(model: model, options: options)
        let outputIndex = model.outputs.firstIndex(of: model.tensor(named: output)!.index)!
        let q = interpreter.outputTensor(outputIndex).quantization!
        let head = extracted.head
        let n = extracted.featureTensor.elementCount
        var features = [Float](repeating: 0, count: n)
        var input = [Float](repeating: 0, count: head.inputCount)
        var agree = 0, total = 0
        var maxDifference: Float = 0
        let fq = extracted.featureTensor.quantization!
        for crop in try Self.crops(width: inputWidth, height: inputWidth, layout: layout, count: count) {
            try interpreter.setInput(0, int8: crop)
            interpreter.invoke()
            let bytes = interpreter.tensorBytes(extracted.featureTensor.index)!.bindMemory(to: Int8.self)
            for i in 0..<n { features[i] = fq.scale * Float(Int32(bytes[i]) - fq.zeroPoint) }
            features.withUnsafeBufferPointer { f in
                input.withUnsafeMutableBufferPointer { extracted.transform.apply(f.baseAddress!, count: n, into: $0.baseAddress!) }
            }
            let predicted = input.withUnsafeBufferPointer { head.forward($0.baseAddress!) }
            let int8 = interpreter.outputBuffer(outputIndex).bindMemory(to: Int8.self)
            var best = 0
            for k in 0..<head.classCount {
                let p = q.scale * Float(Int32(int8[k]) - q.zeroPoint)
                maxDifference = max(maxDifference, abs(p - head.probabilities[k]))
                if int8[k] > int8[best] { best = k }
            }
            // A tie in the int8 output (equal bytes) cannot be disagreed with.
            let tied = (0..<head.classCount).contains { $0 != best && int8[$0] == int8[best] }
            if predicted == best || tied { agree += 1 }
            total += 1
        }
        return (Double(agree) / Double(total), maxDifference)
    }

    func testExpressionHeadAgreesWithInt8Model() throws {
        let r = try agreement(model: "expression", feature: Self.expressionFeature, output: "expression_probs", inputWidth: 64, layout: .gray)
        print("expression float head: agreement \(r.agree), max |dp| \(r.maxDifference)")
        XCTAssertGreaterThanOrEqual(r.agree, 0.995)
        XCTAssertLessThan(r.maxDifference, 0.05)
    }

    func testVerifierHeadsAgreeWithInt8Model() throws {
        for feature in [Self.verifierFeature, Self.verifierShallowFeature] {
            let r = try agreement(model: "onet", feature: feature, output: "face_prob", inputWidth: 48, layout: .rgb, count: 250)
            print("verifier float head from \(feature): agreement \(r.agree), max |dp| \(r.maxDifference)")
            XCTAssertGreaterThanOrEqual(r.agree, 0.995)
            XCTAssertLessThan(r.maxDifference, 0.05)
        }
    }

    func testExtractionShapes() throws {
        let expression = try HeadExtraction.extract(from: try Model(path: modelPath("expression")), feature: Self.expressionFeature,
                                                    output: "expression_probs")
        XCTAssertEqual(expression.head.inputCount, 1152)
        XCTAssertEqual(expression.head.classCount, 7)
        XCTAssertEqual(expression.transform, .windowMeans(height: 4, width: 4, channels: 128, kernel: 3, padTop: 1, padLeft: 1))
        let verifier = try HeadExtraction.extract(from: try Model(path: modelPath("onet")), feature: Self.verifierFeature, output: "face_prob")
        XCTAssertEqual(verifier.head.inputCount, 1152)
        XCTAssertEqual(verifier.head.layers.count, 3)  // dense 1152->256, PReLU, dense 256->2
        XCTAssertEqual(verifier.head.parameterCount, 1152 * 256 + 256 + 256 + 256 * 2 + 2)
        // A tensor that does not lead to the output, and a missing name, are clear errors.
        XCTAssertThrowsError(try HeadExtraction.extract(from: try Model(path: modelPath("onet")), feature: "box_reg", output: "face_prob"))
        XCTAssertThrowsError(try HeadExtraction.extract(from: try Model(path: modelPath("onet")), feature: "nope", output: "face_prob"))
    }

    /// The loss the adapter minimizes: entropy + cross-entropy to a pseudo-label.
    private func loss(_ head: FloatHead, _ x: UnsafePointer<Float>, label: Int) -> Double {
        head.forward(x)
        var h = 0.0
        for k in 0..<head.classCount { let p = Double(head.probabilities[k]); if p > 0 { h -= p * log(p) } }
        return h - log(Double(head.probabilities[label]))
    }

    private func setLossGradient(_ head: FloatHead, label: Int) {
        var h: Float = 0
        for k in 0..<head.classCount { let p = head.probabilities[k]; if p > 0 { h -= p * logf(p) } }
        for k in 0..<head.classCount {
            let p = head.probabilities[k]
            head.logitGradient[k] = -p * (logf(p) + h) + p - (k == label ? 1 : 0)
        }
    }

    func testGradientsMatchFiniteDifferences() throws {
        var generator = TestRandom(seed: 11)
        // A small head with the deep head's structure: dense, PReLU, dense; both layers train.
        let (n, hidden, classes) = (12, 9, 3)
        var initial: [Float] = []
        for _ in 0..<(n * hidden + hidden) { initial.append(generator.uniform(-0.6, 0.6)) }
        for _ in 0..<3 { initial.append(generator.uniform(0.05, 0.4)) }  // PReLU alpha, 3 channels
        for _ in 0..<(hidden * classes + classes) { initial.append(generator.uniform(-0.6, 0.6)) }
        let layers: [FloatHead.Layer] = [
            .dense(inputs: n, outputs: hidden, weights: 0, bias: n * hidden),
            .prelu(count: hidden, channels: 3, alpha: n * hidden + hidden),
            .dense(inputs: hidden, outputs: classes, weights: n * hidden + hidden + 3, bias: n * hidden + hidden + 3 + hidden * classes),
        ]
        let head = FloatHead(inputCount: n, layers: layers, initial: initial)
        head.trainLastDenseLayers(2)
        var worst = 0.0
        for trial in 0..<5 {
            let x = (0..<n).map { _ in generator.uniform(-1.5, 1.5) }
            let label = trial % classes
            try x.withUnsafeBufferPointer { xp in
                let input = xp.baseAddress!
                head.forward(input)
                setLossGradient(head, label: label)
                head.zeroGradient()
                head.backward()
                for i in 0..<head.parameterCount where !(n * hidden + hidden..<n * hidden + hidden + 3).contains(i) {
                    let saved = head.parameters[i]
                    let eps: Float = 1e-2
                    head.parameters[i] = saved + eps
                    let up = loss(head, input, label: label)
                    head.parameters[i] = saved - eps
                    let down = loss(head, input, label: label)
                    head.parameters[i] = saved
                    let numeric = (up - down) / (2 * Double(eps))
                    let analytic = Double(head.gradient[i])
                    let error = abs(numeric - analytic) / max(1e-2, abs(numeric) + abs(analytic))
                    worst = max(worst, error)
                    if error > 0.03 {
                        XCTFail("parameter \(i): analytic \(analytic), numeric \(numeric)")
                        throw AdaptationError("gradient mismatch")
                    }
                }
            }
        }
        print("worst relative gradient error: \(worst)")
        // Training only the last layer leaves the first layer's gradient at zero.
        head.trainLastDenseLayers(1)
        let x = (0..<n).map { _ in Float(0.5) }
        x.withUnsafeBufferPointer { head.forward($0.baseAddress!) }
        setLossGradient(head, label: 0)
        head.zeroGradient()
        head.backward()
        XCTAssertTrue((0..<(n * hidden + hidden)).allSatisfy { head.gradient[$0] == 0 })
        XCTAssertTrue((n * hidden + hidden + 3..<head.parameterCount).contains { head.gradient[$0] != 0 })
    }

    func testWindowMeansEqualConvolutionThenMean() {
        // Direct 3x3 SAME convolution + mean versus the window-mean features, on random numbers.
        var generator = TestRandom(seed: 3)
        let (h, w, c, k, oc) = (4, 4, 5, 3, 2)
        let input = (0..<(h * w * c)).map { _ in generator.uniform(-1, 1) }
        let filter = (0..<(oc * k * k * c)).map { _ in generator.uniform(-1, 1) }
        var features = [Float](repeating: 0, count: k * k * c)
        let transform = FeatureTransform.windowMeans(height: h, width: w, channels: c, kernel: k, padTop: 1, padLeft: 1)
        input.withUnsafeBufferPointer { i in features.withUnsafeMutableBufferPointer { transform.apply(i.baseAddress!, count: input.count, into: $0.baseAddress!) } }
        for o in 0..<oc {
            var direct: Float = 0
            for y in 0..<h { for x in 0..<w { for dy in 0..<k { for dx in 0..<k {
                let iy = y + dy - 1, ix = x + dx - 1
                guard iy >= 0, iy < h, ix >= 0, ix < w else { continue }
                for ch in 0..<c { direct += filter[((o * k + dy) * k + dx) * c + ch] * input[(iy * w + ix) * c + ch] }
            } } } }
            direct /= Float(h * w)
            var viaFeatures: Float = 0
            for j in 0..<(k * k * c) { viaFeatures += filter[o * k * k * c + j] * features[j] }
            XCTAssertEqual(direct, viaFeatures, accuracy: 1e-4)
        }
    }
}

/// A small deterministic generator for tests.
struct TestRandom {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func uniform(_ a: Float, _ b: Float) -> Float { a + (b - a) * Float(next() >> 40) / Float(1 << 24) }
}

extension Array where Element == UInt8 {
    init(contentsOf path: String) throws {
        guard let f = fopen(path, "rb") else { throw AdaptationError("cannot open \(path)") }
        defer { fclose(f) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = fread(&chunk, 1, chunk.count, f)
            if n <= 0 { break }
            bytes.append(contentsOf: chunk[0..<n])
        }
        self = bytes
    }
}
