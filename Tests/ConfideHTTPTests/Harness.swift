import ConfideTesting
import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

/// A response as the tests read it.
struct Reply {
    let status: HTTPResponse.Status
    let headers: HTTPFields
    let text: String

    var json: [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] ?? [:]
    }

    /// The problem body without its per-request identifier, for byte-level comparisons.
    var problemWithoutRequestID: String {
        var object = json
        object.removeValue(forKey: "request_id")
        return String(decoding: try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self)
    }

    var problemType: String? { json["type"] as? String }

    /// `name=value` of a Set-Cookie header, if the response set that cookie.
    func cookie(_ name: String) -> String? {
        headers[values: .setCookie].first { $0.hasPrefix("\(name)=") }.map { String($0.split(separator: ";")[0].dropFirst(name.count + 1)) }
    }
}

/// Sends requests with a small, explicit client state (bearer token or cookies).
struct Client {
    let client: any TestClientProtocol
    var bearer: String?
    var cookies: [String: String] = [:]
    var csrf: String?

    init(_ client: any TestClientProtocol) { self.client = client }

    @discardableResult
    mutating func send(
        _ method: HTTPRequest.Method, _ uri: String, json: String? = nil, form: [String: String]? = nil, headers extra: HTTPFields = [:]
    ) async throws -> Reply {
        var headers = extra
        var body: ByteBuffer?
        if let json {
            headers[.contentType] = headers[.contentType] ?? "application/json"
            body = ByteBuffer(string: json)
        }
        if let form {
            headers[.contentType] = "application/x-www-form-urlencoded"
            let encoded = form.sorted { $0.key < $1.key }.map { key, value in
                "\(key)=\(value.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? value)"
            }.joined(separator: "&")
            body = ByteBuffer(string: encoded)
        }
        if let bearer { headers[.authorization] = "Bearer \(bearer)" }
        if !cookies.isEmpty { headers[.cookie] = cookies.map { "\($0.key)=\($0.value)" }.joined(separator: "; ") }
        if let csrf, headers[.init("X-CSRF-Token")!] == nil, method != .get { headers[.init("X-CSRF-Token")!] = csrf }
        let response = try await client.executeRequest(uri: uri, method: method, headers: headers, body: body)
        let reply = Reply(status: response.status, headers: response.headers, text: String(buffer: response.body))
        for name in ["confide_session", "confide_csrf"] {
            if let value = reply.cookie(name) { cookies[name] = value.isEmpty ? nil : value }
        }
        return reply
    }
}

extension Client {
    /// Registers over the API, then signs in through the sign-in page (a cookie session).
    @discardableResult
    mutating func registerAndSignInWithCookie(_ person: RegistrationInput) async throws -> RegistrationInput {
        _ = try await send(.post, "/api/v1/accounts", json: registrationJSON(person))
        let page = try await send(.get, "/signin")
        let token = try #require(csrfField(page.text))
        let reply = try await send(.post, "/signin", form: ["_csrf": token, "email": person.email, "password": person.password])
        #expect(reply.status == .seeOther)
        return person
    }
}

func registrationJSON(_ input: ConfideAccounts.RegistrationInput) -> String {
    let object: [String: String] = [
        "email": input.email, "password": input.password, "given_name": input.givenName, "family_name": input.familyName,
        "birth_date": input.birthDate,
    ]
    return String(decoding: try! JSONSerialization.data(withJSONObject: object), as: UTF8.self)
}

func signInJSON(_ email: String, _ password: String, totp: String? = nil) -> String {
    var object = ["email": email, "password": password]
    if let totp { object["totp"] = totp }
    return String(decoding: try! JSONSerialization.data(withJSONObject: object), as: UTF8.self)
}

import ConfideAccounts
