"""Next-best offers: the rules file, the expected value of each kind, and the choice."""

from __future__ import annotations

import math
import re
from dataclasses import replace
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from regulars.errors import ConfigError, InputError
from regulars.recommend.affinity import category_affinity
from regulars.recommend.baskets import Baskets
from regulars.recommend.offers import (
    OFFER_COLUMNS,
    Conditions,
    OfferRule,
    default_rules,
    expected_value,
    heuristic_p_order,
    load_rules,
    next_best_offers,
)

REPO = Path(__file__).resolve().parents[2]

PERCENT = OfferRule("pct", "percent_off", "{percent}% off {category}", lift=0.05, percent=10)
SHIPPING = OfferRule("ship", "free_shipping", "Free shipping", lift=0.06, shipping_cost=5.0)
POINTS = OfferRule(
    "pts",
    "points_multiplier",
    "{multiplier}x points on {category}",
    lift=0.03,
    multiplier=3,
    points_per_unit=1,
    point_value=0.02,
    on="favourite",
)
WINBACK = OfferRule("back", "percent_off", "{percent}% off", lift=0.08, percent=15, on="order")


def customers(*rows: tuple[str, int, float, float]) -> pd.DataFrame:
    """Rows of (customer_id, orders, days_since_last_order, aov)."""
    frame = pd.DataFrame(rows, columns=["customer_id", "orders", "days_since_last_order", "aov"])
    frame["revenue"] = frame["orders"] * frame["aov"]
    return frame


def affinity(*rows: tuple[str, str, float]) -> pd.DataFrame:
    """Rows of (customer_id, category, share), ranked by share within each customer."""
    frame = pd.DataFrame(rows, columns=["customer_id", "category", "share"])
    frame["rank"] = frame.groupby("customer_id")["share"].rank(ascending=False, method="first")
    return frame.astype({"rank": np.int64})


# One customer: 3 orders, the last 73 days ago, 80 a order, 40% of it in coffee.
ONE = customers(("C1", 3, 73.0, 80.0))
COFFEE = affinity(("C1", "coffee", 0.4), ("C1", "tea", 0.35), ("C1", "snacks", 0.25))
P_ONE = 3 / 4 * math.exp(-73 / 365)  # the heuristic: n / (n + 1) * exp(-d / H)


def offer_of(rule: OfferRule, **kwargs: object) -> pd.Series:
    frame = next_best_offers(COFFEE, ONE, rules=[rule], **kwargs)  # type: ignore[arg-type]
    return frame.iloc[0]


# --------------------------------------------------------------------- expected values


def test_percent_off_the_favourite_category_by_hand() -> None:
    got = offer_of(PERCENT)
    cost = 0.10 * 0.4 * 80  # 3.20
    assert got["p_order"] == pytest.approx(P_ONE)
    assert got["cost"] == pytest.approx(cost)
    assert got["expected_value"] == pytest.approx(0.05 * (80 - cost) - P_ONE * cost)
    assert (got["offer_id"], got["offer"], got["category"]) == ("pct", "10% off coffee", "coffee")
    assert got["basis"] == "heuristic"


def test_free_shipping_by_hand() -> None:
    got = offer_of(SHIPPING)
    assert got["cost"] == 5.0
    assert got["expected_value"] == pytest.approx(0.06 * (80 - 5) - P_ONE * 5)
    assert got["category"] is None and got["offer"] == "Free shipping"


def test_points_multiplier_by_hand() -> None:
    got = offer_of(POINTS)
    cost = (3 - 1) * 1 * 0.02 * 0.4 * 80  # 1.28
    assert got["cost"] == pytest.approx(cost)
    assert got["expected_value"] == pytest.approx(0.03 * (80 - cost) - P_ONE * cost)
    assert got["offer"] == "3x points on coffee"


def test_whole_order_percent_off_and_margin_by_hand() -> None:
    got = offer_of(replace(WINBACK, lift=0.3), margin=0.5)
    cost = 0.15 * 80  # the whole order, not the category share
    assert got["expected_value"] == pytest.approx(0.3 * (0.5 * 80 - cost) - P_ONE * cost)
    assert (got["offer"], got["category"]) == ("15% off", None)


