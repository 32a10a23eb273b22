"""``train.init_from=CKPT``: fine-tune, i.e. start a new run from a checkpoint's weights with
its tokenizer, on the run's own data, with a fresh optimiser and schedule.

The model is the checkpoint's (variant and sizes): a command line that asks for another
architecture is refused in one line, as is data in another language pair. Only
``model.dropout`` may change. What is new text to the checkpoint's SentencePiece models
shows as unknown pieces; their share in the training data is reported.
"""

from __future__ import annotations

from typing import Any

from omegaconf import DictConfig, OmegaConf, open_dict

from nmt.errors import ConfigError
from nmt.runs.checkpoint import load_checkpoint

#: model settings a fine-tuning run may change
FREE = ("dropout",)


def _value(text: str) -> Any:
    """A command-line value as Hydra reads it (``0.1`` -> 0.1, ``true`` -> True)."""
    return OmegaConf.create({"v": text})["v"] if text else text


def adopt_checkpoint(cfg: DictConfig, overrides: list[str]) -> dict[str, Any] | None:
    """When ``train.init_from`` is set: load it, make its model config the run's (keeping a
    ``model.dropout`` given on the command line) and return it; else None.

    ``overrides`` are the command line's (``HydraConfig.get().overrides.task``): a
    ``model=`` or ``model.<key>=`` that contradicts the checkpoint is refused."""
    path = str(cfg.train.get("init_from") or "")
    if not path:
        return None
    ckpt = load_checkpoint(path)
    model = dict(ckpt["model_config"])
    where = f"train.init_from={path}"
    for item in overrides:
        key, _, text = item.lstrip("+~").partition("=")
        if key == "model" and text != model["name"]:
            raise ConfigError(
                f"{where} holds a {model['name']} model, the command line asks for model={text}; "
                "drop model= (the checkpoint's variant is used)"
            )
        if key.startswith("model.") and key[6:] not in FREE:
            name = key[6:]
            if name not in model or _value(text) != model[name]:
                raise ConfigError(
                    f"{where}: its model has {key}={model.get(name)!r}, the command line asks for "
                    f"{text!r}; a fine-tuned model keeps the checkpoint's architecture (only "
                    f"{', '.join('model.' + k for k in FREE)} may change)"
                )
    if any(item.lstrip("+~").partition("=")[0] == "model.dropout" for item in overrides):
        model["dropout"] = cfg.model.dropout
    pair = (ckpt["data"].get("src"), ckpt["data"].get("tgt"))
    if pair != (cfg.data.src, cfg.data.tgt):
        raise ConfigError(
            f"{where} translates {pair[0]}→{pair[1]}, the data is {cfg.data.src}→{cfg.data.tgt}; "
            "its tokenizer and embeddings fit only its language pair (set data.src/data.tgt)"
        )
    with open_dict(cfg):
        cfg.model = OmegaConf.create(model)
    return ckpt


def unknown_share(data: Any) -> tuple[float, float]:
    """Shares of unknown pieces in the encoded training sources and targets."""
    from nmt import UNK_ID

    train = data.encoded["train"]
    if hasattr(train, "unknown_share"):  # the prepared split: counted on disk, in chunks
        return train.unknown_share()
    counts = [[0, 0], [0, 0]]  # [unknown, all] for source, target
    for example in train:
        for side, ids in enumerate(example):
            counts[side][0] += sum(i == UNK_ID for i in ids)
            counts[side][1] += len(ids)
    return tuple(u / max(1, n) for u, n in counts)  # type: ignore[return-value]
