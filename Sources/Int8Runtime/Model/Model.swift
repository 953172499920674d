// Loading a .tflite file: the FlatBuffer is read with bounds checks, every table the runtime
// uses is decoded, and the graph is checked for structural consistency (indices in range,
// buffer sizes matching tensor shapes, quantization well formed, dataflow in order). Op-level
// checks (shapes, types and options that each op needs) happen when an Interpreter prepares
// the ops.

/// Per-tensor or per-channel affine quantization: real = scale * (q - zeroPoint).
public struct Quantization: Sendable, Equatable {
    public let scales: [Float]
    public let zeroPoints: [Int64]
    /// The dimension that per-channel scales run along.
    public let quantizedDimension: Int

    public var isPerTensor: Bool { scales.count == 1 }
    public var scale: Float { scales[0] }
    public var zeroPoint: Int32 { Int32(truncatingIfNeeded: zeroPoints[0]) }
}

public struct Tensor: Sendable {
    public let index: Int
    public let name: String
    public let type: TensorType
    public let shape: [Int]
    public let quantization: Quantization?
    public let elementCount: Int
    public let byteCount: Int
    /// Position of the constant data inside the file, when the tensor is a constant.
    let dataOffset: Int?

    public var isConstant: Bool { dataOffset != nil }

    /// "tensor 12 'conv1/weights'": how errors and tools refer to a tensor.
    public var label: String { "tensor \(index) '\(name)'" }

    public var shapeDescription: String { "[" + shape.map(String.init).joined(separator: ", ") + "]" }
}

public struct Operator: @unchecked Sendable {  // options point into the immutable model file
    public let index: Int
    public let opcode: BuiltinOperator
    public let opcodeVersion: Int32
    /// Name of a custom op (opcode CUSTOM).
    public let customName: String?
    /// Tensor indices; -1 marks an omitted optional input.
    public let inputs: [Int]
    public let outputs: [Int]
    let optionsType: UInt8
    let options: FBTable?

    /// "operator 5 (CONV_2D)": how errors and tools refer to an operator.
    public var label: String {
        if let customName { return "operator \(index) (CUSTOM '\(customName)')" }
        return "operator \(index) (\(opcode.name))"
    }
}

/// A loaded, structurally validated TFLite model. Immutable; shareable between interpreters.
public final class Model: @unchecked Sendable {
    /// Models above this size are refused before reading (the runtime targets compact models).
    public static let maximumFileSize = 512 << 20
    /// Tensors above this many bytes are refused.
    public static let maximumTensorBytes = 256 << 20
    public static let maximumRank = 8

    public let fileSize: Int
    public let version: UInt32
    public let description: String?
    public let subgraphCount: Int
    public let tensors: [Tensor]
    public let operators: [Operator]
    public let inputs: [Int]
    public let outputs: [Int]
    /// For each tensor, the operator that writes it (nil for inputs and constants).
    public let producer: [Int?]

    let storage: UnsafeMutableRawPointer
    let buffer: FlatBuffer

    public convenience init(path: String) throws {
        let (memory, size) = try FileIO.readAll(path: path, alignment: 64, limit: Model.maximumFileSize)
        try self.init(taking: memory, count: size)
    }

