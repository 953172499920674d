import XCTest
#if canImport(Glibc)
import Glibc
#endif
@testable import Int8Runtime

/// Tiling arithmetic and the pool's claim protocol: every item is computed exactly once, by a
/// valid worker, whatever the item count, tile size and thread count.
final class ThreadPoolTests: XCTestCase {
    private func assertCoversOnce(_ tiles: ParallelTiles, file: StaticString = #filePath, line: UInt = #line) {
        var seen = [Int](repeating: 0, count: tiles.items)
        for t in 0..<tiles.count {
            let range = tiles.range(t)
            XCTAssertFalse(range.isEmpty, "empty tile \(t) of \(tiles)", file: file, line: line)
            for i in range { seen[i] += 1 }
        }
        XCTAssertEqual(seen, [Int](repeating: 1, count: tiles.items), "\(tiles)", file: file, line: line)
    }

    func testTilesCoverEveryItemOnce() {
        for items in 0...70 {
            for threads in 1...9 {
                let size = ParallelWork.tileSize(items: items, threads: threads)
                XCTAssertGreaterThanOrEqual(size, 1)
                let tiles = ParallelTiles(items: items, tileSize: size)
                assertCoversOnce(tiles)
                // Enough tiles for every thread whenever there are enough items.
                XCTAssertGreaterThanOrEqual(tiles.count, min(items, threads))
            }
            for size in [1, 2, 3, 7, 16, 100] { assertCoversOnce(ParallelTiles(items: items, tileSize: size)) }
        }
        // One row, and more threads than tiles.
        XCTAssertEqual(ParallelTiles(items: 1, tileSize: ParallelWork.tileSize(items: 1, threads: 4)).count, 1)
        XCTAssertEqual(ParallelTiles(items: 3, tileSize: ParallelWork.tileSize(items: 3, threads: 8)).count, 3)
    }

    func testTileCountFitsTheCallWord() {
        let tiles = ParallelTiles(items: 1_000_003, tileSize: 1)
        XCTAssertLessThanOrEqual(tiles.count, ParallelTiles.maximumCount)
        assertCoversOnce(tiles)
    }

    func testChannelSlicesAreWholeGranules() {
        let granule = ParallelWork.channelGranule
        for channels in [1, 15, 16, 17, 31, 48, 100, 1000] {
            for threads in 2...5 {
                let ranges = channelSlices(channels, threads: threads)
                XCTAssertEqual(ranges.first?.lowerBound, 0)
                XCTAssertEqual(ranges.last?.upperBound, channels)
                for (a, b) in zip(ranges, ranges.dropFirst()) { XCTAssertEqual(a.upperBound, b.lowerBound) }
                for range in ranges.dropLast() { XCTAssertEqual(range.count % granule, 0, "\(channels) on \(threads)") }
                XCTAssertLessThanOrEqual(ranges.count, threads * ParallelWork.slicesPerThread)
            }
        }
    }

    /// What the test task writes: per item, how often it ran and which worker ran it.
    private struct Record {
        let hits: UnsafeMutablePointer<Int>
        let workers: UnsafeMutablePointer<Int>
        let spin: Int
    }

    func testPoolRunsEveryItemOnceByAValidWorker() {
        let capacity = 200
        let hits = UnsafeMutablePointer<Int>.allocate(capacity: capacity)
        let workers = UnsafeMutablePointer<Int>.allocate(capacity: capacity)
        defer { hits.deallocate(); workers.deallocate() }
        let task: ThreadPool.Task = { raw, begin, end, worker in
            let record = raw!.assumingMemoryBound(to: Record.self).pointee
            var sink = 0
            for k in 0..<record.spin { sink &+= k }  // uneven tile durations (debug build: not removed)
            _ = sink
            for i in begin..<end {
                record.hits[i] += 1
                record.workers[i] = worker
            }
        }
        var rng = SplitMix64(seed: 8)
        for threads in 1...4 {
            let pool = ThreadPool(threads: threads)
            XCTAssertEqual(pool.workerCount, threads - 1)
            for call in 0..<600 {
                let items = [1, 2, 3, 5, 7, 8, 13, 64, 199, capacity][call % 10]
                let size = call % 3 == 0 ? 1 : ParallelWork.tileSize(items: items, threads: threads)
                hits.initialize(repeating: 0, count: capacity)
                workers.initialize(repeating: -1, count: capacity)
                var record = Record(hits: hits, workers: workers, spin: Int.random(in: 0..<2000, using: &rng))
                withUnsafePointer(to: &record) { pool.parallelFor(items, tileSize: size, context: UnsafeRawPointer($0), task) }
                for i in 0..<capacity {
                    XCTAssertEqual(hits[i], i < items ? 1 : 0, "threads \(threads) call \(call) item \(i)")
                    if i < items { XCTAssert((0..<threads).contains(workers[i])) }
                }
                // Now and then let the workers fall asleep, so calls also find them sleeping.
                if call % 50 == 49 { usleep(UInt32(ThreadPool.spinNanoseconds / 1000) * 3) }
            }
        }
    }
}
