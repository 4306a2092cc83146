"""Migrations build the schema from empty, on SQLite and PostgreSQL, and match the models."""

from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask_migrate import downgrade, upgrade

from incidents import MIGRATIONS_DIR, audit, create_app
from incidents.config import normalise_database_url
from incidents.extensions import db
from incidents.public_ids import is_public_id
from incidents.vocabulary import SEED_INCIDENT_TYPES


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'migrated.sqlite3'}"
        return
    admin_url = os.environ.get("TEST_DATABASE_URL")
    if not admin_url:
        pytest.skip("PostgreSQL tests need TEST_DATABASE_URL (set by .ci/run)")
    admin_url = normalise_database_url(admin_url)
    name = f"incidents_migrate_{secrets.token_hex(4)}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    yield sa.make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def test_one_head() -> None:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    assert len(ScriptDirectory.from_config(config).get_heads()) == 1


def test_upgrade_from_empty_matches_models_and_seeds_types(empty_database: str) -> None:
    app = create_app({"TESTING": True, "SECRET_KEY": "t", "SQLALCHEMY_DATABASE_URI": empty_database})
    with app.app_context():
        upgrade()
        with db.engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            differences = compare_metadata(context, db.metadata)
            assert differences == []
            slugs = set(connection.scalars(sa.text("SELECT slug FROM incident_types")))
        assert slugs == {slug for slug, _ in SEED_INCIDENT_TYPES}
        downgrade(revision="base")
        with db.engine.connect() as connection:
            assert set(sa.inspect(connection).get_table_names()) <= {"alembic_version"}
        db.engine.dispose()


def test_migrations_keep_data_and_fill_derived_ranges(empty_database: str) -> None:
    """Rebuilding a table on SQLite must not cascade-delete its children; 0002 derives ranges from claims."""
    app = create_app({"TESTING": True, "SECRET_KEY": "t", "SQLALCHEMY_DATABASE_URI": empty_database})
    with app.app_context():
        upgrade(revision="0001")
        with db.engine.begin() as connection:
            connection.execute(
                sa.text(
                    "INSERT INTO incidents (id, title, narrative, start_date, date_precision, place_name,"
                    " admin1, admin2, country, location_precision, perpetrators, victims, verification_grade,"
                    " status, confidential_notes, created_at, updated_at, version) VALUES (1, 'Juliaca', '',"
                    " '2023-01-09', 'day', 'Juliaca', 'Puno', '', 'PE', 'near', '', '', 'fair', 'published',"
                    " '',"
                    " '2023-01-10 00:00:00+00', '2023-01-10 00:00:00+00', 1)"
                )
            )
            connection.execute(
                sa.text(
                    "INSERT INTO sources (id, title, kind, publisher, author, url, archive_url, language,"
                    " reliability, created_at) VALUES (1, 'EFE', 'press', '', '', '', '', '', 'B',"
                    " '2023-01-10 00:00:00+00'), (2, 'Correo', 'press', '', '', '', '', '', 'C',"
                    " '2023-01-10 00:00:00+00')"
                )
            )
            connection.execute(
                sa.text(
                    "INSERT INTO citations (id, incident_id, source_id, position, locator, quote)"
                    " VALUES (1, 1, 1, 0, '', ''), (2, 1, 2, 1, '', '')"
                )
            )
            connection.execute(
                sa.text(
                    "INSERT INTO casualty_claims (citation_id, category, low, high)"
                    " VALUES (1, 'killed', 17, 17), (2, 'killed', 18, 18), (2, 'injured', 33, 33)"
                )
            )
        upgrade()
        with db.engine.connect() as connection:
            row = connection.execute(
                sa.text(
                    "SELECT killed_low, killed_high, injured_low, detained_low, source_count FROM incidents"
                )
            ).one()
            assert tuple(row) == (17, 18, 33, None, 2)
        downgrade(revision="0001")
        with db.engine.connect() as connection:
            assert connection.scalar(sa.text("SELECT count(*) FROM casualty_claims")) == 3
            assert connection.scalar(sa.text("SELECT count(*) FROM citations")) == 2
        db.engine.dispose()


