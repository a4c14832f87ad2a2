// What keepalived's failover blocks say, as typed values: `vrrp_instance`, `vrrp_script`,
// `vrrp_sync_group`, and global_defs' `lvs_sync_daemon`. Defaults are keepalived's. The config
// reader fills these; the VRRP state machine, the advert codec and the connection sync read them.
import SwitchyardCore

/// One `vrrp_instance NAME { … }`.
public struct VRRPInstanceConfig: Sendable, Equatable {
    public enum InitialState: String, Sendable, Equatable {
        case master = "MASTER", backup = "BACKUP"
    }

    /// An address the instance holds while it is master (`virtual_ipaddress { ADDR/LEN [dev IF] }`),
    /// IPv4 or IPv6: an instance's addresses are of one family (keepalived's rule).
    public struct VirtualAddress: Sendable, Equatable {
        public var address: IPAddressBits
        /// /32 or /128 when the line gives none, as keepalived.
        public var prefixLength: UInt8
        /// `dev IF`: the interface the address goes on, when not the instance's own.
        public var device: String?

        public init(address: IPAddressBits, prefixLength: UInt8? = nil, device: String? = nil) {
            self.address = address
            self.prefixLength = prefixLength ?? (address.isV4 ? 32 : 128)
            self.device = device
        }

        public init(address: IPv4Address, prefixLength: UInt8 = 32, device: String? = nil) {
            self.init(address: IPAddressBits(address), prefixLength: prefixLength, device: device)
        }
    }

    /// A tracked interface or script, with the weight it adds to (or takes from) the priority;
    /// no weight (keepalived's weight 0): its failure puts the instance in FAULT. For a script
    /// tracked without `weight`, the reader has already put in the vrrp_script's own weight.
    public struct Tracked: Sendable, Equatable {
        public var name: String
        public var weight: Int?

        public init(name: String, weight: Int? = nil) {
            self.name = name
            self.weight = weight
        }
    }

    public var name: String
    /// `state`: where the instance starts; keepalived starts every instance as BACKUP unless
    /// it says MASTER (and then only an owner, priority 255, skips the wait).
    public var initialState: InitialState = .backup
    public var interface: String = ""
    /// `virtual_router_id` 1–255.
    public var virtualRouterID: UInt8 = 0
    /// `priority` 1–255 (255: the address owner); keepalived's default 100, or 255 for an
    /// instance that says `state MASTER` and gives no priority (the reader applies both).
    public var priority: UInt8 = 100
    /// `advert_int`, in centiseconds (version 3 counts in centiseconds; version 2 in whole
    /// seconds on the wire); keepalived's default 1 s.
    public var advertInterval: UInt16 = 100
    /// `version` 2 or 3 (default: global_defs `vrrp_version`, else 2).
    public var version: UInt8 = 2
    /// `nopreempt` makes it false.
    public var preempt = true
    /// `preempt_delay`, seconds.
    public var preemptDelay: Double = 0
    public var virtualAddresses: [VirtualAddress] = []
    /// `unicast_src_ip`; nil: the interface's primary IPv4 address, or for IPv6 its link-local one.
    public var unicastSource: IPAddressBits?
    /// `unicast_peer { … }`; empty: multicast to 224.0.0.18 (IPv6: ff02::12).
    public var unicastPeers: [IPAddressBits] = []
    /// `native_ipv6`: an IPv6 instance even before (or without) an IPv6 address in its list.
    public var nativeIPv6 = false
    /// `authentication { auth_type PASS; auth_pass X }` (version 2 only): the password, at most
    /// 8 bytes on the wire (the reader cuts longer ones, as keepalived). nil: no authentication;
    /// the reader leaves it nil where keepalived ignores authentication (version 3, no
    /// auth_type, no password). `auth_type AH` is refused: not supported yet.
    public var authPass: String?
    public var trackInterfaces: [Tracked] = []
    public var trackScripts: [Tracked] = []
    public var notifyMaster: ScriptUse?
    public var notifyBackup: ScriptUse?
    public var notifyFault: ScriptUse?
    public var notifyStop: ScriptUse?
    /// `notify`: one script told of every transition (with keepalived's arguments).
    public var notify: ScriptUse?
    /// `garp_master_delay` seconds after becoming master, a second burst of gratuitous ARPs
    /// (keepalived's default 5; 0: none).
    public var garpMasterDelay: Double = 5
    /// `garp_master_repeat`: gratuitous ARPs per burst (default 5).
    public var garpMasterRepeat: Int = 5
    /// `garp_master_refresh`: seconds between refresh bursts while master (default 0: none).
    public var garpMasterRefresh: Double = 0
    /// `garp_master_refresh_repeat`: gratuitous ARPs per refresh (default 1).
    public var garpMasterRefreshRepeat: Int = 1
    /// `v3_checksum_as_v2`: version 3 IPv4 checksums computed as version 2's, over the VRRP
    /// message alone, for peers that do so; keepalived's default adds an IPv4 pseudo-header.
    /// Both are accepted on receive.
    public var v3ChecksumAsV2 = false
    public var location: SourceLocation

