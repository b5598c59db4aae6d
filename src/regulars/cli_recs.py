"""The commands over recommendations: recommend, offers and evaluate-recs.

Registered on the app of :mod:`.cli`; each opens the store like the commands of
:mod:`.cli_store` and calls :mod:`regulars.recommend`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from regulars.cli_common import _date, _write_text, app, out
from regulars.cli_store import (
    AsOfOption,
    CurrencyOption,
    DataArgument,
    EngineOption,
    SparkMasterOption,
    _on_store,
    _table_out,
    _write_table,
)
from regulars.errors import ConfigError

if TYPE_CHECKING:
    from regulars.recommend.run import RecommendationEvaluation, Recommendations
    from regulars.recommend.run_offers import Offers

__all__ = ["evaluate_recs", "offers", "recommend"]

KOption = Annotated[int, typer.Option("--k", help="Products per customer.")]


def _customer_ids(text: str | None) -> list[str] | None:
    """Parse --customers: ids separated by commas, or @FILE with one id per line."""
    if text is None:
        return None
    if text.startswith("@"):
        path = Path(text[1:])
        if not path.is_file():
            raise ConfigError(
                f"--customers {text}: no file {path}.",
                fix="Give ids separated by commas, or @FILE with one id per line.",
            )
        ids = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
    else:
        ids = [part.strip() for part in text.split(",")]
    ids = [i for i in ids if i]
    if not ids:
        raise ConfigError(
            "--customers holds no customer id.", fix="Pass --customers C1,C2 or @ids.txt."
        )
    return ids


@app.command()
def recommend(
    data: DataArgument,
    out_file: Annotated[
        Path, typer.Option("--out", "-o", help="The .parquet or .csv file to write.")
    ] = Path("recommendations.csv"),
    as_of: AsOfOption = None,
    k: KOption = 10,
    customers: Annotated[
        str | None,
        typer.Option(help="Only these customers: ids separated by commas, or @FILE (one a line)."),
    ] = None,
    mode: Annotated[
        str, typer.Option(help="all, buy_again (bought before only) or cross_sell (never bought).")
    ] = "all",
    max_per_category: Annotated[
        int | None, typer.Option(help="At most this many products of one category per customer.")
    ] = None,
    exclude: Annotated[
        list[str] | None, typer.Option(help="A product id never to recommend (repeatable).")
    ] = None,
    json_file: Annotated[
        Path | None, typer.Option("--json", help="Also write how the lists were made as JSON.")
    ] = None,
    currency: CurrencyOption = None,
    engine: EngineOption = "duckdb",
    spark_master: SparkMasterOption = None,
) -> None:
    """Recommend products per customer: buy-again, cross-sell, category and popular.

    Writes customer_id, rank, product_id, score and reason (buy_again, cross_sell,
    category, popular), best first.
    """
    from regulars.recommend.run import recommend as run_recommend

    _table_out(out_file)
    ids = _customer_ids(customers)
    when = _date(as_of, "--as-of") if as_of else None
    if mode not in ("all", "buy_again", "cross_sell"):
        raise ConfigError(f"Unknown --mode {mode!r}.", fix="Use all, buy_again or cross_sell.")

    def run(tables: Mapping[str, Any], step: Callable[[str], None]) -> Recommendations:
        return run_recommend(
            tables,
            as_of=when,
            k=k,
            customers=ids,
            mode=mode,  # type: ignore[arg-type]
            currency=currency.upper() if currency else None,
            max_per_category=max_per_category,
            exclude=exclude or (),
            progress=step,
        )

    result = _on_store(data, run, engine=engine, spark_master=spark_master, steps=4)
    _write_table(result.frame, out_file)
    if json_file is not None:
        _write_text(json_file, json.dumps(result.as_dict(), indent=2))
    info = result.as_dict()
    reasons = ", ".join(f"{n:,} {r}" for r, n in info["reasons"].items())
    out.print(
        f"{len(result.frame):,} recommendations for {result.customers:,} customers as of "
        f"{result.as_of} written to [bold]{out_file}[/] ({reasons}).\n"
        f"Ranker: {result.ranker_reason}."
    )


@app.command()
def offers(
    data: DataArgument,
    out_file: Annotated[
        Path, typer.Option("--out", "-o", help="The .parquet or .csv file to write.")
    ] = Path("offers.csv"),
    as_of: AsOfOption = None,
    rules: Annotated[
        Path | None,
        typer.Option(help="The store's offer rules (TOML; see docs/offers.md). Default: built in."),
    ] = None,
    horizon: Annotated[
        str, typer.Option(help="Horizon of P(order) and of the predictions: 90d, 13w, 12m, 1y.")
    ] = "12m",
    predictions: Annotated[
        bool,
        typer.Option(
            "--predictions/--no-predictions",
            help="Use the models' churn risk and spend (off: a simple heuristic, faster).",
        ),
    ] = True,
    margin: Annotated[
        float, typer.Option(help="Share of an order's value the store keeps (1 = revenue).")
    ] = 1.0,
    json_file: Annotated[
        Path | None, typer.Option("--json", help="Also write how offers were chosen as JSON.")
    ] = None,
    currency: CurrencyOption = None,
    engine: EngineOption = "duckdb",
    spark_master: SparkMasterOption = None,
) -> None:
    """Choose each customer's next-best offer and its expected value.

    Writes customer_id, offer_id, offer, category, expected_value, p_order, churn_risk,
    basis and the runner-up; customers for whom no offer pays get "No offer".
    """
    from regulars.models.units import parse_horizon
    from regulars.recommend.run_offers import make_offers

    _table_out(out_file)
    when = _date(as_of, "--as-of") if as_of else None
    days = parse_horizon(horizon)

    def run(tables: Mapping[str, Any], step: Callable[[str], None]) -> Offers:
        return make_offers(
            tables,
            as_of=when,
            rules=rules,
            predictions=predictions,
            horizon_days=days,
            margin=margin,
            currency=currency.upper() if currency else None,
            progress=step,
        )

    result = _on_store(data, run, engine=engine, spark_master=spark_master, steps=4)
    _write_table(result.frame, out_file)
    info = result.as_dict()
    if json_file is not None:
        _write_text(json_file, json.dumps(info, indent=2))
    chosen = ", ".join(f"{o['customers']:,} {o['offer_id']}" for o in info["offers"])
    out.print(
        f"Offers for {len(result.frame):,} customers as of {result.as_of} written to "
        f"[bold]{out_file}[/] ({chosen}).\nBaseline: {result.basis}; rules: {result.rules_source}."
    )


@app.command("evaluate-recs")
def evaluate_recs(
    data: DataArgument,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            help="The cutoff YYYY-MM-DD: the recommender sees nothing after it, and each "
            "customer's first basket after it is the truth. Without it: the last protocol.",
        ),
    ] = None,
    protocol: Annotated[
        str | None,
        typer.Option(
            help="cutoff (the default with --as-of): the first basket after --as-of is the "
            "truth; last (the default without): each customer's last basket (on or before "
            "--as-of when given)."
        ),
    ] = None,
    k: Annotated[
        list[int] | None, typer.Option("--k", help="List length to score at (repeatable).")
    ] = None,
    json_file: Annotated[
        Path | None, typer.Option("--json", help="Also write every metric as JSON to this file.")
    ] = None,
    currency: CurrencyOption = None,
    engine: EngineOption = "duckdb",
    spark_master: SparkMasterOption = None,
) -> None:
    """Judge the recommendations on the next basket, beside the baselines.

    Recall, NDCG (usual, and Li et al.'s over all true items), hit rate and the repeat /
    explore split of the hits, for regulars, G-TopFreq, P-TopFreq and GP-TopFreq.
    """
    from regulars.recommend.run import evaluate_recommendations

    when = _date(as_of, "--as-of") if as_of else None
    chosen = protocol or ("cutoff" if when else "last")
    if chosen not in ("last", "cutoff"):
        raise ConfigError(f"Unknown --protocol {protocol!r}.", fix="Use last or cutoff.")
    if chosen == "cutoff" and when is None:
        raise ConfigError(
            "The cutoff protocol needs a cutoff date.", fix="Pass --as-of YYYY-MM-DD."
        )
    # cutoff: read everything, cut at --as-of; last: read up to --as-of.
    data_end, cut = (None, when) if chosen == "cutoff" else (when, None)

    def run(tables: Mapping[str, Any], step: Callable[[str], None]) -> RecommendationEvaluation:
        return evaluate_recommendations(
            tables,
            as_of=data_end,
            protocol=chosen,
            cutoff=cut,
            ks=k or [10, 20],
            currency=currency.upper() if currency else None,
            progress=step,
        )

    result = _on_store(data, run, engine=engine, spark_master=spark_master, steps=5)
    if json_file is not None:
        _write_text(json_file, json.dumps(result.as_dict(), indent=2))
    table = Table(
        title=f"Next-basket evaluation ({result.protocol} protocol, {result.customers:,} customers)"
    )
    for name in ("method", "k", "recall", "NDCG", "NDCG (Li)", "hit rate", "repeat share"):
        table.add_column(name, justify="left" if name == "method" else "right")
    for row in result.rows():
        table.add_row(
            row["method"],
            str(row["k"]),
            f"{row['recall']:.4f}",
            f"{row['ndcg']:.4f}",
            f"{row['ndcg_li']:.4f}",
            f"{row['hit_rate']:.3f}",
            f"{row['repeat_share']:.2f}",
        )
    out.print(table)
    out.print(f"Ranker: {result.ranker_reason}.")
