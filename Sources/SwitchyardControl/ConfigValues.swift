// The values a setting may take, in one place for the two ways to set them: the config file
// (ConfigReader) and `switchyard adm` (AdmCommand). Each reader words its own error; the rule
// behind it is here, so the two cannot drift apart.
import SwitchyardCore

/// Ranges and forms of a virtual service's and a real server's settings.
enum ServiceValues {
    /// A real server's weight (`weight`, `-w`): ipvsadm's range; 0 is quiescent.
    static let weight = 0...65_535
    /// Persistence in seconds (`persistence_timeout`, `-p`): at most 31 days, as ipvsadm.
    static let persistenceTimeout = 1...2_678_400
    /// `persistence_timeout` with no value, and persistence turned on by other means: IPVS's
    /// IPVS_SVC_PERSISTENT_TIMEOUT, as keepalived uses it.
    static let defaultPersistenceTimeout = 300
    /// An idle timeout in seconds (`lvs_timeouts`, `--set`, where 0 keeps the current one).
    static let timeoutSeconds = 1...2_000_000
    /// The schedulers Switchyard has, as errors list them.
    static let schedulerNames = "mh, rr, wrr, sh, lc, wlc, sed or nq"

    /// A netmask (`persistence_granularity`, `-M`): ones from the top, then zeros (0.0.0.0
    /// included); nil for anything else.
    static func netmask(_ text: String) -> UInt32? {
        guard let mask = IPv4Address(text) else { return nil }
        // The zeros below the ones are contiguous when ~mask + 1 is a power of two.
        return mask.value == 0 || (~mask.value & (~mask.value &+ 1)) == 0 ? mask.value : nil
    }
}

/// keepalived's checker timing keywords. Each may stand on a virtual_server, a real_server or a
/// checker (the most specific wins), so every block that reads one asks here first.
enum TimingKeyword: String, CaseIterable {
    case delayLoop = "delay_loop"
    case connectTimeout = "connect_timeout"
    case retry
    /// keepalived's older name for retry.
    case nbGetRetry = "nb_get_retry"
    case delayBeforeRetry = "delay_before_retry"
    case warmup

    /// What the keyword sets, and the values it takes.
    enum Rule {
        case seconds(ClosedRange<Double>, WritableKeyPath<CheckTiming, Double>)
        case count(ClosedRange<Int>, WritableKeyPath<CheckTiming, Int>)
    }

    var rule: Rule {
        switch self {
        case .delayLoop: .seconds(0.1...86_400, \.delayLoop)
        case .connectTimeout: .seconds(0.05...3_600, \.connectTimeout)
        case .retry, .nbGetRetry: .count(0...100, \.retry)
        case .delayBeforeRetry: .seconds(0...3_600, \.delayBeforeRetry)
        case .warmup: .seconds(0...3_600, \.warmup)
        }
    }

    static func isOne(_ keyword: String) -> Bool { TimingKeyword(rawValue: keyword) != nil }
}
