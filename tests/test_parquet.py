"""The estimates files: dictionary codes only where values repeat, the same table read back."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from lossstudy.io import write_parquet
from lossstudy.pipeline import FEW_VALUES


def _frame(rows: int = 3000) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    return pd.DataFrame(
        {
            "scenario": ["s"] * rows,
            "replicate": np.repeat(np.arange(rows // 3), 3),
            "estimator": np.tile(["ols", "lad", "huber"], rows // 3),
            "true_value": np.full(rows, 2.0),
            "estimate": rng.normal(size=rows),
            "message": [""] * rows,
        }
    )


def test_text_and_few_value_columns_are_coded_and_the_rest_plain(tmp_path: Path):
    df = _frame()
    write_parquet(df, tmp_path / "e.parquet", FEW_VALUES)
    meta = pq.ParquetFile(tmp_path / "e.parquet").metadata.row_group(0)
    coded = {
        meta.column(i).path_in_schema
        for i in range(meta.num_columns)
        if meta.column(i).dictionary_page_offset is not None
    }
    assert coded == {"scenario", "replicate", "estimator", "true_value", "message"}
    back = pd.read_parquet(tmp_path / "e.parquet")
    pd.testing.assert_frame_equal(back, df)
