#!/usr/bin/env bash
# Fine-tune a trained de->en model (e.g. a Multi30k Transformer) on news text given as
# plain files, the way one fine-tunes on one's own data, and score it before and after.
#
#   bash scripts/finetune_news.sh CKPT [OUT_DIR] [nmt-train overrides ...]
#
# 1. `nmt-data export` writes the wmt_news corpus's splits as plain files (verified copies
#    of the WMT news test sets; offline with NMT_DATA_MIRROR): train = the wmt_news
#    training split (news-test2008, newssyscomb2009, newstest2009-2012, 2015-2019),
#    dev = newstest2013, test = newstest2014.
# 2. The checkpoint as it is, on newstest2014 (nmt-evaluate) -> OUT_DIR/before.json.
# 3. nmt-train data=files ... train.init_from=CKPT on the wmt_news preset's budget
#    (validation every epoch on 1,000 dev pairs, patience 4 on the validation loss, at
#    most 48M target tokens, dropout 0.3, beam 5) -> OUT_DIR/run/, which scores
#    newstest2014 at the end.
# A scratch model on the same data and budget is the wmt_news preset's Transformer
# (`make compare experiment=wmt_news`).
set -euo pipefail
if [ $# -lt 1 ]; then
    echo "usage: bash scripts/finetune_news.sh CKPT [OUT_DIR] [nmt-train overrides ...]" >&2
    exit 2
fi
ckpt=$1
out=${2:-runs/finetune_news}
shift $(( $# >= 2 ? 2 : 1 ))
bin=${BIN:-.venv/bin}
root=${NMT_DATA_DIR:-data}
if [ ! -f "$ckpt" ]; then echo "error: checkpoint $ckpt not found" >&2; exit 2; fi

files="$root/finetune_news"
mkdir -p "$out"
"$bin/nmt-data" export wmt_news train "$files/train" --root "$root"
"$bin/nmt-data" export wmt_news newstest2013 "$files/dev" --root "$root"
"$bin/nmt-data" export wmt_news newstest2014 "$files/test" --root "$root"

echo "+ the checkpoint as it is, on newstest2014"
"$bin/nmt-evaluate" "$ckpt" --src "$files/test.de" --ref "$files/test.en" \
    --out "$out/before.json" --beam 5

echo "+ fine-tuning"
"$bin/nmt-train" data=files data.src=de data.tgt=en data.train="$files/train" \
    data.valid="$files/dev" data.test="$files/test" data.max_len=256 \
    "data.length_edges=[10,20,30,40,50]" train.init_from="$ckpt" model.dropout=0.3 \
    train.lr=1e-4 train.warmup_steps=800 train.max_target_tokens=48000000 \
    train.max_epochs=60 train.eval_every=0 train.eval_max_sentences=1000 train.patience=4 \
    train.early_stopping_metric=loss \
    train.keep_last=5 decode.beam=5 hydra.run.dir="$out/run" "$@"