    public convenience init(bytes: [UInt8]) throws {
        guard bytes.count <= Model.maximumFileSize else {
            throw ModelError.io("model of \(bytes.count) bytes refused (limit \(Model.maximumFileSize))")
        }
        let memory = UnsafeMutableRawPointer.allocate(byteCount: max(bytes.count, 1), alignment: 64)
        bytes.withUnsafeBytes { memory.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        try self.init(taking: memory, count: bytes.count)
    }

    /// Takes ownership of `memory` (freed on error too).
    private init(taking memory: UnsafeMutableRawPointer, count: Int) throws {
        storage = memory
        fileSize = count
        buffer = FlatBuffer(base: UnsafeRawPointer(memory), count: count)
        do {
            let decoded = try ModelDecoder(buffer).decode()
            version = decoded.version
            description = decoded.description
            subgraphCount = decoded.subgraphCount
            tensors = decoded.tensors
            operators = decoded.operators
            inputs = decoded.inputs
            outputs = decoded.outputs
            producer = decoded.producer
        } catch let error as FlatBufferError {
            memory.deallocate()
            throw ModelError.malformed(error.description)
        } catch {
            memory.deallocate()
            throw error
        }
    }

    deinit { storage.deallocate() }

    /// The tensor called `name`. Converters fuse names ("a;b;c" for an op that absorbed others),
    /// so a name also matches any one of its ';'-separated parts; when a part names both an
    /// activation and a constant (a PReLU's slope), the activation wins. Nil when none or
    /// several match.
    public func tensor(named name: String) -> Tensor? {
        if let exact = tensors.first(where: { $0.name == name }) { return exact }
        var matches = tensors.filter { $0.name.split(separator: ";").contains { $0 == name } }
        if matches.count > 1 { matches.removeAll { $0.isConstant } }
        return matches.count == 1 ? matches[0] : nil
    }

    /// The operators that read `tensor`, in graph order.
    public func consumers(of tensor: Int) -> [Int] {
        operators.filter { $0.inputs.contains(tensor) }.map(\.index)
    }

    /// The bytes of a constant tensor, inside the file (valid while the model lives).
    public func constantBytes(_ tensor: Tensor) -> UnsafeRawBufferPointer? {
        guard let offset = tensor.dataOffset else { return nil }
        return UnsafeRawBufferPointer(start: buffer.base + offset, count: tensor.byteCount)
    }

    /// Copies a constant int32 or int64 tensor into Int values (unaligned-safe).
    public func constantIntegers(_ tensor: Tensor) -> [Int]? {
        guard let bytes = constantBytes(tensor) else { return nil }
        switch tensor.type {
        case .int32: return (0..<tensor.elementCount).map { Int(Int32(littleEndian: bytes.loadUnaligned(fromByteOffset: $0 * 4, as: Int32.self))) }
        case .int64: return (0..<tensor.elementCount).map { Int(truncatingIfNeeded: Int64(littleEndian: bytes.loadUnaligned(fromByteOffset: $0 * 8, as: Int64.self))) }
        default: return nil
        }
    }
}

/// Decodes and checks the FlatBuffer; separate from Model so that `init` stays readable.
private struct ModelDecoder {
    let buffer: FlatBuffer
    init(_ buffer: FlatBuffer) { self.buffer = buffer }

    struct Decoded {
        var version: UInt32 = 0
        var description: String?
        var subgraphCount = 0
        var tensors: [Tensor] = []
        var operators: [Operator] = []
        var inputs: [Int] = []
        var outputs: [Int] = []
        var producer: [Int?] = []
    }

    func decode() throws -> Decoded {
        guard buffer.count >= 8 else {
            throw ModelError.malformed("file is \(buffer.count) bytes, too short for a TFLite model")
        }
        guard buffer.identifier() == Array("TFL3".utf8) else {
            throw ModelError.malformed("file identifier is not 'TFL3' (not a TFLite FlatBuffer)")
        }
        var result = Decoded()
        let model = try buffer.rootTable()
        result.version = try model.scalar(0, UInt32.self, default: 0)
        guard result.version == 3 else {
            throw ModelError.unsupported("schema version \(result.version) (only version 3 is read)")
        }
        result.description = try model.string(3)

        let buffers = try model.vector(4, elementSize: 4)
        let bufferCount = buffers?.count ?? 0

        // Operator codes.
        guard let codes = try model.vector(1, elementSize: 4) else {
            throw ModelError.malformed("model has no operator_codes")
        }
        var opcodes: [(BuiltinOperator, Int32, String?)] = []
        opcodes.reserveCapacity(codes.count)
        for i in 0..<codes.count {
            let code = try codes.table(i)
            let deprecated = Int32(try code.scalar(0, Int8.self, default: 0))
            let builtin = try code.scalar(3, Int32.self, default: 0)
            let version = try code.scalar(2, Int32.self, default: 1)
            let op = BuiltinOperator(rawValue: max(deprecated, builtin))
            let custom = op == .custom ? (try code.string(1) ?? "") : nil
            opcodes.append((op, version, custom))
        }

        // Subgraph 0 is the model; others are only reachable through control-flow ops,
        // which are reported as unsupported when an operator uses them.
        guard let subgraphs = try model.vector(2, elementSize: 4), subgraphs.count >= 1 else {
            throw ModelError.malformed("model has no subgraphs")
        }
        result.subgraphCount = subgraphs.count
        let graph = try subgraphs.table(0)

        guard let tensorVector = try graph.vector(0, elementSize: 4) else {
            throw ModelError.malformed("subgraph 0 has no tensors")
        }
        let tensorCount = tensorVector.count
        result.tensors.reserveCapacity(tensorCount)
        for index in 0..<tensorCount {
            result.tensors.append(try decodeTensor(index, try tensorVector.table(index), buffers: buffers, bufferCount: bufferCount))
        }

        func tensorIndices(_ vector: FBVector?, allowOmitted: Bool, _ what: String) throws -> [Int] {
            guard let vector else { return [] }
            return try vector.int32s().map { raw in
                let value = Int(raw)
                if allowOmitted && value == -1 { return -1 }
                guard value >= 0 && value < tensorCount else {
                    throw ModelError.malformed("\(what) refers to tensor \(value), but the graph has \(tensorCount) tensors")
                }
                return value
            }
        }
        result.inputs = try tensorIndices(try graph.vector(1, elementSize: 4), allowOmitted: false, "subgraph input list")
        result.outputs = try tensorIndices(try graph.vector(2, elementSize: 4), allowOmitted: false, "subgraph output list")
        guard !result.inputs.isEmpty else { throw ModelError.malformed("subgraph 0 has no inputs") }
        guard !result.outputs.isEmpty else { throw ModelError.malformed("subgraph 0 has no outputs") }

        let operatorVector = try graph.vector(3, elementSize: 4)
        for index in 0..<(operatorVector?.count ?? 0) {
            let table = try operatorVector!.table(index)
            let opcodeIndex = Int(try table.scalar(0, UInt32.self, default: 0))
            guard opcodeIndex < opcodes.count else {
                throw ModelError.malformed("operator \(index) uses opcode \(opcodeIndex), but the model has \(opcodes.count) opcodes")
            }
            let (opcode, version, custom) = opcodes[opcodeIndex]
            let label = "operator \(index) (\(opcode.name))"
            let inputs = try tensorIndices(try table.vector(1, elementSize: 4), allowOmitted: true, "\(label) input list")
            let outputs = try tensorIndices(try table.vector(2, elementSize: 4), allowOmitted: false, "\(label) output list")
            let optionsType = try table.scalar(3, UInt8.self, default: 0)
            let options = try table.table(4)
            result.operators.append(Operator(index: index, opcode: opcode, opcodeVersion: version, customName: custom,
                                             inputs: inputs, outputs: outputs, optionsType: optionsType, options: options))
        }
        result.producer = try checkDataflow(result)
        return result
    }

