import Foundation
import PhantomFileSystem

/// A safetensors file that is not what it claims: every problem is named, and nothing is read out of bounds.
public struct SafetensorsError: Error, CustomStringConvertible, Sendable {
    public let path: String
    public let message: String
    public init(path: String, message: String) { self.path = path; self.message = message }
    public var description: String { "\(path): \(message)".escapingControlCharacters }
}

/// The element types a safetensors tensor may have here; all are converted to Double.
public enum SafetensorsDType: String, Sendable, CaseIterable {
    case f64 = "F64", f32 = "F32", f16 = "F16", bf16 = "BF16"
    public var byteSize: Int {
        switch self {
        case .f64: return 8
        case .f32: return 4
        case .f16, .bf16: return 2
        }
    }
}

/// One tensor of a safetensors file, converted to Double, row-major.
public struct SafetensorsTensor: Sendable, Equatable {
    public let dtype: SafetensorsDType
    public let shape: [Int]
    public let values: [Double]
    public init(dtype: SafetensorsDType, shape: [Int], values: [Double]) {
        self.dtype = dtype
        self.shape = shape
        self.values = values
    }
}

/// The safetensors format: an 8-byte little-endian header length N, a JSON object of N bytes (each tensor's
/// `dtype`, `shape` and `data_offsets` [begin, end) relative to the data section, and an optional
/// `__metadata__` map of strings), then the raw little-endian data.
///
/// Reading is strict: the header length, every offset, every byte count and every overlap is checked before a
/// byte of data is read, so a file that lies in its header is an error, never an out-of-bounds read.
public enum Safetensors {
    /// Reads every tensor and the metadata.
    public static func read(_ path: String) throws -> (tensors: [String: SafetensorsTensor], metadata: [String: String]) {
        func fail(_ message: String) -> SafetensorsError { SafetensorsError(path: path, message: message) }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue else {
            throw fail("no such file")
        }
        guard let data = FileManager.default.contents(atPath: path) else { throw fail("cannot read the file") }
        return try read(bytes: [UInt8](data), path: path)
    }

