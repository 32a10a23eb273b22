"""``nmt-serve``: the JSON API in process (FastAPI's test client), the request batching,
and the real server as a process: bad requests, a slow request beside the page."""

from __future__ import annotations

import json
import re
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from nmt.serve.app import Limits, create_app
from nmt.serve.models import Job, Served, load_models
from nmt.translation.decoding import Decoding
from tests.runs import BIN, QUIET, TINY_DATA, nmt_train
from tests.tiny import TINY_MODELS


@pytest.fixture(scope="module")
def seq2seq(env, tmp_path_factory) -> Path:
    """A tiny seq2seq run: the variant without attention."""
    run = tmp_path_factory.mktemp("serve") / "seq2seq"
    nmt_train(env, run, *TINY_DATA, *TINY_MODELS["seq2seq"], *QUIET, "train.max_steps=20",
              "train.eval_every=20", "data.synthetic.n_test=8")  # fmt: skip
    return run


@pytest.fixture(scope="module")
def client(trained: Path, seq2seq: Path) -> TestClient:
    models = load_models([str(trained), str(seq2seq / "checkpoints" / "best.pt")], "cpu")
    return TestClient(create_app(models, Limits(max_sentences=4, max_chars=50)))


def test_models_lists_each_with_its_run_score_and_attention(client: TestClient) -> None:
    models = {m["id"]: m for m in client.get("/models").json()["models"]}
    assert set(models) == {"transformer", "seq2seq"}
    t = models["transformer"]
    assert t["bleu"] > 60 and t["bleu_ci"] > 0 and t["bleu_split"] == "test"
    assert t["attention"] == {"layers": 1, "heads": 2} and models["seq2seq"]["attention"] is None
    assert "description" in t and t["src"] == "src" and t["decode"]["beam"] == 2


def test_translate_answers_every_model_with_attention(client: TestClient) -> None:
    r = client.post("/translate", json={"text": "a b c", "attention": True})
    assert r.status_code == 200, r.text
    results = {x["model"]: x for x in r.json()["results"]}
    t = results["transformer"]["translations"][0]
    assert t["text"] == "a b c" and results["transformer"]["ms"] > 0
    att = t["attention"]
    assert att["source"][-1] == "</s>" and att["target"][-1] == "</s>"
    weights = att["weights"]  # [layer][head][target][source]
    assert len(weights) == 1 and len(weights[0]) == 2
    assert len(weights[0][0]) == len(att["target"]) and len(weights[0][0][0]) == len(att["source"])
    assert all(abs(sum(row) - 1) < 0.01 for row in weights[0][1])
    # three decimals, not float32's noise (0.014000000432133675)
    cells = [w for layer in weights for head in layer for row in head for w in row]
    assert all(len(repr(w).partition(".")[2]) <= 3 for w in cells)
    assert results["seq2seq"]["translations"][0]["attention"] is None
    assert results["transformer"]["decode"] == {"beam": 2, "length_penalty": 0.6}


def test_translate_many_sentences_one_model_nbest(client: TestClient) -> None:
    body = {"sentences": ["a b", "", "c d e"], "models": ["transformer"], "beam": 3, "nbest": 2}
    r = client.post("/translate", json=body)
    assert r.status_code == 200, r.text
    [result] = r.json()["results"]
    out = result["translations"]
    assert [x["text"] for x in out] == ["a b", "", "c d e"]
    assert len(out[0]["nbest"]) == 2 and out[0]["attention"] is None
    # nbest alone widens the checkpoint's beam (2) to hold it, and the answer says so
    r = client.post("/translate", json={"text": "a b", "models": ["transformer"], "nbest": 4})
    assert r.status_code == 200, r.text
    [result] = r.json()["results"]
    assert result["decode"]["beam"] == 4 and len(result["translations"][0]["nbest"]) == 4


