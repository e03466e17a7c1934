"""Random streams: replicate r of scenario s always sees the same numbers.

Each replicate's stream is ``SeedSequence(seed, spawn_key=(key(s), 1, r))`` and a fixed design's
stream is ``SeedSequence(seed, spawn_key=(key(s), 0))``; a replicate's minibatch order in
gradient training is ``spawn_key=(key(s), 3, r)``, where ``key`` is a stable hash of the
scenario id (SHA-256, not Python's salted ``hash``). Nothing depends on job order, core count,
how replicates are split into jobs, or which other scenarios exist.

Replicate r's fresh test sample has its own stream ``(key(s), 2, r)`` and a trained fit's
minibatch order ``(key(s), 3, r)``: new uses get new branches of the tree, so the training data
of every replicate keep their bits.
"""

from __future__ import annotations

import hashlib
from functools import cache

import numpy as np

_DESIGN = 0
_REPLICATE = 1
_TEST = 2
_TRAINING = 3


@cache
def scenario_key(scenario_id: str) -> int:
    """A stable 64-bit integer derived from the scenario id (cached: asked for per replicate)."""
    return int.from_bytes(hashlib.sha256(scenario_id.encode("utf-8")).digest()[:8], "little")


def replicate_rng(seed: int, scenario_id: str, replicate: int) -> np.random.Generator:
    """The generator of one replicate's data (errors, random design, prior coefficients)."""
    ss = np.random.SeedSequence(seed, spawn_key=(scenario_key(scenario_id), _REPLICATE, replicate))
    return np.random.Generator(np.random.PCG64(ss))


def design_rng(seed: int, scenario_id: str) -> np.random.Generator:
    """The generator of a scenario's fixed design, shared by all of its replicates."""
    ss = np.random.SeedSequence(seed, spawn_key=(scenario_key(scenario_id), _DESIGN))
    return np.random.Generator(np.random.PCG64(ss))


def test_rng(seed: int, scenario_id: str, replicate: int) -> np.random.Generator:
    """The generator of one replicate's fresh test sample (``lossstudy.prediction``): independent
    of its training data and of every other replicate's test sample."""
    ss = np.random.SeedSequence(seed, spawn_key=(scenario_key(scenario_id), _TEST, replicate))
    return np.random.Generator(np.random.PCG64(ss))


test_rng.__test__ = False  # type: ignore[attr-defined]  # not a test, should pytest import it


def training_rng(seed: int, scenario_id: str, replicate: int) -> np.random.Generator:
    """The generator of one replicate's minibatch order in gradient training (one per trajectory
    group, so that members differing only in steps see the same minibatches)."""
    ss = np.random.SeedSequence(seed, spawn_key=(scenario_key(scenario_id), _TRAINING, replicate))
    return np.random.Generator(np.random.PCG64(ss))
