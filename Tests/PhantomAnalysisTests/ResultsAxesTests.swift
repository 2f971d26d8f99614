import Foundation
import PhantomAnalysis
import PhantomHDF5
import PhantomResults
import PhantomTestSupport
import Testing

@Suite("Results file: every array names its axes")
struct ResultsAxesTests {
    @Test("every dataset has an axes attribute of known axes, one per dimension, each axis one length throughout the file")
    func everyDatasetHasAxes() throws {
        let result = try GoldenAnalysis.run("tanh-d8-digits.h5")
        let path = makeTemporaryFolder() + "/r.h5"
        try ResultsFile.write(
            [
                SeriesEntry(path: "m", sha256: "", epoch: 3, step: 36, result: result),
                SeriesEntry(path: "n", sha256: "", epoch: 4, step: 48, result: result)
            ],
            sampleIndices: Array(0..<result.sampleCount), to: path, overwrite: false, attributes: [:])
        var lengths: [ResultsSchema.Axis: Int] = [:]
        var datasets: [String] = []
        let file = try HDF5File.open(path)
        defer { try? file.close() }
        func visit(_ group: HDF5Group, _ prefix: String) throws {
            for child in try group.children() {
                switch child.kind {
                case .group: try visit(try group.group(child.name), prefix + child.name + "/")
                case .dataset:
                    let name = prefix + child.name
                    datasets.append(name)
                    let shape = try group.datasetInfo(child.name).shape
                    guard case .string(let text)? = try? group.attribute("axes", of: child.name) else {
                        Issue.record("\(name) has no axes attribute")
                        continue
                    }
                    let axes = text.split(separator: ",").map { ResultsSchema.Axis(rawValue: String($0)) }
                    #expect(axes.count == shape.count, "\(name): axes '\(text)' for shape \(shape)")
                    for (axis, length) in zip(axes, shape) {
                        guard let axis else { Issue.record("\(name): unknown axis in '\(text)'"); continue }
                        #expect(lengths[axis, default: length] == length, "\(name): \(axis) has length \(length)")
                        lengths[axis] = length
                    }
                default: continue
                }
            }
        }
        try visit(file.root, "")
        #expect(datasets.count > 60)
        for coordinate in CoordinateArray.allCases { #expect(datasets.contains(coordinate.path)) }
        #expect(lengths[.series] == 2 && lengths[.sample] == result.sampleCount && lengths[.k] == result.ks.count)
        // And the file reads back.
        #expect(try ResultsData.read(path).epochs == [3, 4])
    }
}
