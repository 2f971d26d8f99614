import Foundation
import PhantomHDF5
import PhantomModel
import PhantomModelIO

extension Inspection {
    /// The solved samples as a table (empty without data): per row the method, iterations, residuals, ‖J‖₂ and ρ(J)
    /// at h*, the predicted class, the loss and the status, then how many forward solves did not converge.
    public func sampleTable(solver: FixedPointConfiguration) -> [String] {
        guard !samples.isEmpty else { return [] }
        let widths = [8, 13, 12, 12, 12, 10, 10, 7, 12]
        func row(_ cells: [String]) -> String {
            zip(cells, widths).map { $0.count >= $1 ? $0 + " " : $0.padding(toLength: $1, withPad: " ", startingAt: 0) }.joined()
                + cells[cells.count - 1]
        }
        func format(_ x: Double) -> String { String(format: "%.2e", x) }
        var lines = [
            "", "fixed points (\(solver.method.rawValue), relative tolerance \(solver.stopping.tolerance)), J = ∂f/∂h at h*:",
            row(["row", "method", "iterations", "residual", "last", "‖J‖₂", "ρ(J)", "class", "loss", "status"])
        ]
        for s in samples {
            lines.append(
                row([
                    "\(s.row)", s.method.rawValue, "\(s.iterations)", format(s.residual), format(s.lastResidual),
                    String(format: "%.4f", s.diagnostics.jacobianNorm), String(format: "%.4f", s.diagnostics.spectralRadius),
                    "\(s.prediction)", s.loss.map { String(format: "%.6g", $0) } ?? "—", s.status.rawValue
                ]))
        }
        let unconverged = samples.filter { !$0.status.isConverged }.count
        if unconverged > 0 { lines.append("\(unconverged) of \(samples.count) forward solves did not converge") }
        return lines
    }

    /// The checkpoint as text lines: its path, the cell and its dimensions, the training it came from, every
    /// tensor with its shape, the metadata and the history arrays.
    public func describe() -> [String] {
        let c = checkpoint, m = c.model
        var dims = "n_in = \(m.inputDimension), d = \(m.stateDimension), c = \(m.outputDimension)"
        for k in ModelShape.extraDimensionNames(m.cell.kind) { dims += ", \(k) = \(m.cell.extraDimensions[k] ?? 0)" }
        var lines = ["checkpoint  \(path)", "cell        \(m.cell.kind.rawValue) (\(dims))"]
        var training: [String] = []
        if let d = c.dataset { training.append("dataset \(d)") }
        if let e = c.epoch { training.append("epoch \(e)") }
        if let s = c.step { training.append("step \(s)") }
        if let e = c.estimator { training.append("estimator \(e)") }
        if !training.isEmpty { lines.append("training    " + training.joined(separator: ", ")) }
        if let graph = (m.cell as? GraphCell)?.graph ?? (m.cell as? any GraphBackedCell)?.graphCell.graph { lines += graph.describe() }
        lines.append("parameters  p = \(m.cell.layout.count) in the implicit layer, \(m.head.layout.count) in the head")
        for spec in m.cell.layout.specs + m.head.layout.specs {
            lines.append("  " + spec.name.padding(toLength: max(24, spec.name.count + 1), withPad: " ", startingAt: 0) + "\(spec.shape)")
        }
        for (name, value) in c.metadata.sorted(by: { $0.key < $1.key }) {
            lines.append("metadata    \(name) = \(Self.show(value))")
        }
        for (name, array) in c.history.sorted(by: { $0.key < $1.key }) {
            lines.append("history     \(name) \(array.shape)")
        }
        return lines
    }

    private static func show(_ value: HDF5AttributeValue) -> String {
        switch value {
        case .string(let s): return "\"\(s)\""
        case .integer(let v): return "\(v)"
        case .double(let v): return "\(v)"
        case .integers(let v): return "\(v)"
        case .doubles(let v): return "\(v)"
        }
    }
}
