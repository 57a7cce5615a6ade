#!/usr/bin/env python3
"""The AWS Cedar side of `scripts/bench`: the same policy subset and request mix as confide-bench.

Reads the mix confide-bench wrote with `--dump-mix` (a world of patients, clinicians, care teams,
consents, practice admins and operators, and the requests with Confide's decision), expresses the
world as Cedar entities and the rules as Cedar policies, checks that Cedar reaches the same decision
for every request, then measures decisions/s (is_authorized_batch, policies and entities parsed
once) and per-request latency (is_authorized in a loop). Prints a markdown table; with
`--confide-json FILE` it adds the Confide numbers and the Confide/Cedar ratios.

Note on fairness: Confide's engine is given precomputed facts (the gate loads them from SQL);
Cedar evaluates the relations itself from the entity graph. Both numbers exclude I/O.
"""

import argparse
import json
import sys
import time

import cedarpy

POLICIES = r"""
// patient: own consultations, own record, own signed notes
permit(principal is Patient, action == Action::"read", resource is Consultation)
  when { resource.patient == principal };
permit(principal is Patient, action == Action::"read", resource is PatientRecord)
  when { resource.patient == principal };
permit(principal is Patient, action == Action::"read", resource is Note)
  when { resource.patient == principal && resource.signed };
// clinician: assigned-clinician-of
permit(principal is Clinician, action == Action::"read", resource is Consultation)
  when { resource.clinician == principal };
permit(principal is Clinician, action == Action::"read", resource is Note)
  when { resource.clinician == principal };
// clinician: care-team-member-of with consent (relation through the patient's consents)
permit(principal is Clinician, action == Action::"read", resource)
  when { (resource is Consultation || resource is Note || resource is PatientRecord)
         && resource.patient.consentedTeams.containsAny(principal.careTeams) };
// clinician: break-glass within the practice that holds the record
permit(principal is Clinician, action == Action::"read", resource)
  when { context.breakGlass
         && (resource is Consultation || resource is Note || resource is PatientRecord)
         && principal.practices.contains(resource.practice) };
// practice admin: appointment metadata of their practice
permit(principal is PracticeAdmin, action == Action::"read", resource is Consultation)
  when { principal.administers.contains(resource.practice) };
// forbids
forbid(principal is Operator, action, resource)
  when { resource is Consultation || resource is Note || resource is PatientRecord };
forbid(principal is PracticeAdmin, action, resource)
  when { resource is Note || resource is PatientRecord };
"""

TYPES = {
    "patient": "Patient", "clinician": "Clinician", "practice-admin": "PracticeAdmin", "operator": "Operator",
    "consultation": "Consultation", "note": "Note", "patient-record": "PatientRecord",
}


def ref(t, i):
    return {"__entity": {"type": t, "id": i}}


def entities(mix):
    w = mix["world"]
    out = [{"uid": {"type": "Practice", "id": p}, "attrs": {}, "parents": []} for p in w["practices"]]
    out += [{"uid": {"type": "CareTeam", "id": t}, "attrs": {}, "parents": []} for t in w["careTeams"]]
    out += [{"uid": {"type": "Patient", "id": p["id"]},
             "attrs": {"consentedTeams": [ref("CareTeam", t) for t in p["consentedTeams"]]}, "parents": []}
            for p in w["patients"]]
    out += [{"uid": {"type": "Clinician", "id": c["id"]},
             "attrs": {"careTeams": [ref("CareTeam", c["careTeam"])], "practices": [ref("Practice", c["practice"])]},
             "parents": []} for c in w["clinicians"]]
    out += [{"uid": {"type": "PracticeAdmin", "id": a["id"]},
             "attrs": {"administers": [ref("Practice", p) for p in a["administers"]]}, "parents": []}
            for a in w["practiceAdmins"]]
    out += [{"uid": {"type": "Operator", "id": o}, "attrs": {}, "parents": []} for o in w["operators"]]
    for r in mix["requests"]:
        res = r["resource"]
        attrs = {"patient": ref("Patient", res["patient"]), "practice": ref("Practice", res["practice"])}
        if "clinician" in res:
            attrs["clinician"] = ref("Clinician", res["clinician"])
        if res["type"] == "note":
            attrs["signed"] = bool(res.get("signed", False))
        out.append({"uid": {"type": TYPES[res["type"]], "id": res["id"]}, "attrs": attrs, "parents": []})
    return out


