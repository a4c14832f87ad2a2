// `switchyard adm -L` byte for byte against ipvsadm 1.31 (ipvsadm.c print_title,
// print_service_entry, print_largenum): --stats, --rate, --exact, the order, --nosort, -S, and
// a scraper that reads `-Ln --stats` as monitoring scripts read ipvsadm's.
@testable import SwitchyardControl
import SwitchyardCore
import XCTest

final class AdmRenderTests: XCTestCase {
    /// Two services given out of order (UDP first, a higher address first, real servers
    /// unsorted), so that the listing's order is ipvsadm's and not the table's.
    func table() throws -> ServiceTable {
        var t = ServiceTable()
        for line in [
            "-A -u 198.18.0.100:53 -s rr",
            "-a -u 198.18.0.100:53 -r 198.18.0.12:5353 -m -w 2",
            "-A -t 198.18.0.100:80 -s wlc -p 300 -M 255.255.255.0",
            "-a -t 198.18.0.100:80 -r 198.18.0.12 -g -w 1",
            "-a -t 198.18.0.100:80 -r 198.18.0.9 -g -w 3",
            "-A -t 10.0.0.1:443 -s mh",
        ] {
            _ = try t.execute(AdmCommand.parse(line.split(separator: " ").map(String.init)))
        }
        return t
    }

    /// Each real server's numbers from its address's last byte: large enough to need
    /// print_largenum's letters.
    func numbers(_ t: ServiceTable) -> (UInt32) -> RealNumbers {
        var byID: [UInt32: UInt8] = [:]
        for s in t.services {
            for r in s.reals { byID[r.id] = UInt8(truncatingIfNeeded: r.config.address.v4) }
        }
        return { id in
            var n = RealNumbers()
            guard let b = byID[id] else { return n }
            let k = UInt64(b)
            n.connections = 12_345 * k
            n.inPackets = 99_999_999 + k
            n.outPackets = 123_456_789 * k
            n.inBytes = 4_567_890_123 * k
            n.outBytes = 345_678_901_234_567 * k
            n.rates.cps = 1.6 * Double(k)
            n.rates.inPPS = 100_000_000 * Double(k)
            n.rates.outPPS = 12
            n.rates.inBPS = 150_000_000 * Double(k)
            n.rates.outBPS = 2_500_000_000
            return n
        }
    }

    func list(_ args: [String], _ t: ServiceTable) throws -> String {
        guard case .list(let options) = try AdmCommand.parse(args) else { throw XCTSkip("not a listing") }
        return AdmRender.list(t, options, numbers: numbers(t))
    }

    func testPrintLargeNumber() {
        // ipvsadm.c print_largenum, each boundary.
        let cases: [(UInt64, String, String)] = [
            (0, "        0", "        0"),
            (99_999_999, " 99999999", " 99999999"),
            (100_000_000, "  100000K", " 100000000"),
            (999_999_999, "  999999K", " 999999999"),
            (1_000_000_000, "    1000M", " 1000000000"),
            (99_999_999_999, "   99999M", " 99999999999"),
            (100_000_000_000, "     100G", " 100000000000"),
            (99_999_999_999_999, "   99999G", " 99999999999999"),
            (100_000_000_000_000, "     100T", " 100000000000000"),
            (UInt64.max, "18446744T", " 18446744073709551615"),
        ]
        for (value, short, exact) in cases {
            XCTAssertEqual(AdmRender.largeNumber(value, exact: false), short, "\(value)")
            XCTAssertEqual(AdmRender.largeNumber(value, exact: true), exact, "\(value) exact")
        }
    }

    /// ipvsadm compares addresses by a signed difference: 10.0.0.1 and 198.18.0.100 are more
    /// than 2^31 apart, so 10.0.0.1 comes after, as ipvsadm prints them.
    func testDefaultListingIsSortedByProtocolAddressAndPort() throws {
        XCTAssertEqual(try list(["-Ln"], table()), """
        IP Virtual Server version 1.2.1 (size=4096)
        Prot LocalAddress:Port Scheduler Flags
          -> RemoteAddress:Port           Forward Weight ActiveConn InActConn
        TCP  198.18.0.100:80 wlc persistent 300 mask 255.255.255.0
          -> 198.18.0.9:80                Route   3      0          0         
          -> 198.18.0.12:80               Route   1      0          0         
        TCP  10.0.0.1:443 mh
        UDP  198.18.0.100:53 rr
          -> 198.18.0.12:5353             Masq    2      0          0         

        """)
        XCTAssertLessThan(AdmRender.addressOrder(IPAddressBits(text: "198.18.0.9")!, IPAddressBits(text: "198.18.0.12")!), 0)
        XCTAssertLessThan(AdmRender.addressOrder(IPAddressBits(text: "198.18.0.100")!, IPAddressBits(text: "10.0.0.1")!), 0)
        XCTAssertLessThan(AdmRender.addressOrder(IPAddressBits(text: "10.0.0.1")!, IPAddressBits(text: "100.0.0.1")!), 0, "less than 2^31 apart: in order")
    }

