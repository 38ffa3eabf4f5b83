"""Value rows to printed rows: every cheapest monotone map (each value row best inside its
row's window of the stream), or one map per placement the balance equations can tell
apart when blank rows make too many."""
from __future__ import annotations

from .rows import RowSpan, ValueRow


# -- 3. value rows -> printed rows ---------------------------------------------------------------

def windows_cost(vrows: list[ValueRow], spans: list[RowSpan]) -> list[list[int]]:
    """0 when a value row lies in its row's window (label to the next row's label), else 1."""
    out = []
    for v in vrows:
        c = []
        for k, s in enumerate(spans):
            end = spans[k + 1].first if k + 1 < len(spans) else 1 << 30
            c.append(0 if s.first <= v.pos < end else 1)
        out.append(c)
    return out


INF = 1 << 30


def suffix_costs(cost: list[list[int]], K: int, R: int) -> list[list[int]]:
    """f[k][r]: the cheapest cost placing value rows k.. on printed rows r.. (INF: none)."""
    f = [[INF] * (R + 1) for _ in range(K + 1)]
    for r in range(R + 1):
        f[K][r] = 0
    for k in range(K - 1, -1, -1):
        for r in range(R - 1, -1, -1):
            f[k][r] = min(f[k][r + 1], cost[k][r] + f[k + 1][r + 1] if f[k + 1][r + 1] < INF else INF)
    return f


def assignments(cost: list[list[int]], cap: int) -> tuple[int, list[list[int]], bool]:
    """All cheapest monotone injective maps of value rows to printed rows (up to `cap`):
    (cost, maps, complete)."""
    K = len(cost)
    R = len(cost[0]) if cost else 0
    f = suffix_costs(cost, K, R)
    best = f[0][0]
    maps: list[list[int]] = []
    complete = True

    def walk(k: int, r: int, acc: list[int], budget: int) -> None:
        nonlocal complete
        if len(maps) >= cap:
            complete = False
            return
        if k == K:
            maps.append(list(acc))
            return
        for rr in range(r, R - (K - k) + 1):
            c = cost[k][rr]
            if c + f[k + 1][rr + 1] <= budget:
                acc.append(rr)
                walk(k + 1, rr + 1, acc, budget - c)
                acc.pop()
    if best < INF:
        walk(0, 0, [], best)
    return best, maps, complete


def effect_assignments(cost: list[list[int]], zero: list[bool], cap: int) -> list[list[int]] | None:
    """The cheapest monotone maps of value rows to printed rows, one per distinct placement
    of the value rows that are not all zeros (`zero[k]`): zero rows and blank rows balance
    alike, so where the zero rows go among the rest changes no equation. A table whose
    blank rows print nothing, all labels before all values, has C(rows, value rows)
    maps; it has only C(rows, non-zero value rows) placements the equations can tell
    apart. Each placement comes with one map (its zero rows as early as they fit). None
    when there are more than `cap` placements."""
    from functools import lru_cache
    K = len(cost)
    R = len(cost[0]) if cost else 0
    f = suffix_costs(cost, K, R)
    if not K or f[0][0] >= INF:
        return None

    class TooMany(Exception):
        pass

    @lru_cache(maxsize=None)
    def comp(k: int, r: int, budget: int) -> frozenset:
        if k == K:
            return frozenset({()})
        out = set()
        for rr in range(r, R - (K - k) + 1):
            c = cost[k][rr]
            if c + f[k + 1][rr + 1] <= budget:
                for t in comp(k + 1, rr + 1, budget - c):
                    out.add(t if zero[k] else (rr,) + t)
                    if len(out) > cap:
                        raise TooMany
        return frozenset(out)

    try:
        placements = sorted(comp(0, 0, f[0][0]))
    except TooMany:
        return None
    nz = [k for k in range(K) if not zero[k]]

    def first_map(fixed: dict[int, int]) -> list[int] | None:
        def walk(k: int, r: int, budget: int, acc: list[int]) -> list[int] | None:
            if k == K:
                return list(acc)
            cands = [fixed[k]] if k in fixed else range(r, R - (K - k) + 1)
            for rr in cands:
                if rr < r:
                    return None
                c = cost[k][rr]
                if c + f[k + 1][rr + 1] <= budget:
                    acc.append(rr)
                    got = walk(k + 1, rr + 1, budget - c, acc)
                    acc.pop()
                    if got is not None:
                        return got
            return None
        return walk(0, 0, f[0][0], [])

    maps = []
    for t in placements:
        mp = first_map(dict(zip(nz, t)))
        if mp is not None:
            maps.append(mp)
    return maps or None
