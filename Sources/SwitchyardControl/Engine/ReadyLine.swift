// The words of the `ready:` log line about ARP: the VIPs this box answers for now, and those a
// VRRP instance holds back until it is master here (a backup starts with none answered, and an
// empty list would read as a mistake).
import SwitchyardCore

extension AddressSets {
    /// "answering ARP for 198.18.0.100", or with VIPs held back: "answering ARP for none yet
    /// (198.18.0.100 held by VRRP, served while master)".
    public var arpAnswerSummary: String {
        let answering = Set(answered)
        // Every VIP not answered is one whose VRRP instance is not master here (`answered`).
        let held = vips.filter { !answering.contains($0) }
        let list = answered.isEmpty ? (held.isEmpty ? "none" : "none yet") : Self.list(answered)
        return "answering ARP for \(list)" + (held.isEmpty ? "" : " (\(Self.list(held)) held by VRRP, served while master)")
    }

    private static func list(_ addresses: [IPv4Address]) -> String { addresses.map(\.description).joined(separator: ", ") }
}
