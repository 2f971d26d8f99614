extension GraphOps {
    /// Every op type the graph implements — the one list that knows them all (a stored graph names its ops by type).
    public static let all: [any GraphOp.Type] = [
        Add.self, Sub.self, Mul.self, Div.self, Neg.self, Relu.self, LeakyRelu.self, Tanh.self, Sigmoid.self, Softplus.self,
        Gelu.self, Exp.self, Sqrt.self, MatMul.self, Gemm.self, Softmax.self, LayerNormalization.self, GroupNormalization.self,
        InstanceNormalization.self, BatchNormalization.self, Conv.self, Identity.self, Reshape.self, Flatten.self, Squeeze.self,
        Unsqueeze.self, Transpose.self, Concat.self, Slice.self, Pad.self, Resize.self, AveragePool.self, GlobalAveragePool.self,
        MaxPool.self, ReduceSum.self, ReduceMean.self
    ]

    /// The type names, sorted.
    public static var typeNames: [String] { all.map { name(of: $0) }.sorted() }

    private static func name<Op: GraphOp>(of op: Op.Type) -> String { Op.type }

    private static func build<Op: GraphOp>(_ op: Op.Type, _ attributes: [String: GraphAttribute]) -> Result<any GraphOp, OpProblem> {
        do throws(OpProblem) { return .success(try Op(attributes: attributes)) } catch { return .failure(error) }
    }

    /// The op of a stored type name and attributes.
    /// - Throws: ``OpProblem`` for an unknown type (listing the supported ones) or attributes the op refuses.
    public static func make(type: String, attributes: [String: GraphAttribute]) throws(OpProblem) -> any GraphOp {
        for op in all where name(of: op) == type { return try build(op, attributes).get() }
        throw OpProblem("unknown op type '\(type)' (supported: \(typeNames.joined(separator: ", ")))")
    }
}
