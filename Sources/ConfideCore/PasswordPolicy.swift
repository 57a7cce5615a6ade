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
        guard !commonPasswords.contains(lower), !context.contains(where: { $0.lowercased() == lower }),
            Set(lower).count > 2
        else {
            throw ValidationError(.weakPassword, field: field)
        }
    }
}
