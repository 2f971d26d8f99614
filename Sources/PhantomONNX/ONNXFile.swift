import Foundation
import PhantomFileSystem
import SwiftProtobuf

/// Reads and writes ONNX model files (protobuf, ONNX's `ModelProto`) as ``ONNXModel`` values.
///
/// **Untrusted input.** The whole file is read once (``FileSnapshot``, bounded); protobuf nesting is bounded by the
/// decoder's depth limit and every repeated field by the file's own length. Then, before any tensor is converted:
/// at most ``maximumNodes`` nodes and initializers, at most ``maximumRank`` dimensions per tensor and value, each
/// dimension non-negative and their product within ``InputLimits/maximumArrayElements``, the values' count equal to
/// that product, and all initializers together within the same ceiling. External data (ONNX's `external_data`) is read
/// only from a regular file inside the model's folder, named by a relative path without `..` and without a symbolic
/// link on the way, at an offset and length within the file, the length equal to the tensor's size.
public enum ONNXFile {
    public static let maximumNodes = 100_000
    public static let maximumRank = 8
    public static let maximumAttributes = 64
    public static let maximumListLength = 4_096
    public static let maximumStringBytes = 4_096
    /// Protobuf message nesting: a model's own nesting is 6 deep (model → graph → node → attribute → tensor → entry).
    static let messageDepthLimit = 32

    /// The model in `path`, with its external data read from the same folder.
    public static func read(_ path: String) throws -> ONNXModel { try read(FileSnapshot(path)) }

    /// The model in a snapshot's bytes; external data from the folder of `snapshot.path`.
    public static func read(_ snapshot: FileSnapshot) throws -> ONNXModel {
        var options = BinaryDecodingOptions()
        options.messageDepthLimit = messageDepthLimit
        let proto: Onnx_ModelProto
        do {
            proto = try Onnx_ModelProto(serializedBytes: snapshot.bytes, options: options)
        } catch {
            throw InputError(path: snapshot.path, message: "is not an ONNX model (protobuf: \(error))")
        }
        var reader = Reader(path: snapshot.path)
        return try reader.model(proto)
    }

    /// The model as protobuf bytes (every tensor inline, float64 as `raw_data`).
    public static func encode(_ model: ONNXModel) throws -> [UInt8] {
        var proto = Onnx_ModelProto()
        proto.irVersion = Int64(model.irVersion)
        proto.producerName = model.producerName
        proto.producerVersion = model.producerVersion
        proto.opsetImport = model.opsets.sorted { $0.key < $1.key }.map { domain, version in
            var o = Onnx_OperatorSetIdProto()
            o.domain = domain
            o.version = Int64(version)
            return o
        }
        proto.metadataProps = model.metadata.map(entry)
        var graph = Onnx_GraphProto()
        graph.name = model.graph.name
        graph.node = model.graph.nodes.map(encode)
        graph.initializer = model.graph.initializers.map(encode)
        graph.input = model.graph.inputs.map(encode)
        graph.output = model.graph.outputs.map(encode)
        proto.graph = graph
        return try [UInt8](proto.serializedBytes() as Data)
    }

    /// Writes atomically; refuses an existing file unless `overwrite`.
    public static func write(_ model: ONNXModel, to path: String, overwrite: Bool = false) throws {
        try AtomicOutput.write(encode(model), to: path, overwrite: overwrite)
    }

    // MARK: - Encoding

    static func entry(_ pair: (key: String, value: String)) -> Onnx_StringStringEntryProto {
        var e = Onnx_StringStringEntryProto()
        e.key = pair.key
        e.value = pair.value
        return e
    }

