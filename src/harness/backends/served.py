"""A model served on the hospital's own network behind an OpenAI-compatible
chat completions API: vLLM's server, llama.cpp's server, TGI, Ollama.

Transcripts leave this process here, so the server's address is checked
before anything is sent: loopback and private addresses only, unless the
host is listed in `allowed_hosts`. Redirects are refused (they could point
anywhere). Requests run `concurrency` at a time; a refused connection, a
timeout, 429 or 5xx is retried with exponential backoff."""

from __future__ import annotations

import ipaddress
import json
import os
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Optional, Sequence

from ..errors import HarnessError
from ..records import Generation, Request
from . import Backend, OnBatch

_RETRY_STATUS = {408, 429, 500, 502, 503, 504}


def check_address(base_url: str, allowed_hosts: Sequence[str] = ()) -> None:
    """Raise unless every address `base_url`'s host resolves to is loopback or
    private, or the host is explicitly allowed."""
    parts = urllib.parse.urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise HarnessError(f"model.backend.base_url={base_url!r}: expected http(s)://host[:port]/v1")
    host = parts.hostname
    if host in allowed_hosts:
        return
    try:
        found = {info[4][0] for info in socket.getaddrinfo(host, parts.port or 443, proto=socket.IPPROTO_TCP)}
    except socket.gaierror as e:
        raise HarnessError(f"model.backend.base_url={base_url!r}: cannot resolve {host} ({e.strerror})") from None
    for address in sorted(found):
        ip = ipaddress.ip_address(address.split("%")[0])
        if not (ip.is_loopback or ip.is_private):
            raise HarnessError(
                f"model.backend.base_url={base_url!r}: {host} is {address}, neither loopback nor a private "
                f"network; transcripts are not sent there unless model.backend.allowed_hosts lists {host!r}"
            )


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        raise HarnessError(
            f"model.backend.base_url: the server redirected to {newurl}; redirects are refused "
            "(point base_url at the server itself)"
        )


class ServedBackend(Backend):
    def __init__(
        self,
        base_url: str,
        model: str,
        max_new_tokens: int = 512,
        concurrency: int = 4,
        timeout_s: float = 120.0,
        retries: int = 3,
        backoff_s: float = 1.0,
        allowed_hosts: Sequence[str] = (),
        api_key_env: Optional[str] = None,  # the name of an environment variable; the key never enters the config
        seed: int = 42,
    ):
        check_address(base_url, allowed_hosts)
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model, self.max_new_tokens, self.seed = model, max_new_tokens, seed
        self.concurrency, self.timeout_s, self.retries, self.backoff_s = concurrency, timeout_s, retries, backoff_s
        self.headers = {"Content-Type": "application/json"}
        if api_key_env:
            if not os.environ.get(api_key_env):
                raise HarnessError(f"model.backend.api_key_env={api_key_env}: that environment variable is not set")
            self.headers["Authorization"] = f"Bearer {os.environ[api_key_env]}"
        self.opener = urllib.request.build_opener(_NoRedirect, urllib.request.ProxyHandler({}))  # no proxy either
        self.identity = f"served:{base_url.rstrip('/')}/{model}"  # keys the translation cache

    def _post(self, body: dict) -> dict:
        """One completion, retried on transient failures."""
        data = json.dumps(body).encode()
        problem = ""
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(min(self.backoff_s * 2 ** (attempt - 1), 60.0))
            request = urllib.request.Request(self.url, data=data, headers=self.headers, method="POST")
            try:
                with self.opener.open(request, timeout=self.timeout_s) as response:
                    return json.loads(response.read())
            except urllib.error.HTTPError as e:
                detail = e.read()[:300].decode(errors="replace")
                if e.code not in _RETRY_STATUS:
                    raise HarnessError(f"model.backend: {self.url} answered {e.code}: {detail}") from None
                problem = f"HTTP {e.code} {detail}"
            except (urllib.error.URLError, TimeoutError, ConnectionError) as e:
                problem = str(getattr(e, "reason", e))
            except ValueError:
                raise HarnessError(f"model.backend: {self.url} did not answer with JSON") from None
        raise HarnessError(
            f"model.backend: {self.url}: {problem} (after {self.retries + 1} tries; "
            "model.backend.retries, model.backend.timeout_s)"
        )

    def _complete(self, request: Request) -> tuple[str, int]:
        answer = self._post(
            {
                "model": self.model,
                "messages": list(request.messages),
                "temperature": 0.0,
                "max_tokens": self.max_new_tokens,
                "seed": self.seed,
            }
        )
        try:
            text = answer["choices"][0]["message"]["content"] or ""
        except (KeyError, IndexError, TypeError):
            raise HarnessError(
                f"model.backend: {self.url} answered without choices[0].message.content: {json.dumps(answer)[:300]}"
            ) from None
        return text, int((answer.get("usage") or {}).get("completion_tokens") or 0)

    def generate(self, requests: Sequence[Request], on_batch: OnBatch = None) -> list[Generation]:
        if not requests:
            return []
        start = time.perf_counter()
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            answers = list(pool.map(self._complete, requests))
        per_doc = (time.perf_counter() - start) / len(requests)
        return [
            Generation(doc_id=r.doc_id, text=text, latency_s=per_doc, n_tokens=n)
            for r, (text, n) in zip(requests, answers)
        ]
