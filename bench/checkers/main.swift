// The health checkers' load benchmark (bench/checkers.sh runs it): N TCP_CHECK checkers at
// delay_loop 1 against listeners on 127.0.1.x, reporting threads, CPU share, RSS and how late
// each check started against its due time. Loopback only; every run ends by itself.
//
//   switchyard-checkbench serve LISTENERS PORT           accepts and closes, until killed
//   switchyard-checkbench run loop|threads N SECONDS LISTENERS PORT
//
// `loop` is HealthMonitor (one event loop); `threads` is the design it replaced, rebuilt here
// from its own parts (a thread per checker sleeping in 100 ms slices, then a blocking probe),
// so both can be measured on one build.
import Glibc
import SwitchyardControl
import SwitchyardCore
import SwitchyardIO

func fail(_ message: String) -> Never {
    let line = Array("switchyard-checkbench: \(message)\n".utf8)
    _ = line.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    exit(2)
}

func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

/// The listeners' addresses: 127.0.1.1, 127.0.1.2, …; many destination addresses spread the
/// connections over many 4-tuples, so tens of thousands a second do not run out of ports.
func listenerAddress(_ i: Int) -> IPv4Address { IPv4Address(0x7F00_0100 + UInt32(i + 1)) }

// MARK: serve

func serve(listeners: Int, port: UInt16) -> Never {
    var fds: [pollfd] = []
    for i in 0..<listeners {
        let s = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        var one: Int32 = 1
        setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var sin = sockaddr_in()
        sin.sin_family = sa_family_t(AF_INET)
        sin.sin_port = port.bigEndian
        sin.sin_addr.s_addr = listenerAddress(i).value.bigEndian
        let rc = withUnsafePointer(to: &sin) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(s, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard rc == 0, listen(s, 4096) == 0 else { fail("cannot listen on \(listenerAddress(i)):\(port): \(String(cString: strerror(errno)))") }
        fds.append(pollfd(fd: s, events: Int16(POLLIN), revents: 0))
    }
    // Unbuffered, so the script waiting for it sees it at once.
    let line = Array("serving \(listeners) listeners on port \(port)\n".utf8)
    _ = line.withUnsafeBytes { write(1, $0.baseAddress, $0.count) }
    while true {
        guard poll(&fds, nfds_t(fds.count), 1000) > 0 else { continue }
        for i in fds.indices where fds[i].revents != 0 {
            while true {
                let c = accept(fds[i].fd, nil, nil)
                if c < 0 { break }
                close(c)
            }
        }
    }
}

// MARK: measuring

/// Lateness in 0.1 ms buckets up to 10 s (and the exact maximum): percentiles without keeping
/// every sample, so the measuring does not swell the RSS it reports.
final class Histogram: @unchecked Sendable {
    private static let buckets = 100_000
    private let counts = Locked<([Int], max: Double, total: Int)>((Array(repeating: 0, count: Histogram.buckets), 0, 0))

    func add(_ seconds: Double) {
        let b = min(Histogram.buckets - 1, max(0, Int(seconds * 10_000)))
        counts.withLock { $0.0[b] += 1; $0.max = max($0.max, seconds); $0.total += 1 }
    }

    var total: Int { counts.withLock { $0.total } }

    /// Milliseconds: median, p99, max.
    func summary() -> (Double, Double, Double) {
        counts.withLock { c in
            func quantile(_ q: Double) -> Double {
                let rank = Int((Double(c.total) * q).rounded(.up))
                var seen = 0
                for (i, n) in c.0.enumerated() {
                    seen += n
                    if seen >= max(rank, 1) { return Double(i + 1) / 10 }
                }
                return c.max * 1000
            }
            return (quantile(0.5), quantile(0.99), c.max * 1000)
        }
    }
}

/// /proc/self: threads, RSS (kB), CPU seconds (user + system) and the user part so far.
func processSample() -> (threads: Int, rssKB: Int, cpu: Double, user: Double) {
    var threads = 0, rss = 0
    if let f = fopen("/proc/self/status", "r") {
        var line = [CChar](repeating: 0, count: 256)
        while fgets(&line, 256, f) != nil {
            let s = line.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
            let value = Int(s.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).dropFirst().first ?? "") ?? 0
            if s.hasPrefix("Threads:") { threads = value }
            if s.hasPrefix("VmRSS:") { rss = value }
        }
        fclose(f)
    }
    var cpu = 0.0, user = 0.0
    if let f = fopen("/proc/self/stat", "r") {
        var line = [CChar](repeating: 0, count: 1024)
        if fgets(&line, 1024, f) != nil {
            // Fields after the ")" that closes the command name: utime and stime are 14 and 15.
            let s = line.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
            if let close = s.lastIndex(of: ")") {
                let fields = s[s.index(after: close)...].split(separator: " ")
                let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
                user = (Double(fields[11]) ?? 0) / ticks
                cpu = user + (Double(fields[12]) ?? 0) / ticks
            }
        }
        fclose(f)
    }
    return (threads, rss, cpu, user)
}

/// Seconds the process's threads have spent runnable but waiting for a core (schedstat's second
/// field, summed over /proc/self/task): on a shared machine, the part of lateness that is not ours.
func runQueueWait() -> Double {
    guard let d = opendir("/proc/self/task") else { return 0 }
    defer { closedir(d) }
    var total = 0.0
    while let e = readdir(d) {
        let name = withUnsafeBytes(of: e.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        guard name.first != "." , let f = fopen("/proc/self/task/\(name)/schedstat", "r") else { continue }
        var line = [CChar](repeating: 0, count: 128)
        if fgets(&line, 128, f) != nil {
            let fields = line.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }.split(separator: " ")
            if fields.count >= 2 { total += (Double(fields[1]) ?? 0) / 1e9 }
        }
        fclose(f)
    }
    return total
}

