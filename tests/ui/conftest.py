"""The web UI in a real browser: Playwright driving Debian's Chromium against a real ``sdn serve``.

Per module: a one-node lab (``sdn lab up``, the node's long-lived agent started with ``sdn lab
agents start``, so Apply is realized and reported as on a real node), a ``sdn serve`` on a free
port over HTTPS on the lab's store, ``root@pam``'s password set with ``sdn user passwd``, and one
headless Chromium (``/usr/bin/chromium``; Playwright starts it with a fresh temporary
``--user-data-dir`` of its own, and no browser is downloaded: ``research/ui-testing.md``). Per
test: a fresh browser context (no cookies, no storage) at 1280×800.

Screenshots go to ``build/ui-screenshots`` (``SDN_UI_SCREENSHOTS=DIR`` elsewhere; ``make
screenshots`` refreshes the committed ones in ``docs/screenshots``). Without Chromium, root or
network namespaces the tests skip with the reason, and fail when ``CI`` is set.
"""

from __future__ import annotations

import itertools
import os
import secrets
import selectors
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

CHROMIUM = "/usr/bin/chromium"
# research/ui-testing.md; Playwright adds --headless and its own fresh --user-data-dir
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SDN = str(Path(sys.executable).with_name("sdn"))
REPO = Path(__file__).resolve().parents[2]
VIEWPORT = {"width": 1280, "height": 800}
START_TIMEOUT = 30.0
_COUNTER = itertools.count()


def unique(prefix: str) -> str:
    """A short ID unique to this process and call (zone and vnet IDs: at most 8 characters)."""
    return f"{prefix}{os.getpid() % 100}{next(_COUNTER)}"[:8]


def unavailable() -> str | None:
    if not os.path.exists(CHROMIUM):
        return f"{CHROMIUM} is missing (apt-get install chromium; scripts/install-deps.sh does it)"
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "the playwright package is missing (pip install -e '.[dev]')"
    if os.geteuid() != 0 or shutil.which("ip") is None:
        return "needs root and iproute2 for the lab's network namespaces"
    return None


def require_ui() -> None:
    reason = unavailable()
    if reason is None:
        return
    if os.environ.get("CI"):
        pytest.fail(f"UI tests cannot run: {reason}")
    pytest.skip(f"UI tests cannot run: {reason}")


