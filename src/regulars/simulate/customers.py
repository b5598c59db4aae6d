"""Simulated customers: when they arrive, their latent traits and their customer records.

Customers are numbered in order of arrival across the whole store, while being generated one
chunk at a time: the arrival quantiles of a chunk are the next block of order statistics of
``customers`` uniforms, drawn sequentially (given the last quantile ``u`` so far, the largest
of the next ``c`` is ``u + (1 - u) * Beta(c, remaining - c + 1)``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from regulars.simulate.catalogue import CATEGORIES, Catalogue
from regulars.simulate.columns import concat, prefixed_ids, timestamps
from regulars.simulate.parameters import Period, StoreParameters
from regulars.simulate.seasonality import Seasonality

__all__ = ["COUNTRIES", "CustomerBatch", "arrival_quantiles", "draw_customers"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

COUNTRIES: tuple[tuple[str, float, tuple[str, ...]], ...] = (
    (
        "US",
        0.62,
        (
            "New York",
            "Los Angeles",
            "Chicago",
            "Houston",
            "Seattle",
            "Portland",
            "Austin",
            "Denver",
            "Boston",
            "San Francisco",
            "Minneapolis",
            "Atlanta",
        ),
    ),
    ("CA", 0.1, ("Toronto", "Vancouver", "Montreal", "Calgary")),
    ("GB", 0.09, ("London", "Manchester", "Bristol", "Edinburgh")),
    ("DE", 0.07, ("Berlin", "Hamburg", "Munich", "Cologne")),
    ("FR", 0.04, ("Paris", "Lyon", "Marseille")),
    ("NL", 0.03, ("Amsterdam", "Rotterdam", "Utrecht")),
    ("AU", 0.05, ("Sydney", "Melbourne", "Brisbane")),
)
"""Countries (ISO 3166 codes), their share of customers and their cities."""

# fmt: off
_FEMALE = (
    "Emma", "Olivia", "Ava", "Sophia", "Mia", "Isabella", "Charlotte", "Amelia", "Harper",
    "Evelyn", "Abigail", "Emily", "Ella", "Grace", "Chloe", "Lucy", "Hannah", "Zoe", "Nora",
    "Lily", "Anna", "Laura", "Julia", "Clara", "Marie", "Sofia", "Ines", "Lea",
)
_MALE = (
    "Liam", "Noah", "Oliver", "Elijah", "James", "William", "Benjamin", "Lucas", "Henry",
    "Alexander", "Mason", "Ethan", "Daniel", "Jacob", "Logan", "Jack", "Samuel", "David", "Leo",
    "Owen", "Lukas", "Paul", "Felix", "Louis", "Hugo", "Max", "Tom", "Ben",
)
_LAST = (
    "smith", "johnson", "williams", "brown", "jones", "garcia", "miller", "davis", "martin",
    "taylor", "wilson", "moore", "anderson", "thomas", "jackson", "white", "harris", "clark",
    "lewis", "walker", "young", "allen", "king", "wright", "scott", "green", "baker", "adams",
    "nelson", "hill", "mueller", "schmidt", "dubois", "bernard", "jansen", "devries", "nguyen",
    "patel",
)
# fmt: on
_DOMAINS = ("example.com", "example.org", "example.net")

_GENDERS = pa.array(["female", "male", "non-binary", None])
_GENDER_P = np.array([0.52, 0.34, 0.01, 0.13])
_AFFINITY_CONCENTRATION = 2.0


@dataclass(frozen=True)
class CustomerBatch:
    """One chunk of customers: latent traits and the attributes the data shows.

    Parameters
    ----------
    first_index
        Global 0-based index of the first customer of the chunk.
    first_time
        Time of each customer's first purchase (days since the start).
    rate
        Latent purchase rate, per day.
    dropout
        Latent dropout probability after each purchase.
    affinity
        Category preferences, one row per customer (rows sum to 1).
    basket_mean
        Mean number of extra lines in a basket.
    staple
        Product index of the customer's staple consumable.
    country
        Country index into :data:`COUNTRIES`.
    created_seconds
        When each customer record was created, whole seconds since the start.
    table
        The ``customers`` rows (before conforming).
    """

    first_index: int
    first_time: FloatArray
    rate: FloatArray
    dropout: FloatArray
    affinity: FloatArray
    basket_mean: FloatArray
    staple: IntArray
    country: IntArray
    created_seconds: IntArray
    table: pa.Table

    @property
    def size(self) -> int:
        """Number of customers in the batch."""
        return int(self.first_time.size)

    @property
    def customer_id(self) -> pa.Array:
        """The customers' ids."""
        return self.table.column("customer_id").combine_chunks()


