"""The corpora nmt knows: files, official addresses and sha256 checksums.

The checksums here are the source of truth; a mirror only provides bytes.
"""

from __future__ import annotations

from nmt.data.catalogue_large import iwslt14_corpus, wmt14_corpus
from nmt.data.spec import FORMATS, KEEP, Corpus, RemoteFile, SplitSpec
from nmt.errors import DataError

__all__ = ["FORMATS", "KEEP", "Corpus", "RemoteFile", "SplitSpec", "check_pair", "get_corpus"]


MULTI30K_URL = "https://raw.githubusercontent.com/multi30k/dataset/master/data/task1/raw"
OPUS_TESTSETS_URL = (
    "https://raw.githubusercontent.com/Helsinki-NLP/OPUS-MT-testsets/"
    "ac0f19c0be3cb4e0d9450fcb2d7a9847c4bdd180/testsets"
)
TATOEBA_ZIP_URL = (
    "https://raw.githubusercontent.com/genimind/seq2seq/4f3f8eb0adde54fcc8b89394336b002e7961244c"
)

_MULTI30K_SHA = {
    "train.de.gz": "726e39b2fa9eb9ffb6dc763fb35a179f80fae06ffc5d28b6ace5faa883de28a6",
    "train.en.gz": "d79cfa999dd4c51d2cb42499b6796d5a882c3a8a961923c25a898c90f8bbd56f",
    "train.fr.gz": "622e75069e9f4c577425c4f277116ce66e63a2401c0a2312d90073cb12379a3c",
    "train.cs.gz": "a65adb8b32e3bc664f21ecba7a6e7f6950fd1f405e135f7c312faabdb6255077",
    "val.de.gz": "f0cba2f995189cf5770f29a8a9a537a3ad3f51657ad873405082ff6863a5e75a",
    "val.en.gz": "14f7d25ddd868909a9213e361768460edcacdd6ab9d1e77b92560dc10c10dc28",
    "val.fr.gz": "ca3106f1a72390591d25f6c45cb4cd39dec4cd3f123e099748a3ce5256c160e9",
    "val.cs.gz": "b63226e05c4bd5dd6a42897d74b86a1b9d2c31498252c572b1ea7f7996927fcc",
    "test_2016_flickr.de.gz": "9204244e408ccb38d2a55cfcd344df15005fc42a07a6e55ca6c52b6ababb8cc8",
    "test_2016_flickr.en.gz": "611d361c6334bc7246101d48097c13cf5c4413c5befc793cc629934359d532d9",
    "test_2016_flickr.fr.gz": "6d326e188d259fb1d04ac19eae3af956559b3a0b93d7635e56c90987c40c8b90",
    "test_2016_flickr.cs.gz": "200a4a74cc9560f051924abb9803be008d1908d77f747e9141aeb86dfd2797f1",
    "test_2017_flickr.de.gz": "a2c89666db00c495cd8513b9d708d5a3acc205d7de312ef2bf5fb7ebc1540aee",
    "test_2017_flickr.en.gz": "76a444ee25172e72695cddb13ae4a3bda59430617be88e0bb46b60504f054074",
    "test_2017_flickr.fr.gz": "3ba671ceb2299f3304ffafefea7a833d08632fbaf0ba18546f8a2ec2391af496",
}

