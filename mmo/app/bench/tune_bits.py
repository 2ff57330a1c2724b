"""Sets of tasks as bits of one integer, so ``mmo tune`` can score thousands of strategies over
thousands of tasks in pure Python: task ``i`` of a split is bit ``i``; "the tasks where flash's
answer passed its gate and llama agreed" is ``passed & agreed``, and how many of them were right
is ``(passed & agreed & right).bit_count()``.

``CostColumn`` adds up one model's recorded costs over any such set: the costs of each run of
eight tasks are summed in advance for all 256 subsets of the eight, so a sum over the whole split
is one table look-up per eight tasks.
"""

from __future__ import annotations

import math
from operator import getitem
from typing import Iterable, Sequence


def mask_of(flags: Iterable[bool]) -> int:
    """The set of positions whose flag is true."""
    bits = "".join("1" if flag else "0" for flag in flags)
    return int(bits[::-1], 2) if bits else 0


def positions(mask: int) -> list[int]:
    """The positions in ``mask``, in increasing order."""
    out = []
    while mask:
        low = mask & -mask
        out.append(low.bit_length() - 1)
        mask ^= low
    return out


class CostColumn:
    """One model's cost per task of a split, summed over any set of its tasks."""

    __slots__ = ("costs", "total", "_bytes", "_tables")

    def __init__(self, costs: Sequence[float]) -> None:
        self.costs = tuple(costs)
        self.total = math.fsum(self.costs)
        self._bytes = (len(self.costs) + 7) // 8
        self._tables = [_subset_sums(self.costs[start : start + 8]) for start in range(0, len(self.costs), 8)]

    def sum(self, mask: int) -> float:
        if not mask:
            return 0.0
        return sum(map(getitem, self._tables, mask.to_bytes(self._bytes, "little")))


def _subset_sums(costs: Sequence[float]) -> list[float]:
    table = [0.0] * 256
    for subset in range(1, 1 << len(costs)):
        low = subset & -subset
        table[subset] = table[subset ^ low] + costs[low.bit_length() - 1]
    return table
