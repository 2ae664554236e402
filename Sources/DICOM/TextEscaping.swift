extension String {
    /// The text with control characters written as escapes (`\n`, `\r`, `\t`,
    /// `\u{1b}`), so that a file name or a value read from a file can neither
    /// forge a line of output nor drive the terminal with escape sequences.
    public var escapingControlCharacters: String {
        guard unicodeScalars.contains(where: Self.isControl) else { return self }
        var result = ""
        for scalar in unicodeScalars {
            switch scalar {
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            case _ where Self.isControl(scalar): result += "\\u{" + String(scalar.value, radix: 16) + "}"
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result
    }

    /// C0 controls, DEL, C1 controls (0x80-0x9F, where CSI 0x9B starts an escape sequence too).
    private static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value)
    }
}