def test_claim_groups_keep_old_claims_whole_and_a_downgrade_never_miscounts(
    empty_database: str, capfd: pytest.CaptureFixture[str]
) -> None:
    """0008 adds the claims' group: claims from before count their whole category. Going back below it with
    claims per group would turn each into a whole-category figure: refused, saying why."""
    app = create_app({"TESTING": True, "SECRET_KEY": "t", "SQLALCHEMY_DATABASE_URI": empty_database})
    with app.app_context():
        upgrade(revision="0007")
        with db.engine.begin() as connection:
            connection.execute(
                sa.text(
                    "INSERT INTO incidents (id, title, narrative, start_date, date_precision, place_name,"
                    " admin1, admin2, country, location_precision, perpetrators, victims, verification_grade,"
                    " status, confidential_notes, created_at, updated_at, version, killed_low, killed_high,"
                    " source_count, location_method) VALUES (1, 'Juliaca', '', '2023-01-09', 'day',"
                    " 'Juliaca', 'Puno', '', 'PE', 'near', '', '', 'fair', 'published', '',"
                    " '2023-01-10 00:00:00+00', '2023-01-10 00:00:00+00', 1, 18, 18, 1, 'recorded')"
                )
            )
            connection.execute(
                sa.text(
                    "INSERT INTO sources (id, title, kind, publisher, author, url, archive_url, language,"
                    " reliability, created_at) VALUES (1, 'La República', 'press', '', '', '', '', '', 'B',"
                    " '2023-01-10 00:00:00+00')"
                )
            )
            connection.execute(
                sa.text(
                    "INSERT INTO citations (id, incident_id, source_id, position, locator, quote)"
                    " VALUES (1, 1, 1, 0, '', '')"
                )
            )
            connection.execute(
                sa.text(
                    "INSERT INTO casualty_claims (citation_id, category, low, high)"
                    " VALUES (1, 'killed', 18, 18)"
                )
            )
        upgrade()
        with db.engine.begin() as connection:
            assert connection.execute(sa.text('SELECT low, "group" FROM casualty_claims')).all() == [(18, "")]
            connection.execute(
                sa.text(
                    'INSERT INTO casualty_claims (citation_id, category, low, high, "group")'
                    " VALUES (1, 'killed', 17, 17, 'civilians')"
                )
            )
        # `flask db downgrade` says why and exits with status 1.
        with pytest.raises(SystemExit) as stopped:
            downgrade(revision="0007")
        assert stopped.value.code == 1
        assert "1 casualty claim(s) count a group" in capfd.readouterr().err
        with db.engine.begin() as connection:
            assert connection.scalar(sa.text("SELECT count(*) FROM casualty_claims")) == 2  # nothing lost
            connection.execute(sa.text("DELETE FROM casualty_claims WHERE \"group\" <> ''"))
        downgrade(revision="0007")
        with db.engine.connect() as connection:
            columns = {c["name"] for c in sa.inspect(connection).get_columns("casualty_claims")}
            assert "group" not in columns
            assert connection.scalar(sa.text("SELECT count(*) FROM casualty_claims")) == 1
        db.engine.dispose()


