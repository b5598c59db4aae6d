"""Writing a simulated store: streaming Parquet (and CSV) files, the manifest and the truth.

Files are written into a staging directory beside the output, one chunk at a time, and moved
into place only when complete, so a failed or interrupted run leaves nothing half-written.
Writer settings are fixed (zstd, dictionary encoding, statistics) so that the same data gives
byte-identical files. Compression and file writes run on one background thread, in the order
the tables arrive, while the next chunk is generated.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import shutil
import threading
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

from regulars.errors import ConfigError
from regulars.schema import TABLES, TIMESTAMP, conform

__all__ = [
    "CATEGORY_AFFINITY_SCHEMA",
    "CSV_SCHEMA",
    "GENERATOR",
    "MANIFEST_FORMAT",
    "TRUTH_SCHEMA",
    "StoreWriter",
    "check_output",
]

MANIFEST_FORMAT = "regulars-canonical"
"""The ``format`` of the manifest: a directory of canonical tables."""
GENERATOR = "regulars simulate"
"""The ``generator`` of the manifest."""

_TABLE_NAMES = tuple(TABLES)
_PENDING = 1  # tables waiting for the writer thread (bounds memory)


def _field(name: str, type_: pa.DataType, doc: str, *, nullable: bool = False) -> pa.Field:
    return pa.field(name, type_, nullable=nullable, metadata={"doc": doc})


TRUTH_SCHEMA = pa.schema(
    [
        _field("customer_id", pa.string(), "The customer (same id as in customers and orders)."),
        _field("first_purchase_at", TIMESTAMP, "Time of the first order (the BG/NBD time 0)."),
        _field("purchase_rate", pa.float64(), "Latent purchase rate while active, per day."),
        _field("dropout_probability", pa.float64(), "Latent probability of dropping out."),
        _field("alive", pa.bool_(), "Not yet dropped out at the end of the observation period."),
        _field(
            "dropped_out_at",
            TIMESTAMP,
            "Time of the purchase after which the customer dropped out; null if still active "
            "at the end of the horizon.",
            nullable=True,
        ),
        _field(
            "repeat_purchases",
            pa.int64(),
            "Repeat purchases in the observation period: the customer's non-cancelled orders "
            "minus one.",
        ),
        _field(
            "future_purchases",
            pa.int64(),
            "Purchases in the horizon after the observation period (not in the data).",
        ),
        _field(
            "staple_product_id",
            pa.string(),
            "The customer's staple: an active consumable (same id as in products and "
            "order_lines) added to a basket with a probability that peaks when the time since "
            "the previous purchase is near its repurchase cycle.",
        ),
        _field(
            "staple_cycle_days",
            pa.float64(),
            "Repurchase cycle of the staple, in days (the cycle of its category).",
        ),
    ],
    metadata={"doc": "Ground truth of the simulated customers, one row per customer."},
)
"""Schema of ``truth/customers.parquet``."""

CATEGORY_AFFINITY_SCHEMA = pa.schema(
    [
        _field("customer_id", pa.string(), "The customer (same id as in customers and orders)."),
        _field("category", pa.string(), "The category (as in products and order_lines)."),
        _field(
            "affinity",
            pa.float64(),
            "Probability that a product drawn into the customer's baskets (besides the staple) "
            "is of this category; gifts weigh three times more in the gift season. A "
            "customer's rows sum to 1.",
        ),
    ],
    metadata={
        "doc": "True category affinity of the simulated customers: one row per customer and "
        "category with a positive affinity, in the order of the customers."
    },
)
"""Schema of ``truth/category_affinity.parquet``."""

CSV_SCHEMA = pa.schema(
    [
        ("order_id", pa.string()),
        ("customer_id", pa.string()),
        ("ordered_at", pa.string()),
        ("product_id", pa.string()),
        ("quantity", pa.int64()),
        ("unit_price", pa.string()),
        ("category", pa.string()),
        ("name", pa.string()),
        ("currency", pa.string()),
        ("status", pa.string()),
    ]
)
"""Columns of ``order_lines.csv``, the generic order lines layout."""

_KNOWN_ENTRIES = frozenset(
    {"manifest.json", "order_lines.csv", "truth"} | {f"{name}.parquet" for name in _TABLE_NAMES}
)


# Columns with few distinct values get dictionary encoding; ids and JSON text do not.
_DICTIONARY_COLUMNS = frozenset(
    {"type", "currency", "status", "channel", "source_name", "product_id", "sku", "name"}
    | {"category", "country", "city", "gender", "first_name", "reason", "staple_product_id"}
)


def _parquet_writer(path: Path, schema: pa.Schema) -> pq.ParquetWriter:
    return pq.ParquetWriter(
        path,
        schema,
        compression="zstd",
        compression_level=3,
        use_dictionary=[name for name in schema.names if name in _DICTIONARY_COLUMNS],
        write_statistics=True,
        # Keep Arrow's list item name ("item"), so the schema read back is exactly canonical.
        use_compliant_nested_type=False,
    )


def check_output(out: Path) -> None:
    """Check that ``out`` may receive a simulated store.

    ``out`` may be missing, an empty directory, or the output of a previous simulation (which
    is then replaced).

    Parameters
    ----------
    out
        The output directory.

    Raises
    ------
    ConfigError
        If ``out`` is a file, or a directory holding anything else.
    """
    if not out.exists():
        return
    if not out.is_dir():
        raise ConfigError(
            f"The output {out} exists and is not a directory.",
            fix="Pass a new directory path as the output, or remove the file.",
        )
    entries = sorted(p.name for p in out.iterdir())
    if not entries:
        return
    manifest = out / "manifest.json"
    generator = None
    if manifest.is_file():
        try:
            generator = json.loads(manifest.read_text(encoding="utf-8")).get("generator")
        except (ValueError, AttributeError):
            generator = None
    foreign = [name for name in entries if name not in _KNOWN_ENTRIES]
    if generator != GENERATOR or foreign:
        shown = ", ".join(foreign[:3]) if foreign else ", ".join(entries[:3])
        raise ConfigError(
            f"The output directory {out} is not empty and is not a previous simulator output "
            f"(it holds {shown}{', ...' if len(entries) > 3 else ''}).",
            fix="Pass a new or empty directory, or remove the files in it.",
        )


class StoreWriter:
    """Streams a simulated store to a staging directory and moves it into place when done.

    Use as a context manager: on an exception the staging directory is removed.

    Parameters
    ----------
    out
        The output directory (checked with :func:`check_output`).
    lines_csv
        Whether to also write ``order_lines.csv``.
    """

    def __init__(self, out: Path, *, lines_csv: bool) -> None:
        check_output(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        self.out = out
        self.staging = out.parent / f".{out.name}.partial-{os.getpid()}"
        if self.staging.exists():
            shutil.rmtree(self.staging)
        (self.staging / "truth").mkdir(parents=True)
        self.counts = dict.fromkeys(_TABLE_NAMES, 0)
        self._parquet = {
            name: _parquet_writer(self.staging / f"{name}.parquet", TABLES[name].arrow_schema)
            for name in _TABLE_NAMES
        }
        self._truth = _parquet_writer(self.staging / "truth" / "customers.parquet", TRUTH_SCHEMA)
        self._affinity = _parquet_writer(
            self.staging / "truth" / "category_affinity.parquet", CATEGORY_AFFINITY_SCHEMA
        )
        self._csv: pcsv.CSVWriter | None = None
        if lines_csv:
            options = pcsv.WriteOptions(quoting_style="none", quoting_header="none")
            self._csv = pcsv.CSVWriter(
                str(self.staging / "order_lines.csv"), CSV_SCHEMA, write_options=options
            )
        self._open = True
        self._error: BaseException | None = None
        self._queue: queue.Queue[tuple[Any, pa.Table] | None] = queue.Queue(maxsize=_PENDING)
        self._thread = threading.Thread(target=self._drain, name="simulate-writer", daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        """Write queued tables in order until the end marker (runs on the writer thread)."""
        while (item := self._queue.get()) is not None:
            if self._error is None:
                sink, table = item
                try:
                    sink.write_table(table)
                except BaseException as error:  # re-raised on the caller's thread
                    self._error = error

    def _submit(self, sink: Any, table: pa.Table) -> None:
        if self._error is not None:
            raise self._error
        self._queue.put((sink, table))

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if exc_type is not None:
            self.abort()

    def write(self, name: str, table: pa.Table) -> None:
        """Conform ``table`` to the canonical schema of ``name`` and append it.

        Parameters
        ----------
        name
            Canonical table name.
        table
            Rows to append.
        """
        if table.num_rows == 0:
            return
        self._submit(self._parquet[name], conform(name, table))
        self.counts[name] += table.num_rows

    def write_truth(self, table: pa.Table) -> None:
        """Append rows of ``truth/customers.parquet``.

        Parameters
        ----------
        table
            Rows with the columns of :data:`TRUTH_SCHEMA`.
        """
        self._submit(self._truth, table.select(TRUTH_SCHEMA.names).cast(TRUTH_SCHEMA))

    def write_affinity(self, table: pa.Table) -> None:
        """Append rows of ``truth/category_affinity.parquet``.

        Parameters
        ----------
        table
            Rows with the columns of :data:`CATEGORY_AFFINITY_SCHEMA`.
        """
        schema = CATEGORY_AFFINITY_SCHEMA
        self._submit(self._affinity, table.select(schema.names).cast(schema))

    def write_csv(self, table: pa.Table) -> None:
        """Append rows of ``order_lines.csv`` (ignored unless the writer was asked for it).

        Parameters
        ----------
        table
            Rows with the columns of :data:`CSV_SCHEMA`.
        """
        if self._csv is not None:
            self._submit(self._csv, table.select(CSV_SCHEMA.names).cast(CSV_SCHEMA))

    def _close(self) -> None:
        if not self._open:
            return
        self._open = False
        self._queue.put(None)
        self._thread.join()
        for writer in (*self._parquet.values(), self._truth, self._affinity):
            writer.close()
        if self._csv is not None:
            self._csv.close()
        if self._error is not None:
            raise self._error

    def finish(self, manifest: dict[str, Any], params: dict[str, Any]) -> None:
        """Close the files, write ``manifest.json`` and ``truth/params.json``, move into place.

        Parameters
        ----------
        manifest
            Manifest entries besides format, version, generator and counts.
        params
            Content of ``truth/params.json``.
        """
        self._close()
        full = {
            "format": MANIFEST_FORMAT,
            "version": 1,
            "generator": GENERATOR,
            **manifest,
            "counts": dict(self.counts),
        }
        _write_json(self.staging / "manifest.json", full)
        _write_json(self.staging / "truth" / "params.json", params)
        old = self.out.parent / f".{self.out.name}.old-{os.getpid()}"
        if self.out.exists():
            check_output(self.out)  # still ours: replace it
            self.out.rename(old)
        self.staging.rename(self.out)
        if old.exists():
            shutil.rmtree(old)

    def abort(self) -> None:
        """Stop the writer thread, close the files and remove the staging directory."""
        try:
            with contextlib.suppress(Exception):  # the error being handled matters more
                self._close()
        finally:
            shutil.rmtree(self.staging, ignore_errors=True)


def _write_json(path: Path, content: dict[str, Any]) -> None:
    path.write_text(json.dumps(content, indent=2, sort_keys=True) + "\n", encoding="utf-8")
