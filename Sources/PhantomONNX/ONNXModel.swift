/// An ONNX model as plain values (the part of ONNX's format phantom uses): what ``ONNXFile`` reads and writes.
///
/// Sizes are bounded and numbers converted with checks when a file is read (``ONNXFile/read(_:)``); nothing here
/// refers to the protobuf types, so the importer (PhantomInterop) works on values only.
public struct ONNXModel: Sendable, Equatable {
    /// `ir_version`.
    public var irVersion: Int
    /// Operator set versions by domain ("" is the default domain, ai.onnx).
    public var opsets: [String: Int]
    public var producerName: String
    public var producerVersion: String
    public var graph: ONNXGraph
    /// `metadata_props`, in file order.
    public var metadata: [(key: String, value: String)]

    public init(
        irVersion: Int = 10, opsets: [String: Int] = ["": 20], producerName: String = "", producerVersion: String = "", graph: ONNXGraph,
        metadata: [(key: String, value: String)] = []
    ) {
        (self.irVersion, self.opsets, self.producerName, self.producerVersion) = (irVersion, opsets, producerName, producerVersion)
        (self.graph, self.metadata) = (graph, metadata)
    }

    /// The default domain's opset version (0 when the model imports none).
    public var opset: Int { opsets[""] ?? opsets["ai.onnx"] ?? 0 }

    public static func == (a: ONNXModel, b: ONNXModel) -> Bool {
        a.irVersion == b.irVersion && a.opsets == b.opsets && a.producerName == b.producerName
            && a.producerVersion == b.producerVersion && a.graph == b.graph
            && a.metadata.map(\.key) == b.metadata.map(\.key) && a.metadata.map(\.value) == b.metadata.map(\.value)
    }
}

/// A graph: nodes in file order, initializers, and the declared inputs and outputs.
public struct ONNXGraph: Sendable, Equatable {
    public var name: String
    public var nodes: [ONNXNode]
    public var initializers: [ONNXTensor]
    public var inputs: [ONNXValueInfo]
    public var outputs: [ONNXValueInfo]

    public init(name: String = "", nodes: [ONNXNode], initializers: [ONNXTensor], inputs: [ONNXValueInfo], outputs: [ONNXValueInfo]) {
        (self.name, self.nodes, self.initializers, self.inputs, self.outputs) = (name, nodes, initializers, inputs, outputs)
    }
}

/// One node: `outputs = op_type(inputs…)` with attributes. An empty input name is an omitted optional input.
public struct ONNXNode: Sendable, Equatable {
    public var name: String
    public var opType: String
    public var domain: String
    public var inputs: [String]
    public var outputs: [String]
    /// In file order; names are unique (a repeated name is refused when read).
    public var attributes: [(name: String, value: ONNXAttribute)]

    public init(
        name: String, opType: String, domain: String = "", inputs: [String], outputs: [String],
        attributes: [(name: String, value: ONNXAttribute)] = []
    ) {
        (self.name, self.opType, self.domain, self.inputs, self.outputs, self.attributes) = (
            name, opType, domain, inputs, outputs, attributes
        )
    }

    public func attribute(_ name: String) -> ONNXAttribute? { attributes.first { $0.name == name }?.value }

    public static func == (a: ONNXNode, b: ONNXNode) -> Bool {
        a.name == b.name && a.opType == b.opType && a.domain == b.domain && a.inputs == b.inputs && a.outputs == b.outputs
            && a.attributes.map(\.name) == b.attributes.map(\.name) && a.attributes.map(\.value) == b.attributes.map(\.value)
    }
}

/// An attribute value. Subgraphs (If, Loop, Scan bodies) and the other kinds phantom has no use for are kept only as
/// their kind, so that the importer can refuse them by name.
public enum ONNXAttribute: Sendable, Equatable {
    case int(Int)
    case ints([Int])
    case float(Double)
    case floats([Double])
    case string(String)
    case strings([String])
    case tensor(ONNXTensor)
    /// A kind phantom does not read ("graph", "graphs", "tensors", "sparse_tensor", "type_proto", …).
    case unsupported(kind: String)
}

/// A tensor: name, dimensions, element type and its values (floating types as Double, integer types and bool as Int).
public struct ONNXTensor: Sendable, Equatable {
    public var name: String
    public var dims: [Int]
    public var elementType: ONNXElementType
    public var data: ONNXTensorData

    public init(name: String, dims: [Int], elementType: ONNXElementType, data: ONNXTensorData) {
        (self.name, self.dims, self.elementType, self.data) = (name, dims, elementType, data)
    }

    /// A float64 tensor.
    public init(name: String, dims: [Int], doubles: [Double]) {
        self.init(name: name, dims: dims, elementType: .double, data: .real(doubles))
    }

    public var count: Int { dims.reduce(1, *) }
}

/// A tensor's values.
public enum ONNXTensorData: Sendable, Equatable {
    case real([Double])
    case integer([Int])

    public var count: Int {
        switch self {
        case .real(let v): v.count
        case .integer(let v): v.count
        }
    }
}

/// The element types phantom reads (ONNX's `TensorProto.DataType` values).
public enum ONNXElementType: Int, Sendable, CaseIterable {
    case float = 1
    case uint8 = 2
    case int8 = 3
    case int32 = 6
    case int64 = 7
    case bool = 9
    case double = 11

    public var isFloatingPoint: Bool { self == .float || self == .double }
    /// Bytes per element in `raw_data`.
    public var byteWidth: Int {
        switch self {
        case .uint8, .int8, .bool: 1
        case .float, .int32: 4
        case .int64, .double: 8
        }
    }

    public var name: String {
        switch self {
        case .float: "float32"
        case .uint8: "uint8"
        case .int8: "int8"
        case .int32: "int32"
        case .int64: "int64"
        case .bool: "bool"
        case .double: "float64"
        }
    }

    /// ONNX's name of a `DataType` value, for messages about types phantom does not read.
    public static func onnxName(_ raw: Int) -> String {
        let names = [
            0: "UNDEFINED", 1: "FLOAT", 2: "UINT8", 3: "INT8", 4: "UINT16", 5: "INT16", 6: "INT32", 7: "INT64", 8: "STRING", 9: "BOOL",
            10: "FLOAT16", 11: "DOUBLE", 12: "UINT32", 13: "UINT64", 14: "COMPLEX64", 15: "COMPLEX128", 16: "BFLOAT16"
        ]
        return names[raw] ?? "type \(raw)"
    }
}

/// A graph input's or output's declared type: element type and dimensions (nil: no shape declared).
public struct ONNXValueInfo: Sendable, Equatable {
    public var name: String
    public var elementType: Int
    public var dims: [ONNXDimension]?

    public init(name: String, elementType: Int, dims: [ONNXDimension]?) {
        (self.name, self.elementType, self.dims) = (name, elementType, dims)
    }
}

/// One declared dimension.
public enum ONNXDimension: Sendable, Equatable, CustomStringConvertible {
    case fixed(Int)
    case symbolic(String)
    case unknown

    public var description: String {
        switch self {
        case .fixed(let n): "\(n)"
        case .symbolic(let s): s
        case .unknown: "?"
        }
    }
}
