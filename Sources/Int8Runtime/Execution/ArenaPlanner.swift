// Plans one arena for every activation and scratch buffer from their lifetimes: buffers whose
// lifetimes do not overlap may share bytes. Greedy by size (as TFLite's arena planner): the
// largest buffers are placed first, each at the lowest offset that does not collide with an
// already placed buffer that is alive at the same time.

struct ArenaRequest {
    /// Bytes needed.
    let size: Int
    /// First and last step (inclusive) during which the buffer must keep its contents.
    let first: Int
    let last: Int
}

enum ArenaPlanner {
    static let alignment = 64

    static func align(_ value: Int) -> Int { (value + alignment - 1) / alignment * alignment }

    /// Returns an offset per request and the arena size.
    static func plan(_ requests: [ArenaRequest]) -> (offsets: [Int], size: Int) {
        let order = requests.indices.sorted { a, b in
            let (ra, rb) = (requests[a], requests[b])
            if ra.size != rb.size { return ra.size > rb.size }
            if ra.first != rb.first { return ra.first < rb.first }
            return a < b
        }
        var offsets = [Int](repeating: 0, count: requests.count)
        var placed: [(offset: Int, end: Int, first: Int, last: Int)] = []
        var total = 0
        for index in order {
            let request = requests[index]
            let size = align(max(request.size, 1))
            // Intervals of live buffers, by offset; find the first gap that fits.
            let live = placed.filter { $0.first <= request.last && request.first <= $0.last }
                .sorted { $0.offset < $1.offset }
            var candidate = 0
            for other in live {
                if candidate + size <= other.offset { break }
                candidate = max(candidate, other.end)
            }
            offsets[index] = candidate
            placed.append((candidate, candidate + size, request.first, request.last))
            total = max(total, candidate + size)
        }
        return (offsets, total)
    }
}