def sdn(config_dir: Path, *argv: str, stdin: str | None = None) -> str:
    """The real ``sdn`` command; fails the test with its output when it fails."""
    done = subprocess.run(
        [SDN, "--config-dir", str(config_dir), *argv],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, f"sdn {' '.join(argv)}: {done.stdout}{done.stderr}"
    return done.stdout


@dataclass
class Controller:
    """A lab with its agent and ``sdn serve`` on its store; ``url`` is the server's root."""

    url: str
    config_dir: Path
    lab: str
    root_password: str
    process: subprocess.Popen[str]

    @property
    def api(self) -> str:
        return f"{self.url}/api2/json"

    @property
    def cafile(self) -> str:
        return str(self.config_dir / "tls" / "sdn-ssl.pem")

    def sdn(self, *argv: str, stdin: str | None = None) -> str:
        return sdn(self.config_dir, *argv, stdin=stdin)

    def call(self, method: str, path: str, **params: Any) -> Any:
        """An API call as root@pam (ticket login), which must succeed; returns ``data``."""
        session = requests.Session()
        login = session.post(
            f"{self.api}/access/ticket",
            data={"username": "root@pam", "password": self.root_password},
            verify=self.cafile,
            timeout=30,
        ).json()["data"]
        where = "params" if method in ("GET", "DELETE") else "data"
        resp = session.request(
            method,
            f"{self.api}{path}",
            headers={"CSRFPreventionToken": login["CSRFPreventionToken"]},
            verify=self.cafile,
            timeout=30,
            **{where: params},
        )
        assert resp.status_code == 200, f"{method} {path}: {resp.status_code} {resp.text}"
        return resp.json()["data"]

    def node_ns(self, node: str = "node1") -> str:
        return f"{self.lab}-{node}"

    def user(self, userid: str, password: str, grants: dict[str, str]) -> None:
        """A user with ``grants`` {ACL path: role}, made through the real CLI."""
        self.sdn("user", "add", userid, "--password", "-", stdin=password)
        for path, role in grants.items():
            self.sdn("acl", "set", path, "--role", role, "--user", userid)


def _read_url(proc: subprocess.Popen[str]) -> str:
    assert proc.stdout is not None
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if sel.select(timeout=0.2):
            line = proc.stdout.readline()
            if line.startswith("listening on "):
                return line.split()[2].removesuffix("/api2/json")
            if not line and proc.poll() is not None:
                break
    raise RuntimeError(f"sdn serve did not start (exit {proc.poll()})")


def _stop(proc: subprocess.Popen[str]) -> None:
    for signal_it, timeout in (
        (proc.terminate, 2),
        (lambda: proc.send_signal(signal.SIGINT), 5),
        (proc.kill, 5),
    ):
        signal_it()
        try:
            proc.wait(timeout=timeout)
            break
        except subprocess.TimeoutExpired:
            continue
    if proc.stdout:
        proc.stdout.close()


@pytest.fixture(scope="module")
def controller(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Controller]:
    require_ui()
    config_dir = tmp_path_factory.mktemp("ui-store")
    lab = f"ui{os.getpid() % 100000}n{next(_COUNTER)}"[:16]
    password = secrets.token_urlsafe(12)
    sdn(config_dir, "user", "passwd", "root@pam", "--password", "-", stdin=password)
    sdn(config_dir, "lab", "up", "--nodes", "1", "--name", lab, "--kernel", "host")
    proc = None
    try:
        sdn(config_dir, "lab", "agents", "start", "--name", lab)
        with open(config_dir / "serve.log", "w") as log:
            proc = subprocess.Popen(
                [SDN, "--config-dir", str(config_dir), "serve", "--listen", "127.0.0.1:0"],
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        yield Controller(_read_url(proc), config_dir, lab, password, proc)
    finally:
        if proc is not None:
            _stop(proc)
        subprocess.run(
            [SDN, "--config-dir", str(config_dir), "lab", "agents", "stop", "--name", lab], check=False
        )
        subprocess.run([SDN, "--config-dir", str(config_dir), "lab", "down", "--name", lab], check=False)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    require_ui()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


def new_page(browser: Any, *, color_scheme: str = "light") -> Any:
    context = browser.new_context(viewport=VIEWPORT, ignore_https_errors=True, color_scheme=color_scheme)
    context.set_default_timeout(20_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    # a console error other than an HTTP refusal (the UI shows those) is a bug: a CSP violation, a bad import
    page.on(
        "console",
        lambda msg: (
            msg.type == "error"
            and not msg.text.startswith("Failed to load resource")
            and errors.append(msg.text)
        ),
    )
    page.js_errors = errors  # every test checks there were none
    return page


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    pg = new_page(browser)
    try:
        yield pg
        assert pg.js_errors == [], f"uncaught script errors: {pg.js_errors}"
    finally:
        pg.context.close()


def login(page: Any, controller: Controller, user: str = "root@pam", password: str | None = None) -> None:
    """Log in through the form, as a person does."""
    page.goto(f"{controller.url}/")
    page.get_by_label("User name").fill(user)
    page.get_by_label("Password").fill(password or controller.root_password)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("button", name="Log out").wait_for()


def screenshot(page: Any, name: str, *, full_page: bool = False) -> Path:
    folder = Path(os.environ.get("SDN_UI_SCREENSHOTS") or REPO / "build" / "ui-screenshots")
    if not folder.is_absolute():
        folder = REPO / folder
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path
