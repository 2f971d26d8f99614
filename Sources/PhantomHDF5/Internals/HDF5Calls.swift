import CHDF5

// Every raw HDF5 call of the module goes through `call`, which switches HDF5's automatic error printing
// off for the calling thread (the thread-safe library keeps one error stack per thread) and turns a
// negative return into an `HDF5Error` carrying the library's error stack.

/// Where an operation happens, for error messages.
struct Location: Sendable {
    let file: String
    let object: String?

    func error(_ message: String) -> HDF5Error {
        HDF5Error(file: file, object: object, message: message)
    }

    func child(_ name: String) -> Location {
        let base = object ?? "/"
        return Location(file: file, object: base.hasSuffix("/") ? base + name : base + "/" + name)
    }
}

/// Drains the calling thread's HDF5 error stack into one line.
func drainErrorStack() -> String {
    var buffer = [CChar](repeating: 0, count: 2048)
    buffer.withUnsafeMutableBufferPointer { phantom_error_stack($0.baseAddress, $0.count) }
    return string(fromNulTerminated: buffer)
}

/// The text of a NUL-terminated C buffer.
func string(fromNulTerminated buffer: [CChar]) -> String {
    let end = buffer.firstIndex(of: 0) ?? buffer.count
    return String(decoding: buffer[..<end].map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// Runs one HDF5 C call with printing silenced; a negative result becomes a thrown error.
@discardableResult
func call<T: BinaryInteger>(
    _ operation: String, _ location: Location, _ message: @autoclosure () -> String,
    _ body: () -> T
) throws(HDF5Error) -> T {
    phantom_silence_errors()
    let result = body()
    if result < 0 {
        throw HDF5Error(
            file: location.file, object: location.object, message: message(),
            operation: operation, stack: drainErrorStack())
    }
    return result
}

/// Runs an HDF5 call whose failure is expected and not an error (e.g. a probe); clears the stack.
func probe<T>(_ body: () -> T) -> T {
    phantom_silence_errors()
    let result = body()
    _ = drainErrorStack()
    return result
}

/// The kinds of HDF5 identifier and how each is closed.
enum HandleKind {
    case file, group, dataset, dataspace, datatype, propertyList, attribute, object

    func close(_ id: hid_t) -> herr_t {
        switch self {
        case .file: return H5Fclose(id)
        case .group: return H5Gclose(id)
        case .dataset: return H5Dclose(id)
        case .dataspace: return H5Sclose(id)
        case .datatype: return H5Tclose(id)
        case .propertyList: return H5Pclose(id)
        case .attribute: return H5Aclose(id)
        case .object: return H5Oclose(id)
        }
    }
}

/// A short-lived HDF5 identifier (dataspace, datatype, property list, attribute, open dataset) with
/// exactly one owner: it is closed when the value goes out of scope.
struct Handle: ~Copyable {
    let id: hid_t
    let kind: HandleKind

    /// Adopts the id returned by `operation`; a negative id throws with the library's error stack.
    init(
        _ kind: HandleKind, _ operation: String, _ location: Location, _ message: @autoclosure () -> String,
        _ body: () -> hid_t
    ) throws(HDF5Error) {
        self.id = try call(operation, location, message(), body)
        self.kind = kind
    }

    deinit { _ = probe { kind.close(id) } }
}
