/// The enums of the wire that people name in text (HTTP queries and JSON, the dump, tools):
/// one name each, kept here so every reader and writer of text agrees.
public protocol NamedWireEnum: CaseIterable, Sendable {
    var name: String { get }
}

extension NamedWireEnum {
    /// The case with this name, or nil.
    public init?(name: String) {
        guard let found = Self.allCases.first(where: { $0.name == name }) else { return nil }
        self = found
    }

    /// Every name, for messages: "a, b or c".
    public static var nameList: String {
        let names = allCases.map(\.name)
        return names.count < 2 ? names.joined() : names.dropLast().joined(separator: ", ") + " or " + names.last!
    }
}

extension Consistency: NamedWireEnum {
    public var name: String {
        switch self {
        case .linearizable: "linearizable"
        case .lease: "lease"
        case .stale: "stale"
        }
    }
}

extension CompareTarget: NamedWireEnum {
    public var name: String {
        switch self {
        case .exists: "exists"
        case .value: "value"
        case .modIndex: "mod_index"
        }
    }
}

extension CompareResult: NamedWireEnum {
    public var name: String {
        switch self {
        case .equal: "="
        case .notEqual: "!="
        case .less: "<"
        case .greater: ">"
        }
    }
}

extension KeyOpType: NamedWireEnum {
    public var name: String {
        switch self {
        case .get: "get"
        case .set: "set"
        case .delete: "delete"
        }
    }
}
