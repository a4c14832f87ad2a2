// Neighbour discovery for the IPv6 VIPs on one interface: answering solicitations, announcing
// the VIPs, and learning real servers' MACs by soliciting them.

import CLibnet
import CPcap
import CSwitchyard
import Glibc
import Synchronization
import SwitchyardCore

/// What ARPResponder is for IPv4, for IPv6 (RFC 4861): answers solicitations for the VIPs,
/// sends an unsolicited advertisement when a VIP comes up here, and learns real servers' MACs
/// from advertisements (after asking with a solicitation) and from other hosts' solicitations.
/// The messages are checked and built by SwitchyardCore's NeighborDiscovery; this class only
/// captures (libpcap, ICMPv6 types 135 and 136) and sends (libnet).
///
/// A solicitation for a VIP goes to the VIP's solicited-node multicast group, whose frames an
/// interface drops unless someone joined it. The VIPs are on no interface of the LB, so the
/// kernel joins nothing for them: an IPv6 socket of this responder joins each group
/// (IPV6_ADD_MEMBERSHIP) while its VIP is served, and the kernel then answers MLD for it, so a
/// switch that snoops MLD sends the solicitations here too.
public final class NDResponder: @unchecked Sendable {
    public let interface: InterfaceInfo
    /// The interface's link-local address: the source of our solicitations (none can be sent
    /// without one). Read at start and, while there is none yet (still tentative: an engine
    /// started right after its interface came up), again at each solicitation.
    public var linkLocal: IPAddressBits? {
        linkLocalSeen.withLock { known in
            if known == nil { known = InterfaceAddresses6.linkLocal(of: interface.name) }
            return known
        }
    }
    private let linkLocalSeen: Locked<IPAddressBits?>
    private let capture: OpaquePointer
    private let sender: Locked<UnsafeMutablePointer<libnet_t>>
    /// Holds the solicited-node group memberships; -1 where the kernel has no IPv6
    /// (ipv6.disable=1): an IPv4-only engine still starts there.
    private let groups: Int32
    private let vipSet = Locked<Set<IPAddressBits>>([])
    private var vips: Set<IPAddressBits> { vipSet.withLock { $0 } }
    private let learned = Locked<[IPAddressBits: MACAddress]>([:])
    private let stopFlag = Atomic<Bool>(false)
    private let answered = Atomic<UInt64>(0)

    public init(interface: InterfaceInfo) throws {
        self.interface = interface
        self.linkLocalSeen = Locked(InterfaceAddresses6.linkLocal(of: interface.name))
        let p = try LinkSockets.capture(interface, filter: "icmp6 and (ip6[40] == 135 or ip6[40] == 136)",
                                        ethertype: SY_ETH_P_IPV6)
        let l: UnsafeMutablePointer<libnet_t>
        do { l = try LinkSockets.sender(interface) } catch {
            pcap_close(p)
            throw error
        }
        capture = p
        sender = Locked(l)
        groups = socket(AF_INET6, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    }

    deinit {
        pcap_close(capture)
        sender.withLock { libnet_destroy($0) }
        if groups >= 0 { close(groups) }
    }

    /// Advertisements sent in answer to solicitations so far.
    public var answersSent: UInt64 { answered.load(ordering: .relaxed) }

    /// The MAC learned for `address`, if any (looked up under the lock: see ARPResponder's).
    public func learnedMAC(for address: IPAddressBits) -> MACAddress? { learned.withLock { $0[address] } }

    public func stop() { stopFlag.store(true, ordering: .relaxed) }

    /// Changes the VIPs answered for: joins the new ones' solicited-node groups (and leaves the
    /// groups no VIP needs any more), then announces the new VIPs. Returns what failed, to be
    /// logged (a solicitation for such a VIP may not arrive).
    @discardableResult
    public func setVIPs(_ addresses: [IPAddressBits]) -> [String] {
        let new = Set(addresses)
        let (added, joined, left) = vipSet.withLock { old -> (Set<IPAddressBits>, Set<IPAddressBits>, Set<IPAddressBits>) in
            defer { old = new }
            let groups = { (s: Set<IPAddressBits>) in Set(s.map(NeighborDiscovery.solicitedNode)) }
            return (new.subtracting(old), groups(new).subtracting(groups(old)), groups(old).subtracting(groups(new)))
        }
        var failures: [String] = []
        for (changed, join) in [(joined, Int32(1)), (left, Int32(0))] {
            for group in changed.sorted() {
                if groups < 0 || sy_ipv6_group(groups, interface.index, group.octets, join) != 0 {
                    failures.append("\(join == 1 ? "joining" : "leaving") multicast group \(group) on "
                        + "\(interface.name) failed: \(groups < 0 ? "this kernel has no IPv6" : "\(Errno(errno))")")
                }
            }
        }
        for v in added.sorted() { announce(v) }
        return failures
    }

    /// Runs until stop(): answers solicitations for the VIPs and learns neighbours' MACs.
    public func run() {
        while !stopFlag.load(ordering: .relaxed) {
            LinkSockets.drain(capture) { handle($0, $1) }
        }
    }

    private func handle(_ data: UnsafePointer<UInt8>, _ length: Int) {
        // NeighborDiscovery reads a mutable buffer (the data plane's frames are): a copy.
        withUnsafeTemporaryAllocation(byteCount: max(length, 1), alignment: 8) { buffer in
            let frame = buffer.baseAddress!
            frame.copyMemory(from: data, byteCount: length)
            // Our own messages come back to the capture: ignore them.
            guard length >= 14, MACAddress((data[6], data[7], data[8], data[9], data[10], data[11])) != interface.mac
            else { return }
            let vips = self.vips
            if let s = NeighborDiscovery.solicitation(frame, length: length) {
                if !s.isDuplicateAddressDetection && !vips.contains(s.source) {
                    learned.withLock { $0[s.source] = s.replyMAC }
                }
                guard vips.contains(s.target), s.source != s.target else { return }
                send { NeighborDiscovery.answer(s, target: s.target, mac: interface.mac, into: $0) }
                answered.add(1, ordering: .relaxed)
            } else if let a = NeighborDiscovery.advertisement(frame, length: length), !vips.contains(a.target) {
                learned.withLock { $0[a.target] = a.mac }
            }
        }
    }

    /// Announces each VIP with an unsolicited advertisement to all nodes (RFC 4861 §7.2.6).
    public func announce() {
        for v in vips.sorted() { announce(v) }
    }

    /// An unsolicited advertisement of `vip` (or of any address this box holds on the interface;
    /// `router`: with the router flag).
    public func announce(_ vip: IPAddressBits, router: Bool = false) {
        send { NeighborDiscovery.announcement(target: vip, mac: interface.mac, router: router, into: $0) }
    }

    /// Asks for `address` (a solicitation to its solicited-node group); the answer is learned by
    /// run(). Nothing is sent while the interface has no link-local address.
    public func request(_ address: IPAddressBits) {
        guard let linkLocal else { return }
        send { NeighborDiscovery.solicit(target: address, source: linkLocal, mac: interface.mac, into: $0) }
    }

    private func send(_ build: (UnsafeMutableRawPointer) -> Void) {
        withUnsafeTemporaryAllocation(byteCount: NeighborDiscovery.advertisementLength, alignment: 8) { buffer in
            build(buffer.baseAddress!)
            let bytes = buffer.baseAddress!.assumingMemoryBound(to: UInt8.self)
            _ = sender.withLock { libnet_adv_write_link($0, bytes, UInt32(NeighborDiscovery.advertisementLength)) }
        }
    }
}
