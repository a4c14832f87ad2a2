// `switchyard adm`'s table edits applied to a ServiceTable, refused with ipvsadm 1.31's words
// and status for what the kernel refuses (libipvs.c ipvs_strerror's table, lines 1302-1343;
// ipvsadm exits 255 when a command fails there).
import SwitchyardCore

extension AdmError {
    /// What the kernel's refusal reads as through ipvsadm, exiting 255.
    static func kernel(_ text: String) -> AdmError { AdmError(text, exitStatus: 255) }
}

extension ServiceTable {
    /// Applies an editing command. The list, save, zero, restore, reload and trace commands are the
    /// engine's (they need counters, input or the config file).
    public mutating func execute(_ command: AdmCommand) throws(AdmError) -> TableChanges {
        var changes = TableChanges()
        switch command {
        case .addService(let key, let scheduler, let persistence, let mask):
            guard index(of: key) == nil else { throw AdmError.kernel("Service already exists") }
            var config = VirtualServiceConfig(
                proto: key.proto, vip: key.vip, port: key.port, scheduler: scheduler ?? .weightedLeastConnection,
                method: .dr, delayLoop: 60, persistenceTimeout: persistence ?? 0, persistenceMask: 0xFFFF_FFFF,
                reals: [], location: SourceLocation(line: 0, column: 0))
            if let mask { config.setPersistenceGranularity(mask) }
            services.append(newService(config, &changes))
            changes.servicesAdded.append(key)
        case .editService(let key, let scheduler, let persistence, let mask):
            guard let i = index(of: key) else { throw AdmError.kernel("No such service") }
            if let scheduler { services[i].config.scheduler = scheduler }
            if let persistence { services[i].config.persistenceTimeout = persistence }
            if let mask { services[i].config.setPersistenceGranularity(mask) }
            changes.servicesChanged.append(key)
        case .deleteService(let key):
            guard let i = index(of: key) else { throw AdmError.kernel("No such service") }
            release(services[i], &changes)
            services.remove(at: i)
            changes.servicesRemoved.append(key)
        case .addReal(let key, let address, let port, let method, let weight):
            guard let i = index(of: key) else { throw AdmError.kernel("Service not defined") }
            let p = port ?? key.port
            guard !services[i].reals.contains(where: { $0.config.address == address && $0.config.port == p }) else {
                throw AdmError.kernel("Destination already exists")
            }
            try setMethod(i, method ?? .dr, port: p)
            let real = RealServerConfig(address: address, port: p, weight: weight ?? 1,
                                        location: SourceLocation(line: 0, column: 0))
            services[i].reals.append(RealState(config: real, id: newRealID(), checkersUp: []))
            changes.realsAdded = 1
        case .editReal(let key, let address, let port, let method, let weight):
            guard let i = index(of: key) else { throw AdmError.kernel("Service not defined") }
            let p = port ?? key.port
            guard let r = services[i].reals.firstIndex(where: { $0.config.address == address && $0.config.port == p }) else {
                throw AdmError.kernel("No such destination")
            }
            if let method { try setMethod(i, method, port: p) }
            if let weight { services[i].reals[r].config.weight = weight }
            changes.realsChanged = 1
        case .deleteReal(let key, let address, let port):
            guard let i = index(of: key) else { throw AdmError.kernel("Service not defined") }
            let p = port ?? key.port
            guard let r = services[i].reals.firstIndex(where: { $0.config.address == address && $0.config.port == p }) else {
                throw AdmError.kernel("No such destination")
            }
            let id = services[i].reals.remove(at: r).id
            freedRealIDs.append(id)
            changes.checkersToStop.append(id)
            changes.realsRemoved = 1
        case .setTimeouts(let tcp, let tcpfin, let udp):
            if tcp > 0 { timeouts.tcpEstablished = UInt32(tcp * 1000) }
            if tcpfin > 0 { timeouts.tcpFin = UInt32(tcpfin * 1000) }
            if udp > 0 { timeouts.udp = UInt32(udp * 1000) }
        case .clear:
            for s in services { release(s, &changes) }
            changes.servicesRemoved = services.map(\.key)
            services = []
        case .list, .listConnections, .zero, .save, .restore, .reload, .trace, .vrrp, .sync, .fingerprint, .engine, .metrics, .help,
             .version:
            preconditionFailure("\(command) is not a table edit")
        }
        _ = updateQuorum()
        return changes
    }

    /// Switchyard forwards a whole service one way; the first real server sets it.
    mutating func setMethod(_ i: Int, _ method: ForwardingMethod, port: UInt16) throws(AdmError) {
        if services[i].reals.isEmpty {
            services[i].config.method = method
        } else if services[i].config.method != method {
            throw AdmError.kernel("\(services[i].key) forwards by \(services[i].config.method.name); "
                + "Switchyard uses one forwarding method per virtual service")
        }
        if method == .dr && port != services[i].key.port {
            throw AdmError.kernel("with -g (DR) the real server's port must be the service's port (\(services[i].key.port))")
        }
    }
}
