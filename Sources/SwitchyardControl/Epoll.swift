// epoll, eventfd and pidfd for the checker loop, through CSwitchyard (Swift's Glibc module
// does not import <sys/epoll.h> or <sys/eventfd.h>; pidfd_open is a syscall shim there).
import CSwitchyard
import Glibc

enum Epoll {
    static let readable = EPOLLIN.rawValue
    static let writable = EPOLLOUT.rawValue
    static let add = EPOLL_CTL_ADD, delete = EPOLL_CTL_DEL, modify = EPOLL_CTL_MOD

    static func create() -> Int32 { epoll_create1(Int32(EPOLL_CLOEXEC)) }

    /// A descriptor that turns readable when the process exits, or -1.
    static func processFD(_ pid: pid_t) -> Int32 { sy_pidfd_open(pid) }

    /// Whether processFD works here (asked once, of our own process).
    static let hasProcessFD: Bool = {
        let fd = processFD(getpid())
        if fd >= 0 { close(fd) }
        return fd >= 0
    }()

    static func eventFD() -> Int32 { eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC)) }

    /// epoll_ctl with one event: `events` wanted, `token` handed back with them.
    static func control(_ epfd: Int32, _ op: Int32, _ fd: Int32, events: UInt32, token: UInt64) -> Int32 {
        var event = epoll_event(events: events, data: epoll_data_t(u64: token))
        return epoll_ctl(epfd, op, fd, &event)
    }

    /// A buffer for epoll_wait's events.
    struct Events {
        let capacity: Int
        let buffer: UnsafeMutablePointer<epoll_event>

        init(capacity: Int) {
            self.capacity = capacity
            buffer = .allocate(capacity: capacity)
        }

        func deallocate() { buffer.deallocate() }

        /// Waits up to `milliseconds` (-1: for ever); how many events arrived (0 on EINTR).
        func wait(_ epfd: Int32, milliseconds: Int32) -> Int {
            max(0, Int(epoll_wait(epfd, buffer, Int32(capacity), milliseconds)))
        }

        func events(_ i: Int) -> UInt32 { buffer[i].events }
        func token(_ i: Int) -> UInt64 { buffer[i].data.u64 }
    }
}
