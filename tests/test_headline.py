"""The README's generated result blocks: rendered from a comparison's CSVs, and --check
fails when a block no longer matches them."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest

from nmt.compare.headline import main, render, sync
from nmt.errors import NMTError

ROOT = Path(__file__).resolve().parents[1]


def _write(path: Path, rows: list[dict]) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


def _comparison(folder: Path, did: str = "11.1806") -> Path:
    """A comparison folder of two variants, seq2seq of one seed and bahdanau of two."""
    (folder / "hyps").mkdir(parents=True)
    (folder / "hyps" / "manifest.json").write_text("{}", encoding="utf-8")
    _write(folder / "variants.csv", [
        {"variant": "seq2seq", "seeds": "1", "test_bleu_mean": "15.98",
         "test_bleu_low": "", "test_bleu_high": ""},
        {"variant": "bahdanau", "seeds": "1, 2", "test_bleu_mean": "16.315",
         "test_bleu_low": "15.6", "test_bleu_high": "17.0"},
    ])  # fmt: skip
    _write(folder / "results.csv", [
        {"group": "seq2seq", "test_bleu": "15.98", "test_bleu_low": "15.49",
         "test_bleu_high": "16.47"},
        {"group": "bahdanau", "test_bleu": "15.98", "test_bleu_low": "15.49",
         "test_bleu_high": "16.47"},
        {"group": "bahdanau", "test_bleu": "16.65", "test_bleu_low": "16.12",
         "test_bleu_high": "17.18"},
    ])  # fmt: skip
    _write(folder / "reach.csv", [
        {"variant": "seq2seq", "reach_words": "30", "censored": "0"},
        {"variant": "bahdanau", "reach_words": "64", "censored": "1"},
        {"variant": "bahdanau", "reach_words": "", "censored": "0"},
    ])  # fmt: skip
    _write(folder / "trend.csv", [
        {"attentive": "bahdanau", "fixed": "seq2seq", "resamples": "10000",
         "gap_short": "13.98", "gap_long": "25.16", "did": did, "did_low": "7.9682",
         "did_high": "14.3583", "slope_per_word": "0.3085", "slope_low": "0.24668",
         "slope_high": "0.37071", "did_q_bh": "0.00012", "slope_q_bh": "0.0213",
         "bucket_lengths": "6.99 15.43 42.31"},
    ])  # fmt: skip
    return folder


def test_a_block_shows_each_variants_interval_reach_and_the_trend_test(tmp_path):
    text = render(_comparison(tmp_path / "c"))
    assert "| seq2seq | 1 | 15.98 [15.49, 16.47] | 30 |" in text  # one seed: its own interval
    # over the seeds; the mean of the runs' scores, 16.3149..., as the report writes it (not
    # variants.csv's rounded 16.315, which formats as 16.32)
    assert "| bahdanau | 1, 2 | 16.31 [15.60, 17.00] | ≥64, none |" in text
    assert "gap, 7 → 42 words" in text
    assert "| bahdanau − seq2seq | +14.0 → +25.2 | +11.18 [+7.97, +14.36] | <0.001 " in text
    assert "| +3.08 [+2.47, +3.71] | 0.021 |" in text  # per 10 words
    assert "10,000 resamples" in text and "seeds and test sentences" in text
    only = render(tmp_path / "c", ["trend"])
    assert "| bahdanau − seq2seq |" in only and "| seq2seq | 1 |" not in only


def test_check_fails_on_a_block_its_csvs_no_longer_give(tmp_path, capsys):
    folder = _comparison(tmp_path / "docs" / "c")
    readme = tmp_path / "README.md"
    readme.write_text("# x\n\n<!-- headline docs/c trend -->\nold\n<!-- /headline -->\nend\n")
    assert sync(readme, tmp_path, write=False) == ["docs/c"]
    assert "old" in readme.read_text()  # --check writes nothing
    main(["--readme", str(readme)])  # rewrite
    assert "+11.18 [+7.97, +14.36]" in readme.read_text()
    assert readme.read_text().endswith("<!-- /headline -->\nend\n")
    main(["--readme", str(readme), "--check"])  # current: exit status 0
    (folder / "trend.csv").unlink()
    _comparison(tmp_path / "other", did="9.5")
    (tmp_path / "other" / "trend.csv").replace(folder / "trend.csv")
    with pytest.raises(SystemExit) as e:
        main(["--readme", str(readme), "--check"])
    assert e.value.code == 1
    assert "the block of docs/c differs from its CSVs" in capsys.readouterr().err


def test_only_a_comparison_that_keeps_its_hypotheses_is_rendered(tmp_path):
    folder = _comparison(tmp_path / "c")
    (folder / "hyps" / "manifest.json").unlink()
    with pytest.raises(NMTError, match=r"keeps no hyps/manifest\.json"):
        render(folder)
    with pytest.raises(NMTError, match="unknown part"):
        render(_comparison(tmp_path / "d"), ["figures"])


def test_the_committed_readme_blocks_match_the_committed_csvs():
    assert "<!-- headline docs/results/" in (ROOT / "README.md").read_text(encoding="utf-8")
    assert sync(ROOT / "README.md", ROOT, write=False) == []
    proc = subprocess.run(  # the entry point make verify runs
        [sys.executable, "scripts/headline.py", "--check"], cwd=ROOT, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    assert "generated block(s) checked" in proc.stdout
