"""Online Retail, last-basket protocol (customers with two baskets or more): the issue's bar."""

from __future__ import annotations

import pytest
from recs_support import tables_of

from regulars import Workspace
from regulars.recommend.run import evaluate_recommendations


@pytest.mark.slow
def test_online_retail_beats_every_baseline(retail_workspace: Workspace) -> None:
    result = evaluate_recommendations(tables_of(retail_workspace), protocol="last", ks=(10, 20))
    m = result.metrics
    assert result.customers > 2800  # 2,845 in the reference (we keep non-product lines out)
    assert result.ranker == "gradient-boosting"
    # The reference's GP-TopFreq recall@10 is 0.178; ours ties by recency then popularity.
    assert m["GP-TopFreq"][10]["recall"] == pytest.approx(0.187, abs=0.01)
    assert m["G-TopFreq"][10]["recall"] == pytest.approx(0.037, abs=0.005)
    # Measured: 0.2039 at k=10, 0.2773 at k=20.
    assert m["regulars"][10]["recall"] >= 0.20
    for k in (10, 20):
        for baseline in ("G-TopFreq", "P-TopFreq", "GP-TopFreq"):
            assert m["regulars"][k]["recall"] > m[baseline][k]["recall"] + 0.01
            assert m["regulars"][k]["ndcg"] > m[baseline][k]["ndcg"]
