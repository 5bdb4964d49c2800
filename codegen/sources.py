"""Reading sources and writing modules: UTF-8 in (a byte-order mark allowed), and out
all or nothing."""

from __future__ import annotations

import os
import re
import stat
import tempfile
from pathlib import Path

from .errors import OptionError

#: paths that name an open stream, whatever it is (a pipe, or a file a redirection
#: opened, which must be appended to, not replaced)
STREAM_PATH = re.compile(r"/dev/(stdout|stderr|fd/\d+)|/proc/(self|\d+)/fd/\d+")


def read_source(path: Path, where: str, regular: bool = False) -> str:
    """A UTF-8 text file, or an error naming ``where``.  With ``regular``, only a
    regular file (a FIFO would block; -f reads process substitutions, the manifest
    does not)."""
    try:
        if regular and path.exists() and not path.is_file():
            raise OptionError("cannot read: not a regular file", where)
        data = path.read_bytes()
    except OSError as exc:
        raise OptionError(f"cannot read: {exc.strerror or exc}", where) from None
    return decode_source(data, where)


def decode_source(data: bytes, where: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise OptionError(
            f"not UTF-8 text (byte {exc.start}: {exc.reason})", where
        ) from None


def _is_stream(path: Path) -> bool:
    """A FIFO, a device or a socket (symlinks followed), or /dev/stdout and the like."""
    if STREAM_PATH.fullmatch(str(path)):
        return True
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))


def write_atomic(path: Path, text: str) -> None:
    """Write all of ``text`` or nothing: a temporary file renamed over the target.

    A symlink is followed (the file it points to is replaced, the link stays).  A
    stream (``/dev/stdout``, a named pipe, a device) is opened as it is named and
    appended to, never replaced by a file: what a shell redirection already holds
    stays."""
    if _is_stream(path):
        with open(path, "a", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
        return
    path = Path(os.path.realpath(path))
    if path.is_dir():
        raise IsADirectoryError(21, "is a directory", str(path))
    try:
        mode = path.stat().st_mode & 0o777  # keep an existing file's mode
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
