// The words of the `ready:` log line about ARP and neighbour discovery: the VIPs this box answers for now, and those a
// VRRP instance holds back until it is master here (a backup starts with none answered, and an
// empty list would read as a mistake).
import SwitchyardCore

extension AddressSets {
    /// "answering ARP for 198.18.0.100", or with VIPs held back: "answering ARP for none yet
    /// (198.18.0.100 held by VRRP, served while master)"; IPv6 VIPs (never held: VRRP is IPv4
    /// only) follow as "; answering neighbour discovery for 2001:db8::100".
    public var arpAnswerSummary: String {
        let answering = Set(answered)
        let answered4 = answered.filter(\.isV4), answered6 = answered.filter { !$0.isV4 }
        // Every VIP not answered is one whose VRRP instance is not master here (`answered`).
        let held = vips.filter { !answering.contains($0) }
        // Led by ARP unless every VIP is IPv6.
        let arp = vips.isEmpty || vips.contains(where: \.isV4)
        let first = arp ? answered4 : answered6
        let list = first.isEmpty ? (held.isEmpty ? "none" : "none yet") : Self.list(first)
        return "answering \(arp ? "ARP" : "neighbour discovery") for \(list)"
            + (held.isEmpty ? "" : " (\(Self.list(held)) held by VRRP, served while master)")
            + (!arp || answered6.isEmpty ? "" : "; answering neighbour discovery for \(Self.list(answered6))")
    }

    private static func list(_ addresses: [IPAddressBits]) -> String { addresses.map(\.description).joined(separator: ", ") }
}
