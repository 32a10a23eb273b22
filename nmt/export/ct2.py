"""Export a Transformer checkpoint to a CTranslate2 model (``nmt-export ct2 CKPT OUT``).

CTranslate2 (OpenNMT's inference engine; fairseq, OpenNMT and Marian models translate
through it) is described layer by layer through its Python specification API
(``ctranslate2.specs.TransformerSpec``) and every weight is copied in:

- pre-norm (with the stacks' final LayerNorm) or post-norm, as the model was trained;
- embeddings scaled by ``sqrt(d_model)`` (§3.4) plus the model's own sinusoidal table
  (§3.5: sin at even, cos at odd dimensions), written out as position encodings so no
  convention of the engine's has to agree with ours;
- self-attention's Q, K, V projections fused, cross-attention's K, V fused, as the
  engine computes them; LayerNorm epsilon 1e-5 (torch's);
- the output projection from the (possibly tied) target embedding and its bias;
- the vocabularies are the SentencePiece pieces by id, so ids map one to one, with
  ``<unk>``, ``<s>`` (the decoder's start), ``</s>`` (appended to every source, as
  training did) taken from the model's special-token ids.

The folder holds the CTranslate2 model, the SentencePiece models beside it and
``nmt_export.json``: the source checkpoint's sha256, the quantization, the run's test
BLEU and search settings; with ``--vocab-map``, a vocabulary map of the training corpus
(``vmap.txt``, :mod:`nmt.export.vocab_map`) that CTranslate2's search then uses. The
pooled Transformer and the RNN variants are refused in one line: CTranslate2 has no
encoder that pools its states into one vector and no RNN.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path
from typing import Any

import torch

from nmt import BOS_ID, EOS_ID, UNK_ID
from nmt.data.fetch import sha256_file
from nmt.data.tokenizer import Tokenizer
from nmt.errors import ConfigError, NMTError
from nmt.export.vocab_map import training_vocab_map
from nmt.models.registry import build_model
from nmt.models.transformer import Transformer
from nmt.models.transformer_layers import sinusoids
from nmt.runs.checkpoint import load_checkpoint

MANIFEST = "nmt_export.json"
#: CTranslate2's vocabulary map file name (read from the model folder)
VMAP = "vmap.txt"
#: positions written into the model (inputs are cut to 250 pieces by default, outputs to
#: 1.5 x + 10); a translator refuses inputs longer than the table, and cuts outputs there
MAX_POSITIONS = 4096
QUANTIZATIONS = ("float32", "int8", "int8_float32", "int16", "float16", "bfloat16")
#: why each other variant cannot be exported, in one line
REFUSED = {
    "transformer_pooled": "its decoder reads one pooled vector of the encoder's states, "
    "and CTranslate2's Transformer encoder has no pooling",
    "seq2seq": "CTranslate2 has no RNN encoder-decoder",
    "bahdanau": "CTranslate2 has no RNN encoder-decoder",
    "luong": "CTranslate2 has no RNN encoder-decoder",
}


def ctranslate2_module():
    """The ctranslate2 package, or one line saying how to install it."""
    try:
        import ctranslate2
    except ImportError:
        raise NMTError(
            "CTranslate2 is not installed; pip install 'ctranslate2>=4' (or nmt[ct2])"
        ) from None
    return ctranslate2


def _numpy(t: torch.Tensor):
    return t.detach().float().cpu().numpy()


def _linear(spec, module: torch.nn.Linear) -> None:
    spec.weight = _numpy(module.weight)
    if module.bias is not None:
        spec.bias = _numpy(module.bias)


def _fused(spec, modules: list[torch.nn.Linear]) -> None:
    """One linear layer computing ``modules`` side by side (rows stacked)."""
    spec.weight = _numpy(torch.cat([m.weight for m in modules]))
    spec.bias = _numpy(torch.cat([m.bias for m in modules]))


def _norm(spec, module: torch.nn.LayerNorm) -> None:
    spec.gamma, spec.beta = _numpy(module.weight), _numpy(module.bias)


def _ffn(spec, ff: torch.nn.Sequential, norm: torch.nn.LayerNorm) -> None:
    _norm(spec.layer_norm, norm)
    _linear(spec.linear_0, ff[0])  # d_model -> ff_dim, ReLU
    _linear(spec.linear_1, ff[-1])  # ff_dim -> d_model


def transformer_spec(model: Transformer, tokenizer: Tokenizer):
    """The ``ctranslate2.specs.TransformerSpec`` of ``model`` with every weight set."""
    ct2 = ctranslate2_module()
    from ctranslate2.specs import TransformerSpec

    cfg = model.config
    spec = TransformerSpec.from_config(
        (cfg.enc_layers, cfg.dec_layers),
        cfg.heads,
        pre_norm=cfg.pre_norm,
        alignment_layer=-1,  # heat maps: the last layer's cross-attention,
        alignment_heads=cfg.heads,  # averaged over its heads, as the PyTorch path shows
    )
    positions = _numpy(sinusoids(torch.arange(MAX_POSITIONS), cfg.d_model))
    enc, dec = spec.encoder, spec.decoder
    enc.embeddings[0].weight = _numpy(model.src_embed.weight)
    enc.position_encodings.encodings = positions
    for layer_spec, layer in zip(enc.layer, model.encoder_layers, strict=True):
        att = layer.self_attn
        _fused(layer_spec.self_attention.linear[0], [att.q_proj, att.k_proj, att.v_proj])
        _linear(layer_spec.self_attention.linear[1], att.out_proj)
        _norm(layer_spec.self_attention.layer_norm, layer.attn_res.norm)
        _ffn(layer_spec.ffn, layer.ff, layer.ff_res.norm)
    dec.embeddings.weight = _numpy(model.tgt_embed.weight)
    dec.position_encodings.encodings = positions
    for layer_spec, layer in zip(dec.layer, model.decoder_layers, strict=True):
        att, cross = layer.self_attn, layer.cross_attn
        _fused(layer_spec.self_attention.linear[0], [att.q_proj, att.k_proj, att.v_proj])
        _linear(layer_spec.self_attention.linear[1], att.out_proj)
        _norm(layer_spec.self_attention.layer_norm, layer.self_res.norm)
        _linear(layer_spec.attention.linear[0], cross.q_proj)
        _fused(layer_spec.attention.linear[1], [cross.k_proj, cross.v_proj])
        _linear(layer_spec.attention.linear[2], cross.out_proj)
        _norm(layer_spec.attention.layer_norm, layer.cross_res.norm)
        _ffn(layer_spec.ffn, layer.ff, layer.ff_res.norm)
    if cfg.pre_norm:
        _norm(enc.layer_norm, model.encoder_norm)
        _norm(dec.layer_norm, model.decoder_norm)
    _linear(dec.projection, model.generator)  # its weight is the target embedding when tied
    src_pieces, tgt_pieces = tokenizer.src_vocab(), tokenizer.tgt_vocab()
    spec.register_source_vocabulary(src_pieces)
    spec.register_target_vocabulary(tgt_pieces)
    spec.config.unk_token = tgt_pieces[UNK_ID]
    spec.config.bos_token = tgt_pieces[BOS_ID]
    spec.config.eos_token = tgt_pieces[EOS_ID]
    spec.config.decoder_start_token = tgt_pieces[BOS_ID]
    spec.config.add_source_eos = True  # training appended EOS to every source
    spec.config.layer_norm_epsilon = 1e-5  # torch.nn.LayerNorm's
    del ct2
    return spec


def run_test_bleu(checkpoint: Path) -> dict[str, Any] | None:
    """The test scores of the run the checkpoint belongs to (its results.json), if any."""
    for folder in (checkpoint.parent.parent, checkpoint.parent):
        path = folder / "results.json"
        if path.is_file():
            try:
                test = json.loads(path.read_text(encoding="utf-8")).get("test", {}).get("test")
            except (OSError, ValueError):
                return None
            if isinstance(test, dict):
                keep = ("bleu", "bleu_ci", "chrf", "signature", "beam", "split")
                return {k: test[k] for k in keep if k in test}
    return None


def export_ct2(
    checkpoint: str | Path,
    out: str | Path,
    quantization: str = "float32",
    force: bool = False,
    vocab_map: dict[str, Any] | None = None,
    progress: bool = False,
) -> dict[str, Any]:
    """Convert ``checkpoint`` (a Transformer's best.pt or last.pt) into a CTranslate2 model
    folder ``out``; returns the manifest written beside it.

    ``vocab_map``: also write a vocabulary map (``vmap.txt``, :mod:`nmt.export.vocab_map`)
    from the run's training corpus, with these settings of :func:`build_vocab_map`
    (``{}``: its defaults; ``max_pairs``: how many training pairs it reads at most)."""
    checkpoint, out = Path(checkpoint), Path(out)
    if quantization not in QUANTIZATIONS:
        raise ConfigError(
            f"--quantization: one of {', '.join(QUANTIZATIONS)}, got {quantization!r}"
        )
    if out.exists() and not out.is_dir():
        raise ConfigError(f"{out}: is a file; give a folder to write the export into")
    if out.is_dir() and any(out.iterdir()):
        if not force:
            raise ConfigError(f"{out}: exists and is not empty; give another folder or --force")
        if not is_export(out):
            raise ConfigError(
                f"{out}: --force replaces an earlier export only, and this folder holds none "
                f"(no {MANIFEST}); give another folder"
            )
    ckpt = load_checkpoint(checkpoint)
    variant = ckpt["model_config"].get("name")
    if variant != "transformer":
        why = REFUSED.get(variant, "only the Transformer has a CTranslate2 counterpart")
        raise ConfigError(
            f"{checkpoint}: a {variant} model cannot be exported to CTranslate2: {why}"
        )
    tokenizer = Tokenizer.from_state_dict(ckpt["tokenizer"])
    model = build_model(ckpt["model_config"], tokenizer.src_vocab_size, tokenizer.tgt_vocab_size)
    model.load_state_dict(ckpt["model"])
    model.eval()
    ct2 = ctranslate2_module()
    # the map first: a corpus that cannot be read fails before the conversion's work
    vmap = None
    if vocab_map is not None:
        vmap = training_vocab_map(ckpt, tokenizer, dict(vocab_map), progress)

    class _Converter(ct2.converters.Converter):
        def _load(self):
            with torch.no_grad():
                return transformer_spec(model, tokenizer)

    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        _Converter().convert(
            str(tmp), quantization=None if quantization == "float32" else quantization
        )
        for name, data in tokenizer.model_files().items():
            (tmp / name).write_bytes(data)
        if vmap is not None:
            (tmp / VMAP).write_text(vmap[0], encoding="utf-8")
        manifest = write_manifest(tmp, checkpoint, ckpt, quantization, ct2.__version__,
                                  vocab_map=None if vmap is None else vmap[1])  # fmt: skip
        if out.exists():
            shutil.rmtree(out)
        tmp.rename(out)  # complete or absent
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return manifest


def write_manifest(
    folder: Path,
    checkpoint: Path,
    ckpt: dict[str, Any],
    quantization: str,
    version: str,
    vocab_map: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """``nmt_export.json``: where the export came from and how it decodes (``vocab_map``:
    the summary of the map written beside it, if any)."""
    manifest = {
        "format": "nmt-ctranslate2",
        "checkpoint": str(checkpoint),
        "checkpoint_sha256": sha256_file(checkpoint),
        "quantization": quantization,
        "ctranslate2": version,
        "max_positions": MAX_POSITIONS,
        "model_config": dict(ckpt["model_config"]),
        "decode": ckpt.get("decode"),
        "data": dict(ckpt["data"]),  # the run's data config: nmt-evaluate reads its test set
        "test": run_test_bleu(checkpoint),
        "exported": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }
    if vocab_map is not None:
        manifest["vocab_map"] = vocab_map
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    return manifest


def is_export(path: str | Path) -> bool:
    """Whether ``path`` is a folder :func:`export_ct2` wrote."""
    return (Path(path) / MANIFEST).is_file()