    static func encode(_ node: ONNXNode) -> Onnx_NodeProto {
        var n = Onnx_NodeProto()
        n.name = node.name
        n.opType = node.opType
        if !node.domain.isEmpty { n.domain = node.domain }
        n.input = node.inputs
        n.output = node.outputs
        n.attribute = node.attributes.compactMap { name, value in
            var a = Onnx_AttributeProto()
            a.name = name
            switch value {
            case .int(let i): (a.type, a.i) = (.int, Int64(i))
            case .ints(let v): (a.type, a.ints) = (.ints, v.map(Int64.init))
            case .float(let f): (a.type, a.f) = (.float, Float(f))
            case .floats(let v): (a.type, a.floats) = (.floats, v.map(Float.init))
            case .string(let s): (a.type, a.s) = (.string, Data(s.utf8))
            case .strings(let v): (a.type, a.strings) = (.strings, v.map { Data($0.utf8) })
            case .tensor(let t): (a.type, a.t) = (.tensor, encode(t))
            case .unsupported: return nil
            }
            return a
        }
        return n
    }

    static func encode(_ tensor: ONNXTensor) -> Onnx_TensorProto {
        var t = Onnx_TensorProto()
        t.name = tensor.name
        t.dims = tensor.dims.map(Int64.init)
        t.dataType = Int32(tensor.elementType.rawValue)
        var raw = [UInt8]()
        raw.reserveCapacity(tensor.data.count * tensor.elementType.byteWidth)
        func append<T: FixedWidthInteger>(_ value: T) { withUnsafeBytes(of: value.littleEndian) { raw += $0 } }
        switch (tensor.elementType, tensor.data) {
        case (.double, .real(let v)): for x in v { append(x.bitPattern) }
        case (.float, .real(let v)): for x in v { append(Float(x).bitPattern) }
        case (.int64, .integer(let v)): for x in v { append(Int64(x)) }
        case (.int32, .integer(let v)): for x in v { append(Int32(truncatingIfNeeded: x)) }
        case (.uint8, .integer(let v)), (.bool, .integer(let v)): for x in v { append(UInt8(truncatingIfNeeded: x)) }
        case (.int8, .integer(let v)): for x in v { append(Int8(truncatingIfNeeded: x)) }
        default: preconditionFailure("tensor \(tensor.name): \(tensor.elementType.name) data of the wrong kind")
        }
        t.rawData = Data(raw)
        return t
    }

    static func encode(_ info: ONNXValueInfo) -> Onnx_ValueInfoProto {
        var v = Onnx_ValueInfoProto()
        v.name = info.name
        var tensor = Onnx_TypeProto.Tensor()
        tensor.elemType = Int32(info.elementType)
        if let dims = info.dims {
            var shape = Onnx_TensorShapeProto()
            shape.dim = dims.map { d in
                var dim = Onnx_TensorShapeProto.Dimension()
                switch d {
                case .fixed(let n): dim.dimValue = Int64(n)
                case .symbolic(let s): dim.dimParam = s
                case .unknown: break
                }
                return dim
            }
            tensor.shape = shape
        }
        var type = Onnx_TypeProto()
        type.tensorType = tensor
        v.type = type
        return v
    }
}

// MARK: - Decoding with checks

extension ONNXFile {
    struct Reader {
        let path: String
        /// Elements of all tensors read so far (initializers and constant attributes).
        var totalElements = 0

        func fail(_ message: String) -> InputError { InputError(path: path, message: message) }

