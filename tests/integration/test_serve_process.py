"""``provcheck serve`` as a process: exit codes for configuration mistakes, readiness after
``--warm``, a review held by a hung registry denied within its budget, a graceful stop on
SIGTERM (in-flight reviews finish) and SIGINT, and no secret in anything it writes."""

from __future__ import annotations

import base64
import json
import signal
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest

from provcheck.cli import main
from tests.admission_docs import pod_create
from tests.integration.test_verify_cli import POLICY
from tests.registry import RealRegistry
from tests.serve_process import (
    PROVCHECK,
    HangingServer,
    ServeProcess,
    free_port,
    make_tls,
    post_review,
    serving,
    with_uid,
)


@pytest.fixture
def policy(tmp_path: Path) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(POLICY)
    return path


def _serve_fails(tmp_path: Path, policy: Path, *extra: str) -> tuple[int, str]:
    """The exit code and stderr of ``provcheck serve`` with a mistake that stops it before it
    serves (the TLS files of ``tmp_path/tls``, made when missing)."""
    folder = tmp_path / "tls"
    if not folder.exists():
        folder.mkdir()
        make_tls(folder)
    argv = [
        str(PROVCHECK),
        "serve",
        f"--policy={policy}",
        f"--tls-cert={folder / 'server.pem'}",
        f"--tls-key={folder / 'server-key.pem'}",
        "--host=127.0.0.1",
        f"--port={free_port()}",
        f"--cache={tmp_path / 'cache'}",
        *extra,
    ]
    done = subprocess.run(
        argv, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL
    )
    return done.returncode, done.stderr


def test_a_missing_certificate_is_a_usage_error(
    tmp_path: Path, policy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["serve", f"--policy={policy}", "--tls-key=k.pem"])
    assert code == 2
    assert "--tls-cert" in capsys.readouterr().err
    missing = tmp_path / "nowhere.pem"
    code, err = _serve_fails(tmp_path, policy, f"--tls-cert={missing}")
    assert code == 2
    assert f"{missing}: no such file" in err


