import ArgumentParser
import Int8Runtime

struct Demo: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "placeholder")
    func run() throws {}
}
