// switchyard-bench: the data plane measured in process, no sockets.
//
//   switchyard-bench pipeline [--scenario NAME] [--packets N] [--capacity FLOWS]   ns/packet
//   switchyard-bench flowtable [--flows N] [--huge-pages] [--ipv6]  bytes per flow (RSS), lookup ns
//   switchyard-bench maglev                                     table build time, flows moved
//   switchyard-bench workers [--threads N] [--packets P]         packets/s with 1..N workers
//   switchyard-bench batches [--flows N] [--packets P]          flow hits in 64-frame batches,
//                                                               with and without prefetched hints
//
// Scenarios: dr-hit (a known flow, DR), dr-new (a new flow every packet), nat-in (a known NAT
// flow, client to real server), nat-reply (its reply); each with the suffix -hinted does what
// the worker does, working out the frame's flow hint first. dr6-hit, dr6-new, nat6-in and
// nat6-reply are the same over IPv6 (no hints: the worker works them out for IPv4 only). Every
// iteration copies the template frame into the buffer first (NAT rewrites it), so every
// scenario pays the same copy (60 bytes, IPv6 68).
// With --packets 0 only the setup runs: bench/micro.sh subtracts such a run from a full one
// under callgrind (instructions) and memcheck (allocations), so setup costs cancel out.
import Glibc
import Synchronization
import SwitchyardCore
import SwitchyardIO

func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

func rssBytes() -> Int {
    guard let f = fopen("/proc/self/statm", "r") else { return 0 }
    defer { fclose(f) }
    var size = 0, resident = 0
    _ = withUnsafeMutablePointer(to: &size) { s in
        withUnsafeMutablePointer(to: &resident) { r in vfscanf_wrapper(f, s, r) }
    }
    return resident * Int(sysconf(Int32(_SC_PAGESIZE)))
}

/// fscanf is variadic; read the two numbers by hand instead.
func vfscanf_wrapper(_ f: UnsafeMutablePointer<FILE>, _ size: UnsafeMutablePointer<Int>, _ resident: UnsafeMutablePointer<Int>) -> Int32 {
    var buffer = [CChar](repeating: 0, count: 128)
    guard fgets(&buffer, 128, f) != nil else { return 0 }
    let fields = buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }.split(separator: " ")
    size.pointee = Int(fields[0]) ?? 0
    resident.pointee = Int(fields.count > 1 ? fields[1] : "0") ?? 0
    return 2
}

let lbMAC = MACAddress("02:00:00:00:00:02")!
let vip = IPv4Address("198.18.0.100")!
let client: UInt32 = 0xC612_000A
let rip: UInt32 = 0xC612_000B

/// An Ethernet/IPv4/UDP frame of 60 bytes (a 64-byte frame on the wire), checksummed.
func frame(src: UInt32, dst: UInt32, sport: UInt16, dport: UInt16) -> [UInt8] {
    var f = [UInt8](repeating: 0, count: 60)
    f.withUnsafeMutableBytes { raw in
        let p = raw.baseAddress!
        func s16(_ o: Int, _ v: UInt16) { p.storeBytes(of: v.bigEndian, toByteOffset: o, as: UInt16.self) }
        func s32(_ o: Int, _ v: UInt32) { p.storeBytes(of: v.bigEndian, toByteOffset: o, as: UInt32.self) }
        lbMAC.octets.enumerated().forEach { p.storeBytes(of: $1, toByteOffset: $0, as: UInt8.self) }
        s16(12, 0x0800)
        p.storeBytes(of: 0x45, toByteOffset: 14, as: UInt8.self)
        s16(16, 46)
        p.storeBytes(of: 64, toByteOffset: 22, as: UInt8.self)
        p.storeBytes(of: 17, toByteOffset: 23, as: UInt8.self)
        s32(26, src)
        s32(30, dst)
        s16(24, InternetChecksum.checksum(p + 14, 20))
        s16(34, sport)
        s16(36, dport)
        s16(38, 26)
    }
    return f
}

