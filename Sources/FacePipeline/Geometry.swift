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

/// A fixed number of values stored inline (no heap allocation), usable as a collection.
/// Keypoints and class probabilities of a face use it so a frame's results allocate nothing.
public struct InlineArray6<Element>: RandomAccessCollection, MutableCollection {
    private var storage: (Element, Element, Element, Element, Element, Element)
    public init(repeating value: Element) { storage = (value, value, value, value, value, value) }
    public var startIndex: Int { 0 }
    public var endIndex: Int { 6 }
    public subscript(index: Int) -> Element {
        get {
            precondition(index >= 0 && index < 6)
            return withUnsafeBytes(of: storage) { $0.baseAddress!.assumingMemoryBound(to: Element.self)[index] }
        }
        set {
            precondition(index >= 0 && index < 6)
            withUnsafeMutableBytes(of: &storage) { $0.baseAddress!.assumingMemoryBound(to: Element.self)[index] = newValue }
        }
    }
}

public struct InlineArray7<Element>: RandomAccessCollection, MutableCollection {
    private var storage: (Element, Element, Element, Element, Element, Element, Element)
    public init(repeating value: Element) { storage = (value, value, value, value, value, value, value) }
    public var startIndex: Int { 0 }
    public var endIndex: Int { 7 }
    public subscript(index: Int) -> Element {
        get {
            precondition(index >= 0 && index < 7)
            return withUnsafeBytes(of: storage) { $0.baseAddress!.assumingMemoryBound(to: Element.self)[index] }
        }
        set {
            precondition(index >= 0 && index < 7)
            withUnsafeMutableBytes(of: &storage) { $0.baseAddress!.assumingMemoryBound(to: Element.self)[index] = newValue }
        }
    }
}

public typealias Keypoints = InlineArray6<Point>
extension InlineArray6: Sendable where Element: Sendable {}
extension InlineArray7: Sendable where Element: Sendable {}
extension InlineArray6: Equatable where Element: Equatable {
    public static func == (a: Self, b: Self) -> Bool { a.elementsEqual(b) }
}
