"""``python -m bot probe`` (#18) against the emulator in every mode: it reports each mode as
it is, puts the test member back exactly (after a failure in the middle and on Ctrl-C or
SIGTERM too), refuses members it must not touch, and the bot goes by what it stored."""

from __future__ import annotations

import argparse
import io
import itertools
import json
import os
import signal
from dataclasses import asdict, fields

import pytest

from bot.check import semantics_report
from bot.elastic.client import ElasticClient
from bot.probe import Probe, ProbeRefused, run_cli
from bot.standins.elastic.semantics import Semantics
from bot.store import Database
from bot.store import semantics as stored
from tests.harness import API_KEY, ORG_ID, fast_retry, make_settings

PROD = "d" * 32
STOPPED = "f" * 32
TESTER = "probe-tester@example.com"
QUESTIONS = [f.name for f in fields(Semantics)]
BAD_REQUEST = {"errors": [{"code": "root.invalid_data", "message": "scripted failure"}]}


@pytest.fixture
def probed(elastic):
    """A dedicated test member holding one project role elsewhere, a project to probe on,
    and a stopped deployment."""
    other = elastic.add_project("elasticsearch", "other-search")
    project = elastic.add_project("elasticsearch", "probe-search")
    elastic.add_deployment("stopped-logs", deployment_id=STOPPED, hidden=True)
    user = elastic.add_member(
        TESTER,
        role_assignments={
            "project": {
                "elasticsearch": [
                    {
                        "role_id": "elasticsearch-viewer",
                        "organization_id": ORG_ID,
                        "project_ids": [other],
                    }
                ]
            }
        },
    )
    return user, project


@pytest.fixture
def client(elastic):
    c = ElasticClient(elastic.url, API_KEY, ORG_ID, retry=fast_retry())
    yield c
    c.close()


def _probe(client, project: str, hidden: str | None = STOPPED) -> Probe:
    probe = Probe(client, TESTER, PROD, f"elasticsearch:{project}", hidden)
    probe.check()
    return probe


MODES = [
    Semantics(**dict(zip(QUESTIONS, values, strict=True)))
    for values in itertools.product([True, False], repeat=len(QUESTIONS))
]


@pytest.mark.parametrize(
    "mode", MODES, ids=lambda m: "".join("1" if v else "0" for v in asdict(m).values())
)
def test_the_probe_reports_every_mode_and_puts_the_member_back(elastic, client, probed, mode):
    user, project = probed
    elastic.semantics = mode
    before, before_listing = elastic.holdings(user), elastic.member(user)
    report = _probe(client, project).run()
    assert report.completed and report.restored, report.error
    expected = asdict(mode)
    if mode.hidden_refuses_all:  # all: true is refused while a deployment is stopped, so the
        expected["all_absorbs"] = None  # absorb question cannot be asked: left to the safest
    assert report.answer_map() == expected
    assert elastic.holdings(user) == before and elastic.member(user) == before_listing
    assert elastic.invitations() == []


def test_without_a_stopped_deployment_the_hidden_questions_stay_assumed(elastic, client, probed):
    user, project = probed
    report = Probe(client, TESTER, PROD, None, None)
    report.check()
    answers = report.run().answer_map()
    assert answers["hidden_refuses_named"] is None and answers["hidden_refuses_all"] is None
    rows = {a.question: a for a in report.report.answers}
    assert "assumes the safest" in rows["hidden_refuses_all"].bot
    assert stored.Semantics.from_answers(answers, "2026-12-02").hidden_refuses_all  # safest


@pytest.mark.parametrize("nth", [1, 2, 4, 6, 8])
def test_a_failure_in_the_middle_still_puts_the_member_back(elastic, client, probed, nth):
    """The nth role-assignment POST is refused: the probe stops, restores, and says so."""
    user, project = probed
    elastic.set_semantics(all_absorbs=False, one_role_per_resource=True)
    before, before_listing = elastic.holdings(user), elastic.member(user)
    probe = _probe(client, project)
    calls = {"n": 0}
    real = client.add_units

    def add_units(user_id, units):
        calls["n"] += 1
        if calls["n"] == nth:
            elastic.script("POST", r"/role_assignments$", 400, body=BAD_REQUEST)
        real(user_id, units)

    client.add_units = add_units
    report = probe.run()
    assert calls["n"] >= nth
    assert not report.completed and report.restored
    assert report.error and "Elastic Cloud" in report.error
    assert elastic.holdings(user) == before and elastic.member(user) == before_listing


def test_a_failed_delete_in_the_middle_is_retried_by_the_restore(elastic, client, probed):
    user, project = probed
    before = elastic.holdings(user)
    elastic.after(
        "POST",
        r"/role_assignments$",
        lambda: elastic.script("DELETE", r"/role_assignments$", 400, body=BAD_REQUEST),
        times=1,
    )
    report = _probe(client, project).run()
    assert report.restored and elastic.holdings(user) == before


