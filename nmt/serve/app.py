"""The FastAPI application of ``nmt-serve``: the page, ``GET /models`` and
``POST /translate``. Every error is a JSON object ``{"error": "..."}`` with a 4xx status,
and the server keeps serving. Each request is logged in one line: time, path, models,
sentences, milliseconds, status."""

from __future__ import annotations

import asyncio
import sys
import time
from dataclasses import dataclass
from importlib.resources import files
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException

from nmt.serve.models import Job, Served


@dataclass
class Limits:
    """What one request may ask for."""

    max_sentences: int = 64
    max_chars: int = 1000  # per sentence
    max_beam: int = 16


class TranslateRequest(BaseModel):
    """``POST /translate``: one ``text`` or a list of ``sentences``; the ``models`` to ask
    (default: all); search settings (default: each checkpoint's own)."""

    model_config = ConfigDict(extra="forbid")

    text: str | None = None
    sentences: list[str] | None = None
    models: list[str] | None = None
    beam: int | None = Field(None, ge=1)
    nbest: int = Field(1, ge=1)
    attention: bool = False


class Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def log_line(method: str, path: str, status: int, ms: float, info: dict[str, Any]) -> str:
    """One request's line of the server log."""
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    models = ",".join(info.get("models", [])) or "-"
    return (f"{stamp} {method} {path} {status} {ms:.0f} ms models={models} "
            f"sentences={info.get('sentences', 0)}")  # fmt: skip


def create_app(
    models: dict[str, Served],
    limits: Limits | None = None,
    log=lambda line: print(line, file=sys.stderr, flush=True),
) -> FastAPI:
    limits = limits or Limits()
    app = FastAPI(title="nmt-serve", docs_url="/docs", redoc_url=None)

    @app.middleware("http")
    async def log_requests(request: Request, call_next):
        start = time.perf_counter()
        request.state.info = {}
        response = await call_next(request)
        ms = (time.perf_counter() - start) * 1000
        log(log_line(request.method, request.url.path, response.status_code, ms,
                     request.state.info))  # fmt: skip
        return response

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon() -> Response:
        return Response(status_code=204)  # no icon, and no 404 in the log

    @app.exception_handler(Refused)
    async def refused(_: Request, e: Refused) -> JSONResponse:
        return _error(e.status, e.message)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, e: RequestValidationError) -> JSONResponse:
        first = e.errors()[0] if e.errors() else {}
        if first.get("type") == "json_invalid":
            return _error(400, "the request body is not valid JSON")
        if first.get("type") == "missing" and tuple(first.get("loc", ())) == ("body",):
            return _error(400, 'the request has no body; send JSON: {"text": "..."}')
        where = ".".join(str(x) for x in first.get("loc", ()) if x != "body") or "body"
        return _error(422, f"{where}: {first.get('msg', 'invalid')}")

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, e: HTTPException) -> JSONResponse:
        return _error(e.status_code, str(e.detail))

    @app.get("/", response_class=HTMLResponse)
    async def page() -> str:
        return files("nmt.serve").joinpath("page.html").read_text(encoding="utf-8")

    @app.get("/models")
    async def list_models() -> dict[str, Any]:
        return {"models": [m.info() for m in models.values()], "limits": limits.__dict__}

    @app.post("/translate")
    async def translate(request: Request, req: TranslateRequest) -> dict[str, Any]:
        sentences = check(req, models, limits)
        chosen = [models[name] for name in (req.models or list(models))]
        request.state.info = {"models": [m.id for m in chosen], "sentences": len(sentences)}
        futures, decodings = [], []
        for m in chosen:
            decoding = m.translator.decoding
            # nbest alone widens the checkpoint's beam to hold it; the answer says so
            decoding = decoding.replace(beam=max(req.beam or decoding.beam, req.nbest))
            decodings.append(decoding)
            job = Job(sentences, decoding, req.nbest, req.attention)
            futures.append(asyncio.wrap_future(m.submit(job)))
        answers = await asyncio.gather(*futures, return_exceptions=True)
        results = []
        for m, decoding, answer in zip(chosen, decodings, answers, strict=True):
            if isinstance(answer, BaseException):
                results.append({"model": m.id, "error": f"translation failed: {answer}"})
            else:
                searched = {"beam": decoding.beam, "length_penalty": decoding.length_penalty}
                results.append({"model": m.id, "variant": m.variant, "decode": searched, **answer})
        return {"results": results}

    return app


def check(req: TranslateRequest, models: dict[str, Served], limits: Limits) -> list[str]:
    """The request's sentences, or Refused with the reason."""
    if req.text is None and req.sentences is None:
        raise Refused(
            400, 'nothing to translate: give "text" (one sentence) or "sentences" (a list)'
        )
    if req.text is not None and req.sentences is not None:
        raise Refused(400, 'give "text" (one sentence) or "sentences" (a list), not both')
    sentences = [req.text] if req.text is not None else list(req.sentences or [])
    if not sentences or not any(s.strip() for s in sentences):
        raise Refused(400, "nothing to translate: the text is empty")
    if len(sentences) > limits.max_sentences:
        raise Refused(413, f"{len(sentences)} sentences; at most {limits.max_sentences} a request")
    for i, s in enumerate(sentences):
        if len(s) > limits.max_chars:
            raise Refused(
                413, f"sentence {i + 1} has {len(s)} characters; at most {limits.max_chars}"
            )
    unknown = [name for name in req.models or [] if name not in models]
    if unknown:
        raise Refused(404, f"unknown model {unknown[0]!r}; GET /models lists: {', '.join(models)}")
    if req.models is not None and not req.models:
        raise Refused(400, '"models" is empty; leave it out to ask every model')
    if max(req.beam or 1, req.nbest) > limits.max_beam:
        raise Refused(422, f"beam and nbest go up to {limits.max_beam}")
    if req.beam is not None and req.nbest > req.beam:
        raise Refused(
            422, f"nbest {req.nbest} is more than beam {req.beam}: a beam of k holds k best; "
            "raise the beam, or leave it out to widen the checkpoint's"
        )  # fmt: skip
    return sentences
