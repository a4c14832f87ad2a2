// How a decoded advert compares with the instance it is for (picked by its VRID): the checks
// keepalived makes against the instance's config once the bytes are known good, and which of
// them make it drop the advert rather than only log and count (the verdict the receiver acts on).
import SwitchyardCore

/// One way an advert differs from its instance's config.
public enum VRRPAdvertMismatch: Sendable, Equatable, CustomStringConvertible {
    /// The peer speaks another VRRP version on this VRID.
    case version(expected: UInt8, received: UInt8)
    /// Advert intervals differ, in centiseconds (version 2: whole seconds × 100).
    case interval(version: UInt8, expected: UInt16, received: UInt16)
    /// The peer announces another number of virtual addresses.
    case addressCount(expected: Int, received: Int)
    /// One of ours that the peer's advert lacks.
    case missingAddress(IPAddressBits)

    /// Whether keepalived drops the advert (current keepalived; see each case):
    /// - version: dropped (counted as a version error);
    /// - interval, version 2: dropped, so that two routers disagreeing on the interval cannot
    ///   both think they share the VRID; version 3: logged only, since a backup times the master
    ///   out on the master's own interval (RFC 5798 §6.4.2);
    /// - addresses: logged and counted only. keepalived up to 2.2.7 dropped these when it
    ///   checked addresses; later releases accept, and so do we: a peer with another address list
    ///   is still a live master, and ignoring it would make two.
    public var dropsAdvert: Bool {
        switch self {
        case .version: true
        case .interval(let version, _, _): version == 2
        case .addressCount, .missingAddress: false
        }
    }

    /// What a difference that does not drop the advert means, for the log line that reports it.
    public var consequence: String? {
        switch self {
        case .version: nil
        case .interval(let version, _, let received):
            version != 3 ? nil
                : VRRPTiming.adopts(advertisedInterval: received) ? "a backup follows the master's interval"
                : "not followed: a backup keeps the interval it has (with 0 it would take over at once, every time)"
        case .addressCount, .missingAddress:
            "keepalived 2.2.7 and older drop such adverts: a keepalived peer may be master at the same time"
        }
    }

    public var description: String {
        switch self {
        case .version(let expected, let received): "VRRP version \(received), this instance uses \(expected)"
        case .interval(_, let expected, let received):
            "advert interval \(Self.seconds(received)) s, this instance uses \(Self.seconds(expected)) s"
        case .addressCount(let expected, let received): "\(received) virtual addresses, this instance has \(expected)"
        case .missingAddress(let address): "virtual address \(address) is not in the advert"
        }
    }

    private static func seconds(_ centiseconds: UInt16) -> String {
        let hundredths = centiseconds % 100
        return "\(centiseconds / 100)." + (hundredths < 10 ? "0" : "") + "\(hundredths)"
    }
}

/// What becomes of a checked advert for an instance.
public enum VRRPAdvertVerdict: Sendable, Equatable {
    /// Taken; each difference is logged and counted (none: it is what the instance expects).
    case take(differences: [VRRPAdvertMismatch])
    /// Dropped for the first difference that drops it.
    case drop(VRRPAdvertMismatch)
}

extension VRRPAdvert {
    /// Whether `instance` takes this advert, and what to say about it.
    public func verdict(for instance: VRRPInstanceConfig) -> VRRPAdvertVerdict {
        let found = mismatches(with: instance)
        if let drop = found.first(where: \.dropsAdvert) { return .drop(drop) }
        return .take(differences: found)
    }

    /// The differences between this received advert and `instance`, in keepalived's order.
    /// Empty: it is what the instance expects.
    public func mismatches(with instance: VRRPInstanceConfig) -> [VRRPAdvertMismatch] {
        let ours = VRRPAdvert(instance: instance)
        if version != ours.version { return [.version(expected: ours.version, received: version)] }
        var found: [VRRPAdvertMismatch] = []
        // What ours says on the wire, so a version 2 interval of 1.5 s compares as the 2 s it sends.
        let expectedInterval = version == 2 ? ours.wireInterval * 100 : ours.wireInterval
        if advertInterval != expectedInterval {
            found.append(.interval(version: version, expected: expectedInterval, received: advertInterval))
        }
        if addresses.count != ours.addresses.count {
            found.append(.addressCount(expected: ours.addresses.count, received: addresses.count))
        } else {
            let theirs = Set(addresses)
            found += ours.addresses.filter { !theirs.contains($0) }.map { .missingAddress($0) }
        }
        return found
    }
}
