import Foundation

/// The stored form of a ``Graph``: a JSON document, version 1 (docs/Graphs.md), readable without the code that built
/// the graph.
///
///     {"format": "phantom-graph", "version": 1,
///      "state": {"name": "h", "shape": [8]}, "input": {"name": "x", "shape": [4]},
///      "parameters": [{"name": "cell.weight", "shape": [8, 8]}, …],
///      "constants": [{"name": "one", "shape": [], "values": ["1.0"]}],
///      "nodes": [{"name": "z", "op": "Gemm", "inputs": ["h", "cell.weight"], "output": "z",
///                 "attributes": {"alpha": {"float": "1.0"}, "transB": {"int": 1}}}, …],
///      "output": "f", "logits": null}
///
/// Numbers that are not integers are written as strings (Swift's shortest round-trip form), so a graph reads back bit
/// for bit. Every key is known: an unknown key, a missing one, a value of the wrong kind, an unknown op type or version
/// is refused, and so is a document over ``maximumBytes`` or with more than ``maximumNodes`` nodes.
extension Graph {
    public static let serializationFormat = "phantom-graph"
    public static let serializationVersion = 1
    /// The largest stored graph read: 16 MiB.
    public static let maximumBytes = 16 << 20
    /// The most nodes (and values of each kind) a stored graph may have.
    public static let maximumNodes = 100_000

    /// The JSON text of the graph (keys sorted, so equal graphs give equal text).
    public func serialized() -> String {
        func shaped(_ v: GraphValue) -> [String: Any] { ["name": v.name, "shape": v.shape] }
        let parameters = (cellParameterIndices + headParameterIndices).sorted().map { shaped(values[$0]) }
        let constants = constantData.keys.sorted().map { i -> [String: Any] in
            ["name": values[i].name, "shape": values[i].shape, "values": constantData[i]!.map { "\($0)" }]
        }
        let nodes = self.nodes.map { node -> [String: Any] in
            var attributes: [String: Any] = [:]
            for (key, value) in node.op.attributes {
                switch value {
                case .int(let v): attributes[key] = ["int": v]
                case .ints(let v): attributes[key] = ["ints": v]
                case .float(let v): attributes[key] = ["float": "\(v)"]
                case .string(let v): attributes[key] = ["string": v]
                }
            }
            return ["name": node.name, "op": node.op.type, "inputs": node.inputs, "output": node.output, "attributes": attributes]
        }
        let document: [String: Any] = [
            "format": Self.serializationFormat, "version": Self.serializationVersion, "state": shaped(state), "input": shaped(input),
            "parameters": parameters, "constants": constants, "nodes": nodes, "output": values[fIndex].name,
            "logits": logitsIndex.map { values[$0].name } ?? NSNull()
        ]
        let data = try! JSONSerialization.data(withJSONObject: document, options: [.sortedKeys])
        return String(decoding: data, as: UTF8.self)
    }

    /// Reads a stored graph and validates it.
    /// - Throws: ``GraphSerializationError`` for a document that is not a version-1 graph; ``GraphError`` for a graph
    ///   that is not valid.
    public init(serialized text: String) throws {
        guard text.utf8.count <= Self.maximumBytes else {
            throw GraphSerializationError("the stored graph has \(text.utf8.count) bytes, more than \(Self.maximumBytes)")
        }
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: Data(text.utf8))
        } catch {
            throw GraphSerializationError("the stored graph is not valid JSON")
        }
        var reader = try JSONObjectReader(object, "graph")
        let format = try reader.string("format")
        guard format == Self.serializationFormat else {
            throw GraphSerializationError("graph format is '\(format)', not '\(Self.serializationFormat)'")
        }
        let version = try reader.int("version")
        guard version == Self.serializationVersion else {
            throw GraphSerializationError("unsupported graph version \(version) (this tool reads version \(Self.serializationVersion))")
        }
        func shaped(_ any: Any, _ what: String) throws -> (name: String, shape: [Int]) {
            var r = try JSONObjectReader(any, what)
            let value = (name: try r.string("name"), shape: try r.ints("shape"))
            try r.finish()
            return value
        }
        let state = try shaped(try reader.value("state"), "state"), input = try shaped(try reader.value("input"), "input")
        let parameters = try reader.array("parameters").enumerated().map { try shaped($1, "parameters[\($0)]") }
        let constants = try reader.array("constants").enumerated().map { k, any -> (name: String, shape: [Int], values: [Double]) in
            var r = try JSONObjectReader(any, "constants[\(k)]")
            let name = try r.string("name"), shape = try r.ints("shape")
            let values = try r.array("values").map { try JSONObjectReader.double($0, "constants[\(k)].values") }
            try r.finish()
            return (name, shape, values)
        }
        let nodes = try reader.array("nodes").enumerated().map { k, any -> GraphNode in
            var r = try JSONObjectReader(any, "nodes[\(k)]")
            let name = try r.string("name"), type = try r.string("op")
            let inputs = try r.array("inputs").map { any -> String in
                guard let s = any as? String else { throw GraphSerializationError("nodes[\(k)].inputs: not a list of names") }
                return s
            }
            let output = try r.string("output")
            var attributes: [String: GraphAttribute] = [:]
            guard let raw = try r.value("attributes") as? [String: Any] else {
                throw GraphSerializationError("nodes[\(k)].attributes: not an object")
            }
            for (key, any) in raw {
                var a = try JSONObjectReader(any, "nodes[\(k)].attributes.\(key)")
                guard a.keys.count == 1, let kind = a.keys.first else {
                    throw GraphSerializationError("nodes[\(k)].attributes.\(key): one of int, ints, float, string expected")
                }
                switch kind {
                case "int": attributes[key] = .int(try a.int("int"))
                case "ints": attributes[key] = .ints(try a.ints("ints"))
                case "float": attributes[key] = .float(try JSONObjectReader.double(try a.value("float"), "nodes[\(k)].attributes.\(key)"))
                case "string": attributes[key] = .string(try a.string("string"))
                default: throw GraphSerializationError("nodes[\(k)].attributes.\(key): unknown kind '\(kind)'")
                }
            }
            try r.finish()
            let op: any GraphOp
            do throws(OpProblem) {
                op = try GraphOps.make(type: type, attributes: attributes)
            } catch {
                throw GraphError.op(node: name, type: type, problem: error)
            }
            return GraphNode(name: name, op: op, inputs: inputs, output: output)
        }
        let output = try reader.string("output")
        let logitsValue = try reader.value("logits")
        let logits: String?
        if logitsValue is NSNull {
            logits = nil
        } else if let s = logitsValue as? String {
            logits = s
        } else {
            throw GraphSerializationError("graph.logits: not a name or null")
        }
        try reader.finish()
        for (what, count) in [("nodes", nodes.count), ("parameters", parameters.count), ("constants", constants.count)]
        where count > Self.maximumNodes {
            throw GraphSerializationError("the stored graph has \(count) \(what), more than \(Self.maximumNodes)")
        }
        try self.init(
            state: state, input: input, parameters: parameters, constants: constants, nodes: nodes, output: output, logits: logits)
    }
}

