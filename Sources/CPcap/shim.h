// libpcap for Swift: compiles the VIP filter to classic BPF and captures ARP.
#include <pcap/pcap.h>
