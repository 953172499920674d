import AdaptationEval
import ArgumentParser

extension AdaptingHead: ExpressibleByArgument {}

/// `facecam adapt-calibrate`: the source statistics of a head, through AdaptationEval's Calibration.
struct AdaptCalibrate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "adapt-calibrate",
        abstract: "Measure the source statistics of a head (features and image signals) on clean data.",
        discussion: """
            Runs the frozen int8 model on calibration inputs and writes the per-channel mean and \
            variance of the head's input features and the distribution of the crops' image signals \
            (brightness, contrast, noise, sharpness), tied to the model's SHA-256. Inputs: crop \
            streams (--crops) and images, folders or clips (--source) whose faces the pipeline \
            finds. Run it on your own camera in good conditions to adapt toward that camera.
            """)

    @Option(help: "The head to measure.")
    var head: AdaptingHead

    @Option(parsing: .singleValue, help: "Crop stream file (FCCROPS format); repeatable.")
    var crops: [String] = []

    @Option(parsing: .singleValue, help: "Image, folder or clip whose detected faces calibrate; repeatable.")
    var source: [String] = []

    @OptionGroup(title: "Models")
    var modelOptions: ModelOptions

    @Option(help: "Output file (default: next to the model, e.g. models/onet.source-stats).")
    var out: String?

    func validate() throws {
        guard !crops.isEmpty || !source.isEmpty else { throw ValidationError("give --crops or --source") }
    }

    func run() throws {
        let (path, statistics) = try Calibration.calibrate(head: head, crops: crops, sources: source,
                                                            models: modelOptions.evaluationModels, out: out)
        print(Calibration.summary(head: head, path: path, statistics: statistics))
    }
}
