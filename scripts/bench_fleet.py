"""Fleet throughput: the object-store uploads and the recordings index under load.

Uploads: sealed segments of realistic size (random bytes: H.264 does not compress) are
moved to an S3-compatible server (moto's, a process of its own on loopback) by the
project's :class:`~fastrec.manager.uploads.Uploader` - hash check against the seal, PUT
with ChecksumSHA256, verification, the metadata JSON, removal of the local copy - and, as
the reference in the same run, the same bytes are sent by a plain boto3 ``put_object`` per
file; a second reference hashes, PUTs and reads back each file (what verification costs on
a store that keeps no checksum, as moto: MinIO and AWS S3 return theirs and spare the
read-back).  Rounds alternate the three; the medians are reported, and the ratios.

Index: N writer processes (gateways) each insert M segments into the recordings index
(:class:`~fastrec.storage.index.RecordingIndex`) at once - on SQLite (one file, the
embedded default: several recorders of one machine) and on PostgreSQL (one database, a
fleet) - then one reader runs the admin server's queries (a session's parts; a server's
sessions in a time range) for a few seconds.  PostgreSQL is a private cluster started as in
the tests (tests/postgres.py, Debian's ``postgresql``), made durable like SQLite (fsync,
synchronous_commit on), unless ``--database-url`` names one.

    .venv/bin/python scripts/bench_fleet.py [--quick] [--segments 8] [--segment-mb 16]
                                            [--writers 2] [--inserts 500] [--database-url URL]

Timings on a shared machine vary; read the ratios, which are measured in one run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # the tests' private PostgreSQL cluster (tests/postgres.py)

from fastrec.logs import configure_logging  # noqa: E402
from fastrec.storage import (  # noqa: E402
    ConnectionInfo,
    RecorderSettings,
    SegmentMetadata,
    metadata_path,
    recording_basename,
    seal_segment,
    video_path,
    write_metadata,
)

AWS = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench-secret", "AWS_DEFAULT_REGION": "us-east-1"}
START = datetime(2026, 12, 1, 8, 0, 0).astimezone()
WAIT = 600.0  # a hang guard


# --- the S3-compatible server ------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_moto(port: int) -> subprocess.Popen[bytes]:
    """moto's server as its own process (not sharing this process's GIL with the uploader)."""
    server = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return server
        except OSError:
            if server.poll() is not None:
                sys.exit(f"moto's server exited with {server.returncode}")
            time.sleep(0.1)
    server.kill()
    sys.exit("moto's server did not listen within 60 s")


# --- uploads -------------------------------------------------------------------------------

def write_segments(directory: Path, count: int, size: int, round_number: int) -> list[Path]:
    """``count`` sealed one-part sessions of ``size`` random bytes each (metadata beside)."""
    directory.mkdir(parents=True, exist_ok=True)
    videos = []
    for n in range(count):
        start = START + timedelta(minutes=30 * n)
        base = recording_basename(1000 * round_number + n, "bench-server", start)
        video = video_path(directory, base)
        with open(video, "wb") as out:
            left = size
            while left:
                chunk = os.urandom(min(left, 4 * 1024 * 1024))
                out.write(chunk)
                left -= len(chunk)
        meta = SegmentMetadata(session_id=f"bench_{round_number}_{n}", start_time=start,
                               connection_info=ConnectionInfo(con_codigo=n, name="bench-server", user="u"),
                               recorder_settings=RecorderSettings(fps=10, quality=23, resolution_scale=1.0,
                                                                  max_file_size_mb=100, max_duration_minutes=30))
        meta.file.name = video.name
        meta = seal_segment(meta, video, None, status="complete", end_time=start + timedelta(minutes=30))
        write_metadata(metadata_path(directory, base), meta)
        videos.append(video)
    return videos


def time_uploader(directory: Path, url: str, endpoint: str, count: int) -> float:
    from fastrec.manager.uploads import Uploader
    from fastrec.storage.objectstore import ObjectStore

    uploader = Uploader(directory, ObjectStore(url, endpoint), cache_bytes=0)
    began = time.perf_counter()
    uploader.start()
    try:
        while uploader.status().uploaded_segments < count or uploader.status().backlog_segments:
            if time.perf_counter() - began > WAIT:
                sys.exit(f"the uploader did not finish: {uploader.status()}")
            if uploader.status().last_error:
                sys.exit(f"upload failed: {uploader.status().last_error}")
            time.sleep(0.005)
        return time.perf_counter() - began
    finally:
        uploader.stop()


def time_plain_put(client: Any, bucket: str, prefix: str, videos: list[Path]) -> float:
    began = time.perf_counter()
    for video in videos:
        with open(video, "rb") as body:
            client.put_object(Bucket=bucket, Key=prefix + video.name, Body=body)
    return time.perf_counter() - began


def time_put_read_back(client: Any, bucket: str, prefix: str, videos: list[Path]) -> float:
    """The second reference: what any careful uploader must do on a store that keeps no
    checksum (moto returns none on HEAD): hash the file, PUT it, read it back and hash it."""
    import hashlib

    began = time.perf_counter()
    for video in videos:
        with open(video, "rb") as body:
            local = hashlib.file_digest(body, "sha256").hexdigest()
            body.seek(0)
            client.put_object(Bucket=bucket, Key=prefix + video.name, Body=body)
        stored = hashlib.sha256()
        for chunk in client.get_object(Bucket=bucket, Key=prefix + video.name)["Body"].iter_chunks(1024 * 1024):
            stored.update(chunk)
        if stored.hexdigest() != local:
            sys.exit(f"{video.name}: read back differs")
    return time.perf_counter() - began


def bench_uploads(scratch: Path, segments: int, segment_mb: float, rounds: int) -> dict[str, Any]:
    import boto3

    os.environ.update(AWS)
    port = free_port()
    server = start_moto(port)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        client = boto3.client("s3", endpoint_url=endpoint)
        client.create_bucket(Bucket="bench")
        size = int(segment_mb * 1024 * 1024)
        ours, plain, checked = [], [], []
        for r in range(rounds):
            folder = scratch / f"up{r}"
            videos = write_segments(folder, segments, size, r)
            plain.append(time_plain_put(client, "bench", f"plain{r}/", videos))
            checked.append(time_put_read_back(client, "bench", f"checked{r}/", videos))
            ours.append(time_uploader(folder, f"s3://bench/ours{r}", endpoint, segments))
            shutil.rmtree(folder)
            # the objects go again: moto keeps them in its memory
            for prefix in (f"plain{r}/", f"checked{r}/", f"ours{r}/"):
                listed = client.list_objects_v2(Bucket="bench", Prefix=prefix).get("Contents", [])
                for item in listed:
                    client.delete_object(Bucket="bench", Key=item["Key"])
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(30)
    total_mb = segments * segment_mb
    mine, theirs, careful = statistics.median(ours), statistics.median(plain), statistics.median(checked)
    return {"segments": segments, "segment_mb": segment_mb, "rounds": rounds,
            "uploader_s": mine, "plain_put_s": theirs, "put_read_back_s": careful,
            "uploader_mb_s": total_mb / mine, "plain_put_mb_s": total_mb / theirs,
            "put_read_back_mb_s": total_mb / careful, "ratio": mine / theirs, "ratio_read_back": mine / careful}


# --- the index -----------------------------------------------------------------------------

WRITER = r"""
import json, sys, time
from datetime import datetime, timedelta
from pathlib import Path
sys.path.insert(0, sys.argv[6])
from fastrec.storage import ConnectionInfo, RecorderSettings, SegmentMetadata
from fastrec.storage.index import INDEX_FILE, RecordingIndex
from fastrec.logs import configure_logging

