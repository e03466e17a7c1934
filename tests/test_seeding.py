"""The bulk-seeded streams are SeedSequence's streams, state for state and draw for draw."""

from __future__ import annotations

import numpy as np
import pytest

from lossstudy import seeding
from lossstudy.seeding import replicate_rng, replicate_streams, test_rng, test_streams

SEEDS = [0, 1, 20251, 2**32 - 1, 2**32, 2**64 + 7, 2**127 + 12345, 2**140 + 3]
SCENARIOS = ["gauss_markov-n100", "heavy_tails-df3-n25", "x", "ünïcode-n400"]
REPLICATES = np.array([0, 1, 2, 3, 999, 1999, 2**31 - 1, 2**31, 2**32 - 1], dtype=np.int64)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("branch", [0, 1, 2, 3, 17])
def test_seed_words_equal_seedsequence(seed: int, branch: int) -> None:
    for sid in SCENARIOS:
        got = seeding._seed_words(seed, sid, branch, REPLICATES)
        key = seeding.scenario_key(sid)
        want = np.stack(
            [
                np.random.SeedSequence(seed, spawn_key=(key, branch, r)).generate_state(
                    4, np.uint64
                )
                for r in REPLICATES.tolist()
            ]
        )
        assert got.dtype == np.uint64
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("seed", SEEDS[:4])
def test_streams_equal_one_generator_per_replicate(seed: int) -> None:
    sid = SCENARIOS[1]
    for bulk, one in ((replicate_streams, replicate_rng), (test_streams, test_rng)):
        for r, gen in zip(REPLICATES.tolist(), bulk(seed, sid, REPLICATES), strict=True):
            ref = one(seed, sid, r)
            assert gen.bit_generator.state == ref.bit_generator.state
            # draws of several kinds, 32-bit ones included (PCG64 buffers half a word)
            for draw in (
                lambda g: g.standard_normal(7),
                lambda g: g.random(5),
                lambda g: g.integers(0, 10, size=3, dtype=np.int32),
                lambda g: g.standard_t(3.0, size=4),
                lambda g: g.standard_cauchy(2),
            ):
                np.testing.assert_array_equal(draw(gen), draw(ref))


def test_streams_take_lists_and_ranges_and_empty() -> None:
    a = [g.standard_normal(3) for g in replicate_streams(5, "s", [4, 2, 9])]
    b = [replicate_rng(5, "s", r).standard_normal(3) for r in (4, 2, 9)]
    np.testing.assert_array_equal(a, b)
    c = [g.random(2) for g in test_streams(5, "s", range(3))]
    np.testing.assert_array_equal(c, [test_rng(5, "s", r).random(2) for r in range(3)])
    assert list(replicate_streams(5, "s", np.array([], dtype=np.int64))) == []


def test_streams_outside_one_word_take_numpys_path() -> None:
    reps = [2**32, 2**40 + 1]
    got = [g.standard_normal(4) for g in replicate_streams(3, "s", reps)]
    np.testing.assert_array_equal(got, [replicate_rng(3, "s", r).standard_normal(4) for r in reps])
    with pytest.raises(ValueError):
        list(replicate_streams(-1, "s", [0]))
    with pytest.raises(ValueError):
        replicate_rng(-1, "s", 0)
