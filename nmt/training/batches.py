"""The training batches of an epoch, from any position, grouped into updates."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch

from nmt.data.batch import Batch
from nmt.errors import DataError
from nmt.system.distributed import DistInfo
from nmt.training.state import ignore_signals_in_worker


class EpochBatches:
    """This rank's shard of the shuffled token-budget batches of the train split; an epoch's
    order depends only on the seed and the epoch, so a run resumes mid-epoch exactly."""

    def __init__(self, data: Any, cfg: Any, dist: DistInfo, device: torch.device) -> None:
        self.data, self.device = data, device
        self.num_workers, self.accum = cfg.train.num_workers, max(1, cfg.train.accum_steps)
        self.sampler, self.collate = data.make_batches(
            "train", max_tokens=cfg.data.max_tokens, shuffle=True, seed=cfg.train.seed,
            num_shards=dist.world_size, shard_id=dist.rank,
        )  # fmt: skip
        if len(self.sampler) == 0:
            raise DataError(f"the train split of {cfg.data.name} gives no batches")

    def __len__(self) -> int:
        """Batches in an epoch."""
        return len(self.sampler)

    def epochs(self, progress: Any) -> float:
        """Epochs trained, the current one's share included."""
        return progress.epoch + progress.position / max(1, len(self))

    def batches(self, epoch: int, position: int) -> Iterator[Batch]:
        """The epoch's batches from ``position`` on (off-thread when num_workers > 0)."""
        self.sampler.load_state_dict({"epoch": epoch, "position": position})
        if self.num_workers > 0:
            yield from torch.utils.data.DataLoader(
                self.data.encoded["train"],
                batch_sampler=self.sampler,
                collate_fn=self.collate,
                num_workers=self.num_workers,
                pin_memory=self.device.type == "cuda",
                worker_init_fn=ignore_signals_in_worker,
                generator=torch.Generator(),  # keeps the global RNG untouched (exact resume)
            )
        else:
            encoded = self.data.encoded["train"]
            for indices in self.sampler:
                yield self.collate([encoded[i] for i in indices])

    def groups(self, epoch: int, position: int) -> Iterator[list[Batch]]:
        """The rest of the epoch's batches, ``train.accum_steps`` to an update (the epoch's
        last group may be shorter)."""
        group: list[Batch] = []
        for batch in self.batches(epoch, position):
            group.append(batch)
            if len(group) == min(self.accum, len(self) - position):
                yield group
                position, group = position + len(group), []
