"""Checked, compressed inputs of the BTYD count models.

The models read three numbers per customer, in one time unit (regulars uses days):

- ``frequency`` (x): repeat purchase days, a whole number >= 0;
- ``recency`` (t_x): time from the first to the last purchase (0 when x = 0);
- ``T``: time from the first purchase to the end of the observation (``as_of``).

Identical rows are merged and weighted (rule 6 of the architecture): a million customers
of a two-year store in days hold a few hundred thousand distinct (x, t_x, T) rows, and
the likelihood is evaluated once per distinct row.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from regulars.errors import InputError

__all__ = ["CountData", "as_array", "check_counts", "compress_counts", "factorize", "group_rows"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def as_array(values: Any, name: str) -> FloatArray:
    """Return ``values`` as a 1-D float array, or raise an error naming ``name``."""
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(
            f"{name} must hold numbers.",
            column=name,
            expected="a 1-D array of numbers, one per customer",
            fix=f"Pass {name} as a list, numpy array or pandas column of numbers.",
        ) from exc
    if array.ndim == 0:
        array = array.reshape(1)
    if array.ndim != 1:
        raise InputError(
            f"{name} must be 1-D, got an array of shape {array.shape}.",
            column=name,
            expected="one number per customer",
            fix="Pass one column; reshape or select it first.",
        )
    return array


def _first_bad(name: str, array: FloatArray, bad: npt.NDArray[np.bool_], rule: str) -> None:
    if bad.any():
        where = int(np.flatnonzero(bad)[0])
        raise InputError(
            f"{name} has {int(bad.sum()):,} value(s) that are not {rule} "
            f"(first at position {where}).",
            column=name,
            row=where,
            value=float(array[where]),
            expected=rule,
            fix=f"Check how {name} was computed (see regulars.analytics.summary).",
        )


def check_counts(
    frequency: Any,
    recency: Any,
    T: Any,
    *,
    weights: Any = None,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Check the model inputs; return them as float arrays, with weights (default 1).

    Raises
    ------
    InputError
        Naming the input and the first position at fault: lengths differ, a value is not
        finite, a frequency is negative or not whole, a recency is negative or past ``T``,
        a customer without repeats has a recency, a weight is not positive.
    """
    x = as_array(frequency, "frequency")
    t_x = as_array(recency, "recency")
    age = as_array(T, "T")
    w = np.ones_like(x) if weights is None else as_array(weights, "weights")
    lengths = {"frequency": len(x), "recency": len(t_x), "T": len(age), "weights": len(w)}
    if len(set(lengths.values())) != 1:
        raise InputError(
            "frequency, recency, T and weights must have one value per customer; "
            f"got lengths {lengths}.",
            expected="arrays of the same length",
            fix="Take the four columns from the same table.",
        )
    for name, array in (("frequency", x), ("recency", t_x), ("T", age), ("weights", w)):
        _first_bad(name, array, ~np.isfinite(array), "finite numbers")
    _first_bad("frequency", x, (x < 0) | (x != np.floor(x)), "whole numbers >= 0")
    _first_bad("recency", t_x, t_x < 0, ">= 0")
    tolerance = 1e-9 * np.maximum(1.0, np.abs(age))
    _first_bad("recency", t_x, t_x > age + tolerance, "<= T (the customer's age)")
    _first_bad("recency", t_x, (x == 0) & (t_x > tolerance), "0 for customers without repeats")
    _first_bad("weights", w, w <= 0, "positive")
    return x, np.minimum(t_x, age), age, w


@dataclass(frozen=True)
class CountData:
    """Distinct (x, t_x, T[, covariates]) rows with their weights.

    Attributes
    ----------
    x, t_x, T
        One value per distinct row.
    weight
        How many customers (or how much weight) each row stands for.
    covariates
        Per-row covariates (rows x k), or ``None``.
    x_values, x_index
        The distinct frequencies and, per row, the position of its frequency among them:
        terms that depend only on x are computed once per distinct x.
    inverse
        For each original customer, its row here.
    xT_first, xT_index
        The distinct (x, T) pairs (as positions of a row holding each) and, per row, the
        position of its pair: terms of a prediction that depend only on (x, T) (the 2F1 of
        BG/NBD's conditional expectation) are computed once per pair.
    T_values, T_index, t_x_values, t_x_index
        The distinct ages and recencies and each row's position among them: log(alpha + T)
        and log(alpha + t_x) are computed once per distinct value in every likelihood call.
    """

    x: FloatArray
    t_x: FloatArray
    T: FloatArray
    weight: FloatArray
    covariates: FloatArray | None
    x_values: FloatArray
    x_index: IntArray
    inverse: IntArray
    xT_first: IntArray | None = None
    xT_index: IntArray | None = None
    T_values: FloatArray | None = None
    T_index: IntArray | None = None
    t_x_values: FloatArray | None = None
    t_x_index: IntArray | None = None

    @property
    def rows(self) -> int:
        """The number of distinct rows."""
        return len(self.x)

    @property
    def total_weight(self) -> float:
        """The number of customers (sum of weights)."""
        return float(self.weight.sum())

    def subset(self, rows: IntArray, weight: FloatArray | None = None) -> CountData:
        """Return these distinct rows alone, with their (or the given) weights."""
        z = None if self.covariates is None else self.covariates[rows]
        w = self.weight[rows] if weight is None else weight
        return compress_counts(self.x[rows], self.t_x[rows], self.T[rows], w, z)


