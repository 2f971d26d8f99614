import Foundation
import PhantomAnalysis
import PhantomGradients
import PhantomResults

/// The figures drawn from a results file. Each builder returns nil, with the reason, when the file lacks
/// what the figure needs; the other figures are still drawn.
public struct ResultsFigures: Sendable {
    public let data: ResultsData
    /// The series entry the single-checkpoint figures show (the last by default).
    public let series: Int
    /// The (k, λ) of the along-training figure.
    public let trainingK: Int
    public let trainingLambda: Double

    public init(data: ResultsData, series: Int? = nil, trainingK: Int = 5, trainingLambda: Double = 0.5) {
        self.data = data
        self.series = series ?? max(data.seriesCount - 1, 0)
        self.trainingK = trainingK
        self.trainingLambda = trainingLambda
    }

    public enum Outcome: Sendable {
        case figure(Figure)
        case skipped(name: String, reason: String)
    }

    /// Every figure, in a fixed order.
    public func all() -> [Outcome] {
        var outcomes = data.estimators.map { heatmap($0) }
        outcomes.append(cosineVersusK())
        outcomes += gridEstimators.map { histograms($0) }
        outcomes.append(bounds())
        outcomes.append(alongTraining())
        outcomes.append(frontierAlongTraining())
        return outcomes
    }

    /// The estimators that vary with both k and λ (UPG, NPG): the ones drawn per (k, λ).
    private var gridEstimators: [EstimatorID] {
        zip(data.estimators, data.estimatorAxes).filter { $1 == .kAndLambda }.map(\.0)
    }

    private var epochLabel: String {
        data.epochs.indices.contains(series) && data.epochs[series] >= 0 ? " (epoch \(data.epochs[series]))" : ""
    }

    /// Reliable samples' values of a cell.
    private func values(_ array: CellArray, _ e: Int, _ l: Int, _ k: Int, series t: Int? = nil) -> [Double]? {
        let t = t ?? series
        guard let all = data.cell(array, series: t, estimator: e, lambda: l, k: k) else { return nil }
        let reliable = data.reliable(series: t)
        return zip(all, reliable.count == all.count ? reliable : Array(repeating: true, count: all.count)).filter { $1 }.map(\.0)
    }

    // MARK: 1. Heatmap of the median cosine over (k, λ)

    public func heatmap(_ estimator: EstimatorID) -> Outcome {
        let name = "heatmap_\(estimator)"
        guard let e = data.index(of: estimator), data.cells[.cosine] != nil else {
            return .skipped(name: name, reason: "the results file has no cells/cosine")
        }
        var rows: [String] = []
        for (l, lambda) in data.lambdas.enumerated() {
            for (kk, k) in data.ks.enumerated() {
                let median = Quantile.of(values(.cosine, e, l, kk) ?? [], 0.5)
                rows.append("\(kk) \(l) \(number(median)) \(k) \(number(lambda))")
            }
            rows.append("")
        }
        let xtics = data.ks.enumerated().map { "\"\($0.element)\" \($0.offset)" }.joined(separator: ", ")
        let ytics = data.lambdas.enumerated().map { "\"\(String(format: "%g", $0.element))\" \($0.offset)" }.joined(separator: ", ")
        let body = """
            set title "Median cosine between \(estimator.displayName) and the exact gradient\(epochLabel)"
            set xlabel "steps k"
            set ylabel "damping λ"
            set cblabel "median cos∠(ĝ, ∇)"
            set xtics (\(xtics))
            set ytics (\(ytics))
            set xrange [-0.5:\(Double(data.ks.count) - 0.5)]
            set yrange [-0.5:\(Double(data.lambdas.count) - 0.5)]
            set palette defined (0 "#3b4cc0", 0.5 "#dddddd", 1 "#b40426")
            set cbrange [*:1]
            plot '\(name).dat' index 0 using 1:2:3 with image notitle, \\
                 '' index 0 using 1:2:(sprintf("%.3f", $3)) with labels font ",7" notitle
            """
        return .figure(
            Figure(name: name, title: "Median cosine of \(estimator) over (k, λ)", blocks: [rows.joined(separator: "\n")], body: body))
    }

    // MARK: 2. Cosine vs k, one line per λ, UPG and NPG side by side, 10–90% band