    func testNoSortKeepsTheTablesOrder() throws {
        XCTAssertEqual(try list(["-Ln", "--nosort"], table()), """
        IP Virtual Server version 1.2.1 (size=4096)
        Prot LocalAddress:Port Scheduler Flags
          -> RemoteAddress:Port           Forward Weight ActiveConn InActConn
        UDP  198.18.0.100:53 rr
          -> 198.18.0.12:5353             Masq    2      0          0         
        TCP  198.18.0.100:80 wlc persistent 300 mask 255.255.255.0
          -> 198.18.0.12:80               Route   1      0          0         
          -> 198.18.0.9:80                Route   3      0          0         
        TCP  10.0.0.1:443 mh

        """)
    }

    func testStatsIsIpvsadmsTableWithLettersForLargeNumbers() throws {
        XCTAssertEqual(try list(["-Ln", "--stats"], table()), """
        IP Virtual Server version 1.2.1 (size=4096)
        Prot LocalAddress:Port               Conns   InPkts  OutPkts  InBytes OutBytes
          -> RemoteAddress:Port
        TCP  198.18.0.100:80                259245  200000K    2592M   95925M    7259T
          -> 198.18.0.9:80                  111105  100000K    1111M   41111M    3111T
          -> 198.18.0.12:80                 148140  100000K    1481M   54814M    4148T
        TCP  10.0.0.1:443                        0        0        0        0        0
        UDP  198.18.0.100:53                148140  100000K    1481M   54814M    4148T
          -> 198.18.0.12:5353               148140  100000K    1481M   54814M    4148T

        """)
    }

    func testStatsWinsOverRateAsInIpvsadm() throws {
        let t = try table()
        XCTAssertEqual(try list(["-Ln", "--stats", "--rate"], t), try list(["-Ln", "--stats"], t))
        XCTAssertEqual(try list(["-Ln", "--rate", "--stats"], t), try list(["-Ln", "--stats"], t))
    }

    func testRateColumnsAsIpvsadmPrintsThem() throws {
        // A service line goes through print_largenum; a real server's CPS and packet rates are
        // " %8llu" (never shortened, so a wide one pushes the line), its byte rates largenum.
        XCTAssertEqual(try list(["-Ln", "--rate"], table()), """
        IP Virtual Server version 1.2.1 (size=4096)
        Prot LocalAddress:Port                 CPS    InPPS   OutPPS    InBPS   OutBPS
          -> RemoteAddress:Port
        TCP  198.18.0.100:80                    34    2100M       24    3150M    5000M
          -> 198.18.0.9:80                      14 900000000       12    1350M    2500M
          -> 198.18.0.12:80                     19 1200000000       12    1800M    2500M
        TCP  10.0.0.1:443                        0        0        0        0        0
        UDP  198.18.0.100:53                    19    1200M       12    1800M    2500M
          -> 198.18.0.12:5353                   19 1200000000       12    1800M    2500M

        """)
    }

    func testExactPrintsWholeNumbers() throws {
        XCTAssertEqual(try list(["-Ln", "--stats", "--exact", "-t", "198.18.0.100:53"].map { $0 == "-t" ? "-u" : $0 }, table()), """
        Prot LocalAddress:Port               Conns   InPkts  OutPkts  InBytes OutBytes
          -> RemoteAddress:Port
        UDP  198.18.0.100:53                148140 100000011 1481481468 54814681476 4148146814814804
          -> 198.18.0.12:5353               148140 100000011 1481481468 54814681476 4148146814814804

        """)
        XCTAssertEqual(try list(["-LnX", "--stats"], table()), try list(["-Ln", "--exact", "--stats"], table()))
    }

    func testThresholdsAreZeroAsForARealServerWithoutThem() throws {
        XCTAssertEqual(try list(["-Ln", "--thresholds", "-t", "198.18.0.100:80"], table()), """
        Prot LocalAddress:Port            Uthreshold Lthreshold ActiveConn InActConn 
          -> RemoteAddress:Port
        TCP  198.18.0.100:80 wlc persistent 300 mask 255.255.255.0
          -> 198.18.0.9:80                0          0          0          0         
          -> 198.18.0.12:80               0          0          0          0         

        """)
    }

