"""Choose each variant's recipe on validation: the learning rate (and warm-up) of a grid.

    python scripts/choose_recipe.py runs/tune_multi30k_cpu/<sweep> [...] --preset multi30k_cpu

Reads the finished runs of one or more tuning sweeps (``make tune``: every variant once per
grid point, on the same shortened budget, one seed), groups them by variant, and picks per
variant the grid point with the best validation BLEU (ties: the run listed first). The test
set is never read. Writes ``tuning.md`` and ``tuning.csv`` (every grid point's score, the
choice marked) to ``--out`` and, with ``--write``, one recipe file per variant,
``nmt/configs/experiment/recipe/<preset>/<variant>.yaml``: the chosen ``lr`` (and
``warmup_steps`` where the grid varied it) and ``recipe``, a line naming the grid, the
budget and the choice, which the comparison reports quote.

A grid extended later (a choice at its edge) need not train its first points again: the
points of an existing ``tuning.csv`` in ``--out`` whose runs are not given are kept, with
their lines of ``RUN.md``, and chosen among with the new ones.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from nmt.compare.rundir import Run, expand_run_dirs, load_run
from nmt.errors import ConfigError, NMTError
from nmt.io import atomic_write

#: the settings a tuning grid varies, as train config keys
GRID_KEYS = ("lr", "warmup_steps")
#: budget keys that must be equal across a variant's grid points
BUDGET_KEYS = ("max_epochs", "max_steps", "max_target_tokens", "max_minutes", "seed")
RECIPES = Path(__file__).resolve().parents[1] / "configs" / "experiment" / "recipe"


@dataclass(frozen=True)
class Point:
    """One grid point of one variant: its settings, score and how its run ended."""

    variant: str
    settings: dict[str, float]  # GRID_KEYS -> value the run trained with
    valid_bleu: float  # best validation BLEU (the run's best.pt)
    best_step: int | None
    stop_reason: str
    run: str
    budget: str = ""  # the tuning budget, e.g. "max_epochs=10, seed=1"


@dataclass(frozen=True)
class Choice:
    """One variant's grid, its chosen point and the values the grid varied."""

    variant: str
    points: tuple[Point, ...]
    chosen: Point
    varied: tuple[str, ...]  # the GRID_KEYS with more than one value
    budget: str  # the tuning budget, e.g. "max_epochs=10"


def _number(v: float) -> str:
    return f"{v:g}"


def grid_point(run: Run) -> Point:
    train = run.train_config
    return Point(
        variant=run.variant,
        settings={k: float(train[k]) for k in GRID_KEYS if k in train},
        valid_bleu=float(run.results.get("best_valid_bleu") or 0.0),
        best_step=run.results.get("best_step"),
        stop_reason=str(run.results.get("stop_reason")),
        run=str(run.path),
        budget=_budget(run),
    )


def _budget(run: Run) -> str:
    train = run.train_config
    return ", ".join(f"{k}={train[k]}" for k in BUDGET_KEYS if train.get(k))


def same_run(a: str, b: str) -> bool:
    return Path(a).resolve() == Path(b).resolve()


def earlier_points(table: Path, runs: Sequence[Run]) -> list[Point]:
    """The grid points of an earlier ``tuning.csv`` that ``runs`` do not give again (the
    same run folder, or the same variant and settings trained anew): their folders may be
    gone, their scores stay."""
    given = [grid_point(r) for r in runs]
    return [
        p
        for p in _table_points(table)
        if not any(
            same_run(p.run, g.run) or (p.variant, p.settings) == (g.variant, g.settings)
            for g in given
        )
    ]


def _table_points(table: Path) -> list[Point]:
    if not table.is_file():
        return []
    points = []
    with table.open(encoding="utf-8", newline="") as f:
        for line, row in enumerate(csv.DictReader(f), start=2):
            try:
                settings = {k: float(row[k]) for k in GRID_KEYS if row.get(k)}
                step = row.get("best_step")
                points.append(
                    Point(row["variant"], settings, float(row["best_valid_bleu"]),
                          int(step) if step not in (None, "", "None") else None,
                          row["stop_reason"], row["run"], row["budget"])
                )  # fmt: skip
            except (KeyError, ValueError) as e:
                raise ConfigError(
                    f"{table}, line {line}: not a tuning.csv row ({e}); move the file away "
                    "to choose from the given runs alone"
                ) from None
    return points


