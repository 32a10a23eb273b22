"""``python -m nmt.models``: the registered variants, comma-separated (for make compare),
those of ``$NMT_USER_MODULES`` included."""

import sys

from nmt.errors import NMTError

try:
    from nmt.models.registry import VARIANTS
except NMTError as e:
    print(f"error: {e}", file=sys.stderr)
    sys.exit(2)

print(",".join(VARIANTS))
