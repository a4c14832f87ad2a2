// `switchyard adm --fingerprint`: each service's consistent-hash table as one number, with how
// many slots each real server holds, in an order every balancer prints alike (services by
// protocol, VIP and port; real servers by address and port), so two balancers' outputs compare
// with diff.
import SwitchyardCore

enum AdmFingerprint {
    /// The text for the snapshot the workers forward with now.
    static func render(_ snapshot: ForwardingSnapshot) -> String {
        var text = "Prot LocalAddress:Port Scheduler Fingerprint      Slots\n  -> RemoteAddress:Port          Slots\n"
        let order = snapshot.services.indices.sorted { a, b in
            let x = snapshot.services[a], y = snapshot.services[b]
            return (x.proto, x.vip, x.port) < (y.proto, y.vip, y.port)
        }
        for index in order {
            let s = snapshot.services[index]
            let name = (s.proto == IPProtocol.udp ? "UDP" : "TCP") + "  " + s.vip.withPort(s.port)
            guard let fingerprint = snapshot.tableFingerprint(serviceIndex: index) else {
                text += "\(name) \(s.scheduler.name) (no table: only mh and sh keep one)\n"
                continue
            }
            let shares = snapshot.tableShares(serviceIndex: index)
            let hex = String(fingerprint, radix: 16)
            text += "\(name) \(s.scheduler.name) \(String(repeating: "0", count: 16 - hex.count) + hex) "
                + "\(shares.values.reduce(0, +))\n"
            for r in s.reals.sorted(by: { ($0.address, $0.port) < ($1.address, $1.port) }) {
                text += "  -> \(AdmRender.pad(r.address.withPort(r.port), 28)) \(shares[r.id] ?? 0)\n"
            }
        }
        return text
    }
}
