// libnet for Swift: builds ARP replies and gratuitous ARP frames.
#include <libnet.h>
