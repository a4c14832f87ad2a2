// A value behind a pthread mutex, for state the control plane shares between threads.

import Glibc

/// A value behind a lock, for the control plane's shared state (the workers' packet path takes
/// none). A pthread mutex rather than the Synchronization module's Mutex: that module is not
/// built for ThreadSanitizer, which then sees no order between two threads' critical sections
/// and reports every value such a lock guards; TSan intercepts pthread_mutex_lock and unlock, so
/// a whole-daemon TSan run (scripts/test.sh) reports only real races.
public final class Locked<Value>: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private var value: Value

    public init(_ value: Value) {
        self.value = value
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deinitialize(count: 1)
        mutex.deallocate()
    }

    @inline(__always)
    public func withLock<Result>(_ body: (inout Value) throws -> Result) rethrows -> Result {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value)
    }
}
