"""How sentences are decoded: one typed object from the config (``decode.*``) to the search.

The same :class:`Decoding` is the schema of the config's ``decode`` node, is
saved in every checkpoint and ``results.json``, is what ``nmt-translate`` and
``nmt-evaluate`` default to (the run's own) and override flag by flag, and is
what :func:`nmt.translation.search.search` takes. Each setting has one name everywhere.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from nmt.errors import ConfigError

#: names older checkpoints and results used for a setting
LEGACY_NAMES = {"alpha": "length_penalty"}


def current_names(record: Mapping[str, Any]) -> dict[str, Any]:
    """A ``decode`` record with older setting names replaced by today's."""
    return {LEGACY_NAMES.get(k, k): v for k, v in dict(record).items()}


@dataclass
class Decoding:
    """Search settings; ``beam`` 1 is greedy search."""

    beam: int = 5  # beam size (1 = greedy)
    length_penalty: float = 0.6  # GNMT alpha: score / ((5 + |Y|) / 6) ** alpha (Wu 2016, Eq. 14)
    max_len_a: float = 1.5  # output length limit = a * source length + b (tokens, EOS included)
    max_len_b: int = 10
    batch_tokens: int = 6000  # search batch budget: sentences x longest source x beam

    def __post_init__(self) -> None:
        for key in ("beam", "batch_tokens"):
            value = getattr(self, key)
            if not isinstance(value, int) or value < 1:
                raise ConfigError(f"decode.{key}: must be a positive integer, got {value!r}")
        if self.max_len_a < 0 or self.max_len_b < 0 or self.max_len_a + self.max_len_b <= 0:
            raise ConfigError(
                f"decode.max_len_a/max_len_b: the length limit a * source + b must be "
                f"positive, got a={self.max_len_a}, b={self.max_len_b}"
            )

    @classmethod
    def from_dict(cls, values: Mapping[str, Any] | None) -> Decoding:
        """From a config node, a checkpoint's or a results file's ``decode`` record (older
        names accepted; keys that are not settings, such as ``precision``, ignored)."""
        names = {f.name for f in dataclasses.fields(cls)}
        settings = current_names(values or {})
        return cls(**{k: v for k, v in settings.items() if k in names})

    def replace(self, **overrides: Any) -> Decoding:
        """A copy with the overrides that are not None (command-line flags left unset)."""
        return dataclasses.replace(self, **{k: v for k, v in overrides.items() if v is not None})

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)
