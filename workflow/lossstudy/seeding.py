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
from collections.abc import Callable, Iterable, Iterator
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


def _rng(seed: int, scenario_id: str, *branch: int) -> np.random.Generator:
    """The generator of ``SeedSequence(seed, spawn_key=(key(scenario), *branch))``: the one
    definition of a stream, every ``*_rng`` below a branch of it."""
    ss = np.random.SeedSequence(seed, spawn_key=(scenario_key(scenario_id), *branch))
    return np.random.Generator(np.random.PCG64(ss))


def replicate_rng(seed: int, scenario_id: str, replicate: int) -> np.random.Generator:
    """The generator of one replicate's data (errors, random design, prior coefficients)."""
    return _rng(seed, scenario_id, _REPLICATE, replicate)


def design_rng(seed: int, scenario_id: str) -> np.random.Generator:
    """The generator of a scenario's fixed design, shared by all of its replicates."""
    return _rng(seed, scenario_id, _DESIGN)


def test_rng(seed: int, scenario_id: str, replicate: int) -> np.random.Generator:
    """The generator of one replicate's fresh test sample (``lossstudy.prediction``): independent
    of its training data and of every other replicate's test sample."""
    return _rng(seed, scenario_id, _TEST, replicate)


test_rng.__test__ = False  # type: ignore[attr-defined]  # not a test, should pytest import it


def training_rng(seed: int, scenario_id: str, replicate: int) -> np.random.Generator:
    """The generator of one replicate's minibatch order in gradient training (one per trajectory
    group, so that members differing only in steps see the same minibatches)."""
    return _rng(seed, scenario_id, _TRAINING, replicate)


# --- the same streams, seeded in bulk ---------------------------------------------------------
# numpy's SeedSequence hashes a replicate's entropy in about 6 µs and PCG64 seeds itself from it
# in 3 µs more; a cell draws two streams per replicate (training data, test sample), 816 000 in
# the exact-fit study: ≈ 8 s of job time, as much as the draws. The hash and the seeding are
# fixed integer arithmetic, so they are redone here for all of a job's replicates at once
# (numpy's own constants and steps, numpy/random/bit_generator.pyx and pcg64.h), and a reused
# generator is set to each state: ≈ 1.5 µs a stream, the same bits (tests/test_seeding.py
# compares every state and draw with SeedSequence's).

_POOL = 4  # SeedSequence's pool size, in 32-bit words
_INIT_A, _MULT_A, _INIT_B, _MULT_B = 0x43B0D7E5, 0x931E8875, 0x8B51F9DD, 0x58F38DED
_MIX_L, _MIX_R, _XSHIFT = 0xCA01F9DD, 0x4973F715, np.uint32(16)
_M32, _M128 = (1 << 32) - 1, (1 << 128) - 1
_PCG_MULT = (2549297995355413924 << 64) + 4865540595714422341  # PCG's 128-bit multiplier


def _words(x: int) -> list[int]:
    """A non-negative int as SeedSequence reads it: 32-bit words, least significant first."""
    out = [x & _M32]
    while x := x >> 32:
        out.append(x & _M32)
    return out


def _hasher(const: int, mult: int) -> Callable[[np.ndarray], np.ndarray]:
    """SeedSequence's hash step (``hashmix``; ``generate_state`` runs the same step with its own
    constants): xor with the running constant, advance it, multiply, fold the high half in.
    The constant's sequence does not depend on the data, so each step is one vector operation
    on R replicates' words (uint32 arithmetic wraps, as in C)."""

    def step(v: np.ndarray) -> np.ndarray:
        nonlocal const
        v = v ^ np.uint32(const)
        const = (const * mult) & _M32
        v = v * np.uint32(const)
        return v ^ (v >> _XSHIFT)

    return step


