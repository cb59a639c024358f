"""Bulk import (API and CLI) and the demo seed: per-row errors, re-runs change nothing."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import asyncpg
import pytest
from sqlalchemy.engine import make_url
from tansiq_common.testing import databases
from typer.testing import CliRunner

CSV = """source_key,kind,name_ar,name_en,acronym,country,iati_identifier,parent,reporting_lines,website
mosd-1,centre,مركز الأمان,Aman Centre,,QA,,mosd-2,,
mosd-2,public_foundation,المؤسسة القطرية للعمل الاجتماعي,Qatar Foundation for Social Work,QFSW,QA,,mosd-0,mosd-0:supervision,https://qf.example.qa
mosd-0,ministry,وزارة التنمية الاجتماعية والأسرة,Ministry of Social Development and Family,MSDF,QA,,,,
bad-country,ministry,,Nowhere Ministry,,ZZ,,,,
bad-parent,directorate,,Lost Directorate,,QA,,no-such-key,,
,un_entity,,Keyless,,,,,,
unesco,un_entity,اليونسكو,UNESCO,UNESCO,,XM-DAC-41304,,,
unesco-copy,un_entity,,UNESCO copy,,,XM-DAC-41304x,,,
bad-id,un_entity,,Bad identifier,,,41304,,,
"""


async def test_import_reports_rows_and_rerun_changes_nothing(client, admin, sql):
    headers = {**admin, "Content-Type": "text/csv"}
    first = await client.post("/v1/organizations/import", content=CSV.encode(), headers=headers)
    assert first.status_code == 200, first.text
    report = first.json()
    assert (report["rows"], report["created"], report["failed"]) == (9, 5, 4)
    failed = {e["row"]: e["errors"][0]["field"] for e in report["errors"]}
    assert failed == {5: "country", 6: "parent", 7: "source_key", 10: "iati_identifier"}
    ids = report["ids"]
    centre = (await client.get(f"/v1/organizations/{ids['mosd-1']}", headers=admin)).json()
    assert centre["ministry_id"] == ids["mosd-0"]
    assert centre["parent_id"] == ids["mosd-2"]
    foundation = (await client.get(f"/v1/organizations/{ids['mosd-2']}", headers=admin)).json()
    assert foundation["reporting_lines"] == [{"org_id": ids["mosd-0"], "line": "supervision"}]
    events_before = await sql.fetchval("select count(*) from outbox")

    again = (
        await client.post("/v1/organizations/import", content=CSV.encode(), headers=headers)
    ).json()
    assert (again["created"], again["updated"], again["unchanged"], again["failed"]) == (0, 0, 5, 4)
    assert again["ids"] == ids
    assert await sql.fetchval("select count(*) from outbox") == events_before
    assert await sql.fetchval("select count(*) from organizations") == 5

    edited = CSV.replace("Aman Centre", "Aman Center")
    third = (
        await client.post("/v1/organizations/import", content=edited.encode(), headers=headers)
    ).json()
    assert (third["updated"], third["unchanged"]) == (1, 4)


async def test_import_refuses_a_bad_header_and_non_admins(client, admin, viewer, sql):
    bad = await client.post(
        "/v1/organizations/import",
        content=b"name,colour\nx,red\n",
        headers={**admin, "Content-Type": "text/csv"},
    )
    assert bad.status_code == 422
    assert bad.json()["type"] == "urn:tansiq:problem:import-bad-header"
    assert bad.json()["unknown_columns"] == ["name", "colour"]
    denied = await client.post(
        "/v1/organizations/import",
        content=CSV.encode(),
        headers={**viewer, "Content-Type": "text/csv"},
    )
    assert denied.status_code == 403
    assert denied.json()["type"] == "urn:tansiq:problem:role-not-allowed"
    assert await sql.fetchval("select count(*) from organizations") == 0


@pytest.fixture
def cli_env(registry_db, monkeypatch):
    from tansiq_cli import registry_cmd
    from tansiq_registry.settings import get_settings

    # The registry's part of `tansiq seed` alone: the other services seed from its events.
    monkeypatch.setattr(registry_cmd, "DEMO_SERVICES", ())
    asyncio.run(databases.truncate_all(registry_db))
    monkeypatch.setenv("REGISTRY_DATABASE_URL", registry_db)
    get_settings.cache_clear()
    yield registry_db
    get_settings.cache_clear()


def _query(url: str, sql: str):
    async def run() -> Any:
        conn = await asyncpg.connect(
            make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        )
        try:
            return await conn.fetch(sql)
        finally:
            await conn.close()

    return asyncio.run(run())


def test_seed_loads_the_source_bodies_and_is_idempotent(cli_env):
    import typer
    from tansiq_cli.registry_cmd import seed
    from tansiq_registry.organizations.demo import DEMO_ROWS

    app = typer.Typer()
    app.command()(seed)
    first = CliRunner().invoke(app, [])
    assert first.exit_code == 0, first.output
    assert f"{len(DEMO_ROWS)} created" in first.output
    count = _query(cli_env, "select count(*) as n from outbox")[0]["n"]
    second = CliRunner().invoke(app, [])
    assert second.exit_code == 0, second.output
    assert f"0 created, {len(DEMO_ROWS)} kept as they are, 0 failed" in second.output
    assert _query(cli_env, "select count(*) as n from outbox")[0]["n"] == count

    rows = {r["source_key"]: r for r in _query(cli_env, "select * from organizations")}
    icd, mofa = rows["demo:qa-mofa-icd"], rows["demo:qa-mofa"]
    assert icd["name_ar"] == "إدارة التعاون الدولي"
    assert icd["designations"] == ["coordinating_body"]
    assert icd["ministry_id"] == mofa["id"]
    centre, msdf = rows["demo:qa-qfsw-wifaq"], rows["demo:qa-msdf"]
    assert centre["ministry_id"] == msdf["id"]
    dic, mofae = rows["demo:sy-mlae-dic"], rows["demo:sy-mofae"]
    assert dic["ministry_id"] == rows["demo:sy-mlae"]["id"]
    assert json.loads(dic["reporting_lines"]) == [
        {"org_id": str(mofae["id"]), "line": "technical"},
        {"org_id": str(mofae["id"]), "line": "administrative"},
    ]
    assert rows["demo:unesco"]["iati_identifier"] == "XM-DAC-41304"
    assert rows["demo:unoct"]["iati_identifier"] is None
    assert all(r["name_ar"] and r["name_en"] for r in rows.values())
    assert rows["demo:emb-gb-doha"]["scope"] == "international"


def test_cli_import_reports_failures(cli_env, tmp_path):
    from tansiq_cli.registry_cmd import import_app

    path = tmp_path / "orgs.csv"
    path.write_text(CSV, encoding="utf-8")
    result = CliRunner().invoke(import_app, ["organizations", str(path)])
    assert result.exit_code == 1, result.output  # some rows failed
    report = json.loads(result.stdout)
    assert (report["created"], report["failed"]) == (5, 4)
    rerun = CliRunner().invoke(import_app, ["organizations", str(path)])
    assert json.loads(rerun.stdout)["unchanged"] == 5


def test_seed_succeeds_whatever_users_did_and_leaves_their_changes(cli_env):
    import typer
    from tansiq_cli.registry_cmd import seed
    from tansiq_registry.organizations.demo import DEMO_ROWS

    app = typer.Typer()
    app.command()(seed)
    assert CliRunner().invoke(app, []).exit_code == 0
    # What users may do through the API meanwhile: archive one, rename another, delete none.
    _query(cli_env, "update organizations set status = 'archived' where source_key = 'demo:ilo'")
    _query(
        cli_env,
        "update organizations set name_en = 'Renamed by a user' where source_key = 'demo:imf'",
    )
    again = CliRunner().invoke(app, [])
    assert again.exit_code == 0, again.output
    assert f"0 created, {len(DEMO_ROWS)} kept as they are, 0 failed" in again.output
    rows = {r["source_key"]: r for r in _query(cli_env, "select * from organizations")}
    assert rows["demo:ilo"]["status"] == "archived"
    assert rows["demo:imf"]["name_en"] == "Renamed by a user"


async def test_a_digit_int_refuses_fails_its_row_only(client, admin, sql):
    # "²".isdigit() is true and int("²") fails: the row fails, the others are imported.
    csv = "source_key,kind,name_en,iati_org_type\nsq,un_entity,Squared,²\nok,un_entity,Fine,40\n"
    response = await client.post(
        "/v1/organizations/import",
        content=csv.encode(),
        headers={**admin, "Content-Type": "text/csv"},
    )
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["created"], report["failed"]) == (1, 1)
    assert report["errors"] == [
        {
            "row": 2,
            "key": "sq",
            "errors": [{"field": "iati_org_type", "message": "iati_org_type must be a number"}],
        }
    ]
    assert await sql.fetchval("select count(*) from organizations") == 1


def test_import_order_puts_parents_first_in_one_pass():
    from tansiq_registry.organizations.importer import import_order

    # A chain written child-first (each row's parent is the next row), and a two-row loop.
    depth = 5000
    rows = [
        (n + 2, {"source_key": f"k{n}", "parent": f"k{n + 1}" if n + 1 < depth else ""})
        for n in range(depth)
    ]
    rows += [
        (depth + 2, {"source_key": "a", "parent": "b"}),
        (depth + 3, {"source_key": "b", "parent": "a"}),
    ]
    order, cyclic = import_order(rows)
    assert order == [depth + 1 - n for n in range(depth)]  # the last row (the top) first
    assert cyclic == [depth + 2, depth + 3]


async def import_csv(client, admin, content: bytes):
    return await client.post(
        "/v1/organizations/import", content=content, headers={**admin, "Content-Type": "text/csv"}
    )


async def test_a_file_with_a_byte_order_mark_and_crlf_lines_imports(client, admin, sql):
    # What spreadsheet programs write when saving "CSV UTF-8".
    text = "source_key,kind,name_ar,name_en,country\r\nmoi,ministry,وزارة الداخلية,Interior,QA\r\n"
    response = await import_csv(client, admin, ("\ufeff" + text).encode("utf-8"))
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["rows"], report["created"], report["failed"]) == (1, 1, 0)
    row = await sql.fetchrow("select source_key, name_ar, name_en, country from organizations")
    assert dict(row) == {
        "source_key": "moi",
        "name_ar": "وزارة الداخلية",
        "name_en": "Interior",
        "country": "QA",
    }


@pytest.mark.parametrize("encoding", ["cp1256", "latin-1"])
async def test_a_file_that_is_not_utf8_is_400_and_imports_nothing(client, admin, sql, encoding):
    text = "source_key,kind,name_ar,name_en\nmoi,ministry,,Intérieur\n"
    if encoding == "cp1256":
        text = "source_key,kind,name_ar,name_en\nmoi,ministry,وزارة الداخلية,Interior\n"
    response = await import_csv(client, admin, text.encode(encoding))
    assert response.status_code == 400, response.text
    assert response.json()["type"] == "urn:tansiq:problem:import-encoding"
    assert await sql.fetchval("select count(*) from organizations") == 0


@pytest.fixture
async def small_import_client(client, registry_settings):
    """The registry with an import limit of 3 rows (20,000 by default)."""
    from tansiq_common.testing.plugin import running_app
    from tansiq_registry.app import create_app

    settings = registry_settings.model_copy(update={"import_max_rows": 3})
    async with running_app(create_app(settings)) as small:
        yield small


def rows_csv(count: int, blank_lines: int = 0) -> bytes:
    lines = ["source_key,kind,name_en"] + [f"k{n},un_entity,Agency {n}" for n in range(count)]
    return ("\n".join(lines) + "\n" + ",,\n" * blank_lines).encode()


async def test_a_file_over_the_row_limit_is_422_and_imports_nothing(
    small_import_client, admin, sql
):
    over = await import_csv(small_import_client, admin, rows_csv(4))
    assert over.status_code == 422, over.text
    assert over.json()["type"] == "urn:tansiq:problem:import-too-large"
    assert over.json()["detail"] == "The file has more than 3 rows; split it."
    assert await sql.fetchval("select count(*) from organizations") == 0

    at_limit = await import_csv(small_import_client, admin, rows_csv(3))
    assert at_limit.status_code == 200, at_limit.text
    assert (at_limit.json()["rows"], at_limit.json()["created"]) == (3, 3)


async def test_blank_lines_do_not_count_against_the_row_limit(small_import_client, admin):
    response = await import_csv(small_import_client, admin, rows_csv(3, blank_lines=2))
    assert response.status_code == 200, response.text
    assert (response.json()["rows"], response.json()["created"]) == (3, 3)


TREE = """source_key,kind,name_en,country,parent
m-a,ministry,Ministry A,QA,
m-b,ministry,Ministry B,QA,
dir,directorate,Directorate,QA,{dir_parent}
cen,centre,Centre,QA,dir
"""


async def test_an_import_moves_an_organization_and_rehomes_what_is_below(client, admin, sql):
    first = await import_csv(client, admin, TREE.format(dir_parent="m-a").encode())
    assert first.status_code == 200, first.text
    ids = first.json()["ids"]
    assert first.json()["created"] == 4

    moved = await import_csv(client, admin, TREE.format(dir_parent="m-b").encode())
    assert moved.status_code == 200, moved.text
    report = moved.json()
    assert (report["created"], report["updated"], report["unchanged"], report["failed"]) == (
        0,
        1,
        3,
        0,
    )
    state = {
        r["source_key"]: (r["parent_id"], r["ministry_id"], r["version"])
        for r in await sql.fetch(
            "select source_key, parent_id::text, ministry_id::text, version from organizations"
        )
    }
    assert state["dir"] == (ids["m-b"], ids["m-b"], 2)
    assert state["cen"] == (ids["dir"], ids["m-b"], 2)  # its ministry follows the move above it
    assert state["m-a"] == (None, ids["m-a"], 1)

    async def events(key: str) -> list[str]:
        rows = await sql.fetch(
            "select type from outbox where aggregateid = $1 order by seq", ids[key]
        )
        return [r["type"].split(".")[-2] for r in rows]

    assert await events("dir") == ["created", "moved"]
    assert await events("cen") == ["created", "updated"]
    assert await events("m-a") == ["created"]
    moves = await sql.fetch(
        "select org_id::text, from_parent_id::text, to_parent_id::text, version "
        "from organization_moves"
    )
    assert [tuple(m) for m in moves] == [(ids["dir"], ids["m-a"], ids["m-b"], 2)]
    audit = await sql.fetch(
        "select action, entity_id from audit_log where action not like '%.created' order by id"
    )
    assert [tuple(a) for a in audit] == [
        ("organization.moved", ids["dir"]),
        ("organization.rehomed", ids["cen"]),
    ]


async def test_a_row_with_an_unknown_kind_fails_alone(client, admin, sql):
    csv = "source_key,kind,name_en\ncastle,castle,Castle\nnone,,Nothing\nok,un_entity,Fine\n"
    response = await import_csv(client, admin, csv.encode())
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["created"], report["failed"]) == (1, 2)
    assert {(e["key"], e["errors"][0]["field"]) for e in report["errors"]} == {
        ("castle", "kind"),
        ("none", "kind"),
    }