    public init(name: String, location: SourceLocation) {
        self.name = name
        self.location = location
    }

    /// Seconds between adverts.
    public var advertSeconds: Double { Double(advertInterval) / 100 }

    /// Whether the instance speaks VRRP over IPv6 (version 3, RFC 5798): `native_ipv6`, or its
    /// first virtual address is IPv6, as keepalived decides an instance's family.
    public var isIPv6: Bool { nativeIPv6 || virtualAddresses.first.map { !$0.address.isV4 } ?? false }
}

/// One `vrrp_script NAME { script …; interval …; … }`.
public struct VRRPScriptConfig: Sendable, Equatable {
    public var name: String
    public var script: String = ""
    /// Seconds between runs (default 1).
    public var interval: Double = 1
    /// Seconds a run may take (default: the interval).
    public var timeout: Double?
    /// Added to the priority while the script succeeds (> 0) or taken while it fails (< 0);
    /// 0: a failing script puts the instances that track it in FAULT.
    public var weight: Int = 0
    /// Successes in a row before it counts as OK, failures before it counts as failed.
    public var rise: Int = 1
    public var fall: Int = 1
    /// `user USER [GROUP]`: who the script runs as (default: global_defs script_user, else
    /// keepalived_script or root, decided where scripts run).
    public var user: String?
    public var group: String?
    public var location: SourceLocation

    public init(name: String, location: SourceLocation) {
        self.name = name
        self.location = location
    }
}

/// One `vrrp_sync_group NAME { group { I1 I2 … } }`: instances that change state together.
public struct VRRPSyncGroupConfig: Sendable, Equatable {
    public var name: String
    public var instances: [String] = []
    public var notifyMaster: ScriptUse?
    public var notifyBackup: ScriptUse?
    public var notifyFault: ScriptUse?
    public var notifyStop: ScriptUse?
    public var notify: ScriptUse?
    public var location: SourceLocation

    public init(name: String, location: SourceLocation) {
        self.name = name
        self.location = location
    }
}

/// global_defs `lvs_sync_daemon IF INSTANCE [id N] [maxlen N] [port P] [ttl T] [group ADDR]`:
/// connection sync on IF, sending while INSTANCE is master and receiving while it is backup.
public struct SyncDaemonConfig: Sendable, Equatable {
    public var interface: String
    public var instance: String
    /// The sync ID both ends must share (without `id`, the reader puts in the instance's
    /// virtual_router_id, as keepalived).
    public var syncID: UInt8?
    /// Largest sync message, bytes (default: what the interface's MTU allows).
    public var maxLength: Int?
    /// UDP port (IPVS's default 8848).
    public var port: UInt16 = 8848
    /// Multicast TTL (default 1).
    public var ttl: UInt8 = 1
    /// Multicast group (IPVS's default 224.0.0.81).
    public var group = IPv4Address(0xE000_0051)
    /// The shared key of the HMAC-SHA256 envelope (global_defs `switchyard_sync_auth_key`, at
    /// least 16 bytes); nil: messages go bare, as a kernel master sends them.
    public var authKey: [UInt8]?
    public var location: SourceLocation

    public init(interface: String, instance: String, location: SourceLocation) {
        self.interface = interface
        self.instance = instance
        self.location = location
    }
}

/// Every failover block of a config.
public struct FailoverConfig: Sendable, Equatable {
    public var instances: [VRRPInstanceConfig] = []
    public var scripts: [VRRPScriptConfig] = []
    public var syncGroups: [VRRPSyncGroupConfig] = []
    public var syncDaemon: SyncDaemonConfig?

    public init() {}

    public var isEmpty: Bool { instances.isEmpty && syncDaemon == nil }
}