    public func cosineVersusK() -> Outcome {
        let name = "cosine_vs_k"
        let shown = gridEstimators
        guard !shown.isEmpty, data.cells[.cosine] != nil else {
            return .skipped(name: name, reason: "needs UPG or NPG cosines")
        }
        var blocks: [String] = []
        var panels: [String] = []
        for estimator in shown {
            guard let e = data.index(of: estimator) else { continue }
            var plots: [String] = []
            for (l, lambda) in data.lambdas.enumerated() {
                let index = blocks.count
                blocks.append(
                    data.ks.enumerated().map { kk, k in
                        let v = values(.cosine, e, l, kk) ?? []
                        return "\(k) \(number(Quantile.of(v, 0.5))) \(number(Quantile.of(v, 0.1))) \(number(Quantile.of(v, 0.9)))"
                    }.joined(separator: "\n"))
                plots.append("'\(name).dat' index \(index) using 1:3:4 with filledcurves lc \(l + 1) fs transparent solid 0.15 notitle")
                plots.append(
                    "'' index \(index) using 1:2 with linespoints lc \(l + 1) pt 7 ps 0.6 title \"λ = \(String(format: "%g", lambda))\"")
            }
            panels.append(
                """
                set title "\(estimator.displayName): cosine to the exact gradient\(epochLabel)"
                plot \(plots.joined(separator: ", \\\n     "))
                """)
        }
        let body = """
            set multiplot layout 1,\(shown.count)
            set xlabel "steps k"
            set ylabel "cos∠(ĝ, ∇): median, 10–90% band"
            set key bottom right
            set grid
            \(panels.joined(separator: "\n"))
            unset multiplot
            """
        return .figure(
            Figure(
                name: name, title: "Cosine vs k per λ (median and 10–90% band across samples)", blocks: blocks,
                body: body, width: 450 * shown.count + 100, height: 500))
    }

    // MARK: 3. Per-sample cosine histograms, k = 1…5 at λ = 0.5 and 1.0 (the paper's Figure 1)

    public func histograms(_ estimator: EstimatorID) -> Outcome {
        let name = "histograms_\(estimator)"
        guard let e = data.index(of: estimator), data.cells[.cosine] != nil else {
            return .skipped(name: name, reason: "the results file has no cells/cosine")
        }
        let rowsLambda = [0.5, 1.0].compactMap { target in data.lambdas.firstIndex { abs($0 - target) < 1e-12 } }
        let columnsK = (1...5).compactMap { target in data.ks.firstIndex(of: target) }
        guard !rowsLambda.isEmpty, !columnsK.isEmpty else {
            return .skipped(name: name, reason: "needs λ = 0.5 or 1.0 and some k in 1…5 in the grid")
        }
        let all = rowsLambda.flatMap { l in columnsK.flatMap { values(.cosine, e, l, $0) ?? [] } }
        let low = max(-1, min(Quantile.of(all, 0), 0.99)), bins = 20
        let width = (1 - low) / Double(bins)
        var blocks: [String] = [], panels: [String] = []
        for l in rowsLambda {
            for kk in columnsK {
                let v = values(.cosine, e, l, kk) ?? []
                var counts = [Int](repeating: 0, count: bins)
                // Clamped in floating point before the conversion: a value from the file never traps Int(_:).
                for c in v where c.isFinite { counts[Int(min(Double(bins - 1), max(0, ((c - low) / width).rounded(.down))))] += 1 }
                let index = blocks.count
                blocks.append((0..<bins).map { "\(number(low + (Double($0) + 0.5) * width)) \(counts[$0])" }.joined(separator: "\n"))
                panels.append(
                    """
                    set title "k = \(data.ks[kk]), λ = \(String(format: "%g", data.lambdas[l]))"
                    plot '\(name).dat' index \(index) using 1:2 with boxes fs solid 0.6 lc 1 notitle
                    """)
            }
        }
        let body = """
            set multiplot layout \(rowsLambda.count),\(columnsK.count) title "\(estimator.displayName): per-sample cosine to the exact\
             gradient\(epochLabel)"
            set xlabel "cos∠(ĝ, ∇)"
            set ylabel "samples"
            set xrange [\(number(low)):1]
            set boxwidth \(number(width * 0.9))
            set xtics \(number((1 - low) / 2))
            set format x "%.2f"
            \(panels.joined(separator: "\n"))
            unset multiplot
            """
        return .figure(
            Figure(
                name: name, title: "Per-sample cosine histograms of \(estimator)", blocks: blocks, body: body,
                width: 260 * columnsK.count + 80, height: 260 * rowsLambda.count + 60))
    }

    // MARK: 4. Measured error vs the bound ‖E‖/σ_{min}, and how often Theorem 1 certifies ascent

