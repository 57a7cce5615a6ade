/// Readings a patient types from a thermometer, a pulse oximeter, a blood-pressure cuff, a watch or a
/// glucose meter ("temp 38.5", "sats 89% on air", "bp 88/52", "heart rate 120", "sugar 2.8"), read
/// as the findings they are evidence of, at the thresholds of named guidance.
///
/// A reading only ever makes a finding present. A normal value makes nothing absent: one reading at
/// one moment (a temperature taken after paracetamol) must not outweigh what the patient says
/// ("she was burning up last night"), and a finding a reading leaves unknown is still asked. A
/// normal reading is still consumed, so "temperature 36.1" is not read as the word "temperature"
/// (a fever). "under 4" and "over 100" are read with their direction.
///
/// - Temperature: 38.0 °C or more is a fever (NICE NG143); 35.0 °C or less is a low temperature
///   (NEWS2, Royal College of Physicians 2017: 3 points). 86 to 113 is read as Fahrenheit.
/// - Oxygen saturation: 92% or less is low (NEWS2: 92-93 scores 2, 91 or less 3).
/// - Breathing rate: 25 a minute or more is rapid (NEWS2: 3 points). Children breathe faster, so a
///   child's normal rate may read as rapid: the safe side.
/// - Heart rate: over 100 is a fast pulse (the adult definition; NEWS2 scores from 91); 50 or less
///   is slow (NEWS2 scores from 50). A baby's normal rate may read as fast: the safe side.
/// - Blood pressure: a systolic of 90 or less is low (NEWS2: 3 points; NICE NG51 high risk); 140/90
///   or more is a raised reading (NICE NG136, NG133 in pregnancy).
/// - Blood glucose: 11.1 mmol/L or more is high (WHO random-glucose criterion; NICE NG17); under 4.0
///   is low ("four is the floor", NHS and Diabetes UK). 20 to 35 could be either unit and is not
///   read; over 35 is read as mg/dL.
enum VitalSigns {
    enum Kind { case temperature, oxygen, breathing, heart, pressure, glucose }

    /// Cue words (as `TextMatcher.tokens` leaves them), longest first; the number follows them.
    static let cues: [(words: [String], kind: Kind)] = [
        (["oxygen", "saturation"], .oxygen), (["oxygen", "level"], .oxygen), (["o2", "sat"], .oxygen), (["pulse", "ox"], .oxygen),
        (["respiratory", "rate"], .breathing), (["breathing", "rate"], .breathing), (["resp", "rate"], .breathing),
        (["heart", "rate"], .heart), (["pulse", "rate"], .heart), (["blood", "pressure"], .pressure),
        (["blood", "sugar"], .glucose), (["blood", "glucose"], .glucose), (["sugar", "level"], .glucose),
        (["temperature"], .temperature), (["temp"], .temperature),
        (["oxygen"], .oxygen), (["saturation"], .oxygen), (["sat"], .oxygen), (["spo2"], .oxygen), (["o2"], .oxygen), (["oximeter"], .oxygen),
        (["rr"], .breathing), (["pulse"], .heart), (["hr"], .heart), (["bp"], .pressure),
        (["sugar"], .glucose), (["glucose"], .glucose),
    ]
    /// Units that follow a number and name its kind ("28 breaths a minute", "120 bpm").
    static let units: [(words: [String], kind: Kind)] = [
        (["breath", "per", "minute"], .breathing), (["breath", "a", "minute"], .breathing), (["breath", "per", "min"], .breathing),
        (["bpm"], .heart), (["beat", "per", "minute"], .heart), (["beat", "a", "minute"], .heart), (["mmhg"], .pressure),
    ]
    /// Words that may stand between a cue and its number.
    static let filler: Set<String> = [
        "is", "was", "of", "at", "around", "about", "reading", "read", "reads", "measured", "been", "it", "s", "my", "his", "her", "the",
        "level", "now", "only", "just", "went", "gone", "got", "come", "came", "back", "today", "showing", "show", "shows", "say", "says",
        "said", "on", "machine", "meter", "monitor", "watch", "were", "are", "be", "has", "had", "still", "even", "up", "to", "like",
        "nearly", "almost", "roughly", "approx", "approximately", "rate",
    ]
    /// Words that put the value on one side of the number ("under 4", "over 100", "less than 92").
    static let below: Set<String> = ["under", "below", "less", "lower"]
    static let above: Set<String> = ["over", "above", "more", "higher"]
    /// Words before "<number> bpm" that make it a breathing rate, not a heart rate.
    static let breathingWords: Set<String> = ["breathing", "breath", "respiratory", "resp"]

