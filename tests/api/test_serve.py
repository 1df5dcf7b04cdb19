"""``sdn serve``: HTTPS with a generated certificate that is kept, a given one, plain HTTP on request."""

from __future__ import annotations

import ssl
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import requests

from sdnkit.api.tls import ensure_certificate

if TYPE_CHECKING:
    from tests.api.conftest import Server, ServeTools

pytestmark = pytest.mark.api

SDN = str(Path(sys.executable).with_name("sdn"))


def _served_pem(server: Server) -> str:
    return ssl.get_server_certificate(("127.0.0.1", server.port))


def _normal(pem: str) -> bytes:
    return ssl.PEM_cert_to_DER_cert(pem)


def test_generated_certificate_survives_a_restart(tmp_path: Path, serve_tools: ServeTools) -> None:
    start_server, stop_server = serve_tools.start, serve_tools.stop
    first = start_server(tmp_path)
    try:
        served = _served_pem(first)
    finally:
        stop_server(first)
    assert _normal(served) == _normal((tmp_path / "tls" / "sdn-ssl.pem").read_text())
    second = start_server(tmp_path)
    try:
        assert _normal(_served_pem(second)) == _normal(served)
        assert second.call("GET", "/version", second.root_token).status_code == 200
    finally:
        stop_server(second)


def _run_serve(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [SDN, "--config-dir", str(tmp_path), "serve", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=30, check=False)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--listen", "nonsense"], "expected ADDR:PORT"),
        (["--listen", "127.0.0.1:70000"], "expected ADDR:PORT"),
        (["--listen", "example.org:8006"], "not an IP address"),
        (["--cert", "/nonexistent.pem"], "--cert and --key go together"),
        (["--cert", "/nonexistent.pem", "--key", "/nonexistent.key"], "TLS certificate"),
    ],
)
def test_bad_options_are_refused_before_listening(tmp_path: Path, args: list[str], message: str) -> None:
    result = _run_serve(tmp_path, *args)
    assert result.returncode == 2 and message in result.stderr
    assert "listening on" not in result.stdout


def test_given_certificate_and_plain_http(tmp_path: Path, serve_tools: ServeTools) -> None:
    pair = ensure_certificate(tmp_path / "mine")
    for extra, scheme in (
        (["--cert", str(pair.cert), "--key", str(pair.key)], "https"),
        (["--insecure-http"], "http"),
    ):
        cmd = [SDN, "--config-dir", str(tmp_path), "serve", "--listen", "127.0.0.1:0", *extra]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        try:
            url = serve_tools.read_url(proc)
            assert url.startswith(f"{scheme}://127.0.0.1:")
            if scheme == "https":
                port = int(url.split(":")[2].split("/")[0])
                served = ssl.get_server_certificate(("127.0.0.1", port))
                assert _normal(served) == _normal(pair.cert.read_text())
                assert not (tmp_path / "tls").exists()  # nothing generated when one is given
            else:
                assert requests.get(f"{url}/version", timeout=10).status_code == 401
        finally:
            proc.terminate()
            proc.wait(timeout=10)
            if proc.stdout:
                proc.stdout.close()
