/// Checks a medicine about to be prescribed against the patient's recorded allergies.
///
/// A warning, not a decision: the prescriber sees which recorded allergy matched and may
/// override with an explicit acknowledgement (kept with the prescription). Matching is by name
/// (either contains the other, ignoring case and punctuation) and by drug class, so an allergy
/// recorded as "penicillin" warns for amoxicillin or co-amoxiclav. The classes below follow the
/// usual grouping of the British National Formulary chapters (common members only; a clinical
/// estimate, not an exhaustive formulary).
public enum AllergyCheck {
    /// Drug classes and common members (lowercase).
    public static let classes: [String: [String]] = [
        "penicillin": [
            "amoxicillin", "amoxycillin", "ampicillin", "benzylpenicillin", "co-amoxiclav", "flucloxacillin", "phenoxymethylpenicillin",
            "piperacillin", "pivmecillinam", "temocillin",
        ],
        "cephalosporin": ["cefalexin", "cephalexin", "cefuroxime", "ceftriaxone", "cefixime", "cefaclor", "cefotaxime"],
        "nsaid": ["ibuprofen", "naproxen", "diclofenac", "aspirin", "mefenamic acid", "celecoxib", "etoricoxib", "indometacin"],
        "sulfonamide": ["co-trimoxazole", "sulfamethoxazole", "sulfasalazine"],
        "macrolide": ["clarithromycin", "erythromycin", "azithromycin"],
        "opioid": ["codeine", "co-codamol", "dihydrocodeine", "morphine", "tramadol", "oxycodone"],
        "tetracycline": ["doxycycline", "lymecycline", "oxytetracycline", "minocycline"],
    ]

    /// Other words people use when recording a class allergy.
    static let aliases: [String: String] = [
        "penicillins": "penicillin", "beta-lactam": "penicillin", "cephalosporins": "cephalosporin", "nsaids": "nsaid",
        "anti-inflammatories": "nsaid", "sulfa": "sulfonamide", "sulpha": "sulfonamide", "sulphonamide": "sulfonamide",
        "sulfonamides": "sulfonamide", "macrolides": "macrolide", "opioids": "opioid", "opiates": "opioid", "tetracyclines": "tetracycline",
    ]

    static func normalised(_ s: String) -> String {
        String(s.lowercased().unicodeScalars.filter { $0.properties.isAlphabetic || $0 == "-" || $0 == " " }).trimmingWhitespace()
    }

    /// The recorded allergies (as given) that match `medicine`.
    public static func conflicts(medicine: String, allergies: [String]) -> [String] {
        let drug = normalised(medicine)
        guard !drug.isEmpty else { return [] }
        let drugClasses = Set(classes.filter { name, members in drug.contains(name) || members.contains { drug.contains($0) } }.keys)
        return allergies.filter { raw in
            let allergy = normalised(raw)
            guard !allergy.isEmpty else { return false }
            if allergy.contains(drug) || drug.contains(allergy) { return true }
            let allergyClass = aliases[allergy] ?? (classes[allergy] != nil ? allergy : nil)
            if let allergyClass, drugClasses.contains(allergyClass) { return true }
            // An allergy to one member of a class warns for the others.
            return classes.contains { name, members in drugClasses.contains(name) && members.contains { allergy.contains($0) } }
        }
    }
}
