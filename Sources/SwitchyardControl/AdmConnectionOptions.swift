// `switchyard adm -L -c`'s options: what ipvsadm's connection listing may ask. AdmCommand reads
// them and AdmOptionCheck checks them as ipvsadm 1.31 does (its commands_v_options LIST row and
// the list command's conflict test, ipvsadm.c lines 1072-1076); AdmConnections renders.

extension AdmCommand {
    /// What `-L -c` (list the connections and persistence templates) may ask.
    public struct ConnectionListOptions: Equatable, Sendable {
        /// `--persistent-conn`: ipvsadm's header gains its "pe name" and "pe_data" columns. ipvsadm
        /// fills them only for an entry with persistence-engine data, and no flow here has any, so
        /// the rows stay as they are.
        public var persistenceEngineColumns = false
        public init() {}
    }
}
