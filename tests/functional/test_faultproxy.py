"""The fault proxy the plan/apply tests rely on: it forwards faithfully and faults as told.

Its upstream here is a small echo server on localhost, so these tests need
no testbed; what they establish (a request arrives unchanged, a fault
never reaches the service unless it is a lost answer, every request is on
record) is what lets the testbed tests count "from the services' side".
"""

from __future__ import annotations

import http.server
import json
import statistics
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.faultproxy import MICROVERSION_HEADERS, SERVICES, FaultProxy, Faults, Rule, Strip

pytestmark = pytest.mark.functional


class Echo(http.server.ThreadingHTTPServer):
    """Answers every request with what it received; remembers what it received."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), EchoHandler)
        self.received: list[tuple[str, str]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class EchoHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Echo

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        self.server.received.append((self.command, self.path))
        payload = json.dumps(
            {
                "method": self.command,
                "path": self.path,
                "host": self.headers["Host"],
                "body": body,
                "headers": {k.lower(): v for k, v in self.headers.items()},
            }
        ).encode()
        head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        head += f"Content-Length: {len(payload)}\r\n\r\n"
        self.wfile.write(head.encode() + payload)  # one write: no Nagle stall

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET


@pytest.fixture
def echo() -> Iterator[Echo]:
    server = Echo()
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def proxy(echo: Echo) -> Iterator[FaultProxy]:
    with FaultProxy({"compute": echo.url, "identity": echo.url}) as running:
        yield running


def test_a_request_arrives_unchanged_host_included_and_is_recorded(
    proxy: FaultProxy, echo: Echo
) -> None:
    url = proxy.url("compute")

    answer = requests.put(f"{url}/v2.1/servers/abc/action?x=1", json={"os-stop": None}, timeout=5)

    seen = answer.json()
    assert answer.status_code == 200
    assert seen["method"] == "PUT"
    assert seen["path"] == "/v2.1/servers/abc/action?x=1"
    assert json.loads(seen["body"]) == {"os-stop": None}
    # Services build their links from Host: they must name the proxy.
    assert seen["host"] == url.removeprefix("http://")
    (record,) = proxy.seen()
    assert (record.service, record.method, record.path, record.status) == (
        "compute",
        "PUT",
        "/v2.1/servers/abc/action?x=1",
        200,
    )
    assert record.fault is None and record.forwarded and record.mutating


def test_strips_drop_request_headers_only_on_matching_paths(proxy: FaultProxy) -> None:
    proxy.configure(Faults(strips=(Strip(r"/os-keypairs", MICROVERSION_HEADERS),)))
    headers = {"OpenStack-API-Version": "compute 2.10", "X-OpenStack-Nova-API-Version": "2.10"}
    url = proxy.url("compute")

    stripped = requests.get(f"{url}/v2.1/os-keypairs?user_id=u", headers=headers, timeout=5)
    kept = requests.get(f"{url}/v2.1/servers", headers=headers, timeout=5)

    assert "openstack-api-version" not in stripped.json()["headers"]
    assert "x-openstack-nova-api-version" not in stripped.json()["headers"]
    assert kept.json()["headers"]["openstack-api-version"] == "compute 2.10"


def test_latency_is_added_to_every_request(proxy: FaultProxy) -> None:
    proxy.configure(Faults(latency=0.1))

    started = time.monotonic()
    requests.get(f"{proxy.url('compute')}/v2.1/", timeout=5)

    assert time.monotonic() - started >= 0.1


def test_without_faults_the_proxy_adds_little_to_a_request(proxy: FaultProxy, echo: Echo) -> None:
    """A few milliseconds at most: the no-latency runs measure reaper, not the proxy."""

    def median(url: str) -> float:
        with requests.Session() as session:
            times = []
            for _ in range(40):
                started = time.perf_counter()
                session.get(f"{url}/v2.1/servers", timeout=5)
                times.append(time.perf_counter() - started)
        return statistics.median(times)

    direct, proxied = median(echo.url), median(proxy.url("compute"))
    print(f"median direct {direct * 1000:.2f} ms, proxied {proxied * 1000:.2f} ms")

    assert proxied - direct < 0.01, (direct, proxied)


def test_faults_hit_only_the_chosen_methods(proxy: FaultProxy, echo: Echo) -> None:
    proxy.configure(Faults(rate=1.0, kinds=("503",), methods=frozenset({"DELETE"})))
    url = proxy.url("compute")

    read = requests.get(f"{url}/v2.1/servers/s", timeout=5)
    delete = requests.delete(f"{url}/v2.1/servers/s", timeout=5)

    assert (read.status_code, delete.status_code) == (200, 503)
    assert echo.received == [("GET", "/v2.1/servers/s")]
    assert [(s.method, s.fault, s.forwarded) for s in proxy.faulted()] == [("DELETE", "503", False)]


def test_a_429_says_when_to_come_back(proxy: FaultProxy) -> None:
    proxy.configure(Faults(rate=1.0, kinds=("429",), retry_after=3))

    answer = requests.get(f"{proxy.url('compute')}/v2.1/servers", timeout=5)

    assert answer.status_code == 429
    assert answer.headers["Retry-After"] == "3"


def test_a_reset_never_reaches_the_service(proxy: FaultProxy, echo: Echo) -> None:
    proxy.configure(Faults(rate=1.0, kinds=("reset",)))

    with pytest.raises(requests.ConnectionError):
        requests.delete(f"{proxy.url('compute')}/v2.1/servers/s", timeout=5)

    assert echo.received == []
    (record,) = proxy.seen()
    assert (record.status, record.fault, record.forwarded) == (0, "reset", False)


@pytest.mark.parametrize("kind", ["lost-reset", "lost-503"])
def test_a_lost_answer_reaches_the_service_but_not_the_client(
    proxy: FaultProxy, echo: Echo, kind: str
) -> None:
    proxy.configure(Faults(rate=1.0, kinds=(kind,)))

    try:
        answer = requests.delete(f"{proxy.url('compute')}/v2.1/servers/s", timeout=5)
        assert answer.status_code == 503
    except requests.ConnectionError:
        assert kind == "lost-reset"

    assert echo.received == [("DELETE", "/v2.1/servers/s")]
    assert proxy.seen()[0].forwarded


def test_token_requests_are_spared_unless_asked_for(proxy: FaultProxy) -> None:
    url = f"{proxy.url('identity')}/v3/auth/tokens"
    proxy.configure(Faults(rate=1.0, kinds=("500",)))
    spared = requests.post(url, json={}, timeout=5)
    proxy.configure(Faults(rate=1.0, kinds=("500",), tokens=True))
    faulted = requests.post(url, json={}, timeout=5)

    assert (spared.status_code, faulted.status_code) == (200, 500)
    assert [s.token_request for s in proxy.seen()] == [True, True]
    assert proxy.mutations() == [], "a token request is not a mutation of the cloud"


def test_rules_force_a_status_or_a_fault_for_their_first_matches(
    proxy: FaultProxy, echo: Echo
) -> None:
    proxy.configure(
        Faults(
            rules=(
                Rule("DELETE", r"^/v2\.1/servers/", status=403),
                Rule("POST", r"/action$", fault="reset", times=1),
            )
        )
    )
    url = proxy.url("compute")

    deletes = [requests.delete(f"{url}/v2.1/servers/s", timeout=5).status_code for _ in range(2)]
    with pytest.raises(requests.ConnectionError):
        requests.post(f"{url}/v2.1/servers/s/action", json={}, timeout=5)
    second = requests.post(f"{url}/v2.1/servers/s/action", json={}, timeout=5)

    assert deletes == [403, 403]
    assert second.status_code == 200
    assert echo.received == [("POST", "/v2.1/servers/s/action")]


def test_fault_draws_depend_on_the_seed_and_the_request_shape_not_on_ids() -> None:
    faults = Faults(rate=0.3, kinds=("500", "503", "reset"), seed=42)

    def draws(server_ids: list[str]) -> list[str | None]:
        return [
            faults.decide("compute", "DELETE", f"/v2.1/servers/{sid}", n)
            for n, sid in enumerate(server_ids)
        ]

    first = draws([f"{n:08x}-0000-4000-8000-000000000000" for n in range(200)])
    again = draws([f"{n + 999:08x}-1111-4111-8111-111111111111" for n in range(200)])
    other_seed = [
        Faults(rate=0.3, kinds=("500", "503", "reset"), seed=43).decide(
            "compute", "DELETE", "/v2.1/servers/x", n
        )
        for n in range(200)
    ]

    assert first == again
    assert first != other_seed
    assert 0.2 < sum(d is not None for d in first) / len(first) < 0.4
    assert {d for d in first if d} == {"500", "503", "reset"}


def test_the_clouds_yaml_sends_every_service_through_the_proxy(tmp_path: Path) -> None:
    upstreams = {service: "http://127.0.0.1:9" for service in SERVICES}
    with FaultProxy(upstreams) as running:
        path = running.write_clouds_yaml(
            tmp_path / "clouds.yaml", "behind", {"auth_url": "http://keystone:5000/v3"}
        )
        cloud = json.loads(path.read_text())["clouds"]["behind"]  # JSON is YAML
        listeners = set(running.netlocs)

    assert cloud["auth"]["auth_url"].removesuffix("/v3").removeprefix("http://") in listeners
    for key, suffix in SERVICES.values():
        assert cloud[key].removeprefix("http://").removesuffix(suffix) in listeners
