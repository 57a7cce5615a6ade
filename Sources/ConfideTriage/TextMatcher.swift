/// A finding found in free text, present or negated ("no fever").
public struct ExtractedFinding: Sendable, Hashable, Codable {
    public var finding: String
    public var present: Bool
    /// The words that matched, as normalised.
    public var phrase: String
}

/// Finds knowledge-base findings in free text through their synonyms, with NegEx-style negation:
/// a cue ("no", "not", "without", "denies", "don't have" ...) opens a scope that covers the findings
/// after it until a terminator ("but", "however", "since", a new subject such as "I" or "has"), the end of the
/// clause, or a comma that is not part of an "or" list.
///
/// Normalisation (lower case, punctuation removed, a trailing plural "s" dropped) is the same as
/// `scripts/triage-kb-check`'s, so a synonym that passes the checker matches here.
public struct TextMatcher: Sendable {
    /// first word -> synonyms starting with it (as word lists, longest first) and the finding each names.
    private let index: [String: [(words: [String], finding: String)]]

    public init(findings: [Finding]) {
        var index: [String: [(words: [String], finding: String)]] = [:]
        for finding in findings where finding.kind != .demographic {
            for synonym in finding.synonyms + [finding.name] {
                let words = Self.normalise(synonym)
                guard let first = words.first else { continue }
                if index[first, default: []].contains(where: { $0.words == words }) { continue }
                index[first, default: []].append((words, finding.id))
            }
        }
        for key in index.keys {
            index[key]!.sort { $0.words.count != $1.words.count ? $0.words.count > $1.words.count : $0.finding < $1.finding }
        }
        self.index = index
    }

    /// A word as `tokens` leaves it (plural "s" dropped), so the word lists below match what they meet.
    static func word(_ w: String) -> String { w.count > 3 && w.hasSuffix("s") && !w.hasSuffix("ss") ? String(w.dropLast()) : w }

    static let negationCues: Set<String> = Set([
        "no", "not", "without", "denies", "denied", "deny", "never", "none", "nor", "neither", "negative", "absent", "free",
    ].map(word))
    /// Contractions lose their apostrophe: "don't" -> "don" "t". "can't" is not a negation of what
    /// follows ("can't catch my breath" is a symptom), so it is not here.
    static let contractedCues: Set<String> = Set(["don", "doesn", "didn", "haven", "hasn", "hadn", "isn", "aren", "wasn", "weren"].map(word))
    static let terminators: Set<String> = Set([
        "but", "however", "although", "though", "except", "apart", "yet", "still", "which", "who", "now",
        "i", "im", "my", "he", "she", "they", "has", "have", "had", "got", "is", "are", "was", "feel", "feeling", "also",
        "with", "plus",
    ].map(word))

    /// Phrases that read as nothing, though a synonym starts inside them: "confused whether to give
    /// Calpol" is no confusion, a "sickness bug going round" no vomiting, "swallowed some bath water" no
    /// poisoning.
    static let ignored: [[String]] = [
        "confused whether to give", "confused whether i should", "confused about whether to", "confused which dose", "confused which tablet",
        "confused about my medication", "confused about my inhaler", "confused about the dose", "sickness bug going round",
        "sickness bug going around", "bug going round", "bug going around", "haven't passed urine much", "hasn't passed urine much",
        "not passed urine much", "swallowed some bath water", "swallowed bath water", "swallowed some water", "might have swallowed some bath water",
        "might have swallowed bath water", "might have swallowed some water", "may have swallowed some bath water", "may have swallowed some water",
    ].map(tokens)

    /// Doubt is not denial: "not sure if it's chest pain", "don't know whether she has a temperature"
    /// read what follows as reported (the safe side: it is then screened like any report), where the
    /// "not" or "don't" would have denied it and stopped every question about it. Each phrase is
    /// consumed and ends a negation before it.
    static let uncertain: [[String]] = [
        "not sure if", "not sure whether", "not sure it", "not sure that", "not really sure if", "unsure if", "unsure whether",
        "don't know if", "don't know whether", "dont know if", "dont know whether", "not certain if", "not certain whether",
    ].map(tokens)

