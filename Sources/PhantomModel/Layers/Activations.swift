import Foundation
import PhantomLinearAlgebra

/// An element-wise activation without parameters, y = φ(z), whose Jacobian is diag φ′(z): it only says how to form
/// y and φ′ (`forward`); names, widths and the empty parameter list come from here.
public protocol ElementwiseActivation: MapLayer {}

extension ElementwiseActivation {
    public var outputWidth: Int { inputWidth }
    public var tensors: [(name: String, shape: [Int])] { [] }
    public var parameters: [Double] {
        get { [] }
        nonmutating set { precondition(newValue.isEmpty, "\(name) has no parameters") }
    }
}

/// `torch.tanh`: y = tanh(z) element-wise; φ′ = 1 − y².
public struct Tanh: ElementwiseActivation {
    public let name: String
    public let inputWidth: Int

    public init(_ name: String, width: Int) { self.name = name; inputWidth = width }

    public func value(_ z: Matrix) -> Matrix { z.map(Foundation.tanh) }

    public func forward(_ z: Matrix) -> (value: Matrix, point: any MapPoint) {
        let y = value(z)
        return (y, ElementwisePoint(slope: y.map { 1 - $0 * $0 }))
    }
}

/// `nn.ReLU`: y = z ⊙ 1[z > 0]; φ′ = 1[z > 0] (relu′(0) = 0, as in PyTorch).
public struct ReLU: ElementwiseActivation {
    public let name: String
    public let inputWidth: Int

    public init(_ name: String, width: Int) { self.name = name; inputWidth = width }

    public func forward(_ z: Matrix) -> (value: Matrix, point: any MapPoint) {
        let mask = z.map { $0 > 0 ? 1 : 0 }
        return (z.hadamard(mask), ElementwisePoint(slope: mask))
    }
}

/// An element-wise map's derivative: the diagonal φ′(z) per sample, so JVP and VJP are both ⊙ φ′(z).
struct ElementwisePoint: MapPoint {
    let slope: Matrix?
    var values: Matrix { slope! }

    init(slope: Matrix) { self.slope = slope }

    func jvp(_ dz: Matrix) -> Matrix { dz.hadamardBroadcasting(values) }
    func vjp(_ g: Matrix) -> Matrix { g.hadamardBroadcasting(values) }
    func selectingSamples(_ rows: [Int]) -> any MapPoint { ElementwisePoint(slope: values.selectingRows(rows)) }
}
