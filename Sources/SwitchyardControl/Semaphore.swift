// A counting semaphore (POSIX sem_t): how the checker runtime's threads wait for one another
// (a stop waiting for the loop's acknowledgement, the script pool waiting for work).
import Glibc

final class Semaphore: @unchecked Sendable {
    // sem_t must not move once initialised, so it lives on the heap, not in the object's fields.
    private let sem: UnsafeMutablePointer<sem_t>

    init(_ value: UInt32 = 0) {
        sem = .allocate(capacity: 1)
        sem.initialize(to: sem_t())
        sem_init(sem, 0, value)
    }

    deinit {
        sem_destroy(sem)
        sem.deinitialize(count: 1)
        sem.deallocate()
    }

    func signal() { sem_post(sem) }

    func wait() {
        while sem_wait(sem) != 0 && errno == EINTR {}
    }
}
