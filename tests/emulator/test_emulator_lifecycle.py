"""Starting and stopping: 127.0.0.1 only, port 0, context manager, nothing left behind after stop()."""

from __future__ import annotations

import socket
import threading

import httpx
import pytest

from clerk_sync_local.emulator import ClerkEmulator


def _emulator_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("clerk-emulator")]


def _port_open(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def test_emulator_port_zero_binds_free_loopback_port(signing_key_pem: str) -> None:
    with ClerkEmulator(signing_key_pem=signing_key_pem) as clerk:
        assert clerk.url == f"http://127.0.0.1:{clerk.port}"
        assert clerk.port > 0
        assert httpx.get(f"{clerk.url}/_emulator/health").status_code == 200


def test_emulator_stop_leaves_no_threads_or_listening_port(signing_key_pem: str) -> None:
    before = _emulator_threads()
    clerk = ClerkEmulator(signing_key_pem=signing_key_pem)
    clerk.start()
    clerk.set_webhook("http://127.0.0.1:9/nowhere")
    with httpx.Client(base_url=clerk.api_url, headers={"Authorization": f"Bearer {clerk.secret_key}"}) as client:
        client.get("/users")  # leaves a keep-alive connection open across stop()
        assert len(_emulator_threads()) == len(before) + 2
        clerk.stop()
    assert _emulator_threads() == before
    assert not _port_open(clerk.port)
    assert not clerk.running


def _fail_while_running(clerk: ClerkEmulator) -> None:
    with clerk:
        raise RuntimeError("boom")


def test_emulator_context_manager_stops_on_error(signing_key_pem: str) -> None:
    clerk = ClerkEmulator(signing_key_pem=signing_key_pem)
    with pytest.raises(RuntimeError, match="boom"):
        _fail_while_running(clerk)
    assert not clerk.running
    assert not _port_open(clerk.port)


def test_emulator_stop_twice_is_harmless_and_restart_reuses_port(signing_key_pem: str) -> None:
    clerk = ClerkEmulator(signing_key_pem=signing_key_pem).start()
    port = clerk.port
    clerk.stop()
    clerk.stop()
    with clerk:
        assert clerk.port == port
        assert httpx.get(f"{clerk.url}/_emulator/health").status_code == 200


def test_emulator_start_twice_is_rejected(signing_key_pem: str) -> None:
    with ClerkEmulator(signing_key_pem=signing_key_pem) as clerk, pytest.raises(RuntimeError):
        clerk.start()


def test_emulator_fixed_port_taken_fails_to_start(signing_key_pem: str) -> None:
    with ClerkEmulator(signing_key_pem=signing_key_pem) as first, pytest.raises(OSError, match="in use"):
        ClerkEmulator(signing_key_pem=signing_key_pem, port=first.port).start()
