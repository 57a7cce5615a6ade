import Foundation
public import Hummingbird
import Logging

/// An RFC 9457 problem: the only error shape that reaches API clients.
///
/// `type` is a stable URN per failure (`urn:confide:problem:invalid-credentials`); `detail` never
/// carries personal data or internal values.
public struct Problem: HTTPResponseError, Sendable {
    public let status: HTTPResponse.Status
    public let slug: String
    public let title: String
    public let detail: String?
    public let field: String?
    public var headers: HTTPFields = [:]

    public init(_ status: HTTPResponse.Status, _ slug: String, _ title: String, detail: String? = nil, field: String? = nil) {
        self.status = status
        self.slug = slug
        self.title = title
        self.detail = detail
        self.field = field
    }

    public var type: String { "urn:confide:problem:\(slug)" }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var object: [String: Any] = ["type": type, "title": title, "status": Int(status.code)]
        if let detail { object["detail"] = detail }
        if let field { object["field"] = field }
        if let id = context.logger[metadataKey: "hb.request.id"] { object["request_id"] = id.description }
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
        var fields = headers
        fields[.contentType] = "application/problem+json"
        fields[.cacheControl] = "no-store"
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    // MARK: the catalogue

    /// A missing object and a denied one give this same answer, byte for byte.
    public static let notFound = Problem(.notFound, "not-found", "not found")
    public static let unauthenticated = Problem(.unauthorized, "unauthenticated", "sign in to continue")
    public static let csrf = Problem(.forbidden, "csrf-failed", "the request's anti-forgery token is missing or wrong")
    public static let totpEnrolment = Problem(
        .forbidden, "totp-enrolment-required", "set up two-factor authentication first", detail: "use `POST /api/v1/me/totp`")
    public static let malformedJSON = Problem(.badRequest, "malformed-json", "the request body is not valid JSON")
    public static let tooLarge = Problem(.contentTooLarge, "body-too-large", "the request body is too large")
    public static let mediaType = Problem(.unsupportedMediaType, "unsupported-media-type", "send the body as `application/json`")
    public static let internalError = Problem(.internalServerError, "internal-error", "something went wrong on our side")
    public static let notReady = Problem(.serviceUnavailable, "not-ready", "the database cannot be reached")
}
