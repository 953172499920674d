import XCTest
@testable import Int8Runtime

final class RuntimeTests: XCTestCase {
    func testArenaPlanNeverOverlapsLiveBuffers() {
        var rng = SplitMix64(seed: 42)
        for _ in 0..<200 {
            let requests = (0..<Int.random(in: 1...40, using: &rng)).map { _ -> ArenaRequest in
                let first = Int.random(in: 0..<30, using: &rng)
                return ArenaRequest(size: Int.random(in: 1...5000, using: &rng), first: first,
                                    last: first + Int.random(in: 0..<10, using: &rng))
            }
            let (offsets, size) = ArenaPlanner.plan(requests)
            var naive = 0
            for (i, a) in requests.enumerated() {
                XCTAssertEqual(offsets[i] % ArenaPlanner.alignment, 0)
                XCTAssertLessThanOrEqual(offsets[i] + a.size, size)
                naive += ArenaPlanner.align(a.size)
                for (j, b) in requests.enumerated() where j > i {
                    let liveTogether = a.first <= b.last && b.first <= a.last
                    let overlap = offsets[i] < offsets[j] + b.size && offsets[j] < offsets[i] + a.size
                    XCTAssertFalse(liveTogether && overlap, "buffers \(i) and \(j) overlap while both live")
                }
            }
            XCTAssertLessThanOrEqual(size, naive)
        }
    }

    func testPaddingMatchesTFLiteFormulas() {
        // SAME keeps ceil(in / stride); VALID drops what does not fit.
        XCTAssertEqual(Geometry.outputSize(.same, input: 128, filter: 5, stride: 2, dilation: 1), 64)
        XCTAssertEqual(Geometry.outputSize(.valid, input: 48, filter: 3, stride: 1, dilation: 1), 46)
        XCTAssertEqual(Geometry.outputSize(.valid, input: 10, filter: 3, stride: 1, dilation: 2), 6)
        XCTAssertEqual(Geometry.paddingBefore(input: 128, filter: 5, stride: 2, dilation: 1, output: 64), 1)
        XCTAssertEqual(Geometry.paddingBefore(input: 64, filter: 3, stride: 1, dilation: 1, output: 64), 1)
        XCTAssertEqual(Geometry.paddingBefore(input: 64, filter: 2, stride: 2, dilation: 1, output: 32), 0)
    }

    func testBroadcastShapesAndStrides() {
        XCTAssertEqual(Broadcast.shape([1, 4, 4, 8], [8]), [1, 4, 4, 8])
        XCTAssertEqual(Broadcast.shape([2, 1, 3], [1, 5, 1]), [2, 5, 3])
        XCTAssertNil(Broadcast.shape([2, 3], [4, 3]))
        let strides = Broadcast.strides([8])
        XCTAssertEqual(Array(strides.suffix(4)), [0, 0, 0, 1])
        XCTAssertEqual(Array(Broadcast.strides([2, 1, 3]).suffix(3)), [3, 0, 1])
    }

    func testModelsRunAndReportMemory() throws {
        for url in Paths.shippedModels {
            let model = try Model(path: url.path)
            let interpreter = try Interpreter(model: model)
            XCTAssertGreaterThan(interpreter.arenaBytes, 0)
            // The arena must be smaller than giving every activation its own memory.
            let naive = model.tensors.filter { !$0.isConstant }.reduce(0) { $0 + $1.byteCount }
            XCTAssertLessThan(interpreter.arenaBytes, naive, url.lastPathComponent)
            XCTAssertTrue(try ModelAnalysis.operators(of: model).allSatisfy { $0.problem == nil })
        }
    }

    /// Running part of the graph gives the same intermediate values as a full run, and a
    /// preserved tensor survives a full run.
    func testPartialRunMatchesFullRun() throws {
        for url in Paths.shippedModels {
            let model = try Model(path: url.path)
            // A tensor in the middle of the graph.
            let op = model.operators[model.operators.count / 2]
            let target = op.outputs[0]
            var options = Interpreter.Options()
            options.preservedTensors = [target]
            let full = try Interpreter(model: model, options: options)
            let partial = try Interpreter(model: model)
            var rng = SplitMix64(seed: 7)
            let input = (0..<full.inputTensor(0).byteCount).map { _ in UInt8.random(in: 0...255, using: &rng) }
            try full.setInput(0, input)
            try partial.setInput(0, input)
            full.invoke()
            let run = try partial.partialRun(to: [target])
            XCTAssertLessThanOrEqual(run.operatorCount, model.operators.count / 2 + 1)
            partial.invoke(run)
            XCTAssertEqual(Array(full.tensorBytes(target)!), Array(partial.tensorBytes(target)!), url.lastPathComponent)
        }
    }

