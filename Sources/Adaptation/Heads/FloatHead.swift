// A small float network -- dense and PReLU layers ending in softmax -- rebuilt from the final
// int8 layers of a model, so it can be trained on the device while the int8 backbone stays
// frozen. All parameters live in one flat buffer: SGD, the EMA teacher, the pull toward the
// source weights, a reset and the saved state are loops over one array. Every buffer is
// allocated once; forward and backward allocate nothing.

public final class FloatHead {
    public enum Layer: Sendable {
        /// y = W x + b; W row-major [outputs][inputs]; `weights` and `bias` are offsets into the
        /// parameter buffer.
        case dense(inputs: Int, outputs: Int, weights: Int, bias: Int)
        /// y = x > 0 ? x : alpha * x, per channel (channel = index % channels).
        case prelu(count: Int, channels: Int, alpha: Int)
        case relu(count: Int)
    }

    public let layers: [Layer]
    public let inputCount: Int
    public let classCount: Int
    /// Layers whose parameters the optimizer updates (PReLU slopes are never trained).
    public private(set) var trainable: [Bool]
    /// The trainable parameter ranges and the first trainable layer, cached when `trainable`
    /// changes: the per-step loops walk these by index (an array iterator can allocate).
    private let trainableRanges: UnsafeMutableBufferPointer<Range<Int>>
    private var trainableRangeCount = 0
    public private(set) var firstVaryingLayer = 0
    public let parameterCount: Int
    /// The student's parameters (what `forward` uses by default).
    public let parameters: UnsafeMutableBufferPointer<Float>
    /// The parameters as built from the int8 model: the pull target and what a reset restores.
    public let source: UnsafeMutableBufferPointer<Float>
    public let gradient: UnsafeMutableBufferPointer<Float>
    let velocity: UnsafeMutableBufferPointer<Float>

    /// Output of each layer for the last forward pass (layer i reads `activations[i - 1]`).
    let activations: [UnsafeMutableBufferPointer<Float>]
    /// Softmax of the last forward pass.
    public let probabilities: UnsafeMutableBufferPointer<Float>
    /// Gradient of the loss with respect to the logits (set by the loss, read by backward).
    public let logitGradient: UnsafeMutableBufferPointer<Float>
    private let deltaA: UnsafeMutableBufferPointer<Float>
    private let deltaB: UnsafeMutableBufferPointer<Float>
    private var lastInput: UnsafePointer<Float>?

    /// `initial` holds every parameter in layer order (dense: weights then bias; PReLU: alpha).
    public init(inputCount: Int, layers: [Layer], initial: [Float]) {
        self.layers = layers
        self.inputCount = inputCount
        var width = inputCount
        var widths: [Int] = []
        for layer in layers {
            switch layer {
            case .dense(let i, let o, _, _): precondition(i == width, "dense layer input mismatch"); width = o
            case .prelu(let n, _, _), .relu(let n): precondition(n == width, "activation size mismatch")
            }
            widths.append(width)
        }
        classCount = width
        parameterCount = initial.count
        trainable = layers.map { if case .dense = $0 { return true } else { return false } }
        trainableRanges = .allocate(capacity: 2 * max(layers.count, 1))
        trainableRanges.initialize(repeating: 0..<0)
        func buffer(_ n: Int) -> UnsafeMutableBufferPointer<Float> {
            let b = UnsafeMutableBufferPointer<Float>.allocate(capacity: max(n, 1))
            b.initialize(repeating: 0)
            return b
        }
        parameters = buffer(initial.count)
        source = buffer(initial.count)
        for i in initial.indices { parameters[i] = initial[i]; source[i] = initial[i] }
        gradient = buffer(initial.count)
        velocity = buffer(initial.count)
        activations = widths.map { buffer($0) }
        probabilities = buffer(classCount)
        logitGradient = buffer(classCount)
        let widest = max(inputCount, widths.max() ?? 1)
        deltaA = buffer(widest)
        deltaB = buffer(widest)
        cacheTrainable()
    }

    private func cacheTrainable() {
        trainableRangeCount = 0
        firstVaryingLayer = layers.count
        for index in layers.indices where trainable[index] {
            firstVaryingLayer = min(firstVaryingLayer, index)
            if case .dense(let n, let m, let wOffset, let bOffset) = layers[index] {
                trainableRanges[trainableRangeCount] = wOffset..<(wOffset + n * m)
                trainableRanges[trainableRangeCount + 1] = bOffset..<(bOffset + m)
                trainableRangeCount += 2
            }
        }
    }

    deinit {
        for b in [parameters, source, gradient, velocity, probabilities, logitGradient, deltaA, deltaB] + activations {
            b.deallocate()
        }
        trainableRanges.deallocate()
    }

    /// Chooses which dense layers train: the last `count` of them (1 = the final layer only).
    public func trainLastDenseLayers(_ count: Int) {
        var remaining = count
        for i in layers.indices.reversed() {
            guard case .dense = layers[i] else { continue }
            trainable[i] = remaining > 0
            remaining -= 1
        }
        cacheTrainable()
    }

    public var logits: UnsafeMutableBufferPointer<Float> { activations[activations.count - 1] }

    /// Runs the head on `input` (inputCount floats) with `weights` (default: the student's);
    /// fills `probabilities` and returns the predicted class.
    @discardableResult
    public func forward(_ input: UnsafePointer<Float>, weights: UnsafePointer<Float>? = nil) -> Int {
        forward(input, weights: weights, from: 0)
    }

