"""Short-lived connections to the store, shared safely between threads and processes.

DuckDB lets one process at a time hold a database file read-write, and while it does, every other
process's open (read-write or read-only) fails at once with ``Could not set lock on file``. So
tracepond never keeps a connection: every write batch and every query opens the file, works, and
closes (about 15 ms on a 1M-row store). An open that finds the file locked is retried with
jittered exponential backoff until a deadline, then raises
:class:`~tracepond.errors.StoreLockedError`. Inside one process a lock per store path serializes
tracepond's own opens, because DuckDB refuses a read-only and a read-write connection to the same
file in one process at once. docs/concurrency.md tells the whole story.

Every open checks the file before DuckDB touches it: a missing directory, a file that is not a
DuckDB database, or a DuckDB database that is not a tracepond store raises a
:class:`~tracepond.errors.StoreError` and leaves the file as it was. A read-write open migrates an
older store forward (:mod:`tracepond.store.migrations`); a newer one is refused.

Reads go through :func:`read_connection`, which also routes ``s3://`` URIs and Parquet
directories to ``tracepond.store.lake`` (the same tables as views).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import random
import shutil
import tempfile
import threading
import time
import warnings
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import duckdb

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: DuckDB's lock alone decides
    fcntl = None  # type: ignore[assignment]

from tracepond.errors import (
    ConfigError,
    NotAStoreError,
    StaleReadWarning,
    StoreError,
    StoreLockedError,
)
from tracepond.store import migrations

DEFAULT_TIMEOUT_S = 15.0
"""How long an open keeps retrying a store locked by another process before giving up."""

_LOCK_MESSAGES = (
    "Could not set lock on file",
    # Another connection of this process (not opened through tracepond) with other settings.
    "different configuration than existing connections",
)
# Retry quickly: writers leave gaps of 20-50 ms between their turns (see the DuckDB exporter),
# and a waiter polling every ~10 ms lands in one; a failed open costs well under a millisecond.
_FIRST_BACKOFF_S = 0.002
_MAX_BACKOFF_S = 0.01
_TURN_POLL_S = 0.002
_DUCKDB_MAGIC = b"DUCK"  # bytes 8..12 of every DuckDB database file

# Read-only connections cannot write the store; these settings also refuse files, ATTACH,
# COPY ... TO, INSTALL/LOAD, and any later SET (tracepond.sql() runs user SQL on them).
READ_CONFIG: dict[str, Any] = {
    "enable_external_access": False,
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "lock_configuration": True,
}

_path_locks: dict[str, threading.RLock] = {}
_path_locks_guard = threading.Lock()


def _reset_locks_in_child() -> None:
    # A fork copies locks that threads of the parent (say, its span writer) may hold right now,
    # and the parent's lingering read connections, which the child must not touch.
    global _path_locks, _path_locks_guard, _leases
    _path_locks = {}
    _path_locks_guard = threading.Lock()
    _leases = {}


os.register_at_fork(after_in_child=_reset_locks_in_child)


def resolve_store(store: str | os.PathLike[str] | None) -> str:
    """The store a call uses: the argument, else the configured one (``TRACEPOND_STORE``)."""
    if store is not None and str(store):
        return str(store)
    from tracepond.config import get_settings

    configured = get_settings().store
    if not configured:
        raise ConfigError(
            "no local store is configured; pass store=... or configure(store='tracepond.duckdb')"
        )
    return str(configured)


def is_lake(store: str) -> bool:
    """True for stores read through tracepond.store.lake: ``s3://`` URIs and Parquet folders."""
    return store.startswith("s3://") or os.path.isdir(store)


def _path_lock(path: str) -> threading.RLock:
    with _path_locks_guard:
        lock = _path_locks.get(path)
        if lock is None:
            lock = _path_locks[path] = threading.RLock()
        return lock


def check_store_file(path: str, *, must_exist: bool) -> None:
    """Refuse, before DuckDB opens it, a path that cannot hold a store. Never touches the file."""
    if os.path.isdir(path):
        raise NotAStoreError(f"{path} is a directory, not a tracepond store file")
    if not os.path.exists(path):
        directory = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(directory):
            raise StoreError(
                f"cannot use store {path}: the directory {directory} does not exist "
                "(tracepond does not create directories; create it first)"
            )
        if must_exist:
            raise StoreError(
                f"no tracepond store at {path} (it is created when the first trace is written)"
            )
        return
    with open(path, "rb") as file:
        head = file.read(12)
    if len(head) < 12 or head[8:12] != _DUCKDB_MAGIC:
        raise NotAStoreError(
            f"{path} exists and is not a DuckDB database; tracepond will not overwrite it "
            "(choose another store path)"
        )


