import PhantomFileSystem
import PhantomModel

extension ModelShape {
    /// What exceeds the ceilings the checkpoint reader applies (``InputLimits``; nil: nothing): n_in, d and every
    /// extra dimension in 1…2¹⁶, c in 1…2¹⁴, the parameters in all at most 2²⁷, each tensor at most 2²⁸ elements.
    /// Writers (``Checkpoint/save(to:overwrite:)``, `phantom train` before it starts) check the same ceilings, so
    /// that nothing is written that this tool would then refuse to read.
    public var limitProblem: String? {
        let extras = Self.extraDimensionNames(kind).map { ($0, extraDimensions[$0] ?? 0, InputLimits.maximumDimension) }
        let all = [
            ("n_in", inputDimension, InputLimits.maximumDimension), ("d", stateDimension, InputLimits.maximumDimension),
            ("c", outputDimension, InputLimits.maximumClasses)
        ]
        for (name, value, limit) in all + extras where !(1...limit).contains(value) {
            return "\(name) = \(value) is outside 1…\(limit), the range a checkpoint may declare"
        }
        if let problem { return problem }
        if let big = specs.first(where: { $0.count > InputLimits.maximumArrayElements }) {
            return "tensor \(big.name) has \(big.count) elements, more than the \(InputLimits.maximumArrayElements) an array may have"
        }
        let total = parameterCount
        if total > InputLimits.maximumModelParameters {
            return "\(total) parameters (\(dimensions)), more than the \(InputLimits.maximumModelParameters) a model may have"
        }
        return nil
    }
}
