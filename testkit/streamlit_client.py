"""A hostile visitor of a real dashboard server, for the end-to-end guard tests and the classroom probes: start
``streamlit run app.py`` on a free loopback port (:func:`dashboard_server`), talk to it as a browser would over
its websocket (:class:`Visitor`: the ``BackMsg`` / ``ForwardMsg`` protobufs Streamlit ships) and PUT files to its
upload route (:func:`put_upload`). XSRF is a double-submit cookie: any well-formed token sent both as the
``_streamlit_xsrf`` cookie and the ``X-Xsrftoken`` header passes, which is what a visitor's own script can do.
"""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from testkit.shared_data import REPO_ROOT

START_TIMEOUT_S = 120.0     # the server answers /_stcore/health within this, or the start failed
RUN_TIMEOUT_S = 120.0       # one script run (a page view) finishes within this


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    """A running dashboard: its base URL, port and process id."""

    url: str
    port: int
    pid: int


def rss_mb(pid: int) -> tuple[float, float]:
    """(current, peak) resident memory of process ``pid`` in MB (``/proc``; zeros where it is not readable)."""
    try:
        fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                      if ":" in line)
    except OSError:
        return 0.0, 0.0
    kb = [float(fields.get(k, "0 kB").split()[0]) for k in ("VmRSS", "VmHWM")]
    return kb[0] / 1024.0, kb[1] / 1024.0


@contextmanager
def dashboard_server(env: dict[str, str], timeout_s: float = START_TIMEOUT_S) -> Iterator[Server]:
    """``streamlit run app.py`` with ``env`` over this environment, on a free loopback port; stopped on exit."""
    port = free_port()
    cmd = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
           "--server.address", "127.0.0.1", "--server.headless", "true"]
    full_env = dict(os.environ, **env, PYTHONPATH=str(REPO_ROOT))
    proc = subprocess.Popen(cmd, cwd=REPO_ROOT, env=full_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"the dashboard exited with {proc.returncode} before answering")
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the dashboard did not answer within {timeout_s:.0f} s")
            time.sleep(0.3)
        yield Server(url, port, proc.pid)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def xsrf_token() -> str:
    """A well-formed XSRF token of the visitor's own making."""
    from streamlit.web.server.starlette.starlette_app_utils import generate_xsrf_token_string

    return generate_xsrf_token_string()


def put_upload(server: Server, session_id: str, data: bytes, name: str = "x.png",
               file_id: str | None = None, timeout_s: float = 60.0) -> int:
    """PUT ``data`` as one multipart file to the upload route for ``session_id``; the HTTP status."""
    token = xsrf_token()
    boundary = uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n"
            "Content-Type: application/octet-stream\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=timeout_s)
    try:
        conn.request("PUT", f"/_stcore/upload_file/{session_id}/{file_id or uuid.uuid4().hex}", body=body,
                     headers={"Content-Type": f"multipart/form-data; boundary={boundary}", "X-Xsrftoken": token,
                              "Cookie": f"_streamlit_xsrf={token}"})
        return conn.getresponse().status
    except (ConnectionError, OSError):
        return 0  # the server closed the connection before answering (a refusal before the body was read)
    finally:
        conn.close()


class Visitor:
    """One browser session over the websocket: ``run()`` a page view (optionally with widget values), read what
    was drawn, send a ``clear_cache`` message. Use as a context manager."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.session_id = ""
        self._ws = None

    def __enter__(self) -> "Visitor":
        from websockets.sync.client import connect

        self._ws = connect(f"ws://127.0.0.1:{self.server.port}/_stcore/stream", subprotocols=["streamlit"],
                           max_size=None, open_timeout=30)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._ws is not None:
            self._ws.close()

    def _send(self, msg) -> None:  # noqa: ANN001 - a BackMsg
        self._ws.send(msg.SerializeToString())

    def run(self, widgets: list | None = None, timeout_s: float = RUN_TIMEOUT_S) -> list:
        """One script run (``widgets``: ``WidgetState`` messages); the new elements drawn, until it finished."""
        from streamlit.proto.BackMsg_pb2 import BackMsg
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        msg = BackMsg()
        msg.rerun_script.query_string = ""
        msg.rerun_script.page_script_hash = ""
        for w in widgets or []:
            msg.rerun_script.widget_states.widgets.append(w)
        self._send(msg)
        elements = []
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            fwd = ForwardMsg()
            fwd.ParseFromString(self._ws.recv(timeout=max(0.1, deadline - time.monotonic())))
            kind = fwd.WhichOneof("type")
            if kind == "new_session":
                self.session_id = fwd.new_session.initialize.session_id
            elif kind == "delta" and fwd.delta.WhichOneof("type") == "new_element":
                elements.append(fwd.delta.new_element)
            elif kind == "script_finished":
                return elements
        raise TimeoutError(f"no script_finished within {timeout_s:.0f} s")

    def clear_cache(self) -> None:
        """The browser's "Clear cache" (a standard ``clear_cache`` BackMsg)."""
        from streamlit.proto.BackMsg_pb2 import BackMsg

        msg = BackMsg()
        msg.clear_cache = True
        self._send(msg)

    def guess_passphrase(self, elements: list, guess: str) -> tuple[list, str]:
        """Type ``guess`` into the sidebar's passphrase field and press Unlock (``elements``: the last run's); the
        new elements and the text of the first error drawn ("" when none)."""
        from streamlit.proto.WidgetStates_pb2 import WidgetState

        field = next(e.text_input for e in elements if e.WhichOneof("type") == "text_input"
                     and e.text_input.label == "Teacher's passphrase")
        button = next(e.button for e in elements if e.WhichOneof("type") == "button" and e.button.label == "Unlock")
        drawn = self.run([WidgetState(id=field.id, string_value=guess), WidgetState(id=button.id, trigger_value=True)])
        errors = [e.alert.body for e in drawn if e.WhichOneof("type") == "alert" and e.alert.format == 1]
        return drawn, errors[0] if errors else ""


__all__ = ["Server", "Visitor", "dashboard_server", "free_port", "put_upload", "rss_mb", "xsrf_token"]