def _is_lock_error(error: duckdb.Error) -> bool:
    message = str(error)
    return any(text in message for text in _LOCK_MESSAGES)


def _connect(path: str, read_only: bool, deadline: float) -> duckdb.DuckDBPyConnection:
    """duckdb.connect, retried with jittered exponential backoff while the file is locked."""
    delay = _FIRST_BACKOFF_S
    while True:
        try:
            if read_only:
                return duckdb.connect(path, read_only=True, config=READ_CONFIG)
            return duckdb.connect(path)
        except duckdb.Error as error:
            if not _is_lock_error(error):
                raise _open_error(path, error) from error
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise StoreLockedError(
                    f"{path} stayed locked by another process; gave up after retrying ({error})"
                ) from error
            time.sleep(min(remaining, delay * random.uniform(0.5, 1.5)))
            delay = min(delay * 2, _MAX_BACKOFF_S)


def _open_error(path: str, error: duckdb.Error) -> StoreError:
    message = str(error)
    if "not a valid DuckDB database file" in message:
        return NotAStoreError(
            f"{path} is not a DuckDB database; tracepond will not overwrite it ({message})"
        )
    return StoreError(f"cannot open store {path}: {message}")


def _has_user_tables(conn: duckdb.DuckDBPyConnection) -> bool:
    row = conn.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_catalog = current_database()"
    ).fetchall()[0]
    return bool(row and row[0])


def _check_schema(conn: duckdb.DuckDBPyConnection, path: str, read_only: bool) -> int:
    """The store's schema version after migrating (read-write) or checking (read-only)."""
    version = migrations.stored_version(conn)
    if version is None and _has_user_tables(conn):
        raise NotAStoreError(
            f"{path} is a DuckDB database but not a tracepond store (it has no schema_version "
            "table); tracepond will not change it"
        )
    migrations.refuse_newer(version, path)
    if version == migrations.CURRENT_VERSION or read_only:
        return version or 0
    return migrations.migrate(conn, path)


