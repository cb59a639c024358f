"""Bulk import (API and CLI) and the demo seed: per-row errors, re-runs change nothing."""

from __future__ import annotations

import asyncio
import json

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
    assert bad.json()["unknown_columns"] == ["name", "colour"]
    denied = await client.post(
        "/v1/organizations/import",
        content=CSV.encode(),
        headers={**viewer, "Content-Type": "text/csv"},
    )
    assert denied.status_code == 403
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
    async def run():
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
