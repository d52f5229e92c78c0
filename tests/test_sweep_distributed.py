"""How a process decides to join a multi-process run (the run itself: test_sweep_resume)."""

from __future__ import annotations

import jax
import pytest

from cs109nn.sweep import distributed


@pytest.fixture
def calls(monkeypatch):
    """Record jax.distributed.initialize and config updates instead of doing them."""
    recorded = {"initialize": [], "config": []}
    monkeypatch.setattr(jax.distributed, "is_initialized", lambda: False)
    monkeypatch.setattr(
        jax.distributed, "initialize", lambda **kwargs: recorded["initialize"].append(kwargs)
    )
    monkeypatch.setattr(jax.config, "update", lambda *args: recorded["config"].append(args))
    for name in ("JAX_COORDINATOR_ADDRESS", "JAX_NUM_PROCESSES", "JAX_PROCESS_ID"):
        monkeypatch.delenv(name, raising=False)
    return recorded


def test_nothing_asked_means_a_single_process(calls):
    assert distributed.maybe_initialize_distributed() is False
    assert calls == {"initialize": [], "config": []}


def test_the_standard_environment_variables_start_a_run_with_gloo_on_cpu(calls, monkeypatch):
    monkeypatch.setenv("JAX_COORDINATOR_ADDRESS", "127.0.0.1:12345")
    monkeypatch.setenv("JAX_NUM_PROCESSES", "2")
    monkeypatch.setenv("JAX_PROCESS_ID", "1")
    assert distributed.maybe_initialize_distributed() is True
    assert calls["initialize"] == [
        {"coordinator_address": "127.0.0.1:12345", "num_processes": 2, "process_id": 1}
    ]
    assert calls["config"] == [("jax_cpu_collectives_implementation", "gloo")]


def test_launcher_flags_take_precedence_over_the_environment(calls, monkeypatch):
    monkeypatch.setenv("JAX_COORDINATOR_ADDRESS", "127.0.0.1:1")
    monkeypatch.setenv("JAX_NUM_PROCESSES", "8")
    monkeypatch.setenv("JAX_PROCESS_ID", "7")
    distributed.maybe_initialize_distributed("127.0.0.1:2", 2, 0)
    assert calls["initialize"] == [
        {"coordinator_address": "127.0.0.1:2", "num_processes": 2, "process_id": 0}
    ]


def test_a_partial_description_is_refused_before_anything_starts(calls):
    with pytest.raises(ValueError, match="number of processes"):
        distributed.maybe_initialize_distributed("127.0.0.1:2")
    assert calls["initialize"] == []


def test_a_lone_process_writes():
    assert distributed.is_writer()
