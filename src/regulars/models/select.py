"""Choosing a BTYD model by its holdout error on the store's own history.

``--model auto`` fits every candidate on a calibration period that ends one horizon
before ``as_of``, predicts the purchases of that last horizon, and keeps the model with
the lowest mean absolute error per customer (ties: the smaller total bias). The winner
is then refitted on the whole history. Candidates that do not converge are reported and
skipped; when the history is too short for a holdout, MBG/NBD is used and the reason
says so.

No I/O: the caller passes the calibration summary and the holdout purchases.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from regulars.errors import ConfigError, RegularsError
from regulars.models.btyd.base import BTYDModel

__all__ = ["CANDIDATES", "Candidate", "Selection", "model_class", "select_model"]

_MODULES = {
    "bgnbd": ("regulars.models.btyd.bgnbd", "BGNBD"),
    "mbgnbd": ("regulars.models.btyd.mbgnbd", "MBGNBD"),
    "paretonbd": ("regulars.models.btyd.paretonbd", "ParetoNBD"),
}
CANDIDATES = tuple(_MODULES)
"""The models ``--model`` accepts besides ``auto``."""


def model_class(name: str) -> type[BTYDModel]:
    """Return the model class for a ``--model`` name.

    Raises
    ------
    ConfigError
        For an unknown name.
    """
    key = name.strip().lower().replace("/", "").replace("-", "")
    if key not in _MODULES:
        raise ConfigError(
            f"Unknown model {name!r}.",
            fix="Use --model auto, " + ", ".join(CANDIDATES) + ".",
        )
    module, attribute = _MODULES[key]
    found: type[BTYDModel] = getattr(importlib.import_module(module), attribute)
    return found


@dataclass
class Candidate:
    """One model's result on the holdout."""

    name: str
    mae: float | None = None
    rmse: float | None = None
    bias: float | None = None
    loglik: float | None = None
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """Return the candidate as plain data."""
        return {
            "model": self.name,
            "mae": self.mae,
            "rmse": self.rmse,
            "bias": self.bias,
            "loglik": self.loglik,
            "error": self.error,
        }


@dataclass
class Selection:
    """The chosen model, why, and every candidate's holdout error."""

    chosen: str
    reason: str
    candidates: list[Candidate] = field(default_factory=list)


def select_model(
    calibration: pd.DataFrame,
    holdout_purchases: Any,
    *,
    horizon_days: float,
    candidates: tuple[str, ...] = CANDIDATES,
    period: str = "",
) -> Selection:
    """Fit each candidate on ``calibration`` and keep the lowest holdout MAE.

    Parameters
    ----------
    calibration
        Summary at the calibration cutoff: frequency, recency_days, t_days.
    holdout_purchases
        Each calibration customer's purchase days in the holdout.
    horizon_days
        The holdout's length in days.
    candidates
        Model names (see :data:`CANDIDATES`).
    period
        Words for the holdout period, used in the reason.

    Returns
    -------
    Selection
        The chosen model's name, the reason in one sentence, and every candidate.
    """
    f = calibration["frequency"].to_numpy(dtype=float)
    r = calibration["recency_days"].to_numpy(dtype=float)
    T = calibration["t_days"].to_numpy(dtype=float)
    actual = np.asarray(holdout_purchases, dtype=float)
    results: list[Candidate] = []
    for name in candidates:
        try:
            model = model_class(name)().fit(f, r, T)
            predicted = model.expected_purchases(f, r, T, horizon=horizon_days)
        except RegularsError as exc:
            results.append(Candidate(name, error=exc.message))
            continue
        miss = predicted - actual
        results.append(
            Candidate(
                name,
                mae=float(np.mean(np.abs(miss))),
                rmse=float(np.sqrt(np.mean(miss**2))),
                bias=float(miss.sum() / max(actual.sum(), 1e-12)),
                loglik=float(model.loglik_),
            )
        )
    scored = [c for c in results if c.mae is not None]
    if not scored:
        return Selection("bgnbd", "no candidate could be fitted on the holdout split", results)
    best = min(scored, key=lambda c: (round(c.mae or 0.0, 12), abs(c.bias or 0.0)))
    others = ", ".join(f"{c.name} {c.mae:.4f}" for c in scored if c is not best)
    reason = (
        f"{best.name}: lowest mean absolute error per customer on {period or 'the holdout'} "
        f"({best.mae:.4f} purchases" + (f"; {others}" if others else "") + ")"
    )
    return Selection(best.name, reason, results)
