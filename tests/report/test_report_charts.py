import xml.etree.ElementTree as ET

import pytest

from regulars.report._svg import nice_ticks
from regulars.report.charts import bar_chart, heatmap, line_chart, sparkline


def parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)
    assert root.tag == "svg"
    assert root.get("class") == "chart"
    return root


def marks(root: ET.Element) -> list[ET.Element]:
    return [e for e in root.iter() if "mark" in (e.get("class") or "").split()]


def texts(root: ET.Element) -> list[str]:
    return ["".join(e.itertext()) for e in root.iter("text")]


def test_sparkline_draws_one_segment_per_point() -> None:
    root = parse(sparkline("kpi-revenue", [3.0, 5.0, None, 4.0, 6.0], title="Revenue"))
    assert root.get("data-chart") == "kpi-revenue"
    path = root.find("path")
    assert path is not None
    commands = path.get("d", "").split()
    assert len(commands) == 4  # the missing value leaves a gap: M L, M L
    assert [c[0] for c in commands] == ["M", "L", "M", "L"]
    assert root.find("circle") is not None  # the last point


def test_line_chart_has_a_mark_per_point_labels_and_legend() -> None:
    svg = line_chart(
        "ltv",
        [0, 1, 2, 3],
        [("2024-01", [10.0, 20.0, 25.0, 28.0]), ("2024-02", [12.0, 19.0, None, None])],
        title="Cumulative revenue",
        x_label="Months since first order",
        y_label="Revenue per customer (EUR)",
    )
    root = parse(svg)
    assert root.get("data-chart") == "ltv"
    assert len(marks(root)) == 6
    assert len(root.findall("path")) == 2
    labels = texts(root)
    assert "Months since first order" in labels
    assert "Revenue per customer (EUR)" in labels
    assert {"2024-01", "2024-02"} <= set(labels)  # the legend
    assert any(t.replace(",", "").isdigit() for t in labels)  # tick labels


def test_bar_chart_has_a_bar_per_value_and_value_labels() -> None:
    svg = bar_chart(
        "churn",
        ["30 days", "90 days", "365 days"],
        [("Customer churn", [0.7, 0.6, 0.5]), ("Revenue churn", [0.5, None, 0.3])],
        title="Churn",
        x_label="Horizon",
        y_label="Churn rate (%)",
        value_format=lambda v: f"{v:.0%}",
    )
    root = parse(svg)
    bars = marks(root)
    assert len(bars) == 5
    assert all(b.tag == "rect" and float(b.get("height", "0")) > 0 for b in bars)
    labels = texts(root)
    assert {"30 days", "90 days", "365 days", "Horizon", "Churn rate (%)"} <= set(labels)
    assert "70%" in labels
    assert {"Customer churn", "Revenue churn"} <= set(labels)


def test_bar_heights_follow_the_values() -> None:
    root = parse(bar_chart("b", ["a", "b"], [("n", [10, 40])], title="t", x_label="x", y_label="y"))
    low, high = (float(b.get("height", "0")) for b in marks(root))
    assert high == pytest.approx(4 * low, rel=0.02)


def test_heatmap_has_a_cell_per_value_and_a_colour_legend() -> None:
    values = [[100.0, 30.0, 20.0], [100.0, 25.0, None], [100.0, None, None]]
    svg = heatmap(
        "cohort-active",
        ["2024-01", "2024-02", "2024-03"],
        ["0", "1", "2"],
        values,
        title="Active share",
        x_label="Months since first order",
        y_label="Cohort",
        value_format=lambda v: f"{v:.0f}%",
        legend_label="Active share (%)",
    )
    root = parse(svg)
    cells = marks(root)
    assert len(cells) == 6
    assert len({c.get("fill") for c in cells}) == 4  # one colour per distinct value
    legend = [e for e in root.iter("rect") if e.get("class") == "legend"]
    assert len(legend) >= 5
    labels = texts(root)
    assert {"Active share (%)", "Months since first order", "Cohort", "2024-03"} <= set(labels)
    assert "100%" in labels and "0%" in labels  # cell values and the legend's ends


def test_heatmap_scale_max_caps_the_colours() -> None:
    svg = heatmap(
        "h",
        ["a"],
        ["0", "1", "2"],
        [[1.0, 0.3, 0.2]],
        title="t",
        x_label="x",
        y_label="y",
        value_format=lambda v: f"{v:.1f}",
        legend_label="share",
        scale_max=0.3,
    )
    root = parse(svg)
    first, second, _ = marks(root)
    assert first.get("fill") == second.get("fill")
    assert "≥ 0.3" in texts(root)


def test_labels_are_escaped() -> None:
    nasty = 'Tea <&> "Biscuits"'
    charts = [
        sparkline("s", [1, 2], title=nasty),
        line_chart(
            "l", [0, 1], [(nasty, [1, 2]), ("b", [2, 1])], title=nasty, x_label=nasty, y_label=nasty
        ),
        bar_chart("b", [nasty], [(nasty, [1])], title=nasty, x_label=nasty, y_label=nasty),
        heatmap(
            "h",
            [nasty],
            [nasty],
            [[1.0]],
            title=nasty,
            x_label=nasty,
            y_label=nasty,
            value_format=str,
            legend_label=nasty,
        ),
    ]
    for svg in charts:
        assert "<&>" not in svg
        root = parse(svg)  # would raise on unescaped text
        assert nasty in texts(root) or nasty in (root.get("aria-label") or "")


@pytest.mark.parametrize(
    "svg",
    [
        sparkline("s", []),
        line_chart("l", [], [], title="t", x_label="x", y_label="y"),
        bar_chart("b", ["a"], [("n", [None])], title="t", x_label="x", y_label="y"),
        heatmap(
            "h", [], [], [], title="t", x_label="x", y_label="y", value_format=str, legend_label="l"
        ),
    ],
)
def test_charts_without_data_say_so(svg: str) -> None:
    root = parse(svg)
    assert not marks(root)
    assert "No data" in texts(root)


def test_nice_ticks_cover_the_range_with_round_steps() -> None:
    assert nice_ticks(0, 1000) == [0, 200, 400, 600, 800, 1000]
    assert nice_ticks(0, 0.73) == [0, 0.2, 0.4, 0.6, 0.8]
    ticks = nice_ticks(3, 3)
    assert ticks[0] <= 3 <= ticks[-1]
