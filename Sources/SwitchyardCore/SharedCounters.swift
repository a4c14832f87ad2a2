import Synchronization

// Counters that one thread writes and others read (per-worker rows of the real servers' traffic
// and connection counts, the workers' published engine counters). Their words are Atomic and
// accessed with relaxed loads and stores: plain moves on x86-64 and arm64, so the writer pays no
// locked instruction, and a reader's view of a word being written is defined (a plain read of
// it would be a data race, as ThreadSanitizer reports). Only one thread writes a row, so an
// increment is a load and a store, not a read-modify-write. (One extension per width: Atomic's
// load and store are declared per representation, so one generic over FixedWidthInteger does
// not compile.)

extension Atomic where Value == UInt64 {
    /// Adds `n`; only for the word's one writer.
    @inline(__always)
    public func soleWriterAdd(_ n: UInt64) { store(load(ordering: .relaxed) &+ n, ordering: .relaxed) }
}

extension Atomic where Value == Int32 {
    /// Adds `n`; only for the word's one writer.
    @inline(__always)
    public func soleWriterAdd(_ n: Int32) { store(load(ordering: .relaxed) &+ n, ordering: .relaxed) }
}

/// `count` zeroed atomic words.
public func allocateZeroedAtomics<V: AtomicRepresentable & ExpressibleByIntegerLiteral>(count: Int)
    -> UnsafeMutablePointer<Atomic<V>> {
    let words = UnsafeMutablePointer<Atomic<V>>.allocate(capacity: count)
    for i in 0..<count { (words + i).initialize(to: Atomic(0)) }
    return words
}

/// Frees words from `allocateZeroedAtomics`.
public func deallocateAtomics<V: AtomicRepresentable>(_ words: UnsafeMutablePointer<Atomic<V>>, count: Int) {
    words.deinitialize(count: count)
    words.deallocate()
}
