"""Automatic recording: notice RDP clients starting and ending, record each connection.

:class:`ConnectionMonitor` polls the process table (psutil) for RDP clients -- by the
same process-name patterns the ``rdp_window`` capture mode uses to find their windows
(xfreerdp, wlfreerdp, sdl-freerdp, rdesktop, remmina, mstsc.exe ...).  A client counts as
a connection once it shows a top-level window (a client still asking for a password, or
one that failed to connect, shows none or exits); its recording is pinned to that
process's windows, so two connections never record each other, and stops when the
process exits.  connection_info comes from the client's command line.

Every connection goes through :meth:`RecordingManager.start_session_recording`, which asks
the active recording policy (:mod:`fastrec.policy`) first: a connection the policy excludes
is not recorded (the manager logs the decision and the rule), and the monitor does not ask
again for that client process.

Invariant: no password from a command line reaches connection_info, the monitor's log or
anything else outside this process.  The parser never copies a password option's value
nor a URI's user-info password, and what it returns has been through
:func:`fastrec.privacy.connection.clean_connection_info` (which strips credentials from
every value again, replaces personal data, bounds them and keeps only the allowed keys);
the raw command line stays in :class:`RdpClient`, whose repr leaves it out.
"""

from __future__ import annotations

import ipaddress
import re
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Self
from urllib.parse import unquote

import psutil
import structlog

from fastrec.capture import WindowPatterns
from fastrec.capture.matching import DEFAULT_PROCESS_NAMES, compile_pattern
from fastrec.privacy.connection import clean_connection_info
from fastrec.privacy.pii import CustomPattern

__all__ = ["ConnectionMonitor", "RdpClient", "parse_command_line"]

log = structlog.get_logger("fastrec.monitor")


@dataclass(frozen=True, slots=True)
class RdpClient:
    """One running RDP client process the monitor has seen.  ``cmdline`` may hold a
    password (``/p:...``): it is left out of the repr, so logging a client never shows it."""

    pid: int
    name: str
    create_time: float
    cmdline: tuple[str, ...] = field(repr=False)


def _split_host(value: str) -> tuple[str | None, int | None]:
    """``host``, ``host:port``, ``[v6]:port`` or a bare IPv6 address -> (host, port)."""
    value = value.strip()
    if not value:
        return None, None
    match = re.fullmatch(r"\[([^\]]+)\](?::(\d+))?", value)
    if match:
        return match.group(1), _port_number(match.group(2))
    if value.count(":") == 1:
        host, _, port = value.partition(":")
        return host or None, _port_number(port)
    return value, None  # a bare IPv6 address, or a plain host name


def _port_number(text: str | None) -> int | None:
    # at most 5 ASCII digits: int() of thousands of digits raises, of "²" too
    if text and len(text) <= 5 and text.isascii() and text.isdigit():
        return int(text)
    return None


def _rdp_uri(rest: str) -> tuple[str | None, str | None, int | None]:
    """(user, host, port) from what follows ``rdp://`` in Remmina's
    ``rdp://[user[:password]@]host[:port]``.  The user-info ends at the *last* ``@`` (a
    password may hold ``@`` or ``/``); the password, after its first ``:``, is never read."""
    userinfo, at, hostpart = rest.rpartition("@")
    user = (unquote(userinfo.partition(":")[0]) or None) if at else None
    host, port = _split_host(re.split(r"[/?#]", hostpart, maxsplit=1)[0])
    return user, host, port


def _user_with_domain(user: str | None, domain: str | None) -> str | None:
    if user and domain and "\\" not in user and "@" not in user:
        return f"{domain}\\{user}"
    return user


# what parse_command_line returns: the reference's keys, the port and the client program
_PARSED_KEYS = ("con_codigo", "ip", "name", "user", "connection_type", "port", "client")

# rdesktop options that take a value (everything else is a flag or the server)
_RDESKTOP_VALUE_OPTIONS = set("udscpnkgaxrTXoBzyMNEK") - set("zKEBMN")