@pytest.mark.parametrize("how", ["ctrl-c", "sigterm"])
def test_ctrl_c_or_sigterm_in_the_middle_puts_the_member_back(elastic, client, probed, how):
    user, project = probed
    before, before_listing = elastic.holdings(user), elastic.member(user)
    probe = _probe(client, project)
    real = client.add_units

    def add_units(user_id, units):
        real(user_id, units)
        if any(u.role_id == "organization-admin" for u in units):  # mid-way, roles added
            if how == "ctrl-c":
                raise KeyboardInterrupt
            os.kill(os.getpid(), signal.SIGTERM)

    client.add_units = add_units
    report = probe.run()
    assert report.error == "interrupted" and not report.completed and report.restored
    assert elastic.holdings(user) == before and elastic.member(user) == before_listing
    assert signal.getsignal(signal.SIGTERM) is not None  # handlers put back


def test_members_the_probe_must_not_touch_are_refused(elastic, client, probed):
    user, project = probed
    elastic.add_member(
        "owner-ish@example.com",
        role_assignments={
            "organization": [{"role_id": "billing-admin", "organization_id": ORG_ID}]
        },
    )
    with pytest.raises(ProbeRefused, match="organization role"):
        Probe(client, "owner-ish@example.com", PROD).check()
    elastic.add_member(
        "viewer@example.com",
        role_assignments={
            "deployment": [
                {
                    "role_id": "deployment-viewer",
                    "organization_id": ORG_ID,
                    "deployment_ids": ["e" * 32],
                }
            ]
        },
    )
    with pytest.raises(ProbeRefused, match="dedicated test member"):
        Probe(client, "viewer@example.com", PROD).check()
    with pytest.raises(ProbeRefused, match="not a member"):
        Probe(client, "nobody@example.com", PROD).check()
    with pytest.raises(ProbeRefused, match="not a stopped deployment"):
        Probe(client, TESTER, PROD, None, "e" * 32).check()
    assert elastic.calls_to("POST", "/role_assignments") == []


def _args(**kw) -> argparse.Namespace:
    base = {
        "member": TESTER,
        "deployment": PROD,
        "project": None,
        "hidden_deployment": STOPPED,
        "json": False,
        "yes": True,
    }
    return argparse.Namespace(**(base | kw))


def test_the_cli_asks_prints_stores_and_check_shows_the_answers(tmp_path, elastic, probed):
    user, project = probed
    settings = make_settings(tmp_path, elastic.url, "http://127.0.0.1:9/api/")
    assert "not measured" in semantics_report(settings)

    out = io.StringIO()
    assert run_cli(_args(yes=False), settings, out, ask=lambda _: "n") == 2
    assert "not confirmed" in out.getvalue() and "put back exactly" in out.getvalue()
    assert elastic.calls_to("POST", "/role_assignments") == []

    elastic.set_semantics(one_role_per_resource=False, one_organization_role=False)
    out = io.StringIO()
    assert run_cli(_args(project=f"elasticsearch:{project}"), settings, out) == 0
    table = out.getvalue()
    assert "one_role_per_resource" in table and "grants a second role beside" in table
    assert "assignments put back as before" in table
    db = Database(settings.database_path)
    try:
        current = stored.current(db)
    finally:
        db.close()
    assert not current.one_role_per_resource and not current.one_organization_role
    assert current.all_absorbs and current.measured_at
    shown = semantics_report(settings)
    assert f"measured {current.measured_at[:10]}" in shown and TESTER in shown
    assert "one_role_per_resource" in shown and "assumed" not in shown

    out = io.StringIO()
    assert run_cli(_args(json=True), settings, out) == 0
    report = json.loads(out.getvalue())
    assert report["completed"] and report["restored"]
    assert {a["question"] for a in report["answers"]} == set(QUESTIONS)


def test_a_failed_probe_stores_nothing(tmp_path, elastic, probed):
    settings = make_settings(tmp_path, elastic.url, "http://127.0.0.1:9/api/")
    elastic.after(
        "POST",
        r"/role_assignments$",
        lambda: elastic.script("POST", r"/role_assignments$", 400, body=BAD_REQUEST),
    )
    out = io.StringIO()
    assert run_cli(_args(), settings, out) == 1
    assert "The probe stopped" in out.getvalue()
    assert "not measured" in semantics_report(settings)


def test_the_probe_subcommand_parses():
    from bot.__main__ import build_parser

    args = build_parser().parse_args(
        ["probe", "--member", TESTER, "--deployment", PROD, "--project", "security:x", "--json"]
    )
    assert (args.member, args.project, args.json, args.yes) == (TESTER, "security:x", True, False)


def test_invitations_expire_to_the_minute_only_once_measured():
    from datetime import timedelta

    from bot.access.service import invitation_expiry

    assert invitation_expiry(timedelta(minutes=90)) == "2h"
    assert invitation_expiry(timedelta(minutes=90), minutes=True) == "90m"
    assert invitation_expiry(timedelta(hours=2), minutes=True) == "2h"
    assert invitation_expiry(timedelta(days=1), minutes=True) == "1d"
