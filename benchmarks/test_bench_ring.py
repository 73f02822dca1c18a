"""Latency of a 1080p I420 frame through the frame ring to a spawned consumer process.

One-way latency: the producer reads time.perf_counter() (CLOCK_MONOTONIC on Linux, the same
clock in every process) right before copying a prepared frame into a slot and publishes it
with that timestamp; the consumer subtracts it from perf_counter() once read() has returned
and it has touched the pixels.  Frames go one every 2 ms, so this measures latency, not
throughput.  The benchmarked function is a round trip: copy, publish, and wait for the
consumer's one-byte echo, sent after it read and released the frame.

    PYTHONPATH=src python -m pytest benchmarks/test_bench_ring.py -q
"""

from __future__ import annotations

import multiprocessing as mp
import time
from multiprocessing.connection import Connection
from typing import Any

import numpy as np

from fastrec.engine.ring import FrameRing, RingClosed, RingEndpoint, RingReader

WIDTH, HEIGHT = 1920, 1080
FRAME = WIDTH * HEIGHT * 3 // 2  # I420: 3,110,400 bytes
FRAMES = 300
PACE = 0.002
ECHO = 1  # frame flag: the consumer answers this frame with one byte


def consume(endpoint: RingEndpoint, conn: Connection) -> None:
    latencies = []
    with RingReader(endpoint) as reader:
        conn.send("ready")
        while True:
            try:
                slot = reader.read(timeout=10)
            except RingClosed:
                break
            if slot is None:
                break
            with slot:
                data = slot.data
                touched = int(data[0]) + int(data[len(data) // 2]) + int(data[-1])
                latency = time.perf_counter() - slot.header.timestamp
                echo = slot.header.flags == ECHO
            if echo:
                conn.send_bytes(b"\1")
            else:
                latencies.append(latency)
    conn.send((latencies, touched))


def test_ring_1080p_latency(benchmark: Any) -> None:
    frame = np.random.default_rng(0).integers(0, 256, FRAME, dtype=np.uint8)
    mine, theirs = mp.Pipe()
    with FrameRing(slot_size=FRAME, slots=4, timeout=5) as ring:
        consumer = mp.get_context("spawn").Process(target=consume, args=(ring.endpoint(), theirs))
        consumer.start()
        try:
            assert mine.poll(30) and mine.recv() == "ready"
            copies = []
            next_frame = time.perf_counter()
            for _ in range(FRAMES):
                next_frame += PACE
                while (now := time.perf_counter()) < next_frame:
                    time.sleep(max(0.0, next_frame - now - 0.0002))
                slot = ring.acquire()
                assert slot is not None
                timestamp = time.perf_counter()
                np.copyto(slot.data[:FRAME], frame)
                copies.append(time.perf_counter() - timestamp)
                slot.publish(timestamp, WIDTH, HEIGHT, size=FRAME)

            def round_trip() -> None:
                slot = ring.acquire()
                assert slot is not None
                np.copyto(slot.data[:FRAME], frame)
                slot.publish(time.perf_counter(), WIDTH, HEIGHT, flags=ECHO, size=FRAME)
                assert mine.poll(5)
                mine.recv_bytes()

            benchmark.pedantic(round_trip, rounds=200, warmup_rounds=10)
            assert ring.stats.dropped == 0
            ring.close()
            assert mine.poll(30)
            latencies, _ = mine.recv()
        finally:
            consumer.join(10)
            if consumer.is_alive():
                consumer.kill()
                consumer.join()
    assert len(latencies) == FRAMES
    ms = np.array(latencies) * 1000
    benchmark.extra_info["frame_bytes"] = FRAME
    benchmark.extra_info["frames"] = FRAMES
    benchmark.extra_info["one_way_median_ms"] = round(float(np.median(ms)), 3)
    benchmark.extra_info["one_way_p99_ms"] = round(float(np.percentile(ms, 99)), 3)
    benchmark.extra_info["one_way_max_ms"] = round(float(ms.max()), 3)
    benchmark.extra_info["copy_median_ms"] = round(float(np.median(copies)) * 1000, 3)
    print(f"\none-way latency of a {FRAME}-byte frame over {FRAMES} frames: "
          f"median {benchmark.extra_info['one_way_median_ms']} ms, "
          f"p99 {benchmark.extra_info['one_way_p99_ms']} ms, "
          f"max {benchmark.extra_info['one_way_max_ms']} ms "
          f"(of which copying into the slot, median {benchmark.extra_info['copy_median_ms']} ms)")


GIVE_UP = 0.05  # seconds: the full-ring timeout of the benchmark below


def test_ring_full_acquire_gives_up_after_its_timeout(benchmark: Any) -> None:
    """How long a producer with the block policy waits on a full ring before dropping a frame:
    its timeout plus the overshoot reported here (tests only check that the frame is dropped)."""
    with FrameRing(slot_size=256, slots=2, timeout=GIVE_UP) as ring:
        for _ in range(2):
            slot = ring.acquire()
            assert slot is not None
            slot.publish(time.perf_counter(), 8, 4, size=256)
        assert benchmark.pedantic(ring.acquire, rounds=20, warmup_rounds=1) is None
        assert ring.stats.dropped == 21
    overshoot_ms = (benchmark.stats.stats.median - GIVE_UP) * 1000
    benchmark.extra_info["timeout_ms"] = GIVE_UP * 1000
    benchmark.extra_info["overshoot_median_ms"] = round(overshoot_ms, 3)
    print(f"\na full ring's acquire() gives up {overshoot_ms:.3f} ms (median) after its "
          f"{GIVE_UP * 1000:.0f} ms timeout")
