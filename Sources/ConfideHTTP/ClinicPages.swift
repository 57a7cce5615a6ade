import ConfideClinic
import ConfideCore
import ConfideStore
import Foundation
import Hummingbird
import NIOCore

/// Pieces of HTML the clinic pages share. Every interpolated value passes through `esc`.
enum ClinicHTML {
    /// An instant as `<time datetime="ISO-UTC">` reading in the practice's zone; `/static/local-time.js`
    /// rewrites the text into the viewer's zone (and keeps the practice time in the title).
    /// An instant in UTC as `<time>`, rewritten into the viewer's zone by `/static/local-time.js`.
    static func isoTime(_ date: Date) -> String {
        let iso = ISO8601DateFormatter().string(from: date)
        return #"<time datetime="\#(iso)" data-local="datetime">\#(iso)</time>"#
    }

    static func time(_ date: Date, _ zone: ZoneName) -> String {
        let iso = ISO8601DateFormatter().string(from: date)
        return #"<time datetime="\#(iso)" data-zone="\#(esc(zone.identifier))">\#(esc(ZonedFormat.display(date, in: zone.timeZone)))</time>"#
    }

    static func iso(_ date: Date) -> String { ISO8601DateFormatter().string(from: date) }

    static func parseISO(_ raw: String?) -> Date? {
        guard let raw, !raw.isEmpty else { return nil }
        return ISO8601DateFormatter().date(from: raw)
    }

    static func status(_ s: ConsultationStatus) -> String {
        switch s {
        case .booked: "Booked"
        case .checkedIn: "Checked in"
        case .inProgress: "In progress"
        case .ended: "Ended, notes to follow"
        case .documented: "Completed"
        case .cancelled: "Cancelled"
        case .noShow: "Did not attend"
        }
    }

    static func modality(_ m: Modality) -> String {
        switch m {
        case .video: "Video"
        case .audio: "Phone (audio)"
        case .inPerson: "In person"
        }
    }

    static func role(_ r: StaffRole?) -> String {
        switch r {
        case .gp: "GP"
        case .nurse: "Nurse"
        case .pharmacist: "Pharmacist"
        case .therapist: "Therapist"
        case nil: "Clinician"
        }
    }

    /// Modalities in a stable order for forms.
    static let modalities: [Modality] = [.video, .audio, .inPerson]

    /// A readable sentence from a lower-case service message.
    static func sentence(_ text: String) -> String {
        guard let first = text.first else { return "Something is not right." }
        let body = first.uppercased() + text.dropFirst()
        return body.hasSuffix(".") || body.hasSuffix("?") || body.hasSuffix("!") ? body : body + "."
    }

    /// `<select>` options; `selected` is the value shown as chosen.
    static func options(_ items: [(value: String, label: String)], selected: String?) -> String {
        items.map { item in
            #"<option value="\#(esc(item.value))"\#(item.value == selected ? " selected" : "")>\#(esc(item.label))</option>"#
        }.joined()
    }

    /// A labelled `<select>`.
    static func select(_ id: String, name: String? = nil, label: String, _ items: [(value: String, label: String)], selected: String?) -> String {
        #"<div class="field"><label for="\#(id)">\#(esc(label))</label><select id="\#(id)" name="\#(name ?? id)">\#(options(items, selected: selected))</select></div>"#
    }

    /// A labelled checkbox.
    static func checkbox(_ id: String, name: String? = nil, label: String, checked: Bool, value: String = "on") -> String {
        #"<div class="choice"><input type="checkbox" id="\#(id)" name="\#(name ?? id)" value="\#(esc(value))"\#(checked ? " checked" : "")><label for="\#(id)">\#(esc(label))</label></div>"#
    }

