"""Offer rules: the offers a store can make, and when, read from a TOML file it can edit.

A rules file is a list of ``[[rule]]`` tables (the defaults: ``offer_rules.toml`` beside
this module; the format, field by field: docs/offers.md)::

    [[rule]]
    id = "favourite_10pct"           # unique name
    kind = "percent_off"             # percent_off | free_shipping | points_multiplier | none
    text = "{percent}% off {category}"
    percent = 10
    on = "favourite"                 # favourite | category (+ category = "...") | order
    lift = 0.05                      # assumed absolute increase of P(order in the horizon)
    when = { min_category_share = 0.25, max_churn_risk = 0.6 }

:func:`load_rules` checks every field; a mistake is a :class:`~regulars.errors.ConfigError`
naming the file, the rule (its number from 1, and its id), the field, what was expected and
how to fix it. How the rules are scored: :mod:`regulars.recommend.offers`.
"""

from __future__ import annotations

import difflib
import math
import string
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from regulars.errors import ConfigError

__all__ = [
    "KINDS",
    "NO_OFFER",
    "TARGETS",
    "Conditions",
    "OfferRule",
    "default_rules",
    "load_rules",
    "parse_rules",
]

FloatArray = npt.NDArray[np.float64]
Where = tuple[str, int, Any]

KINDS = ("percent_off", "free_shipping", "points_multiplier", "none")
"""The kinds of offer a rule can make."""

TARGETS = ("favourite", "category", "order")
"""What an offer can cover."""

# Numeric fields: (lowest, highest, an example).
_NUMBERS = {
    "lift": (0.0, 1.0, "lift = 0.05"),
    "percent": (0.0, 100.0, "percent = 10"),
    "shipping_cost": (0.0, math.inf, "shipping_cost = 4.95"),
    "multiplier": (1.0, math.inf, "multiplier = 2"),
    "points_per_unit": (0.0, math.inf, "points_per_unit = 1"),
    "point_value": (0.0, math.inf, "point_value = 0.01"),
}
_KIND_FIELDS = {
    "percent_off": ("lift", "percent", "on", "category"),
    "free_shipping": ("lift", "shipping_cost"),
    "points_multiplier": ("lift", "multiplier", "points_per_unit", "point_value", "on", "category"),
    "none": (),
}
_REQUIRED = {
    "percent_off": ("text", "lift", "percent"),
    "free_shipping": ("text", "lift", "shipping_cost"),
    "points_multiplier": ("text", "lift", "multiplier", "point_value"),
    "none": (),
}
_ALL_FIELDS = {"id", "kind", "text", "when"}.union(*_KIND_FIELDS.values())


@dataclass(frozen=True)
class Conditions:
    """When a rule applies: every bound given must hold (``None``: no bound)."""

    min_orders: int | None = None
    max_orders: int | None = None
    min_churn_risk: float | None = None
    max_churn_risk: float | None = None
    min_category_share: float | None = None
    min_days_since_last_order: float | None = None
    max_days_since_last_order: float | None = None


@dataclass(frozen=True)
class OfferRule:
    """One offer a store can make, and when (the fields of a ``[[rule]]``: docs/offers.md).

    ``kind`` is one of :data:`KINDS`; ``text`` a template that may use ``{category}`` (for
    offers on a category), ``{percent}``, ``{multiplier}`` and ``{shipping_cost}``;
    ``lift`` the assumed absolute increase of P(order in the horizon); ``on`` what the
    offer covers: ``favourite`` (the customer's favourite category), ``category`` (the
    named ``category``) or ``order``; ``when`` the conditions.
    """

    id: str
    kind: str
    text: str
    lift: float = 0.0
    percent: float = 0.0
    shipping_cost: float = 0.0
    multiplier: float = 1.0
    points_per_unit: float = 1.0
    point_value: float = 0.0
    on: str = "favourite"
    category: str | None = None
    when: Conditions = field(default_factory=Conditions)

    def __post_init__(self) -> None:
        if self.kind in ("free_shipping", "none"):  # they cover the whole order
            object.__setattr__(self, "on", "order")

    @property
    def on_category(self) -> bool:
        """Whether the offer covers a category (rather than the whole order)."""
        return self.kind in ("percent_off", "points_multiplier") and self.on != "order"

    def render(self, category: str | None = None) -> str:
        """Return the offer's text for a customer whose offer is on ``category``."""
        return self.text.format(
            category=category,
            percent=f"{self.percent:g}",
            multiplier=f"{self.multiplier:g}",
            shipping_cost=f"{self.shipping_cost:.2f}",
        )

    def cost(self, aov: npt.ArrayLike, share: npt.ArrayLike = 1.0) -> FloatArray:
        """Return the offer's cost on one order of value ``aov``, ``share`` of it covered."""
        a = np.asarray(aov, dtype=float)
        s = np.asarray(share, dtype=float) if self.on_category else 1.0
        if self.kind == "percent_off":
            return np.asarray(self.percent / 100.0 * s * a, dtype=float)
        if self.kind == "points_multiplier":
            per_unit = (self.multiplier - 1.0) * self.points_per_unit * self.point_value
            return np.asarray(per_unit * s * a, dtype=float)
        level = self.shipping_cost if self.kind == "free_shipping" else 0.0
        return np.full(a.shape, level, dtype=float)


