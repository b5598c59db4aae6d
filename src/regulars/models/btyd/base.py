"""The shared base of the continuous-time BTYD count models (BG/NBD, MBG/NBD, Pareto/NBD).

A subclass declares its parameters and implements, for per-row parameter values,

- ``_loglik_rows(p, data)``: the log-likelihood of each distinct row and its gradient with
  respect to the *log* of each parameter (the model is log-parametrized);
- ``_start(data)``: a starting point;
- the predictions ``_probability_alive``, ``_expected_purchases``,
  ``_probability_no_purchase`` and ``_expected_purchases_new``.

Everything else is here, once: input checks, compression of identical rows, maximum
likelihood with analytic gradients (L-BFGS-B from several starts, then Newton steps on
the Hessian), standard errors and confidence intervals from the Hessian, time-invariant
covariates, parameter draws (Laplace approximation) for intervals, and the
scikit-learn contract (``__init__`` stores settings; ``fit`` returns ``self``; learned
state ends in ``_``; predictions before ``fit`` raise :class:`NotFittedError`).

Time is in one unit throughout (regulars passes days); horizons are keyword-only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Self

import numpy as np
import numpy.typing as npt

from regulars.errors import InputError
from regulars.models.btyd.data import CountData, as_array, check_counts, compress_counts
from regulars.models.btyd.mle import MLEModel, Params

__all__ = ["BTYDModel", "Params"]

FloatArray = npt.NDArray[np.float64]


class BTYDModel(MLEModel):
    """Base of the count models: fit on (frequency, recency, T), predict per customer.

    The settings (``n_starts``, ``all_starts``, ``max_iter``, ``random_state``) are those
    of :class:`~regulars.models.btyd.mle.MLEModel`.
    """

    # ----------------------------------------------------------------------------- fit
    def fit(
        self,
        frequency: Any,
        recency: Any,
        T: Any,
        *,
        weights: Any = None,
        covariates: Any = None,
    ) -> Self:
        """Fit the model by maximum likelihood.

        Parameters
        ----------
        frequency, recency, T
            Per customer: repeat purchases, time of the last purchase and age, both
            measured from the first purchase, in one unit (regulars uses days).
        weights
            How many customers each row stands for (default 1 each).
        covariates
            Optional time-invariant covariates, one row per customer (n x k); see
            ``covariate_links`` for the parameters they act on.

        Returns
        -------
        Self
            The fitted model.

        Raises
        ------
        InputError
            When an input is not what the model reads (the message names it).
        ConvergenceError
            When no starting point reaches a maximum.
        """
        x, t_x, age, w = check_counts(frequency, recency, T, weights=weights)
        z = self._check_covariates(covariates, len(x))
        if len(x) == 0 or (w.sum() <= 0):
            raise InputError(
                "There are no customers to fit the model on.",
                fix="Fit on at least one customer with a purchase.",
            )
        data = compress_counts(x, t_x, age, w, z)
        theta = self._maximize(data)
        self._set_fitted(theta, data)
        return self

    def _check_covariates(self, covariates: Any, n: int) -> FloatArray | None:
        if covariates is None:
            return None
        if not self.covariate_links:
            raise InputError(
                f"{self.name} takes no covariates.",
                fix="Use BG/NBD or Pareto/NBD for covariates, or drop them.",
            )
        z = np.asarray(covariates, dtype=np.float64)
        if z.ndim == 1:
            z = z.reshape(-1, 1)
        if z.ndim != 2 or z.shape[0] != n:
            raise InputError(
                f"covariates must have one row per customer ({n:,}); got shape {z.shape}.",
                column="covariates",
                fix="Pass an n x k array (one column per covariate).",
            )
        if not np.isfinite(z).all():
            where = int(np.flatnonzero(~np.isfinite(z).all(axis=1))[0])
            raise InputError(
                "covariates must be finite numbers.",
                column="covariates",
                row=where,
                fix="Fill or drop missing covariate values first.",
            )
        return z

    # ------------------------------------------------------------------- predictions
    def _prepare(
        self, frequency: Any, recency: Any, T: Any, covariates: Any
    ) -> tuple[CountData, Params]:
        self._require_fitted()
        x, t_x, age, w = check_counts(frequency, recency, T)
        z = self._check_covariates(covariates, len(x)) if covariates is not None else None
        if self.n_covariates_ and z is None:
            raise InputError(
                "This model was fitted with covariates; give them to predict too.",
                fix="Pass covariates=... with the same columns as in fit.",
            )
        data = compress_counts(x, t_x, age, w, z)
        return data, self._row_params(self.theta_, data.covariates)

    def _per_customer(
        self,
        fn: Callable[[Params, CountData], FloatArray],
        frequency: Any,
        recency: Any,
        T: Any,
        covariates: Any,
        theta: FloatArray | None = None,
    ) -> FloatArray:
        data, p = self._prepare(frequency, recency, T, covariates)
        if theta is not None:
            p = self._row_params(theta, data.covariates)
        return np.asarray(fn(p, data), dtype=np.float64)[data.inverse]

    def log_likelihood(
        self, frequency: Any, recency: Any, T: Any, *, covariates: Any = None
    ) -> FloatArray:
        """Return the log-likelihood of each customer's (x, t_x, T) under the fitted parameters."""
        return self._per_customer(
            lambda p, d: self._loglik_rows(p, d)[0], frequency, recency, T, covariates
        )

    def probability_alive(
        self, frequency: Any, recency: Any, T: Any, *, covariates: Any = None
    ) -> FloatArray:
        """P(the customer is still active at T), given their history."""
        return self._per_customer(self._probability_alive, frequency, recency, T, covariates)

    def expected_purchases(
        self,
        frequency: Any,
        recency: Any,
        T: Any,
        *,
        horizon: float,
        covariates: Any = None,
    ) -> FloatArray:
        """Return the expected purchases in (T, T + horizon], given the customer's history."""
        t = self._horizon(horizon)
        return self._per_customer(
            lambda p, d: self._expected_purchases(p, d, t), frequency, recency, T, covariates
        )

    def probability_no_purchase(
        self,
        frequency: Any,
        recency: Any,
        T: Any,
        *,
        horizon: float,
        covariates: Any = None,
    ) -> FloatArray:
        """P(no purchase in (T, T + horizon]), given the customer's history."""
        t = self._horizon(horizon)
        return self._per_customer(
            lambda p, d: self._probability_no_purchase(p, d, t), frequency, recency, T, covariates
        )

    def expected_purchases_new_customer(self, t: Any, *, covariates: Any = None) -> FloatArray:
        """Return the expected purchases in (0, t] of a customer just acquired (unconditional)."""
        self._require_fitted()
        times = as_array(t, "t")
        z = self._check_covariates(covariates, len(times)) if covariates is not None else None
        return np.asarray(
            self._expected_purchases_new(self._row_params(self.theta_, z), times),
            dtype=np.float64,
        )

    def time_to_next_purchase(
        self,
        frequency: Any,
        recency: Any,
        T: Any,
        *,
        probability: float = 0.5,
        max_time: float = 3650.0,
        covariates: Any = None,
    ) -> FloatArray:
        """Time t at which P(at least one purchase in (T, T + t]) reaches ``probability``.

        ``nan`` when it is not reached within ``max_time`` (the customer is more likely
        gone than back). Found by bisection on the log of t, 40 steps, on every customer
        at once.
        """
        self._require_fitted()
        return self._per_customer(
            lambda p, d: self._time_to_next(p, d, probability, max_time),
            frequency,
            recency,
            T,
            covariates,
        )

    def _time_to_next(
        self, p: Params, d: CountData, probability: float, max_time: float = 3650.0
    ) -> FloatArray:
        """Bisection on log t (40 steps, every row at once); models may override."""
        lo = np.full(d.rows, np.log(1e-6))
        hi = np.full(d.rows, np.log(max_time))
        reached = 1 - self._probability_no_purchase(p, d, np.exp(hi)) >= probability
        for _ in range(40):
            mid = (lo + hi) / 2
            ok = 1 - self._probability_no_purchase(p, d, np.exp(mid)) >= probability
            hi = np.where(ok, mid, hi)
            lo = np.where(ok, lo, mid)
        return np.asarray(np.where(reached, np.exp(hi), np.nan))

    def predict_all(
        self,
        frequency: Any,
        recency: Any,
        T: Any,
        *,
        horizon: float,
        at: Any = (),
        probability: float = 0.5,
        covariates: Any = None,
    ) -> dict[str, FloatArray]:
        """Return every per-customer prediction from one pass over the distinct histories.

        Keys: ``expected_purchases``, ``probability_alive`` and ``probability_no_purchase``
        (over ``horizon``), ``time_to_next_purchase`` (at ``probability``), and
        ``expected_purchases_at`` (one row per time in ``at``): what the methods of the same
        names give, with the inputs checked and merged once instead of once per method.
        """
        t = self._horizon(horizon)
        times = [self._horizon(v) for v in np.atleast_1d(np.asarray(at, dtype=np.float64))]
        data, p = self._prepare(frequency, recency, T, covariates)
        spread = data.inverse
        return {
            "expected_purchases": self._expected_purchases(p, data, t)[spread],
            "probability_alive": self._probability_alive(p, data)[spread],
            "probability_no_purchase": self._probability_no_purchase(p, data, t)[spread],
            "time_to_next_purchase": self._time_to_next(p, data, probability)[spread],
            "expected_purchases_at": np.array(
                [self._expected_purchases(p, data, v)[spread] for v in times]
            ).reshape(len(times), len(spread)),
        }

    def predict_with_draws(
        self,
        fn: Callable[[Params, CountData], FloatArray],
        frequency: Any,
        recency: Any,
        T: Any,
        *,
        n_draws: int = 100,
        covariates: Any = None,
        random_state: int | None = None,
    ) -> FloatArray:
        """Evaluate ``fn(params, data)`` under parameter draws: an array (draws x customers)."""
        data, _ = self._prepare(frequency, recency, T, covariates)
        out = np.empty((n_draws, len(data.inverse)))
        for i, theta in enumerate(self.draw_params(n_draws, random_state=random_state)):
            out[i] = np.asarray(fn(self._row_params(theta, data.covariates), data))[data.inverse]
        return out

    def quantiles_over_draws(
        self,
        fn: Callable[[Params, CountData], FloatArray],
        frequency: Any,
        recency: Any,
        T: Any,
        *,
        percentiles: tuple[float, ...] = (5.0, 95.0),
        n_draws: int = 100,
        covariates: Any = None,
        random_state: int | None = None,
    ) -> FloatArray:
        """Percentiles of ``fn(params, data)`` over parameter draws: (percentiles x customers).

        The draws are evaluated on the distinct (x, t_x, T) rows only, and the percentiles
        taken there before they are spread to the customers: a million customers cost what
        their few hundred thousand distinct histories cost.
        """
        data, _ = self._prepare(frequency, recency, T, covariates)
        values = np.empty((n_draws, data.rows))
        for i, theta in enumerate(self.draw_params(n_draws, random_state=random_state)):
            values[i] = np.asarray(fn(self._row_params(theta, data.covariates), data))
        return np.asarray(np.percentile(values, percentiles, axis=0))[:, data.inverse]

    @staticmethod
    def _horizon(horizon: float) -> float:
        t = float(horizon)
        if not np.isfinite(t) or t < 0:
            raise InputError(
                f"The horizon must be a finite time >= 0, got {horizon!r}.",
                fix="Give the horizon in the model's time unit (regulars uses days).",
            )
        return t

    # ---------------------------------------------------------------- subclass hooks
    def _probability_alive(self, p: Params, data: CountData) -> FloatArray:
        raise NotImplementedError

    def _expected_purchases(self, p: Params, data: CountData, t: float) -> FloatArray:
        raise NotImplementedError

    def _probability_no_purchase(self, p: Params, data: CountData, t: Any) -> FloatArray:
        raise NotImplementedError

    def _expected_purchases_new(self, p: Params, t: FloatArray) -> FloatArray:
        raise NotImplementedError