def test_named_category_uses_that_categorys_share() -> None:
    tea = OfferRule(
        "tea",
        "percent_off",
        "{percent}% off {category}",
        lift=0.05,
        percent=10,
        on="category",
        category="tea",
    )
    got = offer_of(tea)
    cost = 0.10 * 0.35 * 80
    assert got["expected_value"] == pytest.approx(0.05 * (80 - cost) - P_ONE * cost)
    assert got["offer"] == "10% off tea"


def test_lift_is_capped_at_one_minus_p() -> None:
    value = expected_value(WINBACK, p_order=[0.98], aov=[50.0])
    cost = 0.15 * 50
    assert value == pytest.approx([0.02 * (50 - cost) - 0.98 * cost])
    assert expected_value(OfferRule("n", "none", "No offer"), p_order=[0.5], aov=[50.0]) == [0]


def test_heuristic_p_order() -> None:
    got = heuristic_p_order([1, 10, 1, 0], [0, 0, 365, 10], horizon_days=365)
    assert got == pytest.approx([0.5, 10 / 11, 0.5 / math.e, 0.0])


# ------------------------------------------------------------------------ the choice


def test_predictions_give_the_baseline_and_the_order_value() -> None:
    predictions = pd.DataFrame({"customer_id": ["C1"], "churn_risk": [0.3], "expected_spend": [60]})
    got = offer_of(PERCENT, predictions=predictions)
    cost = 0.10 * 0.4 * 60
    assert (got["basis"], got["p_order"], got["aov"]) == ("predictions", 0.7, 60.0)
    assert got["churn_risk"] == pytest.approx(0.3)
    assert got["expected_value"] == pytest.approx(0.05 * (60 - cost) - 0.7 * cost)


def test_customers_missing_from_the_predictions_get_the_heuristic() -> None:
    two = customers(("C1", 3, 73.0, 80.0), ("C2", 1, 10.0, 30.0))
    predictions = pd.DataFrame({"customer_id": ["C2"], "churn_risk": [0.9]})
    got = next_best_offers(COFFEE, two, rules=[WINBACK], predictions=predictions)
    assert list(got["basis"]) == ["heuristic", "predictions"]
    assert got["p_order"].to_numpy() == pytest.approx([P_ONE, 0.1])
    assert list(got["aov"]) == [80.0, 30.0]  # no expected_spend: the customer's own
    alone = next_best_offers(COFFEE, two, rules=[WINBACK])
    assert set(alone["basis"]) == {"heuristic"}


def test_the_churn_risky_customer_gets_the_winback_and_the_loyal_one_no_discount() -> None:
    who = customers(("risky", 2, 300.0, 50.0), ("loyal", 25, 5.0, 50.0))
    shares = affinity(("risky", "coffee", 0.8), ("loyal", "coffee", 0.8))
    predictions = pd.DataFrame({"customer_id": ["risky", "loyal"], "churn_risk": [0.85, 0.03]})
    got = next_best_offers(shares, who, predictions=predictions).set_index("customer_id")
    assert got.loc["risky", "offer_id"] == "winback_15pct"
    assert got.loc["loyal", "kind"] != "percent_off"
    assert got.loc["loyal", "offer_id"] == "favourite_2x_points"  # cheap, still worth it
    # with a low lift, no offer pays for a customer who orders anyway
    low = OfferRule("pct", "percent_off", "{percent}% off {category}", lift=0.01, percent=10)
    got = next_best_offers(shares, who, rules=[low], predictions=predictions)
    assert got.set_index("customer_id").loc["loyal", "offer_id"] == "none"


def test_no_offer_when_every_value_is_negative() -> None:
    dear = OfferRule("dear", "free_shipping", "Free shipping", lift=0.0, shipping_cost=9)
    dearer = OfferRule("dearer", "percent_off", "{percent}% off", lift=0.0, percent=50, on="order")
    got = next_best_offers(COFFEE, ONE, rules=[dearer, dear]).iloc[0]
    assert (got["offer_id"], got["kind"], got["offer"]) == ("none", "none", "No offer")
    assert got["expected_value"] == 0.0 and got["cost"] == 0.0
    assert got["runner_up_id"] == "dear"  # the least bad
    assert got["runner_up_value"] == pytest.approx(-P_ONE * 9)
    assert "no offer has a positive value" in got["why"]


