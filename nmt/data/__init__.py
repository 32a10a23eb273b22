"""Corpora, downloads, validation, subword tokenization and token batching."""
