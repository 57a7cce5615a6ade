import ConfideClinic
import ConfideCore
import ConfideHTTP
import ConfideStore
import ConfideTesting
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

@Suite("clinic API input")
struct ClinicAPITests {
    @Test("availability and holidays: unknown nested fields, bad values and too many dates are clear 422s that change nothing")
    func badAvailability() async throws {
        try await TestWorld.with { world in
            let clinic = try await ClinicFixture.make(world)
            try await world.application().test(.router) { raw in
                var gp = Client(raw)
                let session = try await gp.send(
                    .post, "/api/v1/sessions", json: signInJSON(clinic.gpEmail, Fixtures.password, totp: try totpCode(clinic.gpTOTPURI, at: world.clock.now())))
                #expect(session.status == .created)
                gp.bearer = session.json["token"] as? String
                let path = "/api/v1/practices/\(clinic.practice.id)/clinicians/\(clinic.gpAccount)/availability"
                let before = try await gp.send(.get, path).text
                let window = #"{"weekday":"monday","start":"09:00","end":"10:00","slot_minutes":10,"modalities":["video"]"#
                let cases: [(String, String?)] = [
                    (#"{"weekly":[\#(window),"patient_id":"x"}]}"#, "patient_id"),
                    (#"{"weekly":[],"exceptions":[{"date":"2026-12-24","windows":[],"note":"x"}]}"#, "note"),
                    (#"{"weekly":[],"exceptions":[{"date":"2026-12-24","windows":[\#(window),"extra":1}]}]}"#, "extra"),
                    (#"{"weekly":[\#(window)},\#(window)}]}"#, nil),
                    (#"{"weekly":[{"weekday":"funday","start":"09:00","end":"10:00","slot_minutes":10,"modalities":["video"]}]}"#, nil),
                ]
                for (body, field) in cases {
                    let reply = try await gp.send(.put, path, json: body)
                    #expect(reply.status == .unprocessableContent, "\(body)")
                    if let field {
                        #expect(reply.problemType == "urn:confide:problem:unknown-field" && reply.json["field"] as? String == field)
                    }
                }
                #expect(try await gp.send(.get, path).text == before)
            }
            let many = (0..<401).map { "2027-01-01".replacingOccurrences(of: "01-01", with: String(format: "%02d-%02d", 1 + $0 / 28, 1 + $0 % 28)) }
            await #expect(throws: ClinicError.self) { try await world.clinic.setHolidays(practice: clinic.practice.id, dates: many, clinic.system) }
        }
    }
}
