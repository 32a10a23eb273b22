#!/bin/bash
# Set up JoeyNMT 2.3.0 in /tmp/peer on the same data and SentencePiece model as nmt.
# Run from the nmt checkout after `make data` (Multi30k under data/multi30k, the joint
# 8k SentencePiece model under data/spm). Then train with run.sh.
set -euo pipefail
NMT=$(pwd)
PEER=/tmp/peer
mkdir -p "$PEER"/{configs,data,vocab}
python3 -m venv "$PEER/venv"
# sentencepiece 0.2.0: joeynmt 2.3.0 calls SetVocabulary, gone from 0.2.1 on;
# importlib_metadata: imported by joeynmt.helpers but not declared
"$PEER/venv/bin/pip" install -q torch==2.13.0 joeynmt==2.3.0 importlib_metadata sentencepiece==0.2.0
for f in train.de train.en val.de val.en test_2016_flickr.de test_2016_flickr.en; do
  gunzip -c "$NMT/data/multi30k/$f.gz" > "$PEER/data/$f"
done
SPM=$(ls -d "$NMT"/data/spm/multi30k.de-en.unigram8000.joint.*/joint.model | head -1)
cp "$SPM" "$PEER/vocab/multi30k.de-en.unigram8000.joint.model"
# JoeyNMT's vocabulary file: its 4 specials first (unk, pad, bos, eos), then every other piece
"$PEER/venv/bin/python" - "$PEER/vocab" <<'PY'
import sys
import sentencepiece as spm
out = sys.argv[1]
sp = spm.SentencePieceProcessor(model_file=f"{out}/multi30k.de-en.unigram8000.joint.model")
specials = ["<unk>", "<pad>", "<s>", "</s>"]
pieces = [sp.id_to_piece(i) for i in range(sp.get_piece_size())]
with open(f"{out}/joint.vocab.txt", "w") as f:
    f.writelines(p + "\n" for p in specials + [p for p in pieces if p not in specials])
PY
cp "$NMT"/docs/results/peer_joeynmt/{bahdanau,transformer}.yaml "$PEER/configs/"