def parse_command_line(name: str, cmdline: Sequence[str], *,
                       pii_patterns: Sequence[CustomPattern] = ()) -> dict[str, Any]:
    """connection_info from an RDP client's command line.

    Understands FreeRDP and mstsc (``/v:host[:port] /u:user /d:domain``, also ``/u:DOM\\user``),
    rdesktop (``-u user -d domain host[:port]``) and Remmina
    (``rdp://[user[:password]@]host[:port]`` anywhere in an argument, or a ``.remmina``
    file, whose name stands for the host: the file is not read).  Returns {"con_codigo": None, "ip", "name", "user",
    "connection_type": "RDP", "port", "client"}; unknown parts are None.  Passwords
    (``/p:``, ``-p``, a URI's ``:password@``) are never copied, and the result has been
    through :func:`~fastrec.privacy.connection.clean_connection_info` (with
    ``pii_patterns``: no personal data either).
    """
    args = list(cmdline[1:]) if cmdline else []
    host = port = user = domain = None
    client = name.lower()
    if "rdesktop" in client:
        i = 0
        while i < len(args):
            arg = args[i]
            if arg.startswith("-") and len(arg) >= 2:
                opt = arg[1]
                value = arg[2:] if len(arg) > 2 else (args[i + 1] if i + 1 < len(args) else None)
                if opt in _RDESKTOP_VALUE_OPTIONS:
                    if opt == "u":
                        user = value
                    elif opt == "d":
                        domain = value
                    i += 1 if len(arg) > 2 else 2
                    continue
            elif host is None:
                host, port = _split_host(arg)
            i += 1
    elif "remmina" in client:
        for arg in args:
            at = arg.lower().find("rdp://")
            if at >= 0:  # -c rdp://..., --connect=rdp://... or the bare URI
                user, host, port = _rdp_uri(arg[at + len("rdp://"):])
                break
            if arg.lower().endswith(".remmina"):
                host = host or arg.rsplit("/", 1)[-1][: -len(".remmina")]
    else:  # FreeRDP (x/wl/sdl) and mstsc share the /v: /u: /d: syntax
        for arg in args:
            lowered = arg.lower()
            if lowered.startswith(("/v:", "-v:")):
                host, port = _split_host(arg[3:])
            elif lowered.startswith(("/u:", "-u:")):
                user = arg[3:] or None
            elif lowered.startswith(("/d:", "-d:")):
                domain = arg[3:] or None
    ip = None
    if host:
        try:
            ip = str(ipaddress.ip_address(host))
        except ValueError:
            ip = host  # a host name: the reference keeps whatever the app connected to
    details = clean_connection_info({
        "con_codigo": None, "ip": ip, "name": host, "user": _user_with_domain(user, domain),
        "connection_type": "RDP", "port": port, "client": name}, pii_patterns=pii_patterns)
    return {key: getattr(details, key) for key in _PARSED_KEYS}


def _process_name(proc: psutil.Process) -> str:
    try:
        return proc.name()
    except OSError:
        # psutil's own errors are not OSError: this is a system call psutil did not expect
        # to fail (Wine lacks the NtQuerySystemInformation class it asks on Windows).  One
        # process must not stop the whole scan; Windows has another way to the name.
        if sys.platform != "win32":
            raise
        from fastrec.capture.win32 import process_image_name

        return process_image_name(proc.pid)


def _create_time(proc: psutil.Process) -> float:
    try:
        return proc.create_time()
    except psutil.AccessDenied:
        return 0.0