    /// Like `forward`, but reuses the outputs of layers before `from` left by the previous
    /// forward pass on the same input (valid when those layers do not train).
    @discardableResult
    public func forward(_ input: UnsafePointer<Float>, weights: UnsafePointer<Float>?, from first: Int) -> Int {
        let w = weights ?? UnsafePointer(parameters.baseAddress!)
        lastInput = input
        var x = first == 0 ? input : UnsafePointer(activations[first - 1].baseAddress!)
        for index in first..<layers.count {
            let y = activations[index].baseAddress!
            switch layers[index] {
            case .dense(let n, let m, let wOffset, let bOffset):
                denseForward(x, n, m, w + wOffset, w + bOffset, y)
            case .prelu(let n, let channels, let alpha):
                for i in 0..<n { let v = x[i]; y[i] = v > 0 ? v : w[alpha + i % channels] * v }
            case .relu(let n):
                for i in 0..<n { y[i] = max(x[i], 0) }
            }
            x = UnsafePointer(y)
        }
        return softmax(logits, into: probabilities)
    }

    /// Accumulates into `gradient` the parameter gradient of the loss whose logit gradient is in
    /// `logitGradient`, for the last forward pass (which must have used the student's weights).
    public func backward() {
        let firstTrainable = firstVaryingLayer
        guard let input = lastInput, firstTrainable < layers.count else { return }
        let w = UnsafePointer(parameters.baseAddress!)
        var delta = deltaA.baseAddress!, spare = deltaB.baseAddress!
        for k in 0..<classCount { delta[k] = logitGradient[k] }
        var index = layers.count - 1
        while index >= firstTrainable {
            let x = index == 0 ? input : UnsafePointer(activations[index - 1].baseAddress!)
            let needInputGradient = index > firstTrainable
            switch layers[index] {
            case .dense(let n, let m, let wOffset, let bOffset):
                if trainable[index] {
                    let gw = gradient.baseAddress! + wOffset, gb = gradient.baseAddress! + bOffset
                    for o in 0..<m {
                        let d = delta[o]
                        if d == 0 { continue }
                        gb[o] += d
                        let row = gw + o * n
                        for i in 0..<n { row[i] += d * x[i] }
                    }
                }
                if needInputGradient {
                    for i in 0..<n { spare[i] = 0 }
                    for o in 0..<m {
                        let d = delta[o]
                        if d == 0 { continue }
                        let row = w + wOffset + o * n
                        for i in 0..<n { spare[i] += d * row[i] }
                    }
                    swap(&delta, &spare)
                }
            case .prelu(let n, let channels, let alpha):
                for i in 0..<n where x[i] <= 0 { delta[i] *= w[alpha + i % channels] }
            case .relu(let n):
                for i in 0..<n where x[i] <= 0 { delta[i] = 0 }
            }
            index -= 1
        }
    }

    public func zeroGradient() {
        for i in 0..<parameterCount { gradient[i] = 0 }
    }

    /// One SGD step with momentum on the trainable layers, plus a pull of strength `pull`
    /// toward the source weights (an L2 penalty on the distance to the source).
    public func step(learningRate: Float, momentum: Float, pull: Float) {
        forEachTrainableRange { range in
            for i in range {
                let g = gradient[i] + pull * (parameters[i] - source[i])
                velocity[i] = momentum * velocity[i] + g
                parameters[i] -= learningRate * velocity[i]
            }
        }
    }

    /// Restores the source weights and forgets the optimizer's momentum.
    public func reset() {
        for i in 0..<parameterCount { parameters[i] = source[i]; velocity[i] = 0 }
    }

    /// Moves `teacher` toward the student: teacher = decay * teacher + (1 - decay) * student.
    public func updateTeacher(_ teacher: UnsafeMutableBufferPointer<Float>, decay: Float) {
        forEachTrainableRange { range in
            for i in range { teacher[i] = decay * teacher[i] + (1 - decay) * parameters[i] }
        }
    }

    /// Root-mean-square distance of the student from the source weights (trainable layers).
    public func distanceFromSource() -> Float {
        var sum: Float = 0, count = 0
        forEachTrainableRange { range in
            for i in range { let d = parameters[i] - source[i]; sum += d * d }
            count += range.count
        }
        return count > 0 ? (sum / Float(count)).squareRoot() : 0
    }

    private func forEachTrainableRange(_ body: (Range<Int>) -> Void) {
        for k in 0..<trainableRangeCount { body(trainableRanges[k]) }
    }
}

@inline(__always)
private func denseForward(_ x: UnsafePointer<Float>, _ n: Int, _ m: Int, _ w: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
                          _ y: UnsafeMutablePointer<Float>) {
    // Explicit 8-wide vectors: the compiler does not reorder a float sum by itself.
    let xr = UnsafeRawPointer(x)
    for o in 0..<m {
        let row = UnsafeRawPointer(w + o * n)
        var s0 = SIMD8<Float>(), s1 = SIMD8<Float>()
        var i = 0
        while i + 16 <= n {
            s0 += row.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self) * xr.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
            s1 += row.loadUnaligned(fromByteOffset: i * 4 + 32, as: SIMD8<Float>.self)
                * xr.loadUnaligned(fromByteOffset: i * 4 + 32, as: SIMD8<Float>.self)
            i += 16
        }
        var s = (s0 + s1).sum()
        let r = w + o * n
        while i < n { s += r[i] * x[i]; i += 1 }
        y[o] = s + b[o]
    }
}

/// Numerically stable softmax; returns the arg max.
@discardableResult
public func softmax(_ logits: UnsafeMutableBufferPointer<Float>, into p: UnsafeMutableBufferPointer<Float>) -> Int {
    var best = 0
    for k in 1..<logits.count where logits[k] > logits[best] { best = k }
    let top = logits[best]
    var sum: Float = 0
    for k in 0..<logits.count { p[k] = expf(logits[k] - top); sum += p[k] }
    for k in 0..<logits.count { p[k] /= sum }
    return best
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