        mutating func model(_ proto: Onnx_ModelProto) throws -> ONNXModel {
            guard proto.hasGraph else { throw fail("has no graph (is it an ONNX model?)") }
            guard proto.functions.isEmpty else {
                throw fail("defines \(proto.functions.count) local function(s); export without them (inline the functions)")
            }
            guard proto.trainingInfo.isEmpty else { throw fail("carries training information, which phantom does not read") }
            var opsets: [String: Int] = [:]
            guard proto.opsetImport.count <= 64 else { throw fail("imports \(proto.opsetImport.count) operator sets") }
            for o in proto.opsetImport {
                guard let v = Int(exactly: o.version), (1...1_000).contains(v) else {
                    throw fail("operator set \"\(o.domain)\" has version \(o.version)")
                }
                guard opsets.updateValue(v, forKey: o.domain) == nil else { throw fail("imports operator set \"\(o.domain)\" twice") }
            }
            guard let ir = Int(exactly: proto.irVersion), (0...1_000).contains(ir) else { throw fail("ir_version \(proto.irVersion)") }
            let g = proto.graph
            guard g.sparseInitializer.isEmpty else { throw fail("has sparse initializers, which phantom does not read") }
            guard g.node.count <= maximumNodes, g.initializer.count <= maximumNodes, g.input.count <= maximumNodes,
                g.output.count <= maximumNodes
            else { throw fail("has more than \(maximumNodes) nodes, initializers, inputs or outputs") }
            let nodes = try g.node.enumerated().map { try node($1, index: $0) }
            let initializers = try g.initializer.map { try tensor($0, context: "initializer") }
            return ONNXModel(
                irVersion: ir, opsets: opsets, producerName: try string(proto.producerName, "producer_name"),
                producerVersion: try string(proto.producerVersion, "producer_version"),
                graph: ONNXGraph(
                    name: try string(g.name, "graph name"), nodes: nodes, initializers: initializers,
                    inputs: try g.input.map(valueInfo), outputs: try g.output.map(valueInfo)),
                metadata: try proto.metadataProps.prefix(1_000).map {
                    (try string($0.key, "metadata key"), try string($0.value, "metadata value"))
                })
        }

        func string(_ s: String, _ what: String) throws -> String {
            guard s.utf8.count <= maximumStringBytes else { throw fail("\(what) is \(s.utf8.count) bytes long") }
            return s
        }

        mutating func node(_ n: Onnx_NodeProto, index: Int) throws -> ONNXNode {
            let label = n.name.isEmpty ? "node #\(index) (\(n.opType.prefix(40)))" : "node \(n.name.prefix(200))"
            guard n.input.count <= maximumListLength, n.output.count <= maximumListLength, n.attribute.count <= maximumAttributes else {
                throw fail("\(label) has \(n.input.count) inputs, \(n.output.count) outputs, \(n.attribute.count) attributes")
            }
            for s in n.input + n.output + [n.name, n.opType, n.domain] { _ = try string(s, "a name in \(label)") }
            var attributes: [(name: String, value: ONNXAttribute)] = []
            for a in n.attribute {
                let name = try string(a.name, "an attribute name of \(label)")
                guard !attributes.contains(where: { $0.name == name }) else { throw fail("\(label) has the attribute \(name) twice") }
                guard !a.hasRefAttrName else { throw fail("\(label): attribute \(name) refers to a function's attribute") }
                attributes.append((name, try attribute(a, of: label)))
            }
            return ONNXNode(
                name: n.name, opType: n.opType, domain: n.domain, inputs: n.input, outputs: n.output, attributes: attributes)
        }