    /// A labelled `<textarea>`.
    static func textarea(_ id: String, label: String, value: String, rows: Int = 4, hint: String? = nil, error: String? = nil) -> String {
        var attrs = #"id="\#(id)" name="\#(id)" rows="\#(rows)""#
        var extra = ""
        var described: [String] = []
        if let hint {
            described.append("\(id)-hint")
            extra += #"<p class="hint" id="\#(id)-hint">\#(esc(hint))</p>"#
        }
        if let error {
            described.append("\(id)-error")
            attrs += #" aria-invalid="true""#
            extra += #"<p class="field-error" id="\#(id)-error">\#(esc(error))</p>"#
        }
        if !described.isEmpty { attrs += #" aria-describedby="\#(described.joined(separator: " "))""# }
        return #"<div class="field"><label for="\#(id)">\#(esc(label))</label>\#(extra)<textarea \#(attrs)>\#(esc(value))</textarea></div>"#
    }

    /// A one-button POST form (with the anti-forgery token).
    static func button(
        action: String, csrf: String, label: String, fields: [(String, String)] = [], style: String? = nil, describedBy: String? = nil
    ) -> String {
        let hidden = fields.map { #"<input type="hidden" name="\#(esc($0.0))" value="\#(esc($0.1))">"# }.joined()
        let cls = style.map { #" class="\#($0)""# } ?? ""
        let described = describedBy.map { #" aria-describedby="\#(esc($0))""# } ?? ""
        return #"<form method="post" action="\#(esc(action))">\#(Layout.csrfField(csrf))\#(hidden)<button type="submit"\#(cls)\#(described)>\#(esc(label))</button></form>"#
    }
}

/// The clinic links each kind of account sees in the header and on the account page.
enum ClinicNav {
    static func links(for principal: Principal) -> [(href: String, label: String)] {
        switch principal {
        case .patient:
            [("/clinic/consultations", "My consultations"), ("/clinic/records", "My records"), ("/clinic/triage", "Check symptoms"), ("/clinic/book", "Book"),
             ("/clinic/care-team", "Care team access"),
             ("/clinic/practice", "My practice"), ("/clinic/notices", "My notices")]
        case .clinician:
            [("/clinic/day", "Today"), ("/clinic/waiting-room", "Waiting room"), ("/clinic/availability", "Availability")]
        case .practiceAdmin:
            [("/clinic/practices", "Practices")]
        case .admin:
            [("/clinic/practices", "Practices"), ("/clinic/incidents", "Incidents"), ("/clinic/notices", "Notices"), ("/clinic/breach-report", "Breach report"), ("/clinic/audit", "Audit log")]
        case .anonymous, .system:
            []
        }
    }

    /// The one page for "missing" and "not yours" (also what the egress guard answers): the
    /// answer never tells them apart.
    static func notFoundPage(for principal: Principal, csrf: String) -> Response {
        Layout.response(
            Layout.page(
                title: "Page not found", signedIn: true, csrf: csrf,
                body: """
                    <h1>Page not found</h1>
                    <p>This page does not exist, or it is not available to you.</p>
                    <p><a href="\(esc(home(for: principal)))">Go to my clinic pages</a></p>
                    """,
                links: links(for: principal), scripts: ["/static/local-time.js"]),
            status: .notFound)
    }

    /// Where each kind of account starts in the clinic.
    static func home(for principal: Principal) -> String {
        switch principal {
        case .patient: "/clinic/consultations"
        case .clinician: "/clinic/day"
        case .practiceAdmin, .admin: "/clinic/practices"
        case .anonymous, .system: "/account"
        }
    }

    /// The list of clinic links for the account page.
    static func accountSection(for principal: Principal) -> String {
        let links = links(for: principal)
        guard !links.isEmpty else { return "" }
        let items = links.map { #"<li><a href="\#(esc($0.href))">\#(esc($0.label))</a></li>"# }.joined()
        return #"<h2>Your clinic</h2><ul>\#(items)</ul>"#
    }
}

/// The browser scripts: plain ES modules shipped as resources, served from `/static`.
enum StaticAssets {
    /// Served file names.
    static let scripts = ["local-time.js", "dom.js", "waiting-room.js", "availability.js", "call.js", "recordings.js", "triage.js"]

    static let contents: [String: [UInt8]] = {
        var out: [String: [UInt8]] = [:]
        for name in scripts {
            let base = String(name.dropLast(3))
            if let url = Bundle.module.url(forResource: base, withExtension: "js", subdirectory: "static"),
                let data = try? Data(contentsOf: url)
            {
                out[name] = Array(data)
            }
        }
        return out
    }()

    static func register(on router: Router<ConfideRequestContext>) {
        for name in scripts {
            router.get("static/\(name)") { _, _ in
                guard let bytes = contents[name] else { throw Problem.notFound }
                return Response(
                    status: .ok,
                    headers: [.contentType: "text/javascript; charset=utf-8", .cacheControl: "public, max-age=3600"],
                    body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
            }
        }
    }
}
