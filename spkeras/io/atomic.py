"""Atomic writes: outputs go to a temporary file in the destination folder and are renamed into place.

An interrupted write never leaves a half-written file, and the final file gets the mode any new file of the user
gets (``0o666`` minus the umask).
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import tempfile


def current_umask() -> int:
    """The process's file-mode creation mask (umask), read without changing it where the OS allows.

    Examples:
        >>> 0 <= current_umask() <= 0o777
        True
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:  # Linux: read it, no global change
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # elsewhere: the only portable way to read it is to set it and put it back
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_output(path, mode: int | None = None, overwrite: bool = True):
    """Yields a temporary path next to ``path``; on success it is renamed to ``path``, on failure deleted.

    The temporary file keeps ``path``'s suffix (writers such as ``savefig`` choose the format by it), and the
    final file gets ``mode`` (default: ``0o666`` minus the user's umask, like any newly created file). An
    existing ``path`` is replaced only when the new file is complete, so a failure leaves it intact.

    Args:
        path: The destination file; its folder must exist.
        mode: Permission bits of the final file.
        overwrite: Whether an existing ``path`` may be replaced (the default, like Keras's ``model.save``);
            ``False`` refuses it before anything is written.

    Yields:
        A ``pathlib.Path`` to write to.

    Raises:
        ValueError: If the destination folder does not exist, or ``path`` exists and ``overwrite=False``.

    Examples:
        >>> import pathlib, tempfile
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> with atomic_output(folder / "report.json") as temporary:
        ...     _ = temporary.write_text('{"ok": true}')
        >>> (folder / "report.json").read_text()
        '{"ok": true}'
        >>> sorted(p.name for p in folder.iterdir())  # no temporary file left behind
        ['report.json']
    """
    path = pathlib.Path(path)
    if not path.parent.is_dir():
        raise ValueError(f"The folder of the output file does not exist. Received: path='{path}'.")
    refuse_existing(path, overwrite)
    handle, temporary = tempfile.mkstemp(suffix=path.suffix, prefix=f".{path.stem}.", dir=path.parent)
    os.close(handle)
    temporary = pathlib.Path(temporary)
    try:
        yield temporary
        os.chmod(temporary, (0o666 & ~current_umask()) if mode is None else mode)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(temporary)
        raise


def refuse_existing(path, overwrite: bool) -> None:
    """Raises a ``ValueError`` if ``path`` exists and ``overwrite`` is false.

    Examples:
        >>> import pathlib, tempfile
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "snn.keras"
        >>> _ = path.write_bytes(b"")
        >>> try:
        ...     refuse_existing(path, overwrite=False)
        ... except ValueError as error:
        ...     print(str(error).split(". ")[0])
        The output file already exists
    """
    if not isinstance(overwrite, bool):
        raise TypeError(f"`overwrite` must be True or False. Received: overwrite={overwrite!r}.")
    path = pathlib.Path(path)
    if not overwrite and (path.exists() or path.is_symlink()):
        raise ValueError(
            f"The output file already exists. Received: path='{path}', overwrite=False. Pass overwrite=True to "
            "replace it (it is replaced only once the new file is complete), or choose another path."
        )


def write_text(path, text: str, overwrite: bool = True) -> pathlib.Path:
    """Writes ``text`` (UTF-8) to ``path`` atomically: readers see the old file or the complete new one.

    ``overwrite=False`` refuses an existing ``path`` (see :func:`refuse_existing`).

    Examples:
        >>> import pathlib, tempfile
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "result.json"
        >>> write_text(path, "{}").read_text()
        '{}'
    """
    path = pathlib.Path(path)
    with atomic_output(path, overwrite=overwrite) as temporary:
        temporary.write_text(text, encoding="utf-8")
    return path