let client6 = IPAddressBits(ipv6: "2001:db8::a")!
let vip6 = IPAddressBits(ipv6: "2001:db8::100")!
let rip6 = IPAddressBits(ipv6: "2001:db8::11")!

/// An Ethernet/IPv6/UDP frame of 68 bytes (6 bytes of UDP payload), checksummed.
func frame6(src: IPAddressBits, dst: IPAddressBits, sport: UInt16, dport: UInt16) -> [UInt8] {
    var f = [UInt8](repeating: 0, count: 68)
    f.withUnsafeMutableBytes { raw in
        let p = raw.baseAddress!
        func s16(_ o: Int, _ v: UInt16) { p.storeBytes(of: v.bigEndian, toByteOffset: o, as: UInt16.self) }
        func s64(_ o: Int, _ v: UInt64) { p.storeBytes(of: v.bigEndian, toByteOffset: o, as: UInt64.self) }
        lbMAC.octets.enumerated().forEach { p.storeBytes(of: $1, toByteOffset: $0, as: UInt8.self) }
        s16(12, 0x86DD)
        p.storeBytes(of: 0x60, toByteOffset: 14, as: UInt8.self)
        s16(18, 14)
        p.storeBytes(of: 17, toByteOffset: 20, as: UInt8.self)
        p.storeBytes(of: 64, toByteOffset: 21, as: UInt8.self)
        s64(22, src.high); s64(30, src.low); s64(38, dst.high); s64(46, dst.low)
        s16(54, sport)
        s16(56, dport)
        s16(58, 14)
        let pseudo = InternetChecksum.pseudoHeaderSum6(source: src, destination: dst, nextHeader: 17, length: 14)
        s16(60, InternetChecksum.checksum(p + 54, 14, initial: pseudo))
    }
    return f
}

/// The IPv6 twin of `snapshot`.
func snapshot6(_ method: ForwardingMethod) -> ForwardingSnapshot {
    let second = IPAddressBits(high: rip6.high, low: rip6.low + 1)
    return ForwardingSnapshot(services: [ServiceSpec(
        id: 0, proto: IPProtocol.udp, vip: vip6, port: 9, scheduler: .maglev, method: method,
        persistenceMask: .prefixMask(128),
        reals: [RealServerSpec(id: 0, address: rip6, port: 9, weight: 1, mac: MACAddress(bits: 0x11)),
                RealServerSpec(id: 1, address: second, port: 9, weight: 1, mac: MACAddress(bits: 0x12))])],
        schedulingKey: .defaultScheduling)
}

func snapshot(_ method: ForwardingMethod) -> ForwardingSnapshot {
    ForwardingSnapshot(services: [ServiceSpec(
        id: 0, proto: IPProtocol.udp, vip: vip, port: 9, scheduler: .maglev, method: method,
        reals: [RealServerSpec(id: 0, address: IPv4Address(rip), port: 9, weight: 1, mac: MACAddress(bits: 0x11)),
                RealServerSpec(id: 1, address: IPv4Address(rip + 1), port: 9, weight: 1, mac: MACAddress(bits: 0x12))])],
        schedulingKey: .defaultScheduling)
}