// MARK: run

func run(mode: String, checkers n: Int, seconds: Double, listeners: Int, port: UInt16) {
    // The load, written as an operator would: services of ten real servers each.
    var text = ""
    for service in 0..<(n + 9) / 10 {
        text += "virtual_server 198.18.\(service / 250).\(service % 250 + 1) 80 {\n    delay_loop 1\n    lb_kind DR\n"
        for k in 0..<min(10, n - service * 10) {
            text += "    real_server \(listenerAddress((service * 10 + k) % listeners)) \(port) {\n"
                + "        TCP_CHECK {\n            connect_timeout 3\n            retry 1\n            delay_before_retry 1\n"
                + "            warmup 1\n        }\n    }\n"
        }
        text += "}\n"
    }
    let config: Config
    do { config = try Config.parse(text, path: "bench.conf") } catch { fail("the generated config: \(error)") }
    var work: [(HealthMonitor.Target, CheckerConfig)] = []
    for (s, service) in config.services.enumerated() {
        for real in service.reals {
            let target = HealthMonitor.Target(serviceID: UInt32(s), realID: UInt32(work.count), address: real.address, port: real.port)
            work.append((target, real.checkers[0]))
        }
    }
    precondition(work.count == n)
    let lateness = Histogram()
    let downs = Locked(0)
    let report: HealthMonitor.Report = { _, _, up, result in
        if !up { downs.withLock { $0 += 1 } }
        if !up, downs.withLock({ $0 }) <= 3 { print("down: \(result)") }
    }
    let started = now()
    var stopAll: () -> Void = {}
    switch mode {
    case "loop":
        let monitor = HealthMonitor(report: report, lateness: lateness.add)
        for (t, checker) in work {
            do { try monitor.start(t, checkers: [checker], startUp: true) } catch { fail("start: \(error)") }
        }
        stopAll = { monitor.stopAll() }
    case "threads":
        let stop = StopFlag()
        let clock = SystemCheckClock()
        var threads: [OSThread] = []
        for (t, checker) in work {
            let timing = checker.timing
            do {
                threads.append(try OSThread(name: "sy-check") {
                    // HealthMonitor.loop as it ran on each checker's thread, timed at each wake-up.
                    var progress = CheckProgress(timing: timing, startUp: true, start: clock.now(),
                                                 warmupDelay: Double.random(in: 0...timing.warmup))
                    while clock.sleep(until: progress.nextRun, stop: stop) {
                        lateness.add(clock.now() - progress.nextRun)
                        let result = HealthProbes.run(checker, address: t.address, port: t.port)
                        if stop.isRaised { return }
                        if let up = progress.record(result, at: clock.now()) { report(t, 0, up, result) }
                    }
                })
            } catch { fail("thread \(threads.count + 1): \(error)") }
        }
        stopAll = {
            stop.raise()
            threads.forEach { $0.join() }
        }
    default: fail("mode is loop or threads")
    }
    // Measure the steady state: from two seconds in (after the warmup spread) to the end.
    let setup = now() - started
    let settle = max(0, started + 2 - now())
    usleep(UInt32(settle * 1_000_000))
    let first = processSample()
    let waitedBefore = runQueueWait()
    let t0 = now()
    let checksBefore = lateness.total
    var maxThreads = first.threads, maxRSS = first.rssKB
    while now() - started < seconds {
        usleep(500_000)
        let s = processSample()
        maxThreads = max(maxThreads, s.threads)
        maxRSS = max(maxRSS, s.rssKB)
    }
    let last = processSample()
    let waited = runQueueWait() - waitedBefore
    let wall = now() - t0
    let checks = lateness.total - checksBefore
    let (median, p99, worst) = lateness.summary()
    stopAll()
    let cpu = (last.cpu - first.cpu) / wall
    let user = (last.user - first.user) / wall
    // CPU per check does not depend on how busy the machine is; on loopback it includes the
    // kernel's work for the listening side of each handshake too (it runs in our softirq).
    let perCheck = checks > 0 ? (last.cpu - first.cpu) / Double(checks) * 1e6 : 0
    let fields = ["\(mode)", "checkers=\(n)", "threads=\(maxThreads)",
                  "cpu=\(tenths(cpu * 100))%(user \(tenths(user * 100))%)", "cpu_us/check=\(tenths(perCheck))",
                  "runqueue_wait=\(tenths(waited / wall * 100))%", "rss=\(tenths(Double(maxRSS) / 1024))MB", "checks/s=\(Int(Double(checks) / wall))",
                  "late_ms_median=\(tenths(median))", "p99=\(tenths(p99))", "max=\(tenths(worst))",
                  "downs=\(downs.withLock { $0 })", "setup_s=\(tenths(setup))"]
    print(fields.joined(separator: " "))
}

/// One decimal, without Foundation's formatting.
func tenths(_ x: Double) -> String {
    let t = Int((x * 10).rounded())
    return "\(t / 10).\(abs(t % 10))"
}

let args = CommandLine.arguments
switch args.dropFirst().first {
case "serve" where args.count == 4:
    serve(listeners: Int(args[2]) ?? 0, port: UInt16(args[3]) ?? 0)
case "run" where args.count == 7:
    guard let n = Int(args[3]), let seconds = Double(args[4]), let listeners = Int(args[5]), let port = UInt16(args[6]) else {
        fail("run loop|threads N SECONDS LISTENERS PORT")
    }
    run(mode: args[2], checkers: n, seconds: seconds, listeners: listeners, port: port)
default:
    fail("usage: serve LISTENERS PORT | run loop|threads N SECONDS LISTENERS PORT")
}
