"""The sandbox's seed loader (issue #17): the demo loads, and a bad file is one clear line
per problem, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.sandbox.seed import SeedError, demo_seed, load_seed


def lines(tmp_path: Path, name: str, text: str) -> list[str]:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SeedError) as caught:
        load_seed(path)
    return caught.value.lines


def test_the_demo_seed_has_what_the_issue_asks_for() -> None:
    seed = demo_seed()
    members = {m.email for m in seed.members}
    assert any(d.tags.get("owner") for d in seed.deployments)  # deployments with owner tags
    assert seed.projects  # serverless projects
    assert any(u.email not in members for u in seed.slack_users if not u.guest)  # a non-member
    assert any(u.guest for u in seed.slack_users)  # a guest


def test_json_and_toml_seeds_load(tmp_path: Path) -> None:
    (tmp_path / "s.json").write_text(
        '{"slack_users": [{"id": "U1AB", "name": "ann", "email": "ann@x.example"}],'
        ' "deployments": [{"name": "d1", "tags": {"owner": "ann@x.example"}}],'
        ' "members": [{"email": "ann@x.example", "roles": [{"role": "deployment-viewer", "on": "d1"}]}]}'
    )
    assert load_seed(tmp_path / "s.json").deployments[0].name == "d1"
    (tmp_path / "s.toml").write_text('[[slack_users]]\nid = "U1AB"\nname = "ann"\n')
    assert load_seed(tmp_path / "s.toml").slack_users[0].id == "U1AB"


def test_syntax_errors_name_the_file_and_the_line(tmp_path: Path) -> None:
    [line] = lines(tmp_path, "bad.toml", "[[slack_users]\nid = 1\n")
    assert line.startswith("bad.toml: not valid TOML")
    [line] = lines(tmp_path, "bad.json", '{"slack_users": [}')
    assert line.startswith("bad.json: not valid JSON (line 1")


def test_every_bad_entry_is_reported_with_where_it_is(tmp_path: Path) -> None:
    found = lines(
        tmp_path,
        "seed.toml",
        """
[[slack_users]]
id = "alice"
name = "alice"
emial = "alice@x.example"

[[deployments]]
name = "d"
id = "not-hex"
""",
    )
    assert (
        "seed.toml: slack_users #1.id: a Slack user ID is U or W then capital letters and digits"
        in found
    )
    assert "seed.toml: slack_users #1.emial: unknown key (check the spelling)" in found
    assert "seed.toml: deployments #1.id: deployment IDs are 32 lowercase hex characters" in found


def test_names_that_name_nothing_and_wrong_roles_are_reported(tmp_path: Path) -> None:
    found = lines(
        tmp_path,
        "seed.toml",
        """
[[slack_users]]
id = "U0A"
name = "a"
[[slack_users]]
id = "U0A"
name = "b"

[[usergroups]]
id = "S0G"
handle = "g"
users = ["U0NOBODY"]

[[deployments]]
name = "prod"

[[members]]
email = "a@x.example"
roles = [{ role = "deployment-viewer", on = "prod-serch" }, { role = "organization-admin", on = "prod" }]
""",
    )
    assert "seed.toml: slack_users: the ID 'U0A' appears twice" in found
    assert "seed.toml: usergroups #1.users: 'U0NOBODY' is not among slack_users" in found
    assert "seed.toml: members #1.roles #1.on: no deployment or project named 'prod-serch'" in found
    assert any(
        line.startswith(
            "seed.toml: members #1.roles #2.role: 'organization-admin' is not a deployment role"
        )
        for line in found
    )


def test_other_problems(tmp_path: Path) -> None:
    assert lines(tmp_path, "seed.yaml", "x") == ["seed.yaml: a seed file is .toml or .json"]
    assert lines(tmp_path, "empty.toml", "") == ["empty.toml: slack_users: required"]
    assert lines(tmp_path, "list.json", "[]") == [
        "list.json: the top level must be a table (an object)"
    ]
    with pytest.raises(SeedError) as caught:
        load_seed(tmp_path / "missing.toml")
    assert "cannot read it" in caught.value.lines[0]