/// Runs a scenario; returns ns per packet.
func pipeline(_ scenario: String, packets: Int, capacity: Int) -> Double {
    // "-hinted": each frame's flow hint worked out (and its slot prefetched) first, as the
    // worker does, then passed to process.
    let hinted = scenario.hasSuffix("-hinted")
    let v6 = scenario.contains("6-")
    let scenario = (hinted ? String(scenario.dropLast(7)) : scenario).replacing("6-", with: "-")
    let nat = scenario.hasPrefix("nat")
    let snap = v6 ? snapshot6(nat ? .nat : .dr) : snapshot(nat ? .nat : .dr)
    var p = Pipeline(PipelineConfig(sourceMAC: lbMAC, flowCapacity: capacity, flowHashKey: HashKey(k0: 1, k1: 2)))
    let inbound = v6 ? frame6(src: client6, dst: vip6, sport: 40_000, dport: 9)
                     : frame(src: client, dst: vip.value, sport: 40_000, dport: 9)
    let length = inbound.count
    var buffer = [UInt8](repeating: 0, count: 128)
    // Warm: the flow exists for the hit scenarios.
    buffer.withUnsafeMutableBytes { b in
        inbound.withUnsafeBytes { b.copyMemory(from: $0) }
        _ = p.process(b.baseAddress!, length: length, checksumPending: false, now: 0, snapshot: snap.view)
    }
    var template = inbound
    if scenario == "nat-reply" {
        template = buffer.withUnsafeBytes { b in
            func at(_ o: Int) -> UInt64 { UInt64(bigEndian: b.loadUnaligned(fromByteOffset: o, as: UInt64.self)) }
            return v6 ? frame6(src: IPAddressBits(high: at(38), low: at(46)), dst: client6, sport: 9, dport: 40_000)
                      : frame(src: UInt32(bigEndian: b.loadUnaligned(fromByteOffset: 30, as: UInt32.self)), dst: client,
                              sport: 9, dport: 40_000)
        }
    }
    // Decided once: a string comparison per packet would be counted as the pipeline's.
    let newFlows = scenario == "dr-new"
    let start = now()
    var forwarded = 0
    buffer.withUnsafeMutableBytes { b in
        let out = b.baseAddress!
        template.withUnsafeBytes { t in
            for i in 0..<packets {
                out.copyMemory(from: t.baseAddress!, byteCount: length)
                if newFlows && v6 {
                    // A new client port and address every packet (IPv6 has no header checksum).
                    out.storeBytes(of: UInt16(truncatingIfNeeded: i).bigEndian, toByteOffset: 54, as: UInt16.self)
                    out.storeBytes(of: UInt32(truncatingIfNeeded: i >> 16).bigEndian, toByteOffset: 34, as: UInt32.self)
                } else if newFlows {
                    // A new client port (and address) every packet: a miss, a schedule, an insert.
                    out.storeBytes(of: UInt16(truncatingIfNeeded: i).bigEndian, toByteOffset: 34, as: UInt16.self)
                    out.storeBytes(of: (client &+ UInt32(i >> 16)).bigEndian, toByteOffset: 26, as: UInt32.self)
                    // The IP checksum covers the source address: keep it valid.
                    out.storeBytes(of: UInt16(0), toByteOffset: 24, as: UInt16.self)
                    out.storeBytes(of: InternetChecksum.checksum(out + 14, 20).bigEndian, toByteOffset: 24, as: UInt16.self)
                }
                let hint = hinted ? p.prefetchedFlowHint(out, length: 60, snapshot: snap.view) : .none
                if case .forward = p.process(out, length: length, checksumPending: false, now: 1, snapshot: snap.view,
                                             hint: hint) {
                    forwarded += 1
                }
            }
        }
    }
    let elapsed = now() - start
    precondition(forwarded == packets, "\(scenario): \(forwarded) of \(packets) forwarded")
    return packets == 0 ? 0 : elapsed * 1e9 / Double(packets)
}

