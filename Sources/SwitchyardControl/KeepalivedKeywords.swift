// keepalived 2.2's keywords that Switchyard accepts without acting on them, block by block, each
// with what keepalived would have done: the reader turns one into one warning
// (`nat_mask is ignored (keepalived: …)`) instead of refusing a file keepalived would load.
// The lists are keepalived's install_keyword calls (core/global_parser.c, check/check_parser.c,
// check/check_*.c, vrrp/vrrp_parser.c, bfd/bfd_parser.c, trackers/track_file.c) less what
// Switchyard reads; a keyword in none of them is still an error, so typos are caught.

/// The blocks whose keywords keepalived's parsers know, as Switchyard reads them.
enum KeepalivedBlock {
    case topLevel, globalDefs, virtualServer, realServer, url
    /// A checker block, by its keyword (HTTP_GET, MISC_CHECK, …).
    case checker(String)
}

/// keepalived keywords Switchyard accepts and ignores, and what keepalived would have done.
enum KeepalivedKeywords {
    /// What keepalived does with `keyword` in `block`, or nil if Switchyard does not know it
    /// there as an ignored keyword (it either acts on it or refuses it).
    static func ignored(_ keyword: String, in block: KeepalivedBlock) -> String? {
        switch block {
        case .topLevel: topLevel[keyword]
        case .globalDefs: globalDefs(keyword)
        case .virtualServer: virtualServer[keyword]
        case .realServer: realServer[keyword]
        case .checker(let kind): checkerOnly[keyword].map { $0.contains(kind) } ?? true ? checker[keyword] : nil
        case .url: url[keyword]
        }
    }

    /// The warning for an ignored keyword; a block's contents go with it.
    static func warning(_ keyword: String, opensBlock: Bool, what: String) -> String {
        "\(keyword)\(opensBlock ? " { … }" : "") is ignored (keepalived: \(what))"
    }

    /// Checkers keepalived has and Switchyard has not built: a real server that has only these
    /// is held down (never silently up).
    static let unbuiltCheckers: [String: String] = [
        "BFD_CHECK": "the state of a bfd_instance",
    ]

    /// Top-level blocks and keywords (install_keyword_root).
    static let topLevel: [String: String] = [
        "garp_group": "groups of gratuitous ARP intervals per interface",
        "vrrp_track_process": "watches a process so VRRP instances can track it",
        "track_group": "groups VRRP instances that track the same things",
        "static_ipaddress": "adds addresses to interfaces at start",
        "static_routes": "adds routes at start",
        "static_rules": "adds policy routing rules at start",
        "linkbeat_interfaces": "polls these interfaces' link state with ioctls",
        "linkbeat_use_polling": "polls link state instead of listening to netlink",
        "interface_up_down_delays": "delays reacting to an interface going up or down",
        "bfd_instance": "runs a BFD session that VRRP and BFD_CHECK can track",
        "net_namespace": "runs keepalived inside this network namespace",
        "net_namespace_ipvs": "puts the IPVS table in this network namespace",
        "namespace_with_ipsets": "uses ipsets inside the network namespace",
        "use_pid_dir": "writes its pid files under /run/keepalived",
        "instance": "names this keepalived instance (pid and file names)",
        "child_wait_time": "waits this long for its child processes to stop",
    ]

    /// virtual_server keywords (check_parser.c, init_check_keywords), and a few that older
    /// keepalived versions read, so that older files still load.
    static let virtualServer: [String: String] = [
        "hashed": "sets the IPVS hashed flag (IP_VS_SVC_F_HASHED)",
        "flag-1": "sets the scheduler flag IP_VS_SVC_F_SCHED1",
        "flag-2": "sets the scheduler flag IP_VS_SVC_F_SCHED2",
        "flag-3": "sets the scheduler flag IP_VS_SVC_F_SCHED3",
        "sh-port": "makes the sh scheduler hash the source port too",
        "sh-fallback": "makes the sh scheduler pick another real server when the hashed one is down",
        "mh-port": "makes the mh scheduler hash the source port too",
        "mh-fallback": "makes the mh scheduler pick another real server when the hashed one is down",
        "ops": "one-packet scheduling: each UDP datagram scheduled on its own",
        "persistence_engine": "uses a kernel persistence engine such as sip",
        "ha_suspend": "suspends the checkers while this box is not the VRRP master",
        "smtp_alert": "sends an email when a real server changes state",
        "snmp_name": "names the service in SNMP",
        "omega": "runs quorum_down at shutdown too",
        "sorry_server_inhibit": "keeps the sorry server in the table with weight 0 instead of removing it",
        "sorry_server_lvs_method": "the sorry server's own forwarding method",
        "nat_mask": "an option of keepalived 1.x that never had any effect",
        "lvs_flags": "IPVS service flags (older keepalived)",
        "lb_flags": "IPVS service flags (older keepalived)",
        "one_packet_scheduling": "one-packet scheduling (older keepalived's name for ops)",
    ]

