"""Temporal item-frequency user vectors and the neighbours built on them (TIFU-KNN).

Hu, He, Gao & Zhang, "Modeling Personalized Item Frequency Information for Next-basket
Recommendation", SIGIR 2020. A customer's baskets ``b_1 .. b_n`` (0/1 item vectors, oldest
first) are cut into groups of ``m`` consecutive baskets, the oldest group taking the
remainder. Within a group of ``n_g`` baskets, basket ``j`` weighs ``r_b ** (n_g - j)``
(the latest weighs 1), and the group vector is the weighted sum divided by ``n_g``; the
user vector is ``sum_g r_g ** (G - g) * group_g / G`` over the ``G`` groups (the paper's
within-group and between-group time decay). The prediction for a customer is
``alpha * u + (1 - alpha) * mean(u_v for the k nearest customers v)``.

This module also builds an item-item neighbourhood (cosine similarity of the items' buyer
sets, the ``top`` most similar items kept per item): ``u @ S`` scores the items that go
with what a customer bought, and it scales to stores where a customer-customer search
would not.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from regulars.recommend.baskets import Baskets

__all__ = ["TifuParams", "item_neighbours", "tifu_weights", "top_per_row", "user_neighbours"]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class TifuParams:
    """TIFU-KNN's hyperparameters (defaults: the paper's Dunnhumby setting, but ``k``)."""

    within_decay: float = 0.9
    """r_b: decay from one basket to the previous one inside a group."""
    group_decay: float = 0.6
    """r_g: decay from one group to the previous one."""
    group_size: int = 3
    """m: baskets per group."""
    neighbours: int = 300
    """k: nearest customers averaged."""
    alpha: float = 0.2
    """Weight of the customer's own vector against the neighbours' mean."""


def tifu_weights(baskets: Baskets, params: TifuParams) -> FloatArray:
    """Return each entry's weight in its customer's TIFU vector (sum them per item)."""
    n = baskets.baskets_per_customer()[baskets.customer]
    m = params.group_size
    groups = -(-n // m)  # ceil
    oldest_size = n - (groups - 1) * m
    seq = baskets.basket
    in_oldest = seq < oldest_size
    group = np.where(in_oldest, 0, 1 + (seq - oldest_size) // m)
    size = np.where(in_oldest, oldest_size, m)
    position = np.where(in_oldest, seq, (seq - oldest_size) % m)
    weight: FloatArray = (
        params.within_decay ** (size - 1 - position).astype(float)
        / size
        * params.group_decay ** (groups - 1 - group).astype(float)
        / groups
    )
    return weight


def _normalise_rows(matrix: sp.csr_matrix) -> sp.csr_matrix:
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
    scale = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
    return sp.csr_matrix(sp.diags(scale) @ matrix)


def user_neighbours(vectors: sp.csr_matrix, k: int, *, chunk: int = 2048) -> sp.csr_matrix:
    """Return the mean-of-neighbours operator W: ``W @ vectors`` averages the k nearest.

    Neighbours by cosine similarity of the vectors, the customer themself excluded;
    customers without a vector get no row.
    """
    n = vectors.shape[0]
    k = max(0, min(k, n - 1))
    unit = _normalise_rows(vectors)
    has = np.flatnonzero(vectors.getnnz(axis=1) > 0)
    if k == 0 or has.size == 0:
        return sp.csr_matrix((n, n))
    unit_t = unit.T.tocsr()
    rows: list[IntArray] = []
    cols: list[IntArray] = []
    for lo in range(0, has.size, chunk):
        who = has[lo : lo + chunk]
        sim = (unit[who] @ unit_t).toarray()
        sim[np.arange(who.size), who] = -np.inf
        top = np.argpartition(-sim, k - 1, axis=1)[:, :k]
        rows.append(np.repeat(who, k))
        cols.append(top.ravel().astype(np.int64))
    r, c = np.concatenate(rows), np.concatenate(cols)
    return sp.csr_matrix((np.full(r.size, 1.0 / k), (r, c)), shape=(n, n))


def item_neighbours(baskets: Baskets, top: int = 50) -> sp.csr_matrix:
    """Return the item-item cosine similarity of buyer sets, ``top`` neighbours per item."""
    bought = sp.csr_matrix(
        (np.ones(baskets.n_entries), (baskets.customer, baskets.item)),
        shape=(baskets.n_customers, baskets.n_items),
    )
    bought.data[:] = 1.0
    co = sp.csr_matrix(bought.T @ bought)
    buyers = np.sqrt(co.diagonal())
    co.setdiag(0.0)
    co.eliminate_zeros()
    scale = np.divide(1.0, buyers, out=np.zeros_like(buyers), where=buyers > 0)
    sim = sp.csr_matrix(sp.diags(scale) @ co @ sp.diags(scale))
    return top_per_row(sim, top)


def top_per_row(matrix: sp.csr_matrix, top: int, *, cells: int = 8_000_000) -> sp.csr_matrix:
    """Return ``matrix`` keeping only the ``top`` largest values of each row.

    Rows are made dense ``cells // columns`` at a time, so memory stays bounded.
    """
    matrix = sp.csr_matrix(matrix)
    n_rows, n_cols = matrix.shape
    top = min(top, n_cols)
    if top <= 0 or matrix.nnz == 0:
        return sp.csr_matrix(matrix.shape)
    step = max(1, cells // max(n_cols, 1))
    rows: list[IntArray] = []
    cols: list[IntArray] = []
    vals: list[FloatArray] = []
    for lo in range(0, n_rows, step):
        block = matrix[lo : lo + step].toarray()
        if top < n_cols:
            best = np.argpartition(-block, top - 1, axis=1)[:, :top]
        else:
            best = np.broadcast_to(np.arange(n_cols), block.shape)
        values = np.take_along_axis(block, best, axis=1)
        keep = values != 0
        rows.append((np.nonzero(keep)[0] + lo).astype(np.int64))
        cols.append(best[keep].astype(np.int64))
        vals.append(values[keep])
    return sp.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=matrix.shape
    )
