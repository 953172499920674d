import XCTest
@testable import Streaming

final class HandoffTests: XCTestCase {
    func testLatestSlotKeepsOnlyTheNewestAndHandsBackTheDisplaced() {
        let slot = LatestSlot<Int>()
        XCTAssertNil(slot.take())
        XCTAssertNil(slot.offer(1))
        XCTAssertEqual(slot.offer(2), 1)     // 1 was never taken: displaced, back to the producer
        XCTAssertEqual(slot.peek()?.value, 2)
        XCTAssertEqual(slot.take(), 2)
        XCTAssertNil(slot.take())
        XCTAssertEqual(slot.offers, 2)
    }

    func testLatestSlotRefusesInsteadOfWaitingWhileAConsumerHoldsTheLock() {
        let slot = LatestSlot<Int>()
        slot.offer(1)
        let holding = DispatchSemaphore(value: 0), release = DispatchSemaphore(value: 0)
        let consumer = Thread { slot.monitor.withLock { holding.signal(); release.wait() } }
        consumer.start()
        holding.wait()
        XCTAssertEqual(slot.offer(7), 7, "a busy slot hands the value straight back")
        release.signal()
        XCTAssertEqual(slot.peek()?.value, 1)
        XCTAssertEqual(slot.offer(8), 1, "a free slot accepts")
        XCTAssertEqual(slot.take(), 8)
    }

    func testLatestSlotWakesAWaitingConsumer() {
        let slot = LatestSlot<Int>()
        let got = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var received: (Int, UInt64)?
        let consumer = Thread {
            received = slot.next(after: 0, timeoutMs: 10_000).map { ($0.value, $0.version) }
            got.signal()
        }
        consumer.start()
        usleep(50_000)
        slot.offer(42)
        XCTAssertEqual(got.wait(timeout: .now() + 10), .success)
        XCTAssertEqual(received?.0, 42)
        XCTAssertNil(slot.next(after: received!.1, timeoutMs: 20), "nothing newer: times out")
    }

    func testDropOldestQueueDropsTheOldestWhenFull() {
        let queue = DropOldestQueue<Int>(capacity: 3)
        for i in 1...3 { XCTAssertNil(queue.push(i)) }
        XCTAssertEqual(queue.push(4), 1)
        XCTAssertEqual(queue.push(5), 2)
        XCTAssertEqual(queue.dropped, 2)
        XCTAssertEqual(queue.elementCount, 3)
        XCTAssertEqual([queue.pop(), queue.pop(), queue.pop(), queue.pop()], [3, 4, 5, nil])
        XCTAssertTrue(queue.isEmpty)
        XCTAssertNil(queue.pop(timeoutMs: 10))
    }

    func testDropOldestQueueAcrossThreadsLosesNothingWhileThereIsRoom() {
        let queue = DropOldestQueue<Int>(capacity: 1000)
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var received: [Int] = []
        let consumer = Thread {
            while received.count < 500, let v = queue.pop(timeoutMs: 5000) { received.append(v) }
            done.signal()
        }
        consumer.start()
        for i in 0..<500 { queue.push(i) }
        XCTAssertEqual(done.wait(timeout: .now() + 20), .success)
        XCTAssertEqual(received, Array(0..<500))
        XCTAssertEqual(queue.dropped, 0)
    }

    func testTelemetryPublishSkipsWhileAReaderHoldsTheLock() {
        let telemetry = Telemetry()
        var s = TelemetrySnapshot()
        s.frames = 1
        XCTAssertTrue(telemetry.publish(s))
        XCTAssertEqual(telemetry.snapshot().frames, 1)
        let holding = DispatchSemaphore(value: 0), release = DispatchSemaphore(value: 0)
        let finished = DispatchSemaphore(value: 0)
        let reader = Thread { telemetry.monitor.withLock { holding.signal(); release.wait() }; finished.signal() }
        reader.start()
        holding.wait()
        s.frames = 2
        XCTAssertFalse(telemetry.publish(s), "the loop does not wait for a reader")
        release.signal()
        finished.wait()
        s.frames = 3
        XCTAssertTrue(telemetry.publish(s))
        XCTAssertEqual(telemetry.snapshot().frames, 3)
        XCTAssertEqual(telemetry.skippedPublications, 1)
    }
}
