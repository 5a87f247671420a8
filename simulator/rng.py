"""Random streams keyed by (replication block, decision).

Replications are simulated in fixed **blocks** of :data:`BLOCK_SIZE`; replication r lives in
block ``r // BLOCK_SIZE`` at row ``r % BLOCK_SIZE``. Every random *decision* of the model
(transitions out of one grade for one sex, the women among one grade's lateral hires, the
women among the intake, ...) has its own stream per block::

    SeedSequence(seed, spawn_key=(block, stable_id(decision)))

so that

* the same scenario and seed give identical numbers, however replications are split over
  chunks, processes or machines (a chunk that starts inside a block simulates the whole block
  and keeps its rows: a block is the unit of work, never a partial one);
* two scenarios that differ in one lever share every other decision's draws (common random
  numbers): a decision's stream does not depend on which other decisions exist or how many
  variates they used.

``stable_id`` is a truncated sha256 of the decision's name (never Python's salted ``hash``).
"""

from __future__ import annotations

import hashlib

import numpy as np

#: Replications per block: the unit of random streams and of work.
BLOCK_SIZE = 100
#: Seeds are integers 0 … SEED_LIMIT - 1 (``SeedSequence`` entropy: 128 bits).
SEED_LIMIT = 2**128
#: How an error message states the seed's range.
SEED_RANGE = "an integer from 0 to 2**128 - 1"


def stable_id(name: str) -> int:
    """Return a stable 64-bit integer for a decision name."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "little")


def decision_generator(seed: int, block: int, decision: str) -> np.random.Generator:
    """Return the Generator of one decision in one replication block."""
    ss = np.random.SeedSequence(seed, spawn_key=(block, stable_id(decision)))
    return np.random.Generator(np.random.PCG64(ss))


def blocks_for(first: int, stop: int) -> range:
    """Return the blocks covering replications ``first … stop-1``."""
    if stop <= first:
        return range(0)
    return range(first // BLOCK_SIZE, (stop - 1) // BLOCK_SIZE + 1)
