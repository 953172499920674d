// The JSON Lines record of a processed frame (README "Output"): the same object goes to
// stdout, and to any sink that publishes frames (server-sent events, MQTT).
import Adaptation
import FacePipeline

extension ProcessedFrame {
    public var json: JSON {
        .object([
            ("frame", .integer(index)), ("sequence", .integer(frame.sequence)),
            ("timestamp_ms", .number(round3(Double(frame.timestampNs) / 1e6))),
            ("width", .integer(width)), ("height", .integer(height)),
            ("faces", .array(faces.map(faceJSON))),
            ("dropped", .integer(dropped)),
            ("latency_ms", .object(StageLatency.names.indices.map { (StageLatency.names[$0], .number(round3(latency[$0]))) })),
        ])
    }
}

public func faceJSON(_ face: Face) -> JSON {
    var pairs: [(String, JSON)] = [
        ("box", .array([face.box.x, face.box.y, face.box.width, face.box.height].map { .number(round1(Double($0))) })),
        ("score", .number(round3(Double(face.detectionScore)))),
        ("keypoints", .array(face.keypoints.map { .array([.number(round1(Double($0.x))), .number(round1(Double($0.y)))]) })),
    ]
    if let p = face.faceProbability { pairs.append(("face_probability", .number(round3(Double(p))))) }
    if let e = face.expression {
        pairs.append(("expression", .string(e)))
        pairs.append(("probabilities", .object(zip(ExpressionClassifier.labels, face.expressionProbabilities).map {
            ($0.0, .number(round3(Double($0.1))))
        })))
    }
    pairs.append(("track", .integer(face.track)))
    if face.verifierAdaptation != nil || face.expressionAdaptation != nil {
        var heads: [(String, JSON)] = []
        if let v = face.verifierAdaptation { heads.append(("verifier", adaptationJSON(v))) }
        if let e = face.expressionAdaptation { heads.append(("expression", adaptationJSON(e))) }
        pairs.append(("adaptation", .object(heads)))
    }
    return .object(pairs)
}

public func adaptationJSON(_ step: AdaptationStep) -> JSON {
    .object([("step", .integer(step.step)), ("threshold", .number(round3(Double(step.threshold)))),
             ("selected", .bool(step.selected)), ("pseudo_label", .integer(step.pseudoLabel)),
             ("updated", .bool(step.updated)), ("shift", .number(round3(Double(step.gate)))), ("resets", .integer(step.resets))])
}

public func round1(_ x: Double) -> Double { (x * 10).rounded() / 10 }
public func round3(_ x: Double) -> Double { (x * 1000).rounded() / 1000 }
