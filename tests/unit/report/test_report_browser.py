"""The HTML report in a real headless browser (Debian's chromium, network blocked): it renders, shows the
verdicts and the charts, and asks for nothing over the network.

Needs the `chromium` apt package (/usr/bin/chromium); without it this test fails, it does not skip.
"""

from __future__ import annotations

import shutil
import socket
import struct
import subprocess
import threading
import zlib
from dataclasses import replace
from datetime import datetime
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from prodlens.report import build_report, render_html
from prodlens.stats import correlate

from bench.calibrate import MIXES, START, daily_rows, draw_repo, simulate_repo

DAYS = 126
LINKED, UNLINKED = "org/linked", "org/unlinked"
TIMEOUT = 60
# Every host name resolves to nothing, except the loopback proxy below, which accepts and drops connections.
RESOLVER = ["--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"]


def _chromium() -> str:
    path = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
    if path is None:
        pytest.fail(
            "chromium is not installed: the browser test needs Debian's `chromium` package (apt-get install chromium)"
        )
    return path


def _synthetic_rows() -> tuple[list[dict], list[dict]]:
    """Two repos of the calibration harness's 'calendar' mix: one with a strong next-day link, one without."""
    rng = np.random.default_rng(20260401)
    mix = replace(MIXES[0], link=0.9)
    sessions, github = [], []
    for name, lag in ((LINKED, 1), (UNLINKED, None)):
        params = replace(draw_repo(rng, mix, DAYS, lag), step_day=None)
        s, g = daily_rows(name, START, simulate_repo(rng, params, START, DAYS, set()))
        sessions += s
        github += g
    return sessions, github


@pytest.fixture(scope="module")
def page(tmp_path_factory) -> Path:
    sessions, github = _synthetic_rows()
    rows = correlate(sessions, github, input_version="t", computed_at=datetime(2026, 12, 1))
    report = build_report(rows, sessions, github, {})
    verdicts = {v.repo: v.verdict for v in report.verdicts}
    assert verdicts[LINKED] == "link" and verdicts[UNLINKED] == "no_evidence", verdicts
    path = tmp_path_factory.mktemp("report") / "report.html"
    path.write_text(render_html(report), encoding="utf-8")
    return path


# The browser's own housekeeping (component updater, accounts, network time) goes to these even with the
# flags below; they are not the page's requests.
BROWSER_SERVICE_DOMAINS = ("google.com", "googleapis.com", "gstatic.com", "gvt1.com")


class _Sink:
    """A TCP listener used as the browser's proxy: it notes the host of every request and answers none."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.hosts: list[str] = []
        self.notes: list[threading.Thread] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self._start_note(conn)

    def _start_note(self, conn: socket.socket):
        note = threading.Thread(target=self._note, args=(conn,), daemon=True)
        self.notes.append(note)
        note.start()

    def _note(self, conn: socket.socket):
        try:
            conn.settimeout(5.0)  # a loaded machine (the suite on 2 workers) can take over 0.5 s to send the line
            line = conn.recv(4096).split(b"\r\n", 1)[0].decode("latin-1")
        except OSError:
            line = ""
        finally:
            conn.close()
        self.hosts.append(_host_of(line))

    def page_hosts(self) -> list[str]:
        """The hosts asked for, less the browser's own service hosts."""
        return [h for h in self.hosts if not any(h == d or h.endswith("." + d) for d in BROWSER_SERVICE_DOMAINS)]

    def close(self):
        self.stop.set()
        self.thread.join(2)
        while True:  # connections still in the backlog
            try:
                conn, _ = self.sock.accept()
            except OSError:
                break
            self._start_note(conn)
        for note in self.notes:
            note.join(6)
        self.sock.close()


def _host_of(request_line: str) -> str:
    """'CONNECT host:443 HTTP/1.1' or 'GET http://host/path HTTP/1.1' -> host ('?' plus the line if neither)."""
    parts = request_line.split()
    if len(parts) < 2:
        return f"?{request_line}"
    target = parts[1]
    if "://" in target:
        target = target.split("://", 1)[1]
    return target.split("/", 1)[0].rsplit(":", 1)[0].lower()