def test_the_none_rule_of_the_file_names_the_no_offer() -> None:
    quiet = OfferRule("nothing", "none", "Nothing this time")
    dear = OfferRule("dear", "free_shipping", "Free shipping", lift=0.0, shipping_cost=9)
    got = next_best_offers(COFFEE, ONE, rules=[dear, quiet]).iloc[0]
    assert (got["offer_id"], got["offer"]) == ("nothing", "Nothing this time")


def test_ties_go_to_the_rule_listed_first_and_to_no_offer_at_zero() -> None:
    twin = OfferRule("twin", "free_shipping", "Twin", lift=0.06, shipping_cost=5.0)
    first = next_best_offers(COFFEE, ONE, rules=[SHIPPING, twin]).iloc[0]
    assert (first["offer_id"], first["runner_up_id"]) == ("ship", "twin")
    assert first["runner_up_value"] == first["expected_value"]
    swapped = next_best_offers(COFFEE, ONE, rules=[twin, SHIPPING]).iloc[0]
    assert (swapped["offer_id"], swapped["runner_up_id"]) == ("twin", "ship")
    free = OfferRule("free", "points_multiplier", "Free", lift=0.0, multiplier=1, point_value=1)
    assert next_best_offers(COFFEE, ONE, rules=[free]).iloc[0]["offer_id"] == "none"


def test_conditions_decide_who_is_eligible() -> None:
    who = customers(("new", 1, 10.0, 40.0), ("repeat", 4, 10.0, 40.0), ("gone", 4, 900.0, 40.0))
    shares = affinity(("new", "tea", 0.9), ("repeat", "tea", 0.2), ("gone", "tea", 0.9))
    rule = OfferRule(
        "r",
        "percent_off",
        "{percent}% off {category}",
        lift=0.2,
        percent=5,
        when=Conditions(min_orders=2, min_category_share=0.5, max_days_since_last_order=365),
    )
    got = next_best_offers(shares, who, rules=[rule])
    assert list(got["offer_id"]) == ["none", "none", "none"]
    assert list(got["runner_up_id"]) == [None, None, None]
    assert list(got["why"].str.contains("no rule applies")) == [True, True, True]
    loose = OfferRule(
        "r",
        "percent_off",
        "{percent}% off {category}",
        lift=0.2,
        percent=5,
        when=Conditions(min_churn_risk=0.9),
    )
    got = next_best_offers(shares, who, rules=[loose])  # heuristic risk: only "gone" has 0.9+
    assert list(got["offer_id"]) == ["none", "none", "r"]


def test_category_offers_only_go_to_buyers_of_the_category() -> None:
    who = customers(("C1", 3, 73.0, 80.0), ("C9", 3, 73.0, 80.0))
    snacks = OfferRule(
        "snk",
        "percent_off",
        "{percent}% off {category}",
        lift=0.05,
        percent=10,
        on="category",
        category="snacks",
    )
    got = next_best_offers(COFFEE, who, rules=[snacks, PERCENT])
    assert list(got["offer_id"]) == ["snk", "none"]  # C9 has no affinity at all
    assert list(got["category"]) == ["snacks", None]


def test_no_offer_is_made_on_products_without_a_category() -> None:
    shares = affinity(("C1", "(none)", 0.7), ("C1", "tea", 0.3))
    got = next_best_offers(shares, ONE, rules=[replace(PERCENT, lift=0.3)]).iloc[0]
    assert (got["offer"], got["category"]) == ("10% off tea", "tea")
    assert got["cost"] == pytest.approx(0.1 * 0.3 * 80)


def test_rules_given_in_python_need_unique_ids() -> None:
    with pytest.raises(ConfigError, match="'pct' is used more than once"):
        next_best_offers(COFFEE, ONE, rules=[PERCENT, replace(PERCENT, percent=20)])


def test_output_columns_order_and_why() -> None:
    two = customers(("C2", 1, 10.0, 30.0), ("C1", 3, 73.0, 80.0))
    got = next_best_offers(COFFEE, two, rules=[PERCENT, SHIPPING])
    assert list(got.columns) == list(OFFER_COLUMNS)
    assert list(got["customer_id"]) == ["C2", "C1"]
    why = got.iloc[1]["why"]
    value = got.iloc[1]["expected_value"]
    assert why.startswith(f"P(order) {P_ONE:.2f} (heuristic); EV = ")
    assert f"= {value:.2f}; runner-up " in why


