"""Batching rules of the special-function primitives: elementwise, as the other
elementwise primitives (the family rule of batching_rules)."""

import functools

from funcnet.lax import special as sp
from funcnet.transforms.batching import batching_rules
from funcnet.transforms.batching_rules import _elementwise

for _p in sp.SPECIAL:
    batching_rules.register(_p)(functools.partial(_elementwise, _p))