def _browse(page: Path, tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess, list[str]]:
    """Run headless chromium on the page (network only through the sink); its result and the page's hosts."""
    sink = _Sink()
    try:
        result = subprocess.run(
            [
                _chromium(),
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-extensions",
                "--disable-features=NetworkTimeServiceQuerying,OptimizationHints,MediaRouter,Translate",
                "--disable-client-side-phishing-detection",
                "--disable-default-apps",
                "--no-pings",
                "--disable-domain-reliability",
                "--hide-scrollbars",
                f"--user-data-dir={tmp_path / 'profile'}",
                f"--proxy-server=127.0.0.1:{sink.port}",
                "--proxy-bypass-list=<-loopback>",
                *RESOLVER,
                *args,
                page.as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
        )
    finally:
        sink.close()
    return result, sink.page_hosts()


class _Dom(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.classes: list[str] = []
        self.refs: list[str] = []
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        attrs = dict(attrs)
        self.classes.append(attrs.get("class") or "")
        self.refs += [attrs[k] for k in ("src", "href", "xlink:href", "srcset") if attrs.get(k)]

    def handle_data(self, data):
        self.text.append(data)


def test_the_network_detector_sees_a_page_that_fetches(tmp_path):
    # Given a page with an external image and stylesheet (what the report must never contain)
    canary = tmp_path / "canary.html"
    canary.write_text(
        '<!DOCTYPE html><html><body><img src="http://example.invalid/x.png">'
        '<link rel="stylesheet" href="https://fonts.example.invalid/x.css"></body></html>',
        encoding="utf-8",
    )
    # When the browser loads it, Then its requests reach the proxy (an empty list below: the page asked for nothing)
    result, hosts = _browse(canary, tmp_path, "--dump-dom")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "example.invalid" in hosts or "fonts.example.invalid" in hosts, hosts


def test_browser_renders_verdicts_and_charts_without_network(page, tmp_path):
    # When the browser loads the page and prints the DOM it built
    result, hosts = _browse(page, tmp_path, "--dump-dom")

    # Then it rendered: the verdict blocks, the lag profiles with CI bars and the adjusted series
    assert result.returncode == 0, result.stderr[-2000:]
    dom = _Dom()
    dom.feed(result.stdout)
    text = "".join(dom.text)
    assert "verdict v-link" in dom.classes and "verdict v-none" in dom.classes
    assert f"{LINKED}: evidence of a link" in text and f"{UNLINKED}: no evidence after adjusting" in text
    assert "on days after more AI requests, org/linked gets more commits" in text
    assert dom.classes.count("lag-profile") == 3 and dom.classes.count("adjusted-series") == 3  # *, 2 repos
    assert dom.classes.count("ci-bar") >= 3 * 8 - 2 and dom.classes.count("sig-marker") >= 1
    assert dom.classes.count("series-x") == 3 and dom.classes.count("series-y") == 3
    assert "script" not in dom.tags and dom.refs == []
    # and the page fetched nothing: no request but the browser's own housekeeping reached the proxy
    assert hosts == []


def _png_rows(data: bytes, rows: int) -> tuple[int, int, np.ndarray]:
    """Width, height and the first `rows` decoded scanlines (RGB or RGBA, 8 bit) of a PNG: (rows, width, bpp)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, [], None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        pos += 12 + length
    width, height, depth, color, _, _, interlace = header
    assert depth == 8 and color in (2, 6) and interlace == 0, header
    bpp = 3 if color == 2 else 4
    raw = zlib.decompress(b"".join(idat))
    stride = width * bpp
    assert len(raw) == height * (stride + 1)
    out = np.zeros((rows, stride), dtype=np.uint8)
    prev = np.zeros(stride, dtype=np.int64)
    for r in range(rows):
        kind = raw[r * (stride + 1)]
        line = np.frombuffer(raw, dtype=np.uint8, count=stride, offset=r * (stride + 1) + 1).astype(np.int64)
        if kind == 0:
            cur = line
        elif kind == 1:
            cur = np.cumsum(line.reshape(width, bpp), axis=0).reshape(-1) % 256
        elif kind == 2:
            cur = (line + prev) % 256
        else:
            cur = np.zeros(stride, dtype=np.int64)
            p = prev.tolist()
            raw_line = line.tolist()
            c = [0] * stride
            for i in range(stride):
                a = c[i - bpp] if i >= bpp else 0
                b = p[i]
                if kind == 3:
                    c[i] = (raw_line[i] + (a + b) // 2) % 256
                else:
                    d = p[i - bpp] if i >= bpp else 0
                    est = a + b - d
                    pa, pb, pc = abs(est - a), abs(est - b), abs(est - d)
                    pred = a if pa <= pb and pa <= pc else b if pb <= pc else d
                    c[i] = (raw_line[i] + pred) % 256
            cur = np.array(c, dtype=np.int64)
        out[r] = cur
        prev = cur
    return width, height, out.reshape(rows, width, bpp)


def test_browser_screenshot_is_a_readable_page(page, tmp_path):
    # When the browser takes a screenshot of the page
    shot = tmp_path / "report.png"
    result, hosts = _browse(page, tmp_path, f"--screenshot={shot}", "--window-size=1200,3000")

    # Then a PNG of the window's size was written, and its top (the verdicts) is not blank
    assert result.returncode == 0 and shot.exists(), result.stderr[-2000:]
    data = shot.read_bytes()
    assert len(data) > 50_000  # a blank page compresses to a few KB
    width, height, top = _png_rows(data, 500)
    assert (width, height) == (1200, 3000)
    pixels = top[:, :, :3].reshape(-1, 3).astype(int)
    dark = (pixels.sum(axis=1) < 200).mean()  # text
    link_green = (np.abs(pixels - [0xDA, 0xFB, 0xE1]).sum(axis=1) < 12).mean()  # the link verdict's background
    assert dark > 0.002, dark
    assert link_green > 0.01, link_green
    assert hosts == []
