// Threads and signals: the engine's OS threads, the CPUs it may use, and the main thread's
// wait for signals.

import CSwitchyard
import Glibc

/// A joinable OS thread. The engine's workers are long-lived and pinned to their loops, so
/// they are plain pthreads rather than tasks on a shared pool.
public final class OSThread: @unchecked Sendable {
    private var handle = pthread_t()

    private final class Box {
        let body: @Sendable () -> Void
        init(_ body: @escaping @Sendable () -> Void) { self.body = body }
    }

    public init(name: String, _ body: @escaping @Sendable () -> Void) throws {
        let threadName = String(name.prefix(15))
        let box = Unmanaged.passRetained(Box({
            // Thread names show in top -H and ps; the kernel allows 15 characters.
            sy_thread_set_name(threadName)
            body()
        })).toOpaque()
        let rc = pthread_create(&handle, nil, { arg in
            let box = Unmanaged<Box>.fromOpaque(arg!).takeRetainedValue()
            box.body()
            return nil
        }, box)
        guard rc == 0 else {
            Unmanaged<Box>.fromOpaque(box).release()
            throw SystemError("pthread_create", errno: rc)
        }
    }

    public func join() { pthread_join(handle, nil) }

    /// Runs `body` on a thread nobody waits for (notify scripts).
    public static func detached(name: String, _ body: @escaping @Sendable () -> Void) {
        guard let t = try? OSThread(name: name, body) else { return }
        pthread_detach(t.handle)
    }
}

/// How many CPUs this process may run on (its affinity: taskset, systemd's CPUAffinity, a
/// cpuset), else how many are online.
public func allowedCPUCount() -> Int {
    let allowed = Int(sy_allowed_cpus())
    return allowed > 0 ? allowed : max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
}

/// Blocks the signals the main thread waits for, so that threads started afterwards inherit the
/// mask and the signals reach only sigtimedwait in the main thread.
public func blockSignals(_ signals: [Int32]) -> sigset_t {
    var set = sigset_t()
    sigemptyset(&set)
    for s in signals { sigaddset(&set, s) }
    pthread_sigmask(SIG_BLOCK, &set, nil)
    return set
}

/// Waits up to `milliseconds` for one of the blocked signals; returns it, or nil on timeout.
public func waitForSignal(_ set: sigset_t, milliseconds: Int) -> Int32? {
    var set = set
    var timeout = timespec(tv_sec: milliseconds / 1000, tv_nsec: (milliseconds % 1000) * 1_000_000)
    let s = sigtimedwait(&set, nil, &timeout)
    return s > 0 ? s : nil
}