    /// Words after which a terminator starts a new clause.
    static let clauseJoiners: Set<String> = ["and", "but", "then"]

    /// Words that may follow a cue without ending its scope.
    static let afterCue: Set<String> = Set(
        ["t", "have", "has", "had", "got", "get", "any", "a", "an", "feel", "feeling", "think", "i", "been", "really", "noticed", "notice", "see", "seen",
            "experienced"]
            .map(word))

    /// Lower-cases, splits on anything that is not a letter or digit, and drops a trailing plural "s".
    public static func normalise(_ text: String) -> [String] {
        tokens(text).filter { $0 != "," && $0 != "." }
    }

    /// Words plus "," and "." markers (clause structure matters for negation).
    static func tokens(_ text: String) -> [String] {
        var out: [String] = []
        var word = ""
        func flush() {
            guard !word.isEmpty else { return }
            out.append(Self.word(word))
            word = ""
        }
        let chars = Array(text.lowercased())
        for (k, ch) in chars.enumerated() {
            if ch.isLetter || ch.isNumber {
                word.append(ch)
            } else if ch == ".", word.last?.isNumber == true, k + 1 < chars.count, chars[k + 1].isNumber {
                word.append(ch)  // a decimal point ("38.5") is part of the number, not the end of a sentence
            } else {
                flush()
                if ch == "," { out.append(",") }
                if ch == "." || ch == ";" || ch == "!" || ch == "?" || ch == ":" || ch == "\n" { out.append(".") }
            }
        }
        flush()
        return out
    }

    /// Every finding mentioned in `text`, in order of first mention; a finding mentioned both ways keeps
    /// its first reading.
    public func extract(_ text: String) -> [ExtractedFinding] {
        let tokens = Self.tokens(text)
        var found: [ExtractedFinding] = []
        var seen = Set<String>()
        var scopeOpen = false
        var scopeBudget = 0
        var justOpened = false
        var i = 0
        while i < tokens.count {
            let token = tokens[i]
            if token == "." {
                scopeOpen = false
                i += 1
                continue
            }
            if token == "," {
                if scopeOpen {
                    // Keep the scope across a list that ends in "or"/"nor" ("no fever, cough or rash").
                    let rest = tokens[(i + 1)...].prefix { $0 != "." }
                    scopeOpen = rest.contains("or") || rest.contains("nor")
                }
                i += 1
                continue
            }
            // A new clause ("and had my baby", "and has not passed urine", "but got into my tablets") ends
            // the scope before a synonym that starts with its verb is matched. Elsewhere a synonym is
            // matched first, so "no one else has the same headache" and "never actually had a fit" stay
            // denied.
            if scopeOpen && i > 0 && Self.clauseJoiners.contains(tokens[i - 1]) && Self.terminators.contains(token) { scopeOpen = false }
            // "since" starts a time anchor, never part of what was denied: "hasn't slept since the baby
            // came", "no fever since my operation" (so "no blood since Tuesday or black poo" reads the
            // black poo: over-triage, the safe side).
            if token == "since" { scopeOpen = false }
            if let ignored = Self.ignored.first(where: { tokens[i...].starts(with: $0) }) {
                i += ignored.count
                continue
            }
            if let doubt = Self.uncertain.first(where: { tokens[i...].starts(with: $0) }) {
                scopeOpen = false
                i += doubt.count
                continue
            }
            if let reading = VitalSigns.reading(tokens, at: i) {
                // A measured value is what it is, whatever negation came before it.
                for finding in reading.findings where seen.insert(finding).inserted {
                    found.append(ExtractedFinding(finding: finding, present: true, phrase: tokens[i..<(i + reading.length)].joined(separator: " ")))
                }
                justOpened = false
                i += reading.length
                continue
            }
            if let match = longestMatch(tokens, at: i) ?? coordinatedMatch(tokens, at: i) ?? lateralMatch(tokens, at: i) ?? Self.tabletCount(tokens, at: i) {
                if seen.insert(match.finding).inserted {
                    found.append(
                        ExtractedFinding(finding: match.finding, present: !scopeOpen, phrase: match.words.joined(separator: " ")))
                }
                if scopeOpen { scopeBudget = 6 }
                justOpened = false
                i += match.advance ?? match.words.count
                continue
            }
            if Self.negationCues.contains(token) || (Self.contractedCues.contains(token) && i + 1 < tokens.count && tokens[i + 1] == "t") {
                scopeOpen = true
                justOpened = true
                scopeBudget = 6
            } else if scopeOpen && justOpened && Self.afterCue.contains(token) {
                // "don't have", "haven't got any", "not had a": still the negation's own words.
            } else if scopeOpen && Self.terminators.contains(token) {
                scopeOpen = false
            } else if scopeOpen {
                justOpened = false
                scopeBudget -= 1
                if scopeBudget <= 0 { scopeOpen = false }
            }
            i += 1
        }
        return found
    }

