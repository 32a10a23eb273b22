"""The catalogue's corpora of real size: WMT14 en-de and IWSLT14 de-en, as published."""

from __future__ import annotations

from nmt.data.spec import Corpus, RemoteFile, SplitSpec

#: WMT14 en-de (Vaswani et al. 2017; fairseq examples/translation/prepare-wmt14en2de.sh
#: --icml17): archives as published by statmt.org, which gives no checksums (None: the
#: first fetch records them in the corpus folder's SHA256.lock).
WMT13_URL = "http://www.statmt.org/wmt13"
WMT14_URL = "http://www.statmt.org/wmt14"
_WMT14_TRAIN = (  # fairseq's CORPORA, in its order: (archive, base url, member stem)
    ("training-parallel-europarl-v7.tgz", WMT13_URL, "training/europarl-v7.de-en"),
    ("training-parallel-commoncrawl.tgz", WMT13_URL, "commoncrawl.de-en"),
    ("training-parallel-nc-v9.tgz", WMT14_URL, "training/news-commentary-v9.de-en"),
)
_NEWSTEST2014 = "test-full/newstest2014-deen"  # sacreBLEU's wmt14/full (3,003 segments)


def wmt14_corpus() -> Corpus:
    both = ("de", "en")
    train = {lang: tuple(f"{stem}.{lang}" for _, _, stem in _WMT14_TRAIN) for lang in both}
    sgm = {  # direction -> language -> file, as sacreBLEU's wmt14/full pairs them
        "de-en": {"de": (f"{_NEWSTEST2014}-src.de.sgm",), "en": (f"{_NEWSTEST2014}-ref.en.sgm",)},
        "en-de": {"en": (f"{_NEWSTEST2014}-src.en.sgm",), "de": (f"{_NEWSTEST2014}-ref.de.sgm",)},
    }
    files = (
        *(RemoteFile(a, None, url, (f"{stem}.de", f"{stem}.en")) for a, url, stem in _WMT14_TRAIN),
        RemoteFile("dev.tgz", None, WMT14_URL, ("dev/newstest2013.de", "dev/newstest2013.en")),
        RemoteFile(
            "test-full.tgz",
            None,
            WMT14_URL,
            tuple(f for pair in sgm.values() for names in pair.values() for f in names),
        ),
    )
    return Corpus(
        name="wmt14",
        folder="wmt14_en-de",
        description=(
            "WMT14 en-de: Europarl v7 + Common Crawl + News Commentary v9 (~4.5M pairs), "
            "newstest2013 / newstest2014 (3,003)"
        ),
        languages=("en", "de"),
        default_pair=("en", "de"),
        default_splits=("train", "newstest2013", "newstest2014"),
        default_extra_tests=(),
        files=files,
        splits={
            "train": SplitSpec(train),
            "newstest2013": SplitSpec({lang: (f"dev/newstest2013.{lang}",) for lang in both}),
            "newstest2014": SplitSpec(sgm["de-en"], format="sgm", directions=sgm),
        },
        default_max_len=256,
    )


#: IWSLT14 de-en as fairseq's examples/translation/prepare-iwslt14.sh makes it, from fairseq's
#: copy of WIT3's 2014-01 archive (https://wit3.fbk.eu/archive/2014-01/texts/de/en/de-en.tgz
#: is gone); no published checksum.
IWSLT14_URL = "http://dl.fbaipublicfiles.com/fairseq/data/iwslt14"
IWSLT14_HOLD_OUT = 23  # fairseq: every 23rd training line is the validation set
_IWSLT14_TESTS = (  # fairseq's test set: these five, concatenated in this order
    ("dev2010", "IWSLT14.TED.dev2010"),
    ("dev2012", "IWSLT14.TEDX.dev2012"),
    ("tst2010", "IWSLT14.TED.tst2010"),
    ("tst2011", "IWSLT14.TED.tst2011"),
    ("tst2012", "IWSLT14.TED.tst2012"),
)


def iwslt14_corpus() -> Corpus:
    both = ("de", "en")

    def xml(*sets: str) -> dict[str, tuple[str, ...]]:
        return {lang: tuple(f"de-en/{s}.de-en.{lang}.xml" for s in sets) for lang in both}

    tags = {lang: (f"de-en/train.tags.de-en.{lang}",) for lang in both}
    tests = [prefix for _, prefix in _IWSLT14_TESTS]
    members = tuple(f for files in (tags, xml(*tests)) for lang in both for f in files[lang])
    every = IWSLT14_HOLD_OUT
    splits = {
        "train": SplitSpec(tags, format="iwslt_tags", every=every, keep="rest"),
        "valid": SplitSpec(tags, format="iwslt_tags", every=every, keep="held"),
        "test": SplitSpec(xml(*tests), format="iwslt_xml"),
        **{name: SplitSpec(xml(prefix), format="iwslt_xml") for name, prefix in _IWSLT14_TESTS},
    }
    return Corpus(
        name="iwslt14",
        folder="iwslt14_de-en",
        description=(
            "IWSLT14 de-en TED talks (fairseq's split): train / every 23rd line held out as "
            "valid / test = dev2010+dev2012+tst2010-2012 (6,750)"
        ),
        languages=both,
        default_pair=("de", "en"),
        default_splits=("train", "valid", "test"),
        default_extra_tests=(),
        files=(RemoteFile("de-en.tgz", None, IWSLT14_URL, members),),
        splits=splits,
        default_max_len=256,
    )
