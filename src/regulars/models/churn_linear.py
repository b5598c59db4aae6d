"""The churn classifier's linear companion (no I/O).

:class:`~regulars.models.churn.ChurnClassifier` averages its gradient-boosted model with a
strongly regularized logistic regression (see its notes for why and what was measured).
This module builds that regression and pools the two calibrated probabilities.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.special import expit, logit

__all__ = ["linear_model", "logit_mean", "signed_log"]

FloatArray = npt.NDArray[np.float64]

_EDGE = 1e-9  # probabilities are kept within [_EDGE, 1 - _EDGE] before the logit


def signed_log(values: FloatArray) -> FloatArray:
    """Return ``sign(x) log1p(|x|)``: counts, days and money on one gentle scale."""
    return np.asarray(np.sign(values) * np.log1p(np.abs(values)))


def linear_model(c: float) -> Any:
    """Return an unfitted logistic regression on standardized, log-scaled features.

    Parameters
    ----------
    c
        Inverse L2 penalty of :class:`~sklearn.linear_model.LogisticRegression` (small:
        strong shrinkage).

    Returns
    -------
    sklearn.pipeline.Pipeline
        Median imputation with missing-value indicators, :func:`signed_log`, standard
        scaling, logistic regression.
    """
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, StandardScaler

    # An unknown value (no gap yet, no event) is a fact of its own: an indicator says it,
    # and the median stands in for the number, so "never" does not read as "0 days ago".
    unknown = SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True)
    return make_pipeline(
        unknown,
        FunctionTransformer(signed_log),
        StandardScaler(),
        LogisticRegression(C=c, max_iter=1000),
    )


def logit_mean(first: FloatArray, second: FloatArray, weight: float) -> FloatArray:
    """Return ``expit((1 - weight) logit(first) + weight logit(second))``.

    Pooling on the logit scale keeps a probability on which both models agree as sure as
    they are; the plain mean of two calibrated probabilities pulls it towards 1/2.
    """
    a, b = (logit(np.clip(p, _EDGE, 1 - _EDGE)) for p in (first, second))
    return np.asarray(expit((1 - weight) * a + weight * b), dtype=np.float64)
