"""Load test of the admin server on loopback: WebSocket clients on the live feed and a
steady rate of API requests, for a bounded time; prints a Markdown table.

    .venv/bin/python scripts/load_test.py                 # 200 clients, 50 req/s, 60 s
    .venv/bin/python scripts/load_test.py --seconds 10    # CI's short pass

Everything is started here and stopped at the end, in a temporary directory: a recorder
(``python -m fastrec record --mode synthetic``) so the live feed carries real
``session_updated`` events, a few recorded sessions for the API to list, and the server
(``python -m fastrec serve``).  The WebSocket clients authenticate with an API token.
Latencies: HTTP from request to complete response; live events from the recorder's
``updated_at`` stamp to the client's receipt (one clock: this machine's).
Exit status 1 when any request failed or any client was disconnected.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import httpx
import psutil
import websockets

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Results:
    http_latency: list[float] = field(default_factory=list)
    http_errors: list[str] = field(default_factory=list)
    ws_connected: int = 0
    ws_messages: int = 0
    ws_delay: list[float] = field(default_factory=list)
    ws_errors: list[str] = field(default_factory=list)
    cpu_seconds: float = 0.0
    peak_rss: int = 0
    peak_pss: int = 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _env(directory: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ, RECORDING_OUTPUT_DIR=str(directory), RECORDING_ENABLED="true",
               FASTREC_WS_RATE_LIMIT="100000", PYTHONPATH=str(ROOT / "src"))
    env.update(extra or {})
    return env


def _record(directory: Path, seconds: float, session: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "fastrec", "record", "--mode", "synthetic",
                             "--duration", str(seconds), "--session-id", session, "--server", "Load Server",
                             "--user", "loadtest", "--ip", "127.0.0.1", "--connection-type", "RDP",
                             "--output-dir", str(directory)],
                            env=_env(directory), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _token(directory: Path) -> str:
    code = ("import sys; from fastrec.server.config import ServerSettings; "
            "from fastrec.server.context import ServerContext; "
            "ctx = ServerContext.open(ServerSettings(recordings_dir=sys.argv[1])); "
            "ctx.accounts.create_user('load', 'load-test-password', 'admin'); "
            "print(ctx.accounts.create_token('load', 'load test')[1]); ctx.close()")
    return subprocess.run([sys.executable, "-c", code, str(directory)], env=_env(directory), check=True,
                          capture_output=True, text=True).stdout.strip()


async def _ws_client(url: str, token: str, stop: asyncio.Event, results: Results, ready: asyncio.Event,
                     connected: list[int], clients: int) -> None:
    try:
        async with websockets.connect(url, additional_headers={"Authorization": f"Bearer {token}"},
                                      open_timeout=30, max_queue=None) as ws:
            results.ws_connected += 1
            connected[0] += 1
            if connected[0] == clients:
                ready.set()
            while not stop.is_set():
                try:
                    raw = await asyncio.wait_for(ws.recv(), timeout=0.5)
                except TimeoutError:
                    continue
                now = time.time()
                results.ws_messages += 1
                message = json.loads(raw)
                if message.get("type") == "session_updated":
                    stamp = message.get("session", {}).get("updated_at")
                    if stamp:
                        results.ws_delay.append(now - datetime.fromisoformat(stamp).timestamp())
    except Exception as exc:  # noqa: BLE001 - every failure is counted and reported
        results.ws_errors.append(f"{type(exc).__name__}: {exc}")
        ready.set()


async def _requests(base: str, token: str, rps: float, seconds: float, session: str, results: Results) -> None:
    paths = ["/api/recordings", f"/api/recordings/{session}?verify=false", f"/api/recordings/{session}/timeline",
             f"/api/recordings/{session}/playlist.m3u8", "/api/audit?limit=20"]
    headers = {"Authorization": f"Bearer {token}"}
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30, limits=limits) as client:

        async def one(path: str) -> None:
            start = time.perf_counter()
            try:
                response = await client.get(path)
                response.raise_for_status()
                results.http_latency.append(time.perf_counter() - start)
            except Exception as exc:  # noqa: BLE001
                results.http_errors.append(f"{path}: {type(exc).__name__}: {exc}")

        tasks = []
        begin = time.perf_counter()
        n = 0
        while (elapsed := time.perf_counter() - begin) < seconds:
            due = n / rps  # an open-loop schedule: a slow server does not slow the offered rate
            if due > elapsed:
                await asyncio.sleep(due - elapsed)
            tasks.append(asyncio.create_task(one(paths[n % len(paths)])))
            n += 1
        await asyncio.gather(*tasks)


async def _sample(pid: int, stop: asyncio.Event, results: Results) -> None:
    process = psutil.Process(pid)
    while not stop.is_set():
        try:
            info = process.memory_full_info()
            results.peak_rss = max(results.peak_rss, info.rss)
            results.peak_pss = max(results.peak_pss, getattr(info, "pss", 0))
        except psutil.Error:
            return
        await asyncio.sleep(0.5)


async def _run(args: argparse.Namespace, base: str, token: str, session: str, server_pid: int) -> Results:
    results = Results()
    stop, ready = asyncio.Event(), asyncio.Event()
    connected = [0]
    ws_url = base.replace("http://", "ws://") + "/admin/sessions/live"
    sampler = asyncio.create_task(_sample(server_pid, stop, results))
    clients = [asyncio.create_task(_ws_client(ws_url, token, stop, results, ready, connected, args.clients))
               for _ in range(args.clients)]
    await asyncio.wait_for(ready.wait(), timeout=60)
    cpu = psutil.Process(server_pid).cpu_times()
    await _requests(base, token, args.rps, args.seconds, session, results)
    after = psutil.Process(server_pid).cpu_times()
    results.cpu_seconds = (after.user + after.system) - (cpu.user + cpu.system)
    stop.set()
    await asyncio.gather(*clients, sampler)
    return results


def _wait_http(url: str, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer")


def table(args: argparse.Namespace, r: Results) -> str:
    done = len(r.http_latency)
    ms = [x * 1000 for x in r.http_latency]
    delay = [x * 1000 for x in r.ws_delay]
    return "\n".join([
        f"Load test: {args.clients} WebSocket clients, {args.rps:g} API requests/s offered, {args.seconds:g} s, "
        f"on {os.cpu_count()} cores",
        "",
        "| measure | value |", "|---|---:|",
        f"| API requests completed / failed | {done} / {len(r.http_errors)} |",
        f"| API throughput | {done / args.seconds:.1f} req/s |",
        f"| API latency p50 / p99 / max | {_pct(ms, .5):.1f} / {_pct(ms, .99):.1f} / {max(ms, default=0):.1f} ms |",
        f"| WebSocket clients connected / errors | {r.ws_connected} / {len(r.ws_errors)} |",
        f"| live messages received | {r.ws_messages} |",
        f"| live event delay p50 / p99 | {_pct(delay, .5):.1f} / {_pct(delay, .99):.1f} ms |",
        f"| server CPU | {r.cpu_seconds:.1f} s ({100 * r.cpu_seconds / args.seconds:.0f}% of one core) |",
        f"| server peak RSS / PSS | {r.peak_rss / 2**20:.0f} / {r.peak_pss / 2**20:.0f} MB |",
    ])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--rps", type=float, default=50.0)
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="fastrec-load-") as tmp:
        directory = Path(tmp) / "recordings"
        session = "load_recorded"
        first = _record(directory, 3, session)
        if first.wait(120) != 0:
            print("the recorder failed to make the test recording", file=sys.stderr)
            return 1
        token = _token(directory)
        port = _free_port()
        base = f"http://127.0.0.1:{port}"
        server = subprocess.Popen([sys.executable, "-m", "fastrec", "serve", "--port", str(port),
                                   "--output-dir", str(directory), "--log-level", "warning"],
                                  env=_env(directory), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        live = None
        try:
            _wait_http(base + "/openapi.json", time.monotonic() + 60)
            live = _record(directory, args.seconds + 30, "load_live")
            results = asyncio.run(_run(args, base, token, session, server.pid))
        finally:
            for process in (live, server):
                if process is not None and process.poll() is None:
                    process.send_signal(signal.SIGINT)
            for process in (live, server):
                if process is not None:
                    try:
                        process.wait(60)
                    except subprocess.TimeoutExpired:
                        process.kill()
    print(table(args, results))
    problems = results.http_errors[:5] + results.ws_errors[:5]
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
