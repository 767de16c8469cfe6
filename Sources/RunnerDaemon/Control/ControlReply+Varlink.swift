extension DaemonLifecycle.ControlReply {
    /// The reply as the interface describes it.
    var varlink: VarlinkReply {
        let interface = ControlInterface.name
        switch self {
        case .groups(let outcomes):
            let items = outcomes.map { outcome -> JSONValue in
                .object([("group", .string(outcome.group)), ("succeeded", .bool(outcome.succeeded)), ("message", .string(outcome.message))])
            }
            return VarlinkReply(parameters: .object([("groups", .array(items))]))
        case .reloaded(let summary):
            return VarlinkReply(parameters: .object([("applied", true), ("summary", .string(summary)), ("plan", .array([]))]))
        case .plan(let plan):
            return VarlinkReply(parameters: .object([("applied", false), ("summary", ""), ("plan", plan.json)]))
        case .reloadFailed(let errors):
            return .failure("\(interface).ConfigInvalid", [("errors", .string(errors))])
        case .reloadGroupFailed(let message):
            return .failure("\(interface).GroupFailed", [("message", .string(message))])
        case .refused(.noSuchGroup(let group)):
            return .failure("\(interface).NoSuchGroup", [("group", .string(group))])
        case .refused(.stopping):
            return .failure("\(interface).Stopping")
        }
    }
}
