// The engine's 1 Hz timer: which chores are due at each second. Pure, so the schedule is
// tested without waiting.
/// A chore of the main loop.
enum Chore: Hashable, CaseIterable {
    /// Read the kernel's neighbour tables and the ARP responders' findings.
    case refreshNeighbours
    /// With AF_XDP: re-read this machine's own addresses.
    case refreshLocalAddresses
    /// Ask (ARP) for the real servers whose MAC is unknown.
    case requestMissingNeighbours
    /// Ask for every real server's MAC again (a moved server is noticed).
    case requestAllNeighbours
    /// Sample the counters into the moving-average rates.
    case updateRates
    /// Write a stats line to the log.
    case logStats
    /// Log what the workers traced (adm --trace).
    case readTrace
    /// Check that the announced VIPs' routes still stand (someone may have flushed the table).
    case verifyAnnouncements
}

enum Housekeeping {
    /// Seconds between rate samples (IPVS's estimator samples every 2 s too).
    static let rateInterval = 2

    /// The chores due at `second` (1, 2, …) of the run; `statsInterval` 0 = no stats lines.
    static func chores(at second: Int, statsInterval: Int) -> Set<Chore> {
        var due: Set<Chore> = [.refreshNeighbours, .refreshLocalAddresses, .readTrace]
        if second % 5 == 0 { due.formUnion([.requestMissingNeighbours, .verifyAnnouncements]) }
        if second % 30 == 0 { due.insert(.requestAllNeighbours) }
        if second % rateInterval == 0 { due.insert(.updateRates) }
        if statsInterval > 0 && second % statsInterval == 0 { due.insert(.logStats) }
        return due
    }
}
