import Foundation
import Hummingbird
import NIOCore

/// A JSON request body with a closed set of fields: unknown fields are rejected, not ignored.
protocol APIInput: Decodable, Sendable {
    /// Every field the body may carry.
    static var fields: Set<String> { get }
    /// The name of the first unknown field inside nested objects, if any (default: none checked).
    static func unknownNestedField(_ body: [String: Any]) -> String?
}

extension APIInput {
    static func unknownNestedField(_ body: [String: Any]) -> String? { nil }
}

extension Request {
    /// Decodes a JSON body strictly: content type, size limit, syntax, unknown fields, types.
    /// - Throws: a `Problem` (400, 413, 415 or 422) naming the field at fault, never its value.
    mutating func decodeStrict<T: APIInput>(_: T.Type, limit: Int) async throws -> T {
        guard let type = headers[.contentType]?.lowercased(), type.hasPrefix("application/json") else { throw Problem.mediaType }
        let buffer: ByteBuffer
        do { buffer = try await collectBody(upTo: limit) } catch is NIOTooManyBytesError { throw Problem.tooLarge }
        let data = Data(buffer.readableBytesView)
        guard let object = try? JSONSerialization.jsonObject(with: data), let dictionary = object as? [String: Any] else {
            throw Problem.malformedJSON
        }
        if let unknown = Set(dictionary.keys).subtracting(T.fields).sorted().first ?? T.unknownNestedField(dictionary) {
            throw Problem(.unprocessableContent, "unknown-field", "this field is not part of the request", field: unknown)
        }
        do {
            return try JSONDecoder().decode(T.self, from: data)
        } catch let DecodingError.keyNotFound(key, _) {
            throw Problem(.unprocessableContent, "missing-field", "this field is required", field: key.stringValue)
        } catch let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context) {
            throw Problem(
                .unprocessableContent, "invalid-field", "this field has the wrong type", field: context.codingPath.last?.stringValue)
        } catch {
            throw Problem.malformedJSON
        }
    }
}

/// Encodes a response body as JSON.
func jsonResponse(_ value: some Encodable, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) throws -> Response {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    let data = try encoder.encode(value)
    var fields = headers
    fields[.contentType] = "application/json; charset=utf-8"
    return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: data)))
}