    /// Reads every tensor and the metadata from a file's bytes (`path` labels messages).
    public static func read(bytes: [UInt8], path: String) throws -> (tensors: [String: SafetensorsTensor], metadata: [String: String]) {
        func fail(_ message: String) -> SafetensorsError { SafetensorsError(path: path, message: message) }
        // torch.save writes a zip archive (or, before PyTorch 1.6, a bare pickle); neither is ever unpickled here.
        // A safetensors file whose header length happens to start with the same bytes (896 = 0x380 reads as
        // pickle protocol 3) is told apart by what follows: its JSON header opens with '{' at byte 8 and fits.
        var declared: UInt64 = 0
        if bytes.count >= 8 { for i in 0..<8 { declared |= UInt64(bytes[i]) << (8 * UInt64(i)) } }
        let looksLikeSafetensors = bytes.count > 8 && bytes[8] == UInt8(ascii: "{") && declared <= UInt64(bytes.count - 8)
        if !looksLikeSafetensors,
            bytes.starts(with: [0x50, 0x4B, 0x03, 0x04]) || (bytes.count >= 2 && bytes[0] == 0x80 && (2...5).contains(bytes[1]))
        {
            throw fail(
                "is a PyTorch pickle (torch.save), which phantom never unpickles; save the state dict with "
                    + "safetensors.torch.save_file(model.state_dict(), 'model.safetensors') — see notebooks-data/scripts/export_pytorch.py"
            )
        }
        guard bytes.count >= 8 else {
            throw fail("too short for a safetensors file (\(bytes.count) bytes; the header length alone takes 8)")
        }
        var headerLength: UInt64 = 0
        for i in 0..<8 { headerLength |= UInt64(bytes[i]) << (8 * UInt64(i)) }
        guard headerLength <= UInt64(bytes.count - 8) else {
            throw fail("header length \(headerLength) runs past the end of the file (\(bytes.count) bytes)")
        }
        let headerEnd = 8 + Int(headerLength)
        let json: Any
        do { json = try JSONSerialization.jsonObject(with: Data(bytes[8..<headerEnd])) } catch {
            throw fail("the header is not valid JSON")
        }
        guard let header = json as? [String: Any] else { throw fail("the header is not a JSON object") }
        // JSONSerialization keeps the last of two equal keys; a header that names a tensor twice is ambiguous.
        if let key = duplicateKey(bytes[8..<headerEnd]) { throw fail("the header names '\(key)' twice in one object") }
        let dataLength = bytes.count - headerEnd

        var metadata: [String: String] = [:]
        if let raw = header["__metadata__"] {
            guard let map = raw as? [String: Any] else { throw fail("__metadata__ is not an object") }
            for (key, value) in map {
                guard let text = value as? String else { throw fail("__metadata__['\(key)'] is not a string") }
                metadata[key] = text
            }
        }
        var entries: [(name: String, dtype: SafetensorsDType, shape: [Int], begin: Int, end: Int)] = []
        for (name, raw) in header where name != "__metadata__" {
            guard let entry = raw as? [String: Any] else { throw fail("tensor '\(name)': the entry is not an object") }
            if let unknown = entry.keys.first(where: { !["dtype", "shape", "data_offsets"].contains($0) }) {
                throw fail("tensor '\(name)': unknown key '\(unknown)'")
            }
            guard let dtypeName = entry["dtype"] as? String else { throw fail("tensor '\(name)': dtype is missing") }
            guard let dtype = SafetensorsDType(rawValue: dtypeName) else {
                throw fail("tensor '\(name)': unsupported dtype '\(dtypeName)' (supported: F64, F32, F16, BF16)")
            }
            guard let shapeValues = entry["shape"] as? [Any], let shape = integers(shapeValues), shape.allSatisfy({ $0 >= 0 }) else {
                throw fail("tensor '\(name)': shape must be a list of non-negative integers")
            }
            guard let offsetValues = entry["data_offsets"] as? [Any], let offsets = integers(offsetValues), offsets.count == 2 else {
                throw fail("tensor '\(name)': data_offsets must be two integers [begin, end]")
            }
            let (begin, end) = (offsets[0], offsets[1])
            guard begin >= 0, begin <= end, end <= dataLength else {
                throw fail("tensor '\(name)': data_offsets [\(begin), \(end)] lie outside the data section (\(dataLength) bytes)")
            }
            var count = 1
            for extent in shape {
                let (product, overflow) = count.multipliedReportingOverflow(by: extent)
                guard !overflow, product <= 1 << 40 else { throw fail("tensor '\(name)': shape \(shape) is too large") }
                count = product
            }
            guard end - begin == count * dtype.byteSize else {
                throw fail(
                    "tensor '\(name)': shape \(shape) of \(dtype.rawValue) needs \(count * dtype.byteSize) bytes, data_offsets give "
                        + "\(end - begin)"
                )
            }
            entries.append((name, dtype, shape, begin, end))
        }
        let ordered = entries.sorted { ($0.begin, $0.end) < ($1.begin, $1.end) }
        for (a, b) in zip(ordered, ordered.dropFirst()) where b.begin < a.end {
            throw fail("tensors '\(a.name)' and '\(b.name)' overlap (bytes \(a.begin)…\(a.end) and \(b.begin)…\(b.end))")
        }
        var tensors: [String: SafetensorsTensor] = [:]
        for e in entries {
            let raw = bytes[(headerEnd + e.begin)..<(headerEnd + e.end)]
            tensors[e.name] = SafetensorsTensor(dtype: e.dtype, shape: e.shape, values: decode(Array(raw), e.dtype))
        }
        return (tensors, metadata)
    }

    /// JSON numbers that are exact integers.
    private static func integers(_ values: [Any]) -> [Int]? {
        var out: [Int] = []
        for value in values {
            // JSON booleans arrive as NSNumber too (objCType "c"); `is Bool` would also match the integers 0 and 1.
            if let number = value as? NSNumber, String(cString: number.objCType) == "c" { return nil }
            if value is Bool && !(value is NSNumber) { return nil }
            let integer: Int?
            if let i = value as? Int {
                integer = i
            } else if let i = value as? Int64 {
                integer = Int(exactly: i)
            } else if let d = value as? Double {
                integer = Int(exactly: d)
            } else if let n = value as? NSNumber {
                integer = Int(exactly: n.doubleValue)
            } else {
                integer = nil
            }
            guard let integer, abs(integer) < 1 << 53 else { return nil }
            out.append(integer)
        }
        return out
    }

    /// Little-endian bytes → Double.
    static func decode(_ raw: [UInt8], _ dtype: SafetensorsDType) -> [Double] {
        let n = raw.count / dtype.byteSize
        return (0..<n).map { i in
            let o = i * dtype.byteSize
            switch dtype {
            case .f64:
                var bits: UInt64 = 0
                for j in 0..<8 { bits |= UInt64(raw[o + j]) << (8 * UInt64(j)) }
                return Double(bitPattern: bits)
            case .f32:
                let bits = UInt32(raw[o]) | UInt32(raw[o + 1]) << 8 | UInt32(raw[o + 2]) << 16 | UInt32(raw[o + 3]) << 24
                return Double(Float(bitPattern: bits))
            case .bf16:
                let bits = UInt32(raw[o]) << 16 | UInt32(raw[o + 1]) << 24
                return Double(Float(bitPattern: bits))
            case .f16:
                return halfToDouble(UInt16(raw[o]) | UInt16(raw[o + 1]) << 8)
            }
        }
    }

