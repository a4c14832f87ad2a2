// Which VIPs an engine announces, and why the others are not: a VIP is announced while it can be
// served here, that is while every virtual service on it (as the workers have it) has a real
// server taking new flows and its quorum (or a sorry server answering for it), and, if a VRRP
// instance holds it, that instance is master here (a backup's or faulty instance's VIPs are not
// forwarded by this box). All services of a VIP, since a router cannot send one port of it
// elsewhere. Pure: the rule is tested with plain values.
import SwitchyardCore

/// A virtual service as the announcement rule sees it.
struct AnnouncedService: Equatable {
    var vip: IPAddressBits
    /// ipvsadm's name of it (TCP 198.18.0.100:80), for the reasons.
    var name: String
    var quorumUp: Bool
    /// A sorry server answers while the quorum is lost.
    var sorryServer: Bool
    /// Some real server (or the sorry server) takes new flows: up, weight above 0, MAC known.
    var takesFlows: Bool
}

/// What the rule says of a VIP.
enum AnnounceVerdict: Equatable {
    case announce
    /// Not announced, and why.
    case withhold(String)

    var reason: String? {
        if case .withhold(let why) = self { return why }
        return nil
    }
}

enum AnnouncePlan {
    /// Every VIP of `services`, with the rule's verdict.
    static func verdicts(_ services: [AnnouncedService], standby: Set<IPAddressBits>) -> [IPAddressBits: AnnounceVerdict] {
        Dictionary(grouping: services, by: \.vip).mapValues { on in
            if standby.contains(on[0].vip) { return .withhold("its VRRP instance is not master here") }
            let idle = on.filter { !$0.takesFlows }.map(\.name).sorted()
            let lost = on.filter { !$0.quorumUp && !$0.sorryServer }.map(\.name).sorted()
            let reasons = (idle.isEmpty ? [] : ["\(idle.joined(separator: ", ")) has no real server taking new flows"])
                + (lost.isEmpty ? [] : ["\(lost.joined(separator: ", ")) lost its quorum"])
            return reasons.isEmpty ? .announce : .withhold(reasons.joined(separator: "; "))
        }
    }

    /// The routes to add and to remove to go from `installed` to the VIPs `verdicts` announces;
    /// each sorted.
    static func changes(installed: Set<IPAddressBits>, verdicts: [IPAddressBits: AnnounceVerdict])
        -> (add: [IPAddressBits], remove: [IPAddressBits]) {
        let wanted = Set(verdicts.filter { $0.value == .announce }.keys)
        return (wanted.subtracting(installed).sorted(), installed.subtracting(wanted).sorted())
    }
}
