// A strict, hand-written JSON reader and writer (RFC 8259) for the signalling messages.
//
// Hand-written rather than JSONSerialization/JSONDecoder so that the rules of calls.md hold the same
// on every platform: booleans are never numbers (and numbers never booleans), duplicate keys are
// rejected, nesting is bounded, lone surrogates are rejected, and the output is deterministic
// (keys sorted by their UTF-8 bytes, no insignificant whitespace).

/// A parsed JSON value. Numbers keep their lexeme so that integers round-trip exactly.
indirect enum JSONValue: Sendable, Hashable {
    case string(String)
    case number(String)
    case bool(Bool)
    case null
    case object([String: JSONValue])
    case array([JSONValue])

    var string: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    var bool: Bool? {
        if case .bool(let b) = self { return b }
        return nil
    }

    /// The value as an integer when it is a JSON number with an integral value that fits `Int`
    /// (`1`, `1.0`, `1e0`); nil for `1.5`, booleans, strings and everything else.
    var integer: Int? {
        guard case .number(let lexeme) = self else { return nil }
        if let exact = Int(lexeme) { return exact }
        guard let double = Double(lexeme), double.isFinite else { return nil }
        return Int(exactly: double)
    }

    var object: [String: JSONValue]? {
        if case .object(let o) = self { return o }
        return nil
    }

    var array: [JSONValue]? {
        if case .array(let a) = self { return a }
        return nil
    }
}

struct JSONSyntaxError: Error, Sendable, Hashable {}

/// Recursive-descent parser over UTF-8 bytes.
struct JSONReader {
    private let bytes: [UInt8]
    private var index = 0
    private let maxDepth: Int

    private init(_ text: String, maxDepth: Int) {
        self.bytes = Array(text.utf8)
        self.maxDepth = maxDepth
    }

    /// Parses exactly one JSON value (surrounded by optional whitespace).
    static func parse(_ text: String, maxDepth: Int = 8) throws(JSONSyntaxError) -> JSONValue {
        var reader = JSONReader(text, maxDepth: maxDepth)
        let value = try reader.value(depth: 0)
        reader.skipWhitespace()
        guard reader.index == reader.bytes.count else { throw JSONSyntaxError() }
        return value
    }

    private var current: UInt8? { index < bytes.count ? bytes[index] : nil }

    private mutating func skipWhitespace() {
        while let b = current, b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D { index += 1 }
    }

    private mutating func expect(_ literal: String) throws(JSONSyntaxError) {
        let expected = literal.utf8
        guard bytes.count - index >= expected.count else { throw JSONSyntaxError() }
        for b in expected {
            guard bytes[index] == b else { throw JSONSyntaxError() }
            index += 1
        }
    }

    private mutating func value(depth: Int) throws(JSONSyntaxError) -> JSONValue {
        skipWhitespace()
        guard let b = current else { throw JSONSyntaxError() }
        switch b {
        case UInt8(ascii: "{"):
            guard depth < maxDepth else { throw JSONSyntaxError() }
            return try object(depth: depth + 1)
        case UInt8(ascii: "["):
            guard depth < maxDepth else { throw JSONSyntaxError() }
            return try array(depth: depth + 1)
        case UInt8(ascii: "\""):
            return .string(try string())
        case UInt8(ascii: "t"):
            try expect("true")
            return .bool(true)
        case UInt8(ascii: "f"):
            try expect("false")
            return .bool(false)
        case UInt8(ascii: "n"):
            try expect("null")
            return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return .number(try number())
        default:
            throw JSONSyntaxError()
        }
    }

    private mutating func object(depth: Int) throws(JSONSyntaxError) -> JSONValue {
        index += 1  // {
        var members: [String: JSONValue] = [:]
        skipWhitespace()
        if current == UInt8(ascii: "}") {
            index += 1
            return .object(members)
        }
        while true {
            skipWhitespace()
            guard current == UInt8(ascii: "\"") else { throw JSONSyntaxError() }
            let key = try string()
            skipWhitespace()
            guard current == UInt8(ascii: ":") else { throw JSONSyntaxError() }
            index += 1
            let member = try value(depth: depth)
            // Duplicate keys are rejected (they could make two readers disagree about a message).
            guard members.updateValue(member, forKey: key) == nil else { throw JSONSyntaxError() }
            skipWhitespace()
            switch current {
            case UInt8(ascii: ","): index += 1
            case UInt8(ascii: "}"):
                index += 1
                return .object(members)
            default: throw JSONSyntaxError()
            }
        }
    }

