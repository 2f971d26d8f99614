import ArgumentParser
import Foundation
import PhantomBenchmarks

/// `phantom bench`: performance measurements (run them from a release build). The benchmarks live in
/// PhantomBenchmarks; these commands set their options and print their reports.
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure the toolkit's performance (use a release build: swift build -c release).",
        subcommands: [BenchGrid.self, BenchTrain.self, BenchCell.self]
    )
}
