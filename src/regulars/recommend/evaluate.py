"""Next-basket evaluation: how many of the products a customer bought next were recommended.

Protocols (Li, Jullien, Ariannezhad & de Rijke, "A Next Basket Recommendation Reality
Check", ACM TOIS 2023):

- ``last``: each customer with at least two baskets; their last basket is the truth, the
  earlier ones the history. Every other customer's earlier baskets are history too.
- ``cutoff``: the history is everything up to the cutoff day; the truth is each customer's
  first basket after it (customers who bought by the cutoff and again after it).

Metrics, averaged over the evaluated customers, for a ranked list ``L`` of ``k`` products
and the truth basket ``T`` (distinct products):

- ``recall@k`` = |L ∩ T| / |T|; ``hit_rate@k`` (PHR): share of customers with a hit;
- ``ndcg@k``: DCG = sum over hits of 1 / log2(rank + 1), divided by the ideal DCG of
  min(k, |T|) hits (the usual definition); ``ndcg_li@k`` divides by the ideal over all |T|
  items (Li et al.'s variant, lower when baskets are larger than k);
- ``repeat_share``: share of hits that are products the customer bought before;
  ``repeat_recall`` / ``explore_recall``: recall over the truth's repeat / new products.

Baselines (Li et al.): ``G-TopFreq`` (the store's most bought products), ``P-TopFreq`` (the
customer's most bought; ties: more recent, then more popular), ``GP-TopFreq`` (P-TopFreq
padded with G-TopFreq).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time

import numpy as np
import numpy.typing as npt
import pandas as pd

from regulars.errors import InputError
from regulars.recommend.baskets import Baskets

__all__ = ["BASELINES", "Split", "baselines", "next_basket_split", "score_lists"]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BASELINES = ("G-TopFreq", "P-TopFreq", "GP-TopFreq")


@dataclass(frozen=True)
class Split:
    """History to fit on, and each evaluated customer's truth basket."""

    history: Baskets
    truth: Baskets
    protocol: str

    @property
    def customers(self) -> IntArray:
        """The evaluated customers (indices)."""
        return np.unique(self.truth.customer)


def next_basket_split(
    baskets: Baskets, *, protocol: str = "last", cutoff: date | None = None
) -> Split:
    """Split baskets into history and truth by the ``last`` or ``cutoff`` protocol."""
    if protocol == "last":
        history, truth = baskets.split_last(1)
        return Split(history, truth, protocol)
    if protocol != "cutoff":
        raise InputError(
            f"Unknown protocol {protocol!r}.", fix="Use --protocol last or --protocol cutoff."
        )
    if cutoff is None:
        raise InputError(
            "The cutoff protocol needs a cutoff date.", fix="Pass --as-of YYYY-MM-DD (the cutoff)."
        )
    end = datetime.combine(baskets.as_of, time.min)
    cut = datetime.combine(cutoff, time.min)
    cut_age = (end - cut).total_seconds() / 86400.0  # age of the end of the cutoff day
    before = baskets.age_days >= cut_age
    seen = np.zeros(baskets.n_customers, dtype=bool)
    seen[baskets.customer[before]] = True
    after = ~before & seen[baskets.customer]
    first_after = np.full(baskets.n_customers, -1)
    np.maximum.at(first_after, baskets.customer[after], -baskets.basket[after])
    truth_mask = after & (baskets.basket == -first_after[baskets.customer])
    history = baskets.select(before)
    history = Baskets(
        history.customer,
        history.item,
        history.basket,
        history.age_days - cut_age,
        history.spend,
        history.customer_ids,
        history.item_ids,
        cutoff,
        history.view_days,
    )
    truth = baskets.select(truth_mask)
    if truth.n_entries == 0:
        raise InputError(
            f"No customer bought both by {cutoff} and after it.",
            fix="Choose an earlier --as-of (or --protocol last).",
        )
    return Split(history, truth, protocol)


