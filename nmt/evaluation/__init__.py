"""Scoring translations: sacreBLEU, chrF, bootstrap intervals, BLEU by length, a split's scores."""