def test_a_certificate_that_is_not_one_is_a_usage_error(tmp_path: Path, policy: Path) -> None:
    (tmp_path / "tls").mkdir()
    tls = make_tls(tmp_path / "tls")
    tls.cert.write_text("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
    code, err = _serve_fails(tmp_path, policy)
    assert code == 2
    assert "cannot load" in err
    assert "BEGIN" not in err


def test_a_bad_policy_is_a_usage_error(tmp_path: Path) -> None:
    bad = tmp_path / "policy.yaml"
    bad.write_text("apiVersion: provcheck/v1\nkind: Policy\nrules: {nope: {}}\n")
    code, err = _serve_fails(tmp_path, bad)
    assert code == 2
    assert "nope" in err


def test_a_port_in_use_is_a_usage_error(tmp_path: Path, policy: Path) -> None:
    with serving(tmp_path, make_tls(tmp_path), policy) as running:
        code, err = _serve_fails(tmp_path, policy, f"--port={running.port}")
    assert code == 2
    assert f"cannot listen on 127.0.0.1:{running.port}" in err


def test_a_docker_config_that_is_not_json_is_a_usage_error_never_quoted(
    tmp_path: Path, policy: Path
) -> None:
    config = tmp_path / "config.json"
    config.write_text('{"auths": {"r.example": {"auth": "FAKE-password-in-a-broken-file"')
    code, err = _serve_fails(tmp_path, policy, f"--docker-config={config}")
    assert code == 2
    assert "docker config" in err or "config.json" in err
    assert "FAKE" not in err


def test_ready_only_after_the_warm_list_is_verified(
    tmp_path: Path, policy: Path, real_registry: RealRegistry
) -> None:
    hung = HangingServer()
    warm = tmp_path / "warm.txt"
    warm.write_text(f"# images to verify first\n{real_registry.ref('b-multi-max')}\n")
    warm.write_text(warm.read_text() + f"{hung.host}/lab/hangs:1\n")
    try:
        with serving(tmp_path, make_tls(tmp_path), policy, [f"--warm={warm}"]) as server:
            with server.client() as client:
                time.sleep(1.0)  # the warm-up is under way, held by the hung registry
                assert client.get("/healthz").status_code == 200
                answer = client.get("/readyz")
                assert (answer.status_code, answer.text) == (503, "not ready\n")
                hung.release()  # now its connections fail: the warm-up ends with an error
                server.wait_ready(60)
                image = real_registry.ref("b-multi-max")
                before = client.get("/metrics").text
                reviewed = post_review(client, "/validate", pod_create([image]))
                assert reviewed.json()["response"]["allowed"] is True
                after = client.get("/metrics").text
            warmed = [r for r in server.records() if r.get("event") == "warmed"]
            assert warmed == [{"event": "warmed", "images": 2, "pass": 1, "fail": 0, "error": 1}]
            hits = 'provcheck_cache_lookups_total{result="hit"}'
            assert _count(after, hits) == _count(before, hits) + 1  # warmed: a hit
    finally:
        hung.release()


def _count(metrics: str, sample: str) -> float:
    line = next(line for line in metrics.splitlines() if line.startswith(sample + " "))
    return float(line.split()[-1])


def test_a_hung_registry_is_denied_within_the_budget(tmp_path: Path, policy: Path) -> None:
    hung = HangingServer()
    try:
        tls = make_tls(tmp_path)
        with serving(tmp_path, tls, policy, ["--budget=1.5"]) as server, server.client() as client:
            start = time.monotonic()
            image = f"{hung.host}/lab/hangs:1"
            answer = post_review(client, "/validate", pod_create([image]))
            took = time.monotonic() - start
            response = answer.json()["response"]
            assert response["allowed"] is False
            assert image in response["status"]["message"]
            assert took < 1.5 + 1.0
            metrics = client.get("/metrics").text
            assert "provcheck_budget_overruns_total 1.0" in metrics
    finally:
        hung.release()


def test_sigterm_finishes_the_review_in_flight_then_exits_0(tmp_path: Path, policy: Path) -> None:
    hung = HangingServer()
    server = ServeProcess(tmp_path, make_tls(tmp_path), policy, ["--budget=2"])
    try:
        server.wait_alive()
        answers: list[httpx.Response] = []

        def in_flight() -> None:
            with server.client() as client:
                document = with_uid(pod_create([f"{hung.host}/lab/hangs:1"]), "in-flight")
                answers.append(post_review(client, "/validate", document))

        thread = threading.Thread(target=in_flight)
        thread.start()
        time.sleep(0.7)  # the review is waiting for the hung registry
        server.process.send_signal(signal.SIGTERM)
        thread.join(30)
        assert server.stop(timeout=30) == 0
        (answer,) = answers
        assert answer.status_code == 200
        response = answer.json()["response"]
        assert (response["uid"], response["allowed"]) == ("in-flight", False)
        records = server.records()
        assert records[-1] == {"event": "stopped", "signal": "SIGTERM"}
        assert any(r.get("uid") == "in-flight" for r in records)
        with pytest.raises(httpx.ConnectError), server.client() as client:
            client.get("/healthz")
    finally:
        server.kill()
        hung.release()


def test_sigint_stops_it_with_130(tmp_path: Path, policy: Path) -> None:
    with serving(tmp_path, make_tls(tmp_path), policy) as server:
        assert server.stop(signal.SIGINT) == 130
    assert server.records()[-1] == {"event": "stopped", "signal": "SIGINT"}


def test_no_secret_in_responses_logs_or_metrics(
    tmp_path: Path, policy: Path, real_registry: RealRegistry
) -> None:
    """Credentials of --docker-config, an Authorization header sent to the server and the
    secret build arguments of c-secrets-max appear in nothing it writes."""
    password = "FAKE-registry-password-7731"
    auth = base64.b64encode(f"robot:{password}".encode()).decode()
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"auths": {real_registry.host: {"auth": auth}}}))
    extra = [f"--docker-config={config}", "-vv"]
    with serving(tmp_path, make_tls(tmp_path), policy, extra) as server:
        with server.client() as client:
            header = {"authorization": "Bearer FAKE-bearer-token-1187"}
            answers = [
                post_review(client, path, pod_create([real_registry.ref(case)]), headers=header)
                for case in ("c-secrets-max", "b-multi-max")
                for path in ("/validate", "/mutate")
            ]
            metrics = client.get("/metrics").text
        assert [a.json()["response"]["allowed"] for a in answers] == [False, False, True, True]
        assert server.stop() == 0
    written = [server.log_text(), metrics, *(a.text for a in answers)]
    for text in written:
        for secret in ("FAKE", password, auth, "Bearer"):
            assert secret not in text


def test_provcheck_help_does_not_import_the_server_stack() -> None:
    """The other commands' cold start stays as it was: uvicorn, uvloop and prometheus-client
    are imported only when serve runs."""
    probe = (
        "import sys, io, contextlib\n"
        "from provcheck.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()): main(['--help'])\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'uvicorn', 'uvloop', 'httptools', 'prometheus_client', 'provcheck'} "
        "and (m.startswith(('uvicorn', 'uvloop', 'httptools', 'prometheus')) "
        "or m.startswith(('provcheck.server', 'provcheck.admission')))))\n"
    )
    python = PROVCHECK.parent / "python"
    out = subprocess.run([str(python), "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_cache_none_is_refused_not_a_directory_named_none(
    tmp_path: Path,
    policy: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``serve --cache none`` (as verify and audit spell "no cache") is a usage error: serve
    needs its cache; it used to create a directory ``./none`` and serve from it."""
    folder = tmp_path / "tls"
    folder.mkdir()
    make_tls(folder)
    monkeypatch.chdir(tmp_path)
    argv = ["serve", f"--policy={policy}", f"--tls-cert={folder / 'server.pem'}"]
    argv += [f"--tls-key={folder / 'server-key.pem'}", "--host=127.0.0.1", f"--port={free_port()}"]
    assert main([*argv, "--cache=none"]) == 2
    assert "provcheck serve needs a cache" in capsys.readouterr().err
    assert not (tmp_path / "none").exists()