    func decodeTensor(_ index: Int, _ table: FBTable, buffers: FBVector?, bufferCount: Int) throws -> Tensor {
        let name = try table.string(3) ?? ""
        let label = "tensor \(index) '\(name)'"
        let rawType = try table.scalar(1, UInt8.self, default: 0)
        guard let type = TensorType(rawValue: rawType) else {
            throw ModelError.malformed("\(label) has unknown type \(rawType)")
        }
        let dims = try table.vector(0, elementSize: 4)?.int32s() ?? []
        guard dims.count <= Model.maximumRank else {
            throw ModelError.unsupported("\(label) has rank \(dims.count) (at most \(Model.maximumRank))")
        }
        var shape: [Int] = []
        var elements = 1
        for dim in dims {
            guard dim >= 0 else {
                throw ModelError.unsupported("\(label) has a dynamic or negative dimension \(dim) in \(dims)")
            }
            let (product, overflow) = elements.multipliedReportingOverflow(by: Int(dim))
            guard !overflow, product <= Model.maximumTensorBytes else {
                throw ModelError.unsupported("\(label) with shape \(dims) is too large")
            }
            elements = product
            shape.append(Int(dim))
        }
        if try table.bool(5) {
            throw ModelError.unsupported("\(label) is a variable tensor")
        }
        if try table.table(6) != nil {
            throw ModelError.unsupported("\(label) is sparse")
        }
        var byteCount = 0
        if let size = type.byteSize {
            byteCount = elements * size
            guard byteCount <= Model.maximumTensorBytes else {
                throw ModelError.unsupported("\(label) with shape \(dims) is too large")
            }
        }

        // Constant data.
        let bufferIndex = Int(try table.scalar(2, UInt32.self, default: 0))
        guard bufferIndex < max(bufferCount, 1) else {
            throw ModelError.malformed("\(label) uses buffer \(bufferIndex), but the model has \(bufferCount) buffers")
        }
        var dataOffset: Int?
        if bufferIndex > 0, let buffers {
            let bufferTable = try buffers.table(bufferIndex)
            var start: Int?
            var length = 0
            if let data = try bufferTable.vector(0, elementSize: 1), data.count > 0 {
                start = data.start
                length = data.count
            } else {
                // Large-model layout: data stored after the FlatBuffer, at a file offset.
                let offset = try bufferTable.scalar(1, UInt64.self, default: 0)
                let size = try bufferTable.scalar(2, UInt64.self, default: 0)
                if offset > 1 {
                    guard offset <= UInt64(buffer.count), size <= UInt64(buffer.count) - offset else {
                        throw ModelError.malformed("\(label): buffer \(bufferIndex) points at bytes \(offset)+\(size) outside the \(buffer.count)-byte file")
                    }
                    start = Int(offset)
                    length = Int(size)
                }
            }
            if let start {
                guard type.byteSize != nil else {
                    throw ModelError.unsupported("\(label) is a constant of type \(type)")
                }
                guard length == byteCount else {
                    throw ModelError.malformed("\(label) has shape \(dims) of \(type) (\(byteCount) bytes) but its buffer \(bufferIndex) holds \(length) bytes")
                }
                dataOffset = start
            }
        }

        let quantization = try decodeQuantization(try table.table(4), label: label, type: type, shape: shape)
        return Tensor(index: index, name: name, type: type, shape: shape, quantization: quantization,
                      elementCount: elements, byteCount: byteCount, dataOffset: dataOffset)
    }

