import PhantomLinearAlgebra

/// The role of a named value in a ``Graph``.
public enum GraphValueRole: String, Sendable, CaseIterable {
    /// h, the state (one per graph).
    case state
    /// x, one data row (one per graph).
    case input
    /// A tensor of θ (the cell's) or of the head's parameters.
    case parameter
    /// A fixed tensor stored with the graph.
    case constant
    /// The output of a node.
    case intermediate
}

/// A named value: its per-sample shape (no batch dimension) and role.
public struct GraphValue: Sendable, Equatable {
    public let name: String
    public let shape: [Int]
    public let role: GraphValueRole
    public var count: Int { shape.reduce(1, *) }
}

/// One node: `output = op(inputs…)`, values referred to by name.
public struct GraphNode: Sendable {
    public let name: String
    public let op: any GraphOp
    public let inputs: [String]
    public let output: String

    public init(name: String, op: any GraphOp, inputs: [String], output: String) {
        (self.name, self.op, self.inputs, self.output) = (name, op, inputs, output)
    }
}

/// Why a graph was refused: one line naming the node or value.
public enum GraphError: Error, Sendable, Equatable, CustomStringConvertible {
    case duplicateName(String)
    case badName(String)
    case badShape(value: String, shape: [Int])
    case constantSize(value: String, shape: [Int], count: Int)
    case undefinedValue(node: String, value: String)
    case cycle(nodes: [String])
    case op(node: String, type: String, problem: OpProblem)
    case missingOutput(String)
    case outputShape(output: String, shape: [Int], state: [Int])
    case parameterSharedByCellAndHead(String)
    case unusedParameter(String)
    case headDependsOnInput(String)
    case logitsShape(output: String, shape: [Int])
    case tooLarge(String)

    public var description: String {
        switch self {
        case .duplicateName(let n): "the name \(n) is defined twice"
        case .badName(let n): "the name \"\(n)\" is not a valid value or node name (letters, digits, . _ : / -; 1–200 characters)"
        case .badShape(let v, let s): "value \(v) has shape \(shapeText(s)): every dimension must be positive"
        case .constantSize(let v, let s, let c): "constant \(v) has shape \(shapeText(s)) but \(c) values"
        case .undefinedValue(let n, let v): "node \(n) reads \(v), which no input, parameter, constant or node defines"
        case .cycle(let nodes): "the graph has a cycle through node(s) " + nodes.prefix(5).joined(separator: ", ")
        case .op(let n, let t, let p): "node \(n) (\(t)): \(p)"
        case .missingOutput(let o): "the graph has no value \(o)"
        case .outputShape(let o, let s, let h):
            "output \(o) has shape \(shapeText(s)), the state h has \(shapeText(h)); f must have h's shape"
        case .parameterSharedByCellAndHead(let p): "parameter \(p) is used by both the cell (f) and the head (logits)"
        case .unusedParameter(let p): "parameter \(p) is used by neither f nor logits"
        case .headDependsOnInput(let v): "the head (logits) depends on the input \(v); it may read only h and its own parameters"
        case .logitsShape(let o, let s):
            "output \(o) has shape \(shapeText(s)); the head's output is one row of c class scores ([c] or [1, c])"
        case .tooLarge(let what): "\(what) is larger than the toolkit accepts"
        }
    }
}

/// A cell and head as one graph of named operations (docs/Graphs.md).
///
/// Values: the state h and the input x (per-sample shapes), the parameters (θ, in ``cellParameters`` order, then the
/// head's), constants, and one output per node. The cell is the subgraph from (h, x, θ) to `f` (f has h's shape); the
/// head, when present, the subgraph from h to `logits`. Validated once: names unique, every input defined, no cycle,
/// every node's shapes accepted by its op, no parameter shared by cell and head.
///
/// Notation (docs/Theory.md §1): J = ∂f/∂h, M = ∂f/∂θ at a point; both come from the ops' JVPs and VJPs.
public struct Graph: Sendable {
    /// Every value; indices 0 and 1 are h and x, then parameters (cell, then head), constants, node outputs.
    public let values: [GraphValue]
    /// The nodes, in a topological order.
    public let nodes: [GraphNode]
    /// The constants' data, by value index.
    let constantData: [Int: [Double]]
    /// Per node: the value indices of its inputs and its output, and the op bound to the input shapes.
    let nodeInputs: [[Int]]
    let nodeOutput: [Int]
    let bound: [any BoundOp]
    /// Per value: shared by every sample (depends on neither h nor x), depends on h, depends on a parameter.
    let shared: [Bool]
    let dependsOnState: [Bool]
    let dependsOnParameters: [Bool]
    /// The nodes that f (resp. logits) needs, in topological order.
    let cellNodes: [Int]
    let headNodes: [Int]
    /// Value indices of f and logits.
    let fIndex: Int
    let logitsIndex: Int?
    /// Value indices of the cell's parameters (θ order) and the head's.
    public let cellParameterIndices: [Int]
    public let headParameterIndices: [Int]
    /// Per value: the nodes that read it (with repetition when a node reads it twice).
    let consumers: [[Int]]
    /// A linear layer's weight → its bias, whose factored gradients form one part (``biasCompanions``).
    let factorBiases: [Int: Int]

