"""The tables of one sweep task, built straight from the engine's arrays as Arrow tables.

The rows and values are those of the core's tidy frames (:meth:`simulator.results.Result.
stocks_frame` and :meth:`~simulator.results.Result.shares_frame`, same row order), prefixed with
the point number and one constant column per swept parameter; building them in Arrow instead
of pandas roughly halves the cost of a task. Each table carries pandas metadata, so
``pandas.read_parquet`` restores the dtypes: categorical ``grade``, ``sex``, ``population`` and
``target``; nullable integer flows (empty for the start year) and ``first_year_met``.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from simulator.engine import FLOWS, SEX_NAMES
from simulator.results import Result

Params = tuple[tuple[str, Any, str], ...]  # (column, value, dtype)


@lru_cache(maxsize=64)
def _schema(kind: str, params: tuple[tuple[str, str], ...], categories: tuple) -> pa.Schema:
    """Arrow schema with pandas metadata for one table kind (cached per parameter set)."""
    head: dict[str, Any] = {"point": pd.Series(dtype="int64")}
    for column, dtype in params:
        head[column] = pd.Series(dtype=dtype)
    if kind == "stocks":
        grades, _ = categories
        body = {
            "replication": pd.Series(dtype="int64"),
            "year": pd.Series(dtype="int64"),
            "grade": pd.Categorical([], categories=list(grades)),
            "sex": pd.Categorical([], categories=list(SEX_NAMES)),
            "stock": pd.Series(dtype="int64"),
            "share_of_grade": pd.Series(dtype="float64"),
            **{name: pd.Series(dtype="Int64") for name in FLOWS},
        }
    elif kind in ("shares", "expected"):
        _, populations = categories
        body = {
            **({"replication": pd.Series(dtype="int64")} if kind == "shares" else {}),
            "year": pd.Series(dtype="int64"),
            "population": pd.Categorical([], categories=list(populations)),
            "women": pd.Series(dtype="float64"),
            "men": pd.Series(dtype="float64"),
            "total": pd.Series(dtype="float64"),
            "share": pd.Series(dtype="float64"),
        }
    else:  # targets
        target_ids, populations = categories
        body = {
            "replication": pd.Series(dtype="int64"),
            "target": pd.Categorical([], categories=list(target_ids)),
            "population": pd.Categorical([], categories=list(populations)),
            "deadline": pd.Series(dtype="int64"),
            "share_at_deadline": pd.Series(dtype="float64"),
            "met": pd.Series(dtype="bool"),
            "first_year_met": pd.Series(dtype="Int64"),
        }
    frame = pd.DataFrame({**head, **body})
    return pa.Schema.from_pandas(frame, preserve_index=False)


def _table(schema: pa.Schema, columns: dict[str, Any], categories: dict[str, tuple]) -> pa.Table:
    arrays = []
    for field in schema:
        value = columns[field.name]
        if pa.types.is_dictionary(field.type):
            codes = np.asarray(value)
            dictionary = pa.array(list(categories[field.name]), type=pa.string())
            index_type = field.type.index_type.to_pandas_dtype()
            arrays.append(
                pa.DictionaryArray.from_arrays(pa.array(codes.astype(index_type)), dictionary)
            )
        elif isinstance(value, pa.Array):
            arrays.append(value.cast(field.type))
        else:
            arrays.append(pa.array(value, type=field.type))
    return pa.Table.from_arrays(arrays, schema=schema)


def _head(n: int, point: int, params: Params) -> dict[str, Any]:
    head: dict[str, Any] = {"point": np.full(n, point, dtype=np.int64)}
    for column, value, dtype in params:
        head[column] = [value] * n if dtype == "str" else np.full(n, value, dtype=dtype)
    return head


def stocks_table(result: Result, point: int, params: Params) -> pa.Table:
    """Per (replication, year, grade, sex): stock, share_of_grade and the year's flows."""
    c = result.compiled
    stock = result.raw.stock
    R, Y1, G, S = stock.shape
    n = R * Y1 * G * S
    idx = np.indices((R, Y1, G, S)).reshape(4, -1)
    total = stock.sum(-1, keepdims=True).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(total > 0, stock / np.where(total > 0, total, 1.0), np.nan)
    cols = _head(n, point, params) | {
        "replication": result.replication_ids[idx[0]],
        "year": result.years[idx[1]],
        "grade": idx[2],
        "sex": idx[3],
        "stock": stock.reshape(-1).astype(np.int64),
        "share_of_grade": share.reshape(-1),
    }
    flows = result.raw.flows
    start_year = np.zeros((R, Y1, G, S), dtype=bool)
    start_year[:, 0] = True
    mask = start_year.reshape(-1)
    for i, name in enumerate(FLOWS):
        values = np.concatenate([np.zeros((R, 1, G, S), flows.dtype), flows[..., i]], axis=1)
        cols[name] = pa.array(values.reshape(-1).astype(np.int64), mask=mask)
    key = tuple((c_, d) for c_, _, d in params)
    cats = (tuple(c.grade_ids), ())
    schema = _schema("stocks", key, cats)
    return _table(schema, cols, {"grade": c.grade_ids, "sex": SEX_NAMES})


