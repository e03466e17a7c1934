"""Atomic file writing: a killed job never leaves a truncated file under the final name."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary sibling path; rename it onto ``path`` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.part")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_text(path: str | Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def gather_files(sources: list[str | Path], out: str | Path) -> list[Path]:
    """Copy the files of each source directory into ``out`` (a name in two sources fails).

    Why: the workflow draws the figures in two jobs that run side by side, each into its own
    directory; this puts them where the report and a reader look (``results/figures``)
    without importing any plotting library. Each copy is atomic.
    """
    import shutil

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for src in sources:
        for path in sorted(Path(src).iterdir()):
            if not path.is_file() or path.name.startswith("."):
                continue
            target = out / path.name
            if target in written:
                raise ValueError(f"{path.name} is in more than one of {sources}")
            with atomic_path(target) as tmp:
                shutil.copyfile(path, tmp)
            written.append(target)
    return written
