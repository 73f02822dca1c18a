"""docs/deployment.md and docs/deploy/ cannot rot: every FASTREC_*/RECORDING_*/
SESSION_SHARE_LINK_* variable they name is one fastrec reads, the gateway's and the admin
server's tables list every setting of that part, the compose file parses and gives its
services what the guide says, and the systemd units pass ``systemd-analyze verify``."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from fastrec.server.config import ServerSettings
from fastrec.settings import RecordingSettings, env_name
from fastrec.storage.signing import KEY_ENV, KEY_FILE_ENV

ROOT = Path(__file__).resolve().parent.parent
GUIDE = ROOT / "docs" / "deployment.md"
DEPLOY = ROOT / "docs" / "deploy"
OURS = re.compile(r"\b(?:FASTREC|RECORDING|SESSION_SHARE_LINK)_[A-Z0-9_]*[A-Z0-9]\b")
SIGNING = {KEY_ENV, KEY_FILE_ENV}  # read by fastrec.storage.signing, not a settings field

GATEWAY = {env_name(name) for name in RecordingSettings.model_fields} | SIGNING
ADMIN = {ServerSettings.env_name(name) for name in ServerSettings.model_fields} | SIGNING
KNOWN = GATEWAY | ADMIN


def section(text: str, title: str) -> str:
    """The text of the ``## title`` section, up to the next ``## ``."""
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start: end if end >= 0 else len(text)]


def named(text: str) -> set[str]:
    return set(OURS.findall(text))


def test_every_variable_the_guide_and_its_files_name_is_one_fastrec_reads():
    files = [GUIDE, *sorted(p for p in DEPLOY.iterdir() if p.is_file())]
    for path in files:
        unknown = named(path.read_text()) - KNOWN
        assert not unknown, f"{path.relative_to(ROOT)} names variables fastrec does not read: {sorted(unknown)}"


@pytest.mark.parametrize(("title", "needed"), [("Gateway settings", GATEWAY), ("Admin server settings", ADMIN)])
def test_each_parts_table_lists_every_setting_of_that_part(title: str, needed: set[str]):
    listed = named(section(GUIDE.read_text(), title))
    assert not needed - listed, f"{title} leaves out {sorted(needed - listed)}"
    assert not listed - needed - {"FASTREC_LIVE_PREFIX"}, f"{title} names another part's {sorted(listed - needed)}"


def test_the_readme_links_the_guide():
    assert "docs/deployment.md" in (ROOT / "README.md").read_text()


def test_the_compose_file_runs_the_shared_services_and_the_admin_server():
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    assert {"postgres", "valkey", "minio", "minio-init", "admin"} <= set(services)
    admin = services["admin"]
    env = admin["environment"]
    assert set(env) - {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION"} <= ADMIN
    for needed in ("FASTREC_DATABASE_URL", "FASTREC_REDIS_URL", "FASTREC_S3_ENDPOINT_URL", "FASTREC_S3_FLEET_URLS",
                   KEY_FILE_ENV, "RECORDING_OUTPUT_DIR"):
        assert needed in env, needed
    assert "db upgrade" in " ".join(admin["command"]) and "fastrec serve" in " ".join(admin["command"])
    assert (DEPLOY / admin["build"]["dockerfile"].removeprefix("docs/deploy/")).is_file()
    assert set(admin["depends_on"]) == {"postgres", "valkey", "minio-init"}
    # the values it passes are ones the admin server accepts (with the compose variables filled in)
    filled = {k: re.sub(r"\$\{(\w+)(?::-([^}]*))?\}", lambda m: m.group(2) or "x", str(v)) for k, v in env.items()
              if k in ADMIN and k != KEY_FILE_ENV}
    ServerSettings(_env_file=None, **filled)  # type: ignore[call-arg]


def test_the_example_environment_files_hold_valid_values(tmp_path: Path):
    guide = GUIDE.read_text()
    blocks = re.findall(r"`/etc/fastrec/(gateway|admin)\.env`.*?```bash\n(.*?)```", guide, flags=re.S)
    assert {kind for kind, _ in blocks} == {"gateway", "admin"}
    for kind, block in blocks:
        values = dict(line.split("=", 1) for line in block.splitlines() if "=" in line)
        ours = {k: v for k, v in values.items() if OURS.fullmatch(k) and k not in SIGNING}
        if kind == "gateway":
            from fastrec.settings import load_settings

            fields = {k if k.startswith("FASTREC_") else k.removeprefix("RECORDING_").lower(): v
                      for k, v in ours.items()}
            fields["output_dir"] = str(tmp_path / "recordings")  # not this machine's /var/lib
            settings = load_settings(None, **fields)
            assert settings.s3_url == "s3://recordings/gateway-1/" and settings.enabled
        else:
            settings = ServerSettings(_env_file=None, **ours)  # type: ignore[call-arg]
            assert settings.s3_fleet_urls and settings.database_url


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
@pytest.mark.parametrize("unit", ["fastrec-gateway.service", "fastrec-admin.service"])
def test_the_systemd_units_verify(unit: str, tmp_path: Path):
    # as installed, but with this machine's interpreter and without the /etc files
    text = (DEPLOY / unit).read_text().replace("/opt/fastrec/.venv/bin/python", sys.executable)
    (tmp_path / unit).write_text(text.replace("EnvironmentFile=", "EnvironmentFile=-"))
    done = subprocess.run(["systemd-analyze", "verify", str(tmp_path / unit)], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0 and unit not in done.stderr, done.stderr
    for command in re.findall(r"^Exec\w+=\S+ -m fastrec (\w+)", text, flags=re.M):
        assert command in ("watch", "serve", "db")