    public func bounds() -> Outcome {
        let name = "bounds"
        guard data.cells[.rho] != nil, data.cells[.relativeError] != nil, data.cells[.theorem1] != nil else {
            return .skipped(name: name, reason: "the results file has no cells/rho, cells/relative_error or cells/theorem1")
        }
        // Theorem 1's fraction is drawn for NPG (the paper's estimator in closed form), else the first estimator
        // that varies with k and λ.
        let e = data.index(of: NeumannPhantomGradient.id) ?? gridEstimators.first.flatMap(data.index) ?? 0
        var scatter: [String] = []
        var lowest = Double.infinity, highest = 0.0
        for (estimatorIndex, _) in data.estimators.enumerated() {
            for l in data.lambdas.indices {
                for kk in data.ks.indices {
                    let rho = values(.rho, estimatorIndex, l, kk) ?? [], error = values(.relativeError, estimatorIndex, l, kk) ?? []
                    for (r, m) in zip(rho, error) where r.isFinite && r > 0 && m.isFinite && m > 0 {
                        scatter.append("\(number(r)) \(number(m)) \(estimatorIndex)")
                        lowest = min(lowest, r, m)
                        highest = max(highest, r, m)
                    }
                }
            }
        }
        var fraction: [String] = []
        var plots: [String] = []
        for (l, lambda) in data.lambdas.enumerated() {
            fraction.append(
                data.ks.enumerated().map { kk, k in
                    let holds = CertifiedFraction.of(values(.theorem1, e, l, kk) ?? [], holds: CertifiedFraction.flagHolds) ?? .nan
                    let certified = CertifiedFraction.of(values(.rhoStar, e, l, kk) ?? [], holds: { $0 < 1 }) ?? .nan
                    return "\(k) \(number(holds)) \(number(certified))"
                }.joined(separator: "\n"))
            plots.append(
                "'\(name).dat' index \(l + 1) using 1:2 with linespoints lc \(l + 1) pt 7 ps 0.6 title \"λ = "
                    + "\(String(format: "%g", lambda))\""
            )
        }
        guard !scatter.isEmpty else { return .skipped(name: name, reason: "no cell has a finite bound ρ") }
        let estimatorName = data.estimators.indices.contains(e) ? data.estimators[e].displayName : "?"
        let body = """
            set multiplot layout 1,2
            set title "Measured relative error vs the bound ρ = ‖E‖/σ_{min}\(epochLabel)"
            set logscale xy
            set format x "10^{%T}"
            set format y "10^{%T}"
            set xlabel "ρ = ‖E‖₂ / σ_{min}(M)"
            set ylabel "‖ĝ − ∇‖ / ‖∇‖"
            set key top left
            set grid
            plot [\(number(lowest / 2)):\(number(highest * 2))] '\(name).dat' index 0 using 1:2 with points pt 7 ps 0.3 title "cells\
             (sample, estimator, k, λ)", x with lines lw 2 lc rgb "black" title "y = x"
            unset logscale
            set format x "%g"
            set format y "%g"
            set title "\(estimatorName): fraction of samples where Theorem 1 certifies ascent"
            set xlabel "steps k"
            set ylabel "fraction of samples"
            set yrange [0:1.05]
            set key top left
            plot \(plots.joined(separator: ", \\\n     "))
            unset multiplot
            """
        return .figure(
            Figure(
                name: name, title: "Relative error vs ρ, and Theorem 1's certified fraction",
                blocks: [scatter.joined(separator: "\n")] + fraction, body: body, width: 1100, height: 500))
    }

    // MARK: 5. Along training: cosine (median, band) for one (k, λ), ρ(J) and forward iterations

    public func alongTraining() -> Outcome {
        let name = "along_training"
        guard data.seriesCount >= 2 else { return .skipped(name: name, reason: "needs a series of at least two checkpoints") }
        guard let kk = data.ks.firstIndex(of: trainingK) ?? data.ks.indices.last,
            let l = data.lambdas.enumerated().min(by: { abs($0.element - trainingLambda) < abs($1.element - trainingLambda) })?.offset
        else {
            return .skipped(name: name, reason: "empty grid")
        }
        let shown = data.estimators.enumerated().filter { data.estimatorAxes[$0.offset].dependsOnK }
        var blocks: [String] = []
        var plots: [String] = []
        var drawn: [(name: String, block: String)] = []
        for (position, (e, estimator)) in shown.enumerated() {
            let index = blocks.count
            let block = (0..<data.seriesCount).map { t in
                let v = values(.cosine, e, l, kk, series: t) ?? []
                return "\(data.epochs[t]) \(number(Quantile.of(v, 0.5))) \(number(Quantile.of(v, 0.1))) \(number(Quantile.of(v, 0.9)))"
            }.joined(separator: "\n")
            blocks.append(block)
            let title = Self.coincidence(estimator.displayName, block, &drawn)
            plots.append("'\(name).dat' index \(index) using 1:3:4 with filledcurves lc \(e + 1) fs transparent solid 0.15 notitle")
            plots.append("'' index \(index) using 1:2 with linespoints \(Self.style(e, position)) title \"\(title)\"")
        }
        let diagnostics = blocks.count
        blocks.append(
            (0..<data.seriesCount).map { t in
                "\(data.epochs[t]) \(number(Quantile.of(data.perSample(.spectralRadius, series: t) ?? [], 0.5))) "
                    + "\(number(Quantile.of(data.perSample(.forwardIterations, series: t) ?? [], 0.5)))"
            }.joined(separator: "\n"))
        let body = """
            set multiplot layout 1,2
            set title "Cosine to the exact gradient along training, k = \(data.ks[kk]), λ = \(String(format: "%g", data.lambdas[l]))"
            set key below
            set xlabel "epoch"
            set ylabel "cos∠(ĝ, ∇): median, 10–90% band"
            set grid
            plot \(plots.joined(separator: ", \\\n     "))
            set title "The implicit layer along training"
            set ylabel "median ρ(J) at h*"
            set y2label "median forward iterations"
            set ytics nomirror
            set y2tics
            set key below
            plot '\(name).dat' index \(diagnostics) using 1:2 axes x1y1 with linespoints pt 7 title "ρ(J)", \\
                 '' index \(diagnostics) using 1:3 axes x1y2 with linespoints pt 5 title "forward iterations"
            unset multiplot
            """
        return .figure(
            Figure(
                name: name, title: "Cosine, ρ(J) and forward iterations along training", blocks: blocks, body: body,
                width: 1100, height: 480))
    }

