"""From a trained model to text: decoding settings, greedy and beam search, attention plots."""