configure_logging("console", "warning")  # standard output is the report's
directory, url = Path(sys.argv[1]), sys.argv[2] or None
writer, inserts, start = int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
index = RecordingIndex(directory / INDEX_FILE, directory, database_url=url)
rows = []
for n in range(inserts):
    begin = datetime.fromtimestamp(start).astimezone() + timedelta(minutes=n)
    meta = SegmentMetadata(session_id=f"w{writer}_s{n // 4}", start_time=begin,
                           connection_info=ConnectionInfo(con_codigo=n, name=f"server-{n % 20}",
                                                          user=f"user-{n % 7}"),
                           recorder_settings=RecorderSettings(fps=10, quality=23, resolution_scale=1.0,
                                                              max_file_size_mb=100, max_duration_minutes=30))
    meta.chain.part = n % 4 + 1
    meta.end_time = begin + timedelta(minutes=1)
    meta.status = "complete"
    meta.file.name = f"session_{writer}_{n}.mp4"
    rows.append(meta)
print("ready", flush=True)
sys.stdin.readline()  # every writer starts at once
began = time.time()
for meta in rows:
    index.add(meta, directory / meta.file.name)
ended = time.time()
index.close()
print(json.dumps({"began": began, "ended": ended, "inserts": inserts}), flush=True)
"""


def run_writers(directory: Path, url: str | None, writers: int, inserts: int) -> float:
    """Inserts per second of ``writers`` processes at once (all rows / first start to last end)."""
    from fastrec.storage.index import INDEX_FILE, RecordingIndex

    directory.mkdir(parents=True, exist_ok=True)
    # created (and migrated) once before the writers: the timed part is the inserts
    RecordingIndex(directory / INDEX_FILE, directory, database_url=url).close()
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(directory), url or "", str(w), str(inserts),
                               str(START.timestamp()), str(ROOT / "src")],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) for w in range(writers)]
    for proc in procs:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
    reports = []
    for proc in procs:
        out, _ = proc.communicate(timeout=WAIT)
        if proc.returncode != 0:
            sys.exit(f"an index writer failed ({proc.returncode})")
        reports.append(json.loads(out.strip().splitlines()[-1]))
    span = max(r["ended"] for r in reports) - min(r["began"] for r in reports)
    return sum(r["inserts"] for r in reports) / span


def run_queries(directory: Path, url: str | None, writers: int, seconds: float) -> float:
    """Queries per second of one reader: a session's parts, then a server's sessions in a day."""
    from fastrec.storage.index import INDEX_FILE, RecordingIndex

    index = RecordingIndex(directory / INDEX_FILE, directory, database_url=url)
    try:
        done, began = 0, time.perf_counter()
        while time.perf_counter() - began < seconds:
            n = done % 97
            index.search(session_id=f"w{n % writers}_s{n}")
            index.search(server=f"server-{n % 20}", since=START, until=START + timedelta(hours=8))
            done += 2
        return done / (time.perf_counter() - began)
    finally:
        index.close()


def durable(admin_url: str) -> None:
    """The tests' cluster runs with fsync off (its data is thrown away); a benchmark against
    SQLite (WAL, synchronous FULL: every commit synced) needs PostgreSQL durable as well."""
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        for setting in ("fsync", "synchronous_commit", "full_page_writes"):
            conn.execute(f"ALTER SYSTEM SET {setting} = on")  # type: ignore[arg-type]
        conn.execute("SELECT pg_reload_conf()")


def bench_index(scratch: Path, writers: int, inserts: int, seconds: float, url: str | None) -> dict[str, Any]:
    cluster = None
    if url is None:
        from postgres import start_cluster

        cluster = start_cluster()
        durable(cluster.admin_url)
        url = cluster.new_database()
    try:
        results: dict[str, Any] = {"writers": writers, "inserts_per_writer": inserts}
        for name, database in (("sqlite", None), ("postgresql", url)):
            folder = scratch / f"index-{name}"
            results[f"{name}_inserts_s"] = run_writers(folder, database, writers, inserts)
            results[f"{name}_queries_s"] = run_queries(folder, database, writers, seconds)
        return results
    finally:
        if cluster is not None:
            cluster.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="a short pass: 4 segments of 4 MB, 2 rounds, 200 inserts")
    parser.add_argument("--segments", type=int, default=8)
    parser.add_argument("--segment-mb", type=float, default=16.0, help="size of each segment (default 16 MB)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--writers", type=int, default=2, help="index writer processes (gateways)")
    parser.add_argument("--inserts", type=int, default=500, help="segments each writer indexes")
    parser.add_argument("--query-seconds", type=float, default=3.0)
    parser.add_argument("--database-url", default=None, help="PostgreSQL to use (default: a private cluster)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.segments, args.segment_mb, args.rounds, args.inserts, args.query_seconds = 4, 4.0, 2, 200, 1.0
    configure_logging("console", "warning")
    with tempfile.TemporaryDirectory(prefix="fastrec-bench-fleet-") as scratch:
        uploads = bench_uploads(Path(scratch), args.segments, args.segment_mb, args.rounds)
        index = bench_index(Path(scratch), args.writers, args.inserts, args.query_seconds, args.database_url)
    if args.json:
        print(json.dumps({"uploads": uploads, "index": index}, indent=2))
        return
    print(f"uploads: {uploads['segments']} segments x {uploads['segment_mb']:.0f} MB, median of "
          f"{uploads['rounds']} rounds")
    print(f"  fastrec Uploader (hash, PUT+checksum, verify, metadata, local copy removed): "
          f"{uploads['uploader_s']:.2f} s = {uploads['uploader_mb_s']:.0f} MB/s")
    print(f"  plain boto3 put_object (reference):                                         "
          f"{uploads['plain_put_s']:.2f} s = {uploads['plain_put_mb_s']:.0f} MB/s")
    print(f"  boto3 hash + put_object + read-back hash (reference 2):                     "
          f"{uploads['put_read_back_s']:.2f} s = {uploads['put_read_back_mb_s']:.0f} MB/s")
    print(f"  uploader / plain put: {uploads['ratio']:.2f}x the time; uploader / put + read-back: "
          f"{uploads['ratio_read_back']:.2f}x")
    print(f"index: {index['writers']} writer processes x {index['inserts_per_writer']} segments at once")
    for name in ("sqlite", "postgresql"):
        inserts, queries = index[f"{name}_inserts_s"], index[f"{name}_queries_s"]
        print(f"  {name:10}: {inserts:8.0f} inserts/s   {queries:8.0f} queries/s")
    print(f"  PostgreSQL / SQLite: inserts {index['postgresql_inserts_s'] / index['sqlite_inserts_s']:.2f}x, "
          f"queries {index['postgresql_queries_s'] / index['sqlite_queries_s']:.2f}x")


if __name__ == "__main__":
    main()