def _pool(entropy: np.ndarray) -> list[np.ndarray]:
    """SeedSequence's ``mix_entropy`` on every row of ``entropy`` (R × words, uint32) at once:
    its four pool words, each an R-vector."""
    hashmix = _hasher(_INIT_A, _MULT_A)

    def mix(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        r = np.uint32(_MIX_L) * x - np.uint32(_MIX_R) * y
        return r ^ (r >> _XSHIFT)

    width = entropy.shape[1]
    zero = np.zeros(entropy.shape[0], dtype=np.uint32)
    mixer = [hashmix(entropy[:, i] if i < width else zero) for i in range(_POOL)]
    for src in range(_POOL):
        for dst in range(_POOL):
            if src != dst:
                mixer[dst] = mix(mixer[dst], hashmix(mixer[src]))
    for src in range(_POOL, width):
        for dst in range(_POOL):
            mixer[dst] = mix(mixer[dst], hashmix(entropy[:, src]))
    return mixer


def _seed_words(seed: int, scenario_id: str, branch: int, replicates: np.ndarray) -> np.ndarray:
    """``SeedSequence(seed, spawn_key=(key, branch, r)).generate_state(4, uint64)`` for every r:
    R × 4 uint64. Every r must be below 2**32 (one entropy word, as for all r here)."""
    run = _words(seed)
    run += [0] * (_POOL - len(run))  # numpy pads the seed to the pool when spawn_key is set
    fixed = run + _words(scenario_key(scenario_id)) + _words(branch)
    entropy = np.empty((replicates.size, len(fixed) + 1), dtype=np.uint32)
    entropy[:, :-1] = fixed
    entropy[:, -1] = replicates
    mixer = _pool(entropy)
    generate = _hasher(_INIT_B, _MULT_B)  # generate_state: 8 words from the pool, cycled
    words = [generate(mixer[i % _POOL]).astype(np.uint64) for i in range(2 * 4)]
    return np.stack([words[2 * j] | (words[2 * j + 1] << np.uint64(32)) for j in range(4)], 1)


def _streams(
    seed: int, scenario_id: str, branch: int, replicates: Iterable[int]
) -> Iterator[np.random.Generator]:
    """One generator per replicate, in order, each in the state ``Generator(PCG64(SeedSequence(
    seed, spawn_key=(key, branch, r))))`` starts in. It is one generator, re-set for each
    replicate: use it before taking the next."""
    reps = np.asarray(replicates if isinstance(replicates, np.ndarray) else list(replicates))
    reps = reps.astype(np.int64, copy=False).ravel()
    if seed < 0 or (reps.size and not (reps.min() >= 0 and reps.max() <= _M32)):
        # outside one entropy word SeedSequence's layout changes (and it refuses a negative
        # seed): numpy's own path
        for r in reps.tolist():
            yield _rng(seed, scenario_id, branch, r)
        return
    bits = np.random.PCG64(0)
    gen = np.random.Generator(bits)
    state = {"bit_generator": "PCG64", "state": {}, "has_uint32": 0, "uinteger": 0}
    inner = state["state"]
    for a, b, c, d in _seed_words(seed, scenario_id, branch, reps).tolist():
        # pcg64_set_seed: seed = a·2⁶⁴ + b, increment from c·2⁶⁴ + d; two LCG steps from zero
        inc = ((((c << 64) | d) << 1) | 1) & _M128
        inner["state"] = ((inc + ((a << 64) | b)) * _PCG_MULT + inc) & _M128
        inner["inc"] = inc
        bits.state = state
        yield gen


def replicate_streams(
    seed: int, scenario_id: str, replicates: Iterable[int]
) -> Iterator[np.random.Generator]:
    """``replicate_rng`` of each replicate in turn, seeded in bulk (one generator, re-set)."""
    return _streams(seed, scenario_id, _REPLICATE, replicates)


def test_streams(
    seed: int, scenario_id: str, replicates: Iterable[int]
) -> Iterator[np.random.Generator]:
    """``test_rng`` of each replicate in turn, seeded in bulk (one generator, re-set)."""
    return _streams(seed, scenario_id, _TEST, replicates)


test_streams.__test__ = False  # type: ignore[attr-defined]
