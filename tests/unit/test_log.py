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
