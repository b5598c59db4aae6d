"""Engines: where the analytics expressions run (an adapter; the analytics never import it).

The analytics (:mod:`regulars.analytics`) build Ibis expressions over the canonical tables.
An :class:`Engine` hands out those tables and executes the expressions:

``duckdb`` (the default)
    The workspace file itself, opened read-only through Ibis's DuckDB backend.
``spark`` (the optional extra ``regulars[spark]``)
    A Spark session (``local[2]`` unless a master URL is given). The canonical tables are
    exported from the workspace to Parquet (through a read-only DuckDB connection) and read
    by Spark. The session's time zone is UTC, and the tables have the same Ibis schema as on
    DuckDB (timestamps typed UTC), so results come back with the same types.

Examples
--------
>>> from regulars import Workspace
>>> from regulars.analytics.summary import customer_summary
>>> with open_engine(Workspace("store.duckdb"), "spark") as engine:  # doctest: +SKIP
...     expr = customer_summary(engine.table("orders"), engine.table("refunds"), as_of=day)
...     frame = engine.execute(expr)
"""

from __future__ import annotations

import importlib
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from regulars.errors import ConfigError, WorkspaceError
from regulars.schema import TABLES
from regulars.workspace import Workspace

if TYPE_CHECKING:
    import ibis
    import ibis.expr.types as ir
    import pandas as pd
    import pyarrow as pa

__all__ = ["ENGINES", "DuckDBEngine", "Engine", "SparkEngine", "open_engine", "spark_session"]

ENGINES = ("duckdb", "spark")
"""The engine names :func:`open_engine` accepts."""

DEFAULT_SPARK_MASTER = "local[2]"

_SPARK_CONF = {
    "spark.sql.session.timeZone": "UTC",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    # Small data on a small machine: the default of 200 shuffle partitions only adds overhead.
    "spark.sql.shuffle.partitions": "8",
    "spark.driver.extraJavaOptions": "-Duser.timezone=UTC",
    "spark.executor.extraJavaOptions": "-Duser.timezone=UTC",
}

_UTC_TIMESTAMP = "timestamp('UTC', 6)"  # Spark keeps microseconds, as DuckDB's TIMESTAMPTZ

_INSTALL_FIX = "Install the Spark extra: pip install 'regulars[spark]'"


class Engine:
    """The canonical tables of one workspace on one engine, and a way to run expressions.

    Use :func:`open_engine` to get one; close it (or use it as a context manager) when done.
    """

    name: str = ""
    """The engine's name, one of :data:`ENGINES`."""

    def __init__(self, workspace: Workspace, backend: Any) -> None:
        self.workspace = workspace
        self.backend = backend
        """The Ibis backend the tables belong to."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.workspace!r}>"

    def __enter__(self) -> Engine:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def table(self, name: str) -> ibis.Table:
        """Return canonical table ``name`` as an Ibis table on this engine.

        Raises
        ------
        ConfigError
            When ``name`` is not a canonical table.
        """
        _check_table(name)
        return self._table(name)

    def tables(self) -> dict[str, ibis.Table]:
        """Return every canonical table by name."""
        return {name: self._table(name) for name in TABLES}

    def execute(self, expr: ir.Expr) -> pd.DataFrame:
        """Run ``expr`` (a table, column or scalar) and return the result as a data frame."""
        frame: pd.DataFrame = self.backend.execute(expr.as_table())
        return frame

    def to_pyarrow(self, expr: ir.Expr) -> pa.Table:
        """Run ``expr`` and return the result as an Arrow table."""
        table: pa.Table = self.backend.to_pyarrow(expr.as_table())
        return table

    def close(self) -> None:
        """Release the engine's connection (and anything it staged)."""
        self.backend.disconnect()

    def _table(self, name: str) -> ibis.Table:
        raise NotImplementedError