    /// IEEE 754 binary16 → Double, exact (subnormals, infinities and NaN included).
    public static func halfToDouble(_ h: UInt16) -> Double {
        let sign = (h & 0x8000) != 0 ? -1.0 : 1.0
        let exponent = Int((h >> 10) & 0x1F), fraction = Double(h & 0x3FF)
        switch exponent {
        case 0: return sign * fraction * 0x1p-24
        case 31: return fraction == 0 ? sign * .infinity : .nan
        default: return sign * (1 + fraction / 1024) * Double(sign: .plus, exponent: exponent - 15, significand: 1)
        }
    }

    /// Writes tensors (F64 or F32; F16/BF16 from values that are representable) and metadata.
    public static func write(_ tensors: [(name: String, tensor: SafetensorsTensor)], metadata: [String: String] = [:], to path: String)
        throws
    {
        try Data(encode(tensors, metadata: metadata)).write(to: URL(fileURLWithPath: path), options: .atomic)
    }

    /// The file's bytes: the 8-byte header length, the JSON header padded to 8 bytes, the data.
    public static func encode(_ tensors: [(name: String, tensor: SafetensorsTensor)], metadata: [String: String] = [:]) throws -> [UInt8] {
        var header: [String: Any] = [:]
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var blob: [UInt8] = []
        for (name, tensor) in tensors {
            let begin = blob.count
            for v in tensor.values {
                switch tensor.dtype {
                case .f64: withUnsafeBytes(of: v.bitPattern.littleEndian) { blob += $0 }
                case .f32: withUnsafeBytes(of: Float(v).bitPattern.littleEndian) { blob += $0 }
                case .bf16: let b = Float(v).bitPattern >> 16; blob += [UInt8(b & 0xFF), UInt8(b >> 8)]
                case .f16: let b = doubleToHalf(v); blob += [UInt8(b & 0xFF), UInt8(b >> 8)]
                }
            }
            header[name] = ["dtype": tensor.dtype.rawValue, "shape": tensor.shape, "data_offsets": [begin, blob.count]]
        }
        var json = [UInt8](try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys]))
        while json.count % 8 != 0 { json.append(0x20) }
        var out: [UInt8] = []
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { out += $0 }
        out += json + blob
        return out
    }

    /// Double → binary16 by rounding to nearest (exact for representable values).
    static func doubleToHalf(_ x: Double) -> UInt16 {
        if x.isNaN { return 0x7E00 }
        let sign: UInt16 = x.sign == .minus ? 0x8000 : 0
        let a = abs(x)
        if a >= 65520 { return sign | 0x7C00 }
        if a < 0x1p-14 { return sign | UInt16((a * 0x1p24).rounded(.toNearestOrEven)) }
        let e = Int(a.exponent)
        let mantissa = (a / Double(sign: .plus, exponent: e, significand: 1) - 1) * 1024
        var m = UInt16(mantissa.rounded(.toNearestOrEven)), exponent = UInt16(e + 15)
        if m == 1024 { m = 0; exponent += 1 }
        return sign | exponent << 10 | m
    }
}

extension Safetensors {
    /// The first key that occurs twice in one object of a JSON text that has already parsed (so every string is
    /// terminated), compared after unescaping (`"a"` and `"\u0061"` are one key); nil when there is none.
    static func duplicateKey(_ json: ArraySlice<UInt8>) -> String? {
        var stack: [(object: Bool, keys: Set<String>, expectKey: Bool)] = []
        var i = json.startIndex
        while i < json.endIndex {
            switch json[i] {
            case UInt8(ascii: "{"): stack.append((true, [], true))
            case UInt8(ascii: "["): stack.append((false, [], false))
            case UInt8(ascii: "}"), UInt8(ascii: "]"): if !stack.isEmpty { stack.removeLast() }
            case UInt8(ascii: ","): if let top = stack.last, top.object { stack[stack.count - 1].expectKey = true }
            case UInt8(ascii: "\""):
                var j = i + 1
                while j < json.endIndex, json[j] != UInt8(ascii: "\"") { j += json[j] == UInt8(ascii: "\\") ? 2 : 1 }
                guard j < json.endIndex else { return nil }
                if let top = stack.last, top.object, top.expectKey {
                    let token = Data(json[i...j])
                    // The header parsed, so the token decodes; were it not to, its raw bytes still name the key.
                    let key =
                        (try? JSONSerialization.jsonObject(with: token, options: .fragmentsAllowed)) as? String
                        ?? String(decoding: token, as: UTF8.self)
                    if !stack[stack.count - 1].keys.insert(key).inserted { return key }
                    stack[stack.count - 1].expectKey = false
                }
                i = j
            default: break
            }
            i += 1
        }
        return nil
    }
}