def choose(runs: Sequence[Run], earlier: Sequence[Point] = ()) -> list[Choice]:
    """Per variant (in first-seen order), the grid point with the best validation BLEU,
    among the ``earlier`` points (an earlier tuning.csv) and the runs'. A variant whose grid
    points trained on different budgets or seeds is refused."""
    by_variant: dict[str, list[Point]] = {}
    for point in [*earlier, *(grid_point(r) for r in runs)]:
        by_variant.setdefault(point.variant, []).append(point)
    choices = []
    for variant, points in by_variant.items():
        budgets = {p.budget for p in points}
        if len(budgets) > 1:
            raise ConfigError(
                f"{variant}: its grid points trained on different budgets or seeds "
                f"({'; '.join(sorted(budgets))}); tune every point alike"
            )
        seen = [tuple(p.settings.items()) for p in points]
        if len(set(seen)) < len(seen):
            raise ConfigError(f"{variant}: two runs share one grid point; give each once")
        best = max(range(len(points)), key=lambda i: (points[i].valid_bleu, -i))
        varied = tuple(k for k in GRID_KEYS if len({p.settings.get(k) for p in points}) > 1)
        choices.append(Choice(variant, tuple(points), points[best], varied, budgets.pop()))
    return choices


def describe(choice: Choice, source: str) -> str:
    """The recipe's one line: the grid, the budget, the choice and where it is reported."""
    values = {k: sorted({p.settings[k] for p in choice.points}) for k in choice.varied}
    grid = "; ".join(f"{k} of {{{', '.join(map(_number, v))}}}" for k, v in values.items())
    picked = ", ".join(f"{k}={_number(choice.chosen.settings[k])}" for k in choice.varied)
    edge = [k for k, v in values.items() if choice.chosen.settings[k] in (v[0], v[-1])]
    warning = f" (at the edge of the grid in {', '.join(edge)}: extend it)" if edge else ""
    return (
        f"{picked or 'the only grid point'} chosen from {grid or 'one point'} "
        f"({len(choice.points)} runs) by best validation BLEU ({choice.chosen.valid_bleu:.2f}) "
        f"on a budget of {choice.budget}{warning}: {source}"
    )


def recipe_yaml(choice: Choice, preset: str, source: str) -> str:
    """The recipe file of one variant of ``preset``."""
    lines = [
        f"# {preset} preset, {choice.variant}: the recipe chosen on validation by",
        f"# scripts/choose_recipe.py (`make tune experiment={preset}`); see {source}.",
        f"lr: {_number(choice.chosen.settings['lr'])}  # peak learning rate, chosen on validation",
    ]
    if "warmup_steps" in choice.varied:
        lines.append(
            f"warmup_steps: {int(choice.chosen.settings['warmup_steps'])}  # chosen on validation"
        )
    lines.append(f'recipe: "{describe(choice, source)}"  # how, in words (reports quote it)')
    return "\n".join(lines) + "\n"


def tuning_markdown(choices: Sequence[Choice], preset: str) -> str:
    """tuning.md: every variant's grid with its validation BLEU, the choice marked."""
    lines = [
        f"# Recipes of `{preset}`, chosen on validation",
        "",
        "Each variant trained once per grid point on the same shortened budget and seed; "
        "the point with the best validation BLEU (greedy, the whole validation set) is its "
        "recipe (✓). The test set was not read.",
        "",
    ]
    for c in choices:
        lines += [
            f"## {c.variant}",
            "",
            f"Budget: {c.budget}.",
            "",
            "| " + " | ".join(GRID_KEYS) + " | best valid BLEU | at update | stopped by | run |",
            "|" + "---|" * (len(GRID_KEYS) + 4),
        ]
        for p in c.points:
            mark = " ✓" if p is c.chosen else ""
            cells = [_number(p.settings[k]) if k in p.settings else "" for k in GRID_KEYS]
            lines.append(
                f"| {' | '.join(cells)} | {p.valid_bleu:.2f}{mark} | {p.best_step} "
                f"| {p.stop_reason} | `{p.run}` |"
            )
        lines += ["", f"Recipe: {describe(c, 'this page')}.", ""]
    return "\n".join(lines)


