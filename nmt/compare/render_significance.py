"""Render: report.md's sections on the paired tests -- *Significance* (a matrix per test
split) and *BLEU by source length* (the scores per bucket, the differences the tests hold
there, and what that allows one to say)."""

from __future__ import annotations

from nmt.compare.analyse import Comparison
from nmt.compare.render_tables import bucket_table
from nmt.compare.significance import Verdict
from nmt.compare.stats import format_p
from nmt.evaluation.metrics import MIN_BUCKET


def _pair_cell(v: Verdict) -> str:
    """``+3.46 (p<0.001) ✓``: the mean difference over seed pairings, each pairing's p-value,
    and ✓ when the difference holds in every pairing (at q < 0.05 once corrected)."""
    ps = ", ".join(format_p(t.p).removeprefix("p").removeprefix("=") for t in v.tests)
    mark = " ✓" if v.holds else f" ({v.held}/{len(v.tests)})" if v.held else ""
    return f"{v.delta:+.2f} (p {ps}){mark}"


def held_level(c: Comparison, family: str) -> str:
    """The level at which the verdicts hold a difference: q within ``family`` (a phrase
    naming it) once corrected, or raw p."""
    if c.significance.corrected:
        return f"q < 0.05 (Benjamini–Hochberg over {family})"
    return "p < 0.05 (uncorrected)"


def pairing_words(c: Comparison) -> str:
    """How the runs of two variants were paired for their tests."""
    seeds = [set(g.seeds) for g in c.groups]
    if all(s and s == seeds[0] for s in seeds) and all(None not in s for s in seeds):
        return "runs of equal seed"
    return "runs of equal seed, or in seed order where two variants share no seed"