def arrival_quantiles(
    rng: np.random.Generator, total: int, done: int, count: int, last: float
) -> tuple[FloatArray, float]:
    """Return the next ``count`` order statistics of ``total`` uniforms, after ``done`` of them.

    Parameters
    ----------
    rng
        Random generator of the chunk.
    total
        Number of customers in the store.
    done
        Customers generated so far.
    count
        Customers in this chunk.
    last
        The largest quantile so far (0 before the first chunk).

    Returns
    -------
    tuple of (numpy.ndarray, float)
        The sorted quantiles of the chunk and the new largest one.
    """
    top = last + (1.0 - last) * rng.beta(count, total - done - count + 1)
    inner = np.sort(rng.uniform(last, top, size=count - 1))
    return np.append(inner, top), float(top)


def _categorical(rng: np.random.Generator, probabilities: FloatArray, size: int) -> IntArray:
    """Draw ``size`` indices with probabilities proportional to ``probabilities``."""
    cdf = np.cumsum(probabilities)
    return np.minimum(np.searchsorted(cdf / cdf[-1], rng.random(size), side="right"), cdf.size - 1)


def draw_affinity(rng: np.random.Generator, n: int) -> FloatArray:
    """Draw ``n`` personal category affinities from a Dirichlet around the category shares.

    Parameters
    ----------
    rng
        Random generator.
    n
        Number of affinities.

    Returns
    -------
    numpy.ndarray
        ``(n, categories)`` rows summing to 1.
    """
    shares = np.array([c.share for c in CATEGORIES])
    return rng.dirichlet(_AFFINITY_CONCENTRATION * shares / shares.sum(), size=n)


def _staples(rng: np.random.Generator, affinity: FloatArray, catalogue: Catalogue) -> IntArray:
    """Pick each customer's staple: a popular consumable of their favourite consumable category."""
    consumable_categories = np.array([c.cycle_days > 0 for c in CATEGORIES])
    favourite = np.argmax(np.where(consumable_categories, affinity, -1.0), axis=1)
    staples = np.empty(favourite.size, dtype=np.int64)
    live = catalogue.consumable & np.isinf(catalogue.discontinued_at)
    for c in np.unique(favourite):
        members = np.flatnonzero((catalogue.category == c) & live)
        who = np.flatnonzero(favourite == c)
        pick = _categorical(rng, catalogue.popularity[members], who.size)
        staples[who] = members[pick]
    return staples


