import Hummingbird
import HummingbirdCore

/// Paging parameters of the access log: `before` (a log index, exclusive) and `limit` (1 to 200).
struct AccessLogPage {
    let before: UInt64?
    let limit: Int

    /// - Throws: a 422 problem naming the parameter.
    init(_ uri: URI) throws {
        let query = uri.queryParameters
        if let raw = query["before"] {
            guard let value = UInt64(String(raw)) else {
                throw Problem(.unprocessableContent, "invalid-field", "`before` must be a log index", field: "before")
            }
            before = value
        } else {
            before = nil
        }
        if let raw = query["limit"] {
            guard let value = Int(String(raw)), (1...200).contains(value) else {
                throw Problem(.unprocessableContent, "invalid-field", "`limit` must be between 1 and 200", field: "limit")
            }
            limit = value
        } else {
            limit = 50
        }
    }
}