def significance_matrix(
    c: Comparison, tests_by_pair: dict[tuple[str, str], Verdict] | None = None
) -> str:
    """The paired tests (default: on the test split) as a matrix: row variant A, column
    variant B, cell = B − A."""
    tests_by_pair = c.significance.overall if tests_by_pair is None else tests_by_pair
    labels = [g.label for g in c.groups]
    if len(labels) < 2:
        return "One variant: no pair to test."
    lines = [
        "| A \\ B | " + " | ".join(labels[1:]) + " |",
        "|---|" + "|".join("---" for _ in labels[1:]) + "|",
    ]
    for i, a in enumerate(labels[:-1]):
        cells = []
        for j, b in enumerate(labels[1:], 1):
            v = tests_by_pair.get((a, b))
            cells.append(_pair_cell(v) if j > i and v and v.tests else "")
        lines.append(f"| {a} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def q_line(c: Comparison) -> list[str]:
    """How many of the tests at p < 0.05 survive the Benjamini-Hochberg correction."""
    n, held, kept = c.significance.held
    if not n:
        return []
    return [
        f"Corrected for multiplicity (Benjamini–Hochberg, q-values in `significance.csv`; "
        "a family is one pair of variants across the length buckets, or all pairs on one "
        f"split): of the {n} paired tests, {held} have p < 0.05 and {kept} of them keep "
        "q < 0.05.",
        "",
    ]


def significance_section(c: Comparison) -> list[str]:
    """## Significance: the paired tests of every two variants on the test split, then on
    each extra test split."""
    lines = [
        "## Significance",
        "",
        f"Paired bootstrap test (sacreBLEU `--paired-bs`, {c.significance.resamples} "
        "resamples, seed 12345) of "
        "test BLEU for every two variants: cell = B − A in BLEU (averaged over seed "
        f"pairings), its raw p-value (one per seed pairing: {pairing_words(c)}), ✓ when "
        f"the difference holds at {held_level(c, 'all pairs on the split')} in every "
        "pairing with the same sign, (k/n) when k of n pairings hold it.",
        "",
        significance_matrix(c),
        "",
        *q_line(c),
    ]
    for name, tests in c.significance.extra.items():
        lines += [
            f"### On `{name}`",
            "",
            "The same tests on this extra test split (whole split; each run's best "
            "checkpoint as it scored the split at the end of training).",
            "",
            significance_matrix(c, tests),
            "",
        ]
    return lines


def bucket_significance_table(c: Comparison) -> str:
    """Per length bucket (columns) and pair of variants (rows): the BLEU difference, with *
    where the paired test holds it in every seed pairing (with one sign)."""
    if not c.significance.pairs:
        return "One variant: no pair to test."
    labels = c.test.buckets.labels
    lines = [
        "| B − A | " + " | ".join(labels) + " |",
        "|---|" + "|".join("---" for _ in labels) + "|",
    ]
    for pair in c.significance.pairs:
        cells = [f"{v.delta:+.1f}{'*' if v.holds else ''}" for v in pair.by_bucket]
        lines.append(f"| {pair.b} − {pair.a} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def reading(c: Comparison) -> list[str]:
    """What the tests allow one to say: per pair, the overall verdict and the buckets where
    the difference is real (held by the test in every seed pairing)."""
    out = []
    unconverged = c.convergence.unconverged
    for pair in c.significance.pairs:
        a, b, overall = pair.a, pair.b, pair.overall
        delta = overall.delta
        verdict = (
            f"{'better' if delta > 0 else 'worse'} than {a} by {abs(delta):.2f} BLEU, a "
            f"difference the paired test holds at {held_level(c, 'all pairs')}"
            if overall.holds
            else f"not distinguishable from {a} on the whole test set ({delta:+.2f} BLEU, "
            "within what resampling the test sentences gives)"
        )
        rows = list(zip(c.test.buckets.labels, pair.by_bucket, strict=True))
        better = [f"{lab} ({v.delta:+.1f})" for lab, v in rows if v.holds and v.delta > 0]
        worse = [f"{lab} ({v.delta:+.1f})" for lab, v in rows if v.holds and v.delta < 0]
        neither = [lab for lab, v in rows if not v.holds]
        parts = []
        if better:
            parts.append(f"better in {', '.join(better)}")
        if worse:
            parts.append(f"worse in {', '.join(worse)}")
        if neither:
            parts.append(f"no difference the test holds in {', '.join(neither)}")
        rising = [g for g in (a, b) if g in unconverged]
        caveat = (
            f" Not converged: {' and '.join(rising)} (see above) — a finding about the budget, "
            "not the architecture."
            if rising
            else ""
        )
        out.append(f"- **{b}** is {verdict}; by source length it is {'; '.join(parts)}.{caveat}")
    return out


def extra_length_lines(c: Comparison) -> list[str]:
    """BLEU by source length on each extra test split, as every run scored it at the end
    of its training (results.json), when the runs share the buckets."""
    lines: list[str] = []
    for t in c.extra_buckets:
        lines += ["", f"### BLEU by source length: `{t.split}`", ""]
        if not t.same:
            lines.append("The runs cut this split into different buckets; see their results.json.")
            continue
        lines += [
            f"As each run scored it with its best checkpoint at the end of training "
            f"(`results.json`): buckets cut at {', '.join(map(str, t.edges))} source words, one "
            f"with fewer than {MIN_BUCKET} sentences joined to the next (the last, to the one "
            "before); ± is the 95% bootstrap "
            "interval.",
            "",
            bucket_table(
                [lab.replace("-", "–") for lab in t.labels],  # as the test set's table writes them
                t.counts,
                t.bleu,
                t.bleu_ci,
            ),
        ]
    return lines


def bleu_by_length_section(c: Comparison) -> list[str]:
    """## BLEU by source length: the figure, the scores per bucket with intervals, the
    differences per bucket the paired tests hold, the reading, and the extra splits."""
    b = c.test.buckets
    level = held_level(c, "the pair's buckets")
    return [
        "## BLEU by source length",
        "",
        "![BLEU by source length](bleu_by_length.png)",
        "",
        (
            f"Source length in words; the buckets are cut at the test set's length quantiles "
            f"and each holds at least {b.min_count} sentences"
            if b.equal_count
            else f"Source length in words; the buckets are cut at "
            f"{', '.join(map(str, b.edges))} words ({b.origin}), one with fewer than "
            f"{b.min_count} sentences joined to the next (the last, to the one before)"
        )
        + ", the same buckets for every run. Error bars and ± are 95% bootstrap intervals of "
        "each bucket's BLEU.",
        "",
        bucket_table(b.labels, b.counts, c.scores.bleu, c.scores.bleu_ci),
        "",
        "Differences per bucket (B − A, BLEU); * marks those the paired bootstrap test, run "
        f"inside the bucket, holds at {level} in every seed pairing, with the same sign in "
        "each. An unmarked difference "
        "is within what another sample of test sentences could give: do not read it as a "
        "difference between the variants.",
        "",
        bucket_significance_table(c),
        "",
        "### Reading",
        "",
        *reading(c),
        *extra_length_lines(c),
    ]