    /// Words that name tablets or a medicine taken as tablets, as `tokens` leaves them.
    static let tabletWords: Set<String> = Set(
        ["tablet", "pill", "capsule", "cap", "paracetamol", "ibuprofen", "aspirin", "codamol", "cocodamol", "codeine", "tramadol", "sertraline",
            "citalopram", "fluoxetine", "amitriptyline", "diazepam", "zopiclone", "painkiller", "antidepressant", "sleeping"].map(word))
    static let takingWords: Set<String> = ["took", "taken", "swallowed", "ate", "eaten"]
    /// Phrases after the tablets that make the count a routine or a stock, not an overdose ("12 tablets a
    /// day", "30 paracetamol in the cupboard", "10 tablets prescribed").
    static let routinePhrases: [[String]] = [
        "a day", "a week", "per day", "daily", "every day", "each day", "every morning", "prescribed", "left", "in the cupboard", "in the house",
        "in the drawer", "as usual", "as prescribed", "from the pharmacy",
    ].map(tokens)

    /// Whether the words after a count of tablets make it a routine, a stock or a spread over days.
    static func isRoutine(_ rest: ArraySlice<String>) -> Bool {
        if routinePhrases.contains(where: { rest.starts(with: $0) }) { return true }
        // "over 3 days", "over a few days", "over the past week" (not "over an hour", "over the last day").
        guard rest.first == "over" else { return false }
        let span = rest.prefix(5)
        return span.contains("week") || span.contains("month")
            || (span.contains("day") && span.contains { $0 == "few" || $0 == "several" || $0 == "couple" || (Int($0) ?? 0) >= 2 })
    }
    /// Units that make a number a strength ("500 mg"), not a count.
    static let strengthUnits: Set<String> = Set(["mg", "g", "mcg", "microgram", "milligram", "gram", "ml", "iu", "unit"].map(word))
    static let tabletFiller: Set<String> = ["of", "my", "her", "his", "the", "their", "mum", "dad", "x", "co", "extra", "more"]

    /// A count of tablets taken at once ("took about 24 paracetamol", "swallowed 30 of her sleeping
    /// tablets", "taken 15 propranolol tablets"): more than 8, the daily maximum of paracetamol 500 mg
    /// (BNF), reads as an overdose. The count must be a whole number on its own (not "500mg" or "500
    /// mg"), within three words after took, taken, swallowed, ate or eaten, and before a word for
    /// tablets within four more (of which two may be any word, such as a drug's name); a following "a
    /// day", "over 3 days", "prescribed", "left" or "in the cupboard" makes it no overdose. "took 10"
    /// alone is not read ("it took 10 minutes").
    static func tabletCount(_ tokens: [String], at i: Int) -> (words: [String], finding: String, advance: Int?)? {
        guard tokens[i].allSatisfy(\.isNumber), let count = Int(tokens[i]), count > 8, count <= 1000,
            i + 1 == tokens.count || !strengthUnits.contains(tokens[i + 1]),
            tokens[max(0, i - 3)..<i].contains(where: { takingWords.contains($0) })
        else { return nil }
        var j = i + 1
        var other = 0
        while j < tokens.count, j <= i + 4, !tabletWords.contains(tokens[j]) {
            if !tabletFiller.contains(tokens[j]) {
                guard tokens[j] != "." && tokens[j] != "," && !tokens[j].allSatisfy(\.isNumber) && other < 2 else { return nil }
                other += 1
            }
            j += 1
        }
        guard j < tokens.count, tabletWords.contains(tokens[j]) else { return nil }
        // "tablets" after a drug's name ("propranolol tablets") belongs to the same mention.
        if j + 1 < tokens.count, tabletWords.contains(tokens[j + 1]) { j += 1 }
        if isRoutine(tokens[(j + 1)...]) { return nil }
        return (Array(tokens[i...j]), "took_overdose", nil)
    }

