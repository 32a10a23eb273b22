import json
import sys
import time

import torch

torch.set_num_threads(2)
from nmt.runs.checkpoint import load_translator

ckpt, src_file, mode = sys.argv[1], sys.argv[2], sys.argv[3]
lines = open(src_file).read().splitlines()[:1000]
t = load_translator(ckpt)
def run(beam):
    if hasattr(t, "decoding"):
        return t.translate_text(lines, decoding=t.decoding.replace(beam=beam))
    return t.translate_text(lines, beam=beam)
run(1)
out = {}
for beam in (1, 5):
    t0 = time.perf_counter(); hyps = run(beam); dt = time.perf_counter() - t0
    import hashlib; out[beam] = (round(len(lines) / dt, 1), hashlib.md5('\n'.join(hyps).encode()).hexdigest()[:8])
print(mode, json.dumps(out))
