"""``nmt-serve CKPT_OR_RUN [...]``: a local web page and JSON API over trained models.

Open the printed address: type a sentence and every model's translation appears side
by side with its test BLEU, its time, and its attention heat map (hover a target piece
to see its source alignment; the Transformer's layers and heads can be chosen). The API:
``GET /models``; ``POST /translate`` with ``{"text": "..."}`` or
``{"sentences": [...], "models": [...], "beam": 5, "nbest": 2, "attention": false}``.
"""

from __future__ import annotations

import argparse
import socket
import sys

from nmt.cli.common import (
    add_engine_args,
    add_precision_arg,
    engine_kwargs,
    positive_int,
    precision_from_args,
    resolve_device,
)
from nmt.errors import NMTError


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="nmt-serve", description=__doc__.split("\n")[0])
    p.add_argument(
        "checkpoints", nargs="+", help="run directories (best.pt), .pt files or nmt-export folders"
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000; 0 = any free one)")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda")
    p.add_argument("--max-sentences", type=positive_int, default=64, help="per request")
    p.add_argument("--max-chars", type=positive_int, default=1000, help="per sentence")
    add_precision_arg(p)
    add_engine_args(p)
    return p.parse_args(argv)


def listen(host: str, port: int) -> socket.socket:
    """A listening socket (port 0: a free one), so the address printed is the real one."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as e:
        raise NMTError(
            f"cannot listen on {host}:{port} ({e.strerror}); pick another --port"
        ) from None
    sock.listen(128)
    return sock


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    try:
        try:
            import uvicorn

            from nmt.serve.app import Limits, create_app
        except ImportError as e:
            raise NMTError(
                f"nmt-serve needs FastAPI and uvicorn ({e.name} is missing); "
                "pip install 'nmt[serve]'"
            ) from None
        from nmt.serve.models import load_models

        device = resolve_device(args.device)
        models = load_models(
            args.checkpoints, device, precision_from_args(args, device), **engine_kwargs(args)
        )
        app = create_app(models, Limits(max_sentences=args.max_sentences, max_chars=args.max_chars))
        for m in models.values():
            print(f"loaded {m.id}: {m.path}", file=sys.stderr)
        sock = listen(args.host, args.port)
        host, port = sock.getsockname()[:2]
        server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
        print(f"nmt-serve on http://{host}:{port}/ (Ctrl-C to stop)", file=sys.stderr, flush=True)
        server.run(sockets=[sock])
    except NMTError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
