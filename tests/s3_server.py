"""An S3-compatible server on loopback for the object-store tests: moto's server mode in
this process, on a port of its own, with a bucket per test.

moto keeps its buckets in this process's memory, so :meth:`S3Server.stop` followed by
:meth:`S3Server.start` is a store that went down and came back on the same address with
its objects intact - what a MinIO restart looks like to the recorder.
"""

from __future__ import annotations

import hashlib
import itertools
import socket
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

_buckets = itertools.count(1)


class S3Server:
    """moto's ThreadedMotoServer on 127.0.0.1:``port``, stoppable and restartable."""

    def __init__(self) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self._server = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self._server is not None

    def start(self) -> None:
        from moto.server import ThreadedMotoServer

        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self._server.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None


@dataclass
class Bucket:
    """One test's bucket and the URL settings name it by; ``client`` is a plain boto3
    client for the test's own look at what is stored."""

    server: S3Server
    name: str
    prefix: str
    client: object

    @property
    def url(self) -> str:
        return f"s3://{self.name}/{self.prefix}"

    def keys(self) -> list[str]:
        reply = self.client.list_objects_v2(Bucket=self.name)  # type: ignore[attr-defined]
        return sorted(item["Key"] for item in reply.get("Contents", ()))

    def read(self, name: str) -> bytes:
        reply = self.client.get_object(Bucket=self.name, Key=self.prefix + name)  # type: ignore[attr-defined]
        return reply["Body"].read()

    def sha256(self, name: str) -> str:
        return hashlib.sha256(self.read(name)).hexdigest()

    def put(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.name, Key=key, Body=data)  # type: ignore[attr-defined]


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    server = S3Server()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def s3_bucket(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> Iterator[Bucket]:
    """A new bucket on the (running) server; AWS credentials for moto in the environment."""
    import boto3

    if not s3_server.running:
        s3_server.start()  # a test that stopped it failed before starting it again
    for name, value in (("AWS_ACCESS_KEY_ID", "fastrec-test"), ("AWS_SECRET_ACCESS_KEY", "fastrec-secret"),
                        ("AWS_DEFAULT_REGION", "us-east-1")):
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    client = boto3.client("s3", endpoint_url=s3_server.endpoint)
    name = f"fastrec-test-{next(_buckets)}"
    client.create_bucket(Bucket=name)
    yield Bucket(s3_server, name, "gateway-1/", client)
