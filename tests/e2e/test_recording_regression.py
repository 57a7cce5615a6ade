"""The 2020 regression over the real server: 20 consultations recorded at the same time, each
switching audio -> video -> audio while recording. One is a real Chromium call (MediaRecorder,
video -> audio -> video); nineteen are chunk-upload clients over HTTP sending real WebM. Afterwards
every recording and segment is in exactly its own patient's list, and every other patient's list,
search by consultation, metadata and playback show nothing of it."""

from __future__ import annotations

import threading
import time

from test_browser_call import book_video_with_sarah, click, join_both, wait_flowing
from test_browser_clinic import wait_until
from test_browser_recording import ask_to_record, recording, wait_chunks, wait_recording
from test_call_protocol import book
from test_http_clinic import Api, staff
from test_recordings import consent_and_start, get_media, media, put_chunk, split, wait_seekable

UPLOADERS = 19


def upload_client(gp, booking: tuple, out: dict, index: int, errors: list[str]) -> None:
    """A chunk-upload client: its own patient and consultation; audio -> video -> audio."""
    try:
        patient, cid, _ = booking
        rid = consent_and_start(gp, patient, cid, mode="audio")
        for segment, mode in enumerate(["audio", "video", "audio"]):
            if segment:
                r = gp.call("POST", f"/api/v1/recordings/{rid}/segments", {"mode": mode})
                assert r.status_code == 201 and r.json() == {"segment": segment}, r.text
            for i, c in enumerate(split(MEDIA[mode], 8 * 1024)):
                r = put_chunk(gp, rid, segment, i, c)
                assert r.status_code == 201, r.text
        assert gp.call("POST", f"/api/v1/recordings/{rid}/finish").status_code == 200
        out[index] = (patient, cid, rid, ["audio", "video", "audio"])
    except Exception as e:  # noqa: BLE001
        errors.append(f"client {index}: {e!r}")


MEDIA: dict[str, bytes] = {}


def test_twenty_concurrent_recorded_consultations_switching_media(server, make_browser):
    MEDIA.update(audio=media("audio", 2), video=media("video", 2))
    gp = staff(server, "sarah.okafor@demo.confide.test")
    base = server.base_url

    # The browser call: booked and joined first, recording once both are connected.
    person, browser_api, browser_cid = book_video_with_sarah(base)
    sarah, pat = join_both(base, server, make_browser, browser_cid, person)
    wait_flowing({"GP": sarah, "patient": pat}, "video", min_growth=20000)
    ask_to_record(sarah, pat)
    click(pat, "recording-allow")
    browser_rid = wait_recording(sarah, "the browser recording to start", lambda r: r["state"] == "recording" and r["id"])["id"]

    # Nineteen upload clients at the same time as the browser records and switches (booked one
    # after another: each takes the soonest free slot).
    bookings = [book(server) for _ in range(UPLOADERS)]
    out: dict[int, tuple] = {}
    errors: list[str] = []
    threads = [threading.Thread(target=upload_client, args=(gp, bookings[i], out, i, errors)) for i in range(UPLOADERS)]
    for t in threads:
        t.start()
    wait_chunks(sarah, 2)
    for mode, segment in (("audio-only", 1), ("video", 2)):
        before = recording(sarah)["stored"]
        click(sarah, "mode-toggle")
        wait_until(sarah, f"mode {mode}", lambda d: d.execute_script("return window.confideCall.mode") == mode)
        wait_recording(sarah, f"segment {segment}", lambda r: r["segment"] == segment and r["stored"] > before + 1, timeout=60)
    click(sarah, "record-stop")
    wait_recording(sarah, "the browser recording to stop", lambda r: r["state"] == "idle", timeout=60)
    for t in threads:
        t.join(timeout=300)
    assert not errors, errors
    assert len(out) == UPLOADERS

    browser_patient = Api(server, browser_api.headers["Authorization"].removeprefix("Bearer "))
    everyone = list(out.values()) + [(browser_patient, browser_cid, browser_rid, ["video", "audio", "video"])]
    for k, (patient, cid, rid, modes) in enumerate(everyone):
        mine = patient.call("GET", "/api/v1/recordings").json()["recordings"]
        assert [r["id"] for r in mine] == [rid], f"patient {k} sees {[r['id'] for r in mine]}, expected only {rid}"
        assert mine[0]["consultation_id"] == cid and [s["mode"] for s in mine[0]["segments"]] == modes, mine[0]
        assert all(s["chunks"] > 0 and s["closed"] for s in mine[0]["segments"]), mine[0]
        # Every other patient: nothing of it, whichever way they ask.
        other = everyone[(k + 1) % len(everyone)][0]
        assert other.call("GET", f"/api/v1/recordings?consultation={cid}").json()["recordings"] == []
        assert other.call("GET", f"/api/v1/recordings/{rid}").status_code == 404
        assert get_media(other, rid, 0).status_code == 404
        assert rid not in other.call("GET", "/api/v1/recordings").text
    # Each plays for its own patient once prepared (the remux job runs every second in tests).
    deadline = time.monotonic() + 120
    for patient, _, rid, modes in everyone:
        wait_seekable(patient, rid, timeout=max(5, deadline - time.monotonic()))
        for segment in range(len(modes)):
            r = get_media(patient, rid, segment)
            assert r.status_code == 200 and r.headers["Content-Type"] == ("video/webm" if modes[segment] == "video" else "audio/webm")
