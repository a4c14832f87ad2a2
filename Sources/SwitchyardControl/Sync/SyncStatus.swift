// Connection sync's counters as `switchyard adm --sync` prints them: the role, then one
// "name value" line per counter, so scripts can grep and tests can read them.

extension SyncStatistics {
    /// The counters by name, in print order.
    public var lines: [(String, Int)] {
        var rows: [(String, Int)] = [
            ("messages_sent", messagesSent), ("entries_sent", entriesSent), ("send_failures", sendFailures),
            ("backlog_dropped", backlogDropped), ("walks", walks), ("catch_ups_answered", catchUpsAnswered),
            ("messages_received", messagesReceived), ("entries_installed", entriesInstalled),
            ("install_queue_full", installQueueFull), ("catch_ups_sent", catchUpsSent), ("caught_up", caughtUp),
            ("undecodable", undecodable), ("unauthenticated", unauthenticated), ("replayed", replayed),
            ("other_sync_id", otherSyncID), ("ignored_as_master", ignoredAsMaster),
        ]
        for (reason, count) in entriesRefused.sorted(by: { $0.key < $1.key }) {
            rows.append(("entries_refused_\(reason)", count))
        }
        return rows
    }
}

public enum SyncStatus {
    public static func render(_ s: SyncStatistics) -> String {
        "sync role \(s.master ? "master (sending)" : "backup (receiving)")\n"
            + s.lines.map { "\($0.0) \($0.1)\n" }.joined()
    }
}