/// Workers as the engine runs them, without sockets: `threads` threads, each with its own
/// pipeline and flow table, one shared snapshot and one row each of the shared connection and
/// traffic counters, forward `packets` DR frames each over 65,536 flows (each flow's first
/// packet schedules it, the rest hit). Returns the packets per second of all together, from
/// the moment all have started to the moment the last one is done.
func workers(threads: Int, packets: Int) throws -> Double {
    final class Run: @unchecked Sendable {
        let snap = snapshot(.dr)
        let counts: ConnectionCounts
        let stats: RealServerStats
        let ready = Atomic<Int>(0)
        let go = Atomic<Bool>(false)
        /// When each worker was done (each writes its own).
        let finished: UnsafeMutablePointer<Double>
        init(_ threads: Int) {
            counts = ConnectionCounts(workers: threads)
            stats = RealServerStats(workers: threads)
            finished = .allocate(capacity: threads)
            finished.initialize(repeating: 0, count: threads)
        }
        deinit { finished.deallocate() }
    }
    let run = Run(threads)
    let all = try (0..<threads).map { index in
        try OSThread(name: "bench-w\(index)") {
            var config = PipelineConfig(interfaceMACs: [lbMAC], flowCapacity: 1 << 18, flowHashKey: .random(),
                                        connections: run.counts, stats: run.stats, workerIndex: index)
            config.slotMemory = HugePages.slotMemory
            var p = Pipeline(config)
            let template = frame(src: client &+ UInt32(index), dst: vip.value, sport: 0, dport: 9)
            let out = UnsafeMutableRawPointer.allocate(byteCount: 64, alignment: 64)
            defer { out.deallocate() }
            var forwarded = 0
            run.ready.add(1, ordering: .releasing)
            while !run.go.load(ordering: .acquiring) {}
            template.withUnsafeBytes { t in
                for i in 0..<packets {
                    out.copyMemory(from: t.baseAddress!, byteCount: 60)
                    // 65,536 flows: the source port changes, which the IP checksum does not cover.
                    out.storeBytes(of: UInt16(truncatingIfNeeded: i).bigEndian, toByteOffset: 34, as: UInt16.self)
                    if case .forward = p.process(out, length: 60, checksumPending: false, now: 1, snapshot: run.snap.view) {
                        forwarded += 1
                    }
                }
            }
            run.finished[index] = now()
            precondition(forwarded == packets, "worker \(index): \(forwarded) of \(packets) forwarded")
        }
    }
    while run.ready.load(ordering: .acquiring) < threads {}
    let started = now()
    run.go.store(true, ordering: .releasing)
    for t in all { t.join() }
    let elapsed = (0..<threads).map { run.finished[$0] }.max()! - started
    return Double(threads * packets) / elapsed
}

/// DR flow hits over `flows` flows in random order, in batches of 64 frames as the worker takes
/// them from a ring, processed the worker's way (each batch's flow hints worked out and their
/// slots prefetched first) or without hints. The table is on huge pages, as the engine has it.
/// Returns ns per packet.
func batches(flows: Int, packets: Int, hinted: Bool) -> Double {
    let snap = snapshot(.dr)
    var config = PipelineConfig(sourceMAC: lbMAC, flowCapacity: flows, flowHashKey: .random())
    config.slotMemory = HugePages.slotMemory
    var p = Pipeline(config)
    let batch = 64
    let pool = 1 << 16
    // A pool of frames, each of a random flow among `flows` (client address and port vary).
    let frames = UnsafeMutableRawPointer.allocate(byteCount: pool * 64, alignment: 64)
    let out = UnsafeMutableRawPointer.allocate(byteCount: batch * 64, alignment: 64)
    let hints = UnsafeMutablePointer<FlowHint>.allocate(capacity: batch)
    defer { frames.deallocate(); out.deallocate(); hints.deallocate() }
    func flowFrame(_ f: Int) -> [UInt8] {
        frame(src: client &+ UInt32(f >> 16), dst: vip.value, sport: UInt16(truncatingIfNeeded: f), dport: 9)
    }
    var g = SystemRandomNumberGenerator()
    for i in 0..<pool {
        flowFrame(Int.random(in: 0..<flows, using: &g)).withUnsafeBytes {
            (frames + i * 64).copyMemory(from: $0.baseAddress!, byteCount: 60)
        }
    }
    // Every flow exists before the clock starts.
    for f in 0..<flows {
        flowFrame(f).withUnsafeBytes { out.copyMemory(from: $0.baseAddress!, byteCount: 60) }
        _ = p.process(out, length: 60, checksumPending: false, now: 0, snapshot: snap.view)
    }
    var forwarded = 0
    let start = now()
    for b in 0..<(packets / batch) {
        out.copyMemory(from: frames + (b * batch % pool) * 64, byteCount: batch * 64)
        if hinted {
            for i in 0..<batch { hints[i] = p.prefetchedFlowHint(out + i * 64, length: 60, snapshot: snap.view) }
        }
        for i in 0..<batch {
            if case .forward = p.process(out + i * 64, length: 60, checksumPending: false, now: 1, snapshot: snap.view,
                                         hint: hinted ? hints[i] : .none) {
                forwarded += 1
            }
        }
    }
    let elapsed = now() - start
    precondition(forwarded == packets / batch * batch && p.counters[.newFlows] == UInt64(flows),
                 "batches: \(forwarded) forwarded, \(p.counters[.newFlows]) flows")
    return elapsed * 1e9 / Double(forwarded)
}

