"""The live cluster page (/ui) in a real browser: headless Chromium opens it on a follower of a
3-node cluster, which shows the leader; the leader is killed, and the page shows the new one
and the dead member within seconds; the follower itself is then killed and restarted, and the
page shows a "disconnected, retrying" banner and then follows the stream again. Screenshots go
to the test's temp dir, printed. Chromium is driven over the DevTools protocol on a pipe (no
port, no websocket library) and runs as the nodes' unprivileged user when the test runs as
root. The binary is RAFT_CACHE_BIN or .build/debug/raft-cache."""

import base64
import fcntl
import json
import os
import queue
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zlib

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import unprivileged  # noqa: E402

from raftcache_cluster import BINARY, eventually, founder_and_joiners, leader_of, running  # noqa: E402

CHROMIUM = shutil.which("chromium")
pytestmark = [pytest.mark.skipif(not os.path.exists(BINARY), reason=f"{BINARY} is not built"),
              pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (tools/setup installs it)")]


class BrowserError(AssertionError):
    """A DevTools command that failed or did not answer in time, or JavaScript that threw."""


class Chromium:
    """Headless Chromium with one page, driven over the DevTools protocol on a pipe: with
    --remote-debugging-pipe it reads commands on fd 3 and writes answers and events on fd 4, each
    one JSON text ended by a NUL byte. It runs in a process group of its own, which close() ends."""

    FLAGS = ["--headless=new", "--remote-debugging-pipe", "--window-size=1280,800", "--no-first-run",
             "--no-default-browser-check", "--disable-extensions", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--disable-default-apps", "--mute-audio", "--hide-scrollbars",
             "--force-color-profile=srgb", "--font-render-hinting=none"]

    def __init__(self):
        self.exceptions = []  # Uncaught JavaScript exceptions on the page (Runtime.exceptionThrown).
        self.process = None
        for extra in ([], ["--no-sandbox"]):
            try:
                self._launch(extra)
                return
            except BaseException:
                # Its sandbox needs unprivileged user namespaces, which some machines do not allow.
                retry = not extra and self.process is not None and "sandbox" in self.log_tail().lower()
                self.close()
                if not retry:
                    raise

    def _launch(self, extra):
        self.next_id = 0
        self.pending = {}  # id -> the queue its one answer goes to
        self.lock = threading.Lock()
        self.session = None
        self.profile = tempfile.mkdtemp(prefix="raft-cache-ui-chromium-")
        unprivileged.writable_dir(self.profile)  # Its profile and caches, written as the unprivileged user.
        # Chromium's ends of the two pipes, above fd 9 so that putting them on 3 and 4 clobbers neither.
        to_chromium, self.commands = self._high(os.pipe())
        self.answers, from_chromium = self._high(os.pipe())
        # bash (dash takes no fd above 9) puts them on fds 3 and 4 and execs Chromium's launcher script.
        script = f'exec "$@" 3<&{to_chromium} 4>&{from_chromium} {to_chromium}<&- {from_chromium}>&-'
        args = [CHROMIUM, *self.FLAGS, *extra, f"--user-data-dir={self.profile}", "about:blank"]
        env = dict(os.environ, HOME=self.profile, XDG_CONFIG_HOME=self.profile, XDG_CACHE_HOME=self.profile)
        self.log = open(os.path.join(self.profile, "chromium.log"), "wb")
        self.process = subprocess.Popen(unprivileged.command(["bash", "-c", script, "bash", *args]),
                                        pass_fds=(to_chromium, from_chromium), stdin=subprocess.DEVNULL,
                                        stdout=self.log, stderr=self.log, env=env, start_new_session=True)
        os.close(to_chromium)
        os.close(from_chromium)
        threading.Thread(target=self._read, args=(self.answers,), daemon=True).start()
        target = self.call("Target.createTarget", url="about:blank", session=False)["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target, flatten=True, session=False)["sessionId"]
        self.call("Runtime.enable")
        self.call("Page.enable")

    @staticmethod
    def _high(fds):
        moved = tuple(fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10) for fd in fds)
        for fd in fds:
            os.close(fd)
        return moved

    def _read(self, answers):
        buffer = b""
        while True:
            try:
                chunk = os.read(answers, 1 << 16)
            except OSError:
                chunk = b""
            if not chunk:
                break
            buffer += chunk
            *messages, buffer = buffer.split(b"\0")
            for raw in messages:
                message = json.loads(raw)
                if "id" in message:
                    with self.lock:
                        waiting = self.pending.pop(message["id"], None)
                    if waiting is not None:
                        waiting.put(message)
                elif message.get("method") == "Runtime.exceptionThrown":
                    self.exceptions.append(message["params"]["exceptionDetails"])
        os.close(answers)
        with self.lock:  # Chromium is gone: whoever waits learns it now rather than at its timeout.
            for waiting in self.pending.values():
                waiting.put({"error": {"message": "Chromium closed the pipe"}})
            self.pending.clear()

    def call(self, method, timeout=15.0, session=True, **params):
        """Sends a command (to the page, or with session=False to the browser) and returns its result."""
        answer = queue.Queue(maxsize=1)
        with self.lock:
            self.next_id += 1
            message = {"id": self.next_id, "method": method, "params": params}
            if session:
                message["sessionId"] = self.session
            self.pending[self.next_id] = answer
        try:
            os.write(self.commands, json.dumps(message).encode() + b"\0")
            reply = answer.get(timeout=timeout)
        except (OSError, queue.Empty) as error:
            raise BrowserError(f"{method}: no answer from Chromium ({error!r}); its log ends:\n{self.log_tail()}") from None
        if "error" in reply:
            raise BrowserError(f"{method}: {reply['error']}; Chromium's log ends:\n{self.log_tail()}")
        return reply["result"]

    def evaluate(self, expression):
        """The value of a JavaScript expression in the page (JSON-able values only)."""
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise BrowserError(f"{expression[:80]!r} threw: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, what, expression, condition, timeout):
        """Evaluates `expression` until condition(value) holds, and returns that value. An evaluation
        that fails (the page is loading) counts as not yet."""
        deadline = time.monotonic() + timeout
        value = error = None
        while True:
            try:
                value = self.evaluate(expression)
                if condition(value):
                    return value
            except BrowserError as e:
                error = e
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout} s waiting for {what}; the page showed {value!r} "
                                     f"(last error: {error})")
            time.sleep(0.1)

    def open(self, url):
        self.call("Page.navigate", url=url)
        self.wait_for(f"{url} to load", "[location.href, document.readyState]", lambda v: v == [url, "complete"], 10)

    def screenshot(self, path, width):
        """A PNG of the whole page laid out `width` CSS pixels wide."""
        self.call("Emulation.setDeviceMetricsOverride", width=width, height=100, deviceScaleFactor=1, mobile=False)
        time.sleep(0.3)  # The page redraws its charts 100 ms after a resize.
        height = self.evaluate("document.documentElement.scrollHeight")
        self.call("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=False)
        data = self.call("Page.captureScreenshot", format="png")["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))
        return path

    def _stragglers(self):
        """The pids still running of what Chromium started: its process group, and the crash
        handlers that it starts in sessions of their own (their command line names its profile)."""
        pids, profile = [], self.profile.encode() + b"/"
        for entry in os.listdir("/proc"):
            try:
                with open(f"/proc/{entry}/stat", "rb") as f:
                    state, _, group = f.read().rsplit(b")", 1)[1].split()[:3]
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    command = f.read()
            except (OSError, ValueError):
                continue
            if state != b"Z" and (int(group) == self.process.pid or profile in command):
                pids.append(int(entry))
        return pids

    def log_tail(self, size=3000):
        self.log.flush()
        with open(self.log.name, "rb") as f:
            return f.read().decode(errors="replace")[-size:]

    def close(self):
        """Asks Chromium to quit, then kills its whole process group whatever it did, and removes its profile."""
        if self.process is None:
            return
        if self.process.poll() is None:
            try:
                self.call("Browser.close", timeout=3, session=False)
                self.process.wait(timeout=5)
            except (BrowserError, subprocess.TimeoutExpired):
                pass
        try:
            os.killpg(self.process.pid, signal.SIGKILL)  # Its renderers and helpers, even if the browser died first.
        except ProcessLookupError:
            pass
        self.process.wait()
        deadline = time.monotonic() + 5
        while (left := self._stragglers()) and time.monotonic() < deadline:
            for pid in left:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.05)
        os.close(self.commands)  # The reader closes its end once Chromium's writers are all gone.
        self.log.close()
        shutil.rmtree(self.profile, ignore_errors=True)
        self.process = None


# What the page shows, read from its DOM hooks in one evaluation.
PAGE_STATE = """(() => {
  const $ = (id) => document.getElementById(id);
  return {
    connection: document.body.dataset.connection,
    updates: +document.body.dataset.updates,
    leader: $('leader').dataset.leaderId,
    leaderText: $('leader').textContent,
    node: $('node').textContent,
    banner: $('banner').hidden ? '' : $('banner').textContent,
    members: [...document.querySelectorAll('tr[data-member-id]')].map((r) => ({
      id: r.dataset.memberId, role: r.dataset.role, reachable: r.dataset.reachable === 'true',
      leader: r.classList.contains('leader'), lag: (r.querySelector('[data-lag]') || {dataset: {}}).dataset.lag})),
    changes: [...document.querySelectorAll('#changes tr[data-term]')].map((r) => ({
      term: +r.dataset.term, leader: r.dataset.leaderId})),
    charts: ['writes', 'reads'].map((id) => document.querySelectorAll('#' + id + ' svg path.line').length),
    resources: performance.getEntriesByType('resource').map((e) => e.name).concat([location.href]),
  };
})()"""


def png_size(path):
    """(width, height) of a PNG, after checking its signature, and how many distinct byte values
    its pixel data holds (a blank page's holds very few)."""
    with open(path, "rb") as f:
        data = f.read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    pixels, offset = b"", 8
    while offset < len(data):
        length, kind = struct.unpack(">I4s", data[offset:offset + 8])
        if kind == b"IDAT":
            pixels += data[offset + 8:offset + 8 + length]
        offset += 12 + length
    return width, height, len(set(zlib.decompress(pixels)))


def check_png(path, width, min_height):
    w, h, distinct = png_size(path)
    assert w == width and h >= min_height, f"{path} is {w}x{h}"
    assert os.path.getsize(path) > 10_000 and distinct > 100, f"{path} looks blank ({os.path.getsize(path)} bytes)"


@pytest.fixture
def cluster():
    workdir = tempfile.mkdtemp(prefix="raft-cache-ui-")
    yield from running(workdir, founder_and_joiners(workdir))


@pytest.fixture
def browser():
    chromium = Chromium()
    try:
        yield chromium
    finally:
        chromium.close()


def test_page_follows_failover_and_reconnects(cluster, browser, tmp_path, capsys):
    started = time.monotonic()
    leader = eventually("a leader", lambda: leader_of(cluster))
    follower = next(n for n in cluster if n is not leader)
    for i in range(30):  # Something for the charts.
        assert follower.request("PUT", f"/api/v1/key/ui-{i}", b"value")[0] == 200
        assert follower.request("GET", f"/api/v1/key/ui-{i}")[0] == 200

    code, body, headers = follower.request("GET", "/ui")
    assert code == 200 and headers["Content-Type"].startswith("text/html"), (code, headers)
    links = re.findall(rb"""(?:src|href)\s*=\s*["']?([^"'\s>]*)""", body, re.I)
    assert all(link.startswith(b"data:") for link in links), f"the page must load nothing: {links}"
    browser.open(follower.http + "/ui")

    def page_shows(what, condition, timeout=10):
        return browser.wait_for(what, PAGE_STATE, condition, timeout)

    s = page_shows("the leader", lambda s: s["leader"] == leader.id and len(s["members"]) == 3 and s["charts"] == [1, 1]
                   and all(m["reachable"] for m in s["members"]))
    assert s["connection"] == "live" and s["banner"] == "" and s["node"] == follower.id and s["leaderText"] == leader.id
    assert {m["id"]: m["role"] for m in s["members"]} == {n.id: "leader" if n is leader else "follower" for n in cluster}
    assert [m["id"] for m in s["members"] if m["leader"]] == [leader.id]
    assert all(m["lag"].isdigit() for m in s["members"] if m["id"] != leader.id), s["members"]
    assert s["changes"] and s["changes"][0]["leader"] == leader.id
    old_term = s["changes"][0]["term"]
    assert all(url.startswith(follower.http + "/") for url in s["resources"]), s["resources"]

    leader.kill()
    killed_at = time.monotonic()
    others = [n for n in cluster if n is not leader]
    s = page_shows("a new leader and the dead one", lambda s: s["leader"] in {n.id for n in others}
                   and s["changes"][0]["term"] > old_term
                   and any(m["id"] == leader.id and m["role"] == "unreachable" for m in s["members"]))
    shown_after = time.monotonic() - killed_at
    assert s["leader"] == eventually("the new leader", lambda: leader_of(others)).id
    assert s["changes"][0]["leader"] == s["leader"] and s["connection"] == "live"
    assert [m["id"] for m in s["members"] if m["leader"]] == [s["leader"]]
    page_shows("one more update", lambda t: t["updates"] > s["updates"])  # So that the screenshot shows a settled page.
    wide = browser.screenshot(str(tmp_path / "cluster.png"), 1280)
    narrow = browser.screenshot(str(tmp_path / "cluster-narrow.png"), 400)
    check_png(wide, 1280, 400)
    check_png(narrow, 400, 600)

    # The node the page talks to goes away: a banner; it comes back: the page follows it again.
    follower.kill()
    s = page_shows("the disconnected banner", lambda s: s["connection"] == "down")
    assert "retrying" in s["banner"] and follower.id in s["banner"], s["banner"]
    down = browser.screenshot(str(tmp_path / "disconnected.png"), 1280)
    check_png(down, 1280, 400)
    follower.start()
    s = page_shows("the page to reconnect", lambda t: t["connection"] == "live" and t["updates"] > s["updates"]
                   and t["banner"] == "", timeout=20)
    assert s["node"] == follower.id
    assert browser.exceptions == [], browser.exceptions
    with capsys.disabled():
        print(f"\n/ui showed the new leader {shown_after:.1f} s after the kill; the test took "
              f"{time.monotonic() - started:.1f} s; screenshots: {wide} {narrow} {down}")
