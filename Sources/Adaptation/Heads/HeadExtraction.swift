// Rebuilds the final layers of an int8 model in float, from a named feature tensor to a softmax
// output: each int8 weight w with per-channel scale s becomes s * w, each int32 bias b becomes
// b * s_input * s_weight. Before any update the float head gives the int8 model's answers (up
// to int8 rounding; a test checks the agreement on real faces).
import Int8Runtime

/// How the dequantized feature tensor is turned into the head's input vector.
public enum FeatureTransform: Sendable, Equatable {
    /// The tensor as it lies (NHWC order; also what TFLite's RESHAPE to [1, N] gives).
    case flatten
    /// A k x k stride-1 SAME convolution followed by a mean over H and W is linear in the
    /// k*k shifted-window means of its input: feature[(dy * k + dx) * C + c] =
    /// (1 / (H * W)) * sum over output positions of input[y + dy - pad, x + dx - pad, c].
    case windowMeans(height: Int, width: Int, channels: Int, kernel: Int, padTop: Int, padLeft: Int)

    public func outputCount(inputCount: Int) -> Int {
        switch self {
        case .flatten: return inputCount
        case .windowMeans(_, _, let c, let k, _, _): return k * k * c
        }
    }

    /// Applies the transform; `input` has the feature tensor's element count.
    public func apply(_ input: UnsafePointer<Float>, count: Int, into output: UnsafeMutablePointer<Float>) {
        switch self {
        case .flatten:
            output.update(from: input, count: count)
        case .windowMeans(let h, let w, let c, let k, let padTop, let padLeft):
            let scale = 1 / Float(h * w)
            for dy in 0..<k {
                for dx in 0..<k {
                    let out = output + (dy * k + dx) * c
                    for ch in 0..<c { out[ch] = 0 }
                    // Output position (y, x) reads input (y + dy - padTop, x + dx - padLeft).
                    let y0 = max(0, padTop - dy), y1 = min(h, h + padTop - dy)
                    let x0 = max(0, padLeft - dx), x1 = min(w, w + padLeft - dx)
                    if y0 >= y1 || x0 >= x1 { continue }
                    for y in y0..<y1 {
                        for x in x0..<x1 {
                            let row = input + ((y + dy - padTop) * w + (x + dx - padLeft)) * c
                            for ch in 0..<c { out[ch] += row[ch] }
                        }
                    }
                    for ch in 0..<c { out[ch] *= scale }
                }
            }
        }
    }
}

/// A float head and the feature tensor it reads, as built from a model.
public struct ExtractedHead {
    public let head: FloatHead
    public let featureTensor: Tensor
    public let transform: FeatureTransform
    /// Channels of the feature tensor (its last dimension): the unit of feature statistics.
    public var featureChannels: Int { featureTensor.shape.last ?? 1 }
    /// Operators of the int8 model that the float head replaces.
    public let replacedOperators: [Int]
}

public enum HeadExtraction {
    /// Builds the float head that maps `feature` to the softmax output `output`.
    public static func extract(from model: Model, feature featureName: String, output outputName: String) throws -> ExtractedHead {
        guard let feature = model.tensor(named: featureName) else {
            throw AdaptationError("the model has no tensor named '\(featureName)'")
        }
        guard let output = model.tensor(named: outputName) else {
            throw AdaptationError("the model has no tensor named '\(outputName)'")
        }
        guard feature.quantization != nil, feature.type == .int8 else {
            throw AdaptationError("\(feature.label) is not a quantized int8 tensor")
        }
        let path = try operatorPath(model, from: feature.index, to: output.index)
        var layers: [FloatHead.Layer] = []
        var parameters: [Float] = []
        var transform = FeatureTransform.flatten
        var width = feature.elementCount
        var position = 0
        var sawSoftmax = false
        while position < path.count {
            let op = model.operators[path[position]]
            func fail(_ why: String) -> AdaptationError { AdaptationError("\(op.label): \(why); cannot build a float head") }
            guard !sawSoftmax else { throw fail("follows the SOFTMAX") }
            switch op.opcode {
            case .reshape:
                break  // NHWC order is kept
            case .conv2D:
                // Only "k x k SAME stride-1 conv, then MEAN over H and W" is a linear map of window means.
                let input = model.tensors[op.inputs[0]], filter = model.tensors[op.inputs[1]]
                let options = try model.convolutionOptions(op)
                guard position + 1 < path.count, model.operators[path[position + 1]].opcode == .mean else {
                    throw fail("a convolution inside the head must be followed by MEAN")
                }
                guard input.shape.count == 4, filter.shape.count == 4, options.padding == .same, options.strideHeight == 1,
                      options.strideWidth == 1, options.dilationHeight == 1, options.dilationWidth == 1,
                      options.activation == .none, filter.shape[1] == filter.shape[2], filter.shape[1] % 2 == 1 else {
                    throw fail("only odd square SAME stride-1 convolutions without activation are supported")
                }
                let (h, w, c) = (input.shape[1], input.shape[2], input.shape[3])
                let (oc, k) = (filter.shape[0], filter.shape[1])
                guard width == h * w * c, layers.isEmpty else { throw fail("must read the feature tensor directly") }
                transform = .windowMeans(height: h, width: w, channels: c, kernel: k, padTop: (k - 1) / 2, padLeft: (k - 1) / 2)
                // Filter layout [oc, k, k, c] is already (dy * k + dx) * c + ch per output channel.
                try appendDense(model, op, inputs: k * k * c, outputs: oc, into: &layers, &parameters)
                width = oc
                position += 1  // the MEAN: averaging is inside the window means
            case .fullyConnected:
                let weights = model.tensors[op.inputs[1]]
                guard weights.shape.count == 2, weights.shape[1] == width else { throw fail("weights do not match the input width \(width)") }
                try appendDense(model, op, inputs: width, outputs: weights.shape[0], into: &layers, &parameters)
                width = weights.shape[0]
                switch try model.fullyConnectedActivation(op) {
                case .none: break
                case .relu: layers.append(.relu(count: width))
                default: throw fail("fused activation other than NONE or RELU")
                }
            case .prelu:
                let alpha = model.tensors[op.inputs[1]]
                guard let bytes = model.constantBytes(alpha), alpha.type == .int8, let q = alpha.quantization else {
                    throw fail("alpha must be a constant int8 tensor")
                }
                let channels = alpha.elementCount
                guard channels > 0, width % channels == 0, q.isPerTensor else { throw fail("alpha must be per tensor and per channel") }
                layers.append(.prelu(count: width, channels: channels, alpha: parameters.count))
                for i in 0..<channels {
                    parameters.append(q.scale * Float(Int32(Int8(bitPattern: bytes[i])) - q.zeroPoint))
                }
            case .softmax:
                guard try model.softmaxBeta(op) == 1 else { throw fail("softmax beta other than 1") }
                sawSoftmax = true
            default:
                throw fail("\(op.opcode.name) is not supported in a float head")
            }
            position += 1
        }
        guard sawSoftmax else { throw AdaptationError("'\(outputName)' is not a SOFTMAX output") }
        let head = FloatHead(inputCount: transform.outputCount(inputCount: feature.elementCount), layers: layers, initial: parameters)
        return ExtractedHead(head: head, featureTensor: feature, transform: transform, replacedOperators: path)
    }

