import Foundation
import PhantomModel
import PhantomTraining

/// The figure of one or more training runs: loss, accuracy, forward and backward time per step, one line
/// per run (labelled by its estimator).
public enum RunFigures {
    public static func curves(runs: [(label: String, history: [EpochRecord])]) -> ResultsFigures.Outcome {
        let name = "training_curves"
        let usable = runs.filter { !$0.history.isEmpty }
        guard !usable.isEmpty else { return .skipped(name: name, reason: "the run folders hold no training history") }
        let blocks = usable.map { run in
            run.history.map { r in
                let steps = Double(max(r.steps, 1))
                return
                    "\(r.epoch) \(number(r.loss)) \(number(r.trainAccuracy)) \(number(r.testAccuracy)) "
                    + "\(number(1000 * r.forwardSeconds / steps)) \(number(1000 * r.backwardSeconds / steps))"
            }.joined(separator: "\n")
        }
        func panel(_ title: String, _ ylabel: String, _ columns: [(Int, String)]) -> String {
            var plots: [String] = []
            for (i, run) in usable.enumerated() {
                for (j, (column, suffix)) in columns.enumerated() {
                    plots.append(
                        "'\(name).dat' index \(i) using 1:\(column) with linespoints lc \(i + 1) dt \(j + 1) pt 7 ps 0.5 title "
                            + "\"\(run.label)\(suffix)\""
                    )
                }
            }
            return "set title \"\(title)\"\nset ylabel \"\(ylabel)\"\nplot \(plots.joined(separator: ", \\\n     "))"
        }
        let body = """
            set multiplot layout 2,2
            set xlabel "epoch"
            set grid
            set key below
            \(panel("Training loss", "mean loss", [(2, "")]))
            \(panel("Accuracy", "accuracy", [(3, " train"), (4, " test")]))
            \(panel("Forward time per step", "ms", [(5, "")]))
            \(panel("Backward time per step", "ms", [(6, "")]))
            unset multiplot
            """
        return .figure(
            Figure(
                name: name, title: "Training curves: loss, accuracy, forward and backward time per step",
                blocks: blocks, body: body, width: 1100, height: 800))
    }
}
