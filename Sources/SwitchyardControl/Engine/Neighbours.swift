// The real servers' MACs: merged from the kernel's neighbour tables and what the ARP and
// neighbour discovery responders overheard, asked for when missing, and handed to the snapshot.
import SwitchyardCore
import SwitchyardIO

extension ControlPlane {
    /// Merges the kernel's neighbour tables and what the ARP responders learned; true if a real
    /// server's MAC appeared or changed.
    func refreshNeighbours() -> Bool {
        let addresses = state.withLock { $0.table.reachableAddresses }
        // Each interface's kernel table is read once, not once per address.
        var kernel: [Int: [IPAddressBits: MACAddress]] = [:]
        var found: [IPAddressBits: MACAddress] = [:]
        for a in addresses {
            let i = plan.realInterface(a)
            if kernel[i] == nil {
                let ipv6 = addresses.contains { !$0.isV4 && plan.realInterface($0) == i }
                kernel[i] = neighbours.kernelNeighbours(interface: i, ipv6: ipv6)
            }
            if let mac = kernel[i]?[a] ?? neighbours.learnedMAC(for: a, interface: i) { found[a] = mac }
        }
        return state.withLock { s in
            var changed = false
            for (a, mac) in found where s.macs[a] != mac {
                if let old = s.macs[a] {
                    Log.info("real server \(a) moved from \(old) to \(mac)")
                } else {
                    Log.info("real server \(a) is at \(mac) on \(plan.interfaces[plan.realInterface(a)].name)")
                }
                s.macs[a] = mac
                changed = true
            }
            return changed
        }
    }

    /// Asks (ARP, neighbour solicitation) for the real servers whose MAC is unknown, or for all of them.
    func requestNeighbours(all: Bool) {
        // Decided under the lock: a copy of a table read outside it would share storage that
        // the lock's next holder may change in place (see `control`).
        let addresses = state.withLock { s in s.table.reachableAddresses.filter { all || s.macs[$0] == nil } }
        for a in addresses { neighbours.request(a, interface: plan.realInterface(a)) }
    }

    /// Real servers and sorry servers whose MAC is still unknown.
    var unresolvedNeighbours: [IPAddressBits] {
        state.withLock { s in s.table.reachableAddresses.filter { s.macs[$0] == nil } }
    }
}