def requests(mix):
    return [{
        "principal": {"type": TYPES[r["principal"]["type"]], "id": r["principal"]["id"]},
        "action": {"type": "Action", "id": "read"},
        "resource": {"type": TYPES[r["resource"]["type"]], "id": r["resource"]["id"]},
        "context": {"breakGlass": bool(r["breakGlass"])},
    } for r in mix["requests"]]


def percentile(sorted_values, p):
    i = max(0, min(len(sorted_values) - 1, int(-(-len(sorted_values) * p // 1)) - 1))
    return sorted_values[i]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mix")
    ap.add_argument("--confide-json", help="confide-bench policy numbers (decisions_per_s, p50_us, p99_us)")
    ap.add_argument("--latency-samples", type=int, default=5000)
    args = ap.parse_args()

    with open(args.mix) as f:
        mix = json.load(f)
    policies = cedarpy.PolicySet.from_str(POLICIES)
    ents = cedarpy.Entities.from_json_str(json.dumps(entities(mix)))
    reqs = requests(mix)
    expected = [r["expected"] for r in mix["requests"]]

    # Same decisions as Confide, request by request.
    results = []
    for i in range(0, len(reqs), 1000):
        results += cedarpy.is_authorized_batch(reqs[i:i + 1000], policies, ents)
    got = ["allow" if r.allowed else "deny" for r in results]
    mismatches = [i for i, (a, b) in enumerate(zip(got, expected)) if a != b]
    if mismatches:
        i = mismatches[0]
        print(f"cedar disagrees with confide on {len(mismatches)} of {len(reqs)} requests; first: "
              f"{mix['requests'][i]['template']} confide={expected[i]} cedar={got[i]}", file=sys.stderr)
        sys.exit(1)

    # Throughput: batches of 1000 (the pre-parsed handles are reused).
    start = time.perf_counter()
    n = 0
    for i in range(0, len(reqs), 1000):
        n += len(cedarpy.is_authorized_batch(reqs[i:i + 1000], policies, ents))
    batch_rate = n / (time.perf_counter() - start)

    # Latency: one is_authorized call per request (includes the Python binding's per-call cost).
    lat = []
    for r in reqs[:args.latency_samples]:
        t0 = time.perf_counter()
        cedarpy.is_authorized(r, policies, ents)
        lat.append(time.perf_counter() - t0)
    lat.sort()
    loop_rate = len(lat) / sum(lat)
    p50, p99 = percentile(lat, 0.5) * 1e6, percentile(lat, 0.99) * 1e6

    allow_share = got.count("allow") / len(got) * 100
    print(f"Cedar (cedarpy {__import__('importlib.metadata').metadata.version('cedarpy')}) agrees with Confide on all {len(reqs)} requests "
          f"({allow_share:.0f}% allow)\n")
    rows = [("Cedar is_authorized_batch throughput", f"{batch_rate / 1e3:.1f} k/s"),
            ("Cedar is_authorized loop throughput", f"{loop_rate / 1e3:.1f} k/s"),
            ("Cedar latency p50 / p99 (is_authorized)", f"{p50:.2f} µs / {p99:.2f} µs")]
    table = "| Engine | Measurement | Value | Confide/Cedar |\n|---|---|---|---|\n"
    confide = None
    if args.confide_json:
        with open(args.confide_json) as f:
            confide = json.load(f)
        table += f"| Confide | decide throughput | {confide['decisions_per_s'] / 1e3:.1f} k/s | " \
                 f"{confide['decisions_per_s'] / batch_rate:.1f}x (vs batch) |\n"
        table += f"| Confide | decide latency p50 / p99 | {confide['p50_us']:.2f} µs / {confide['p99_us']:.2f} µs | " \
                 f"p99 {p99 / confide['p99_us']:.1f}x lower |\n"
    for name, value in rows:
        table += f"| Cedar | {name.replace('Cedar ', '')} | {value} | |\n"
    print(table)


if __name__ == "__main__":
    main()
