"""A real node served on loopback, and Debian's Chromium driven by Playwright.

The browser is never downloaded: LIENTHONG_CHROMIUM (default /usr/bin/chromium) must exist.
Without it these tests are skipped with that reason, unless LIENTHONG_REQUIRE_BROWSER=1 (CI),
where a missing browser fails the run.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import uvicorn
from playwright.sync_api import Browser, Page, expect, sync_playwright
from sqlalchemy.orm import Session, sessionmaker

from lienthong import migrations
from lienthong.app import create_app, job_handlers
from lienthong.config import Settings
from lienthong.db import make_engine, make_session_factory, unit_of_work
from lienthong.demo import seed_all
from lienthong.kernel import jobs
from lienthong.runtime import Runtime, build_runtime

from ..conftest import create_database

# Expectations wait as long as actions do (Playwright's own default is 5 s): a loaded machine
# gets the same patience for "the page shows X" as for "click Y".
expect.set_options(timeout=10_000)

CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LiveNode:
    url: str
    factory: sessionmaker[Session]
    runtime: Runtime


@pytest.fixture(scope="session")
def live_server(live_node: LiveNode) -> str:
    return live_node.url


@pytest.fixture(scope="session")
def live_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveNode]:
    folder = tmp_path_factory.mktemp("e2e")
    url, drop = create_database(folder, "e2e")
    migrations.upgrade(url)
    engine = make_engine(url)
    factory = make_session_factory(engine)
    port = _free_port()
    settings = Settings(
        database_url=url,
        port=port,
        log_json=False,
        blob_dir=folder / "blobs",
        key_dir=folder / "keys",
        worker_poll_seconds=0.2,
    )
    runtime = build_runtime(settings)
    with unit_of_work(factory) as session:
        seed_all(session, with_accounts=True, runtime=runtime)
    stop = threading.Event()
    worker = jobs.Worker(factory=factory, handlers=job_handlers(runtime))
    worker_thread = threading.Thread(target=worker.run_forever, args=(stop, 0.2), daemon=True)
    worker_thread.start()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings, factory, runtime),
            host="127.0.0.1",
            port=port,
            log_config=None,
            access_log=False,
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the node did not start")
        time.sleep(0.05)
    yield LiveNode(f"http://127.0.0.1:{port}", factory, runtime)
    server.should_exit = True
    thread.join(timeout=10)
    stop.set()
    worker_thread.join(timeout=10)
    engine.dispose()
    drop()  # type: ignore[operator]


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    executable = os.environ.get("LIENTHONG_CHROMIUM", "/usr/bin/chromium")
    if not Path(executable).exists():
        message = f"Chromium not found at {executable} (apt-get install chromium)"
        if os.environ.get("LIENTHONG_REQUIRE_BROWSER") == "1":
            pytest.fail(message)
        pytest.skip(message)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_FLAGS
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser, live_server: str) -> Iterator[Page]:
    context = browser.new_context(base_url=live_server, locale="vi-VN")
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


@pytest.fixture
def phone(browser: Browser, live_server: str) -> Iterator[Page]:
    context = browser.new_context(
        base_url=live_server,
        viewport={"width": 390, "height": 844},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        locale="vi-VN",
    )
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


def sign_in(page: Page, username: str = "vanthu.honggai", password: str = "lienthong-demo") -> None:
    page.goto("/registry")
    submit_sign_in(page, username, password)
    page.wait_for_url(lambda url: urlsplit(url).path == "/registry")


def submit_sign_in(page: Page, username: str, password: str = "lienthong-demo") -> None:
    """Fills the sign-in form and waits for the state a test needs: signed in, on the next page.

    Waiting for a URL glob such as "**/registry" is not enough: the sign-in page's own URL
    (/signin?next=/registry) matches it, so the wait returns before the POST has answered and a
    following goto() races the session cookie (the old flaky one-stop test)."""
    page.get_by_label("Tên đăng nhập").fill(username)
    page.get_by_label("Mật khẩu").fill(password)
    page.get_by_role("button", name="Đăng nhập").click()
    expect(page.get_by_test_id("who")).to_be_visible()


PHONE = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
}
DESKTOP = {"viewport": {"width": 1366, "height": 900}}
WIDTHS = {390: PHONE, 1366: DESKTOP}


def new_page(browser: Browser, live_server: str, width: int = 1366) -> Page:
    context = browser.new_context(base_url=live_server, locale="vi-VN", **WIDTHS[width])  # type: ignore[arg-type]
    page = context.new_page()
    page.set_default_timeout(10_000)
    return page


def signed_in_as(
    browser: Browser, live_server: str, username: str, *, width: int = 1366, next: str = ""
) -> Page:
    """A new browser context at `width` px, signed in as `username`, on `next` (or the home)."""
    page = new_page(browser, live_server, width)
    page.goto(f"/signin?next={next}" if next else "/signin")
    submit_sign_in(page, username)
    if next:
        page.wait_for_url(lambda url: urlsplit(url).path == next)
    return page


AXE = Path(__file__).resolve().parent / "vendor" / "axe.min.js"


def serious_a11y_violations(page: Page) -> list[str]:
    """axe-core's serious and critical violations on the page as it is now, one line each."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    found = page.evaluate(
        """async () => {
        const result = await axe.run(document, {resultTypes: ["violations"]});
        return result.violations
            .filter(v => v.impact === "serious" || v.impact === "critical")
            .map(v => `${v.impact} ${v.id}: ${v.help} — ` +
                 v.nodes.slice(0, 3).map(n => n.target.join(" ")).join(", "));
    }"""
    )
    return [str(line) for line in found]