def _integer_key(columns: list[FloatArray]) -> tuple[IntArray, list[int]] | None:
    """Pack whole-number columns into one int64 key (and its radices), or ``None``."""
    key = np.zeros(len(columns[0]), dtype=np.int64)
    span = 1
    tops = []
    for column in columns:
        if not np.array_equal(column, np.floor(column)) or (len(column) and column.min() < 0):
            return None
        top = int(column.max()) + 1 if len(column) else 1
        span *= top
        if span >= 2**62:
            return None
        key = key * top + column.astype(np.int64)
        tops.append(top)
    return key, tops


def group_rows(key: npt.NDArray[Any]) -> tuple[IntArray, IntArray]:
    """Group equal keys: return a row of each group and each row's group.

    By hashing (pandas), as :func:`factorize`; ``np.unique`` sorts, which took 40% of
    Pareto/NBD's predictions for a million customers.
    """
    _, codes = factorize(key)
    first = np.empty(int(codes.max(initial=-1)) + 1, dtype=np.int64)
    first[codes] = np.arange(len(codes), dtype=np.int64)  # any row of a group stands for it
    return first, codes


def factorize(values: npt.NDArray[Any]) -> tuple[npt.NDArray[Any], IntArray]:
    """Return the distinct values (in order of appearance) and each value's position.

    Hashing (pandas), not sorting: a million rows in a few milliseconds.
    """
    codes, uniques = pd.factorize(values, sort=False)
    return np.asarray(uniques), np.asarray(codes, dtype=np.int64)


def compress_counts(
    x: FloatArray,
    t_x: FloatArray,
    T: FloatArray,
    weights: FloatArray,
    covariates: FloatArray | None = None,
) -> CountData:
    """Merge identical rows, summing their weights (inputs already checked)."""
    packed = _integer_key([x, t_x, T]) if covariates is None else None
    if packed is not None:
        key, tops = packed
        unique_keys, inverse = factorize(key)
        rest = unique_keys.astype(np.int64)
        decoded = []
        for top in reversed(tops):
            decoded.append((rest % top).astype(np.float64))
            rest = rest // top
        ux, ut_x, uT = reversed(decoded)
        uz = None
    else:
        columns = [x, t_x, T] + (
            [covariates[:, j] for j in range(covariates.shape[1])] if covariates is not None else []
        )
        _, first, inverse = np.unique(
            np.column_stack(columns), axis=0, return_index=True, return_inverse=True
        )
        inverse = inverse.reshape(-1).astype(np.int64)
        ux, ut_x, uT = x[first], t_x[first], T[first]
        uz = None if covariates is None else covariates[first]
    weight = np.bincount(inverse, weights=weights, minlength=len(ux)).astype(np.float64)
    x_values, x_index = factorize(ux)
    pairs = _integer_key([ux, uT])
    if pairs is None:
        _, xT_first, xT_index = np.unique(
            np.column_stack([ux, uT]), axis=0, return_index=True, return_inverse=True
        )
    else:
        xT_first, xT_index = group_rows(pairs[0])
    T_values, T_index = factorize(uT)
    t_x_values, t_x_index = factorize(ut_x)
    return CountData(
        x=ux,
        t_x=ut_x,
        T=uT,
        weight=weight,
        covariates=uz,
        x_values=x_values.astype(np.float64),
        x_index=x_index,
        inverse=inverse,
        xT_first=xT_first.astype(np.int64),
        xT_index=xT_index.reshape(-1).astype(np.int64),
        T_values=T_values.astype(np.float64),
        T_index=T_index,
        t_x_values=t_x_values.astype(np.float64),
        t_x_index=t_x_index,
    )
