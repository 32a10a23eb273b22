"""Tiny model settings shared by the end-to-end tests (Hydra overrides, CPU seconds), from
each variant's declaration in the registry."""

from __future__ import annotations

from nmt.models import VARIANTS

TINY_MODELS = {name: v.tiny_overrides() for name, v in VARIANTS.items()}
