"""``python -m nmt.models``: the registered variants, comma-separated (for make compare)."""

from nmt.models.registry import VARIANTS

print(",".join(VARIANTS))
