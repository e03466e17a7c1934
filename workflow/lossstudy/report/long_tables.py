"""Long tables as their top rows plus a link to the CSV that holds them all.

A printed report of the default study ran to 133 pages, most of it tables a reader scans
for a few rows; the files the workflow writes hold every row already. So a long table shows
its first ``TOP_ROWS`` rows (in the order the caller chose: largest |z| first, say) and says
where the rest is, with a link relative to ``report/report.html``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["TOP_ROWS", "top_rows"]

#: Rows a long table shows in the report; the rest are in its CSV.
TOP_ROWS = 12


def top_rows(
    rows: Sequence[Any], csv: str, what: str, where: str = "", n: int = TOP_ROWS
) -> dict[str, Any]:
    """The first ``n`` of ``rows``, how many there are, and the CSV (a path from the repository
    root, e.g. ``results/theory_flagged.csv``) with ``where`` (a filter in words) that has all."""
    return {
        "rows": list(rows[:n]),
        "total": len(rows),
        "cut": len(rows) > n,
        "csv": csv,
        "href": f"../{csv}",
        "what": what,
        "where": where,
    }