def run_markdown(runs: Sequence[Run], preset: str, kept: Sequence[str] = ()) -> str:
    """RUN.md: how the grid was made (each run's command and machine), and when chosen;
    ``kept``: the lines of earlier runs, from an earlier RUN.md."""
    lines = [
        f"# How the recipes of `{preset}` were chosen",
        "",
        f"- chosen: `python scripts/choose_recipe.py ... --preset {preset} --write` on "
        f"{dt.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}",
        "",
        "Runs (each trained once; its machine and training time from its results.json):",
        "",
        *kept,
    ]
    for run in runs:
        r = run.results
        lines.append(
            f"- `{run.path}`: `{run.command}` on {r.get('device')} "
            f"({float(r.get('wall_seconds') or 0) / 60:.0f} min, {r.get('stop_reason')})"
        )
    return "\n".join(lines) + "\n"


def earlier_run_lines(run_md: Path, runs: Sequence[str]) -> list[str]:
    """The lines of an earlier RUN.md that describe ``runs``."""
    if not run_md.is_file() or not runs:
        return []
    heads = tuple(f"- `{r}`:" for r in runs)
    return [ln for ln in run_md.read_text(encoding="utf-8").splitlines() if ln.startswith(heads)]


def write(
    choices: Sequence[Choice],
    preset: str,
    out: Path,
    recipes: Path | None,
    runs: Sequence[Run] = (),
    kept: Sequence[str] = (),
) -> None:
    """tuning.md, tuning.csv and RUN.md under ``out`` (``kept``: earlier runs' lines of
    RUN.md); the recipe files under ``recipes``."""
    out.mkdir(parents=True, exist_ok=True)
    if runs:
        made = run_markdown(runs, preset, kept).encode("utf-8")
        atomic_write(out / "RUN.md", lambda f: f.write(made))
    text = tuning_markdown(choices, preset).encode("utf-8")
    atomic_write(out / "tuning.md", lambda f: f.write(text))
    rows = [
        [
            c.variant,
            *(p.settings.get(k, "") for k in GRID_KEYS),
            p.valid_bleu,
            p.best_step,
            p.stop_reason,
            int(p is c.chosen),
            c.budget,
            p.run,
        ]
        for c in choices
        for p in c.points
    ]
    with (out / "tuning.csv").open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["variant", *GRID_KEYS, "best_valid_bleu", "best_step", "stop_reason",
                    "chosen", "budget", "run"])  # fmt: skip
        w.writerows(rows)
    if recipes is None:
        return
    folder = recipes / preset
    folder.mkdir(parents=True, exist_ok=True)
    for c in choices:
        data = recipe_yaml(c, preset, str(out / "tuning.md")).encode("utf-8")
        atomic_write(folder / f"{c.variant}.yaml", lambda f, data=data: f.write(data))


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", help="tuning runs or sweep folders")
    parser.add_argument("--preset", required=True, help="the experiment preset tuned")
    parser.add_argument("--out", help="where tuning.md/.csv go (docs/results/<preset>_tuning)")
    parser.add_argument("--write", action="store_true",
                        help=f"write the recipe files under {RECIPES}/<preset>/")  # fmt: skip
    parser.add_argument("--recipes", default=str(RECIPES), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        runs = [load_run(p) for p in expand_run_dirs(args.runs)]
        out = Path(args.out or f"docs/results/{args.preset}_tuning")
        earlier = earlier_points(out / "tuning.csv", runs)
        choices = choose(runs, earlier)
        kept = earlier_run_lines(out / "RUN.md", [p.run for p in earlier])
        if earlier:
            print(f"{out / 'tuning.csv'}: {len(earlier)} earlier grid point(s) kept")
        recipes = Path(args.recipes) if args.write else None
        write(choices, args.preset, out, recipes, runs, kept)
    except NMTError as e:
        print(f"error: {e}", file=sys.stderr)
        raise SystemExit(2) from None
    for c in choices:
        print(f"{c.variant}: {describe(c, str(out / 'tuning.md'))}")
