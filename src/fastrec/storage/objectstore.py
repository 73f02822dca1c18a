"""Recordings on S3-compatible object storage (AWS S3, MinIO, Ceph, moto): the client.

``FASTREC_S3_URL=s3://bucket/prefix`` names where a recorder's segments go (video, events
file, metadata); an object's key is the prefix plus the file's own name
(``prefix/session_..._part2.mp4``), so a segment is found in the store by the same name
its metadata gives it on disk.  The client
is boto3 with its standard credential chain (``AWS_ACCESS_KEY_ID`` ..., profiles, instance
roles); ``FASTREC_S3_ENDPOINT_URL`` points it at a MinIO or another S3-compatible server.

Invariants:

- Only names the recorder gives reach a key (:func:`~fastrec.storage.naming.basename_of`
  and :func:`~fastrec.storage.naming.is_recording_basename`); anything else is refused
  with :class:`ValueError`, so nothing here can write or delete somebody else's object.
- Every object is written with its SHA-256: as S3's ``ChecksumSHA256`` (a store that
  checks it refuses a body damaged in transit) and as the user metadata ``sha256`` (hex),
  which :meth:`ObjectStore.verify` compares along with the size.  When the store does not
  return its own checksum, :meth:`ObjectStore.verify` reads the object back and hashes it.
- A store that cannot be reached or refuses a request raises :class:`StoreUnavailable`
  (never boto's own exception types), whose message holds no credentials.
- Reads are HTTP range requests: :class:`RangeReader` is a seekable file object that
  fetches blocks on demand, so a replay or export never downloads a whole part to disk.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import urlsplit

from fastrec.storage.naming import EVENTS_SUFFIX, METADATA_SUFFIX, VIDEO_SUFFIX, basename_of, is_recording_basename

__all__ = ["READ_BLOCK", "S3_SCHEME", "ObjectInfo", "ObjectStore", "RangeReader", "S3Location",
           "StoreUnavailable", "parse_s3_url", "store_from_settings"]

S3_SCHEME = "s3://"
READ_BLOCK = 1024 * 1024  # one range request: a few fragments of a 1080p part
_HASH_CHUNK = 1024 * 1024
SHA256_META = "sha256"  # the user metadata key (x-amz-meta-sha256)


class StoreUnavailable(OSError):
    """The object store could not be reached or refused the request."""


@dataclass(frozen=True, slots=True)
class S3Location:
    """A bucket and a key prefix ("" or ending in "/")."""

    bucket: str
    prefix: str

    def __str__(self) -> str:
        return f"{S3_SCHEME}{self.bucket}/{self.prefix}"


def store_from_settings(settings: Any) -> ObjectStore | None:
    """The store that settings with ``s3_url`` and ``s3_endpoint_url`` name (the
    recorder's RecordingSettings, the admin server's ServerSettings), or None."""
    url = getattr(settings, "s3_url", None)
    return ObjectStore(url, getattr(settings, "s3_endpoint_url", None)) if url else None


def parse_s3_url(url: str) -> S3Location:
    """``s3://bucket[/prefix]`` -> :class:`S3Location`; ValueError saying what is allowed."""
    text = url.strip()
    if not text.lower().startswith(S3_SCHEME):
        raise ValueError(f"must start with {S3_SCHEME} (s3://bucket/prefix)")
    parts = urlsplit(text)
    bucket = parts.netloc
    if not bucket or "@" in bucket or ":" in bucket:
        raise ValueError("must name a bucket (s3://bucket/prefix; credentials come from the AWS "
                         "environment, never the URL)")
    if parts.query or parts.fragment:
        raise ValueError("must not carry a query or a fragment (s3://bucket/prefix)")
    prefix = parts.path.strip("/")
    if any(piece in ("", ".", "..") for piece in prefix.split("/")) and prefix:
        raise ValueError("prefix must not hold empty, '.' or '..' pieces")
    return S3Location(bucket, f"{prefix}/" if prefix else "")


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    """What a HEAD request says about one object."""

    key: str
    size: int
    etag: str
    modified_ns: int
    sha256: str | None  # the hex digest fastrec wrote with it, if any
    checksum_sha256: str | None  # the store's own checksum (base64), when it keeps one


