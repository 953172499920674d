import ArgumentParser
import Foundation
import Reports

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
        let report = StateReport(path: file, models: models)
        if json { print(report.json.text) } else { report.lines.forEach { print($0) } }
        if let error = report.error {
            FileHandle.standardError.write(Data("facecam: \(error)\n".utf8))
            throw ExitCode(1)
        }
    }
}