    private static func appendDense(_ model: Model, _ op: Operator, inputs n: Int, outputs m: Int,
                                    into layers: inout [FloatHead.Layer], _ parameters: inout [Float]) throws {
        // The int32 bias is in units of (scale of the tensor this op reads) x (weight scale).
        let inputScale = model.tensors[op.inputs[0]].quantization?.scale ?? 1
        let weights = model.tensors[op.inputs[1]]
        guard weights.type == .int8, let bytes = model.constantBytes(weights), let q = weights.quantization,
              weights.elementCount == n * m else {
            throw AdaptationError("\(op.label): weights must be constant int8 [\(m), ...\(n)]")
        }
        guard q.scales.count == 1 || q.scales.count == m else { throw AdaptationError("\(op.label): weight scales per output channel expected") }
        let weightOffset = parameters.count
        for o in 0..<m {
            let s = q.scales.count == 1 ? q.scales[0] : q.scales[o]
            let zp = Float(q.zeroPoints.count == q.scales.count ? q.zeroPoints[q.scales.count == 1 ? 0 : o] : 0)
            for i in 0..<n { parameters.append(s * (Float(Int8(bitPattern: bytes[o * n + i])) - zp)) }
        }
        let biasOffset = parameters.count
        if op.inputs.count > 2, op.inputs[2] >= 0 {
            let bias = model.tensors[op.inputs[2]]
            guard bias.type == .int32, let raw = model.constantBytes(bias), bias.elementCount == m else {
                throw AdaptationError("\(op.label): bias must be constant int32 [\(m)]")
            }
            for o in 0..<m {
                let s = q.scales.count == 1 ? q.scales[0] : q.scales[o]
                let b = Int32(littleEndian: raw.loadUnaligned(fromByteOffset: o * 4, as: Int32.self))
                parameters.append(Float(b) * inputScale * s)
            }
        } else {
            parameters.append(contentsOf: repeatElement(0, count: m))
        }
        layers.append(.dense(inputs: n, outputs: m, weights: weightOffset, bias: biasOffset))
    }

    /// The operators on the way from tensor `from` to tensor `to`, in graph order.
    private static func operatorPath(_ model: Model, from: Int, to: Int) throws -> [Int] {
        // Operators that lie on some path to `to`: walk back from it.
        var reaches = Set<Int>()
        var stack = [to]
        var seenTensors = Set<Int>()
        while let t = stack.popLast() {
            guard seenTensors.insert(t).inserted, t != from, let op = model.producer[t] else { continue }
            reaches.insert(op)
            stack.append(contentsOf: model.operators[op].inputs.filter { $0 >= 0 && !model.tensors[$0].isConstant })
        }
        // Follow the single chain forward from `from`.
        var path: [Int] = []
        var current = from
        while current != to {
            let next = model.consumers(of: current).filter { reaches.contains($0) }
            guard next.count == 1 else {
                throw AdaptationError("no single chain of operators from \(model.tensors[from].label) to \(model.tensors[to].label)")
            }
            let op = model.operators[next[0]]
            guard op.inputs.filter({ $0 >= 0 && !model.tensors[$0].isConstant }).count == 1 else {
                throw AdaptationError("\(op.label) has more than one variable input; cannot build a float head")
            }
            path.append(op.index)
            current = op.outputs[0]
        }
        return path
    }
}

public struct AdaptationError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// The heads of the shipped models that adapt: the tensor they read and the softmax they end in.
public struct KnownHead: Sendable {
    public let feature: String
    public let output: String
    /// ONet: conv4's [1, 3, 3, 128] PReLU output, flattened into FC 1152->256, PReLU, FC 256->2. The
    /// notes measured re-normalizing these 128 channels as the most robust forward-only fix.
    public static let verifier = KnownHead(feature: "functional_1_1/prelu4_1/add", output: "face_prob")
    /// mini-Xception: the last residual block's [1, 4, 4, 128] output, feeding the 3x3 conv + MEAN.
    public static let expression = KnownHead(feature: "model_1_1/add_4_1/Add", output: "expression_probs")
}