def test_review_and_audit_widen_statuses_and_roles_and_give_old_tokens_a_lifetime(
    empty_database: str, capfd: pytest.CaptureFixture[str]
) -> None:
    """0009 lets incidents be in review and accounts reviewers (their CHECK constraints, which 0008 holds
    to the old values), gives tokens made before it 90 days from the upgrade, and adds the audit chain."""
    app = create_app({"TESTING": True, "SECRET_KEY": "t", "SQLALCHEMY_DATABASE_URI": empty_database})
    reviewer = (
        "INSERT INTO users (id, email, password_hash, role, is_active, session_nonce, created_at)"
        " VALUES (2, 'r@example.org', 'x', 'reviewer', true, 'n2', '2023-01-10 00:00:00+00')"
    )
    with app.app_context():
        upgrade(revision="0008")
        with db.engine.begin() as connection:
            connection.execute(
                sa.text(
                    "INSERT INTO users (id, email, password_hash, role, is_active, session_nonce, created_at)"
                    " VALUES (1, 'e@example.org', 'x', 'editor', true, 'n1', '2023-01-10 00:00:00+00')"
                )
            )
            connection.execute(
                sa.text(
                    "INSERT INTO api_tokens (id, user_id, name, token_hash, prefix, created_at)"
                    " VALUES (1, 1, 'old', 'h', 'inc_x', '2020-01-10 00:00:00+00')"
                )
            )
        with pytest.raises(sa.exc.IntegrityError), db.engine.begin() as connection:
            connection.execute(sa.text(reviewer))  # 0008 knows no reviewer
        upgrade(revision="0010")
        with db.engine.begin() as connection:
            connection.execute(sa.text(reviewer))
            connection.execute(
                sa.text(
                    "INSERT INTO incidents (id, title, narrative, start_date, date_precision, place_name,"
                    " admin1, admin2, country, location_precision, perpetrators, victims, verification_grade,"
                    " status, confidential_notes, created_at, updated_at, version, source_count,"
                    " location_method) VALUES (1, 'Juliaca', '', '2023-01-09', 'day', 'Juliaca', 'Puno', '',"
                    " 'PE', 'near', '', '', 'fair', 'in_review', '', '2023-01-10 00:00:00+00',"
                    " '2023-01-10 00:00:00+00', 1, 0, 'recorded')"
                )
            )
            expires = connection.scalar(sa.text("SELECT expires_at FROM api_tokens WHERE id = 1"))
            assert {"audit_entries", "audit_head"} <= set(sa.inspect(connection).get_table_names())
        assert expires is not None and str(expires)[:4] >= "2026"  # from the upgrade on, not from 2020
        with pytest.raises(SystemExit):
            downgrade(revision="0008")
        assert "1 incident(s) in review and 1 reviewer account(s)" in capfd.readouterr().err
        with db.engine.begin() as connection:
            connection.execute(sa.text("UPDATE incidents SET status = 'draft'"))
            connection.execute(sa.text("UPDATE users SET role = 'editor' WHERE id = 2"))
        downgrade(revision="0008")
        with pytest.raises(sa.exc.IntegrityError), db.engine.begin() as connection:
            connection.execute(sa.text("UPDATE incidents SET status = 'in_review'"))
        db.engine.dispose()


def test_public_ids_are_drawn_for_existing_incidents_and_their_numbered_urls_keep_working(
    empty_database: str,
) -> None:
    """0011 gives every incident a public id of its own and marks it as having had a numbered URL: the old
    URL of a published one redirects to its page; a draft's old number is not found, as is any number for
    the public after the upgrade."""
    app = create_app({"TESTING": True, "SECRET_KEY": "t", "SQLALCHEMY_DATABASE_URI": empty_database})
    with app.app_context():
        upgrade(revision="0010")
        with db.engine.begin() as connection:
            for key, status in ((1, "published"), (2, "draft"), (3, "published")):
                connection.execute(
                    sa.text(
                        "INSERT INTO incidents (id, title, narrative, start_date, date_precision, place_name,"
                        " admin1, admin2, country, location_precision, perpetrators, victims,"
                        " verification_grade, status, confidential_notes, created_at, updated_at, version,"
                        " source_count, location_method, public_place_name, public_location_precision)"
                        " VALUES (:key, :title, '', '2023-01-09', 'day', 'Juliaca', 'Puno', '', 'PE',"
                        " 'near', '', '', 'fair', :status, '', '2023-01-10 00:00:00+00',"
                        " '2023-01-10 00:00:00+00', 1, 0, 'recorded', 'Juliaca', 'near')"
                    ),
                    {"key": key, "title": f"Juliaca {key}", "status": status},
                )
        upgrade()
        with db.engine.connect() as connection:
            rows = connection.execute(
                sa.text("SELECT id, public_id, numbered_url FROM incidents ORDER BY id")
            ).all()
        public_ids = [row.public_id for row in rows]
        assert all(is_public_id(public_id) for public_id in public_ids)
        assert len(set(public_ids)) == 3
        assert all(row.numbered_url for row in rows)
        client = app.test_client()
        moved = client.get("/incidents/1")
        assert moved.status_code == 301
        assert moved.headers["Location"].endswith(f"/incidents/{public_ids[0]}")
        assert "Juliaca 1" in client.get(moved.headers["Location"]).get_data(as_text=True)
        assert client.get("/incidents/2").status_code == 404  # a draft: as if there were none
        assert client.get(f"/incidents/{public_ids[1]}").status_code == 404
        assert client.get("/incidents/4").status_code == 404
        api = client.get("/api/v1/incidents/3")
        assert api.status_code == 301
        assert api.headers["Location"].endswith(f"/api/v1/incidents/{public_ids[2]}")
        with pytest.raises(sa.exc.IntegrityError), db.engine.begin() as connection:
            connection.execute(
                sa.text("UPDATE incidents SET public_id = :taken WHERE id = 2"), {"taken": public_ids[0]}
            )
        db.session.remove()  # the requests above read through this app context's session: let its locks go
        downgrade(revision="0010")
        with db.engine.connect() as connection:
            assert connection.scalar(sa.text("SELECT count(*) FROM incidents")) == 3
        db.engine.dispose()


