// epoll, eventfd and pidfd for the checker loop. Swift's Glibc module does not import
// <sys/epoll.h>, <sys/eventfd.h> or <sys/pidfd.h> (swift-nio carries a C shim for them), so the
// calls are bound by name from the C library at first use and struct epoll_event is laid out by
// hand. If CSwitchyard.h ever includes those headers, this file shrinks to nothing.
import Glibc

enum Epoll {
    // The kernel's values (uapi/linux/eventpoll.h, fcntl.h); the same on every Linux architecture.
    static let readable: UInt32 = 0x001 // EPOLLIN
    static let writable: UInt32 = 0x004 // EPOLLOUT
    static let add: Int32 = 1, delete: Int32 = 2, modify: Int32 = 3
    static let closeOnExec = Int32(O_CLOEXEC) // EPOLL_CLOEXEC, EFD_CLOEXEC
    static let nonblocking = Int32(O_NONBLOCK) // EFD_NONBLOCK

    // struct epoll_event { uint32_t events; epoll_data_t data; } is packed on x86-64 only.
    #if arch(x86_64)
    static let eventSize = 12, dataOffset = 4
    #else
    static let eventSize = 16, dataOffset = 8
    #endif

    private typealias Create = @convention(c) (Int32) -> Int32
    private typealias Control = @convention(c) (Int32, Int32, Int32, UnsafeMutableRawPointer?) -> Int32
    private typealias Wait = @convention(c) (Int32, UnsafeMutableRawPointer?, Int32, Int32) -> Int32
    private typealias EventFD = @convention(c) (UInt32, Int32) -> Int32

    private static func bind<F>(_ name: String, as type: F.Type) -> F {
        // dlsym with a null handle (RTLD_DEFAULT) searches the C library the process already has.
        guard let symbol = dlsym(nil, name) else { fatalError("the C library has no \(name)") }
        return unsafeBitCast(symbol, to: type)
    }

    private static let createFunction = bind("epoll_create1", as: Create.self)
    private static let controlFunction = bind("epoll_ctl", as: Control.self)
    private static let waitFunction = bind("epoll_wait", as: Wait.self)
    private static let eventFunction = bind("eventfd", as: EventFD.self)

    static func create() -> Int32 { createFunction(closeOnExec) }

    private typealias PidFDOpen = @convention(c) (pid_t, UInt32) -> Int32
    /// glibc 2.36 and later; the kernel since 5.3.
    private static let pidfdFunction: PidFDOpen? = dlsym(nil, "pidfd_open").map { unsafeBitCast($0, to: PidFDOpen.self) }

    /// A descriptor that turns readable when the process exits, or -1.
    static func processFD(_ pid: pid_t) -> Int32 { pidfdFunction?(pid, 0) ?? -1 }

    /// Whether processFD works here (asked once, of our own process).
    static let hasProcessFD: Bool = {
        let fd = processFD(getpid())
        if fd >= 0 { close(fd) }
        return fd >= 0
    }()

    static func eventFD() -> Int32 { eventFunction(0, nonblocking | closeOnExec) }

    /// epoll_ctl with one event: `events` wanted, `token` handed back with them.
    static func control(_ epfd: Int32, _ op: Int32, _ fd: Int32, events: UInt32, token: UInt64) -> Int32 {
        var raw = (UInt64(0), UInt64(0))
        return withUnsafeMutableBytes(of: &raw) { b in
            b.storeBytes(of: events, toByteOffset: 0, as: UInt32.self)
            b.storeBytes(of: token, toByteOffset: dataOffset, as: UInt64.self)
            return controlFunction(epfd, op, fd, b.baseAddress)
        }
    }

    /// A buffer for epoll_wait's events.
    struct Events {
        let capacity: Int
        let buffer: UnsafeMutableRawBufferPointer

        init(capacity: Int) {
            self.capacity = capacity
            buffer = .allocate(byteCount: capacity * Epoll.eventSize, alignment: 8)
        }

        func deallocate() { buffer.deallocate() }

        /// Waits up to `milliseconds` (-1: for ever); how many events arrived (0 on EINTR).
        func wait(_ epfd: Int32, milliseconds: Int32) -> Int {
            max(0, Int(Epoll.waitFunction(epfd, buffer.baseAddress, Int32(capacity), milliseconds)))
        }

        func events(_ i: Int) -> UInt32 { buffer.loadUnaligned(fromByteOffset: i * Epoll.eventSize, as: UInt32.self) }
        func token(_ i: Int) -> UInt64 {
            buffer.loadUnaligned(fromByteOffset: i * Epoll.eventSize + Epoll.dataOffset, as: UInt64.self)
        }
    }
}