    /// real_server keywords (check_parser.c).
    static let realServer: [String: String] = [
        "alpha": "starts this real server down until its checkers first succeed",
        "uthreshold": "stops sending new connections above this many",
        "lthreshold": "starts sending new connections again below this many",
        "smtp_alert": "sends an email when the real server changes state",
        "snmp_name": "names the real server in SNMP",
    ]

    /// Keywords of the checkers Switchyard runs (check_api.c, install_checker_common_keywords;
    /// check_http.c; check_misc.c).
    static let checker: [String: String] = [
        "bindto": "binds the checker's socket to this source address",
        "bind_port": "binds the checker's socket to this source port",
        "bind_if": "binds the checker's socket to this interface",
        "fwmark": "marks the checker's packets with this firewall mark",
        "alpha": "starts this checker down until it first succeeds",
        "log_all_failures": "logs every failed attempt, not only state changes",
        "http_protocol": "sends this HTTP version in the request",
        "enable_sni": "sends the server name in the TLS handshake",
        "sni_name": "the server name sent in the TLS handshake",
        "tls_compliant": "closes TLS connections with a close_notify",
        "fast_recovery": "checks again at once after a failure instead of waiting for delay_loop",
        "user": "runs the script as this user and group",
    ]

    /// Checker keywords keepalived installs for some checkers only (check_http.c, check_misc.c);
    /// the rest are every checker's (install_checker_common_keywords).
    static let checkerOnly: [String: Set<String>] = [
        "http_protocol": ["HTTP_GET", "SSL_GET"], "enable_sni": ["HTTP_GET"], "sni_name": ["HTTP_GET"],
        "tls_compliant": ["HTTP_GET", "SSL_GET"], "fast_recovery": ["HTTP_GET", "SSL_GET"], "user": ["MISC_CHECK"],
    ]

    /// url keywords of HTTP_GET (check_http.c, install_http_ssl_check_keyword).
    static let url: [String: String] = [
        "regex_options": "PCRE2 options of the regex",
        "regex_min_offset": "searches for the regex from this offset of the body",
        "regex_max_offset": "searches for the regex up to this offset of the body",
        "regex_stack": "gives PCRE2's JIT its own stack",
        "virtualhost": "the Host header of this url",
        "tls_compliant": "closes TLS connections with a close_notify",
    ]
}

extension KeepalivedKeywords {
    /// global_defs keywords keepalived knows (core/global_parser.c, from `global_defs` on), less
    /// those Switchyard reads (lvs_timeouts, lvs_sync_daemon, vrrp_version, the
    /// vrrp_garp_master_* timers, v3_checksum_as_v2, script_user, enable_script_security).
    static let globalDefsKnown: Set<String> = [
        "process_names", "process_name", "vrrp_process_name", "checker_process_name", "lvs_process_name",
        "bfd_process_name", "use_symlink_paths", "set_supplementary_groups", "router_id", "notification_email_from",
        "smtp_server", "smtp_helo_name", "smtp_connect_timeout", "notification_email", "smtp_alert", "startup_script",
        "startup_script_timeout", "shutdown_script", "shutdown_script_timeout", "max_auto_priority",
        "min_auto_priority_delay", "smtp_alert_vrrp", "smtp_alert_checker", "checker_log_all_failures",
        "dynamic_interfaces", "no_email_faults", "default_interface", "disable_local_igmp", "lvs_flush",
        "lvs_flush_on_stop", "lvs_flush_onstop", "vrrp_mcast_group4", "vrrp_mcast_group6",
        "vrrp_garp_lower_prio_delay", "vrrp_garp_lower_prio_repeat", "vrrp_down_timer_adverts", "vrrp_garp_interval",
        "vrrp_gna_interval", "vrrp_min_garp", "vrrp_garp_extra_if", "vrrp_vmac_garp_intvl", "vrrp_lower_prio_no_advert",
        "vrrp_higher_prio_send_advert", "vrrp_iptables", "vrrp_ipsets", "nftables", "nftables_priority",
        "nftables_ifindex", "vrrp_check_unicast_src", "vrrp_skip_check_adv_addr", "vrrp_strict", "vrrp_priority",
        "vrrp_no_swap", "vrrp_rt_priority", "vrrp_cpu_affinity", "vrrp_rlimit_rttime", "vrrp_rlimit_rtime",
        "nftables_ipvs", "nftables_ipvs_priority", "nftables_ipvs_start_fwmark", "nftables_counters", "notify_fifo",
        "notify_fifo_script", "vrrp_notify_fifo", "vrrp_notify_fifo_script", "vrrp_notify_priority_changes",
        "fifo_write_vrrp_states_on_reload", "lvs_notify_fifo", "lvs_notify_fifo_script", "checker_priority",
        "checker_no_swap", "checker_rt_priority", "checker_cpu_affinity", "checker_rlimit_rttime",
        "checker_rlimit_rtime", "bfd_priority", "bfd_no_swap", "bfd_rt_priority", "bfd_cpu_affinity",
        "bfd_rlimit_rttime", "bfd_rlimit_rtime", "snmp_socket", "enable_traps", "enable_snmp_vrrp",
        "enable_snmp_keepalived", "enable_snmp_rfc", "enable_snmp_rfcv2", "enable_snmp_rfcv3", "enable_snmp_checker",
        "snmp_vs_stats_update_interval", "snmp_rs_stats_update_interval", "enable_dbus", "dbus_service_name",
        "dbus_no_interface_name", "vrrp_netlink_cmd_rcv_bufs",
        "vrrp_netlink_cmd_rcv_bufs_force", "vrrp_netlink_monitor_rcv_bufs", "vrrp_netlink_monitor_rcv_bufs_force",
        "process_monitor_rcv_bufs", "process_monitor_rcv_bufs_force", "lvs_netlink_cmd_rcv_bufs",
        "lvs_netlink_cmd_rcv_bufs_force", "lvs_netlink_monitor_rcv_bufs", "lvs_netlink_monitor_rcv_bufs_force",
        "rs_init_notifies", "no_checker_emails", "vrrp_rx_bufs_policy", "vrrp_rx_bufs_multiplier",
        "vrrp_startup_delay", "vrrp_delay_after_boot", "log_unknown_vrids", "vrrp_owner_ignore_adverts", "vmac_prefix",
        "vmac_addr_prefix", "umask", "random_seed", "reload_check_config", "reload_time_file", "reload_repeat",
        "reload_file", "include_check", "config_save_dir", "tmp_config_directory", "data_use_instance",
        "json_version", "iproute_usr_dir", "iproute_etc_dir", "state_dump_file", "stats_dump_file", "json_dump_file",
        // Older keepalived: still found in files written for it.
        "lvs_id",
    ]

