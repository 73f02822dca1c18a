"""`python -m fastrec policy ...` as an operator runs it: real processes over a recordings
directory, no server; EDITOR is a script.  Every change is checked in the admin server's
audit log, and `record` obeys what was saved."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from cli_jobs import fastrec

from fastrec.policy.document import DEFAULT_POLICY_TEXT
from fastrec.policy.store import PolicyStore
from fastrec.server.audit import AuditLog
from fastrec.server.commands import os_user
from fastrec.server.db import ADMIN_DB_FILE, AdminDatabase

INTERNAL = """\
# only internal connections
connections:
  default: skip
  rules:
    - name: internal
      action: record
      ip: [10.0.0.0/8, 192.168.0.0/16]
"""
BAD = "connections:\n  default: maybe\n  rule: []\n"

# an editor that replaces one text by another in the file it is given
EDITOR = """\
import sys
old, new, path = sys.argv[1], sys.argv[2], sys.argv[3]
text = open(path, encoding="utf-8").read()
open(path, "w", encoding="utf-8").write(text.replace(old, new))
"""


def policy(out: Path, *args: str, env: dict[str, str] | None = None):
    return fastrec("policy", *args, "--output-dir", str(out), cwd=out.parent, env=env)


def editor(tmp_path: Path, old: str, new: str) -> dict[str, str]:
    script = tmp_path / "editor.py"
    script.write_text(EDITOR)
    return {"EDITOR": f"{sys.executable} {script} '{old}' '{new}'", "VISUAL": ""}


def test_policy_round_trip_from_the_command_line(tmp_path: Path) -> None:
    out = tmp_path / "rec"
    good, bad = tmp_path / "internal.yaml", tmp_path / "bad.yaml"
    good.write_text(INTERNAL)
    bad.write_text(BAD)

    shown = policy(out, "show")
    assert (shown.returncode, shown.stdout) == (0, DEFAULT_POLICY_TEXT)
    assert "the default policy (no version saved) (active)" in shown.stderr

    checked = policy(out, "validate", str(bad))
    assert checked.returncode == 2 and checked.stdout == ""
    assert checked.stderr.splitlines() == [
        f"{bad}:2:3: connections.default: must be one of record, skip, got 'maybe'",
        f"{bad}:3:3: connections: unknown key 'rule' (allowed: default, rules)"]
    assert policy(out, "validate", str(good)).stdout == (f"{good}: valid (1 connection rule(s), default skip; "
                                                         "0 privacy rule(s), 0 preset(s))\n")

    saved = policy(out, "set", str(good), "--comment", "only internal connections")
    assert saved.returncode == 0, saved.stderr
    assert saved.stdout.startswith("policy version 1 saved: active now (")
    refused = policy(out, "set", str(bad), "--comment", "broken")
    assert refused.returncode == 2 and f"{bad}:2:3: connections.default" in refused.stderr
    again = policy(out, "set", str(good), "--comment", "again")
    assert again.returncode == 0 and "the active policy already (version 1); nothing was saved" in again.stderr

    edited = policy(out, "edit", "--comment", "record by default", "--author", "alice",
                    env=editor(tmp_path, "default: skip", "default: record"))
    assert edited.returncode == 0, edited.stderr
    assert edited.stdout == "policy version 2 saved: active now (1 addition, 1 deletion against version 1)\n"

    # an invalid edit is refused with its line and kept for the operator
    broken = policy(out, "edit", "--comment", "oops", env=editor(tmp_path, "default: record", "default: sometimes"))
    assert broken.returncode == 2
    kept = broken.stderr.split("it is kept in ")[1].split(" ")[0]
    assert f"{kept}:3:3: connections.default: must be one of record, skip, got 'sometimes'" in broken.stderr
    assert "default: sometimes" in Path(kept).read_text()
    Path(kept).unlink()

    diff = policy(out, "diff", "1", "2")
    assert diff.returncode == 0
    assert diff.stdout.splitlines() == ["--- policy version 1", "+++ policy version 2", "@@ -1,6 +1,6 @@",
                                        " # only internal connections", " connections:", "-  default: skip",
                                        "+  default: record", "   rules:", "     - name: internal",
                                        "       action: record", "1 addition, 1 deletion"]
    as_json = json.loads(policy(out, "diff", "0", "1", "--json").stdout)
    assert as_json["from"] == 0 and as_json["additions"] == 6 and {"kind", "text", "old", "new"} == set(as_json["lines"][0])

    rolled = policy(out, "rollback", "1", "--comment", "default skip again")
    assert rolled.returncode == 0, rolled.stderr
    assert rolled.stdout == ("policy version 3 saved: version 1's document is active again "
                             "(1 addition, 1 deletion against version 2)\n")
    missing = policy(out, "rollback", "9", "--comment", "x")
    assert missing.returncode == 2 and "version=9: no such policy version (versions 1 to 3 exist" in missing.stderr

    history = json.loads(policy(out, "history", "--json").stdout)
    assert [(v["version"], v["author"], v["comment"], v["rolled_back_from"], v["active"]) for v in history] == [
        (1, os_user(), "only internal connections", None, False), (2, "alice", "record by default", None, False),
        (3, os_user(), "default skip again", 1, True)]
    table = policy(out, "history").stdout.splitlines()
    assert table[0].split() == ["VERSION", "SAVED", "AUTHOR", "COMMENT"] and table[-1].endswith("active, rollback to 1")

    # show prints the document exactly as saved: show > f; set f is no change
    shown = policy(out, "show")
    assert shown.stdout == INTERNAL and "policy version 3" in shown.stderr
    assert json.loads(policy(out, "show", "--version", "2", "--json").stdout)["author"] == "alice"
    copy = tmp_path / "copy.yaml"
    copy.write_text(shown.stdout)
    assert "nothing was saved" in policy(out, "set", str(copy), "--comment", "same").stderr

    with PolicyStore(out) as store:
        assert [v.version for v in store.versions()] == [1, 2, 3] and store.active().text == INTERNAL
    with AdminDatabase(out / ADMIN_DB_FILE) as db:
        entries, _ = AuditLog(db).query(limit=100)
    done = [(e.action, e.target, e.details.get("comment")) for e in reversed(entries) if e.status == "success"]
    assert done == [("policy.save", "policy:v1", "only internal connections"),
                    ("policy.save", "policy:v2", "record by default"),
                    ("policy.rollback", "policy:v3", "default skip again")]
    assert {e.actor for e in entries} == {f"cli:{os_user()}"} and {e.actor_type for e in entries} == {"system"}
    refused_reasons = [e.details["reason"] for e in entries if e.status == "failure"]
    assert any("line 2: connections.default: must be one of record, skip" in r for r in refused_reasons)
    assert any("no such policy version" in r for r in refused_reasons)


def test_record_obeys_the_saved_policy(tmp_path: Path) -> None:
    out = tmp_path / "rec"
    good = tmp_path / "internal.yaml"
    good.write_text(INTERNAL)
    assert policy(out, "set", str(good), "--comment", "internal only").returncode == 0
    refused = fastrec("record", "--mode", "synthetic", "--duration", "1", "--session-id", "outside",
                      "--ip", "203.0.113.5", "--output-dir", str(out), cwd=tmp_path)
    assert refused.returncode == 1
    assert refused.stderr.strip().endswith(
        "session outside not recorded: the recording policy excludes this connection (connections.default of "
        "policy version 1; python -m fastrec policy show)")
    assert not list(out.glob("*.mp4"))
