// The page's admin actions (drain, make ready, set a weight) turned into the `switchyard adm`
// command that does the same, run through the same path as the control socket, logged with
// who did it and kept in a short list the page shows.
import Synchronization
import SwitchyardControl

/// One action a POST to /action asks for.
struct StatusAction: Equatable {
    enum Kind: String { case drain, ready, weight }
    var kind: Kind
    /// "TCP 198.18.0.100:80" and "198.18.0.2:80", as /status.json names them.
    var service: String
    var real: String
    var weight: Int?

    /// Reads an application/x-www-form-urlencoded body.
    static func parse(form body: [UInt8]) -> Result<StatusAction, ActionRefusal> {
        var fields: [String: String] = [:]
        for pair in String(decoding: body, as: UTF8.self).split(separator: "&") {
            let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let key = percentDecode(kv[0]) else { return .failure(ActionRefusal("the form is not URL-encoded")) }
            fields[key] = kv.count == 2 ? percentDecode(kv[1]) : ""
        }
        guard let kind = fields["action"].flatMap(Kind.init(rawValue:)) else {
            return .failure(ActionRefusal("action must be drain, ready or weight"))
        }
        guard let service = fields["service"], !service.isEmpty, let real = fields["real"], !real.isEmpty else {
            return .failure(ActionRefusal("service and real must name a virtual service and one of its real servers"))
        }
        var weight: Int?
        if kind == .weight {
            guard let w = fields["weight"].flatMap({ Int($0) }), (0...65_535).contains(w) else {
                return .failure(ActionRefusal("weight must be a whole number from 0 to 65535"))
            }
            weight = w
        }
        return .success(StatusAction(kind: kind, service: service, real: real, weight: weight))
    }

    static func percentDecode(_ text: Substring) -> String? {
        var out: [UInt8] = []
        var bytes = Array(text.utf8)[...]
        while let c = bytes.popFirst() {
            if c == UInt8(ascii: "+") {
                out.append(UInt8(ascii: " "))
            } else if c == UInt8(ascii: "%") {
                guard bytes.count >= 2, let v = UInt8(String(decoding: bytes.prefix(2), as: UTF8.self), radix: 16) else { return nil }
                out.append(v)
                bytes = bytes.dropFirst(2)
            } else {
                out.append(c)
            }
        }
        return String(validating: out, as: UTF8.self)
    }

    /// The adm arguments that do it, for a real server as the model shows it now.
    func admArguments(_ service: StatusModel.Service, _ real: StatusModel.RealServer, readyWeight: Int) -> [String] {
        let weight: Int
        switch kind {
        case .drain: weight = 0
        case .ready: weight = readyWeight
        case .weight: weight = self.weight ?? 0
        }
        // An IPv6 address goes in brackets, as adm (and ipvsadm) read it.
        let address = service.address.contains(":") ? "[\(service.address)]" : service.address
        return ["-e", service.protocol == "UDP" ? "-u" : "-t", "\(address):\(service.port)",
                "-r", real.id, service.forwarding == "nat" ? "-m" : "-g", "-w", "\(weight)"]
    }

    var words: String {
        switch kind {
        case .drain: "drain \(real) in \(service)"
        case .ready: "make \(real) in \(service) ready"
        case .weight: "set the weight of \(real) in \(service) to \(weight ?? 0)"
        }
    }
}

struct ActionRefusal: Error, Equatable {
    var message: String
    init(_ message: String) { self.message = message }
}

/// Runs actions and remembers the last few, and each drained server's weight for "ready".
final class ActionDesk: Sendable {
    static let keptAtMost = 20
    private let recent = Mutex<[StatusModel.Action]>([])
    /// The weight a server had before the page drained it ("service real" → weight).
    private let drainedFrom = Mutex<[String: Int]>([:])

    var actions: [StatusModel.Action] { recent.withLock { $0 } }

    func perform(_ action: StatusAction, by user: String, backend: any StatusBackend) -> (ok: Bool, message: String) {
        let model = backend.status()
        guard let service = model.services.first(where: { $0.id == action.service }),
              let real = service.realServers.first(where: { $0.id == action.real }) else {
            return record(action, user, backend, ok: false, "no real server \(action.real) in \(action.service)")
        }
        let key = "\(service.id) \(real.id)"
        let remembered = drainedFrom.withLock { $0[key] }
        let ready = remembered ?? (real.weightConfigured > 0 ? real.weightConfigured : 1)
        let arguments = action.admArguments(service, real, readyWeight: ready)
        let answer = backend.control(arguments, "")
        let command = "adm " + arguments.joined(separator: " ")
        if answer.ok {
            drainedFrom.withLock { table in
                if action.kind == .drain, real.weight > 0 { table[key] = real.weight }
                if action.kind != .drain { table[key] = nil }
            }
        }
        let text = answer.text.hasSuffix("\n") ? String(answer.text.dropLast()) : answer.text
        let message = answer.ok ? (action.kind == .drain ? "done: \(real.drainPreview)" : "done") + " (\(command))"
            : "\(command) refused: \(text)"
        return record(action, user, backend, ok: answer.ok, message)
    }

    private func record(_ action: StatusAction, _ user: String, _ backend: any StatusBackend, ok: Bool,
                        _ message: String) -> (ok: Bool, message: String) {
        Log.info("status page: \(user): \(action.words): \(message)")
        let entry = StatusModel.Action(at: backend.now(), user: user, action: action.words, ok: ok, message: message)
        recent.withLock { list in
            list.insert(entry, at: 0)
            if list.count > Self.keptAtMost { list.removeLast(list.count - Self.keptAtMost) }
        }
        return (ok, message)
    }
}
