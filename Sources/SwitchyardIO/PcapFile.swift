// pcap files through libpcap: reading an Ethernet capture frame by frame, and writing frames
// to one (switchyard replay's input and output).

import CPcap
import Glibc
import SwitchyardCore

/// One captured frame: its bytes as captured, its length on the wire, and when it was seen
/// (microseconds since the epoch).
public struct CapturedFrame: Sendable, Equatable {
    public var bytes: [UInt8]
    public var wireLength: Int
    public var microseconds: UInt64

    public init(bytes: [UInt8], wireLength: Int? = nil, microseconds: UInt64) {
        self.bytes = bytes
        self.wireLength = wireLength ?? bytes.count
        self.microseconds = microseconds
    }
}

/// An Ethernet capture opened for reading (pcap or pcapng, as libpcap reads them).
public final class PcapReader {
    public let path: String
    private let handle: OpaquePointer

    public init(path: String) throws {
        var error = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE))
        guard let handle = pcap_open_offline(path, &error) else {
            let message = String(decoding: error.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw SetupError("cannot read \(path): \(message)")
        }
        let linkType = pcap_datalink(handle)
        guard linkType == DLT_EN10MB else {
            pcap_close(handle)
            throw SetupError("\(path): link type \(linkType) is not Ethernet (DLT_EN10MB); capture on an Ethernet interface")
        }
        self.path = path
        self.handle = handle
    }

    deinit { pcap_close(handle) }

    /// The next frame, or nil at the end of the file.
    public func next() throws -> CapturedFrame? {
        var header: UnsafeMutablePointer<pcap_pkthdr>?
        var data: UnsafePointer<UInt8>?
        switch pcap_next_ex(handle, &header, &data) {
        case 1:
            guard let header, let data else { return nil }
            let h = header.pointee
            return CapturedFrame(bytes: Array(UnsafeBufferPointer(start: data, count: Int(h.caplen))),
                                 wireLength: Int(h.len),
                                 microseconds: UInt64(max(h.ts.tv_sec, 0)) * 1_000_000 + UInt64(max(h.ts.tv_usec, 0)))
        case PCAP_ERROR_BREAK:
            return nil
        default:
            throw SetupError("\(path): \(String(cString: pcap_geterr(handle)))")
        }
    }
}

/// A pcap file of Ethernet frames, written through libpcap's dumper.
public final class PcapWriter {
    private let handle: OpaquePointer
    private let dumper: OpaquePointer

    public init(path: String) throws {
        guard let handle = pcap_open_dead(DLT_EN10MB, 262_144) else { throw SetupError("pcap_open_dead failed") }
        guard let dumper = pcap_dump_open(handle, path) else {
            let message = String(cString: pcap_geterr(handle))
            pcap_close(handle)
            throw SetupError("cannot write \(path): \(message)")
        }
        self.handle = handle
        self.dumper = dumper
    }

    deinit {
        pcap_dump_close(dumper)
        pcap_close(handle)
    }

    public func write(_ frame: CapturedFrame) {
        var header = pcap_pkthdr()
        header.ts.tv_sec = Int(frame.microseconds / 1_000_000)
        header.ts.tv_usec = Int(frame.microseconds % 1_000_000)
        header.caplen = UInt32(frame.bytes.count)
        header.len = UInt32(max(frame.wireLength, frame.bytes.count))
        frame.bytes.withUnsafeBufferPointer { buffer in
            // pcap_dump's first argument is the dumper, passed as u_char * by libpcap's design.
            pcap_dump(UnsafeMutableRawPointer(dumper).assumingMemoryBound(to: UInt8.self), &header, buffer.baseAddress)
        }
    }

    /// Writes what is buffered to the file; throws if the file could not take it (a full disk).
    public func flush() throws {
        guard pcap_dump_flush(dumper) == 0, ferror(pcap_dump_file(dumper)) == 0 else {
            throw SetupError("writing the capture failed: \(String(cString: strerror(errno)))")
        }
    }
}