        mutating func attribute(_ a: Onnx_AttributeProto, of label: String) throws -> ONNXAttribute {
            guard a.floats.count <= maximumListLength, a.ints.count <= maximumListLength, a.strings.count <= maximumListLength else {
                throw fail("\(label): attribute \(a.name) is a list of more than \(maximumListLength) values")
            }
            switch a.type {
            case .float: return .float(decimal(a.f))
            case .int:
                guard let i = Int(exactly: a.i) else { throw fail("\(label): attribute \(a.name) = \(a.i)") }
                return .int(i)
            case .string: return .string(try text(a.s, "\(label): attribute \(a.name)"))
            case .floats: return .floats(a.floats.map(decimal))
            case .ints: return .ints(a.ints.map { Int($0) })
            case .strings: return .strings(try a.strings.map { try text($0, "\(label): attribute \(a.name)") })
            case .tensor: return .tensor(try tensor(a.t, context: "\(label): attribute \(a.name)"))
            case .graph: return .unsupported(kind: "graph")
            case .graphs: return .unsupported(kind: "graphs")
            case .tensors: return .unsupported(kind: "tensors")
            case .sparseTensor, .sparseTensors: return .unsupported(kind: "sparse_tensor")
            case .typeProto, .typeProtos: return .unsupported(kind: "type_proto")
            case .undefined:
                // Files before IR version 1 may leave `type` out: the one field that is set says.
                if a.hasG || !a.graphs.isEmpty { return .unsupported(kind: "graph") }
                if a.hasT { return .tensor(try tensor(a.t, context: "\(label): attribute \(a.name)")) }
                if !a.ints.isEmpty { return .ints(a.ints.map { Int($0) }) }
                if !a.floats.isEmpty { return .floats(a.floats.map(decimal)) }
                if a.hasI { return .int(Int(a.i)) }
                if a.hasF { return .float(decimal(a.f)) }
                if a.hasS { return .string(try text(a.s, "\(label): attribute \(a.name)")) }
                throw fail("\(label): attribute \(a.name) has no value")
            }
        }

        /// A float32 attribute as the number its writer meant: the shortest decimal that rounds to it (float32(1e-5)
        /// = 9.99999974738e-06 is read as 1e-5, the ε a float64 PyTorch module uses). Tensors keep their exact values.
        func decimal(_ f: Float) -> Double { f.isFinite ? Double("\(f)") ?? Double(f) : Double(f) }

        func text(_ data: Data, _ what: String) throws -> String {
            guard data.count <= maximumStringBytes, let s = String(data: data, encoding: .utf8) else {
                throw fail("\(what) is not a UTF-8 string of at most \(maximumStringBytes) bytes")
            }
            return s
        }

        func valueInfo(_ v: Onnx_ValueInfoProto) throws -> ONNXValueInfo {
            let name = try string(v.name, "a graph input or output name")
            switch v.type.value {
            case .tensorType(let t):
                var dims: [ONNXDimension]?
                if t.hasShape {
                    guard t.shape.dim.count <= maximumRank else { throw fail("\(name) has \(t.shape.dim.count) dimensions") }
                    dims = try t.shape.dim.map { d in
                        switch d.value {
                        case .dimValue(let n):
                            guard let k = Int(exactly: n), (0...InputLimits.maximumArrayElements).contains(k) else {
                                throw fail("\(name) has a dimension \(n)")
                            }
                            return .fixed(k)
                        case .dimParam(let s): return .symbolic(try string(s, "a dimension name of \(name)"))
                        case nil: return .unknown
                        }
                    }
                }
                return ONNXValueInfo(name: name, elementType: Int(t.elemType), dims: dims)
            case nil: return ONNXValueInfo(name: name, elementType: 0, dims: nil)
            default: throw fail("\(name) is not a tensor (a sequence, map, optional or sparse type)")
            }
        }

        /// A tensor's dimensions, element type and values, converted with checks.
        mutating func tensor(_ t: Onnx_TensorProto, context: String) throws -> ONNXTensor {
            let name = t.name.isEmpty ? context : "\(context) \(t.name.prefix(200))"
            guard t.dims.count <= maximumRank else { throw fail("tensor \(name) has \(t.dims.count) dimensions (at most \(maximumRank))") }
            var dims: [Int] = []
            for n in t.dims {
                guard let k = Int(exactly: n), k >= 0 else { throw fail("tensor \(name) has a dimension \(n)") }
                dims.append(k)
            }
            guard let count = InputLimits.count(dims) else {
                throw fail("tensor \(name) of dimensions \(t.dims) holds more than \(InputLimits.maximumArrayElements) values")
            }
            totalElements += count
            guard totalElements <= InputLimits.maximumArrayElements else {
                throw fail("its tensors hold more than \(InputLimits.maximumArrayElements) values in all")
            }
            guard let type = ONNXElementType(rawValue: Int(t.dataType)) else {
                throw fail("tensor \(name) has element type \(ONNXElementType.onnxName(Int(t.dataType))), which phantom does not read")
            }
            let data: ONNXTensorData
            if t.dataLocation == .external || !t.externalData.isEmpty {
                data = try decode(raw: externalBytes(t, name: name, count: count, type: type), type: type, count: count, name: name)
            } else if t.hasRawData {
                data = try decode(raw: [UInt8](t.rawData), type: type, count: count, name: name)
            } else {
                data = try typedFields(t, type: type, count: count, name: name)
            }
            return ONNXTensor(name: try string(t.name, "a tensor name"), dims: dims, elementType: type, data: data)
        }