NO_OFFER = OfferRule(id="none", kind="none", text="No offer")


# --------------------------------------------------------------------------- rules file


def _fail(
    w: Where, name: str | None, problem: str, *, expected: str, found: Any = None, fix: str
) -> ConfigError:
    """Return the error of field ``name`` of rule ``w = (file, number from 1, id)``."""
    source, index, rule_id = w
    where = source + (f": rule {index}" if index else "")
    where += f" ({rule_id!r})" if index and isinstance(rule_id, str) and rule_id else ""
    where += f", field {name!r}" if name else ""
    shown = "" if found is None else f"; found {found!r}"
    return ConfigError(f"{where}: {problem} Expected {expected}{shown}.", fix=fix)


def _number(
    w: Where,
    raw: Mapping[str, Any],
    name: str,
    key: str,
    low: float,
    high: float,
    example: str,
) -> float | None:
    value = raw.get(name)
    span = f"from {low:g} to {high:g}" if math.isfinite(high) else f"of at least {low:g}"
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        raise _fail(
            w,
            key,
            "is not a number.",
            expected=f"a number {span}",
            found=value,
            fix=f"Write a bare number, e.g. {example}.",
        )
    if not low <= value <= high:
        problem = "must not be negative." if value < 0 <= low else "is out of range."
        raise _fail(
            w,
            key,
            problem,
            expected=f"a number {span}",
            found=value,
            fix=f"Set it {span}, e.g. {example}.",
        )
    return float(value)


def _unknown(w: Where, key: str, allowed: Sequence[str], what: str) -> ConfigError:
    close = difflib.get_close_matches(key.split(".")[-1], allowed, n=1)
    fix = f"Did you mean {close[0]!r}?" if close else "Remove it, or check the spelling."
    if key in _ALL_FIELDS:
        fix = "It belongs to other kinds of rule: remove it."
    return _fail(w, key, f"is not {what}.", expected="one of " + ", ".join(allowed), fix=fix)


def _conditions(w: Where, raw: Any) -> Conditions:
    if not isinstance(raw, dict):
        raise _fail(
            w,
            "when",
            "is not a table.",
            expected="e.g. when = { min_orders = 2 }",
            found=raw,
            fix="Write the conditions between braces.",
        )
    names = [f.name for f in fields(Conditions)]
    for key in raw:
        if key not in names:
            raise _unknown(w, f"when.{key}", names, "a condition")
    values: dict[str, Any] = {}
    for name in names:
        high = 1.0 if "churn" in name or "share" in name else math.inf
        value = _number(w, raw, name, f"when.{name}", 0.0, high, f"{name} = {min(high, 2):g}")
        if value is not None and name.endswith("_orders"):
            if value != int(value):
                raise _fail(
                    w,
                    f"when.{name}",
                    "is not a whole number.",
                    expected="a number of orders",
                    found=raw[name],
                    fix=f"Write e.g. {name} = 2.",
                )
            value = int(value)
        values[name] = value
    for stem in ("orders", "churn_risk", "days_since_last_order"):
        low, high = values[f"min_{stem}"], values[f"max_{stem}"]
        if low is not None and high is not None and low > high:
            raise _fail(
                w,
                f"when.min_{stem}",
                f"is above max_{stem} ({high}): no one matches.",
                expected=f"min_{stem} <= max_{stem}",
                found=low,
                fix="Swap or correct the bounds.",
            )
    return Conditions(**values)