/// One family's flow table (IPv4 slots, or IPv6 with `v6`) filled with `flows` flows: the RSS
/// it grew by per flow, and the mean lookup time over a million random hits. The pipeline's
/// FlowTable holds one of each; the IPv6 one is an eighth of the IPv4 one's capacity unless set.
func flowTable(flows: Int, memory: SlotMemory, v6: Bool = false) -> (bytesPerFlow: Double, lookupNanoseconds: Double) {
    func key(_ i: Int) -> FlowKey {
        v6 ? FlowKey(source: IPAddressBits(high: client6.high, low: UInt64(i >> 16)), destination: vip6,
                     sourcePort: UInt16(truncatingIfNeeded: i), destinationPort: 80, proto: IPProtocol.tcp)
           : FlowKey(source: 0xC612_0000 &+ UInt32(i >> 16), destination: vip.value,
                     sourcePort: UInt16(truncatingIfNeeded: i), destinationPort: 80, proto: IPProtocol.tcp)
    }
    func measure<S: FlowSlot>(_ t: inout FlowSlots<S>, before: Int) -> (Double, Double) {
        var expired: UInt64 = 0
        var evicted: UInt64 = 0
        for i in 0..<flows {
            let k = key(i)
            _ = t.insert(k, hash: t.hash(k), realID: 0, state: .established, now: 0, expired: &expired, evicted: &evicted)
        }
        let after = rssBytes()
        var g = SystemRandomNumberGenerator()
        let probes = (0..<1_000_000).map { _ in key(Int.random(in: 0..<flows, using: &g)) }
        let start = now()
        var found = 0
        for k in probes where t.lookup(k, hash: t.hash(k), now: 1, expired: &expired) != nil { found += 1 }
        let elapsed = now() - start
        precondition(found == probes.count)
        return (Double(after - before) / Double(flows), elapsed * 1e9 / Double(probes.count))
    }
    let before = rssBytes()
    if v6 {
        var t = FlowSlots<FlowEntry6>(capacity: flows, key: HashKey(k0: 3, k1: 4), memory: memory)
        return measure(&t, before: before)
    }
    var t = FlowSlots<FlowEntry>(capacity: flows, key: HashKey(k0: 3, k1: 4), memory: memory)
    return measure(&t, before: before)
}

func maglev() {
    print("| real servers | table build (ms) | flows moved when one is removed | when one is added |")
    print("|---|---|---|---|")
    for n in [10, 100, 1000] {
        func backends(_ count: Int) -> [Maglev.Backend] {
            (0..<count).map { Maglev.Backend(id: Int32($0), address: 0xC612_0100 + UInt32($0), port: 80, weight: 1,
                                             tableSize: Maglev.defaultTableSize, key: .defaultScheduling) }
        }
        let all = backends(n)
        let start = now()
        let table = Maglev.buildTable(all, size: Maglev.defaultTableSize)
        let build = (now() - start) * 1000
        let removed = Maglev.buildTable(all.filter { $0.id != 0 }, size: Maglev.defaultTableSize)
        let added = Maglev.buildTable(backends(n + 1), size: Maglev.defaultTableSize)
        var movedRemove = 0, movedAdd = 0
        let flows = 200_000
        for i in 0..<flows {
            let h = SipHash.hash(UInt64(i), 0x5eed, key: .defaultScheduling)
            let s = Maglev.slot(h, size: Maglev.defaultTableSize)
            if table[s] != removed[s] { movedRemove += 1 }
            if table[s] != added[s] { movedAdd += 1 }
        }
        func pct(_ x: Int) -> String { String(Double(Int(Double(x) / Double(flows) * 10_000)) / 100) + "%" }
        print("| \(n) | \(String(Double(Int(build * 100)) / 100)) | \(pct(movedRemove)) (ideal \(String(Double(Int(10_000.0 / Double(n))) / 100))%) | \(pct(movedAdd)) (ideal \(String(Double(Int(10_000.0 / Double(n + 1))) / 100))%) |")
    }
}