_WMT_SHA = {
    "news-test2008.de": "6d86c805e6cd008c11143816daac272fdf5a3afea816983c43005717d6fe3ae2",
    "news-test2008.en": "134e1140848bb0d05e774dbe35b8b69602faf401250c03dbb437bdbe38c37b6f",
    "newssyscomb2009.de": "da74e91ec9f155a958a9cfcdb8e4291162b31b589e09306c40528aaf684d2fec",
    "newssyscomb2009.en": "b734a44294fa3b23a2491cd9a2c59fb5eb71332ace70b2c9039978863dd0e43d",
    "newstest2009.de": "c3a23d90e89c080cd3257a23365187e91939be4067176861fb88df7f61864b40",
    "newstest2009.en": "3fc92718e7b994ca0a5dc57e63b68d5c80244a56e5bb1cec11d2e8dd10b3ff3c",
    "newstest2010.de": "4f4b02d3abe150ca47a745d138d90f688edb20dd2d2fedca16aa05fd1e2018b1",
    "newstest2010.en": "1ebece77e333965cbc66fde735a6f17e026b4d6690f4f7fdaba839b7bdadac3b",
    "newstest2011.de": "033bc05659f61c5e51170973267d21e23a9a968557b866f3842c92e416a60e1b",
    "newstest2011.en": "d387569743c0fa9097df4d4e2c1dd9e6ba9ef3cee6e0f473da3204c887dcf8fd",
    "newstest2012.de": "946b9587b79271b0f3ce9cc8c0e5b310e3021ef598e1ba5dc2a24fef8960de30",
    "newstest2012.en": "f9e51f85c4948033fc7d77ef427f4d88908a8dd3f778970f62d0baafac3ff97e",
    "newstest2013.de": "d7ea35ab91ff3709e03ad9cb6bf5b4f2cc775cd2d72efd5254c4aec5e69663ca",
    "newstest2013.en": "ace268a1d9724ca76f6d8e5c720ffdc08f01bdce45630ed8b269dc7918e1c16e",
    "newstest2014.de": "ae5d110486bc33d7175e9e28c7d0051eb3e5fcd2166dd93371089852c091a20e",
    "newstest2014.en": "7294bccf2879a97b3706b95c9595f1459617a8ee7130d5d8581c910e69736971",
    "newstest2015.de": "796cce52ab248469187b60f60715a738a0b92944dc010a69a0083de7fae1b513",
    "newstest2015.en": "422fbb5a274c7aae1a0890381cd4516307ca7bc957604220d4871a91664121e5",
    "newstest2016.de": "738ca1ced4099937127be3208ba70d46e7a93550cd57cfd645f3d35e0e52a254",
    "newstest2016.en": "cd5c112a358d9c99b9557eb358e16d7a94f8fa93ad7aa61bf5f1141f2e1f8854",
    "newstest2017.de": "675e4f7e6045dacf56507e29b24106d771a571e0eb58d822806b086cdcf892f4",
    "newstest2017.en": "11adaec47477928dab9cb3fc9279d99dbbbfec7161f3abf6fddd759668fcd703",
    "newstest2018.de": "c53059fc440b3771aef2a83b15fddd8d2b3490c55b552dcae245f9a2df126c9c",
    "newstest2018.en": "721b207ca2b4e4689f978e17ee5edb0988d7c901acd651fd666bcd9c1950233b",
    "newstest2019.de": "601988e41931965e2c4eba80799d1fc9b43837e20bcae8e61edf21542805d449",
    "newstest2019.en": "95152920451528b9e167d42def3fd7d0ea0d9a4f12e88bdf63b4adba4975cb1d",
    "newstest2020.de": "0add9464880d8d0b4b546344c7d77a00711878830397f7333c49c993eb048d31",
    "newstest2020.en": "39ed144d204c675097e5a53514c89549fbe4d753520d96c4c513b8b9920e89a9",
    "newstestB2020.en": "5975e3a7fb7787d13bb236f508debc7e8bbe60b3ae20f9572f24b6794d7e8e1b",
}

_TATOEBA_SHA = {
    "fra-eng.zip": "16c4f7d0df9e7c5e6c54cdb0447f3f4a18a55052ff5e2e0b27dd4a06c0e49d04",
    "tatoeba-test-v2021-08-07.eng": (
        "714a848bd6ab4421cafd1b9b09fd26328306fab1bc8006e820fa77a8cbe57636"
    ),
    "tatoeba-test-v2021-08-07.fra": (
        "095313ff04016e5ddeff7557d1c5590f19724d239e424cab313b2d03ca66d365"
    ),
}


def _multi30k() -> Corpus:
    langs = ("de", "en", "fr", "cs")
    splits = {}
    for split in ("train", "val", "test_2016_flickr", "test_2017_flickr"):
        have = tuple(lang for lang in langs if f"{split}.{lang}.gz" in _MULTI30K_SHA)
        splits[split] = SplitSpec({lang: (f"{split}.{lang}.gz",) for lang in have})
    return Corpus(
        name="multi30k",
        folder="multi30k",
        description="Multi30k task 1: image captions, ~12 words (cs lacks test_2017_flickr)",
        languages=langs,
        default_pair=("de", "en"),
        default_splits=("train", "val", "test_2016_flickr"),
        default_extra_tests=(
            "test_2017_flickr",
            "test_2016_flickr.join2",
            "test_2016_flickr.join3",
        ),
        files=tuple(RemoteFile(n, s, MULTI30K_URL) for n, s in _MULTI30K_SHA.items()),
        splits=splits,
    )