        func decode(raw: [UInt8], type: ONNXElementType, count: Int, name: String) throws -> ONNXTensorData {
            guard raw.count == count * type.byteWidth else {
                throw fail("tensor \(name) has \(raw.count) bytes of data, its \(count) \(type.name) values need \(count * type.byteWidth)")
            }
            return raw.withUnsafeBytes { b -> ONNXTensorData in
                func load<T: FixedWidthInteger>(_: T.Type, _ i: Int) -> T {
                    T(littleEndian: b.loadUnaligned(fromByteOffset: i * T.bitWidth / 8, as: T.self))
                }
                switch type {
                case .double: return .real((0..<count).map { Double(bitPattern: load(UInt64.self, $0)) })
                case .float: return .real((0..<count).map { Double(Float(bitPattern: load(UInt32.self, $0))) })
                case .int64: return .integer((0..<count).map { Int(load(Int64.self, $0)) })
                case .int32: return .integer((0..<count).map { Int(load(Int32.self, $0)) })
                case .int8: return .integer((0..<count).map { Int(load(Int8.self, $0)) })
                case .uint8: return .integer((0..<count).map { Int(load(UInt8.self, $0)) })
                case .bool: return .integer((0..<count).map { load(UInt8.self, $0) == 0 ? 0 : 1 })
                }
            }
        }

        func typedFields(_ t: Onnx_TensorProto, type: ONNXElementType, count: Int, name: String) throws -> ONNXTensorData {
            let data: ONNXTensorData
            switch type {
            case .double: data = .real(t.doubleData)
            case .float: data = .real(t.floatData.map(Double.init))
            case .int64: data = .integer(t.int64Data.map { Int($0) })
            case .int32, .int8, .uint8: data = .integer(t.int32Data.map { Int($0) })
            case .bool: data = .integer(t.int32Data.map { $0 == 0 ? 0 : 1 })
            }
            guard data.count == count else {
                throw fail("tensor \(name) of dimensions \(t.dims) has \(data.count) values, not \(count)")
            }
            return data
        }

        /// The bytes of an external tensor (ONNX's `external_data` keys `location`, `offset`, `length`, `checksum`).
        func externalBytes(_ t: Onnx_TensorProto, name: String, count: Int, type: ONNXElementType) throws -> [UInt8] {
            var location: String?, offset = 0, length: Int?
            for e in t.externalData {
                switch e.key {
                case "location": location = e.value
                case "offset", "length":
                    guard let v = Int(e.value), v >= 0 else {
                        throw fail("tensor \(name): external data \(e.key) \"\(e.value.prefix(40))\"")
                    }
                    if e.key == "offset" { offset = v } else { length = v }
                case "checksum": break
                default: throw fail("tensor \(name): unknown external data key \"\(e.key.prefix(40))\"")
                }
            }
            guard let location else { throw fail("tensor \(name): external data without a location") }
            let bytes = count * type.byteWidth
            if let length, length != bytes {
                throw fail("tensor \(name): external data length \(length), its \(count) \(type.name) values need \(bytes)")
            }
            let file = try ExternalData.resolve(location, besideModel: path)
            return try ExternalData.read(file, offset: offset, length: bytes, tensor: name, model: path)
        }
    }
}
