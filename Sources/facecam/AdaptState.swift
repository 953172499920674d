import Adaptation
import ArgumentParser
import Foundation
import Imaging
import Streaming

/// `facecam adapt-state FILE`: what a persisted adaptation state holds, or why it is unusable.
struct AdaptState: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "adapt-state",
        abstract: "Check and print a saved adaptation state file (--adapt-state): heads, models, counters, arrays.")

    @Argument(help: "Path to an adaptation state file.")
    var file: String

    @Option(help: "Folder with the shipped models, to name the model each head was built from.")
    var models = "models"

    @Flag(help: "Print one JSON object instead of text.")
    var json = false

    func run() throws {
        var bytes: [UInt8]?
        let state: AdaptationState
        do {
            let read = try AdaptationState.readBytes(path: file)
            bytes = read
            state = try AdaptationState(decoding: read)
        } catch {
            let reason = (error as? StateFileError).map { describe($0) } ?? "\(file): \(error)"
            if json {
                let version = bytes.flatMap(versionField).map { JSON.integer(Int($0)) } ?? .null
                print(JSON.object([
                    ("valid", .bool(false)), ("error", .string(reason)), ("version", version),
                    ("bytes", bytes.map { .integer($0.count) } ?? .null), ("heads", .array([])),
                ]).text)
            } else {
                print("state      \(file)")
                print("valid      no: \(reason)")
            }
            FileHandle.standardError.write(Data("facecam: \(reason)\n".utf8))
            throw ExitCode(1)
        }
        let size = bytes?.count ?? 0
        let shipped = shippedModels()
        func match(_ head: HeadState) -> String? {
            shipped.first { head.belongs(toModel: $0.hash) }?.name
        }
        if json {
            let heads: [JSON] = state.heads.map { head in
                .object([
                    ("name", .string(head.name)),
                    ("model_sha256", .string(SHA256.hex(head.modelSHA256))),
                    ("model", match(head).map { .string($0) } ?? .null),
                    ("counters", .object(head.counters.map { ($0.name, .integer(Int($0.value))) })),
                    ("arrays", .object(head.arrays.map { ($0.name, .integer($0.values.count)) })),
                ])
            }
            print(JSON.object([
                ("valid", .bool(true)), ("version", .integer(Int(AdaptationState.formatVersion))),
                ("bytes", .integer(size)), ("heads", .array(heads)),
            ]).text)
            return
        }
        print("state      \(file)")
        print("valid      yes, format version \(AdaptationState.formatVersion), \(size) bytes (\(formatBytes(size))), \(state.heads.count) head(s)")
        for head in state.heads {
            print("\nhead       \(head.name)")
            print("model      \(SHA256.hex(head.modelSHA256)) (\(match(head) ?? "no shipped model"))")
            // updates and resets first: they are what users look for.
            let order = head.counters.sorted { rank($0.name) < rank($1.name) }
            print("counters   " + (order.isEmpty ? "none" : order.map { "\($0.name)=\($0.value)" }.joined(separator: ", ")))
            print("arrays     " + (head.arrays.isEmpty ? "none" : head.arrays.map { "\($0.name) [\($0.values.count)]" }.joined(separator: ", ")))
        }
    }

    /// The version field of a damaged file, when its magic is right (null in JSON otherwise).
    private func versionField(_ bytes: [UInt8]) -> UInt32? {
        guard bytes.count >= 12, Array(bytes[0..<8]) == AdaptationState.magic else { return nil }
        return bytes[8..<12].reversed().reduce(0) { $0 << 8 | UInt32($1) }
    }

    private func rank(_ name: String) -> Int {
        name == "updates" ? 0 : name == "resets" ? 1 : 2
    }

    /// Decoding errors do not know the path; name it so the line stands alone.
    private func describe(_ error: StateFileError) -> String {
        if case .io = error { return error.description }
        return "\(file): \(error)"
    }

    /// Hashes of the shipped models that exist in --models (missing ones are skipped).
    private func shippedModels() -> [(name: String, hash: [UInt8])] {
        ["onet.tflite", "expression.tflite", "blazeface.tflite"].compactMap { name in
            let path = models + "/" + name
            guard FileManager.default.fileExists(atPath: path), let hash = try? SHA256.hashFile(path: path) else { return nil }
            return (name, hash)
        }
    }
}