def _population_columns(result: Result) -> tuple[list[str], dict[str, np.ndarray]]:
    pops = result.population_names
    parts: dict[str, list[np.ndarray]] = {"women": [], "men": [], "share": []}
    for pop in pops:
        w, m = result.counts(pop)
        parts["women"].append(w)
        parts["men"].append(m)
        parts["share"].append(result.share(pop))
    return pops, {k: np.stack(v) for k, v in parts.items()}  # each [P, R, Y1]


def shares_table(result: Result, point: int, params: Params, expected: bool = False) -> pa.Table:
    """Per (replication, year, population): women, men, total, share (the core's shares frame).

    ``expected=True``: the expected engine's single path, without the replication column.
    """
    pops, arr = _population_columns(result)
    P, R, Y1 = arr["women"].shape
    idx = np.indices((P, R, Y1)).reshape(3, -1)
    women = arr["women"].reshape(-1)
    men = arr["men"].reshape(-1)
    cols = _head(P * R * Y1, point, params) | {
        "year": result.years[idx[2]],
        "population": idx[0],
        "women": women,
        "men": men,
        "total": women + men,
        "share": arr["share"].reshape(-1),
    }
    if not expected:
        cols["replication"] = result.replication_ids[idx[1]]
    key = tuple((c_, d) for c_, _, d in params)
    schema = _schema("expected" if expected else "shares", key, ((), tuple(pops)))
    return _table(schema, cols, {"population": tuple(pops)})


def targets_table(scenario, result: Result, point: int, params: Params) -> pa.Table:
    """Per (replication, target): share at the deadline, whether the target is met (its
    comparator at the deadline, or from the deadline on when sustained) and the first year-end
    at which the condition holds — the rules of :mod:`simulator.targets`."""
    from simulator.targets import condition_met

    years = result.years
    reps = result.replication_ids
    pops = result.population_names
    targets = list(scenario.targets)
    parts: dict[str, list[np.ndarray]] = {
        k: [] for k in ("replication", "target", "population", "deadline", "share", "met", "first")
    }
    first_mask = []
    for j, t in enumerate(targets):
        share = result.share(t.population)
        met = condition_met(t, share)
        di = int(t.deadline - years[0])
        hit = met[:, di:].all(axis=1) if t.sustained else met[:, di]
        first = np.where(met.any(axis=1), met.argmax(axis=1), -1)
        parts["replication"].append(reps)
        parts["target"].append(np.full(len(reps), j))
        parts["population"].append(np.full(len(reps), pops.index(t.population)))
        parts["deadline"].append(np.full(len(reps), t.deadline, dtype=np.int64))
        parts["share"].append(share[:, di])
        parts["met"].append(hit.astype(bool))
        parts["first"].append(np.where(first >= 0, years[np.maximum(first, 0)], 0))
        first_mask.append(first < 0)
    cat = {k: (np.concatenate(v) if v else np.zeros(0)) for k, v in parts.items()}
    n = len(cat["replication"])
    cols = _head(n, point, params) | {
        "replication": cat["replication"].astype(np.int64),
        "target": cat["target"].astype(np.int64),
        "population": cat["population"].astype(np.int64),
        "deadline": cat["deadline"].astype(np.int64),
        "share_at_deadline": cat["share"].astype(float),
        "met": cat["met"].astype(bool),
        "first_year_met": pa.array(
            cat["first"].astype(np.int64),
            mask=np.concatenate(first_mask) if first_mask else np.zeros(0, bool),
        ),
    }
    ids = tuple(t.id for t in targets)
    key = tuple((c_, d) for c_, _, d in params)
    schema = _schema("targets", key, (ids, tuple(pops)))
    return _table(schema, cols, {"target": ids, "population": tuple(pops)})


def encode(table: pa.Table) -> bytes:
    """Parquet (zstd) bytes of a table."""
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd")
    return sink.getvalue().to_pybytes()
