// The kernel's IPv6 neighbour table: which MAC each IPv6 neighbour of an interface has, read by a
// netlink dump (neigh_dump.c), since IPv6 has no /proc file for it. The real servers' MACs come
// from here first, as IPv4's come from /proc/net/arp; the ND responder's solicitations ask for
// the rest. The dump's bytes are read here, so that the reading is tested without a socket.
import CSwitchyard
import Glibc
import SwitchyardCore

public enum NeighbourTable6 {
    /// RTM_NEWNEIGH, NDA_DST, NDA_LLADDR (linux/rtnetlink.h, linux/neighbour.h).
    static let newNeighbour: UInt16 = 28
    static let destination: UInt16 = 1
    static let linkAddress: UInt16 = 2
    /// NUD_REACHABLE, STALE, DELAY, PROBE and PERMANENT: an entry whose MAC is known (not
    /// INCOMPLETE or FAILED, and no NOARP multicast mapping).
    static let knownStates: UInt16 = 0x02 | 0x04 | 0x08 | 0x10 | 0x80

    /// The interface's IPv6 neighbours with a known MAC; empty if the dump fails (no IPv6).
    public static func read(interface: String) -> [IPAddressBits: MACAddress] {
        let index = Int32(if_nametoindex(interface))
        guard index > 0 else { return [:] }
        // About 3,000 entries; a bigger table is read as far as it fits (the rest are asked for).
        var buffer = [UInt8](repeating: 0, count: 1 << 18)
        let n = buffer.withUnsafeMutableBytes { sy_neigh6_dump($0.baseAddress!.assumingMemoryBound(to: UInt8.self), $0.count) }
        guard n > 0 else { return [:] }
        return parse(buffer[..<n], interfaceIndex: index)
    }

    /// Reads netlink messages (host byte order, 4-byte aligned) and keeps each RTM_NEWNEIGH of
    /// `interfaceIndex` in a known state that names a 16-byte destination and a 6-byte MAC.
    /// Stops at a message whose length does not fit; never reads past the bytes.
    public static func parse(_ bytes: ArraySlice<UInt8>, interfaceIndex: Int32) -> [IPAddressBits: MACAddress] {
        var out: [IPAddressBits: MACAddress] = [:]
        let b = Array(bytes)
        // Netlink's integers are in the host's byte order.
        func u16(_ at: Int) -> UInt16 { b.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: at, as: UInt16.self) } }
        func u32(_ at: Int) -> UInt32 { b.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: at, as: UInt32.self) } }
        var at = 0
        while at + 16 <= b.count {
            let length = Int(u32(at))
            guard length >= 16, at + length <= b.count else { break }
            // nlmsghdr (16 bytes), then ndmsg (12): family, pads, ifindex, state, flags, type.
            if u16(at + 4) == newNeighbour, length >= 28, Int32(bitPattern: u32(at + 20)) == interfaceIndex,
               u16(at + 24) & knownStates != 0 {
                var address: IPAddressBits?
                var mac: MACAddress?
                var attribute = at + 28
                while attribute + 4 <= at + length {
                    let size = Int(u16(attribute))
                    guard size >= 4, attribute + size <= at + length else { break }
                    let kind = u16(attribute + 2)
                    if kind == destination && size == 4 + 16 {
                        address = IPAddressBits(octets: b[(attribute + 4)..<(attribute + 20)])
                    } else if kind == linkAddress && size == 4 + 6 {
                        mac = MACAddress(bits: b[(attribute + 4)..<(attribute + 10)].reduce(0) { $0 << 8 | UInt64($1) })
                    }
                    attribute += (size + 3) & ~3
                }
                if let address, let mac, mac != .zero { out[address] = mac }
            }
            at += (length + 3) & ~3
        }
        return out
    }
}
