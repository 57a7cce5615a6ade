/// The rules a new password must meet: at least 12 characters, at most 256 bytes, and not in
/// the list of common passwords (the list is supplied by the caller, so this stays pure).
public struct PasswordPolicy: Sendable {
    /// Minimum length in characters.
    public static let minimumLength = 12
    /// bcrypt reads at most 72 bytes; we allow longer passphrases but cap the input size.
    public static let maximumBytes = 256

    let commonPasswords: Set<String>

    /// - Parameter commonPasswords: lowercase passwords that are refused.
    public init(commonPasswords: Set<String>) { self.commonPasswords = commonPasswords }

    /// Checks a candidate password.
    /// - Parameters:
    ///   - password: the candidate.
    ///   - field: the input field name for the error.
    ///   - context: strings the password must not equal (e.g. the email).
    /// - Throws: `ValidationError` with code `weakPassword`.
    public func check(_ password: String, field: String = "password", context: [String] = []) throws(ValidationError) {
        guard password.count >= Self.minimumLength, password.utf8.count <= Self.maximumBytes else {
            throw ValidationError(.weakPassword, field: field)
        }
        let lower = password.lowercased()
        // "password1234" and "!!monkey2024" are a common word with decoration: check the core too.
        let decoration: (Character) -> Bool = { $0.isNumber || $0.isPunctuation || $0.isSymbol || $0.isWhitespace }
        let core = String(lower.drop(while: decoration).reversed().drop(while: decoration).reversed())
        guard !commonPasswords.contains(lower), !(core.count >= 3 && commonPasswords.contains(core)),
            !context.contains(where: { $0.lowercased() == lower || $0.lowercased() == core }),
            Set(lower).count > 2
        else {
            throw ValidationError(.weakPassword, field: field)
        }
    }
}
