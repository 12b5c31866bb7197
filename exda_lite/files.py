"""Writing files safely: one atomic writer for every file exda-lite writes, and a full disk as one line.

:func:`atomic_write` writes through a uniquely named temporary file in the target's folder (so two
processes writing the same file never share a temporary name), fsyncs it, then renames it over the
target with ``os.replace``. A crash, a kill or an error leaves either the old file or the new one,
never half of one, and removes the temporary file. When the disk (or the quota) is full it raises
:class:`DiskFullError`, whose message is one line naming the file, the space it needed and whether
the previous version is intact; the command-line entry points print it and exit non-zero.

This module imports nothing else of exda_lite, so every layer (``nn`` excepted) may use it.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO

FULL_DISK_ERRNOS = (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC))


def size_text(size: int | None) -> str:
    """A byte count as a short text (``5.95 MB``); ``unknown size`` for None."""
    from tqdm import tqdm

    return "unknown size" if size is None else tqdm.format_sizeof(size, "B", 1000)


class DiskFullError(OSError):
    """No space left on the device (or the quota is full) while writing ``path``.

    The previous version of ``path`` (if any) is intact and no temporary file is left behind.
    ``needed`` is the size of the new file in bytes when known (else an estimate: the larger of
    what had been written and the previous file's size).
    """

    def __init__(self, path, needed: int | None = None, previous: bool = False, code: int = errno.ENOSPC):
        self.path, self.needed, self.previous = Path(path), needed, previous
        super().__init__(code, os.strerror(code), str(path))

    def what(self) -> str:
        """``no space left on device while writing <path> (<size> needed, <size> free)``."""
        try:
            free = f", {size_text(shutil.disk_usage(self.path.parent).free)} free"
        except OSError:
            free = ""
        return f"no space left on device while writing {self.path} ({size_text(self.needed)} needed{free})"

    def __str__(self) -> str:
        kept = f"the previous {self.path} is intact" if self.previous else f"nothing was written to {self.path}"
        return f"{self.what()}; {kept}"


def full_disk_cause(error: BaseException | None) -> OSError | None:
    """The ENOSPC/EDQUOT ``OSError`` behind ``error`` (itself, or in its cause/context chain), or None.

    torch.save, for one, reports a full disk as a ``RuntimeError`` whose context is the OSError.
    """
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, OSError) and error.errno in FULL_DISK_ERRNOS:
            return error
        error = error.__cause__ or error.__context__
    return None


def full_disk_message(error: BaseException, kept: str | None = None, advice: str = "") -> str | None:
    """One line for a full disk behind ``error`` (None when the disk is not the problem).

    ``kept`` says what is intact (default: the file's previous version); ``advice`` what to do next.
    """
    full = error if isinstance(error, DiskFullError) else full_disk_cause(error)
    if full is None:
        return None
    if isinstance(full, DiskFullError):
        parts = [full.what() if kept else str(full)]
    else:  # a plain write (an append to a log), not through atomic_write
        parts = [f"no space left on device while writing {full.filename or 'a file'}"]
    return "; ".join(parts + [p for p in (kept, advice) if p])


def default_mode() -> int:
    """The permissions a plain ``open(path, "w")`` would give a new file (0o666 minus the umask)."""
    try:  # Linux: read the umask without changing it (os.umask would, briefly, for every thread)
        with open("/proc/self/status") as status:
            umask = next(int(line.split()[1], 8) for line in status if line.startswith("Umask:"))
    except (OSError, StopIteration, ValueError, IndexError):
        umask = os.umask(0o022)
        os.umask(umask)
    return 0o666 & ~umask


def atomic_write(path, write: Callable[[IO[bytes]], object], size: int | None = None, fsync: bool = True) -> Path:
    """Call ``write(file)`` on a new temporary file beside ``path``, fsync it, then rename it over ``path``.

    The temporary file has a unique name (``tempfile``), so concurrent writers of one path never
    collide; the last rename wins and every reader sees a complete file. On any error the temporary
    file is removed and ``path`` is untouched; a full disk raises :class:`DiskFullError`. ``size``
    is the number of bytes about to be written, when the caller knows it (for the error message).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    previous = path.stat().st_size if path.is_file() else None
    mode = (path.stat().st_mode & 0o777) if previous is not None else default_mode()
    handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed below; kept by name for the rename
        dir=path.parent, prefix=f".{path.name}.", suffix=".tmp", delete=False)
    written = 0
    try:
        with handle:
            write(handle)
            handle.flush()
            written = handle.tell()
            if fsync:
                os.fsync(handle.fileno())
        os.chmod(handle.name, mode)  # tempfile creates 0o600; give what a plain open() would
        os.replace(handle.name, path)
    except BaseException as error:
        with_partial = written or _size_or_zero(handle.name)
        _remove(handle.name)
        full = full_disk_cause(error) if isinstance(error, Exception) else None
        if full is not None:
            needed = size if size is not None else max(with_partial, previous or 0) or None
            raise DiskFullError(path, needed, previous is not None, full.errno) from error
        raise
    return path


def _size_or_zero(name: str) -> int:
    try:
        return os.stat(name).st_size
    except OSError:
        return 0


def _remove(name: str) -> None:
    try:
        os.unlink(name)
    except FileNotFoundError:
        pass


def write_bytes(path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically."""
    return atomic_write(path, lambda f: f.write(data), size=len(data))


def write_text(path, text: str, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically."""
    return write_bytes(path, text.encode(encoding))


def write_json(path, data, indent: int | None = 1, **options) -> Path:
    """``json.dumps(data)`` plus a newline, written to ``path`` atomically."""
    return write_text(path, json.dumps(data, indent=indent, **options) + "\n")
