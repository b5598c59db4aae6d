"""Statistical and machine-learning models: arrays and frames in, arrays and frames out.

No I/O here (a test enforces it): the analytics build the inputs, the callers write the
outputs. :mod:`regulars.models.btyd` holds the buy-till-you-die models.
"""
