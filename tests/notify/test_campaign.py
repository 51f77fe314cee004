"""Campaign sending against a real SMTP server on loopback: opt-outs, consent, one connection per
batch, failures mid-batch, restarts that never mail anyone twice, dry runs."""

from __future__ import annotations

import email
from collections import Counter
from email import policy

import pandas as pd
import pytest

from carsight.errors import InputError
from carsight.notify import add_opt_outs, delivery_log, send_campaign
from carsight.notify.smtp import RateLimiter

from .conftest import put_recommendations, put_rfm_groups

IDS = [f"C{i:03d}" for i in range(8)]


def _parse(envelope):
    return email.message_from_bytes(envelope.original_content, policy=policy.default)


def _status(wh, campaign="CMP1") -> dict[str, str]:
    log = delivery_log(wh, campaign)
    return dict(zip(log.customer_id, log.status, strict=True))


def test_sends_once_per_customer_over_one_connection_and_respects_opt_outs(customer_wh, mail_settings, smtp_server):
    recorder, _ = smtp_server
    wh = customer_wh
    # C001 asked to be left alone, C002 never consented, C003 has no usable address.
    add_opt_outs(wh, ["C001"], reason="customer request")
    wh.con.con.execute("UPDATE customers SET marketing_opt_in = false WHERE customer_id = 'C002'")
    wh.con.con.execute("UPDATE customers SET email = 'not-an-address' WHERE customer_id = 'C003'")
    wh.con.con.execute("UPDATE customers SET marketing_opt_in = NULL WHERE customer_id = 'C004'")

    report = send_campaign(wh, mail_settings, "CMP1", IDS + ["C000", "NOPE"], "offer", "ko")

    assert report.ok
    assert report.sent == 4
    assert report.skipped == {"opted_out": 1, "no_marketing_consent": 2, "no_valid_email": 1, "unknown_customer": 1}
    assert recorder.connections == 1
    assert sorted(recorder.recipients()) == sorted(f"c{i}@mail.example" for i in (0, 5, 6, 7))
    first = _parse(recorder.messages[0])
    assert first["Subject"].startswith("(광고)")  # Korean law: advertising mail is marked in the subject
    assert "고객0님" in first.get_body(("plain",)).get_content()
    assert "수신거부" in first.get_body(("plain",)).get_content()
    status = _status(wh)
    assert Counter(status.values()) == {"sent": 4, "skipped": 5}

    again = send_campaign(wh, mail_settings, "CMP1", IDS, "offer", "ko")
    assert again.sent == 0 and again.already_sent == 4
    assert len(recorder.messages) == 4


def test_failure_mid_batch_is_logged_and_rerun_sends_only_the_unsent(customer_wh, mail_settings, smtp_server):
    recorder, _ = smtp_server
    recorder.fail_after = 3
    report = send_campaign(customer_wh, mail_settings, "CMP1", IDS, "offer", "en")
    assert not report.ok
    assert (report.sent, report.failed) == (3, 5)
    assert all(reason.startswith("451") for _, reason in report.failures)
    log = delivery_log(customer_wh, "CMP1").set_index("customer_id")
    assert set(log.loc[log.status == "failed", "reason"].str[:3]) == {"451"}

    recorder.fail_after = None
    rerun = send_campaign(customer_wh, mail_settings, "CMP1", IDS, "offer", "en")
    assert rerun.ok and (rerun.sent, rerun.already_sent) == (5, 3)
    assert Counter(recorder.recipients()) == Counter({f"c{i}@mail.example": 1 for i in range(8)})
    assert set(_status(customer_wh).values()) == {"sent"}


def test_dropped_connection_leaves_the_rest_queued_and_nobody_gets_two(customer_wh, mail_settings, smtp_server):
    recorder, _ = smtp_server
    recorder.fail_after, recorder.drop = 2, True
    report = send_campaign(customer_wh, mail_settings, "CMP1", IDS, "offer", "ko")
    assert not report.ok
    assert report.sent == 2 and report.failed == 1 and report.pending == 5
    assert Counter(_status(customer_wh).values()) == {"sent": 2, "failed": 1, "queued": 5}

    recorder.fail_after, recorder.drop = None, False
    rerun = send_campaign(customer_wh, mail_settings, "CMP1", IDS, "offer", "ko")
    assert rerun.ok and rerun.sent == 6
    assert Counter(recorder.recipients()) == Counter({f"c{i}@mail.example": 1 for i in range(8)})


def test_permanent_failures_stop_after_max_attempts(customer_wh, mail_settings, smtp_server):
    recorder, _ = smtp_server
    recorder.fail_after, recorder.fail_code = 0, "554 5.7.1 rejected"
    for _ in range(2):
        report = send_campaign(customer_wh, mail_settings, "CMP1", IDS[:2], "offer", "ko", max_attempts=2)
        assert report.failed == 2
    final = send_campaign(customer_wh, mail_settings, "CMP1", IDS[:2], "offer", "ko", max_attempts=2)
    assert final.gave_up == 2 and final.failed == 0 and not final.ok
    log = delivery_log(customer_wh, "CMP1")
    assert list(log.attempts) == [2, 2]
    assert recorder.messages == []


def test_crash_after_queueing_is_retried_on_restart(customer_wh, mail_settings, smtp_server):
    recorder, _ = smtp_server
    # A run that crashed after queueing C000 and before sending it leaves a queued row.
    now = pd.Timestamp.now()
    row = {
        "campaign_id": "CMP1", "customer_id": "C000", "email": "c0@mail.example", "status": "queued", "reason": None,
        "attempts": 1, "template": "offer", "lang": "ko", "message_id": None, "queued_at": now, "sent_at": None,
        "updated_at": now,
    }  # fmt: skip
    customer_wh.upsert("delivery_log", pd.DataFrame([row]))
    report = send_campaign(customer_wh, mail_settings, "CMP1", ["C000"], "offer", "ko")
    assert report.sent == 1
    log = delivery_log(customer_wh, "CMP1").iloc[0]
    assert log.status == "sent" and log.attempts == 2