let args = Array(CommandLine.arguments.dropFirst())
func option(_ name: String, _ fallback: Int) -> Int {
    guard let i = args.firstIndex(of: name), i + 1 < args.count, let v = Int(args[i + 1]) else { return fallback }
    return v
}
func stringOption(_ name: String) -> String? {
    guard let i = args.firstIndex(of: name), i + 1 < args.count else { return nil }
    return args[i + 1]
}
switch args.first ?? "all" {
case "pipeline":
    let packets = option("--packets", 2_000_000)
    // The same capacity for runs that are compared (bench/micro.sh subtracts a 0-packet run).
    let capacity = option("--capacity", 1 << 22)
    for s in stringOption("--scenario").map({ [$0] }) ?? ["dr-hit", "dr-new", "nat-in", "nat-reply"] {
        let ns = pipeline(s, packets: packets, capacity: capacity)
        print("pipeline \(s): \(String(Double(Int(ns * 10)) / 10)) ns/packet over \(packets) packets")
    }
case "flowtable":
    // --huge-pages: the slots on transparent huge pages, as the engine allocates them.
    let huge = CommandLine.arguments.contains("--huge-pages")
    // --ipv6: the IPv6 table (72-byte slots) instead of the IPv4 one (36 bytes).
    let v6 = CommandLine.arguments.contains("--ipv6")
    for flows in stringOption("--flows").map({ [Int($0) ?? 1_000_000] }) ?? [1_000_000, 10_000_000] {
        let (bytes, ns) = flowTable(flows: flows, memory: huge ? HugePages.slotMemory : .heap, v6: v6)
        print("flowtable \(flows) \(v6 ? "IPv6 " : "")flows\(huge ? " on huge pages" : ""): \(String(Double(Int(bytes * 10)) / 10)) bytes/flow (RSS growth), lookup \(String(Double(Int(ns * 10)) / 10)) ns")
    }
case "maglev":
    maglev()
case "workers":
    let packets = option("--packets", 4_000_000)
    let most = option("--threads", Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    var one = 0.0
    for n in 1...max(1, most) {
        let pps = try workers(threads: n, packets: packets)
        if n == 1 { one = pps }
        print("workers \(n): \(Int(pps)) packets/s, \(String(Double(Int(pps / one * 100)) / 100)) x 1 worker")
    }
case "batches":
    let packets = option("--packets", 4_000_000)
    for flows in stringOption("--flows").map({ [Int($0) ?? 1_000_000] }) ?? [65_536, 1_000_000] {
        let plain = batches(flows: flows, packets: packets, hinted: false)
        let hinted = batches(flows: flows, packets: packets, hinted: true)
        func f(_ x: Double) -> String { String(Double(Int(x * 10)) / 10) }
        print("batches \(flows) flows: \(f(plain)) ns/packet without hints, \(f(hinted)) with prefetched hints")
    }
default:
    print("usage: switchyard-bench pipeline [--scenario dr-hit|dr-new|nat-in|nat-reply[-hinted]|dr6-hit|dr6-new|nat6-in|nat6-reply] [--packets N] | flowtable [--flows N] [--huge-pages] [--ipv6] | maglev | workers [--threads N] [--packets P] | batches [--flows N] [--packets P]")
    exit(2)
}