class ObjectStore:
    """One bucket and prefix, through boto3; thread-safe (boto3 clients are)."""

    def __init__(self, url: str, endpoint_url: str | None = None, *, client: Any = None) -> None:
        self.location = parse_s3_url(url)
        self.endpoint_url = endpoint_url
        if client is None:
            import boto3  # imported only when a store is configured
            from botocore.config import Config

            # boto3's own retries stay short: the uploader owns the backoff, a reader fails fast
            client = boto3.client("s3", endpoint_url=endpoint_url,
                                  config=Config(retries={"max_attempts": 2, "mode": "standard"},
                                                connect_timeout=5, read_timeout=30))
        self._client = client

    def __repr__(self) -> str:
        return f"ObjectStore({str(self.location)!r}, endpoint_url={self.endpoint_url!r})"

    # --- names -----------------------------------------------------------------------------

    def key(self, name: str) -> str:
        """The key of a recording file (video or metadata) named ``name``."""
        base = basename_of(name)
        if Path(name).name != name or base is None or not is_recording_basename(base):
            raise ValueError(f"name={name!r}: not a recording file name the recorder gives")
        return self.location.prefix + name

    def name_of(self, key: str) -> str | None:
        """The file name of one of our keys, or None for keys fastrec did not name."""
        if not key.startswith(self.location.prefix):
            return None
        name = key[len(self.location.prefix):]
        base = basename_of(name)
        return name if "/" not in name and base is not None and is_recording_basename(base) else None

    # --- requests ----------------------------------------------------------------------------

    def put_file(self, name: str, body: BinaryIO, sha256: str) -> None:
        """Upload the open, seekable file ``body`` (from its start) as ``name`` with its
        SHA-256 (hex)."""
        checksum = base64.b64encode(bytes.fromhex(sha256)).decode("ascii")
        body.seek(0)
        self._call("upload", name, self._client.put_object, Bucket=self.location.bucket,
                   Key=self.key(name), Body=body, ChecksumSHA256=checksum, Metadata={SHA256_META: sha256})

    def put_bytes(self, name: str, data: bytes, sha256: str) -> None:
        """Upload ``data`` as ``name`` with its SHA-256 (hex)."""
        checksum = base64.b64encode(bytes.fromhex(sha256)).decode("ascii")
        self._call("upload", name, self._client.put_object, Bucket=self.location.bucket,
                   Key=self.key(name), Body=data, ChecksumSHA256=checksum, Metadata={SHA256_META: sha256})

    def head(self, name: str) -> ObjectInfo | None:
        """The object ``name``'s size and hashes, or None when there is none."""
        key = self.key(name)
        try:
            reply = self._call("look up", name, self._client.head_object, Bucket=self.location.bucket,
                               Key=key, ChecksumMode="ENABLED")
        except _Missing:
            return None
        return ObjectInfo(key, int(reply["ContentLength"]), str(reply.get("ETag", "")),
                          int(reply["LastModified"].timestamp() * 1e9),
                          (reply.get("Metadata") or {}).get(SHA256_META), reply.get("ChecksumSHA256"))

    def verify(self, name: str, size: int, sha256: str) -> str | None:
        """None when the object ``name`` holds ``size`` bytes hashing to ``sha256``, else
        what differs.  Uses the store's own checksum when it keeps one, else reads back."""
        info = self.head(name)
        if info is None:
            return "not in the store"
        if info.size != size:
            return f"size {info.size} bytes in the store, {size} expected"
        if info.sha256 != sha256:
            return f"SHA-256 {info.sha256} in its metadata, {sha256} expected"
        if info.checksum_sha256 is not None:
            expected = base64.b64encode(bytes.fromhex(sha256)).decode("ascii")
            return None if info.checksum_sha256 == expected else "the store's checksum differs"
        actual = self.sha256(name)
        return None if actual == sha256 else f"SHA-256 {actual} read back, {sha256} expected"

    def sha256(self, name: str) -> str:
        """The SHA-256 (hex) of the object's bytes, streamed."""
        reply = self._call("read", name, self._client.get_object, Bucket=self.location.bucket,
                           Key=self.key(name))
        digest = hashlib.sha256()
        try:
            for chunk in reply["Body"].iter_chunks(_HASH_CHUNK):
                digest.update(chunk)
        except Exception as exc:  # noqa: BLE001 - a connection cut mid-body
            raise StoreUnavailable(f"{self.location}{name}: read failed ({type(exc).__name__})") from None
        return digest.hexdigest()

    def read_range(self, name: str, start: int, end: int) -> bytes:
        """Bytes ``start`` .. ``end - 1`` of the object (fewer at its end)."""
        if end <= start:
            return b""
        reply = self._call("read", name, self._client.get_object, Bucket=self.location.bucket,
                           Key=self.key(name), Range=f"bytes={start}-{end - 1}")
        try:
            return bytes(reply["Body"].read())
        except Exception as exc:  # noqa: BLE001 - a connection cut mid-body
            raise StoreUnavailable(f"{self.location}{name}: read failed ({type(exc).__name__})") from None

    def open(self, name: str) -> RangeReader:
        """A seekable reader of the object ``name`` (FileNotFoundError when there is none)."""
        info = self.head(name)
        if info is None:
            raise FileNotFoundError(f"{self.location}{name}: not in the store")
        return RangeReader(self, name, info)

    def delete(self, name: str) -> None:
        """Delete the object ``name`` (no error when it is already gone)."""
        self._call("delete", name, self._client.delete_object, Bucket=self.location.bucket, Key=self.key(name))

    def delete_segment(self, basename: str) -> None:
        """Delete a segment's video, its events file, then its metadata (the record goes
        last, as on disk)."""
        self.delete(f"{basename}{VIDEO_SUFFIX}")
        self.delete(f"{basename}{EVENTS_SUFFIX}")
        self.delete(f"{basename}{METADATA_SUFFIX}")

    def names(self) -> list[str]:
        """The file names of every object of ours under the prefix, sorted."""
        return sorted(self.listing())

    def listing(self) -> dict[str, tuple[int, str]]:
        """Every object of ours under the prefix: file name -> (size, ETag)."""
        found: dict[str, tuple[int, str]] = {}
        token: str | None = None
        while True:
            extra = {"ContinuationToken": token} if token else {}
            reply = self._call("list", "", self._client.list_objects_v2, Bucket=self.location.bucket,
                               Prefix=self.location.prefix, **extra)
            for item in reply.get("Contents", ()):
                name = self.name_of(item["Key"])
                if name is not None:
                    found[name] = (int(item.get("Size", 0)), str(item.get("ETag", "")))
            if not reply.get("IsTruncated"):
                return found
            token = reply.get("NextContinuationToken")

    def _call(self, what: str, name: str, method: Any, **kwargs: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return method(**kwargs)
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in ("404", "NoSuchKey", "NotFound"):
                raise _Missing from None
            raise StoreUnavailable(f"{self.location}{name}: {what} refused ({code or exc})") from None
        except (BotoCoreError, OSError) as exc:
            raise StoreUnavailable(f"{self.location}{name}: {what} failed ({type(exc).__name__}: {exc})") from None


class _Missing(Exception):
    """HEAD/GET found no such object."""


class RangeReader(io.RawIOBase):
    """A read-only, seekable file over one object, read by ranges of :data:`READ_BLOCK`
    bytes (the last block read is kept: box walks and demuxers read forward in small
    pieces).  ``size`` and ``identity`` (ETag, modification time) are as of opening."""

    def __init__(self, store: ObjectStore, name: str, info: ObjectInfo) -> None:
        super().__init__()
        self.store, self.name, self.info = store, name, info
        self.size = info.size
        self._position = 0
        self._block_start = -1
        self._block = b""
        self._lock = threading.Lock()

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        base = {os.SEEK_SET: 0, os.SEEK_CUR: self._position, os.SEEK_END: self.size}[whence]
        if base + offset < 0:
            raise ValueError(f"offset={offset}: seek before the start of {self.name}")
        self._position = base + offset
        return self._position

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        wanted = min(len(view), max(0, self.size - self._position))
        done = 0
        with self._lock:
            while done < wanted:
                position = self._position + done
                start = position - position % READ_BLOCK
                if start != self._block_start:
                    self._block = self.store.read_range(self.name, start, min(self.size, start + READ_BLOCK))
                    self._block_start = start
                piece = self._block[position - start: position - start + wanted - done]
                if not piece:
                    break  # the object shrank under us: what is there is all there is
                view[done: done + len(piece)] = piece
                done += len(piece)
        self._position += done
        return done

    def readall(self) -> bytes:
        return self.read(max(0, self.size - self._position)) or b""
