/// Why a model cannot be loaded or run. The message always names the part of the model at
/// fault (operator index and type, tensor index and name) and the reason.
public struct ModelError: Error, CustomStringConvertible, Sendable {
    public enum Kind: String, Sendable {
        /// The file cannot be read.
        case io
        /// The file is not a well-formed TFLite FlatBuffer (bad offsets, lengths, references).
        case malformed
        /// The model is well formed but inconsistent (shapes, types, quantization disagree).
        case invalid
        /// The model is valid TFLite but uses something facecam does not run.
        case unsupported
    }

    public let kind: Kind
    public let message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    static func io(_ message: String) -> ModelError { ModelError(.io, message) }
    static func malformed(_ message: String) -> ModelError { ModelError(.malformed, message) }
    static func invalid(_ message: String) -> ModelError { ModelError(.invalid, message) }
    static func unsupported(_ message: String) -> ModelError { ModelError(.unsupported, message) }

    public var description: String {
        switch kind {
        case .io: return message
        case .malformed: return "malformed model: \(message)"
        case .invalid: return "invalid model: \(message)"
        case .unsupported: return "unsupported model: \(message)"
        }
    }
}
