import Hummingbird
import NIOCore

/// Escapes text for HTML element content and quoted attribute values.
func esc(_ s: String) -> String {
    var out = ""
    out.reserveCapacity(s.count)
    for c in s {
        switch c {
        case "&": out += "&amp;"
        case "<": out += "&lt;"
        case ">": out += "&gt;"
        case "\"": out += "&quot;"
        case "'": out += "&#39;"
        default: out.append(c)
        }
    }
    return out
}

/// The shared page layout. Every interpolated value must pass through `esc`.
enum Layout {
    /// - Parameters:
    ///   - links: extra navigation links (by role) shown before "My account" when signed in.
    ///   - scripts: same-origin ES modules to load (the CSP allows no inline script).
    ///   - wide: a wider main column (tables, editors).
    static func page(
        title: String, signedIn: Bool, csrf: String?, body: String, links: [(href: String, label: String)] = [], scripts: [String] = [],
        wide: Bool = false
    ) -> String {
        let nav: String
        if signedIn {
            let extra = links.map { #"<a href="\#(esc($0.href))">\#(esc($0.label))</a>"# }.joined(separator: "\n")
            nav = """
                \(extra)
                <a href="/account">My account</a>
                <form method="post" action="/signout" class="inline"><input type="hidden" name="_csrf" value="\(esc(csrf ?? ""))"><button type="submit" class="link">Sign out</button></form>
                """
        } else {
            nav = #"<a href="/signin">Sign in</a> <a href="/register">Register</a>"#
        }
        return """
            <!doctype html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>\(esc(title)) · Confide</title>
            <link rel="stylesheet" href="/static/app.css">
            \(scripts.map { #"<script type="module" src="\#(esc($0))"></script>"# }.joined(separator: "\n"))
            </head>
            <body>
            <a class="skip" href="#main">Skip to content</a>
            <header class="top"><a class="brand" href="/">Confide</a><nav aria-label="Account">\(nav)</nav></header>
            <main id="main" tabindex="-1"\(wide ? #" class="wide""# : "")>
            \(body)
            </main>
            <footer><p>Confide · your GP in your pocket. In an emergency call your local emergency number.</p></footer>
            </body>
            </html>
            """
    }

    static func alert(_ message: String?) -> String {
        guard let message else { return "" }
        return #"<div role="alert" class="error">\#(esc(message))</div>"#
    }

    static func notice(_ message: String?) -> String {
        guard let message else { return "" }
        return #"<div role="status" class="notice">\#(esc(message))</div>"#
    }

    /// A labelled input; `error` marks it invalid and links the message.
    static func field(
        _ name: String, label: String, type: String = "text", value: String = "", autocomplete: String? = nil, required: Bool = true,
        hint: String? = nil, error: String? = nil
    ) -> String {
        var attrs = #"id="\#(name)" name="\#(name)" type="\#(type)" value="\#(esc(value))""#
        if let autocomplete { attrs += #" autocomplete="\#(autocomplete)""# }
        if required { attrs += " required" }
        var described: [String] = []
        var extra = ""
        if let hint {
            described.append("\(name)-hint")
            extra += #"<p class="hint" id="\#(name)-hint">\#(esc(hint))</p>"#
        }
        if let error {
            described.append("\(name)-error")
            attrs += #" aria-invalid="true""#
            extra += #"<p class="field-error" id="\#(name)-error">\#(esc(error))</p>"#
        }
        if !described.isEmpty { attrs += #" aria-describedby="\#(described.joined(separator: " "))""# }
        return #"<div class="field"><label for="\#(name)">\#(esc(label))</label>\#(extra)<input \#(attrs)></div>"#
    }

    static func csrfField(_ token: String?) -> String {
        #"<input type="hidden" name="_csrf" value="\#(esc(token ?? ""))">"#
    }

    static func response(_ html: String, status: HTTPResponse.Status = .ok) -> Response {
        Response(
            status: status, headers: [.contentType: "text/html; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    static let stylesheet = """
        *{box-sizing:border-box}
        body{margin:0;font:17px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1b1b1b;background:#f6f7f9}
        .skip{position:absolute;left:-999px}.skip:focus{left:8px;top:8px;background:#fff;padding:8px;z-index:9}
        header.top{display:flex;flex-wrap:wrap;justify-content:space-between;align-items:center;gap:8px;padding:12px 16px;background:#0b5563;color:#fff}
        header.top a{color:#fff;margin-right:12px}.brand{font-weight:700;font-size:1.2em;text-decoration:none}
        nav{display:flex;align-items:center;flex-wrap:wrap}
        main{max-width:36rem;margin:0 auto;padding:16px}
        h1{font-size:1.6em;margin:.6em 0}
        .field{margin:0 0 16px}label{display:block;font-weight:600;margin-bottom:4px}
        input{width:100%;padding:10px;font-size:1em;border:2px solid #555;border-radius:4px;background:#fff}
        input[aria-invalid=true]{border-color:#b00020}
        button{padding:10px 18px;font-size:1em;border:0;border-radius:4px;background:#0b5563;color:#fff;cursor:pointer}
        button.link{background:none;color:#fff;text-decoration:underline;padding:0}
        form.inline{display:inline}
        a:focus,button:focus,input:focus{outline:3px solid #ffbf47;outline-offset:2px}
        .error{border-left:5px solid #b00020;background:#fde8ea;padding:10px 12px;margin:0 0 16px}
        .notice{border-left:5px solid #0b5563;background:#e6f2f4;padding:10px 12px;margin:0 0 16px}
        .field-error{color:#b00020;margin:0 0 4px}.hint{color:#555;margin:0 0 4px}
        dl{display:grid;grid-template-columns:max-content 1fr;gap:6px 16px}dt{font-weight:600}dd{margin:0}
        code.secret{word-break:break-all;background:#fff;padding:4px;display:inline-block}
        ul.codes{columns:2;font-family:monospace}
        .table{overflow-x:auto}table{border-collapse:collapse;width:100%;font-size:.9em}th,td{text-align:left;padding:6px;border-bottom:1px solid #ccc}
        footer{max-width:36rem;margin:24px auto;padding:0 16px;color:#555;font-size:.9em}
        main.wide{max-width:60rem}
        select,textarea{width:100%;padding:10px;font-size:1em;font-family:inherit;border:2px solid #555;border-radius:4px;background:#fff}
        select:focus,textarea:focus,summary:focus{outline:3px solid #ffbf47;outline-offset:2px}
        textarea[aria-invalid=true],select[aria-invalid=true]{border-color:#b00020}
        input[type=checkbox],input[type=radio]{width:auto;margin:0 6px 0 0}
        .choice{display:flex;align-items:center;gap:6px;margin:0 0 10px}.choice label{display:inline;font-weight:400;margin:0}
        fieldset{border:1px solid #bbb;border-radius:4px;margin:0 0 16px;padding:8px 12px;min-width:0}legend{font-weight:600;padding:0 4px}
        fieldset.row{background:#fff}
        .grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(9rem,1fr));gap:0 12px}
        ul.cards,ol.cards{list-style:none;padding:0}.cards>li{background:#fff;border:1px solid #ccc;border-radius:4px;padding:10px 12px;margin:0 0 10px}
        .actions{display:flex;flex-wrap:wrap;gap:8px;align-items:center;margin:8px 0}.actions form{margin:0}
        button.secondary{background:#fff;color:#0b5563;border:2px solid #0b5563}button.danger{background:#8a1c1c}
        a.button{display:inline-block;padding:10px 18px;border-radius:4px;background:#0b5563;color:#fff;text-decoration:none}
        #call-page video{display:block;width:100%;max-height:60vh;background:#111;border-radius:6px}
        #call-page video#local-video{width:180px;max-width:40%}
        #chat-log{list-style:none;padding:0;max-height:40vh;overflow-y:auto}
        .bubble{max-width:44em;border-radius:8px;padding:8px 12px;margin:8px 0;border:1px solid #ccc;background:#fff}
        .bubble.patient{margin-left:auto;background:#e6f2f4}.bubble p{margin:4px 0}.bubble.current{border:2px solid #0b5563}
        .advice{border:2px solid #0b5563;border-radius:8px;padding:10px 14px;background:#fff;margin:12px 0}
        .advice.emergency{border-color:#8a1c1c;background:#fdecec}.advice.emergency h2{color:#8a1c1c}.advice.urgent{border-color:#b35c00}
        a.button.secondary{background:#fff;color:#0b5563;border:2px solid #0b5563}
        .badge{display:inline-block;padding:1px 8px;border-radius:10px;background:#e6f2f4;font-weight:600;font-size:.9em}
        .muted{color:#555}.note-section{white-space:pre-wrap;background:#fff;border:1px solid #ddd;padding:8px;margin:0 0 12px}
        .table th{white-space:nowrap}fieldset.removed{opacity:.55}
        fieldset.modes{display:flex;flex-wrap:wrap;gap:0 18px;align-items:center;border:0;padding:0;margin:0 0 8px}
        fieldset.modes legend{float:left;margin-right:12px;padding:0}fieldset.modes .choice{margin:4px 0}
        .picker{align-items:flex-end}.picker .field{margin:0}
        details{margin:0 0 10px}summary{cursor:pointer;color:#0b5563}
        """
}
