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