class ConnectionMonitor:
    """Record every RDP connection on this machine while it runs; a context manager.

    ``manager``: a :class:`~fastrec.manager.RecordingManager`; recording happens only
    when its settings say ``RECORDING_AUTO_START=true`` (``force=True`` on :meth:`start`
    overrides that, as ``python -m fastrec watch`` does).  ``display``: the X display
    whose windows count (default ``$DISPLAY``).  ``poll_interval``: seconds between
    looks at the process table.  ``patterns``: process-name patterns (shell globs or
    ``re:...``; default: those of the ``rdp_window`` mode).  ``mode``: capture mode of
    the recordings (default: the settings' RECORDING_MODE; in ``rdp_window`` each
    recording follows only its own client's windows).

    ``sessions`` maps each recorded client's pid to its session id.  Session ids are
    ``rdp_{pid}_{process start time}``.
    """

    def __init__(self, manager: Any, display: str | None = None, poll_interval: float = 1.0,
                 patterns: Sequence[str] = DEFAULT_PROCESS_NAMES, *, mode: str | None = None) -> None:
        if not poll_interval > 0:
            raise ValueError(f"poll_interval={poll_interval!r}: must be a number > 0")
        if isinstance(patterns, str):
            patterns = (patterns,)
        self.manager = manager
        self.display = display
        self.poll_interval = float(poll_interval)
        self.patterns = tuple(patterns)
        self._compiled = [compile_pattern(p, "ConnectionMonitor.patterns") for p in self.patterns]
        self.mode = mode
        self.sessions: dict[int, str] = {}
        self._clients: dict[int, RdpClient] = {}
        self._failed: set[tuple[int, float]] = set()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._backend: Any = None
        self._lock = threading.Lock()

    # --- life cycle ---

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, *, force: bool = False) -> bool:
        """Start watching (a thread); False, with the reason logged, when
        RECORDING_AUTO_START is false and ``force`` is not set.  A no-op when running."""
        if self.running:
            return True
        if not force and not getattr(self.manager.settings, "auto_start", False):
            log.info("Automatic recording is off (RECORDING_AUTO_START=false): not watching for RDP clients")
            return False
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="fastrec-connection-monitor", daemon=True)
        self._thread.start()
        log.info("Watching for RDP connections", patterns=list(self.patterns), display=self.display)
        return True

    def stop(self, timeout: float = 10.0, *, stop_recordings: bool = True) -> None:
        """Stop watching; with ``stop_recordings`` also stop the recordings it started."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        if stop_recordings:
            with self._lock:
                sessions = list(self.sessions.values())
                self.sessions.clear()
                self._clients.clear()
            for session_id in sessions:
                self.manager.stop_session_recording(session_id)
        self._close_backend()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # --- one look ---

    def poll(self) -> None:
        """Look once: start recordings for new connections, stop those whose client ended."""
        clients = {c.pid: c for c in self._find_clients()}
        with self._lock:
            gone = [pid for pid, known in self._clients.items()
                    if pid not in clients or clients[pid].create_time != known.create_time]
        for pid in gone:
            self._ended(pid)
        new = [c for pid, c in clients.items() if pid not in self._clients
               and (c.pid, c.create_time) not in self._failed]
        if not new:
            return
        windowed = self._pids_with_windows()
        for client in new:
            if client.pid in windowed:
                self._began(client)

    def _find_clients(self) -> list[RdpClient]:
        found = []
        for proc in psutil.process_iter():
            try:
                name = _process_name(proc)
                if not any(p.search(name) for p in self._compiled):
                    continue
                found.append(RdpClient(proc.pid, name, _create_time(proc), tuple(proc.cmdline())))
            except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                continue
        return found

    def _pids_with_windows(self) -> set[int]:
        try:
            if self._backend is None:
                from fastrec.capture import window_backend_module

                module = window_backend_module()
                factory = getattr(module, "X11Backend", None) or module.Win32Backend
                backend = factory(self.display) if factory.__name__ == "X11Backend" else factory()
                backend.open()
                self._backend = backend
            return {w.pid for w in self._backend.windows()
                    if w.pid and w.managed and (w.visible or w.minimised)}
        except Exception as exc:  # noqa: BLE001 - no display yet: try again next time
            log.warning("Cannot list windows; will retry", display=self.display, error=str(exc))
            self._close_backend()
            return set()

    def _close_backend(self) -> None:
        if self._backend is not None:
            try:
                self._backend.close()
            except Exception as exc:  # noqa: BLE001 - a dead display connection
                log.debug("Window listing did not close cleanly", error=str(exc))
            self._backend = None

    def _began(self, client: RdpClient) -> None:
        # cleaned here already: the log line below shows the server and user
        info = parse_command_line(client.name, client.cmdline,
                                  pii_patterns=self.manager.settings.custom_pii_patterns())
        info["pid"] = client.pid
        session_id = f"rdp_{client.pid}_{int(client.create_time)}"
        mode = self.mode or self.manager.settings.mode
        options: dict[str, Any] = {}
        if mode == "rdp_window":
            options["patterns"] = WindowPatterns(pids=(client.pid,))
        log.info("RDP connection detected", session_id=session_id, pid=client.pid, client=client.name,
                 server=info["name"], user=info["user"])
        ok = self.manager.start_session_recording(session_id, info, mode=mode, display=self.display,
                                                  source_options=options)
        with self._lock:
            if ok:
                self._clients[client.pid] = client
                self.sessions[client.pid] = session_id
            else:
                # refused (the manager logs why: an error, or the policy's rule); no retry loop
                self._failed.add((client.pid, client.create_time))

    def _ended(self, pid: int) -> None:
        with self._lock:
            self._clients.pop(pid, None)
            session_id = self.sessions.pop(pid, None)
        if session_id is not None:
            log.info("RDP connection ended", session_id=session_id, pid=pid)
            self.manager.stop_session_recording(session_id)

    def _loop(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                self.poll()
            except Exception as exc:
                log.exception("Connection monitor poll failed", error=str(exc))
            self._stop.wait(max(0.0, self.poll_interval - (time.monotonic() - started)))
        self._close_backend()