def draw_customers(
    rng: np.random.Generator,
    *,
    first_index: int,
    quantiles: FloatArray,
    params: StoreParameters,
    period: Period,
    season: Seasonality,
    catalogue: Catalogue,
) -> CustomerBatch:
    """Draw a chunk of customers: arrival, latent rate and dropout, preferences and records.

    Parameters
    ----------
    rng
        Random generator of the chunk's customers.
    first_index
        Global index of the chunk's first customer.
    quantiles
        Sorted arrival quantiles (from :func:`arrival_quantiles`).
    params
        Population parameters.
    period
        The simulated period.
    season
        The store's seasonality (arrivals follow it, on top of growth).
    catalogue
        The catalogue (for the staple products).

    Returns
    -------
    CustomerBatch
        The chunk.
    """
    n = quantiles.size
    first_time = season.arrival_times(quantiles, period.observed_days, params.acquisition_growth)
    rate = rng.gamma(params.r, 1.0 / params.alpha, size=n)
    dropout = rng.beta(params.a, params.b, size=n)
    affinity = draw_affinity(rng, n)
    basket_mean = rng.gamma(2.0, 0.35, size=n)
    staple = _staples(rng, affinity, catalogue)

    number = np.arange(first_index, first_index + n, dtype=np.int64)
    country = _categorical(rng, np.array([c[1] for c in COUNTRIES]), n)
    city_names: list[str] = []
    city_index = np.empty(n, dtype=np.int64)
    for k, (_, _, cities) in enumerate(COUNTRIES):
        who = np.flatnonzero(country == k)
        weights = 1.0 / np.arange(1, len(cities) + 1)
        city_index[who] = len(city_names) + _categorical(rng, weights, who.size)
        city_names.extend(cities)

    gender = _categorical(rng, _GENDER_P, n)
    female_name = rng.integers(0, len(_FEMALE), n)
    male_name = rng.integers(0, len(_MALE), n)
    use_female = (gender == 0) | ((gender >= 2) & (rng.random(n) < 0.5))
    first_names = pc.if_else(
        pa.array(use_female),
        pa.array(_FEMALE).take(pa.array(female_name)),
        pa.array(_MALE).take(pa.array(male_name)),
    )
    last_names = pa.array(_LAST).take(pa.array(rng.integers(0, len(_LAST), n)))
    domains = pa.array(_DOMAINS).take(pa.array(rng.integers(0, len(_DOMAINS), n)))
    email = concat(
        pc.utf8_lower(first_names), ".", last_names, pa.array(number + 1).cast(pa.string())
    )
    email = concat(email, "@", domains)
    email = pc.if_else(pa.array(rng.random(n) < 0.005), pa.nulls(n, pa.string()), email)

    created_seconds = np.maximum(np.floor(first_time * 86400 - rng.uniform(30, 900, n)), 0)
    created_seconds = created_seconds.astype(np.int64)
    created_day = period.start.toordinal() + np.floor(created_seconds / 86400)
    age_days = (18 + 60 * rng.beta(2.0, 3.5, n)) * 365.25
    birthday = (created_day - age_days - 719163).astype(np.int32)  # 719163: ordinal of 1970-01-01
    known_birthday = rng.random(n) < 0.6
    email_consent = rng.random(n) < 0.55
    sms_consent = rng.random(n) < 0.18
    tag_draw = rng.random(n)
    has_tag = tag_draw < 0.006
    tags = pa.ListArray.from_arrays(
        pa.array(np.concatenate(([0], np.cumsum(has_tag))).astype(np.int32)),
        pa.array(np.where(tag_draw[has_tag] < 0.001, "staff", "wholesale")),
    )

    table = pa.table(
        {
            "customer_id": prefixed_ids("C", number + 1, 8),
            "email": email,
            "first_name": first_names,
            "created_at": timestamps(created_seconds, period.start_epoch_seconds),
            "birthday": pa.array(birthday, type=pa.date32(), mask=~known_birthday),
            "country": pa.array([c[0] for c in COUNTRIES]).take(pa.array(country)),
            "city": pa.array(city_names).take(pa.array(city_index)),
            "gender": _GENDERS.take(pa.array(gender)),
            "accepts_email_marketing": pa.array(email_consent),
            "accepts_sms_marketing": pa.array(sms_consent),
            "tags": tags,
        }
    )
    return CustomerBatch(
        first_index=first_index,
        first_time=first_time,
        rate=rate,
        dropout=dropout,
        affinity=affinity,
        basket_mean=basket_mean,
        staple=staple,
        country=country,
        created_seconds=created_seconds,
        table=table,
    )