    func decodeQuantization(_ table: FBTable?, label: String, type: TensorType, shape: [Int]) throws -> Quantization? {
        guard let table else { return nil }
        let scales = try table.vector(2, elementSize: 4)?.floats() ?? []
        let zeroPoints = try table.vector(3, elementSize: 8)?.int64s() ?? []
        let dimension = Int(try table.scalar(6, Int32.self, default: 0))
        if try table.scalar(4, UInt8.self, default: 0) != 0 {
            throw ModelError.unsupported("\(label) uses custom quantization details")
        }
        if scales.isEmpty && zeroPoints.isEmpty { return nil }  // min/max only: not quantized
        guard scales.count == zeroPoints.count else {
            throw ModelError.malformed("\(label) has \(scales.count) quantization scales but \(zeroPoints.count) zero points")
        }
        for scale in scales where !(scale.isFinite && scale > 0) {
            throw ModelError.invalid("\(label) has quantization scale \(scale); scales must be finite and positive")
        }
        if scales.count > 1 {
            guard dimension >= 0 && dimension < shape.count else {
                throw ModelError.malformed("\(label) is quantized along dimension \(dimension) of a rank-\(shape.count) tensor")
            }
            guard scales.count == shape[dimension] else {
                throw ModelError.malformed("\(label) has \(scales.count) per-channel scales for dimension \(dimension) of size \(shape[dimension])")
            }
        }
        let range: ClosedRange<Int64>?
        switch type {
        case .int8: range = -128...127
        case .uint8: range = 0...255
        case .int16: range = -32768...32767
        default: range = nil
        }
        if let range {
            for zeroPoint in zeroPoints where !range.contains(zeroPoint) {
                throw ModelError.invalid("\(label) of type \(type) has zero point \(zeroPoint) outside \(range)")
            }
        }
        return Quantization(scales: scales, zeroPoints: zeroPoints, quantizedDimension: dimension)
    }

    /// Every tensor an operator reads must be a constant, a graph input, or written by an
    /// earlier operator; every tensor is written at most once.
    func checkDataflow(_ graph: Decoded) throws -> [Int?] {
        let tensors = graph.tensors
        var producer = [Int?](repeating: nil, count: tensors.count)
        var isInput = [Bool](repeating: false, count: tensors.count)
        for index in graph.inputs {
            guard !tensors[index].isConstant else {
                throw ModelError.malformed("graph input \(tensors[index].label) is a constant")
            }
            isInput[index] = true
        }
        for op in graph.operators {
            for input in op.inputs where input >= 0 {
                let tensor = tensors[input]
                guard tensor.isConstant || isInput[input] || producer[input] != nil else {
                    throw ModelError.malformed("\(op.label) reads \(tensor.label) before any operator writes it")
                }
            }
            for output in op.outputs {
                let tensor = tensors[output]
                if tensor.isConstant {
                    throw ModelError.malformed("\(op.label) writes constant \(tensor.label)")
                }
                if isInput[output] {
                    throw ModelError.malformed("\(op.label) writes graph input \(tensor.label)")
                }
                if let other = producer[output] {
                    throw ModelError.malformed("\(tensor.label) is written by operators \(other) and \(op.index)")
                }
                producer[output] = op.index
            }
        }
        for index in graph.outputs {
            let tensor = tensors[index]
            guard producer[index] != nil || isInput[index] else {
                throw ModelError.malformed("graph output \(tensor.label) is never written")
            }
        }
        return producer
    }
}
