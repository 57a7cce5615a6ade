import Foundation

/// The list of common passwords that `PasswordPolicy` refuses (see NOTICE.md for its source).
public enum CommonPasswords {
    /// Loaded once from the bundled resource.
    public static let list: Set<String> = {
        guard let url = Bundle.module.url(forResource: "common-passwords", withExtension: "txt"),
            let text = try? String(contentsOf: url, encoding: .utf8)
        else { return [] }
        return Set(text.split(whereSeparator: \.isNewline).map { $0.lowercased() })
    }()
}