def _wmt_news() -> Corpus:
    years = (2009, 2010, 2011, 2012, 2015, 2016, 2017, 2018, 2019)
    train_sets = ("news-test2008", "newssyscomb2009", *(f"newstest{y}" for y in years))

    def both(*sets: str) -> dict[str, tuple[str, ...]]:
        return {lang: tuple(f"{s}.{lang}" for s in sets) for lang in ("de", "en")}

    splits = {
        "train": SplitSpec(both(*train_sets)),
        "newstest2013": SplitSpec(both("newstest2013")),
        "newstest2014": SplitSpec(both("newstest2014")),
        "newstest2020": SplitSpec(both("newstest2020"), {"en": ("newstestB2020.en",)}),
    }
    return Corpus(
        name="wmt_news",
        folder="wmt_news_de-en",
        description="WMT news test sets de-en: long sentences (~20 words, up to 134)",
        languages=("de", "en"),
        default_pair=("de", "en"),
        default_splits=("train", "newstest2013", "newstest2014"),
        default_extra_tests=("newstest2020",),
        files=tuple(RemoteFile(n, s, f"{OPUS_TESTSETS_URL}/de-en") for n, s in _WMT_SHA.items()),
        splits=splits,
        default_max_len=256,
    )


def _tatoeba() -> Corpus:
    zip_ = ("fra-eng.zip",)
    test = {"en": ("tatoeba-test-v2021-08-07.eng",), "fr": ("tatoeba-test-v2021-08-07.fra",)}
    return Corpus(
        name="tatoeba",
        folder="tatoeba_eng-fra",
        description="Tatoeba en-fr (manythings.org Anki): short sentences, ~6 words",
        languages=("en", "fr"),
        default_pair=("en", "fr"),
        default_splits=("train", "valid", "test"),
        default_extra_tests=(),
        files=(
            RemoteFile("fra-eng.zip", _TATOEBA_SHA["fra-eng.zip"], TATOEBA_ZIP_URL),
            *(
                RemoteFile(name, _TATOEBA_SHA[name], f"{OPUS_TESTSETS_URL}/eng-fra")
                for name in (test["en"][0], test["fr"][0])
            ),
        ),
        splits={
            "train": SplitSpec({"en": zip_, "fr": zip_}),
            "valid": SplitSpec({"en": zip_, "fr": zip_}),
            "test": SplitSpec(test),
        },
        reader="tatoeba",
    )


CATALOGUE: dict[str, Corpus] = {
    c.name: c for c in (_multi30k(), _wmt_news(), _tatoeba(), wmt14_corpus(), iwslt14_corpus())
}

#: Corpora that are not downloaded: the user's own files and the generated task.
LOCAL_CORPORA = {
    "files": "your own parallel text: <prefix>.<src>/<prefix>.<tgt> (or .gz) or <prefix>.tsv",
    "synthetic": "a generated copy/reverse task over a small vocabulary",
}


def get_corpus(name: str) -> Corpus:
    """The catalogued corpus ``name`` (DataError listing the known names otherwise)."""
    try:
        return CATALOGUE[name]
    except KeyError:
        known = ", ".join([*CATALOGUE, *LOCAL_CORPORA])
        raise DataError(f"unknown corpus {name!r}; known corpora: {known}") from None


def check_pair(corpus: Corpus, src: str, tgt: str, splits: list[str]) -> None:
    """Raise DataError unless every split in ``splits`` exists and has both languages."""
    if src == tgt or src not in corpus.languages or tgt not in corpus.languages:
        raise DataError(
            f"corpus {corpus.name!r} has no pair {src}->{tgt}; "
            f"languages: {', '.join(corpus.languages)} (set data.src / data.tgt)"
        )
    for split in splits:
        if split not in corpus.splits:
            raise DataError(
                f"corpus {corpus.name!r} has no split {split!r}; splits: {', '.join(corpus.splits)}"
            )
        have = corpus.split_languages(split)
        if src not in have or tgt not in have:
            raise DataError(
                f"split {split!r} of {corpus.name!r} has languages {', '.join(have)} only, "
                f"not {src}->{tgt}; choose another split or pair"
            )
