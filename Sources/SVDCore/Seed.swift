/// A seed as torch's `manual_seed` takes it: any integer in [−2^63, 2^64). Only the low 32 bits seed the
/// generator, so 2^32 + 5 renders the same video as 5.
public struct Seed: Hashable, Sendable, CustomStringConvertible, Codable {
    /// The value as the user wrote it, normalised (no '+', no leading zeros).
    public let text: String
    /// Two's-complement 64-bit value (negative seeds wrap, as in torch).
    public let bits: UInt64

    public var generatorSeed: UInt32 { UInt32(truncatingIfNeeded: bits) }
    public var description: String { text }

    public init(_ value: UInt64) { text = String(value); bits = value }
    public init(_ value: Int64) { text = String(value); bits = UInt64(bitPattern: value) }

    /// Parses a decimal integer with an optional sign; nil if it is not one or is outside [−2^63, 2^64).
    public init?(parsing raw: String) {
        var s = Substring(raw)
        var negative = false
        if s.first == "+" || s.first == "-" { negative = s.first == "-"; s = s.dropFirst() }
        guard !s.isEmpty, s.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        if negative {
            guard let magnitude = UInt64(s), magnitude <= UInt64(1) << 63 else { return nil }
            if magnitude == 0 { self.init(UInt64(0)); return }
            self.init(Int64(bitPattern: 0 &- magnitude))
        } else {
            guard let v = UInt64(s) else { return nil }
            self.init(v)
        }
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        let raw = try c.decode(String.self)
        guard let s = Seed(parsing: raw) else {
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "'\(raw)' is not a seed in [-2^63, 2^64)")
        }
        self = s
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(text)
    }
}