    private mutating func array(depth: Int) throws(JSONSyntaxError) -> JSONValue {
        index += 1  // [
        var elements: [JSONValue] = []
        skipWhitespace()
        if current == UInt8(ascii: "]") {
            index += 1
            return .array(elements)
        }
        while true {
            elements.append(try value(depth: depth))
            skipWhitespace()
            switch current {
            case UInt8(ascii: ","): index += 1
            case UInt8(ascii: "]"):
                index += 1
                return .array(elements)
            default: throw JSONSyntaxError()
            }
        }
    }

    private mutating func hex4() throws(JSONSyntaxError) -> UInt32 {
        guard bytes.count - index >= 4 else { throw JSONSyntaxError() }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let b = bytes[index]
            let digit: UInt32
            switch b {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(b - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(b - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(b - UInt8(ascii: "A") + 10)
            default: throw JSONSyntaxError()
            }
            v = v << 4 | digit
            index += 1
        }
        return v
    }

    private mutating func string() throws(JSONSyntaxError) -> String {
        index += 1  // opening quote
        var out: [UInt8] = []
        while true {
            guard let b = current else { throw JSONSyntaxError() }
            index += 1
            switch b {
            case UInt8(ascii: "\""):
                // The input came from a Swift String (valid UTF-8) and escapes are encoded below,
                // so the bytes are valid UTF-8.
                return String(decoding: out, as: UTF8.self)
            case 0x00..<0x20:
                throw JSONSyntaxError()  // raw control characters are not allowed in JSON strings
            case UInt8(ascii: "\\"):
                guard let e = current else { throw JSONSyntaxError() }
                index += 1
                switch e {
                case UInt8(ascii: "\""): out.append(0x22)
                case UInt8(ascii: "\\"): out.append(0x5C)
                case UInt8(ascii: "/"): out.append(0x2F)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    var code = try hex4()
                    if (0xD800...0xDBFF).contains(code) {
                        guard bytes.count - index >= 2, bytes[index] == UInt8(ascii: "\\"),
                            bytes[index + 1] == UInt8(ascii: "u")
                        else { throw JSONSyntaxError() }
                        index += 2
                        let low = try hex4()
                        guard (0xDC00...0xDFFF).contains(low) else { throw JSONSyntaxError() }
                        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                    }
                    guard let scalar = Unicode.Scalar(code) else { throw JSONSyntaxError() }  // lone surrogate
                    out.append(contentsOf: UTF8.encode(scalar)!)
                default:
                    throw JSONSyntaxError()
                }
            default:
                out.append(b)
            }
        }
    }

    private mutating func digits() -> Int {
        let start = index
        while let b = current, b >= UInt8(ascii: "0"), b <= UInt8(ascii: "9") { index += 1 }
        return index - start
    }

    private mutating func number() throws(JSONSyntaxError) -> String {
        let start = index
        if current == UInt8(ascii: "-") { index += 1 }
        if current == UInt8(ascii: "0") {
            index += 1
        } else {
            guard digits() > 0 else { throw JSONSyntaxError() }
        }
        if current == UInt8(ascii: ".") {
            index += 1
            guard digits() > 0 else { throw JSONSyntaxError() }
        }
        if current == UInt8(ascii: "e") || current == UInt8(ascii: "E") {
            index += 1
            if current == UInt8(ascii: "+") || current == UInt8(ascii: "-") { index += 1 }
            guard digits() > 0 else { throw JSONSyntaxError() }
        }
        return String(decoding: bytes[start..<index], as: UTF8.self)
    }
}

/// Serialises a value compactly with object keys sorted by their UTF-8 bytes.
enum JSONWriter {
    static func write(_ value: JSONValue) -> String {
        var out = ""
        write(value, into: &out)
        return out
    }

    private static func write(_ value: JSONValue, into out: inout String) {
        switch value {
        case .string(let s): writeString(s, into: &out)
        case .number(let lexeme): out += lexeme
        case .bool(let b): out += b ? "true" : "false"
        case .null: out += "null"
        case .array(let elements):
            out += "["
            for (i, element) in elements.enumerated() {
                if i > 0 { out += "," }
                write(element, into: &out)
            }
            out += "]"
        case .object(let members):
            out += "{"
            let keys = members.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
            for (i, key) in keys.enumerated() {
                if i > 0 { out += "," }
                writeString(key, into: &out)
                out += ":"
                write(members[key]!, into: &out)
            }
            out += "}"
        }
    }

    private static func writeString(_ s: String, into out: inout String) {
        out += "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            case "\u{00}"..."\u{1F}", "\u{7F}", "\u{2028}", "\u{2029}":
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default:
                out.unicodeScalars.append(scalar)
            }
        }
        out += "\""
    }
}
