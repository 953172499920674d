import ArgumentParser

@main
struct FaceCam: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "facecam",
        abstract: "On-device int8 face inference: run, inspect and benchmark int8 TFLite models.",
        version: "0.1.0",
        subcommands: [Run.self, Devices.self, Demo.self, Inspect.self, Bench.self, Invoke.self, AdaptState.self,
                      AdaptCalibrate.self, AdaptEval.self])

    static func main() {
        main(AdaptationFlags.expandBareAdapt(Array(CommandLine.arguments.dropFirst())))
    }
}
