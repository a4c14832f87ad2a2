// The VRRP timer arithmetic: Skew_Time and Master_Down_Interval (RFC 5798 section 6.1), computed
// in integer microseconds the way keepalived does, so that a Switchyard backup and a keepalived
// backup with the same settings take over at the same instant.

/// Skew and master-down times for one instance. Pure functions; the state machine and `adm` use them.
public enum VRRPTiming {
    /// Adverts a backup may miss before it takes over (RFC 5798 section 6.1: 3; keepalived's
    /// `down_timer_adverts` default).
    public static let downTimerAdverts = 3

    /// Skew_Time in microseconds for `priority`.
    ///
    /// Version 3 (RFC 5798 section 6.1): ((256 − Priority) × Master_Adver_Interval) / 256, with the
    /// interval in centiseconds; keepalived evaluates it as `(256 − p) × cs × 625 / 16` µs and
    /// truncates, and so do we. Version 2 (RFC 3768 section 6.1) counts in whole seconds:
    /// (256 − Priority) / 256 s whatever the advert interval, keepalived's formula too.
    public static func skewMicroseconds(version: UInt8, priority: UInt8, masterAdvertInterval: UInt16) -> Int {
        skew(version: version, factor: 256 - Int(priority), masterAdvertInterval: masterAdvertInterval)
    }

    /// keepalived's smallest skew (its factor 1), added to one advert interval before an instance
    /// configured `state MASTER` (and not the owner) claims mastership at start.
    public static func minimumSkewMicroseconds(version: UInt8, masterAdvertInterval: UInt16) -> Int {
        skew(version: version, factor: 1, masterAdvertInterval: masterAdvertInterval)
    }

    /// Master_Down_Interval in microseconds: 3 × Master_Adver_Interval + Skew_Time
    /// (RFC 5798 section 6.1).
    public static func masterDownMicroseconds(version: UInt8, priority: UInt8, masterAdvertInterval: UInt16) -> Int {
        downTimerAdverts * Int(masterAdvertInterval) * 10_000
            + skewMicroseconds(version: version, priority: priority, masterAdvertInterval: masterAdvertInterval)
    }

    /// Whether a version 3 advert's Max Adver Int may become Master_Adver_Interval
    /// (RFC 5798 section 6.4.2). Not 0, which no router can send (keepalived's smallest is 1 cs):
    /// a broken or hostile peer's 0 would make the down interval 3 × 0 + a skew of 0, and every
    /// backup that heard it would take over at once and flap. keepalived (2.2.7 and current)
    /// adopts it as it is; we keep the interval we had, which is what the log line says.
    public static func adopts(advertisedInterval centiseconds: UInt16) -> Bool { centiseconds > 0 }

    /// Centiseconds as seconds on the virtual clock.
    public static func seconds(centiseconds: UInt16) -> Double { Double(centiseconds) / 100 }

    /// Microseconds as seconds on the virtual clock.
    public static func seconds(microseconds: Int) -> Double { Double(microseconds) / 1_000_000 }

    private static func skew(version: UInt8, factor: Int, masterAdvertInterval: UInt16) -> Int {
        version == 3 ? factor * Int(masterAdvertInterval) * 625 / 16 : factor * 1_000_000 / 256
    }
}