    /// Every shipped model and every golden single-op model gives the same bytes with 1, 2, 3
    /// and 4 threads, with the default split thresholds and with every convolution and fully
    /// connected layer split however small (so the split paths run on small ops too).
    func testThreadsGiveIdenticalResults() throws {
        let opModels = try GoldenCase.all(in: "ops")
            .filter { $0.name.contains("conv") || $0.name.contains("fully_connected") }
            .map { URL(fileURLWithPath: $0.modelPath) }
        XCTAssertFalse(opModels.isEmpty)
        var splitKinds = Set<String>()
        for url in Paths.shippedModels + opModels {
            let model = try Model(path: url.path)
            let single = try Interpreter(model: model)
            XCTAssertFalse(single.splitOperators.contains(true))
            var rng = SplitMix64(seed: 11)
            let inputs = (0..<2).map { _ in
                (0..<single.inputCount).map { i in
                    (0..<single.inputTensor(i).byteCount).map { _ in UInt8.random(in: 0...255, using: &rng) }
                }
            }
            var expected: [[[UInt8]]] = []
            for input in inputs {
                for (i, bytes) in input.enumerated() { try single.setInput(i, bytes) }
                single.invoke()
                expected.append((0..<single.outputCount).map { Array(single.outputBuffer($0)) })
            }
            for threads in 2...4 {
                for everything in [false, true] {
                    var options = Interpreter.Options()
                    options.threads = threads
                    options.splitEverything = everything
                    let multi = try Interpreter(model: model, options: options)
                    for (op, split) in zip(model.operators, multi.splitOperators) where split {
                        splitKinds.insert(op.opcode.name)
                    }
                    for (input, outputs) in zip(inputs, expected) {
                        for (i, bytes) in input.enumerated() { try multi.setInput(i, bytes) }
                        multi.invoke()
                        for o in 0..<multi.outputCount {
                            XCTAssertEqual(Array(multi.outputBuffer(o)), outputs[o],
                                           "\(url.path), \(threads) threads, split everything: \(everything)")
                        }
                    }
                }
            }
        }
        XCTAssertEqual(splitKinds, ["CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"])
    }

    func testFullyConnectedChannelSlices() {
        XCTAssertEqual(channelSlices(7, threads: 4), [0..<7])
        XCTAssertEqual(channelSlices(32, threads: 4), [0..<16, 16..<32])
        // ParallelWork.slicesPerThread (2) slices a thread, each whole 16-channel tiles.
        XCTAssertEqual(channelSlices(100, threads: 3), [0..<16, 16..<32, 32..<48, 48..<64, 64..<80, 80..<100])
        XCTAssertEqual(channelSlices(640, threads: 4), [0..<80, 80..<160, 160..<240, 240..<320,
                                                       320..<400, 400..<480, 480..<560, 560..<640])
        for channels in 1...300 {
            for threads in 1...5 {
                let slices = channelSlices(channels, threads: threads)
                XCTAssertEqual(slices.first?.lowerBound, 0)
                XCTAssertEqual(slices.last?.upperBound, channels)
                XCTAssertLessThanOrEqual(slices.count, threads * ParallelWork.slicesPerThread)
                for (a, b) in zip(slices, slices.dropFirst()) {
                    XCTAssertEqual(a.upperBound, b.lowerBound)
                    XCTAssertEqual(a.count % ParallelWork.channelGranule, 0)
                }
            }
        }
    }

    func testWrongInputSizeIsRejected() throws {
        guard let url = Paths.shippedModels.first else { return XCTFail("no models") }
        let interpreter = try Interpreter(model: try Model(path: url.path))
        XCTAssertThrowsError(try interpreter.setInput(0, [1, 2, 3]))
        XCTAssertThrowsError(try interpreter.setInput(5, [1]))
    }

    func testMissingFileError() {
        XCTAssertThrowsError(try Model(path: "/nonexistent/model.tflite")) { error in
            XCTAssertTrue("\(error)".contains("/nonexistent/model.tflite"))
        }
        XCTAssertThrowsError(try Model(path: "/tmp")) { error in
            XCTAssertTrue("\(error)".contains("not a regular file"))
        }
    }
}

import CAllocationCounter

final class AllocationTests: XCTestCase {
    /// An inference performs no heap allocation (single-threaded and with the thread pool),
    /// nor does a partial run or a profiled run.
    func testInvokeDoesNotAllocate() throws {
        guard allocation_counter_available() == 1 else {
            throw XCTSkip("allocation counting needs glibc's malloc (not available under sanitizers)")
        }
        // The counter itself must see allocations.
        allocation_counter_start()
        let probe = [Int](repeating: 1, count: 1000)
        XCTAssertGreaterThan(allocation_counter_stop(), 0)
        XCTAssertEqual(probe.count, 1000)

        for url in Paths.shippedModels {
            for (threads, everything) in [(1, false), (2, false), (3, true)] {
                var options = Interpreter.Options()
                options.threads = threads
                options.splitEverything = everything  // every split path, FC channel slices included
                let interpreter = try Interpreter(model: try Model(path: url.path), options: options)
                let partial = try interpreter.partialRun(to: [interpreter.model.operators[2].outputs[0]])
                var times = [UInt64](repeating: 0, count: interpreter.model.operators.count)
                interpreter.invoke()  // warm-up
                allocation_counter_start()
                for _ in 0..<5 { interpreter.invoke() }
                interpreter.invoke(partial)
                XCTAssertEqual(allocation_counter_stop(), 0, "\(url.lastPathComponent), \(threads) thread(s)")
                times.withUnsafeMutableBufferPointer { buffer in
                    interpreter.invoke(profilingInto: buffer)  // warm-up
                    allocation_counter_start()
                    interpreter.invoke(profilingInto: buffer)
                    XCTAssertEqual(allocation_counter_stop(), 0, "profiled, \(url.lastPathComponent), \(threads) thread(s)")
                }
                XCTAssertTrue(times.allSatisfy { $0 > 0 }, "every operator timed")
            }
        }
    }
}
