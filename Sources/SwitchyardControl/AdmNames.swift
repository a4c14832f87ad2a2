// Host and service names in `switchyard adm`'s addresses, as ipvsadm 1.31 takes them
// (ipvsadm.c parse_service with host_to_addr and service_to_port): `ipvsadm -S` without -n
// writes "-A -t www.example.com:http", and -R must read that back.
import Glibc
import Synchronization
import SwitchyardCore

extension AdmCommand {
    /// Whether host names go to the resolver (true, as in ipvsadm). The fuzz target turns it
    /// off: random words must not become DNS queries.
    public static let resolvesHostNames = Atomic<Bool>(true)

    /// parse_service (ipvsadm.c line 1208): ADDRESS or HOST, then `:PORT` or `:SERVICE` (looked
    /// up for the service's protocol), or an IPv6 address in brackets, `[2001:db8::1]:80`; nil
    /// where ipvsadm finds no address (a bare number is none) or the port is neither.
    static func endpoint(_ text: String, protocolNumber: UInt8 = IPProtocol.tcp) -> (IPAddressBits, UInt16?)? {
        guard !text.isEmpty, !text.allSatisfy(\.isASCIIDigit) else { return nil }
        let address: IPAddressBits
        let portText: Substring?
        if text.hasPrefix("[") {
            // strchr(']'): the address inside, then nothing or ":PORT".
            guard let close = text.firstIndex(of: "]"),
                  let v6 = IPAddressBits(ipv6: text[text.index(after: text.startIndex)..<close]), !v6.isV4 else { return nil }
            let rest = text[text.index(after: close)...]
            guard rest.isEmpty || rest.hasPrefix(":") else { return nil }
            address = v6
            portText = rest.isEmpty ? nil : rest.dropFirst()
        } else {
            // strrchr: the port follows the last colon.
            let colon = text.lastIndex(of: ":")
            let host = colon.map { String(text[..<$0]) } ?? text
            guard let v4 = IPv4Address(host) ?? hostAddress(host) else { return nil }
            address = IPAddressBits(v4)
            portText = colon.map { text[text.index(after: $0)...] }
        }
        guard let portText else { return (address, nil) }
        if let port = number(String(portText), 0...65_535) { return (address, UInt16(port)) }
        guard let port = servicePort(String(portText), protocolNumber: protocolNumber) else { return nil }
        return (address, port)
    }

    /// host_to_addr: the first IPv4 address the resolver gives for a name.
    static func hostAddress(_ name: String) -> IPv4Address? {
        guard !name.isEmpty, resolvesHostNames.load(ordering: .relaxed) else { return nil }
        var hints = addrinfo()
        hints.ai_family = AF_INET
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var result: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(name, nil, &hints, &result) == 0, let first = result else { return nil }
        defer { freeaddrinfo(result) }
        guard let raw = first.pointee.ai_addr else { return nil }
        // AF_INET was asked for: the address is a sockaddr_in.
        let address = raw.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_addr.s_addr }
        return IPv4Address(UInt32(bigEndian: address))
    }

    /// service_to_port: a name from /etc/services for the protocol ("http" is 80).
    static func servicePort(_ name: String, protocolNumber: UInt8) -> UInt16? {
        guard !name.isEmpty else { return nil }
        var entry = servent()
        var found: UnsafeMutablePointer<servent>?
        var buffer = [CChar](repeating: 0, count: 4096)
        let proto = protocolNumber == IPProtocol.udp ? "udp" : "tcp"
        guard getservbyname_r(name, proto, &entry, &buffer, buffer.count, &found) == 0, found != nil else { return nil }
        // s_port is in network order, in an int.
        return UInt16(bigEndian: UInt16(truncatingIfNeeded: entry.s_port))
    }
}

extension Character {
    var isASCIIDigit: Bool { ("0"..."9").contains(self) }
}
