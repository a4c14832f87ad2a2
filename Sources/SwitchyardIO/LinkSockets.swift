// The two sockets each neighbour responder (ARP, neighbour discovery) holds on its interface:
// a libpcap capture of one protocol, and a libnet link socket that only sends.

import CLibnet
import CPcap
import CSwitchyard
import Glibc

enum LinkSockets {
    /// A live capture on `interface` of the frames `filter` takes, in immediate mode (a
    /// solicitation is answered at once), non-blocking, its socket rebound to `ethertype`:
    /// libpcap listens for every protocol (ETH_P_ALL), and the kernel would then run its ring and
    /// filter for every frame, on the sender's CPU.
    static func capture(_ interface: InterfaceInfo, filter: String, ethertype: UInt16) throws -> OpaquePointer {
        var errbuf = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE) + 1)
        guard let p = pcap_create(interface.name, &errbuf) else {
            throw SetupError("pcap_create(\(interface.name)): \(cString(errbuf))")
        }
        pcap_set_snaplen(p, 256)
        pcap_set_promisc(p, 0)
        pcap_set_immediate_mode(p, 1)
        pcap_set_timeout(p, 100)
        guard pcap_activate(p) >= 0 else {
            let message = String(cString: pcap_geterr(p))
            pcap_close(p)
            throw SetupError("pcap_activate(\(interface.name)): \(message)")
        }
        var program = bpf_program()
        guard pcap_compile(p, &program, filter, 1, PCAP_NETMASK_UNKNOWN) == 0, pcap_setfilter(p, &program) == 0 else {
            pcap_close(p)
            throw SetupError("cannot set the capture filter \"\(filter)\" on \(interface.name)")
        }
        pcap_freecode(&program)
        let captureFD = pcap_get_selectable_fd(p)
        if captureFD >= 0 { _ = sy_packet_bind(captureFD, interface.index, ethertype) }
        pcap_setnonblock(p, 1, &errbuf)
        return p
    }

    /// A libnet link socket on `interface` that sends and never receives. libnet opens its
    /// packet socket for every protocol (ETH_P_ALL) and never reads it, so the kernel would
    /// clone every frame of every interface into its queue, on the sender's CPU (binding it to
    /// protocol 0 does not change that: bind keeps the protocol). A socket opened for no
    /// protocol takes its place: it receives nothing and still sends.
    static func sender(_ interface: InterfaceInfo) throws -> UnsafeMutablePointer<libnet_t> {
        var errbuf = [CChar](repeating: 0, count: Int(LIBNET_ERRBUF_SIZE))
        guard let l = libnet_init(LIBNET_LINK_ADV, interface.name, &errbuf) else {
            throw SetupError("libnet_init(\(interface.name)): \(cString(errbuf))")
        }
        if case .failure(let e) = valueOrErrno({ sy_packet_send_only(libnet_getfd(l)) }) {
            // errno was captured above: libnet_destroy closes the socket.
            libnet_destroy(l)
            throw SetupError("cannot replace libnet's packet socket on \(interface.name): \(e)")
        }
        return l
    }

    /// Waits up to 100 ms for the capture to be readable, then hands each frame waiting to
    /// `handle`.
    static func drain(_ capture: OpaquePointer, _ handle: (UnsafePointer<UInt8>, Int) -> Void) {
        var p = pollfd(fd: pcap_get_selectable_fd(capture), events: Int16(POLLIN), revents: 0)
        _ = poll(&p, 1, 100)
        while true {
            var header: UnsafeMutablePointer<pcap_pkthdr>?
            var data: UnsafePointer<UInt8>?
            guard pcap_next_ex(capture, &header, &data) == 1, let header, let data else { return }
            handle(data, Int(header.pointee.caplen))
        }
    }
}