def test_end_to_end_from_baskets() -> None:
    lines = pd.DataFrame(
        [
            ("A", "o1", "2024-01-05T10:00:00Z", "k1", 120.0),
            ("A", "o2", "2025-06-01T10:00:00Z", "g1", 30.0),
            ("A", "o3", "2025-06-20T10:00:00Z", "g1", 30.0),
        ],
        columns=["customer_id", "order_id", "ordered_at", "product_id", "spend"],
    )
    baskets = Baskets.from_frame(lines, as_of=date(2025, 6, 30))
    names = np.array([{"k1": "kitchen", "g1": "garden"}[i] for i in baskets.item_ids])
    shares = category_affinity(baskets, names, half_life_days=90)
    assert list(shares["category"]) == ["garden", "kitchen"]  # recent garden beats kitchen
    rule = replace(PERCENT, lift=0.2)
    got = next_best_offers(shares, customers(("A", 3, 10.0, 60.0)), rules=[rule]).iloc[0]
    assert got["offer"] == "10% off garden"
    assert got["cost"] == pytest.approx(0.1 * shares["share"].iloc[0] * 60)


# ------------------------------------------------------------------------ bad inputs


def test_missing_customer_columns_and_bad_values_are_named() -> None:
    with pytest.raises(InputError, match="Required column aov missing from the customers"):
        next_best_offers(COFFEE, ONE.drop(columns="aov"), rules=[PERCENT])
    bad = customers(("C1", 3, 73.0, 80.0), ("C2", -1, 5.0, 10.0))
    with pytest.raises(InputError, match=r"column 'orders': orders must be .* \(customer 'C2'\)"):
        next_best_offers(COFFEE, bad, rules=[PERCENT])
    with pytest.raises(ConfigError, match="horizon_days must be positive"):
        next_best_offers(COFFEE, ONE, rules=[PERCENT], horizon_days=0)


# ------------------------------------------------------------------------ rules files


def test_the_default_rules_cover_every_kind_of_offer() -> None:
    rules = default_rules()
    kinds = {r.kind for r in rules}
    assert kinds == {"percent_off", "free_shipping", "points_multiplier", "none"}
    winback = next(r for r in rules if r.id == "winback_15pct")
    assert winback.when.min_churn_risk is not None and winback.on == "order"
    assert next(r for r in rules if r.id == "favourite_10pct").percent == 10


def test_the_example_of_the_docs_loads(tmp_path: Path) -> None:
    text = (REPO / "docs" / "offers.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```toml\n(.*?)```", text, flags=re.S)
    assert blocks, "docs/offers.md should show a rules file"
    path = tmp_path / "store_rules.toml"
    path.write_text(blocks[0], encoding="utf-8")
    rules = load_rules(path)
    assert len(rules) >= 5 and rules[-1].kind == "none"


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "my_offers.toml"
    path.write_text(body, encoding="utf-8")
    return path


GOOD = """
[[rule]]
id = "ten"
kind = "percent_off"
text = "{percent}% off {category}"
percent = 10
lift = 0.05
"""