    /// Specific words for global_defs keywords; the rest are described by family below.
    static let globalDefsWords: [String: String] = [
        "router_id": "names this box in its email alerts and SNMP",
        "lvs_id": "names this box in its email alerts (older keepalived's router_id)",
        "default_interface": "the interface for VRRP instances and addresses that name none",
        "dynamic_interfaces": "allows VRRP on interfaces that do not exist yet",
        "max_auto_priority": "raises its own scheduling priority when it runs late",
        "min_auto_priority_delay": "how late it must run before raising its priority",
        "lvs_flush": "empties the IPVS table at start",
        "lvs_flush_on_stop": "empties the IPVS table at stop",
        "lvs_flush_onstop": "empties the IPVS table at stop",
        "vrrp_strict": "enforces RFC 5798 strictly (no unicast, no authentication, firewall rules)",
        "vrrp_skip_check_adv_addr": "skips comparing the addresses in adverts from the same master",
        "vrrp_check_unicast_src": "accepts unicast adverts only from the listed peers",
        "vrrp_mcast_group4": "sends VRRP adverts to this IPv4 group instead of 224.0.0.18",
        "vrrp_mcast_group6": "sends VRRP adverts to this IPv6 group instead of ff02::12",
        "checker_log_all_failures": "logs every failed checker attempt, not only state changes",
        "rs_init_notifies": "runs notify_up for every real server at start",
        "random_seed": "seeds its random numbers",
        "umask": "the umask of the files it creates",
        "disable_local_igmp": "stops the kernel sending IGMP reports for the VRRP group",
    ]

    /// What keepalived does with a global_defs keyword it knows, or nil if it knows none such.
    static func globalDefs(_ keyword: String) -> String? {
        guard globalDefsKnown.contains(keyword) else { return nil }
        if let words = globalDefsWords[keyword] { return words }
        let k = keyword
        func has(_ parts: String...) -> Bool { parts.contains { k.contains($0) } }
        if has("smtp", "email") { return "sends email alerts on state changes" }
        if has("snmp", "traps") { return "exports its state over SNMP" }
        if has("dbus") { return "exports its state over D-Bus" }
        if has("fifo") { return "writes state changes to a FIFO for a script" }
        if has("nftables", "iptables", "ipsets") { return "installs firewall rules for VRRP or IPVS" }
        if has("rcv_bufs", "rx_bufs") { return "sizes its netlink and VRRP receive buffers" }
        if has("priority", "no_swap", "cpu_affinity", "rlimit") { return "tunes its own processes' scheduling and memory" }
        if has("process_name", "symlink", "supplementary", "script_user", "script_security", "startup_script",
               "shutdown_script") {
            return "how its processes are named and run scripts"
        }
        if has("reload", "config", "include_check", "dump_file", "json", "data_use_instance", "iproute") {
            return "where it keeps its files and how it reloads"
        }
        if has("garp", "gna", "vmac", "advert", "vrrp_") { return "a VRRP default Switchyard does not have" }
        return "a setting of its own daemons"
    }
}
