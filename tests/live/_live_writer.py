"""A recorder-like writer process for the store tests: ``python _live_writer.py STORE HOST
SESSIONS REPORTS`` publishes REPORTS reports of SESSIONS sessions as fast as it can (the
frames counter is the report's number), then ends them.  STORE is a directory (SQLite) or a
redis:// URL.  Prints "done" at the end."""

from __future__ import annotations

import os
import sys
from datetime import datetime
from pathlib import Path

from fastrec.live.model import EndReason, LiveFrames, LiveSession, LiveSessionEnded


def main(store: str, host: str, count: int, reports: int) -> None:
    if store.startswith("redis://"):
        from fastrec.live.redis_store import RedisLiveWriter

        writer = RedisLiveWriter(store, prefix="fastrec:live:")
    else:
        from fastrec.live.sqlite_store import SqliteLiveStore

        writer = SqliteLiveStore(Path(store))
    started = datetime.now().astimezone()
    last: list[LiveSession] = []
    for n in range(reports):
        now = datetime.now().astimezone()
        last = [LiveSession(host=host, session_id=f"s{i}", pid=os.getpid(), state="recording", mode="synthetic",
                            name=f"server-{i}", user="u", connection_type="RDP", started_at=started,
                            updated_at=now, frames=LiveFrames(captured=n, encoded=n)) for i in range(count)]
        writer.publish(last)
    end = datetime.now().astimezone()
    writer.end([LiveSessionEnded.of(s, EndReason.STOPPED, end) for s in last])
    writer.close()
    print("done", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
