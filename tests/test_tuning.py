"""Recipes chosen on validation: the grid, the choice, the recipe file Hydra then applies."""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from nmt.compare.rundir import Run
from nmt.compare.tuning import choose, describe, main
from nmt.errors import ConfigError
from nmt.training.config import register_configs

CONFIGS = Path(__file__).resolve().parents[1] / "nmt" / "configs"


def fake_run(variant: str, lr: float, bleu: float, warmup: int = 500, epochs: int = 10) -> Run:
    train = {"lr": lr, "warmup_steps": warmup, "max_epochs": epochs, "seed": 1}
    results = {"variant": variant, "best_valid_bleu": bleu, "best_step": 900, "device": "cpu",
               "stop_reason": "max_epochs", "test": {"test": {"bleu": 99.0}}}  # fmt: skip
    return Run(Path(f"runs/tune/{variant}_{lr}_{warmup}"), results, {"train": train})


def test_each_variant_gets_its_best_grid_point_on_validation():
    runs = [
        *(fake_run("luong", lr, bleu) for lr, bleu in ((5e-4, 30.1), (1e-3, 31.5), (2e-3, 29.0))),
        fake_run("transformer", 1e-3, 33.0, 250),
        fake_run("transformer", 1e-3, 34.0, 1000),
        fake_run("transformer", 5e-4, 32.0),
    ]
    luong, transformer = choose(runs)
    assert luong.chosen.settings["lr"] == 1e-3 and luong.varied == ("lr",)
    assert transformer.chosen.settings == {"lr": 1e-3, "warmup_steps": 1000}
    assert transformer.varied == ("lr", "warmup_steps")
    # the test scores (99 everywhere) play no part; a tie goes to the run listed first
    tie = choose([fake_run("seq2seq", 2e-3, 20.0), fake_run("seq2seq", 1e-3, 20.0)])[0]
    assert tie.chosen.settings["lr"] == 2e-3
    # a choice at the grid's edge says so: the best may lie beyond it
    assert "at the edge of the grid in lr: extend it" in describe(tie, "x")
    assert "edge" not in describe(luong, "x")


def test_a_grid_on_unequal_budgets_or_a_repeated_point_is_refused():
    with pytest.raises(ConfigError, match="luong: its grid points trained on different budgets"):
        choose([fake_run("luong", 5e-4, 30.0), fake_run("luong", 1e-3, 31.0, epochs=20)])
    with pytest.raises(ConfigError, match="two runs share one grid point"):
        choose([fake_run("luong", 5e-4, 30.0), fake_run("luong", 5e-4, 31.0)])


def test_the_recipe_file_is_written_reported_and_applied_by_hydra(tmp_path, monkeypatch):
    runs = [fake_run("luong", 5e-4, 30.1), fake_run("luong", 1e-3, 31.5)]
    monkeypatch.setattr("nmt.compare.tuning.load_run", lambda p: runs[int(Path(p).name)])
    for i in range(2):
        (tmp_path / "sweep" / str(i)).mkdir(parents=True)
    folders = [tmp_path / "sweep" / "0", tmp_path / "sweep" / "1"]
    monkeypatch.setattr("nmt.compare.tuning.expand_run_dirs", lambda paths: folders)
    recipes, out = tmp_path / "configs" / "experiment" / "recipe", tmp_path / "tuning"
    main(["sweep", "--preset", "multi30k_cpu", "--out", str(out), "--write",
          "--recipes", str(recipes)])  # fmt: skip
    report = (out / "tuning.md").read_text()
    assert "| 0.001 | 500 | 31.50 ✓ |" in report and "| 0.0005 | 500 | 30.10 |" in report
    assert (out / "tuning.csv").read_text().count("\n") == 3
    assert "`runs/tune/luong_0.001_500`: `nmt-train` on cpu" in (out / "RUN.md").read_text()
    written = OmegaConf.load(recipes / "multi30k_cpu" / "luong.yaml")
    assert written.lr == 1e-3 and "warmup_steps" not in written
    assert written.recipe.startswith("lr=0.001 chosen from lr of {0.0005, 0.001} (2 runs)")
    assert "max_epochs=10" in written.recipe
    register_configs()
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        search = f"hydra.searchpath=[file://{tmp_path / 'configs'}]"
        cfg = compose("config", overrides=["model=luong", "experiment=multi30k_cpu", search])
    assert cfg.train.lr == 1e-3 and cfg.train.recipe == written.recipe
    assert cfg.train.patience == 5  # the rest of the preset stays