class DuckDBEngine(Engine):
    """The workspace's DuckDB file, read-only, through Ibis."""

    name = "duckdb"

    def __init__(self, workspace: Workspace) -> None:
        super().__init__(workspace, workspace.connect())

    def _table(self, name: str) -> ibis.Table:
        return self.workspace.table(name, self.backend)


class SparkEngine(Engine):
    """The workspace's canonical tables in a Spark session, through Ibis's PySpark backend.

    Parameters
    ----------
    workspace
        The workspace to read.
    session
        A running ``pyspark.sql.SparkSession`` (see :func:`spark_session`).
    staging_dir
        A local or shared folder in which a fresh subfolder receives the Parquet copies of
        the tables (the system's temporary folder when omitted). On a cluster, every node
        must be able to read it (a mounted shared file system; DuckDB writes it).
    owns_session
        Stop the session on :meth:`close` (when this engine started it).
    """

    name = "spark"

    def __init__(
        self,
        workspace: Workspace,
        session: Any,
        *,
        staging_dir: str | Path | None = None,
        owns_session: bool = False,
    ) -> None:
        import ibis

        self.session = session
        self._owns_session = owns_session
        token = uuid.uuid4().hex[:12]
        parent = Path(staging_dir) if staging_dir is not None else None
        if parent is not None:
            parent.mkdir(parents=True, exist_ok=True)
        self._dir = Path(tempfile.mkdtemp(prefix=f"regulars-spark-{token}-", dir=parent))
        self._views: dict[str, str] = {}
        self._tables: dict[str, ibis.Table] = {}
        try:
            files = _export_parquet(workspace, self._dir)
            for name, path in files.items():
                view = f"regulars_{token}_{name}"
                session.read.parquet(str(path)).createOrReplaceTempView(view)
                self._views[name] = view
            backend = ibis.pyspark.connect(session)
        except BaseException:
            self._release()
            raise
        super().__init__(workspace, backend)

    def close(self) -> None:
        """Drop the engine's views and staged files; stop the session if this engine started it."""
        self._release()

    def _release(self) -> None:
        for view in self._views.values():
            self.session.catalog.dropTempView(view)
        self._views.clear()
        shutil.rmtree(self._dir, ignore_errors=True)
        if self._owns_session:
            self.session.stop()
            self._owns_session = False

    def _table(self, name: str) -> ibis.Table:
        # Spark's TIMESTAMP is an instant shown in the session's time zone (UTC here), which
        # Ibis types as a naive timestamp; typing it as UTC (a no-op cast in Spark) gives the
        # same schema as on DuckDB, and timezone-aware results.
        if name not in self._tables:
            table = self.backend.table(self._views[name])
            utc = {
                col: table[col].cast(_UTC_TIMESTAMP)
                for col, dtype in table.schema().items()
                if dtype.is_timestamp() and dtype.timezone is None
            }
            self._tables[name] = table.mutate(**utc) if utc else table
        return self._tables[name]


def _check_table(name: str) -> None:
    if name not in TABLES:
        raise ConfigError(f"Unknown table {name!r}.", fix="Use one of: " + ", ".join(TABLES) + ".")


def _export_parquet(workspace: Workspace, folder: Path) -> dict[str, Path]:
    """Copy every canonical table of ``workspace`` to ``folder/NAME.parquet`` (read-only)."""
    import duckdb

    folder.mkdir(parents=True, exist_ok=True)
    files = {}
    try:
        con = duckdb.connect(str(workspace.path), read_only=True)
    except duckdb.Error as exc:
        raise WorkspaceError(
            f"Cannot open workspace {workspace.path}: {exc}",
            fix="Check that it is a regulars workspace and that no import is running on it.",
        ) from exc
    try:
        con.execute("SET TimeZone = 'UTC'")
        for name in TABLES:
            path = folder / f"{name}.parquet"
            target = "'" + str(path).replace("'", "''") + "'"
            con.execute(f"COPY (SELECT * FROM {name}) TO {target} (FORMAT parquet)")
            files[name] = path
    finally:
        con.close()
    return files