    // MARK: 6. The frontier along training: the cheapest cell reaching a median cosine of 0.99, per estimator

    public func frontierAlongTraining(threshold: Double = 0.99) -> Outcome {
        let name = "frontier"
        guard data.seriesCount >= 2 else { return .skipped(name: name, reason: "needs a series of at least two checkpoints") }
        guard let t = data.thresholds.firstIndex(where: { abs($0 - threshold) < 1e-12 }), let ratio = data.frontier[.costRatio],
            let ks = data.frontier[.k], let lambdas = data.frontier[.lambda]
        else {
            return .skipped(name: name, reason: "the results file has no frontier (written by an older version)")
        }
        let shown = data.estimators.indices.filter { data.estimatorAxes[$0] != .none }
        var blocks: [String] = [], plots: [String] = []
        let width = data.thresholds.count, per = data.estimators.count * width
        var drawn: [(name: String, block: String)] = []
        for (position, e) in shown.enumerated() {
            let rows = (0..<data.seriesCount).map { s -> String in
                let i = s * per + e * width + t
                return "\(data.epochs[s]) \(number(ratio.values[i])) \(number(ks.values[i])) \(number(lambdas.values[i]))"
            }
            guard rows.contains(where: { !$0.contains("NaN") }) else { continue }
            let index = blocks.count
            blocks.append(rows.joined(separator: "\n"))
            let title = Self.coincidence(data.estimators[e].displayName, rows.joined(separator: "\n"), &drawn)
            plots.append("'\(name).dat' index \(index) using 1:2 with linespoints \(Self.style(e, position)) title \"\(title)\"")
            plots.append(
                "'' index \(index) using 1:2:(sprintf(\"(%d, %g)\", $3, $4)) with labels offset 0,1 font \",8\" tc lt \(e + 1) notitle")
        }
        guard !blocks.isEmpty else {
            return .skipped(name: name, reason: "no estimator reaches a median cosine of \(threshold) in the grid")
        }
        let body = """
            set title "Cheapest (k, λ) reaching a median cosine of \(threshold), relative to the exact gradient's cost"
            set xlabel "epoch"
            set ylabel "cost / exact gradient's cost (VJPs per sample)"
            set logscale y
            set key outside right top
            set grid
            plot \(plots.joined(separator: ", \\\n     "))
            """
        return .figure(
            Figure(
                name: name, title: "The frontier along training: cheapest cell reaching \(threshold)", blocks: blocks, body: body,
                width: 900, height: 500))
    }

    // MARK: Styles

    /// A line style per estimator that stays visible where curves coincide: its own colour, dash pattern and
    /// point shape, later curves drawn with larger open points around earlier ones.
    static func style(_ estimator: Int, _ position: Int) -> String {
        let points = [7, 6, 9, 8, 5, 4]
        return
            "lc \(estimator + 1) dt \(position + 1) pt \(points[position % points.count]) ps "
            + "\(String(format: "%.1f", 0.6 + 0.5 * Double(position)))"
    }

    /// The key title of a curve: its name, with a note when its data equal an earlier curve's to plotting precision.
    static func coincidence(_ name: String, _ block: String, _ drawn: inout [(name: String, block: String)]) -> String {
        defer { drawn.append((name, block)) }
        guard let twin = drawn.first(where: { $0.block == block }) else { return name }
        return "\(name) (= \(twin.name) to plotting precision)"
    }
}
