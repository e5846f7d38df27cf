"""Files PartScope writes: each appears whole or not at all, with the mode any
other file the user writes gets (0666 less the umask, as ``open`` gives)."""

from __future__ import annotations

import contextlib
import os
import secrets


@contextlib.contextmanager
def atomic_write(path):
    """A binary file object whose content appears at ``path`` only once it is
    complete: written beside it under a temporary name, then renamed over
    ``path``; removed if the block fails.

    The temporary file is created by ``os.open`` with mode 0666, so the
    kernel applies the umask exactly as it does for ``open(path, "wb")``
    (``tempfile.mkstemp`` would make it 0600, unreadable to anyone else).
    """
    folder = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(folder, f".partscope-{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
