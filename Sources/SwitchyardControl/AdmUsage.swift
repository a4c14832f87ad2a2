// `switchyard adm -h`: the usage text, in the shape of ipvsadm 1.31's usage_exit (ipvsadm.c
// lines 1442-1545: a version line, then Usage, Commands, virtual-service and Options), listing
// what Switchyard takes, and its own commands after ipvsadm's.

/// The usage and version texts of `switchyard adm`.
public enum AdmUsage {
    /// The first line of `-h` and all of `-v` (ipvsadm's version(), with what this speaks).
    public static let version = "switchyard adm (ipvsadm v1.31 syntax, IPVS v1.2.1 listing)"

    /// What `-h` and `--help` print on standard output, exiting 0.
    public static let text = version + "\n" + """
    Usage:
      switchyard adm -A|E virtual-service [-s scheduler] [-p [timeout]] [-M netmask]
      switchyard adm -D virtual-service
      switchyard adm -C
      switchyard adm -R
      switchyard adm -S [-n]
      switchyard adm -a|e virtual-service -r server-address [options]
      switchyard adm -d virtual-service -r server-address
      switchyard adm -L|l [virtual-service] [options]
      switchyard adm -Z [virtual-service]
      switchyard adm --set tcp tcpfin udp
      switchyard adm --reload | --engine | --metrics | --vrrp | --sync | --fingerprint | --trace client|off
      switchyard adm -h

    Commands:
    Either long or short options are allowed.
      --add-service     -A        add a virtual service with options
      --edit-service    -E        edit a virtual service (what is left out returns to the default)
      --delete-service  -D        delete a virtual service
      --clear           -C        clear the whole table
      --restore         -R        run the commands on stdin, one a line, as -S prints them
      --save            -S        print the commands that rebuild the table
      --add-server      -a        add a real server with options
      --edit-server     -e        edit a real server with options
      --delete-server   -d        delete a real server
      --list            -L|-l     list the table
      --zero            -Z        zero the counters of a service or of all services
      --set tcp tcpfin udp        set the connection timeouts (0 keeps one)
      --help            -h        show this help
    Switchyard's own:
      --reload                    read the config file again (as SIGHUP does)
      --engine                    the engine's frame counters, drops by reason, frames per worker
      --metrics                   the numbers in Prometheus's text format (for a textfile collector)
      --vrrp                      each VRRP instance: state, priority, master, addresses
      --sync                      connection sync (lvs_sync_daemon): role and counters
      --fingerprint               each mh/sh service's table fingerprint (equal on balancers that agree)
      --trace client|off          log each packet from or to client as the workers decide it

    virtual-service:
      --tcp-service|-t  service-address   service-address is IPv4 address[:port]
      --udp-service|-u  service-address   service-address is IPv4 address[:port]

    Options:
      --scheduler    -s scheduler         one of mh|rr|wrr|sh|lc|wlc|sed|nq,
                                          the default scheduler is wlc.
      --persistent   -p [timeout]         persistent service (default 300 seconds)
      --netmask      -M netmask           persistent granularity mask
      --real-server  -r server-address    server-address is an IPv4 address (and port)
      --gatewaying   -g                   gatewaying (direct routing) (default)
      --masquerading -m                   masquerading (NAT)
      --weight       -w weight            capacity of real server (0: quiescent)
      --connection   -c                   output of the current connections
      --timeout                           output of timeout (tcp tcpfin udp)
      --stats                             output of statistics information
      --rate                              output of rate information
      --exact        -X                   expand numbers (display exact values)
      --thresholds                        output of thresholds information (none are set: 0)
      --persistent-conn                   with -c: output of persistent connection info
      --nosort                            disable sorting output of service/server entries
      --sort                              does nothing, for backwards compatibility
      --numeric      -n                   numeric output (addresses are always numeric here)
      --json                              with -L: the table as JSON, for programs

    switchyard's own, anywhere among these: [--control PATH | --config PATH] [--log-level LEVEL]
      --control PATH                      the daemon's control socket
      --config PATH                       find the socket from the daemon's config file
      --log-level LEVEL                   debug shows how the arguments were read

    """
}
