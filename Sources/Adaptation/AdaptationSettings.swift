// What `--adapt` does, as plain values (the command line, board profiles and the benchmark all
// fill one of these).

/// How pseudo-labels are selected for the cross-entropy term.
public enum AdaptationMethod: String, CaseIterable, Sendable {
    /// Dash (Xu et al. 2021): a pseudo-label counts when its loss is below a threshold that
    /// falls over time from the warm-up's mean loss to rho_min.
    case dash
    /// FixMatch: a pseudo-label counts when the teacher's confidence is above a fixed 0.95.
    case fixmatch
    /// Plain entropy minimization of the student, no pseudo-labels.
    case entropy
}

/// Where the pseudo-label's teacher prediction comes from.
public enum TeacherKind: String, CaseIterable, Sendable {
    /// Temporal ensembling along the face track: the bias-corrected exponential average of the
    /// student's predictions for this face over the frames it has been tracked.
    case track
    /// Mean Teacher: an exponential moving average of the head's weights.
    case ema
    /// The student's own prediction.
    case none
}

/// When the features are re-normalized to the source statistics.
public enum AlignmentMode: String, CaseIterable, Sendable {
    case off
    /// Only as far as the image signals (brightness, contrast, noise, sharpness) have moved away
    /// from the source's: a change of class mix alone does not trigger it.
    case gated
    case always
}

public struct AdaptationSettings: Sendable {
    public var method: AdaptationMethod = .dash
    public var teacher: TeacherKind = .track
    public var alignment: AlignmentMode = .gated
    /// How far aligned features move toward the source statistics at full gate (0...1): a
    /// partial shrinkage toward the stream when the source statistics are only roughly right.
    public var alignmentStrength: Float = 1
    /// Largest factor alignment may scale a channel by (and 1/limit the smallest); 1 shifts the
    /// means only. Noise inflates feature variances, and undoing that fully can overshoot.
    public var alignmentGainLimit: Float = .infinity
    /// Keep alignment only while it makes the frozen head more confident on the stream: a running
    /// average of entropy(source head on aligned features) - entropy(int8 model) must stay below 0.
    /// A label-free check that the mapping helps (needs the int8 model's own probabilities).
    public var alignmentEntropyCheck = false
    /// Gradient updates happen only under a measured shift of the image signals.
    public var gateUpdates = true
    public var learningRate: Float = 1e-3
    public var momentum: Float = 0.9
    /// L2 pull toward the source weights.
    public var pull: Float = 0.05
    /// Weight of the student's entropy in the loss (0 for pseudo-labels only).
    public var entropyWeight: Float = 1
    /// Dense layers that train, counted from the output (1: the final layer only).
    public var trainedLayers = 1
    /// Momentum of the running feature statistics and of the image signals.
    public var statisticsMomentum: Float = 0.02
    /// Track teacher: weight of the past in the average along a track.
    public var trackDecay: Float = 0.7
    /// EMA teacher: decay of the weight average.
    public var teacherDecay: Float = 0.99
    public var fixMatchThreshold: Float = 0.95
    public var dash = DashSchedule()
    /// Collapse: over about this many recent faces, one class is predicted by the student this
    /// much more often than by the source head -> reset to the source.
    public var collapseWindow = 64
    public var collapseMargin: Float = 0.4
    public init() {}
}