def _pyspark_sql() -> Any:
    try:
        return importlib.import_module("pyspark.sql")
    except ImportError as exc:
        raise ConfigError(
            "The Spark engine needs PySpark, which is not installed.", fix=_INSTALL_FIX
        ) from exc


def _check_java() -> None:
    import os

    home = os.environ.get("JAVA_HOME")
    java = str(Path(home) / "bin" / "java") if home else shutil.which("java")
    if not java or not Path(java).exists():
        raise ConfigError(
            "The Spark engine needs Java (17 or newer), and no java was found "
            + ("in JAVA_HOME." if home else "on the PATH."),
            fix="Install a JDK (Debian: apt-get install openjdk-17-jre-headless) or set JAVA_HOME.",
        )
    try:
        subprocess.run([java, "-version"], capture_output=True, check=True, timeout=60)
    except (OSError, subprocess.SubprocessError) as exc:
        raise ConfigError(
            f"The Spark engine needs Java, and {java} does not run: {exc}",
            fix="Install a working JDK 17 or newer, or point JAVA_HOME at one.",
        ) from exc


def spark_session(master: str | None = None) -> tuple[Any, bool]:
    """Return a Spark session and whether it was started here (the caller then stops it).

    A session already running in this process is reused as it is (its master unchanged);
    otherwise one is started on ``master`` (``local[2]`` by default) with the time zone UTC.

    Raises
    ------
    ConfigError
        When PySpark is not installed, Java is missing, or the session cannot start.
    """
    sql = _pyspark_sql()
    active = sql.SparkSession.getActiveSession()
    if active is not None:
        active.conf.set("spark.sql.session.timeZone", "UTC")
        return active, False
    _check_java()
    builder = sql.SparkSession.builder.master(master or DEFAULT_SPARK_MASTER).appName("regulars")
    for key, value in _SPARK_CONF.items():
        builder = builder.config(key, value)
    try:
        session = builder.getOrCreate()
    except Exception as exc:  # PySpark raises several kinds when the JVM cannot start
        raise ConfigError(
            f"Could not start Spark on {master or DEFAULT_SPARK_MASTER}: {exc}",
            fix="Check the master URL, and that Java 17 or newer runs (java -version).",
        ) from exc
    session.sparkContext.setLogLevel("ERROR")
    return session, True


def open_engine(
    workspace: Workspace,
    engine: str = "duckdb",
    *,
    spark_master: str | None = None,
    staging_dir: str | Path | None = None,
) -> Engine:
    """Open ``workspace`` on an engine.

    Parameters
    ----------
    workspace
        The workspace holding the canonical tables.
    engine
        ``duckdb`` (default) or ``spark``.
    spark_master
        Spark master URL (``local[2]`` by default; e.g. ``spark://host:7077``). Only for Spark.
    staging_dir
        Spark only: where the tables are staged as Parquet (a temporary folder by default;
        on a cluster, a shared folder every node can read). Removed again on close.

    Returns
    -------
    Engine
        Hands out the canonical tables as Ibis tables and executes expressions; close it.

    Raises
    ------
    ConfigError
        For an unknown engine, or when Spark is asked for and PySpark or Java is missing.
    WorkspaceError
        When the workspace has no data yet.
    """
    if engine == "duckdb":
        if spark_master is not None:
            raise ConfigError(
                "A Spark master was given for the DuckDB engine.",
                fix="Use --engine spark with --spark-master, or drop --spark-master.",
            )
        return DuckDBEngine(workspace)
    if engine == "spark":
        workspace.connect().disconnect()  # fail on an empty workspace before starting a JVM
        session, owned = spark_session(spark_master)
        return SparkEngine(workspace, session, staging_dir=staging_dir, owns_session=owned)
    raise ConfigError(f"Unknown engine {engine!r}.", fix="Use one of: " + ", ".join(ENGINES) + ".")
