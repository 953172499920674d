// Faces followed across frames by box overlap: a face takes the id of the unmatched track of
// the previous frames whose box overlaps it most (IoU above a threshold), or starts a new
// track. The track id goes into the output; adaptation uses the track's slot to average the
// predictions of one face over time (temporal ensembling). Fixed capacity: no allocation.

import Imaging

public struct FaceTracker: Sendable {
    public struct Track: Sendable {
        public var id: Int
        public var box: Box
        public var lastFrame: Int
        /// Small index, reused after the track ends (for per-track buffers).
        public var slot: Int
        var matchedThisFrame: Bool
    }

    public static let capacity = 32
    public var iouThreshold: Float = 0.3
    /// Frames a track survives without a matching face (a missed detection or a blink).
    public var maximumGap = 5
    public private(set) var tracks: [Track] = []
    private var nextID = 0
    private var frame = -1
    private var slotInUse = [Bool](repeating: false, count: FaceTracker.capacity)

    public init() { tracks.reserveCapacity(Self.capacity) }

    /// Starts a frame: ends tracks not seen for too long.
    public mutating func beginFrame() {
        frame += 1
        var i = 0
        while i < tracks.count {
            if frame - tracks[i].lastFrame > maximumGap {
                slotInUse[tracks[i].slot] = false
                tracks.remove(at: i)
            } else {
                tracks[i].matchedThisFrame = false
                i += 1
            }
        }
    }

    /// The track of a face of this frame: (id, slot, whether the track is new).
    public mutating func assign(_ box: Box) -> (id: Int, slot: Int, isNew: Bool) {
        var best = -1
        var bestIoU = iouThreshold
        for i in tracks.indices where !tracks[i].matchedThisFrame {
            let iou = tracks[i].box.intersectionOverUnion(box)
            if iou > bestIoU { bestIoU = iou; best = i }
        }
        if best >= 0 {
            tracks[best].box = box
            tracks[best].lastFrame = frame
            tracks[best].matchedThisFrame = true
            return (tracks[best].id, tracks[best].slot, false)
        }
        if tracks.count == Self.capacity {  // full: the stalest track gives way
            var stalest = 0
            for i in tracks.indices where tracks[i].lastFrame < tracks[stalest].lastFrame { stalest = i }
            slotInUse[tracks[stalest].slot] = false
            tracks.remove(at: stalest)
        }
        let slot = slotInUse.firstIndex(of: false) ?? 0
        slotInUse[slot] = true
        let track = Track(id: nextID, box: box, lastFrame: frame, slot: slot, matchedThisFrame: true)
        nextID += 1
        tracks.append(track)
        return (track.id, slot, true)
    }
}