def test_every_request_is_logged_in_one_line(trained: Path) -> None:
    lines: list[str] = []
    models = load_models([str(trained)], "cpu")
    client = TestClient(create_app(models, Limits(), log=lines.append))
    client.post("/translate", json={"sentences": ["a b", "c"]})
    client.post("/translate", json={"text": "a", "models": ["gpt"]})
    assert client.get("/favicon.ico").status_code == 204
    assert re.search(r"POST /translate 200 \d+ ms models=transformer sentences=2$", lines[0])
    assert " POST /translate 404 " in lines[1] and "GET /favicon.ico 204" in lines[2]


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ('{"text": ""}', 400, "nothing to translate"),
        ("{}", 400, 'nothing to translate: give "text"'),
        ("", 400, "the request has no body"),
        ('{"text": "a", "beam": 2, "nbest": 5}', 422, "nbest 5 is more than beam 2"),
        ('{"text": "a", "sentences": ["b"]}', 400, "not both"),
        ("this is not json", 400, "not valid JSON"),
        ('{"text": "a", "models": ["gpt"]}', 404, "unknown model 'gpt'"),
        ('{"text": "' + "a " * 30 + '"}', 413, "at most 50"),
        ('{"sentences": ["a", "b", "c", "d", "e"]}', 413, "at most 4 a request"),
        ('{"text": "a", "beam": 0}', 422, "beam"),
        ('{"text": "a", "nbest": 99}', 422, "up to 16"),
        ('{"text": "a", "colour": "red"}', 422, "colour"),
        ('{"text": 5}', 422, "text"),
    ],
)
def test_bad_requests_get_a_json_error_and_the_server_goes_on(client, body, status, message):
    r = client.post("/translate", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == status, r.text
    assert message in r.json()["error"]
    assert client.get("/models").status_code == 200


def test_requests_waiting_together_are_translated_in_one_batch(trained: Path) -> None:
    [served] = load_models([str(trained)], "cpu").values()
    # a second worker-less copy: queue three requests, then let it take them all at once
    idle = Served("t", served.variant, served.path, served.translator, layers=1, heads=2)
    decoding = Decoding(beam=1)
    jobs = [Job([s], decoding, 1, False) for s in ("a b", "c d", "e f g")]
    for job in jobs:
        idle.submit(job)
    idle.jobs.put(None)  # stop after them
    idle.serve_forever()
    answers = [job.future.result(timeout=1) for job in jobs]
    assert [a["translations"][0]["text"] for a in answers] == ["a b", "c d", "e f g"]
    assert all(a["batched_with"] == 2 for a in answers)


def test_models_decode_in_the_precision_asked_for(trained: Path) -> None:
    [served] = load_models([str(trained)], "cpu", precision="bf16").values()
    assert served.translator.precision == "bf16"
    idle = Served("t", served.variant, served.path, served.translator, layers=1, heads=2)
    job = Job(["a b c"], Decoding(beam=1), 1, False)
    idle.submit(job)
    idle.jobs.put(None)
    idle.serve_forever()
    assert job.future.result(timeout=1)["translations"][0]["text"] == "a b c"
    [default] = load_models([str(trained)], "cpu").values()
    assert default.translator.precision == "fp32"


def start_server(env, *checkpoints: Path) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([str(BIN / "nmt-serve"), *map(str, checkpoints), "--port", "0"],
                            env=env, stderr=subprocess.PIPE, text=True)  # fmt: skip
    for line in proc.stderr:
        if m := re.search(r"on (http://\S+/)", line):
            # keep reading its log, so that a full pipe never blocks the server
            threading.Thread(target=proc.stderr.read, daemon=True).start()
            return proc, m[1]
    proc.kill()
    raise AssertionError(f"nmt-serve did not start: {proc.stderr.read()}")


@pytest.fixture(scope="module")
def server(env, trained: Path, seq2seq: Path):
    proc, url = start_server(env, trained, seq2seq)
    yield url
    proc.terminate()
    proc.wait(timeout=30)


def post(url: str, payload: bytes) -> tuple[int, dict]:
    req = urllib.request.Request(url + "translate", data=payload,
                                 headers={"Content-Type": "application/json"})  # fmt: skip
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


@pytest.fixture
def slow_server(trained: Path):
    """The app on a real socket, in a thread, with a model whose searches take 3 s."""
    import uvicorn

    from nmt.cli.serve import listen

    models = load_models([str(trained)], "cpu")
    translator = models["transformer"].translator
    search = translator.translate

    def slow(*args, **kwargs):
        time.sleep(3)
        return search(*args, **kwargs)

    translator.translate = slow
    sock = listen("127.0.0.1", 0)
    server = uvicorn.Server(uvicorn.Config(create_app(models), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 120
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}/"
    server.should_exit = True
    thread.join(timeout=30)


def test_a_slow_request_does_not_block_the_page(slow_server: str) -> None:
    done: list[tuple] = []
    request = json.dumps({"text": "a b c"}).encode()
    worker = threading.Thread(
        target=lambda: done.append((post(slow_server, request), time.monotonic()))
    )
    worker.start()
    time.sleep(0.5)  # the slow request is being translated
    with urllib.request.urlopen(slow_server, timeout=30) as r:
        page = r.read().decode()
    with urllib.request.urlopen(slow_server + "models", timeout=30) as r:
        models = json.loads(r.read())
    answered = time.monotonic()
    worker.join(timeout=60)
    (status, body), finished = done[0]
    assert "nmt-serve" in page and len(models["models"]) == 1
    assert status == 200 and body["results"][0]["translations"][0]["text"] == "a b c"
    assert answered < finished  # the page and the model list came while it was translating


def test_the_real_server_refuses_bad_json_and_goes_on(server: str) -> None:
    assert post(server, b"{not json")[0] == 400
    status, body = post(server, b'{"text": "a b"}')
    assert status == 200 and len(body["results"]) == 2
