"""MBG/NBD: the modified BG/NBD of Batislam, Denizel & Filiztekin (2007).

"Empirical validation and comparison of models for customer base analysis",
International Journal of Research in Marketing 24(3), 201-209. As BG/NBD, but a customer
may also drop out at time 0, right after the first purchase: so customers without a
repeat purchase are not certain to be alive (P(alive) < 1), which is what most stores
expect of a one-time buyer who never came back.

Equations (numbers of the paper): (6) the likelihood, with B(a, b+x+1) and a/(b+x) where
BG/NBD has B(a, b+x) and a/(b+x-1), for every x including 0; (11) P(alive); (12) the
conditional expectation. They are the BG/NBD formulas with one shift, so this model is
:class:`~regulars.models.btyd.bgnbd.BGNBD` with ``extra = 1``.
"""

from __future__ import annotations

from typing import ClassVar

from regulars.models.btyd.bgnbd import BGNBD

__all__ = ["MBGNBD"]


class MBGNBD(BGNBD):
    """The MBG/NBD model (Batislam, Denizel & Filiztekin 2007): BG/NBD with dropout at 0.

    Parameters ``r``, ``alpha``, ``a``, ``b`` have the BG/NBD meaning.
    """

    name = "MBG/NBD"
    reference = "Batislam, Denizel & Filiztekin (2007), IJRM 24(3)"
    extra: ClassVar[int] = 1
