"""`--stream ws://HOST:PORT`: each frame's poses.jsonl record (app.exports.frame_record,
every person) pushed as one JSON text message to every connected WebSocket client, for
web viewers.

Never blocks the pipeline: each client has a short queue drained by its own connection
thread (the websockets library's threaded server); a client too slow to keep up misses
frames, which are counted as dropped.
"""
import json
import queue
import threading

from websockets.exceptions import ConnectionClosed
from websockets.sync.server import serve

from .exports import frame_record

CLIENT_QUEUE = 8  # frames a client may fall behind before it misses some


class WebSocketStream:
    def __init__(self, host, port):
        try:
            self._server = serve(self._serve_client, host, port)
        except OSError as e:
            raise ValueError(f"--stream ws://{host}:{port}: cannot listen ({e.strerror or e})") from None
        self.port = self._server.socket.getsockname()[1]  # the real one when port 0 was asked
        self.url = f"ws://{host}:{self.port}"
        self.sent, self.dropped = 0, 0
        self._clients, self._lock = set(), threading.Lock()
        threading.Thread(target=self._server.serve_forever, name="ws-stream", daemon=True).start()

    def _serve_client(self, connection):
        """One thread per client: send what its queue receives until None or a disconnect."""
        waiting = queue.Queue(CLIENT_QUEUE)
        with self._lock:
            self._clients.add(waiting)
        try:
            while (message := waiting.get()) is not None:
                connection.send(message)
        except ConnectionClosed:
            pass
        finally:
            with self._lock:
                self._clients.discard(waiting)

    def clients(self):
        with self._lock:
            return len(self._clients)

    def send(self, frame):
        message = json.dumps(frame_record(frame), separators=(",", ":"))
        with self._lock:
            clients = list(self._clients)
        for waiting in clients:
            try:
                waiting.put_nowait(message)
                self.sent += 1
            except queue.Full:
                self.dropped += 1

    def hud_line(self):
        return f"stream {self.url}  clients {self.clients()}  sent {self.sent}  dropped {self.dropped}"

    def stats(self):
        return {"url": self.url, "protocol": "WebSocket (poses.jsonl records)", "messages_sent": self.sent,
                "messages_dropped": self.dropped, "clients_at_end": self.clients()}

    def close(self):
        with self._lock:
            clients = list(self._clients)
        for waiting in clients:  # make room for the end marker: a closing client needs no backlog
            while True:
                try:
                    waiting.put_nowait(None)
                    break
                except queue.Full:
                    try:
                        waiting.get_nowait()
                    except queue.Empty:
                        pass
        self._server.shutdown()
