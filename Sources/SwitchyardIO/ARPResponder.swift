// ARP for the VIPs on one interface: answering, announcing (gratuitous ARP) and learning the
// real servers' MACs from what goes by.

import CLibnet
import CPcap
import CSwitchyard
import Glibc
import Synchronization
import SwitchyardCore

/// Answers ARP for the VIPs, announces them with gratuitous ARP, and learns real servers' MACs
/// from the ARP traffic it sees. Frames are captured with libpcap (filter "arp", immediate
/// mode so a request is answered at once) and built and sent with libnet.
///
/// The LB owns ARP for its VIPs: the VIPs are on no interface of the LB (the kernel guard keeps
/// the kernel out of their packets), so without this nobody would answer for them.
public final class ARPResponder: @unchecked Sendable {
    public let interface: InterfaceInfo
    private let capture: OpaquePointer
    private let sender: Locked<UnsafeMutablePointer<libnet_t>>
    private let vipSet: Locked<Set<UInt32>>
    private var vips: Set<UInt32> { vipSet.withLock { $0 } }
    private let learned = Locked<[IPv4Address: MACAddress]>([:])
    private let stopFlag = Atomic<Bool>(false)
    private let answered = Atomic<UInt64>(0)

    public init(interface: InterfaceInfo, vips: [IPv4Address]) throws {
        self.interface = interface
        self.vipSet = Locked(Set(vips.map(\.value)))
        let p = try LinkSockets.capture(interface, filter: "arp", ethertype: SY_ETH_P_ARP)
        let l: UnsafeMutablePointer<libnet_t>
        do { l = try LinkSockets.sender(interface) } catch {
            pcap_close(p)
            throw error
        }
        capture = p
        sender = Locked(l)
    }

    deinit {
        pcap_close(capture)
        sender.withLock { libnet_destroy($0) }
    }

    /// ARP replies sent so far.
    public var repliesSent: UInt64 { answered.load(ordering: .relaxed) }

    /// The MAC learned from ARP traffic for `address`, if any. Looked up under the lock rather
    /// than read from a copy of the table: the copy would share storage this thread goes on
    /// changing in place once the copy is gone, which is safe only through the Swift runtime's
    /// reference counts, and ThreadSanitizer cannot see those (it reported this).
    public func learnedMAC(for address: IPv4Address) -> MACAddress? { learned.withLock { $0[address] } }

    public func stop() { stopFlag.store(true, ordering: .relaxed) }

    /// Changes the VIPs answered for, announcing the new ones.
    public func setVIPs(_ addresses: [IPv4Address]) {
        let new = Set(addresses.map(\.value))
        let added = vipSet.withLock { old -> Set<UInt32> in
            defer { old = new }
            return new.subtracting(old)
        }
        for v in added.sorted() { announce(IPv4Address(v)) }
    }

    /// Runs until stop(): answers requests for the VIPs and records senders' MACs.
    public func run() {
        while !stopFlag.load(ordering: .relaxed) {
            LinkSockets.drain(capture) { handle($0, $1) }
        }
    }

    //  ARP for IPv4 over Ethernet (RFC 826), after the 14-byte Ethernet header:
    //  htype(2)=1 ptype(2)=0x0800 hlen(1)=6 plen(1)=4 op(2) sha(6) spa(4) tha(6) tpa(4)
    private func handle(_ frame: UnsafePointer<UInt8>, _ length: Int) {
        guard length >= 42 else { return }
        func u16(_ o: Int) -> UInt16 { UInt16(frame[o]) << 8 | UInt16(frame[o + 1]) }
        func u32(_ o: Int) -> UInt32 { UInt32(u16(o)) << 16 | UInt32(u16(o + 2)) }
        func mac(_ o: Int) -> MACAddress { MACAddress((frame[o], frame[o + 1], frame[o + 2], frame[o + 3], frame[o + 4], frame[o + 5])) }
        guard u16(12) == 0x0806, u16(14) == 1, u16(16) == 0x0800, frame[18] == 6, frame[19] == 4 else { return }
        let op = u16(20)
        let senderMAC = mac(22)
        let senderIP = u32(28)
        let targetIP = u32(38)
        // Our own announcements come back to the capture: ignore them.
        guard senderMAC != interface.mac else { return }
        if senderIP != 0 && !vips.contains(senderIP) {
            learned.withLock { $0[IPv4Address(senderIP)] = senderMAC }
        }
        if op == 1 && vips.contains(targetIP) && senderIP != targetIP {
            send(op: 2, senderIP: targetIP, targetMAC: senderMAC, targetIP: senderIP, to: senderMAC)
            answered.add(1, ordering: .relaxed)
        }
    }

    /// Announces each VIP with a gratuitous ARP request and reply (RFC 5227 §3), so switches and
    /// neighbours update their caches when this LB takes the VIPs over.
    public func announce() {
        for v in vips.sorted() { announce(IPv4Address(v)) }
    }

    /// Announces one address as this interface's (a VIP, or a VRRP address the kernel holds
    /// here, such as NAT real servers' gateway, whose neighbours must learn the new MAC too).
    public func announce(_ vip: IPv4Address) {
        send(op: 1, senderIP: vip.value, targetMAC: .zero, targetIP: vip.value, to: .broadcast)
        send(op: 2, senderIP: vip.value, targetMAC: .broadcast, targetIP: vip.value, to: .broadcast)
    }

    /// Asks who has `address`; the answer is learned by run().
    public func request(_ address: IPv4Address) {
        send(op: 1, senderIP: interface.address?.value ?? 0, targetMAC: .zero, targetIP: address.value, to: .broadcast)
    }

    private func send(op: UInt16, senderIP: UInt32, targetMAC: MACAddress, targetIP: UInt32, to destination: MACAddress) {
        var sha = interface.mac.octets
        var tha = targetMAC.octets
        var dst = destination.octets
        var spa = senderIP.bigEndian
        var tpa = targetIP.bigEndian
        sender.withLock { l in
            withUnsafeMutableBytes(of: &spa) { spaBytes in
                withUnsafeMutableBytes(of: &tpa) { tpaBytes in
                    _ = libnet_build_arp(UInt16(ARPHRD_ETHER), UInt16(ETHERTYPE_IP), 6, 4, op, &sha,
                                         spaBytes.baseAddress!.assumingMemoryBound(to: UInt8.self), &tha,
                                         tpaBytes.baseAddress!.assumingMemoryBound(to: UInt8.self), nil, 0, l, 0)
                }
            }
            _ = libnet_build_ethernet(&dst, &sha, UInt16(ETHERTYPE_ARP), nil, 0, l, 0)
            _ = libnet_write(l)
            libnet_clear_packet(l)
        }
    }
}
