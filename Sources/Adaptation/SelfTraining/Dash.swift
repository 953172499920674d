// Dash's dynamic threshold (Xu et al., ICML 2021) on an endless stream. A pseudo-label counts
// when its loss -log q_max is below rho_t, i.e. when the teacher's confidence exceeds
// exp(-rho_t). rho_t = C * gamma^-(t-1) * rho_hat, floored at rho_min, where rho_hat is the
// mean loss over a warm-up with no updates and t counts "epochs". A stream has no epochs, so
// here one step t is `epochLength` warm-up-sized stretches of samples seen.

public struct DashSchedule: Sendable {
    public var c: Float = 1.0001
    public var gamma: Float = 1.27
    public var rhoMin: Float = 0.05
    /// Samples whose loss is averaged into rho_hat before any update.
    public var warmup = 64
    /// Samples per step t once the warm-up is over.
    public var epochLength = 128

    public private(set) var seen = 0
    private var warmupLossSum: Float = 0
    public private(set) var rhoHat: Float = 0

    public init() {}

    public var isWarmingUp: Bool { seen < warmup }
    /// The step t (1, 2, ...) the schedule is at; 0 during the warm-up.
    public var t: Int { isWarmingUp ? 0 : 1 + (seen - warmup) / epochLength }

    /// rho_t. On a confident model rho_hat can start below rho_min (ONet: about 0.02): then Dash
    /// is FixMatch at exp(-rho_min) = 0.951 from the first update, as the notes measured.
    public var rho: Float {
        guard !isWarmingUp else { return .infinity }
        let decayed = c * powf(gamma, -Float(t - 1)) * rhoHat
        return max(decayed, rhoMin)
    }

    /// The teacher confidence a pseudo-label needs now (0 during the warm-up: none is used).
    public var confidenceThreshold: Float { isWarmingUp ? 1 : expf(-rho) }

    /// Records one sample's pseudo-label loss; returns whether it is selected.
    public mutating func observe(loss: Float) -> Bool {
        defer { seen += 1 }
        if isWarmingUp {
            warmupLossSum += loss
            if seen + 1 == warmup { rhoHat = warmupLossSum / Float(warmup) }
            return false
        }
        return loss < rho
    }

    public mutating func restart() {
        seen = 0
        warmupLossSum = 0
        rhoHat = 0
    }

    /// For a saved state: where the schedule was.
    public var savedValues: (seen: Int, rhoHat: Float) { (seen, rhoHat) }
    public mutating func restore(seen: Int, rhoHat: Float) {
        self.seen = max(0, seen)
        self.rhoHat = rhoHat.isFinite ? max(0, rhoHat) : 0
        warmupLossSum = self.rhoHat * Float(min(self.seen, warmup))
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
