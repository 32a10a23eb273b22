"""``nmt-data``: the corpus commands of :mod:`nmt.data.cli` (list, fetch, stats, export),
and ``prepare``: a run's training split tokenized once into the store that training reads
(:mod:`nmt.data.store`), from the same config and overrides as ``nmt-train``::

    nmt-data prepare experiment=wmt14_gpu model=transformer
    nmt-train experiment=wmt14_gpu model=transformer     # starts from the prepared split
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from nmt.data import cli as data_cli
from nmt.errors import NMTError


def prepare(overrides: Sequence[str]) -> int:
    """Compose the config as ``nmt-train`` would and prepare its data (train split first)."""
    from hydra import compose, initialize_config_dir
    from hydra.errors import HydraException
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    from nmt.cli.train import CONFIG_DIR
    from nmt.data.prepare import prepare_data
    from nmt.data.store import TokenStore
    from nmt.training.config import register_configs

    register_configs()
    try:
        with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
            cfg = compose("config", overrides=list(overrides))
    except (HydraException, OmegaConfBaseException) as e:
        first = str(e).strip().splitlines()[0]
        raise NMTError(f"{first} (overrides: {' '.join(overrides) or 'none'})") from None
    data_cfg = OmegaConf.to_container(cfg.data, resolve=True)
    if not data_cfg.get("prepared", True):
        raise NMTError("data.prepared=false trains from memory: there is nothing to prepare")
    data = prepare_data(data_cfg, log=data_cli._log)
    store = data.encoded["train"]
    assert isinstance(store, TokenStore)
    size, tokens = store.disk_bytes(), store.meta["src_tokens"] + store.meta["tgt_tokens"]
    print(
        f"{store.folder}: {len(store):,} training pairs, {tokens:,} tokens, "
        f"{size / 1e6:,.1f} MB ({size / max(1, tokens):.2f} bytes a token with the index); "
        f"prepared in {store.meta['seconds']:,.0f} s"
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] != ["prepare"]:
        return data_cli.main(argv)
    return data_cli.run(lambda: prepare(argv[1:]))


if __name__ == "__main__":
    sys.exit(main())
