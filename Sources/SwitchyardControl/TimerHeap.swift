// A min-heap of timers: what the checker event loop runs next, earliest first.

/// A binary min-heap of (due time, payload). Ties leave in insertion order, so checkers due at
/// the same moment run in the order they were scheduled and none starves. Entries are never
/// removed from the middle: the owner checks on pop whether an entry still stands (a stopped
/// checker's timer just falls out when its time comes), which keeps push and pop O(log n).
struct TimerHeap<Payload> {
    private var items: [(due: Double, order: UInt64, payload: Payload)] = []
    private var pushed: UInt64 = 0

    var count: Int { items.count }
    var isEmpty: Bool { items.isEmpty }
    /// The earliest entry, still in the heap.
    var first: (due: Double, payload: Payload)? { items.first.map { ($0.due, $0.payload) } }

    mutating func push(_ due: Double, _ payload: Payload) {
        pushed += 1
        items.append((due, pushed, payload))
        var child = items.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard earlier(child, than: parent) else { break }
            items.swapAt(child, parent)
            child = parent
        }
    }

    /// Takes the earliest entry out.
    mutating func pop() -> (due: Double, payload: Payload)? {
        guard !items.isEmpty else { return nil }
        items.swapAt(0, items.count - 1)
        let top = items.removeLast()
        var parent = 0
        while true {
            let left = 2 * parent + 1, right = left + 1
            var smallest = parent
            if left < items.count && earlier(left, than: smallest) { smallest = left }
            if right < items.count && earlier(right, than: smallest) { smallest = right }
            if smallest == parent { break }
            items.swapAt(parent, smallest)
            parent = smallest
        }
        return (top.due, top.payload)
    }

    /// Drops every entry (their owners forget them too).
    mutating func removeAll() { items.removeAll() }

    private func earlier(_ a: Int, than b: Int) -> Bool {
        items[a].due < items[b].due || (items[a].due == items[b].due && items[a].order < items[b].order)
    }
}
