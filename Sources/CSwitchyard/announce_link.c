// The link the announced VIP routes go through: a tun device that lives exactly as long as the
// file descriptor that made it (no TUNSETPERSIST). However the engine ends, SIGKILL and crash
// included, the kernel closes the descriptor, deletes the device, and with it every route
// through it, so a routing daemon that follows the table withdraws the VIPs at once. No
// packet is ever sent or read on it: the routes are in a table the kernel does not consult
// for this box's own traffic.
#define _GNU_SOURCE
#include "CSwitchyard.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <linux/if_tun.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

int sy_announce_link_open(const char *pattern, char name[16]) {
    int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
    if (fd < 0) return -1;
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
    strncpy(ifr.ifr_name, pattern, IFNAMSIZ - 1);
    int control = -1;
    if (ioctl(fd, TUNSETIFF, &ifr) < 0) goto fail;
    // Up, or the kernel refuses routes through it.
    control = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (control < 0) goto fail;
    if (ioctl(control, SIOCGIFFLAGS, &ifr) < 0) goto fail;
    ifr.ifr_flags |= IFF_UP;
    if (ioctl(control, SIOCSIFFLAGS, &ifr) < 0) goto fail;
    close(control);
    memcpy(name, ifr.ifr_name, IFNAMSIZ);
    name[IFNAMSIZ - 1] = 0;
    return fd;
fail:;
    int saved = errno;
    if (control >= 0) close(control);
    close(fd);
    errno = saved;
    return -1;
}