@contextmanager
def open_store(
    store: str | os.PathLike[str],
    *,
    read_only: bool = False,
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection to a store file for the duration of a ``with`` block, then closed.

    Read-write opens create the file when missing (its directory must exist) and migrate it;
    read-only opens require an existing store and run with :data:`READ_CONFIG`. Raises
    StoreLockedError when another process holds the file for longer than ``timeout_s``.
    """
    path = str(store)
    deadline = time.monotonic() + timeout_s
    check_store_file(path, must_exist=read_only)
    key = os.path.abspath(path)
    lock = _path_lock(key)
    if not lock.acquire(timeout=max(timeout_s, 0.0)):
        raise StoreLockedError(f"{path} stayed busy in this process for more than {timeout_s}s")
    held = _held_here()
    held.append(key)
    try:
        if read_only:
            yield from _leased_read(path, deadline)
            return
        _drop_lease(os.path.abspath(path))  # this process's lingering reader would block us
        with _turnstile(path, exclusive=True, deadline=deadline):
            conn = _open_connection(path, False, deadline)
            try:
                yield conn
            finally:
                conn.close()
    finally:
        held.remove(key)
        lock.release()


_thread_state = threading.local()


def _held_here() -> list[str]:
    """The stores this thread has open right now (innermost last)."""
    held: list[str] | None = getattr(_thread_state, "held", None)
    if held is None:
        held = _thread_state.held = []
    return held


def _open_connection(path: str, read_only: bool, deadline: float) -> duckdb.DuckDBPyConnection:
    """An open connection whose schema has been checked (and migrated, when writing)."""
    conn = _connect(path, read_only, deadline)
    try:
        if read_only and _read_only_version(conn, path) < migrations.CURRENT_VERSION:
            conn.close()  # an older store: migrate it with a short write open, then read
            with _closing(_connect(path, False, deadline)) as writer:
                _check_schema(writer, path, read_only=False)
            conn = _connect(path, True, deadline)
        elif not read_only:
            _check_schema(conn, path, read_only=False)
        return conn
    except BaseException:
        conn.close()
        raise


# --- a read connection lingers briefly, for the next read ------------------------------------------
# Opening a store costs ~15 ms, more than most queries on it. A read-only connection therefore
# stays open for _LINGER_S after a read (a viewer page or a notebook asks several questions in a
# row), and never longer than _LEASE_S in all, after which it is closed and the reader waits a gap
# like a writer does, so writers of other processes get their turn.


@dataclass
class _Lease:
    conn: duckdb.DuckDBPyConnection
    fd: int | None  # the shared turnstile lock held while the connection is open
    opened: float
    last_used: float = 0.0


_LINGER_S = 0.1
_LEASE_S = 0.5
_GAP_S = (0.02, 0.05)
_leases: dict[str, _Lease] = {}


def _leased_read(path: str, deadline: float) -> Iterator[duckdb.DuckDBPyConnection]:
    """Called with the path lock held: the lingering connection, or a new one."""
    key = os.path.abspath(path)
    lease = _leases.get(key)
    if lease is not None and time.monotonic() - lease.opened > _LEASE_S:
        _drop_lease(key)
        lease = None
        time.sleep(random.uniform(*_GAP_S))  # a turn for the others
    if lease is None:
        fd = _take_turn(path, exclusive=False, deadline=deadline)
        try:
            lease = _Lease(_open_connection(path, True, deadline), fd, time.monotonic())
        except BaseException:
            _end_turn(fd)
            raise
        _leases[key] = lease
    try:
        yield lease.conn
    except BaseException:
        _drop_lease(key)  # the connection may be interrupted or broken: start afresh next time
        raise
    lease.last_used = time.monotonic()
    # Not a daemon: at exit the interpreter waits the 0.1 s for it, so the connection is closed
    # before finalization starts (DuckDB objects torn down during finalization abort the process).
    timer = threading.Timer(_LINGER_S, _expire, (key, lease))
    timer.start()


def _expire(key: str, lease: _Lease) -> None:
    lock = _path_lock(key)
    if not lock.acquire(blocking=False):
        return  # in use right now; its release schedules another expiry
    try:
        if _leases.get(key) is lease and time.monotonic() - lease.last_used >= _LINGER_S * 0.9:
            _drop_lease(key)
    finally:
        lock.release()


def _drop_all_leases() -> None:
    """At exit, close lingering read connections before the interpreter tears down."""
    for key in list(_leases):
        lock = _path_lock(key)
        if lock.acquire(timeout=1.0):
            try:
                _drop_lease(key)
            finally:
                lock.release()


atexit.register(_drop_all_leases)


def _drop_lease(key: str) -> None:
    lease = _leases.pop(key, None)
    if lease is not None:
        with contextlib.suppress(duckdb.Error):
            lease.conn.close()
        _end_turn(lease.fd)


@contextmanager
def _turnstile(path: str, *, exclusive: bool, deadline: float) -> Iterator[None]:
    fd = _take_turn(path, exclusive=exclusive, deadline=deadline)
    try:
        yield
    finally:
        _end_turn(fd)


def _take_turn(path: str, *, exclusive: bool, deadline: float) -> int | None:
    """Take turns with tracepond's other processes through an advisory lock on ``PATH.lock``
    (exclusive to write, shared to read), polled every 2 ms. DuckDB's own lock cannot be waited
    on, and polling DuckDB opens is slower and unfair; this keeps a busy writer from starving
    the others. Without fcntl (Windows) or a writable directory, DuckDB's lock alone decides."""
    if fcntl is None:
        return None
    try:
        fd = os.open(f"{path}.lock", os.O_RDWR | os.O_CREAT, 0o644)
    except OSError:
        return None
    mode = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
    while True:
        try:
            fcntl.flock(fd, mode | fcntl.LOCK_NB)
            return fd
        except BlockingIOError:
            if time.monotonic() >= deadline:
                os.close(fd)
                raise StoreLockedError(
                    f"{path} stayed busy: another tracepond process kept it past the deadline"
                ) from None
            time.sleep(_TURN_POLL_S)


def _end_turn(fd: int | None) -> None:
    if fd is not None:
        os.close(fd)  # closing the descriptor releases the lock


@contextmanager
def _closing(conn: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    try:
        yield conn
    finally:
        conn.close()


def _read_only_version(conn: duckdb.DuckDBPyConnection, path: str) -> int:
    version = _check_schema(conn, path, read_only=True)
    if version == 0:
        raise StoreError(f"{path} is an empty DuckDB file, not yet a tracepond store")
    return version


def check_store(store: str | os.PathLike[str], *, timeout_s: float = 0.2) -> None:
    """Raise now if ``store`` could never be written: a missing directory, a file that is not a
    tracepond store, a newer schema. A store that is busy in another process is not an error."""
    path = str(store)
    check_store_file(path, must_exist=False)
    if not os.path.exists(path):
        return
    lock = _path_lock(os.path.abspath(path))
    if not lock.acquire(timeout=timeout_s):
        return
    try:
        conn = _connect(path, True, time.monotonic() + timeout_s)
    except StoreLockedError:
        lock.release()
        return
    try:
        _check_schema(conn, path, read_only=True)
    finally:
        conn.close()
        lock.release()


# --- read your own writes ---------------------------------------------------------------------------
# Span writers of this process (the DuckDB span processor) register here, so a query right after
# traced code sees its spans: reads first flush what this process still holds for that store.

_writers: dict[str, weakref.WeakSet[Any]] = {}


def register_writer(store: str, writer: Any) -> None:
    """Register an object with ``force_flush(timeout_millis)`` holding spans for ``store``."""
    _writers.setdefault(os.path.abspath(store), weakref.WeakSet()).add(writer)


def flush_pending_writes(store: str, timeout_s: float = 5.0) -> None:
    """Let this process's writers commit what they hold for ``store`` (bounded wait). Skipped
    when this thread already has the store open: the writer would wait for it."""
    key = os.path.abspath(store)
    if key in _held_here():
        return
    landed = [writer.force_flush(int(timeout_s * 1000)) for writer in list(_writers.get(key, ()))]
    if not all(landed):  # a stale answer is said out loud, never given silently
        warnings.warn(
            f"tracepond: this read of {store} may miss spans this process recorded: they could "
            f"not be written within {timeout_s:g} s (another process holds the store). They stay "
            "queued and are written when it is free.",
            StaleReadWarning,
            stacklevel=4,
        )


@contextmanager
def read_connection(
    store: str | os.PathLike[str] | None = None, *, timeout_s: float = DEFAULT_TIMEOUT_S
) -> Iterator[duckdb.DuckDBPyConnection]:
    """The one way tracepond reads a store: a read-only connection with tables ``traces``,
    ``spans``, ``span_events`` (and runs/models), whatever the store is.

    A file path opens the DuckDB store read-only, after this process's span writers have
    committed what they hold for it (so traced code's spans are visible at once); an ``s3://``
    URI or a directory of Parquet files goes to ``tracepond.store.lake.open_lake`` (same tables,
    as views).
    """
    path = resolve_store(store)
    if is_lake(path):
        yield from _lake_connection(path)
        return
    flush_pending_writes(path)
    if not os.path.exists(path) and os.path.isdir(os.path.dirname(os.path.abspath(path))):
        path = _empty_store()  # not written yet: an empty answer, and nothing created there
    try:
        with open_store(path, read_only=True, timeout_s=timeout_s) as conn:
            yield conn
    except (duckdb.IOException, duckdb.SerializationException) as error:
        if "Could not set lock" in str(error):
            raise
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise StoreError(
            f"cannot read the store {path}: the file is damaged or truncated ({first})"
        ) from None


_empty_store_lock = threading.Lock()
_empty_store_path: str | None = None


def _empty_store() -> str:
    """A store with every table and no row, made once per process in a private temporary
    directory, read in place of a store that does not exist yet (a reader that starts before
    the first write, `tracepond ui` on a new path) so that it answers as an empty store does."""
    global _empty_store_path
    with _empty_store_lock:
        if _empty_store_path is None or not os.path.exists(_empty_store_path):
            directory = tempfile.mkdtemp(prefix="tracepond-empty-")
            atexit.register(shutil.rmtree, directory, ignore_errors=True)
            path = os.path.join(directory, "empty.duckdb")
            with open_store(path):
                pass
            _empty_store_path = path
        return _empty_store_path


def _lake_connection(uri: str) -> Iterator[duckdb.DuckDBPyConnection]:
    try:
        from tracepond.store import lake  # type: ignore[attr-defined]
    except ImportError as error:
        raise StoreError(f"{uri} is not a store file, and lake stores are not available") from error
    conn: duckdb.DuckDBPyConnection = lake.open_lake(uri)
    try:
        yield conn
    finally:
        conn.close()