def test_dry_run_writes_eml_files_and_sends_nothing(customer_wh, mail_settings, smtp_server, tmp_path):
    recorder, _ = smtp_server
    # A recommendation table as the customers pipeline writes it personalises the message.
    put_recommendations(customer_wh, {"C000": ["Palisade", "Tucson"]})
    report = send_campaign(
        customer_wh, mail_settings, "CMP1", IDS[:3], "offer", "ko", dry_run=True, out_dir=tmp_path / "eml"
    )
    assert len(report.written) == 3 and report.sent == 0
    assert recorder.connections == 0
    assert delivery_log(customer_wh, "CMP1").empty
    message = email.message_from_bytes((tmp_path / "eml" / "C000.eml").read_bytes(), policy=policy.default)
    assert "Palisade" in message.get_body(("plain",)).get_content()
    assert message["To"].addresses[0].addr_spec == "c0@mail.example"


def test_template_errors_are_input_errors(customer_wh, mail_settings, tmp_path):
    bad = tmp_path / "tpl"
    bad.mkdir()
    (bad / "default.ko.txt.j2").write_text("Subject: 안녕 {{ nmae }}\n본문", encoding="utf-8")
    with pytest.raises(InputError, match="unknown field"):
        send_campaign(customer_wh, mail_settings, "CMP1", IDS[:1], str(bad), "ko", dry_run=True)
    with pytest.raises(InputError, match="unknown e-mail template"):
        send_campaign(customer_wh, mail_settings, "CMP1", IDS[:1], "no-such-template", "ko")


def test_segment_template_is_chosen_per_customer(customer_wh, mail_settings, tmp_path):
    put_rfm_groups(customer_wh, {"C000": "VIP", "C001": "Churn risk"})
    report = send_campaign(customer_wh, mail_settings, "CMP1", IDS[:3], "offer", "en", dry_run=True, out_dir=tmp_path)
    subjects = {
        p.stem: email.message_from_bytes(p.read_bytes(), policy=policy.default)["Subject"] for p in report.written
    }
    assert "VIP" in subjects["C000"]
    assert subjects["C001"].startswith("We have missed you")
    assert subjects["C002"].startswith("An offer")


def test_rate_limiter_spaces_sends():
    clock = [0.0]
    slept = []

    def sleep(seconds):
        slept.append(seconds)
        clock[0] += seconds

    limiter = RateLimiter(4, clock=lambda: clock[0], sleep=sleep)
    for _ in range(5):
        limiter.wait()
    assert clock[0] == pytest.approx(1.0)
    assert len(slept) == 4


def test_login_failure_is_clear_and_never_shows_the_password(customer_wh, mail_settings):
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult
    from pydantic import SecretStr

    from carsight.notify import DeliveryError

    from .conftest import Recorder, free_port

    logins = []

    def authenticator(server, session, envelope, mechanism, auth_data):
        logins.append(auth_data.login)
        return AuthResult(success=False, handled=False)

    controller = Controller(
        Recorder(), hostname="127.0.0.1", port=free_port(), authenticator=authenticator, auth_require_tls=False
    )
    controller.start()
    try:
        smtp = mail_settings.smtp.model_copy(
            update={"port": controller.port, "username": "crm", "password": SecretStr("hunter2-secret")}
        )
        settings = mail_settings.model_copy(update={"smtp": smtp})
        with pytest.raises(DeliveryError) as caught:
            send_campaign(customer_wh, settings, "CMP1", IDS[:2], "offer", "ko")
    finally:
        controller.stop()
    assert set(logins) == {b"crm"}
    assert "refused" in str(caught.value) and "hunter2" not in str(caught.value)
    # Nothing was queued or marked sent: a run with the right password starts from scratch.
    assert delivery_log(customer_wh, "CMP1").empty


def test_starttls_with_login(customer_wh, mail_settings, tmp_path, monkeypatch):
    import shutil
    import ssl
    import subprocess

    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult
    from pydantic import SecretStr

    from carsight.notify import smtp as smtp_module

    from .conftest import Recorder, free_port

    # Never a skip: `make test` installs openssl through scripts/system-deps.sh.
    if shutil.which("openssl") is None:
        pytest.fail("openssl not found: install it (bash scripts/system-deps.sh, which make test runs)")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert, key)
    recorder = Recorder()
    seen_tls = []

    def authenticator(server, session, envelope, mechanism, auth_data):
        seen_tls.append(session.ssl is not None)
        return AuthResult(success=auth_data.password == b"right-password")

    controller = Controller(
        recorder, hostname="127.0.0.1", port=free_port(), tls_context=server_context, require_starttls=True,
        authenticator=authenticator,
    )  # fmt: skip
    controller.start()
    # The client verifies the server against our test certificate instead of the system CAs.
    original = ssl.create_default_context
    monkeypatch.setattr(smtp_module.ssl, "create_default_context", lambda *a, **k: original(cafile=str(cert)))
    try:
        smtp = mail_settings.smtp.model_copy(
            update={
                "port": controller.port,
                "security": "starttls",
                "username": "crm",
                "password": SecretStr("right-password"),
            }
        )
        report = send_campaign(
            customer_wh, mail_settings.model_copy(update={"smtp": smtp}), "CMP1", IDS[:3], "offer", "ko"
        )
    finally:
        controller.stop()
    assert report.ok and report.sent == 3
    assert seen_tls and all(seen_tls)
    assert recorder.connections >= 1 and len(recorder.messages) == 3
