extension Graph {
    /// The graph as text lines for `inspect`: a headline (nodes, h, x, d, p), then one line per node in evaluation
    /// order — `output = Op(inputs) {attributes} → shape`, with the parameter values the node reads — and the
    /// outputs f and logits.
    public func describe() -> [String] {
        let p = cellParameterIndices.reduce(0) { $0 + values[$1].count }
        var lines = [
            "graph       \(nodes.count) nodes; h \(shapeText(state.shape)), x \(shapeText(input.shape)); d = \(stateDimension), "
                + "p = \(p) in \(cellParameterIndices.count) tensors"
        ]
        let width = min(24, nodes.map(\.output.count).max() ?? 0)
        for (n, node) in nodes.enumerated() {
            let attributes = node.op.attributes.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
            let reads = nodeInputs[n].filter { values[$0].role == .parameter }.reduce(0) { $0 + values[$1].count }
            var line =
                "  " + node.output.padding(toLength: max(width, node.output.count), withPad: " ", startingAt: 0)
                + " = \(node.op.type)(\(node.inputs.joined(separator: ", ")))"
            if !attributes.isEmpty { line += " {" + attributes.joined(separator: ", ") + "}" }
            line += " → \(shapeText(values[nodeOutput[n]].shape))"
            if reads > 0 { line += ", \(reads) parameters" }
            if !cellNodes.contains(n) && !headNodes.contains(n) { line += " (unused)" }
            lines.append(line)
        }
        lines.append("  outputs: f = \(values[fIndex].name)" + (logitsIndex.map { ", logits = \(values[$0].name)" } ?? ""))
        return lines
    }
}
