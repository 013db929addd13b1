"""Logs never carry a secret, whoever logs it and however it is shaped."""

from __future__ import annotations

import io
import json
import logging

import pytest
import structlog

from reaper import log

SECRETS = [
    "s3cr3t-Pa55w0rd",
    "gAAAAABnZ0pRe8Wm9C1vXkQW2ZfVb0lQeXAMPLEfernetTOKENvalue-_x",
    "rabbit-pw-42",
    "dbpass-77",
]


@pytest.fixture
def captured() -> io.StringIO:
    stream = io.StringIO()
    log.setup(json=True, stream=stream, level=logging.DEBUG)
    yield stream
    structlog.reset_defaults()
    logging.getLogger().handlers.clear()


def _lines(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def test_structlog_fields_named_like_secrets_are_redacted(captured: io.StringIO) -> None:
    log.get("reaper.test").info(
        "connecting",
        password=SECRETS[0],
        auth={"token": SECRETS[1], "username": "admin"},
        client_secret="abc123",
    )
    text = captured.getvalue()
    for secret in (SECRETS[0], SECRETS[1], "abc123"):
        assert secret not in text
    (line,) = _lines(captured)
    assert line["auth"]["username"] == "admin"
    assert line["password"] == log.REDACTED


def test_urls_with_credentials_lose_their_password(captured: io.StringIO) -> None:
    log.get("reaper.test").info(
        "transport", url=f"rabbit://guest:{SECRETS[2]}@127.0.0.1:5672/reaper"
    )
    logging.getLogger("sqlalchemy.engine").warning(
        "connect to postgresql+psycopg2://reaper:%s@db/reaper failed", SECRETS[3]
    )
    text = captured.getvalue()
    assert SECRETS[2] not in text and SECRETS[3] not in text
    assert "rabbit://guest:***@127.0.0.1:5672/reaper" in text


def test_stdlib_loggers_of_libraries_are_routed_and_redacted(captured: io.StringIO) -> None:
    logging.getLogger("keystoneauth.session").warning(
        "REQ: curl -H 'X-Auth-Token: %s' -d '{\"password\": \"%s\"}'", SECRETS[1], SECRETS[0]
    )
    (line,) = _lines(captured)
    assert line["logger"] == "keystoneauth.session"
    assert SECRETS[0] not in line["event"] and SECRETS[1] not in line["event"]


def test_tracebacks_are_redacted_too(captured: io.StringIO) -> None:
    try:
        raise RuntimeError(f"auth failed with password={SECRETS[0]}")
    except RuntimeError:
        log.get("reaper.test").exception("boom")
    assert SECRETS[0] not in captured.getvalue()
    assert "boom" in captured.getvalue()


def test_terminal_output_is_readable_not_json() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = Tty()
    log.setup(stream=stream)
    try:
        log.get("reaper.test").warning("hello", password=SECRETS[0])
    finally:
        structlog.reset_defaults()
        logging.getLogger().handlers.clear()
    text = stream.getvalue()
    assert "hello" in text and SECRETS[0] not in text
    with pytest.raises(json.JSONDecodeError):
        json.loads(text.splitlines()[0])


def test_secret_values_in_unrelated_keys_survive_only_if_not_secret_shaped() -> None:
    plain = {"name": "web-1", "status": "ACTIVE"}
    assert log.redact(plain) == plain
    assert log.redact("password=hunter2 user=bob") == "password=*** user=bob"


def test_advice_is_logged_once_per_process(captured: io.StringIO) -> None:
    logger = log.get("reaper.test")
    for _ in range(3):
        log.advise(logger, "advice about reaper.conf, said once", option="x")
    said = [line for line in _lines(captured) if line["event"].startswith("advice about")]
    assert [(s["level"], s["option"]) for s in said] == [("warning", "x")]


def test_advice_is_silent_when_the_operator_asked_for_quiet() -> None:
    stream = io.StringIO()
    log.setup(json=True, stream=stream, advice=False)
    try:
        log.advise(log.get("reaper.test"), "advice nobody asked for")
        log.get("reaper.test").warning("a real warning")
    finally:
        log.setup(json=True, stream=io.StringIO())  # advice back on for the next tests
        structlog.reset_defaults()
        logging.getLogger().handlers.clear()
    assert [line["event"] for line in _lines(stream)] == ["a real warning"]


def test_a_log_file_gets_info_lines_whatever_the_stream_shows(tmp_path) -> None:
    stream, path = io.StringIO(), tmp_path / "reaper.log"
    log.setup(json=True, stream=stream, level=logging.WARNING, log_file=str(path))
    try:
        log.get("reaper.test").info("an info line", password="s3cr3t-Pa55w0rd")
        logging.getLogger("alembic.runtime.migration").info("Context impl SQLiteImpl.")
    finally:
        structlog.reset_defaults()
        for handler in logging.getLogger().handlers:
            handler.close()
        logging.getLogger().handlers.clear()
    assert stream.getvalue() == ""
    (line,) = [json.loads(x) for x in path.read_text().splitlines()]
    assert line["event"] == "an info line" and line["password"] == log.REDACTED
    assert line["timestamp"].endswith("Z")
