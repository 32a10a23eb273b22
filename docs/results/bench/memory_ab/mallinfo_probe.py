"""Where the trainer's resident memory goes under glibc malloc: mallinfo2 (heap size, bytes
in use, free bytes kept in the heap, mmapped bytes) every 10 updates and around each
validation, plus the bytes of live tensors around validations. Writes mallinfo.tsv.

    NMT_ALLOCATOR=system python mallinfo_probe.py hydra.run.dir=/tmp/probe \\
        train.eval_every=0 train.max_epochs=4 'data.extra_tests=[]' decode.beam=1
"""

import ctypes
import gc
import sys
from pathlib import Path

import torch

import nmt.training.trainer as trainer


class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                ["arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost"]]


libc = ctypes.CDLL("libc.so.6")
libc.mallinfo2.restype = MallInfo2
out = open("mallinfo.tsv", "w")
out.write("tag\tstep\trss\theap\tinuse\tfree\tmmapped\tnmmap\tlive_tensors\n")


def rss_mb() -> float:
    line = next(x for x in Path("/proc/self/status").read_text().splitlines() if x.startswith("VmRSS"))
    return int(line.split()[1]) / 1024


def sample(tag: str, step: int) -> None:
    m, mb = libc.mallinfo2(), 2**20
    live = 0
    if tag != "step":  # walking every object is slow: around validations only
        live = sum(o.untyped_storage().nbytes() for o in gc.get_objects() if torch.is_tensor(o))
    out.write(f"{tag}\t{step}\t{rss_mb():.0f}\t{m.arena / mb:.0f}\t{m.uordblks / mb:.0f}\t"
              f"{m.fordblks / mb:.0f}\t{m.hblkhd / mb:.0f}\t{m.hblks}\t{live / mb:.0f}\n")
    out.flush()


update, validate = trainer.Trainer._update, trainer.Trainer.validate


def _update(self, group, meter):
    result = update(self, group, meter)
    if self.step % 10 == 0:
        sample("step", self.step)
    return result


def _validate(self, final=False):
    sample("preval", self.step)
    result = validate(self, final)
    sample("postval", self.step)
    return result


trainer.Trainer._update, trainer.Trainer.validate = _update, _validate
from nmt.cli.train import main  # noqa: E402

sys.argv = ["nmt-train", *sys.argv[1:]]
main()
