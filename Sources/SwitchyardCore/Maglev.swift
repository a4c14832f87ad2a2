// Maglev consistent hashing: Eisenbud et al., "Maglev: A Fast and Reliable Software Network
// Load Balancer", NSDI 2016, §3.4 (Pseudocode 1). Each backend i has a permutation of the M
// table slots, permutation[i][j] = (offset_i + j × skip_i) mod M with M prime; backends take
// turns claiming their next unclaimed preferred slot until the table is full. Weights follow
// Linux's ip_vs_mh.c: a backend takes weight/gcd turns per round, so its share of slots is
// proportional to its weight. A backend of weight 0 takes no slots (quiescent).

public enum Maglev {
    /// The default table size: prime, and large enough that 1000 backends get ~65 slots each.
    public static let defaultTableSize = 65537

    /// A backend as Maglev sees it: a stable name hash pair and a weight.
    public struct Backend: Sendable {
        /// What the backend's table entries hold (a real server ID).
        public var id: Int32
        /// What the backend is called on every balancer alike (its address and port, or a hash
        /// of them): the order backends take their turns in, which ids do not give, since each
        /// balancer numbers its real servers in the order it learned them.
        public var name: UInt64
        /// offset and skip come from two independent hashes of the backend's name.
        public var offset: Int
        public var skip: Int
        public var weight: Int

        /// A backend named by its address and port, hashed with `key` so that every LB using
        /// the same key and backend set builds the same table.
        public init(id: Int32, address: UInt32, port: UInt16, weight: Int, tableSize: Int, key: HashKey) {
            self.init(id: id, name: UInt64(address) << 16 | UInt64(port), weight: weight, tableSize: tableSize, key: key)
        }

        /// A backend of either family: an IPv4 one named as above (its tables stay what they
        /// were before IPv6 came), an IPv6 one by a hash of its address, port and family.
        public init(id: Int32, address: IPAddressBits, port: UInt16, weight: Int, tableSize: Int, key: HashKey) {
            let name = address.isV4 ? UInt64(address.v4) << 16 | UInt64(port)
                                    : SipHash.hash(address.high, address.low, UInt64(port), 6, 0, key: key)
            self.init(id: id, name: name, weight: weight, tableSize: tableSize, key: key)
        }

        init(id: Int32, name: UInt64, weight: Int, tableSize: Int, key: HashKey) {
            self.id = id
            self.name = name
            self.offset = Int(SipHash.hash(name, 0x6f66_6673_6574, key: key) % UInt64(tableSize))
            self.skip = Int(SipHash.hash(name, 0x736b_6970, key: key) % UInt64(tableSize - 1)) + 1
            self.weight = weight
        }
    }

    /// True if n is prime (table sizes are checked at config time).
    public static func isPrime(_ n: Int) -> Bool {
        if n < 2 { return false }
        if n % 2 == 0 { return n == 2 }
        var d = 3
        while d * d <= n {
            if n % d == 0 { return false }
            d += 2
        }
        return true
    }

    static func gcd(_ a: Int, _ b: Int) -> Int { b == 0 ? a : gcd(b, a % b) }

    /// Builds a lookup table of `size` (prime) entries; each holds a backend id, or -1 when no
    /// backend has a positive weight. Neither the order of `backends` nor their ids matter: two
    /// balancers with the same key, backends and weights put the same backend in every slot
    /// (what keeps a flow's real server when an ECMP router moves the flow between them).
    public static func buildTable(_ backends: [Backend], size: Int) -> [Int32] {
        precondition(isPrime(size), "Maglev table size must be prime")
        // Turns go in the order of the backends' names (ties, which only two IPv6 backends
        // whose hashes collide could make, by id).
        let live = backends.filter { $0.weight > 0 }.sorted { ($0.name, $0.id) < ($1.name, $1.id) }
        var table = [Int32](repeating: -1, count: size)
        guard !live.isEmpty else { return table }
        let g = live.map(\.weight).reduce(0, gcd)
        let turns = live.map { $0.weight / g }
        var next = [Int](repeating: 0, count: live.count)
        var filled = 0
        while true {
            for (i, b) in live.enumerated() {
                for _ in 0..<turns[i] {
                    var c = (b.offset + next[i] * b.skip) % size
                    while table[c] >= 0 {
                        next[i] += 1
                        c = (b.offset + next[i] * b.skip) % size
                    }
                    table[c] = b.id
                    next[i] += 1
                    filled += 1
                    if filled == size { return table }
                }
            }
        }
    }

    /// Maps a 64-bit hash onto [0, size) with a multiply and shift instead of a division
    /// (Lemire's "fast range"; uniform enough for any size far below 2^32).
    @inline(__always)
    public static func slot(_ hash: UInt64, size: Int) -> Int {
        Int((UInt64(UInt32(truncatingIfNeeded: hash ^ hash >> 32)) &* UInt64(size)) >> 32)
    }
}
