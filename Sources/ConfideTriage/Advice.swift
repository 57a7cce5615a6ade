/// Where to go and whom to call, per country. Numbers are the public emergency and urgent-advice
/// services of each country (UK: 999 and NHS 111; US and Canada: 911; Singapore: 995 and the 1777
/// non-emergency ambulance; Ireland: 112/999; Australia: 000 and healthdirect 1800 022 222;
/// New Zealand: 111 and Healthline 0800 611 116), with each country's 24-hour crisis line
/// (Samaritans 116 123 in the UK and Ireland, 988 in the US and Canada, SOS 1767 in Singapore,
/// Lifeline 13 11 14 in Australia, 1737 in New Zealand).
public struct LocalServices: Sendable, Hashable, Codable {
    public var country: String
    public var emergencyNumber: String
    public var emergencyDepartment: String
    /// Where to get same-day advice when it is not an emergency.
    public var urgentAdvice: String
    /// A 24-hour crisis line (suicidal thoughts, self-harm).
    public var crisisLine: String

    enum CodingKeys: String, CodingKey {
        case crisisLine = "crisis_line"
        case country
        case emergencyNumber = "emergency_number"
        case emergencyDepartment = "emergency_department"
        case urgentAdvice = "urgent_advice"
    }

    public static func forCountry(_ code: String) -> LocalServices {
        switch code.uppercased() {
        case "GB":
            LocalServices(country: "GB", emergencyNumber: "999", emergencyDepartment: "A&E", urgentAdvice: "NHS 111 (call 111 or use 111.nhs.uk)",
                crisisLine: "Samaritans on 116 123, any time")
        case "US":
            LocalServices(country: "US", emergencyNumber: "911", emergencyDepartment: "the emergency room", urgentAdvice: "an urgent care center",
                crisisLine: "the 988 Suicide & Crisis Lifeline (call or text 988)")
        case "CA":
            LocalServices(
                country: "CA", emergencyNumber: "911", emergencyDepartment: "the emergency department",
                urgentAdvice: "your provincial health line (811 in most provinces)", crisisLine: "9-8-8, the Suicide Crisis Helpline (call or text 988)")
        case "SG":
            LocalServices(
                country: "SG", emergencyNumber: "995", emergencyDepartment: "the emergency department",
                urgentAdvice: "a GP clinic today, or 1777 for a non-emergency ambulance",
                crisisLine: "Samaritans of Singapore on 1767, any time")
        case "IE":
            LocalServices(country: "IE", emergencyNumber: "112 or 999", emergencyDepartment: "the emergency department", urgentAdvice: "your GP out-of-hours service",
                crisisLine: "Samaritans on 116 123, any time")
        case "AU":
            LocalServices(country: "AU", emergencyNumber: "000", emergencyDepartment: "the emergency department", urgentAdvice: "healthdirect on 1800 022 222",
                crisisLine: "Lifeline on 13 11 14")
        case "NZ":
            LocalServices(country: "NZ", emergencyNumber: "111", emergencyDepartment: "the emergency department", urgentAdvice: "Healthline on 0800 611 116",
                crisisLine: "1737 (call or text), any time")
        default:
            LocalServices(
                country: code.uppercased(), emergencyNumber: "your local emergency number (112 in many countries)",
                emergencyDepartment: "the nearest emergency department", urgentAdvice: "a doctor today",
                crisisLine: "your local crisis line, or your emergency number")
        }
    }
}

/// What the patient is told at the end. Never a diagnosis: "conditions that can cause symptoms like
/// yours", a clear next step, and safety-netting with the country's emergency number.
public struct Advice: Sendable, Hashable, Codable {
    public var disposition: Urgency
    public var headline: String
    public var detail: String
    public var safetyNet: String
    public var disclaimer: String
    /// Crisis help, shown first when the answers mention suicidal thoughts, self-harm or an overdose.
    public var crisis: String?

    enum CodingKeys: String, CodingKey {
        case disposition, headline, detail, disclaimer, crisis
        case safetyNet = "safety_net"
    }

    /// The crisis signposting (C20): the emergency number and the country's 24-hour crisis line. It
    /// leads the result and stays on screen during the questions once a crisis finding is present.
    public static func crisisText(_ services: LocalServices) -> String {
        "If you are thinking about ending your life or hurting yourself, or have taken an overdose, call \(services.emergencyNumber) now. You can talk to someone any time: \(services.crisisLine)."
    }

    public static let disclaimerText =
        "This is a symptom checker, not a diagnosis. It can be wrong. If you are worried, or things change, get help: you can always book or call whatever it says."

    public init(disposition: Urgency, services: LocalServices, reasons: [String] = [], couldNotAssess: Bool = false, crisis: Bool = false) {
        self.disposition = disposition
        self.crisis = crisis ? Self.crisisText(services) : nil
        let number = services.emergencyNumber
        let why = reasons.isEmpty ? "" : " (because of: " + reasons.joined(separator: "; ") + ")"
        switch disposition {
        case .emergency:
            headline = "Call \(number) now, or go to \(services.emergencyDepartment)."
            detail = "Your answers suggest you may need emergency care\(why). Do not wait for an appointment and do not drive yourself."
        case .urgent:
            headline = "See a clinician today."
            detail = "Your answers suggest you should be seen today\(why). Book the first appointment available today, or contact \(services.urgentAdvice)."
        case .routine where couldNotAssess:
            headline = "We could not assess your symptoms: please book an appointment."
            detail = "Your answers did not tell us enough to give advice, so a clinician should check your symptoms. If you feel unwell today, contact \(services.urgentAdvice)."
        case .routine:
            headline = "Book an appointment with a clinician."
            detail = "Your symptoms should be checked by a clinician in the coming days. You can book below."
        case .selfCare:
            headline = "You can probably look after this at home, or ask a pharmacist."
            detail = "Rest, fluids and simple remedies often help with symptoms like these. A pharmacist can advise on medicines."
        }
        safetyNet =
            "If you get worse, get new symptoms, or develop any of these: trouble breathing, chest pain, a rash that does not fade under a glass, confusion or drowsiness, or you feel you are seriously ill, call \(number) now. If you are not getting better as expected, contact \(services.urgentAdvice) or book an appointment."
        disclaimer = Self.disclaimerText
    }
}
