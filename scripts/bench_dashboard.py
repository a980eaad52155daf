"""A dashboard page open during a benchmark session (bench_clnf.py --dashboard): Debian's
chromium, headless, driven by Playwright for Python (requirements/browser-test.txt) in a
thread of its own, showing the live page of `clopy run --dashboard` until it is closed.
The browser reaches 127.0.0.1 only (no name resolution, no background traffic)."""
from __future__ import annotations

import shutil
import threading

ARGS = ['--no-sandbox', '--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1',
        '--disable-features=MediaRouter,OptimizationHints,Translate', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync']


def chromium() -> str:
    """The path of Debian's chromium; SystemExit naming what is missing."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        raise SystemExit('bench_clnf --dashboard: needs Playwright for Python (requirements/browser-test.txt)') from None
    exe = shutil.which('chromium') or shutil.which('chromium-browser')
    if exe is None:
        raise SystemExit("bench_clnf --dashboard: needs Debian's chromium (apt-get install chromium)")
    return exe


class DashboardPage:
    """The live page at `url`, open until close(); `frames` counts the images it showed."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.opened = threading.Event()
        self.stop = threading.Event()
        self.frames = 0
        self.signal_points = 0
        self.error = ''
        self.thread = threading.Thread(target=self._run, name='dashboard-page', daemon=True)
        self.thread.start()

    def _run(self) -> None:
        from playwright.sync_api import sync_playwright
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=chromium(), args=ARGS)
                page = browser.new_page(viewport={'width': 1280, 'height': 860})
                page.goto(self.url)
                self.opened.set()
                while not self.stop.wait(1.0):
                    live = page.evaluate('window.clopyLive ? [window.clopyLive.frames, window.clopyLive.signalPoints] '
                                         ': [0, 0]')
                    self.frames, self.signal_points = live
                browser.close()
        except Exception as exc:  # noqa: BLE001 - said in the report; the session goes on
            self.error = f'{type(exc).__name__}: {exc}'
        finally:
            self.opened.set()

    def close(self) -> dict:
        self.stop.set()
        self.thread.join(30)
        return {'url': self.url, 'page_frames': self.frames, 'page_signal_points': self.signal_points,
                'page_error': self.error}