    static let maxElements = 1 << 28
    /// The most numbers a graph's values may hold per sample (512 MiB of doubles: what one sample's evaluation keeps), and
    /// its shared values other than parameters (computed once), so that a hostile graph is refused when it is read rather
    /// than when the analysis runs out of memory. Parameters are bounded by the checkpoint's parameter ceiling.
    static let maxTotalElements = 1 << 26
    static let maxSharedElements = 1 << 28

    /// A valid name: 1–200 characters among letters, digits and `. _ : / -`.
    public static func isValidName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= 200
            && name.unicodeScalars.allSatisfy {
                ($0.properties.isAlphabetic && $0.isASCII) || ("0"..."9").contains($0) || "._:/-".unicodeScalars.contains($0)
            }
    }

    /// Validates and orders a graph.
    /// - Parameters:
    ///   - state, input: h's and x's names and per-sample shapes.
    ///   - parameters: the parameter tensors' names and shapes, in θ order (head parameters may be among them; they are
    ///     moved after the cell's).
    ///   - constants: fixed tensors.
    ///   - nodes: in any order.
    ///   - output: f's name; logits: the head's output, if any.
    public init(
        state: (name: String, shape: [Int]), input: (name: String, shape: [Int]),
        parameters: [(name: String, shape: [Int])], constants: [(name: String, shape: [Int], values: [Double])] = [],
        nodes: [GraphNode], output: String = "f", logits: String? = nil
    ) throws(GraphError) {
        var values: [GraphValue] = []
        var index: [String: Int] = [:]
        func define(_ name: String, _ shape: [Int], _ role: GraphValueRole) throws(GraphError) {
            guard Graph.isValidName(name) else { throw .badName(name) }
            guard index[name] == nil else { throw .duplicateName(name) }
            guard shape.allSatisfy({ $0 > 0 }) else { throw .badShape(value: name, shape: shape) }
            var total = 1
            for n in shape {
                let (product, overflow) = total.multipliedReportingOverflow(by: n)
                guard !overflow, product <= Graph.maxElements else { throw .tooLarge("value \(name) of shape \(shapeText(shape))") }
                total = product
            }
            index[name] = values.count
            values.append(GraphValue(name: name, shape: shape, role: role))
        }
        try define(state.name, state.shape, .state)
        try define(input.name, input.shape, .input)
        for p in parameters { try define(p.name, p.shape, .parameter) }
        var constantData: [Int: [Double]] = [:]
        for c in constants {
            try define(c.name, c.shape, .constant)
            guard c.values.count == c.shape.reduce(1, *) else { throw .constantSize(value: c.name, shape: c.shape, count: c.values.count) }
            constantData[values.count - 1] = c.values
        }
        // Node names and outputs are unique too.
        var nodeNames = Set<String>()
        for node in nodes {
            guard Graph.isValidName(node.name) else { throw .badName(node.name) }
            guard nodeNames.insert(node.name).inserted else { throw .duplicateName(node.name) }
            guard Graph.isValidName(node.output) else { throw .badName(node.output) }
        }
        var producer: [String: Int] = [:]
        for (k, node) in nodes.enumerated() {
            guard index[node.output] == nil, producer[node.output] == nil else { throw .duplicateName(node.output) }
            producer[node.output] = k
        }
        for node in nodes {
            for v in node.inputs where index[v] == nil && producer[v] == nil { throw .undefinedValue(node: node.name, value: v) }
        }
        // Kahn's algorithm, stable in the given order.
        var pending = nodes.map { node in Set(node.inputs.compactMap { producer[$0] }).count }
        var readers = [[Int]](repeating: [], count: nodes.count)
        for (k, node) in nodes.enumerated() { for p in Set(node.inputs.compactMap({ producer[$0] })) { readers[p].append(k) } }
        var order: [Int] = []
        var ready = (0..<nodes.count).filter { pending[$0] == 0 }
        while !ready.isEmpty {
            let k = ready.removeFirst()
            order.append(k)
            for r in readers[k].sorted() {
                pending[r] -= 1
                if pending[r] == 0 { ready.append(r) }
            }
            ready.sort()
        }
        guard order.count == nodes.count else {
            throw .cycle(nodes: (0..<nodes.count).filter { pending[$0] > 0 }.map { nodes[$0].name })
        }
        // Bind in order.
        var shared = values.map { $0.role == .parameter || $0.role == .constant }
        var onState = values.map { $0.role == .state }
        var onParameters = values.map { $0.role == .parameter }
        var nodeInputs: [[Int]] = [], nodeOutput: [Int] = [], bound: [any BoundOp] = [], sorted: [GraphNode] = []
        for k in order {
            let node = nodes[k]
            let inputs = node.inputs.map { index[$0]! }
            let opInputs = inputs.map { OpInput(shape: values[$0].shape, shared: shared[$0]) }
            let b: any BoundOp
            do {
                b = try node.op.bind(opInputs)
            } catch {
                throw .op(node: node.name, type: node.op.type, problem: error)
            }
            guard b.outputShape.allSatisfy({ $0 > 0 }), b.outputShape.reduce(1, *) <= Graph.maxElements else {
                throw .op(node: node.name, type: node.op.type, problem: OpProblem("output shape \(shapeText(b.outputShape))"))
            }
            try define(node.output, b.outputShape, .intermediate)
            shared.append(inputs.allSatisfy { shared[$0] })
            onState.append(inputs.contains { onState[$0] })
            onParameters.append(inputs.contains { onParameters[$0] })
            nodeInputs.append(inputs)
            nodeOutput.append(values.count - 1)
            bound.append(b)
            sorted.append(node)
        }
        let batched = values.indices.filter { !shared[$0] }.reduce(0) { $0 + values[$1].count }
        guard batched <= Graph.maxTotalElements else {
            throw .tooLarge("the graph (its values hold \(batched) numbers per sample, at most \(Graph.maxTotalElements))")
        }
        let computed = values.indices.filter { shared[$0] && values[$0].role == .intermediate }.reduce(0) { $0 + values[$1].count }
        guard computed <= Graph.maxSharedElements else {
            throw .tooLarge("the graph (its parameter-only nodes hold \(computed) numbers, at most \(Graph.maxSharedElements))")
        }
        guard let f = index[output] else { throw .missingOutput(output) }
        guard values[f].shape == state.shape else {
            throw .outputShape(output: output, shape: values[f].shape, state: state.shape)
        }
        let producerOf = Dictionary(uniqueKeysWithValues: nodeOutput.enumerated().map { ($1, $0) })
        func ancestry(_ v: Int) -> (nodes: [Int], leaves: Set<Int>) {
            var seen = Set<Int>(), leaves = Set<Int>(), stack = [v]
            while let u = stack.popLast() {
                if let n = producerOf[u] {
                    if seen.insert(n).inserted { stack += nodeInputs[n] }
                } else {
                    leaves.insert(u)
                }
            }
            return (seen.sorted(), leaves)
        }
        let cell = ancestry(f)
        var head: (nodes: [Int], leaves: Set<Int>) = ([], [])
        var logitsIndex: Int?
        if let logits {
            guard let l = index[logits] else { throw .missingOutput(logits) }
            head = ancestry(l)
            logitsIndex = l
            let shape = values[l].shape
            guard shape.count == 1 || (shape.count == 2 && shape[0] == 1) else { throw .logitsShape(output: logits, shape: shape) }
            if head.leaves.contains(1) { throw .headDependsOnInput(input.name) }
        }
        var cellParameters: [Int] = [], headParameters: [Int] = []
        for p in 2..<(2 + parameters.count) {
            switch (cell.leaves.contains(p), head.leaves.contains(p)) {
            case (true, true): throw .parameterSharedByCellAndHead(values[p].name)
            case (true, false): cellParameters.append(p)
            case (false, true): headParameters.append(p)
            case (false, false): throw .unusedParameter(values[p].name)
            }
        }
        var consumers = [[Int]](repeating: [], count: values.count)
        for (n, inputs) in nodeInputs.enumerated() { for v in inputs { consumers[v].append(n) } }
        self.values = values
        self.nodes = sorted
        self.constantData = constantData
        self.nodeInputs = nodeInputs
        self.nodeOutput = nodeOutput
        self.bound = bound
        self.shared = shared
        self.dependsOnState = onState
        self.dependsOnParameters = onParameters
        self.cellNodes = cell.nodes
        self.headNodes = head.nodes
        self.fIndex = f
        self.logitsIndex = logitsIndex
        self.cellParameterIndices = cellParameters
        self.headParameterIndices = headParameters
        self.consumers = consumers
        self.factorBiases = Graph.biasCompanions(
            values: values, nodeInputs: nodeInputs, nodeOutput: nodeOutput, bound: bound, consumers: consumers,
            cellParameters: cellParameters)
    }

    public var state: GraphValue { values[0] }
    public var input: GraphValue { values[1] }
    /// d.
    public var stateDimension: Int { values[0].count }
    /// n_in.
    public var inputDimension: Int { values[1].count }
    /// θ's tensors, in order.
    public var cellLayout: ParameterLayout { ParameterLayout(cellParameterIndices.map { (values[$0].name, values[$0].shape) }) }
    /// The head's tensors, in order.
    public var headLayout: ParameterLayout { ParameterLayout(headParameterIndices.map { (values[$0].name, values[$0].shape) }) }
    /// The value a name refers to.
    public func value(named name: String) -> GraphValue? { values.first { $0.name == name } }
    /// f's value.
    public var outputValue: GraphValue { values[fIndex] }
    /// The head's output, when the graph has one.
    public var logitsValue: GraphValue? { logitsIndex.map { values[$0] } }
    /// Whether value `index` is the same for every sample (a function of parameters and constants only).
    public func isShared(_ index: Int) -> Bool { shared[index] }
    /// A constant's data.
    public func constant(named name: String) -> [Double]? {
        guard let i = values.firstIndex(where: { $0.name == name }) else { return nil }
        return constantData[i]
    }
}