def _legacy_link(previous: str, content: str) -> str:
    """An entry's hash before revision 0013: the previous hash and the content's bytes."""
    return hashlib.sha256(f"{previous}\n{content}".encode()).hexdigest()


@pytest.mark.parametrize("tampered", [False, True], ids=["whole chain", "entry 3 changed before"])
def test_audit_links_move_to_content_digests_and_a_broken_chain_stays_broken(
    empty_database: str, tampered: bool
) -> None:
    """0013 links entries on their content's digest: a chain that held holds under the new rule, every link
    recomputed; one broken before is still broken at the same entry (the upgrade launders nothing); the
    downgrade gives back the old rule's links."""
    app = create_app({"TESTING": True, "SECRET_KEY": "t", "SQLALCHEMY_DATABASE_URI": empty_database})
    with app.app_context():
        upgrade(revision="0012")
        previous, rows = "0" * 64, []
        for seq in range(1, 5):
            content = audit.canonical(
                {
                    "seq": seq,
                    "at": "2026-12-01T10:00:00+00:00",
                    "user_id": None,
                    "user_email": None,
                    "token_id": None,
                    "channel": "cli",
                    "operation": "incident.create",
                    "target_type": "incident",
                    "target_id": seq,
                    "changes": {"title": [None, f"Curfew {seq}"]},
                    "reason": "",
                }
            )
            previous = _legacy_link(previous, content)
            rows.append({"seq": seq, "content": content, "hash": previous})
        with db.engine.begin() as connection:
            for seq, row in enumerate(rows, start=1):
                connection.execute(
                    sa.text(
                        "INSERT INTO audit_entries (seq, created_at, channel, operation, target_type,"
                        " target_id, content, previous_hash, entry_hash) VALUES (:seq,"
                        " '2026-12-01 10:00:00+00', 'cli', 'incident.create', 'incident', :seq, :content,"
                        " :previous, :hash)"
                    ),
                    {**row, "previous": rows[seq - 2]["hash"] if seq > 1 else "0" * 64},
                )
            connection.execute(
                sa.text("INSERT INTO audit_head (id, seq, entry_hash) VALUES (1, 4, :hash)"),
                {"hash": previous},
            )
            if tampered:
                connection.execute(
                    sa.text("UPDATE audit_entries SET content = replace(content, '3', '8') WHERE seq = 3")
                )
        upgrade()
        with db.engine.connect() as connection:
            found = audit.verify(connection)
            hashes = list(connection.scalars(sa.text("SELECT entry_hash FROM audit_entries ORDER BY seq")))
        if tampered:
            assert (found.broken_at, found.count) == (3, 2)
            assert hashes[2:] == [row["hash"] for row in rows[2:]]  # left as they were, from the break on
        else:
            assert found.ok and found.count == 4
            assert not set(hashes) & {row["hash"] for row in rows}  # every link recomputed
        downgrade(revision="0012")
        with db.engine.connect() as connection:
            entries = connection.execute(
                sa.text("SELECT content, previous_hash, entry_hash FROM audit_entries ORDER BY seq")
            ).all()
        holding, previous = 0, "0" * 64
        for entry in entries:
            if entry.previous_hash != previous or _legacy_link(previous, entry.content) != entry.entry_hash:
                break
            holding, previous = holding + 1, entry.entry_hash
        assert holding == (2 if tampered else 4)
        if not tampered:
            assert [entry.entry_hash for entry in entries] == [row["hash"] for row in rows]
        db.engine.dispose()
