import Foundation
import PhantomHDF5
import PhantomModel
import PhantomModelIO

extension Inspection {
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
