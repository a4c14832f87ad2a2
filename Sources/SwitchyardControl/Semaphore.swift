// A counting semaphore (POSIX sem_t): how the checker runtime's threads wait for one another
// (a stop waiting for the loop's acknowledgement, the script pool waiting for work).
import Glibc

public final class Semaphore: @unchecked Sendable {
    // sem_t must not move once initialised, so it lives on the heap, not in the object's fields.
    private let sem: UnsafeMutablePointer<sem_t>

    public init(_ value: UInt32 = 0) {
        sem = .allocate(capacity: 1)
        sem.initialize(to: sem_t())
        sem_init(sem, 0, value)
    }

    deinit {
        sem_destroy(sem)
        sem.deinitialize(count: 1)
        sem.deallocate()
    }

    public func signal() { sem_post(sem) }

    public func wait() {
        while sem_wait(sem) != 0 && errno == EINTR {}
    }

    /// Waits at most `seconds`; false if the time ran out first.
    public func wait(seconds: Double) -> Bool {
        var deadline = timespec()
        clock_gettime(CLOCK_REALTIME, &deadline)
        let nanoseconds = Int(deadline.tv_nsec) + Int(seconds * 1e9)
        deadline.tv_sec += nanoseconds / 1_000_000_000
        deadline.tv_nsec = nanoseconds % 1_000_000_000
        while sem_timedwait(sem, &deadline) != 0 {
            if errno != EINTR { return false }
        }
        return true
    }
}
