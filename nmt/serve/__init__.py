"""``nmt-serve``: a local translation page and a JSON API over one or more checkpoints.

:mod:`nmt.serve.models` loads the checkpoints and batches their requests,
:mod:`nmt.serve.app` is the FastAPI application, ``page.html`` the page;
:mod:`nmt.serve.screenshot` takes the README's picture of it in headless Chromium.
"""
