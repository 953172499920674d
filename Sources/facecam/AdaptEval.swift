import AdaptationEval
import ArgumentParser
import Foundation
import Streaming

/// `facecam adapt-eval`: the shift benchmark (tools/adapt-bench) through AdaptationEval.
struct AdaptEval: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "adapt-eval",
        abstract: "Measure test-time adaptation on the shift benchmark's streams (see tools/adapt-bench).")

    @Option(help: "manifest.json written by tools/adapt-bench.")
    var manifest: String

    @Option(help: "Comma-separated method variants (\(EvaluationVariant.all.map(\.name).joined(separator: ", ")), or all).")
    var methods = "default"

    @Option(help: "Passes over each stream (adaptation continues across passes).")
    var passes = 3

    @Option(help: "Only streams whose name contains this text.")
    var filter: String?

    @OptionGroup(title: "Models")
    var modelOptions: ModelOptions


    @Option(name: .customLong("rows"), help: "Also write every row as JSON Lines to this file.")
    var rowsPath: String?

    func validate() throws {
        guard (1...20).contains(passes) else { throw ValidationError("--passes must be in 1...20") }
    }

    func run() throws {
        let benchmark = try BenchmarkManifest(path: manifest)
        let streams = benchmark.streams.filter { filter == nil || $0.name.contains(filter!) }
        let variants = try EvaluationVariant.named(methods)
        let rowsFile = rowsPath.map { FileManager.default.createFile(atPath: $0, contents: nil); return FileHandle(forWritingAtPath: $0) } ?? nil
        print(EvaluationReport.header)
        let evaluator = try Evaluator(manifest: benchmark, name: manifest, models: modelOptions.evaluationModels, passes: passes)
        var rows: [EvaluationRow] = []
        for stream in streams {
            let produced = try evaluator.rows(stream, variants)
            for row in produced {
                print(EvaluationReport.line(row))
                rowsFile?.write(Data((EvaluationReport.json(row).text + "\n").utf8))
            }
            rows.append(contentsOf: produced)
        }
        print(EvaluationReport.summary(rows).text)
    }
}
