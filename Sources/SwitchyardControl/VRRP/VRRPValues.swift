// The values keepalived's failover keywords may take, in one place: the ranges come from
// keepalived's own parser (vrrp_parser.c, global_parser.c), so a config that keepalived accepts
// is accepted here and the limits cannot drift between the readers that use them.
import SwitchyardCore

enum VRRPValues {
    /// `virtual_router_id`.
    static let virtualRouterID = 1...255
    /// `priority`; 255 is the address owner.
    static let priority = 1...255
    static let ownerPriority = 255
    /// `version`, `vrrp_version`.
    static let version = 2...3
    /// `advert_int` in microseconds, as keepalived reads it (0.01 s to 255 s, six decimals);
    /// the version then narrows it (see the two below).
    static let advertMicroseconds = 10_000...255_000_000
    /// Version 2 sends whole seconds in one byte; version 3 centiseconds in 12 bits (40.95 s).
    static let advertMaxV3Centiseconds = (1 << 12) - 1
    /// `preempt_delay`, seconds (keepalived's TIMER_MAX_SEC).
    static let preemptDelayMicroseconds = 0...1_000_000_000
    /// A track_interface or track_script weight; ±254 is taken and made ±253, as keepalived.
    static let trackWeight = -254...254
    /// A vrrp_script's own `weight`.
    static let scriptWeight = -253...253
    /// `garp_master_delay` (whole seconds; keepalived keeps it in microseconds in a UInt32).
    static let garpDelaySeconds = 0...4_294
    /// `garp_master_repeat`, `garp_master_refresh_repeat` (0 is made 1, as keepalived),
    /// `garp_master_refresh` (seconds, 0: none).
    static let garpCount = 0...Int(UInt32.max)
    /// `auth_pass`: the advert carries 8 bytes; keepalived cuts longer passwords.
    static let authPassLength = 8
    /// A vrrp_script's `interval` and `timeout`, in milliseconds (3 decimals; 0 is made 1 s).
    static let scriptMilliseconds = 0...4_294_967_000
    /// `rise`, `fall`.
    static let riseFall = 1...Int(Int32.max)
    /// lvs_sync_daemon `id`, `maxlen` (bytes of UDP payload), `port`, `ttl`.
    static let syncID = 0...255
    static let syncMaxLength = 1...(65_535 - 20 - 8)
    static let syncPort = 1...65_535
    static let syncTTL = 1...255

    /// keepalived's decimal numbers: digits with at most `decimals` places after a point, no
    /// sign; the value times 10^decimals, or nil.
    static func decimal(_ text: String, decimals: Int) -> Int? {
        let parts = text.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard let whole = parts.first, !whole.isEmpty || parts.count == 2,
              whole.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        let fraction = parts.count == 2 ? parts[1] : ""
        guard fraction.count <= decimals, fraction.allSatisfy({ $0.isASCII && $0.isNumber }),
              !(parts.count == 2 && whole.isEmpty && fraction.isEmpty) else { return nil }
        let digits = String(whole) + fraction + String(repeating: "0", count: decimals - fraction.count)
        return digits.count <= 15 ? Int(digits) : nil
    }

    /// `0.1`, `1`, `2.5`: a value in units of 10^-decimals as keepalived prints it back.
    static func seconds(_ value: Int, decimals: Int) -> String {
        var scale = 1
        for _ in 0..<decimals { scale *= 10 }
        var fraction = String(value % scale)
        fraction = String(repeating: "0", count: decimals - fraction.count) + fraction
        while fraction.hasSuffix("0") { fraction.removeLast() }
        return fraction.isEmpty ? "\(value / scale)" : "\(value / scale).\(fraction)"
    }
}
