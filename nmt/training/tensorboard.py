"""TensorBoard logging: scalars, sample translations as text, an attention heat map image."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torch.utils.tensorboard import SummaryWriter

from nmt.translation.plots import attention_figure


class TensorBoardLogger:
    def __init__(self, log_dir: Path) -> None:
        self.writer = SummaryWriter(log_dir=str(log_dir))

    def scalars(self, prefix: str, values: dict[str, float], step: int) -> None:
        for key, value in values.items():
            self.writer.add_scalar(f"{prefix}/{key}", value, step)
        self.writer.flush()

    def samples(self, text: Any, hyps: list[str], n: int, step: int) -> None:
        rows = ["| source | reference | hypothesis |", "|---|---|---|"]
        for i in range(min(n, len(hyps))):
            cells = (text.src[i], text.refs[0][i], hyps[i])
            rows.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
        self.writer.add_text("valid/samples", "\n".join(rows), step)

    def attention(self, translator: Any, sentence: str, step: int) -> None:
        """Heat map of the model's attention while translating ``sentence`` greedily."""
        result = translator.translate(
            [sentence], translator.decoding.replace(beam=1), return_attention=True, warn=False
        )[0][0]
        if result.attention is None or not result.tokens:
            return
        tok = translator.tokenizer
        src_labels = [*tok.src_pieces(sentence)[: translator.max_input_tokens], "</s>"]
        tgt_labels = [*tok.tgt_pieces(result.tokens), "</s>"]
        fig = attention_figure(result.attention, src_labels, tgt_labels, result.text)
        self.writer.add_figure("valid/attention", fig, step)
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()
