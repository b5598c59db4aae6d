"""Buy-till-you-die models, one per file, sharing :mod:`.mle` (fitting) and :mod:`.base`.

- :class:`BGNBD` (Fader, Hardie & Lee 2005), :class:`MBGNBD` (Batislam et al. 2007):
  continuous time, fitted on (frequency, recency, T).
"""

from regulars.models.btyd.base import BTYDModel
from regulars.models.btyd.bgnbd import BGNBD
from regulars.models.btyd.mbgnbd import MBGNBD

__all__ = ["BGNBD", "MBGNBD", "BTYDModel"]
