"""Atomic file writing: a killed job never leaves a truncated file under the final name."""

from __future__ import annotations

import os
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


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


def write_parquet(table: Any, path: str | Path, few_values: Collection[str] = ()) -> None:
    """Write a pyarrow Table (or a DataFrame, converted without its index) to ``path`` atomically.

    Only the text columns and ``few_values`` (numeric columns with few distinct values) are
    dictionary-encoded. Parquet's default tries a dictionary on every column, and for columns
    whose values are nearly all distinct (estimates, SEs, test errors) building it, to throw it
    away, was half of the writer's time: 89 → 66 ms for a 150,000-row cell, and a file 17%
    smaller (the replicate index and true value shrink to codes).
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    if not isinstance(table, pa.Table):
        table = pa.Table.from_pandas(table, preserve_index=False)
    text = (pa.types.is_string, pa.types.is_large_string)
    coded = [
        f.name
        for f in table.schema
        if f.name in few_values or any(is_text(f.type) for is_text in text)
    ]
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, use_dictionary=coded)


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
