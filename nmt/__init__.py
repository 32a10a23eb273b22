"""nmt: seq2seq, Bahdanau, Luong and Transformer translation models behind one training loop."""

__version__ = "0.1.0"

PAD_ID, UNK_ID, BOS_ID, EOS_ID = 0, 1, 2, 3
