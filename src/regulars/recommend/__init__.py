"""Recommendations: buy-again, cross-sell, fallbacks, offers, and their evaluation.

Over a store's tables (any engine)::

    from regulars.recommend import recommend, make_offers, evaluate_recommendations

    recs = recommend(tables, k=10)                     # customer_id, rank, product_id, ...
    offers = make_offers(tables, rules="offers.toml")  # each customer's next-best offer
    scores = evaluate_recommendations(tables, protocol="last")

Over baskets already in memory: :class:`Baskets` (``Baskets.from_frame``) and
:class:`Recommender` (``fit`` / ``recommend``).
"""

from regulars.recommend.baskets import Baskets, basket_lines
from regulars.recommend.filters import Catalogue
from regulars.recommend.model import COLUMNS, Recommender
from regulars.recommend.run import (
    RecommendationEvaluation,
    Recommendations,
    evaluate_recommendations,
    load_baskets,
    load_catalogue,
    recommend,
)
from regulars.recommend.run_offers import Offers, make_offers
from regulars.recommend.tifu import TifuParams

__all__ = [
    "COLUMNS",
    "Baskets",
    "Catalogue",
    "Offers",
    "RecommendationEvaluation",
    "Recommendations",
    "Recommender",
    "TifuParams",
    "basket_lines",
    "evaluate_recommendations",
    "load_baskets",
    "load_catalogue",
    "make_offers",
    "recommend",
]
