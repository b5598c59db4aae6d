"""Buy-till-you-die models, one per file, sharing :mod:`.mle` (fitting) and :mod:`.base`.

Continuous time, fitted on (frequency, recency, T) in days (:class:`BTYDModel`):

- :class:`BGNBD`: Fader, Hardie & Lee (2005);
- :class:`MBGNBD`: Batislam, Denizel & Filiztekin (2007);
- :class:`ParetoNBD`: Schmittlein, Morrison & Colombo (1987), Fader & Hardie's notes.

Discrete time: :class:`BGBB` (Fader, Hardie & Shang 2010), on (frequency, recency,
n_periods). Spend: :class:`GammaGamma` (Fader & Hardie 2013), on (frequency,
monetary_value).
"""

from regulars.models.btyd.base import BTYDModel
from regulars.models.btyd.bgbb import BGBB
from regulars.models.btyd.bgnbd import BGNBD
from regulars.models.btyd.gammagamma import GammaGamma
from regulars.models.btyd.mbgnbd import MBGNBD
from regulars.models.btyd.mle import MLEModel
from regulars.models.btyd.paretonbd import ParetoNBD

__all__ = ["BGBB", "BGNBD", "MBGNBD", "BTYDModel", "GammaGamma", "MLEModel", "ParetoNBD"]
