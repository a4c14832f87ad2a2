// Starts a script as another user: fork, then in the child only async-signal-safe calls
// (setpgid, dup2, setgroups, setgid, setuid, sigprocmask, execve). posix_spawn cannot change
// the user, and Swift must not run between fork and exec in a threaded process.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include "CSwitchyard.h"

int sy_spawn_script(const char *path, char *const argv[], char *const envp[], int change_identity,
                    uid_t uid, gid_t gid, pid_t *pid_out) {
    // A pipe that closes on exec: the child writes its errno into it if a step fails, so the
    // parent learns "could not become uid 65534" instead of a bare exit status.
    int report[2];
    if (pipe2(report, O_CLOEXEC) < 0) return errno;
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(report[0]);
        close(report[1]);
        return e;
    }
    if (pid == 0) {
        int e = 0;
        // Its own process group, as keepalived's system_call_script: a kill(-pid) takes the
        // script and whatever it started.
        setpgid(0, 0);
        int null_fd = open("/dev/null", O_RDWR);
        if (null_fd >= 0) {
            dup2(null_fd, 0);
            dup2(null_fd, 1);
            if (null_fd > 2) close(null_fd);
        }
        // keepalived's set_script_env: group first (setgid needs root), one supplementary
        // group, then the user.
        if (change_identity) {
            if (setgroups(1, &gid) < 0 || setgid(gid) < 0 || setuid(uid) < 0) e = errno;
        }
        if (e == 0) {
            // The daemon blocks SIGINT/SIGTERM/SIGHUP on its threads; a script starts clean.
            sigset_t none;
            sigemptyset(&none);
            sigprocmask(SIG_SETMASK, &none, NULL);
            for (int s = 1; s < 32; s++) {
                if (s != SIGKILL && s != SIGSTOP) signal(s, SIG_DFL);
            }
            // If the daemon dies, so does the script (keepalived sets PR_SET_PDEATHSIG too).
            // Linux sends it when the forking *thread* ends: callers fork from threads that
            // outlive their scripts (the check loop, the VRRP thread, a notify's own thread).
            prctl(PR_SET_PDEATHSIG, SIGTERM);
            execve(path, argv, envp);
            e = errno;
        }
        ssize_t ignored = write(report[1], &e, sizeof e);
        (void)ignored;
        _exit(127);
    }
    close(report[1]);
    // Set the group from this side too, so a kill(-pid) right after return cannot miss it.
    setpgid(pid, pid);
    int child_errno = 0;
    ssize_t n;
    do { n = read(report[0], &child_errno, sizeof child_errno); } while (n < 0 && errno == EINTR);
    close(report[0]);
    *pid_out = pid;
    return n == (ssize_t)sizeof child_errno ? -child_errno : 0;
}