    func testSaveListsWhatListLists() throws {
        XCTAssertEqual(AdmRender.save(try table()), """
        -A -t 198.18.0.100:80 -s wlc -p 300 -M 255.255.255.0
        -a -t 198.18.0.100:80 -r 198.18.0.9:80 -g -w 3
        -a -t 198.18.0.100:80 -r 198.18.0.12:80 -g -w 1
        -A -t 10.0.0.1:443 -s mh
        -A -u 198.18.0.100:53 -s rr
        -a -u 198.18.0.100:53 -r 198.18.0.12:5353 -m -w 2

        """)
    }

    /// What `ipvsadm -Ln --stats` scrapers do (keepalived exporters, zabbix-ipvsadm and the
    /// like): skip the three header lines, split each line at whitespace, take a line that
    /// starts with TCP/UDP as a service and one with "->" as its real server, and expand a
    /// K/M/G/T suffix. The numbers they get are the table's, to ipvsadm's precision.
    func testAScraperReadsTheSameNumbers() throws {
        let t = try table()
        let n = numbers(t)
        let text = try list(["-Ln", "--stats"], t)
        func expand(_ word: Substring) -> UInt64? {
            let factor: [Character: UInt64] = ["K": 1000, "M": 1_000_000, "G": 1_000_000_000, "T": 1_000_000_000_000]
            if let last = word.last, let f = factor[last] { return UInt64(word.dropLast()).map { $0 * f } }
            return UInt64(word)
        }
        var scraped: [String: [UInt64]] = [:]
        var service = ""
        for line in text.split(separator: "\n").dropFirst(3) {
            let words = line.split(whereSeparator: { $0 == " " })
            let values = words.suffix(5).compactMap(expand)
            XCTAssertEqual(values.count, 5, String(line))
            if words[0] == "->" {
                scraped[service + " " + words[1]] = values
            } else {
                service = words[0] + " " + words[1]
                scraped[service] = values
            }
        }
        // What ipvsadm's letters keep of a number: print_largenum cuts, it does not round.
        func truncated(_ v: UInt64) -> UInt64 {
            switch v {
            case ..<100_000_000: return v
            case ..<1_000_000_000: return v / 1000 * 1000
            case ..<100_000_000_000: return v / 1_000_000 * 1_000_000
            case ..<100_000_000_000_000: return v / 1_000_000_000 * 1_000_000_000
            default: return v / 1_000_000_000_000 * 1_000_000_000_000
            }
        }
        XCTAssertEqual(scraped.count, 6)
        for s in t.services {
            var total = RealNumbers()
            for r in s.reals {
                let m = n(r.id)
                total = total + m
                let name = "\(s.key.protocolName) \(s.key.vip):\(s.key.port) \(r.config.address):\(r.config.port)"
                XCTAssertEqual(scraped[name], [m.connections, m.inPackets, m.outPackets, m.inBytes, m.outBytes].map(truncated),
                               name)
            }
            let name = "\(s.key.protocolName) \(s.key.vip):\(s.key.port)"
            XCTAssertEqual(scraped[name], [total.connections, total.inPackets, total.outPackets, total.inBytes,
                                           total.outBytes].map(truncated), name)
        }
        // With --exact every number comes back whole.
        let exact = try list(["-Ln", "--stats", "--exact"], t)
        let line = exact.split(separator: "\n").first { $0.hasPrefix("  -> 198.18.0.9:80") }!
        XCTAssertEqual(line.split(separator: " ").suffix(5).compactMap(expand),
                       [111_105, 100_000_008, 1_111_111_101, 41_111_011_107, 3_111_110_111_111_103])
    }

    func testAWideServiceLineIsPaddedToIpvsadmsColumns() {
        var t = ServiceTable()
        _ = try? t.execute(.addService(ServiceKey(proto: IPProtocol.tcp, vip: IPAddressBits(text: "198.118.100.100")!, port: 65_535),
                                       scheduler: .roundRobin, persistence: nil, mask: nil))
        var options = AdmCommand.ListOptions()
        options.stats = true
        // "TCP  198.118.100.100:65535" is 26 characters: under 33, padded.
        XCTAssertTrue(AdmRender.list(t, options, numbers: { _ in RealNumbers() })
            .contains("TCP  198.118.100.100:65535               0        0        0        0        0\n"))
    }
}
