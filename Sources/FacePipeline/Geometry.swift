// Fixed-size inline collections for per-face results (Box and Point live in Imaging).
import Imaging

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