@pytest.mark.parametrize(
    ("body", "where", "message", "fix"),
    [
        (
            GOOD.replace('"percent_off"', '"bogus"'),
            "rule 1 ('ten'), field 'kind'",
            "is missing or unknown",
            "Set kind",
        ),
        (
            GOOD.replace("percent = 10\n", ""),
            "rule 1 ('ten'), field 'percent'",
            "is missing (a percent_off rule needs it)",
            "Add percent",
        ),
        (
            GOOD.replace("lift = 0.05", 'lift = "high"'),
            "rule 1 ('ten'), field 'lift'",
            "is not a number",
            "Write a bare number",
        ),
        (
            GOOD.replace("lift = 0.05", "lift = true"),
            "rule 1 ('ten'), field 'lift'",
            "is not a number",
            "Write a bare number",
        ),
        (
            GOOD.replace("lift = 0.05", "lift = -0.1"),
            "rule 1 ('ten'), field 'lift'",
            "must not be negative",
            "Set it from 0 to 1",
        ),
        (
            GOOD.replace("percent = 10", "percent = 150"),
            "rule 1 ('ten'), field 'percent'",
            "is out of range",
            "Set it from 0 to 100",
        ),
        (GOOD + GOOD, "rule 2 ('ten'), field 'id'", "repeats the id of rule 1", "Rename"),
        (
            GOOD + "percnt = 5\n",
            "rule 1 ('ten'), field 'percnt'",
            "is not a field of a percent_off rule",
            "Did you mean 'percent'?",
        ),
        (
            GOOD + "shipping_cost = 5\n",
            "rule 1 ('ten'), field 'shipping_cost'",
            "is not a field of a percent_off rule",
            "other kinds of rule",
        ),
        (
            GOOD + "when = { min_order = 2 }\n",
            "rule 1 ('ten'), field 'when.min_order'",
            "is not a condition",
            "Did you mean 'min_orders'?",
        ),
        (
            GOOD + "when = { min_orders = 5, max_orders = 2 }\n",
            "rule 1 ('ten'), field 'when.min_orders'",
            "is above max_orders",
            "Swap",
        ),
        (
            GOOD + "when = { max_churn_risk = 1.5 }\n",
            "rule 1 ('ten'), field 'when.max_churn_risk'",
            "is out of range",
            "from 0 to 1",
        ),
        (
            GOOD.replace("{category}", "{cat}"),
            "rule 1 ('ten'), field 'text'",
            "cannot be filled in",
            "Use only those",
        ),
        (
            GOOD + 'on = "order"\n',
            "rule 1 ('ten'), field 'text'",
            "cannot be filled in",
            "{category} needs on",
        ),
        (
            GOOD + 'category = "tea"\n',
            "rule 1 ('ten'), field 'category'",
            'goes with on = "category"',
            "Set both",
        ),
        (
            GOOD + 'on = "everything"\n',
            "rule 1 ('ten'), field 'on'",
            "is not a target",
            'on = "favourite"',
        ),
        (GOOD.replace('id = "ten"', ""), "rule 1, field 'id'", "is missing", "Give every rule"),
        (
            '[[rule]]\nid = "a"\nkind = "none"\n[[rule]]\nid = "b"\nkind = "none"\n',
            "rule 2 ('b'), field 'kind'",
            "second 'none' rule",
            "Keep one",
        ),
        ("title = 'x'\n", "field 'title'", "is not a setting", "Remove it"),
        ("", "field 'rule'", "there are no rules", "Add [[rule]] tables"),
    ],
)
def test_rules_file_errors_name_the_file_rule_field_and_fix(
    tmp_path: Path, body: str, where: str, message: str, fix: str
) -> None:
    path = write(tmp_path, body)
    with pytest.raises(ConfigError) as caught:
        load_rules(path)
    text = str(caught.value)
    assert text.startswith(f"{path}: {where}" if "rule" in where[:5] else f"{path}, {where}")
    assert message in text
    assert "Expected " in text
    assert fix in caught.value.fix  # type: ignore[operator]


def test_unreadable_and_invalid_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the offer rules"):
        load_rules(tmp_path / "absent.toml")
    with pytest.raises(ConfigError, match=r"my_offers.toml: not a valid TOML file .*line 2"):
        load_rules(write(tmp_path, "[[rule]]\nid = \n"))


def test_a_store_file_round_trips(tmp_path: Path) -> None:
    body = (
        GOOD
        + """
[[rule]]
id = "tea_points"
kind = "points_multiplier"
text = "{multiplier}x points on {category}"
multiplier = 3
point_value = 0.01
points_per_unit = 0
on = "category"
category = "tea"
lift = 0.02
when = { min_orders = 2, max_days_since_last_order = 180 }
"""
    )
    ten, tea = load_rules(write(tmp_path, body))
    assert ten == OfferRule(
        "ten", "percent_off", "{percent}% off {category}", lift=0.05, percent=10, on="favourite"
    )
    assert (tea.points_per_unit, tea.category, tea.render("tea")) == (
        0.0,
        "tea",
        "3x points on tea",
    )
    assert tea.when == Conditions(min_orders=2, max_days_since_last_order=180)
