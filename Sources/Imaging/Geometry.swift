// Boxes and points in image pixel coordinates.

public struct Box: Sendable, Equatable {
    public var x: Float, y: Float, width: Float, height: Float
    public init(x: Float, y: Float, width: Float, height: Float) {
        self.x = x; self.y = y; self.width = width; self.height = height
    }
    public var centerX: Float { x + width / 2 }
    public var centerY: Float { y + height / 2 }
    public var area: Float { max(0, width) * max(0, height) }

    public func intersectionOverUnion(_ other: Box) -> Float {
        let left = max(x, other.x), top = max(y, other.y)
        let right = min(x + width, other.x + other.width), bottom = min(y + height, other.y + other.height)
        let intersection = max(0, right - left) * max(0, bottom - top)
        let union = area + other.area - intersection
        return union > 0 ? intersection / union : 0
    }
}

public struct Point: Sendable, Equatable {
    public var x: Float, y: Float
    public init(x: Float, y: Float) { self.x = x; self.y = y }
}
