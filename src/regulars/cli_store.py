"""The commands over a store's analysis: report, customers, predict and evaluate.

Each opens the store (a workspace, or any source imported into a temporary one), runs the
library on it, and writes what it was asked for. Registered on the app of :mod:`.cli`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from regulars.cli_common import _date, _write_text, app, err, out
from regulars.errors import ConfigError
from regulars.models.units import horizon_label, parse_horizon
from regulars.workspace import Workspace

if TYPE_CHECKING:
    import pandas as pd

    from regulars.analysis import StoreAnalysis as StoreAnalysisType
    from regulars.evaluation import Evaluation
    from regulars.predict import PredictionOptions, Predictions

__all__ = ["customers", "evaluate", "predict", "report"]

DataArgument = Annotated[
    Path,
    typer.Argument(
        help="A workspace file, or a source to import first (any format `regulars import` reads).",
        show_default=False,
    ),
]
AsOfOption = Annotated[
    str | None,
    typer.Option("--as-of", help="Analysis date YYYY-MM-DD (default: the day of the last sale)."),
]
CurrencyOption = Annotated[
    str | None,
    typer.Option(help="The currency to analyse (needed when the store sells in several)."),
]
EngineOption = Annotated[
    str, typer.Option(help="duckdb (default, embedded) or spark (needs regulars[spark]).")
]
SparkMasterOption = Annotated[
    str | None,
    typer.Option(help="Spark master URL for --engine spark (default: local[2])."),
]


HorizonOption = Annotated[
    str,
    typer.Option(help="Prediction horizon with its unit: 90d, 13w, 12m or 1y."),
]
ModelOption = Annotated[
    str,
    typer.Option(
        help="BTYD model: auto (the lowest holdout error on the store's last horizon), "
        "bgnbd, mbgnbd or paretonbd."
    ),
]
PredictOption = Annotated[
    bool,
    typer.Option(
        "--predictions/--no-predictions",
        help="Also predict every customer (BTYD model, CLV, churn risk); off is faster.",
    ),
]
DiscountOption = Annotated[
    float,
    typer.Option("--discount-rate", help="CLV's discount rate per YEAR, e.g. 0.1 for 10%."),
]

T = TypeVar("T")


def _on_store(
    data: Path,
    run: Callable[[Mapping[str, Any], Callable[[str], None]], T],
    *,
    engine: str,
    spark_master: str | None,
    steps: int,
) -> T:
    """Open (or import into a temporary workspace) ``data`` and run ``run`` on its tables."""
    import tempfile

    from regulars.engines import open_engine

    with (
        tempfile.TemporaryDirectory(prefix="regulars-") as folder,
        Progress(
            TextColumn("[progress.description]{task.description}"),
            BarColumn(),
            TimeElapsedColumn(),
            console=err,
            transient=True,
        ) as bar,
    ):
        task = bar.add_task("opening the store", total=steps)
        ws = Workspace.of_source(data, folder)

        def step(name: str) -> None:
            bar.update(task, description=name, advance=1)

        with open_engine(ws, engine, spark_master=spark_master) as eng:
            return run(eng.tables(), step)


def _analyze(
    data: Path,
    *,
    as_of: str | None,
    currency: str | None,
    engine: str,
    spark_master: str | None,
    include_customers: bool = False,
    predictions: PredictionOptions | None = None,
    recommendations: bool = False,
) -> StoreAnalysisType:
    """Analyse ``data`` (see :func:`regulars.analysis.analyze`), with progress."""
    from regulars.analysis import analyze

    def run(tables: Mapping[str, Any], step: Callable[[str], None]) -> StoreAnalysisType:
        return analyze(
            tables,
            store=data.name,
            as_of=_date(as_of, "--as-of") if as_of else None,
            currency=currency.upper() if currency else None,
            include_customers=include_customers,
            predictions=predictions,
            recommendations=recommendations,
            progress=step,
        )

    steps = 16 + 4 * recommendations
    return _on_store(data, run, engine=engine, spark_master=spark_master, steps=steps)


def _prediction_options(
    wanted: bool, horizon: str, model: str, discount_rate: float
) -> PredictionOptions | None:
    """Return the options of --predictions (None with --no-predictions)."""
    from regulars.predict import PredictionOptions

    return PredictionOptions(parse_horizon(horizon), model, discount_rate) if wanted else None


def _table_out(out_file: Path) -> None:
    if out_file.suffix not in (".parquet", ".csv"):
        raise ConfigError(
            f"Cannot write {out_file.name}: unknown file type.",
            fix="End the --out file name with .parquet or .csv.",
        )


def _write_table(table: pd.DataFrame, out_file: Path) -> None:
    out_file.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_file.with_name(out_file.name + ".tmp")
    if out_file.suffix == ".csv":
        flat = table.copy()
        if "segments" in flat:
            flat["segments"] = flat["segments"].map(lambda s: "|".join(s) if s is not None else "")
        flat.to_csv(tmp, index=False)
    else:
        table.to_parquet(tmp, index=False)
    tmp.replace(out_file)


@app.command()
def report(
    data: DataArgument,
    out_file: Annotated[Path, typer.Option("--out", "-o", help="The HTML report to write.")] = Path(
        "report.html"
    ),
    json_file: Annotated[
        Path | None,
        typer.Option("--json", help="Also write the report's numbers as JSON to this file."),
    ] = None,
    as_of: AsOfOption = None,
    currency: CurrencyOption = None,
    engine: EngineOption = "duckdb",
    spark_master: SparkMasterOption = None,
    horizon: HorizonOption = "12m",
    model: ModelOption = "auto",
    discount_rate: DiscountOption = 0.1,
    predictions: PredictOption = True,
    recommendations: Annotated[
        bool,
        typer.Option(
            "--recommendations/--no-recommendations",
            help="Also show what each RFM segment will buy next (needs order lines).",
        ),
    ] = True,
) -> None:
    """Build the retention report: KPIs, churn, cohorts, LTV, RFM, predictions, what to do.

    One self-contained HTML file (works offline, can be emailed); --json writes the same
    numbers for machines.
    """
    from regulars.analysis import analysis_to_json
    from regulars.report import render_report

    analysis = _analyze(
        data,
        as_of=as_of,
        currency=currency,
        engine=engine,
        spark_master=spark_master,
        predictions=_prediction_options(predictions, horizon, model, discount_rate),
        recommendations=recommendations,
    )
    _write_text(out_file, render_report(analysis))
    if json_file is not None:
        _write_text(json_file, json.dumps(analysis_to_json(analysis), indent=2))
    k = analysis.kpis
    out.print(
        f"Report for {analysis.store} as of {analysis.as_of} written to [bold]{out_file}[/]: "
        f"{k.get('customers', 0):,} customers, repeat-purchase rate "
        f"{(k.get('repeat_purchase_rate') or 0):.1%}."
    )


@app.command()
def customers(
    data: DataArgument,
    out_file: Annotated[
        Path,
        typer.Option("--out", "-o", help="Where to write the table: .parquet or .csv."),
    ] = Path("customers.parquet"),
    as_of: AsOfOption = None,
    currency: CurrencyOption = None,
    engine: EngineOption = "duckdb",
    spark_master: SparkMasterOption = None,
    horizon: HorizonOption = "12m",
    model: ModelOption = "auto",
    discount_rate: DiscountOption = 0.1,
    predictions: PredictOption = True,
) -> None:
    """Export the customer table: RFM, segments, historic CLV and the predictions.

    Predicted columns: model, expected_orders, p_alive, churn_risk, expected_next_order_at,
    expected_spend, clv, clv_low, clv_high, at_risk (see docs/predictions.md).
    """
    _table_out(out_file)
    analysis = _analyze(
        data,
        as_of=as_of,
        currency=currency,
        engine=engine,
        spark_master=spark_master,
        include_customers=True,
        predictions=_prediction_options(predictions, horizon, model, discount_rate),
    )
    _write_table(analysis.customers, out_file)
    out.print(
        f"Wrote {len(analysis.customers):,} customers to [bold]{out_file}[/] "
        f"(as of {analysis.as_of})."
    )


@app.command()
def predict(
    data: DataArgument,
    out_file: Annotated[
        Path,
        typer.Option("--out", "-o", help="Where to write the predictions: .parquet or .csv."),
    ] = Path("predictions.parquet"),
    as_of: AsOfOption = None,
    horizon: HorizonOption = "12m",
    model: ModelOption = "auto",
    discount_rate: DiscountOption = 0.1,
    currency: CurrencyOption = None,
    json_file: Annotated[
        Path | None,
        typer.Option("--json", help="Also write how the predictions were made, as JSON."),
    ] = None,
    engine: EngineOption = "duckdb",
    spark_master: SparkMasterOption = None,
) -> None:
    """Predict each customer's next orders, P(alive), churn risk and CLV over a horizon.

    Time is in days; --horizon takes a unit (90d, 13w, 12m). Nothing after --as-of is
    used. Writes one row per customer: model, expected_orders, p_alive, p_no_order,
    expected_next_order_at, expected_spend, clv, clv_low, clv_high, churn_risk,
    churn_method, value_at_risk, at_risk, at_risk_rank.
    """
    from regulars.predict import predict as run_predict

    _table_out(out_file)
    days = parse_horizon(horizon)
    when = _date(as_of, "--as-of") if as_of else None

    def run(tables: Mapping[str, Any], step: Callable[[str], None]) -> Predictions:
        return run_predict(
            tables,
            as_of=when,
            horizon_days=days,
            model=model,
            discount_rate=discount_rate,
            currency=currency.upper() if currency else None,
            progress=step,
        )

    result = _on_store(data, run, engine=engine, spark_master=spark_master, steps=8)
    _write_table(result.frame, out_file)
    if json_file is not None:
        _write_text(json_file, json.dumps(result.as_dict(), indent=2, default=str))
    frame = result.frame
    out.print(
        f"Predictions as of {result.as_of} over {horizon_label(days)} for {len(frame):,} "
        f"customers written to [bold]{out_file}[/].\n"
        f"Model: {result.model_reason}.\n"
        f"Expected orders: {frame['expected_orders'].sum():,.0f}; expected CLV "
        f"({result.currency}, {result.discount_rate:.0%} a year): {frame['clv'].sum():,.0f}; "
        f"at risk: {int(frame['at_risk'].sum()):,} valuable customers "
        f"(churn risk: {result.churn_method})."
    )


@app.command()
def evaluate(
    data: DataArgument,
    as_of: Annotated[
        str,
        typer.Option(
            "--as-of",
            help="The calibration cutoff YYYY-MM-DD: models see nothing after it.",
            show_default=False,
        ),
    ],
    horizon: HorizonOption = "13w",
    out_file: Annotated[Path, typer.Option("--out", "-o", help="The HTML page to write.")] = Path(
        "evaluation.html"
    ),
    json_file: Annotated[
        Path | None,
        typer.Option("--json", help="Also write every metric as JSON to this file."),
    ] = None,
    currency: CurrencyOption = None,
    engine: EngineOption = "duckdb",
    spark_master: SparkMasterOption = None,
) -> None:
    """Judge the models on the store's own history: fit up to --as-of, score the horizon after.

    Reports total predicted vs actual purchases (bias), MAE/RMSE per customer, the
    conditional expectation by calibration frequency, AUC and Brier for "buys again",
    Spearman and normalized Gini for revenue, and a tracking chart.
    """
    from regulars.evaluation import evaluate as run_evaluate
    from regulars.report.evaluation import render_evaluation

    days = parse_horizon(horizon)
    cutoff = _date(as_of, "--as-of")

    def run(tables: Mapping[str, Any], step: Callable[[str], None]) -> Evaluation:
        return run_evaluate(
            tables,
            cutoff=cutoff,
            horizon_days=days,
            currency=currency.upper() if currency else None,
            store=data.name,
            progress=step,
        )

    result = _on_store(data, run, engine=engine, spark_master=spark_master, steps=10)
    _write_text(out_file, render_evaluation(result))
    if json_file is not None:
        _write_text(json_file, json.dumps(result.to_dict(), indent=2, default=str))
    out.print(f"Evaluation written to [bold]{out_file}[/]: {result.best_reason.rstrip('.')}.")