    private func longestMatch(_ tokens: [String], at i: Int) -> (words: [String], finding: String, advance: Int?)? {
        guard let candidates = index[tokens[i]] else { return nil }
        for candidate in candidates where i + candidate.words.count <= tokens.count {
            if tokens[i..<(i + candidate.words.count)].elementsEqual(candidate.words) { return (candidate.words, candidate.finding, nil) }
        }
        return nil
    }

    static let conjunctions: Set<String> = ["and", "or"]

    /// A synonym split by a coordinated word: "chest and back pain" reads as chest pain (and, from
    /// "back pain" on, back pain), "throat feels scratchy and tight" as a tight throat. One word and
    /// its conjunction may stand inside a synonym of two words or more: after the conjunction when
    /// that word and the rest of the synonym are a synonym too, before it when at least two words of
    /// the synonym come first. Only the words before the split are consumed, so the coordinated word
    /// is read again on its own. Tried only where no synonym matches outright.
    private func coordinatedMatch(_ tokens: [String], at i: Int) -> (words: [String], finding: String, advance: Int?)? {
        guard let candidates = index[tokens[i]] else { return nil }
        for candidate in candidates where candidate.words.count >= 2 && i + candidate.words.count + 2 <= tokens.count {
            let words = candidate.words
            for k in 1..<words.count where tokens[i..<(i + k)].elementsEqual(words[0..<k]) {
                let a = tokens[i + k]
                let b = tokens[i + k + 1]
                // "chest [and back] pain" or "throat feels [scratchy and] tight".
                guard tokens[(i + k + 2)..<(i + words.count + 2)].elementsEqual(words[k...]) else { continue }
                // "chest [and back] pain": the coordinated word must make a synonym with the rest
                // ("back pain"), so that "green [and] sick" cannot come from "green poo and sick"...
                if Self.conjunctions.contains(a), Self.isWord(b), isSynonym([b] + words[k...]) { return (words, candidate.finding, k) }
                // ... and "throat feels [scratchy and] tight" needs two words before the split.
                if k >= 2, Self.isWord(a), Self.conjunctions.contains(b) { return (words, candidate.finding, k) }
            }
        }
        return nil
    }

    static let sides: Set<String> = ["left", "right"]

    /// A synonym with a side inside it: "painful right eye" reads as a painful eye, "pain in my left
    /// ball" as pain in the balls. The side may stand after any word of a synonym of two words or
    /// more, and is consumed with it. Tried only where no synonym matches outright, so a synonym that
    /// names the side ("pain on the right side") still wins.
    private func lateralMatch(_ tokens: [String], at i: Int) -> (words: [String], finding: String, advance: Int?)? {
        guard let candidates = index[tokens[i]] else { return nil }
        for candidate in candidates where candidate.words.count >= 2 && i + candidate.words.count + 1 <= tokens.count {
            let words = candidate.words
            for k in 1..<words.count where Self.sides.contains(tokens[i + k]) && !Self.sides.contains(words[k]) {
                if tokens[i..<(i + k)].elementsEqual(words[0..<k]), tokens[(i + k + 1)..<(i + words.count + 1)].elementsEqual(words[k...]) {
                    return (words, candidate.finding, words.count + 1)
                }
            }
        }
        return nil
    }

    private func isSynonym(_ words: [String]) -> Bool {
        index[words[0]]?.contains { $0.words == words } ?? false
    }

    static func isWord(_ token: String) -> Bool { token != "," && token != "." && !conjunctions.contains(token) && !negationCues.contains(token) }
}
