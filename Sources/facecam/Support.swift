import ArgumentParser
import Foundation
import Imaging
import Streaming
import Int8Runtime

/// Loads a model, turning its error into a clean command-line failure.
func loadModel(_ path: String) throws -> Model {
    do { return try Model(path: path) } catch let error as ModelError {
        throw CommandError("\(path): \(error)")
    }
}

func makeInterpreter(_ model: Model, path: String, options: Interpreter.Options = .init()) throws -> Interpreter {
    do { return try Interpreter(model: model, options: options) } catch let error as ModelError {
        throw CommandError("\(path): \(error)")
    } catch let error as KernelSetUnavailable {
        throw CommandError("--kernels \(error.set): \(error)")
    }
}

extension KernelSet: ExpressibleByArgument {}

/// `--kernels`, shared by the commands that run models.
struct KernelOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Kernel set: \(KernelSet.allCases.map(\.rawValue).joined(separator: ", ")) (best: the fastest this CPU runs).",
                               valueName: "set"))
    var kernels: KernelSet = .best

    /// Fails early, with the reason, when the set cannot run here.
    func validate() throws {
        do { try kernels.requireAvailable() } catch { throw ValidationError("--kernels \(kernels): \(error)") }
    }
}

/// An error reported as one line on stderr with exit status 1 (no stack trace, no usage text).
struct CommandError: Error, CustomStringConvertible {
    let description: String
    init(_ message: String) { description = message }
}

extension CommandError: LocalizedError {
    var errorDescription: String? { description }
}

func readFile(_ path: String) throws -> [UInt8] {
    guard let data = FileManager.default.contents(atPath: path) else {
        throw CommandError("cannot read '\(path)'")
    }
    return [UInt8](data)
}

func writeFile(_ path: String, _ bytes: UnsafeRawBufferPointer) throws {
    let data = Data(bytes)
    guard FileManager.default.createFile(atPath: path, contents: data) else {
        throw CommandError("cannot write '\(path)'")
    }
}