def score_lists(
    lists: pd.DataFrame, split: Split, *, k: int, bought: Baskets | None = None
) -> dict[str, float]:
    """Score ranked lists (``customer, item, rank`` indices, rank from 1) against the truth.

    Customers of the truth without a list count as zero hits.
    """
    truth, history = split.truth, bought or split.history
    n_items = truth.n_items
    customers = split.customers
    truth_key = np.unique(truth.customer * n_items + truth.item)
    seen_key = np.unique(history.customer * n_items + history.item)
    top = lists[lists["rank"] <= k]
    key = top["customer"].to_numpy(np.int64) * n_items + top["item"].to_numpy(np.int64)
    hit = np.isin(key, truth_key)
    repeat = np.isin(key, seen_key)
    size = np.bincount(truth_key // n_items, minlength=truth.n_customers).astype(float)
    truth_repeat = np.bincount(
        truth_key // n_items, weights=np.isin(truth_key, seen_key), minlength=truth.n_customers
    )
    who = top["customer"].to_numpy(np.int64)
    n_c = truth.n_customers
    hits = np.bincount(who, weights=hit, minlength=n_c)
    repeat_hits = np.bincount(who, weights=hit & repeat, minlength=n_c)
    gain = hit / np.log2(top["rank"].to_numpy(float) + 1)
    dcg = np.bincount(who, weights=gain, minlength=n_c)
    discounts = np.cumsum(1 / np.log2(np.arange(2, int(size.max(initial=1)) + 2)))
    ideal_k = discounts[np.minimum(size, k).astype(int) - 1]
    ideal_all = discounts[size.astype(int) - 1]
    c = customers
    explore_size = size[c] - truth_repeat[c]
    return {
        "customers": float(c.size),
        "recall": float(np.mean(hits[c] / size[c])),
        "ndcg": float(np.mean(dcg[c] / ideal_k[c])),
        "ndcg_li": float(np.mean(dcg[c] / ideal_all[c])),
        "hit_rate": float(np.mean(hits[c] > 0)),
        "repeat_share": float(repeat_hits[c].sum() / max(hits[c].sum(), 1.0)),
        "repeat_recall": float(
            np.mean(repeat_hits[c][truth_repeat[c] > 0] / truth_repeat[c][truth_repeat[c] > 0])
        )
        if (truth_repeat[c] > 0).any()
        else 0.0,
        "explore_recall": float(
            np.mean((hits[c] - repeat_hits[c])[explore_size > 0] / explore_size[explore_size > 0])
        )
        if (explore_size > 0).any()
        else 0.0,
    }


def baselines(split: Split, *, k: int) -> dict[str, pd.DataFrame]:
    """Return the lists of G-TopFreq, P-TopFreq and GP-TopFreq for the evaluated customers."""
    h = split.history
    customers = split.customers
    buyers = np.zeros(h.n_items)
    pairs = np.unique(h.customer * h.n_items + h.item)
    np.add.at(buyers, pairs % h.n_items, 1.0)
    global_top = np.argsort(-buyers, kind="stable")[: 2 * k]
    g_rows = pd.DataFrame(
        {
            "customer": np.repeat(customers, k),
            "item": np.tile(global_top[:k], customers.size),
            "rank": np.tile(np.arange(1, k + 1), customers.size),
        }
    )
    mine = np.isin(h.customer, customers)
    frame = pd.DataFrame(
        {"customer": h.customer[mine], "item": h.item[mine], "age": h.age_days[mine]}
    )
    personal = frame.groupby(["customer", "item"]).agg(n=("age", "size"), age=("age", "min"))
    personal = personal.reset_index()
    personal["pop"] = buyers[personal["item"].to_numpy()]
    personal = personal.sort_values(
        ["customer", "n", "age", "pop", "item"], ascending=[True, False, True, False, True]
    )
    personal["rank"] = personal.groupby("customer").cumcount() + 1
    p_rows = personal[personal["rank"] <= k][["customer", "item", "rank"]]
    padded = pd.concat([p_rows.assign(order=0), g_rows.assign(order=1)])
    padded = padded.drop_duplicates(["customer", "item"]).sort_values(["customer", "order", "rank"])
    padded["rank"] = padded.groupby("customer").cumcount() + 1
    gp_rows = padded[padded["rank"] <= k][["customer", "item", "rank"]]
    return {"G-TopFreq": g_rows, "P-TopFreq": p_rows, "GP-TopFreq": gp_rows}