def _rule(w: Where, raw: Any) -> OfferRule:
    if not isinstance(raw, dict):
        raise _fail(
            w,
            None,
            "is not a table.",
            expected="a [[rule]] table",
            found=raw,
            fix="See docs/offers.md.",
        )
    rule_id, kind = raw.get("id"), raw.get("kind")
    if not isinstance(rule_id, str) or not rule_id.strip():
        raise _fail(
            w,
            "id",
            "is missing or empty.",
            expected='a unique name, e.g. id = "winback"',
            found=rule_id,
            fix="Give every rule an id.",
        )
    if kind not in KINDS:
        raise _fail(
            w,
            "kind",
            "is missing or unknown.",
            expected="one of " + ", ".join(KINDS),
            found=kind,
            fix="Set kind to one of those.",
        )
    allowed = ("id", "kind", "text", "when", *_KIND_FIELDS[kind])
    for key in raw:
        if key not in allowed:
            raise _unknown(w, key, allowed, f"a field of a {kind} rule")
    for key in _REQUIRED[kind]:
        if key not in raw:
            example = _NUMBERS[key][2] if key in _NUMBERS else 'text = "..."'
            raise _fail(
                w,
                key,
                f"is missing (a {kind} rule needs it).",
                expected=f"e.g. {example}",
                fix=f"Add {key} to the rule.",
            )
    numbers: dict[str, float] = {}
    for key, (low, high, example) in _NUMBERS.items():
        value = _number(w, raw, key, key, low, high, example)
        if value is not None:
            numbers[key] = value
    if kind == "percent_off" and numbers["percent"] == 0:
        raise _fail(
            w,
            "percent",
            "is zero.",
            expected="above 0, at most 100",
            found=0,
            fix="Set e.g. percent = 10.",
        )
    on = raw.get("on", "favourite")
    if on not in TARGETS:
        raise _fail(
            w,
            "on",
            "is not a target.",
            expected="one of " + ", ".join(TARGETS),
            found=on,
            fix='Use on = "favourite" for the customer\'s favourite category.',
        )
    category = raw.get("category")
    if (on == "category") != (category is not None) or not isinstance(category or "x", str):
        raise _fail(
            w,
            "category",
            'goes with on = "category", and only with it.',
            expected='on = "category" and category = "<name>"',
            found=category,
            fix='Set both on = "category" and category, or neither.',
        )
    text = raw.get("text", NO_OFFER.text)
    if not isinstance(text, str):
        raise _fail(
            w,
            "text",
            "is not a string.",
            expected="a quoted text",
            found=text,
            fix='Write e.g. text = "10% off {category}".',
        )
    default = OfferRule(rule_id, kind, text)
    rule = OfferRule(
        rule_id,
        kind,
        text,
        **{k: numbers.get(k, getattr(default, k)) for k in _NUMBERS},
        on=on,
        category=category,
        when=_conditions(w, raw.get("when", {})),
    )
    placeholders = {"percent", "multiplier", "shipping_cost"} | (
        {"category"} if rule.on_category else set()
    )
    try:
        names = {n for _, n, _, _ in string.Formatter().parse(text) if n is not None}
        if names - placeholders:
            raise KeyError(sorted(names - placeholders)[0])
        rule.render("coffee")
    except (KeyError, ValueError, IndexError, AttributeError) as exc:
        shown = ", ".join("{" + n + "}" for n in sorted(placeholders))
        raise _fail(
            w,
            "text",
            f"cannot be filled in ({type(exc).__name__}: {exc}).",
            expected=f"placeholders among {shown}",
            found=text,
            fix="Use only those, without format specs; write {{ and }} for braces. "
            "{category} needs on = 'favourite' or 'category'.",
        ) from None
    return rule


def parse_rules(data: Mapping[str, Any], *, source: str = "offer rules") -> tuple[OfferRule, ...]:
    """Return the rules of a parsed TOML document (``{"rule": [...]}``), checked.

    Parameters
    ----------
    data
        The document, as :func:`tomllib.loads` returns it.
    source
        The file's name, for the messages.

    Returns
    -------
    tuple of OfferRule
        In the file's order.

    Raises
    ------
    ConfigError
        Naming the file, the rule (its number from 1, and its id), the field, what was
        expected and how to fix it.
    """
    top = (source, 0, None)
    for key in data:
        if key != "rule":
            raise _unknown(top, key, ["rule"], "a setting of an offer rules file")
    raw_rules = data.get("rule")
    if not isinstance(raw_rules, list) or not raw_rules:
        raise _fail(
            top,
            "rule",
            "there are no rules.",
            expected="at least one [[rule]] table",
            fix="Add [[rule]] tables (docs/offers.md has the defaults).",
        )
    rules: list[OfferRule] = []
    for index, raw in enumerate(raw_rules, start=1):
        w = (source, index, raw.get("id") if isinstance(raw, dict) else None)
        rule = _rule(w, raw)
        earlier = [i for i, r in enumerate(rules, start=1) if r.id == rule.id]
        if earlier:
            raise _fail(
                w,
                "id",
                f"repeats the id of rule {earlier[0]}.",
                expected="unique ids",
                found=rule.id,
                fix="Rename one of the two rules.",
            )
        if rule.kind == "none" and any(r.kind == "none" for r in rules):
            raise _fail(
                w,
                "kind",
                "is a second 'none' rule.",
                expected="at most one",
                found="none",
                fix="Keep one none rule.",
            )
        rules.append(rule)
    return tuple(rules)


def load_rules(path: str | Path) -> tuple[OfferRule, ...]:
    """Read a store's offer rules from a TOML file (format: docs/offers.md).

    Raises
    ------
    ConfigError
        When the file is missing, is not TOML, or a rule is wrong (see :func:`parse_rules`).
    """
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(
            f"{path}: cannot read the offer rules ({exc.strerror or exc}).",
            fix="Check the path of the rules file.",
        ) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"{path}: not a valid TOML file ({exc}).",
            fix="Fix the syntax at the line and column shown.",
        ) from None
    return parse_rules(data, source=str(path))


def default_rules() -> tuple[OfferRule, ...]:
    """Return the default rules (``offer_rules.toml`` of this package)."""
    resource = resources.files("regulars.recommend").joinpath("offer_rules.toml")
    return parse_rules(tomllib.loads(resource.read_text(encoding="utf-8")), source=resource.name)
