import Foundation

/// Faults a test can inject into the stores, to show that the defences behind the policy (the
/// egress guard, the breach report) catch what a broken read path lets through. Only debug builds
/// can turn one on: in a release build every value is `none`, whatever the caller asks for.
public struct InjectedFaults: Sendable, Hashable {
    /// The 2020 read path: a recording's patient is taken from the recording's own owner field
    /// instead of through its consultation, for the policy's facts and the list scopes alike.
    public private(set) var recordingOwnerFromRow = false
    /// The 2020 write: a new recording is bound to the patient of the consultation recorded just
    /// before (a stale "current patient"), and the write-time binding check is bypassed.
    public private(set) var recordingBindsWrongPatient = false

    public static let none = InjectedFaults()

    /// Parses a comma-separated list of fault names (`recording-owner-from-row`, `recording-binds-wrong-patient`).
    /// - Throws: `InjectedFaultError` for an unknown name, or for any name in a release build.
    public static func parse(_ names: String) throws(InjectedFaultError) -> InjectedFaults {
        var faults = InjectedFaults()
        for name in names.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !name.isEmpty {
            #if DEBUG
            switch name {
            case "recording-owner-from-row": faults.recordingOwnerFromRow = true
            case "recording-binds-wrong-patient": faults.recordingBindsWrongPatient = true
            default:
                throw InjectedFaultError(message: "unknown fault `\(name)` (known: recording-owner-from-row, recording-binds-wrong-patient)")
            }
            #else
            throw InjectedFaultError(message: "fault injection is compiled out of release builds")
            #endif
        }
        return faults
    }
}

public struct InjectedFaultError: Error, Sendable, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}