extension Graph: Equatable {
    /// Two graphs are equal when they store the same (values, nodes, ops with their attributes, constants).
    public static func == (a: Graph, b: Graph) -> Bool { a.serialized() == b.serialized() }
}

/// Why a stored graph could not be read (before it was validated as a graph).
public struct GraphSerializationError: Error, Sendable, Equatable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Reads one JSON object's keys, each once; ``finish()`` refuses keys nobody read.
struct JSONObjectReader {
    private var remaining: [String: Any]
    let path: String

    init(_ any: Any, _ path: String) throws {
        guard let object = any as? [String: Any] else { throw GraphSerializationError("\(path): not an object") }
        (remaining, self.path) = (object, path)
    }

    var keys: [String] { Array(remaining.keys) }

    mutating func value(_ key: String) throws -> Any {
        guard let v = remaining.removeValue(forKey: key) else { throw GraphSerializationError("\(path).\(key) is missing") }
        return v
    }

    mutating func string(_ key: String) throws -> String {
        guard let s = try value(key) as? String else { throw GraphSerializationError("\(path).\(key): not a string") }
        return s
    }

    static func integer(_ any: Any, _ what: String) throws -> Int {
        guard !isBoolean(any), let n = any as? NSNumber, let i = Int(exactly: n.doubleValue), abs(i) <= 1 << 40 else {
            throw GraphSerializationError("\(what): not an integer")
        }
        return i
    }

    /// JSON's true and false (Foundation reads them as NSNumber of type char, which bridges to numbers).
    static func isBoolean(_ any: Any) -> Bool {
        guard let n = any as? NSNumber else { return false }
        return String(cString: n.objCType) == "c"
    }

    mutating func int(_ key: String) throws -> Int { try Self.integer(try value(key), "\(path).\(key)") }

    mutating func ints(_ key: String) throws -> [Int] {
        guard let list = try value(key) as? [Any] else { throw GraphSerializationError("\(path).\(key): not a list") }
        guard list.count <= 64 else { throw GraphSerializationError("\(path).\(key): \(list.count) entries, more than 64") }
        return try list.map { try Self.integer($0, "\(path).\(key)") }
    }

    mutating func array(_ key: String) throws -> [Any] {
        guard let list = try value(key) as? [Any] else { throw GraphSerializationError("\(path).\(key): not a list") }
        return list
    }

    /// A float written as a string (or, leniently, a JSON number), finite.
    static func double(_ any: Any, _ what: String) throws -> Double {
        let value: Double?
        if let s = any as? String {
            value = Double(s)
        } else if !isBoolean(any), let n = any as? NSNumber {
            value = n.doubleValue
        } else {
            value = nil
        }
        guard let value, value.isFinite else { throw GraphSerializationError("\(what): not a finite number") }
        return value
    }

    func finish() throws {
        if let key = remaining.keys.sorted().first { throw GraphSerializationError("\(path): unknown key '\(key)'") }
    }
}
