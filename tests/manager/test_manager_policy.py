"""The recording policy end to end: a real RecordingManager on the synthetic source records
the connections the saved policy includes and not those it excludes, says which rule
decided, and applies a newly saved version to the next connection without a restart."""

from __future__ import annotations

from pathlib import Path

from x11_windows import wait_until

from fastrec.manager import RecordingManager
from fastrec.policy.store import PolicyStore
from fastrec.settings import load_settings
from fastrec.storage import iter_metadata

SYNTHETIC = {"width": 320, "height": 240, "fps": 10, "scenario": "typing"}
INTERNAL_ONLY = """\
connections:
  default: skip
  rules:
    - name: internal
      action: record
      connection_type: RDP
      ip: [10.0.0.0/8, 192.168.0.0/16]
"""
INSIDE = {"con_codigo": 1, "ip": "10.20.30.40", "name": "srv-inside", "user": "alice", "connection_type": "RDP"}
OUTSIDE = {"con_codigo": 2, "ip": "203.0.113.9", "name": "srv-outside", "user": "bob", "connection_type": "RDP"}


def test_a_connection_the_policy_excludes_is_not_recorded(tmp_path: Path, log_stream) -> None:
    out = tmp_path / "rec"
    with PolicyStore(out) as store:
        store.save(INTERNAL_ONLY, author="alice", comment="only internal connections")
    settings = load_settings(enabled=True, output_dir=str(out), encoder_workers=1, fps=10)
    manager = RecordingManager(settings, mode="synthetic", source_options=SYNTHETIC, cleanup_schedule=False)
    try:
        assert manager.initialize()
        assert manager.policy_decision(OUTSIDE).record is False
        assert manager.start_session_recording("outside", OUTSIDE) is False
        assert not manager.is_recording("outside")
        assert manager.get_recording_status("outside")["known"] is False

        assert manager.start_session_recording("inside", INSIDE) is True
        assert wait_until(lambda: manager.get_recording_status("inside")["frames"]["encoded"] >= 3)
        manager.stop_session_recording("inside")
        assert manager.wait_for_session("inside", 30)
        assert manager.get_recording_status("inside")["state"] == "stopped"

        # a new version applies to the next connection, with no restart
        with PolicyStore(out) as store:
            store.rollback(0, author="alice", comment="record everything again")
        assert manager.start_session_recording("outside-later", OUTSIDE) is True
        assert wait_until(lambda: manager.get_recording_status("outside-later")["frames"]["encoded"] >= 1)
        manager.stop_session_recording("outside-later")
        assert manager.wait_for_session("outside-later", 30)
    finally:
        manager.shutdown()

    metadata = [m for _, m in iter_metadata(out)]
    assert {m.session_id for m in metadata} == {"inside", "outside-later"}
    assert {m.file.name for m in metadata} == {p.name for p in out.glob("*.mp4")}  # no video of "outside"

    decisions = {e["session_id"]: e for e in log_stream.events() if "policy_decision" in e}
    assert decisions["outside"]["event"] == ("Recording not started for session outside: excluded by "
                                             "connections.default of policy version 1")
    assert (decisions["outside"]["policy_decision"], decisions["outside"]["reason"]) == ("skip", "policy")
    assert decisions["inside"]["event"] == ("Recording policy: session inside is recorded by rule 'internal' "
                                            "(connections.rules[0]) of policy version 1")
    assert (decisions["inside"]["policy_rule"], decisions["inside"]["policy_version"]) == ("internal", 1)
    assert decisions["outside-later"]["event"].endswith("recorded by connections.default of policy version 2")
