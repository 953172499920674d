import Adaptation
import ArgumentParser
import Foundation
import Int8Runtime
import LiveView
import Streaming

/// `facecam run --serve`: the live view's flags, and the server they make.
struct ServeOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Serve the live view over HTTP at [HOST:]PORT (loopback unless a host is given): "
                               + "/ (the page), /stream.mjpeg, /events, /metrics, /healthz.", valueName: "[host:]port"))
    var serve: String?

    @Option(name: .customLong("serve-token"), help: ArgumentHelp(
        "File holding the token every live-view request must carry (Authorization: Bearer TOKEN, or ?token=TOKEN).",
        valueName: "file"))
    var serveToken: String?

    @Flag(name: .customLong("serve-public"), help: "Answer live-view requests from other machines without a token.")
    var servePublic = false

    func validate() throws {
        if serve == nil && (serveToken != nil || servePublic) { throw ValidationError("--serve-token and --serve-public need --serve") }
        if let serve {
            do { _ = try ServeAddress(parsing: serve) } catch { throw ValidationError("--serve \(serve): \(error.message)") }
        }
    }

    /// Binds the server (a taken port is an error now, before the loop starts) and starts it;
    /// nil without --serve. Add the server's `sink` to the loop's sinks.
    func startServer(telemetry: Telemetry, kernels: KernelSet, sourceName: String, models: [(String, String)],
                     note: @escaping @Sendable (String) -> Void = writeToStandardError) throws -> PreviewServer? {
        guard let serve else { return nil }
        var settings: ServeSettings
        do { settings = ServeSettings(address: try ServeAddress(parsing: serve)) } catch {
            throw CommandError("--serve \(serve): \(error.message)")
        }
        if let serveToken {
            guard let data = FileManager.default.contents(atPath: serveToken),
                  let text = String(data: data, encoding: .utf8)?.trimmingCharacters(in: .whitespacesAndNewlines),
                  !text.isEmpty, !text.contains(where: { $0.isWhitespace }) else {
                throw CommandError("--serve-token \(serveToken): cannot read a token from this file (it must hold one word)")
            }
            settings.token = text
        }
        settings.allowPublic = servePublic
        var hashes: [(String, String)] = []
        for (name, path) in models {
            guard let digest = try? SHA256.hashFile(path: path) else { continue }
            hashes.append((name, digest.map { String(format: "%02x", $0) }.joined()))
        }
        let info = BuildInfo(kernelSet: kernels.resolved.rawValue, modelHashes: hashes, source: sourceName)
        let server: PreviewServer
        do { server = try PreviewServer(settings: settings, telemetry: telemetry, info: info) } catch {
            throw CommandError(error.description)
        }
        server.start(note: note)
        var access = settings.token != nil ? " (token required)" : ""
        if settings.token == nil && !servePublic && !settings.address.isLoopback {
            access = " (answering loopback clients only: give --serve-token FILE or --serve-public)"
        }
        note("facecam: live view at \(server.url)\(access)")
        return server
    }
}

@Sendable func writeToStandardError(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}
