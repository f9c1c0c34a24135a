"""The API contract: how the real APIs answer, written down by us from their public documentation, and the
checks that hold both our adapters and our emulator to it.

A fixture is one JSON file per case under tests/workloads/api_fixtures/<source>/<case>.json:

    {
      "case": "a deleted or invisible user",
      "doc": {"url": "https://developers.facebook.com/docs/graph-api/guides/error-handling/", "read": "2026-12-08"},
      "request": {"method": "GET", "path": "/v19.0/{user}/friends"},
      "answer": {"status": 400, "headers": {"Content-Type": "application/json"}, "body": {...}},
      "pinned": ["error.code", "error.error_subcode"],
      "absent_headers": ["Retry-After"],
      "markers": [],
      "expect": "not-found"
    }

`answer.body` is JSON, or `answer.body_file` names a text file next to the fixture (a watch page). `request` is
what the adapter sends, for the reader. `expect` is the outcome the source's contract test asserts for the
adapter, against the fixture (served by `ReplayServer`) and against the emulator alike. `assert_same_shape`
holds the emulator's raw answer to the fixture: the same status; every field of the fixture's JSON body present
with the same JSON type (lists by their first item), the `pinned` ones (dotted paths) with equal values; every
header of the fixture present (by name) and every `absent_headers` one absent; every `markers` substring in the
body. The fixtures are our own words for the documented shapes, never copies of recorded traffic.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).parent / "api_fixtures"


@dataclass(frozen=True, slots=True)
class Answer:
    """One HTTP answer: status, headers and the body as bytes."""

    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


@dataclass(frozen=True, slots=True)
class Case:
    """One documented answer of one API, and what an adapter must make of it."""

    name: str
    source: str
    path: Path
    doc_url: str
    doc_read: str
    request: Mapping[str, Any]
    answer: Answer
    expect: str
    pinned: tuple[str, ...] = ()
    absent_headers: tuple[str, ...] = ()
    markers: tuple[str, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return self.path.stem


def load_cases(source: str) -> list[Case]:
    """Every fixture of `source` (graph, x, video, youtube), sorted by file name."""
    folder = FIXTURES / source
    cases = [_load(source, path) for path in sorted(folder.glob("*.json"))]
    if not cases:
        raise FileNotFoundError(f"no fixtures under {folder}")
    return cases


def case(source: str, name: str) -> Case:
    """One fixture by its file stem."""
    return _load(source, FIXTURES / source / f"{name}.json")


def _load(source: str, path: Path) -> Case:
    raw = json.loads(path.read_text())
    answer = raw["answer"]
    if "body_file" in answer:
        body = (path.parent / answer["body_file"]).read_bytes()
    else:
        body = json.dumps(answer["body"]).encode()
    known = {"case", "doc", "request", "answer", "expect", "pinned", "absent_headers", "markers"}
    return Case(
        name=raw["case"],
        source=source,
        path=path,
        doc_url=raw["doc"]["url"],
        doc_read=raw["doc"]["read"],
        request=raw.get("request", {}),
        answer=Answer(int(answer["status"]), dict(answer.get("headers", {})), body),
        expect=raw["expect"],
        pinned=tuple(raw.get("pinned", ())),
        absent_headers=tuple(raw.get("absent_headers", ())),
        markers=tuple(raw.get("markers", ())),
        extra={key: value for key, value in raw.items() if key not in known},
    )


# --- holding the emulator to a fixture -------------------------------------------------------------------------


def assert_same_shape(case: Case, got: Answer) -> None:
    """The emulator's raw answer `got` has the fixture's shape (see the module docstring)."""
    where = f"{case.source}/{case.id}"
    assert got.status == case.answer.status, f"{where}: status {got.status}, documented {case.answer.status}"
    lowered = {name.lower() for name in got.headers}
    for name in case.answer.headers:
        if name.lower() != "content-type" or "content-type" in lowered:
            assert name.lower() in lowered, f"{where}: header {name} missing (has {sorted(lowered)})"
    for name in case.absent_headers:
        assert name.lower() not in lowered, f"{where}: header {name} is sent, the real API sends none"
    for marker in case.markers:
        assert marker in case.answer.text, f"{where}: the fixture itself lacks marker {marker!r}"
        assert marker in got.text, f"{where}: marker {marker!r} missing from the emulator's body"
    if _is_json(case.answer):
        expected, actual = case.answer.json(), got.json()
        _assert_shape(expected, actual, where, "")
        for path in case.pinned:
            assert _at(actual, path) == _at(expected, path), (
                f"{where}: {path} is {_at(actual, path)!r}, documented {_at(expected, path)!r}"
            )


def _is_json(answer: Answer) -> bool:
    try:
        answer.json()
    except ValueError:
        return False
    return True


def _assert_shape(expected: Any, actual: Any, where: str, path: str) -> None:
    if isinstance(expected, dict):
        assert isinstance(actual, dict), f"{where}: {path or 'body'} should be an object, is {type(actual).__name__}"
        for key, value in expected.items():
            assert key in actual, f"{where}: {path or 'body'} lacks {key!r}"
            _assert_shape(value, actual[key], where, f"{path}.{key}" if path else key)
    elif isinstance(expected, list):
        assert isinstance(actual, list), f"{where}: {path} should be a list, is {type(actual).__name__}"
        if expected and actual:
            _assert_shape(expected[0], actual[0], where, f"{path}[0]")
    elif expected is not None:
        kinds = (int, float) if isinstance(expected, int | float) and not isinstance(expected, bool) else type(expected)
        assert isinstance(actual, kinds), f"{where}: {path} should be {type(expected).__name__}, is {actual!r}"


def _at(body: Any, dotted: str) -> Any:
    value = body
    for part in dotted.split("."):
        if isinstance(value, list):
            value = value[int(part)] if part.isdigit() and int(part) < len(value) else None
        elif isinstance(value, dict):
            value = value.get(part)
        else:
            return None
    return value


# --- serving a fixture to an adapter ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Seen:
    """A request the replay server answered."""

    method: str
    path: str
    headers: Mapping[str, str]
    body: bytes


Responder = Callable[[Seen], Answer]


class ReplayServer:
    """A real HTTP server on a free local port that answers every request with fixture answers: one answer for
    all, a sequence (the last one repeats), or a function of the request. Use as a context manager; `.seen` lists
    what it was asked. It plays the real API's part for an adapter pointed at `.base_url`."""

    def __init__(self, answers: Answer | Sequence[Answer] | Responder) -> None:
        self.seen: list[Seen] = []
        self._answers = answers
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="replay-server", daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> ReplayServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def _answer_for(self, seen: Seen) -> Answer:
        with self._lock:
            self.seen.append(seen)
            number = len(self.seen) - 1
        if isinstance(self._answers, Answer):
            return self._answers
        if callable(self._answers):
            return self._answers(seen)
        return self._answers[min(number, len(self._answers) - 1)]

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        replay = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                seen = Seen(self.command, self.path, dict(self.headers.items()), body)
                answer = replay._answer_for(seen)
                self.send_response(answer.status)
                names = {name.lower() for name in answer.headers}
                for name, value in answer.headers.items():
                    if name.lower() not in ("content-length", "transfer-encoding", "content-encoding"):
                        self.send_header(name, value)
                if "content-type" not in names:
                    self.send_header("Content-Type", "application/json" if _is_json(answer) else "text/html")
                self.send_header("Content-Length", str(len(answer.body)))
                self.end_headers()
                self.wfile.write(answer.body)

            do_GET = do_POST = do_PUT = do_DELETE = _serve

            def log_message(self, format: str, *args: Any) -> None:
                return

        return Handler


def iter_ids(cases: Sequence[Case]) -> Iterator[str]:
    """pytest ids for parametrizing over cases."""
    return (case.id for case in cases)