def test_a_grid_extended_later_keeps_its_earlier_points(tmp_path, monkeypatch):
    """A choice at the grid's edge is extended in a later session, whose machine no longer
    holds the first runs: their points come from the committed tuning.csv and RUN.md."""
    out = tmp_path / "tuning"

    def tune(runs):
        monkeypatch.setattr("nmt.compare.tuning.load_run", lambda p: runs[int(Path(p).name)])
        folders = []
        for i in range(len(runs)):
            (tmp_path / "sweep" / str(i)).mkdir(parents=True, exist_ok=True)
            folders.append(tmp_path / "sweep" / str(i))
        monkeypatch.setattr("nmt.compare.tuning.expand_run_dirs", lambda paths: folders)
        main(["sweep", "--preset", "multi30k_cpu", "--out", str(out)])

    tune([fake_run("seq2seq", 1e-3, 17.9), fake_run("seq2seq", 2e-3, 21.0)])
    assert "(at the edge of the grid in lr" in (out / "tuning.md").read_text()
    tune([fake_run("seq2seq", 4e-3, 21.3)])
    table = (out / "tuning.csv").read_text()
    assert table.count("\n") == 4 and "seq2seq,0.004,500.0,21.3,900,max_epochs,1" in table
    assert "lr=0.004 chosen from lr of {0.001, 0.002, 0.004} (3 runs)" in (
        out / "tuning.md").read_text()  # fmt: skip
    made = (out / "RUN.md").read_text()
    assert all(f"`runs/tune/seq2seq_{lr}_500`: `nmt-train`" in made
               for lr in ("0.001", "0.002", "0.004"))  # fmt: skip
    # an earlier point on another budget is refused like any other
    with pytest.raises(SystemExit):
        tune([fake_run("seq2seq", 8e-3, 21.0, epochs=20)])
    # a rerun of a listed run replaces its earlier row instead of repeating it
    tune([fake_run("seq2seq", 4e-3, 21.5)])
    assert (out / "tuning.csv").read_text().count("\n") == 4
    # so does a grid point trained anew in another folder
    again = fake_run("seq2seq", 1e-3, 18.5)
    again = Run(Path("runs/tune2/seq2seq_0.001"), again.results, again.config)
    tune([again])
    table = (out / "tuning.csv").read_text()
    assert table.count("\n") == 4 and "runs/tune2/seq2seq_0.001" in table and ",17.9," not in table


def test_the_default_recipe_is_make_trains_and_the_presets_keep_their_pinned_rate():
    """``nmt-train`` alone: the Transformer at 2e-3 after 200 warm-up updates (the recipe
    chosen by time to validation BLEU 30); a preset run with the earlier default keeps it
    (its recipe file), and its report calls that rate not tuned, with the reason."""
    from types import SimpleNamespace

    from nmt.compare.render_runs import recipe_cells
    from nmt.training.schedule import resolve_lr

    register_configs()
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        default = compose("config")
        pinned = compose("config", overrides=["experiment=bottleneck"])
        pooled = compose("config", overrides=["model=transformer_pooled"])
    assert resolve_lr(default.train, "transformer") == 2e-3
    assert default.train.warmup_steps == 200 and not default.train.recipe
    assert resolve_lr(pooled.train, "transformer_pooled") == 7e-4
    assert pinned.train.lr == 7e-4 and pinned.train.warmup_steps == 400
    run = SimpleNamespace(train_config=OmegaConf.to_container(pinned.train), overrides=[])
    lr, _, warmup, how = recipe_cells(run)
    assert (lr, warmup) == ("0.0007", "400")
    assert how.startswith("**not tuned** on this preset: 7e-4, the Transformer's default")