    /// A number at the start of a token ("38.5", "38.5c", "102f", "89"), if any.
    static func number(_ token: String) -> Double? {
        let digits = token.prefix { $0.isNumber || $0 == "." }
        guard !digits.isEmpty, token.dropFirst(digits.count).allSatisfy({ "cfmlgdo".contains($0) }) else { return nil }
        return Double(digits)
    }

    /// The reading that starts at `i`: the findings it makes present (none for a value in range) and
    /// how many tokens it covers.
    static func reading(_ tokens: [String], at i: Int) -> (findings: [String], length: Int)? {
        func matches(_ words: [String], at j: Int) -> Bool {
            j + words.count <= tokens.count && tokens[j..<(j + words.count)].elementsEqual(words)
        }
        // A cue, up to five filler or comparison words, then the number (and for blood pressure a second one).
        if let cue = cues.first(where: { matches($0.words, at: i) }) {
            var j = i + cue.words.count
            var skipped = 0
            var side = 0.0
            while j < tokens.count, number(tokens[j]) == nil, skipped < 5 {
                if below.contains(tokens[j]) {
                    side = -0.01
                } else if above.contains(tokens[j]) {
                    side = 0.01
                } else if tokens[j] != "than", !filler.contains(tokens[j]) {
                    break
                }
                j += 1
                skipped += 1
            }
            guard j < tokens.count, let measured = number(tokens[j]) else { return nil }
            let value = measured + side
            var second: Double?
            var end = j + 1
            if cue.kind == .pressure {
                if end < tokens.count, let d = number(tokens[end]) {
                    second = d
                    end += 1
                } else if end + 1 < tokens.count, tokens[end] == "over", let d = number(tokens[end + 1]) {
                    second = d
                    end += 2
                }
            }
            guard let findings = read(cue.kind, value, second) else { return nil }
            return (findings, end - i)
        }
        // A number followed by its unit (not "breathing 45 bpm", which is no heart rate).
        if let value = number(tokens[i]), let unit = units.first(where: { matches($0.words, at: i + 1) }),
            i == 0 || !breathingWords.contains(tokens[i - 1])
        {
            guard let findings = read(unit.kind, value, nil) else { return nil }
            return (findings, 1 + unit.words.count)
        }
        return nil
    }

    /// The findings a value makes present (none for a value in range); nil when it cannot be a
    /// reading of that kind.
    static func read(_ kind: Kind, _ value: Double, _ second: Double?) -> [String]? {
        switch kind {
        case .temperature:
            let c: Double
            switch value {
            case 30...45: c = value
            case 86...113: c = (value - 32) * 5 / 9
            default: return nil
            }
            return c >= 38 ? ["fever"] : c <= 35 ? ["low_temperature"] : []
        case .oxygen:
            guard (50...100).contains(value) else { return nil }
            return value <= 92 ? ["low_oxygen"] : []
        case .breathing:
            guard (4...120).contains(value) else { return nil }
            return value >= 25 ? ["rapid_breathing"] : []
        case .heart:
            guard (20...250).contains(value) else { return nil }
            return value > 100 ? ["tachycardia"] : value <= 50 ? ["slow_pulse"] : []
        case .pressure:
            guard (40...300).contains(value), second.map({ (20...200).contains($0) && $0 < value }) ?? true else { return nil }
            if value <= 90 { return ["low_blood_pressure"] }
            return value >= 140 || (second ?? 0) >= 90 ? ["high_blood_pressure_reading"] : []
        case .glucose:
            guard value > 0, value <= 1000, !(20...35).contains(value) else { return nil }
            let mmol = value > 35 ? value / 18 : value
            return mmol >= 11.1 ? ["high_blood_sugar_reading"] : mmol < 4 ? ["low_blood_sugar_reading"] : []
        }
    }
}
