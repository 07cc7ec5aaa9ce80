"""Banks' TAXII tokens and webhook keys are sealed at rest with the installation secret, still work, stay
out of every output, and give a clear error (bank and field named) under another installation's secret."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
from sqlalchemy import select, update
from typer.testing import CliRunner

from shieldwall.cli import app
from shieldwall.match.actions import SIGNATURE_HEADER, verify
from shieldwall.match.sealed import PREFIX
from shieldwall.match.tables import ActionDelivery, Bank, BankSignal
from shieldwall.stix.tlp import TLP
from shieldwall.store.db import Database
from tests.match.receiver import Receiver
from tests.match.stixdata import indicator
from tests.match.test_sync import hub_collection
from tests.support.hub import Hub, seed_hub
from tests.support.live import LiveServer

WEBHOOK_KEY = "whk-3f9a-very-private"


def cli(database: Database, data_dir: Path, *args: str, secret_key: str | None = None) -> tuple[int, str]:
    env = {"SHIELDWALL_DATABASE_URL": database.url, "SHIELDWALL_DATA_DIR": str(data_dir), "COLUMNS": "250"}
    env["SHIELDWALL_WEBHOOK_ALLOW"] = "127.0.0.1"  # the test receivers listen on loopback
    if secret_key is not None:  # another installation's secret, as if secret.key had been replaced
        env["SHIELDWALL_SECRET_KEY"] = secret_key
    result = CliRunner().invoke(app, list(args), env=env)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


def stored(database: Database, name: str) -> tuple[str, str]:
    with database.session() as session:
        bank = session.scalars(select(Bank).where(Bank.name == name)).one()
        return bank.taxii_token, bank.webhook_secret


def signal_values(database: Database) -> set[str]:
    with database.session() as session:
        return set(session.scalars(select(BankSignal.value)))


def hub_with_url_indicator(live_server: LiveServer, url: str) -> Hub:
    """A seeded hub where 'chirp' has shared one URL indicator."""
    hub = seed_hub(live_server.app.state.database)
    publisher = hub_collection(live_server, hub, "chirp")
    publisher.add_objects({"objects": [indicator(f"[url:value = '{url}']", TLP.GREEN)]})
    publisher.close()
    return hub


def test_sealed_token_syncs_and_nothing_prints_it(live_server: LiveServer) -> None:
    database: Database = live_server.app.state.database
    data_dir = live_server.settings.data_dir
    hub = hub_with_url_indicator(live_server, "http://sealed-sync.example/a")
    token = hub.tokens["lab"]
    root = f"{live_server.url}/taxii2/hub/"
    code, output = cli(
        database,
        data_dir,
        *("match", "bank", "create", "hub", "--taxii-api-root", root, "--taxii-collection", hub.collection_id),
        *("--taxii-token", token, "--webhook-url", "http://127.0.0.1:9/hook", "--webhook-secret", WEBHOOK_KEY),
    )
    assert code == 0, output
    taxii_token, webhook_secret = stored(database, "hub")
    assert taxii_token.startswith(PREFIX) and token not in taxii_token
    assert webhook_secret.startswith(PREFIX) and WEBHOOK_KEY not in webhook_secret
    assert len(webhook_secret) <= 200  # fits its column on PostgreSQL

    code, output = cli(database, data_dir, "match", "bank", "sync", "hub")
    assert code == 0, output
    assert "1 signals added" in output and signal_values(database) == {"sealed-sync.example/a"}

    # Neither the secret nor its sealed form shows in the list, the JSON API or the match page.
    code, listing = cli(database, data_dir, "match", "bank", "list")
    api = httpx.get(f"{live_server.url}/api/match/banks", headers={"Authorization": f"Bearer {token}"})
    page = httpx.get(f"{live_server.url}/match")
    assert code == 0 and "hub" in listing and api.status_code == 200 and page.status_code == 200
    for shown in (listing, api.text, page.text):
        for secret in (token, WEBHOOK_KEY, taxii_token, webhook_secret, PREFIX):
            assert secret not in shown

    # Another installation secret: a clear error naming the bank and the field, no traceback, nothing synced.
    code, output = cli(database, data_dir, "match", "bank", "sync", "hub", secret_key="another-installation")
    assert code == 2 and "Traceback" not in output
    assert "bank 'hub'" in output and "taxii_token" in output and "cannot be decrypted" in output
    code, output = cli(database, data_dir, "match", "bank", "reseal", secret_key="another-installation")
    assert code == 2 and "bank 'hub'" in output and "taxii_token" in output
    assert stored(database, "hub") == (taxii_token, webhook_secret)

    # Setting it again under the new secret repairs it; the token is never echoed.
    code, output = cli(
        database, data_dir, "match", "bank", "set", "hub", "--taxii-token", token, secret_key="another-installation"
    )
    assert code == 0 and token not in output
    code, output = cli(database, data_dir, "match", "bank", "sync", "hub", "--full", secret_key="another-installation")
    assert code == 0, output

    # Actions report a key they cannot open as a failed delivery naming bank and field, and carry on.
    code, output = cli(database, data_dir, "match", "bank", "set", "hub", "--sightings")
    assert code == 0, output
    code, output = cli(database, data_dir, "match", "--actions", "--url", "http://sealed-sync.example/a")
    assert code == 0 and "0 sightings reported (1 failed)" in output and "0 webhooks sent (1 failed)" in output
    assert "bank 'hub': the stored taxii_token cannot be decrypted" in output


def test_sealed_webhook_key_signs_and_a_wrong_secret_sends_nothing(database: Database, tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    with Receiver() as receiver:
        code, output = cli(
            database,
            data_dir,
            *("match", "bank", "create", "hooked", "--webhook-url", receiver.url, "--webhook-secret", WEBHOOK_KEY),
        )
        assert code == 0, output
        assert stored(database, "hooked")[1].startswith(PREFIX)
        code, output = cli(database, data_dir, "match", "bank", "add", "hooked", "--url", "https://hook.example/x")
        assert code == 0, output

        code, output = cli(database, data_dir, "match", "--actions", "--url", "https://hook.example/x")
        assert code == 0 and "1 webhooks sent (0 failed)" in output, output
        headers, body = receiver.calls[0]
        assert verify(WEBHOOK_KEY, headers[SIGNATURE_HEADER.lower()], body)
        assert json.loads(body)["provenance"]["bank"] == "hooked"

        # Under another installation secret the key cannot be opened: the webhook is not sent unsigned.
        code, output = cli(
            database, data_dir, "match", "--actions", "--url", "https://hook.example/x", secret_key="elsewhere"
        )
        assert "0 webhooks sent (1 failed)" in output and "Traceback" not in output
        assert "bank 'hooked'" in output and "webhook_secret" in output and "cannot be decrypted" in output
        assert len(receiver.calls) == 1
    with database.session() as session:
        failed = session.scalars(select(ActionDelivery).where(ActionDelivery.ok.is_(False))).one()
        assert "webhook_secret" in failed.error and WEBHOOK_KEY not in failed.error

    # Too long to fit the column once sealed: refused up front, naming the bank and the field.
    code, output = cli(database, data_dir, "match", "bank", "set", "hooked", "--webhook-secret", "k" * 65)
    assert code == 2 and "bank 'hooked'" in output and "webhook_secret" in output


def test_plain_text_rows_from_before_sealing_still_work_and_get_sealed(live_server: LiveServer) -> None:
    database: Database = live_server.app.state.database
    data_dir = live_server.settings.data_dir
    hub = hub_with_url_indicator(live_server, "http://old-row.example/a")
    token = hub.tokens["lab"]
    with Receiver() as receiver:
        # Rows as the code before this change wrote them: secrets in plain text.
        with database.session() as session:
            for name in ("old-hub", "old-untouched"):
                session.add(
                    Bank(
                        name=name,
                        taxii_api_root=f"{live_server.url}/taxii2/hub/",
                        taxii_collection=hub.collection_id,
                        taxii_token=token,
                        webhook_url=receiver.url,
                        webhook_secret=WEBHOOK_KEY,
                    )
                )
        code, output = cli(database, data_dir, "match", "bank", "sync", "old-hub")
        assert code == 0, output
        assert signal_values(database) == {"old-row.example/a"}
        code, output = cli(
            database, data_dir, "match", "--actions", "--url", "http://old-row.example/a", "--bank", "old-hub"
        )
        assert code == 0 and "1 webhooks sent (0 failed)" in output, output
        headers, body = receiver.calls[0]
        assert verify(WEBHOOK_KEY, headers[SIGNATURE_HEADER.lower()], body)
        assert stored(database, "old-hub") == (token, WEBHOOK_KEY)  # reading never rewrites

    # The next write to the bank seals both, whatever option it changes.
    code, output = cli(database, data_dir, "match", "bank", "set", "old-hub", "--label", "relabelled")
    assert code == 0, output
    taxii_token, webhook_secret = stored(database, "old-hub")
    assert taxii_token.startswith(PREFIX) and webhook_secret.startswith(PREFIX)
    assert stored(database, "old-untouched") == (token, WEBHOOK_KEY)

    # `reseal` seals every bank's remaining plain-text secrets at once, and leaves sealed ones alone.
    code, output = cli(database, data_dir, "match", "bank", "reseal")
    assert code == 0 and "sealed 2 secrets" in output and "old-untouched: taxii_token" in output, output
    assert token not in output and WEBHOOK_KEY not in output
    assert all(value.startswith(PREFIX) for value in stored(database, "old-untouched"))
    assert stored(database, "old-hub") == (taxii_token, webhook_secret)
    code, output = cli(database, data_dir, "match", "bank", "reseal")
    assert code == 0 and "sealed 0 secrets" in output
    with database.session() as session:
        session.execute(update(Bank).where(Bank.name == "old-hub").values(taxii_cursor=""))
    code, output = cli(database, data_dir, "match", "bank", "sync", "old-hub", "--full")
    assert code == 0 and "1 indicators" in output, output
