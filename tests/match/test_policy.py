"""Match under the exchange's policy, tried as an attacker would, over real HTTP on SQLite and PostgreSQL.

Chirp publishes indicators on the hub at every TLP (AMBER to the US 2026 trust group, AMBER+STRICT to the
lab, RED to its own analyst), builds a bank from the hub over TAXII and adds signals of its own by hand
and from a file. Then a visitor, a guest organisation's analyst, two other member organisations' analysts
and Chirp's own reader and analysts each match every value: each must see exactly what the hub lets them
read, in the API, the pages, the bank listings, the review queue and the command line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy import select
from typer.testing import CliRunner

from shieldwall.cli import app
from shieldwall.exchange.outbound import Allowlist
from shieldwall.match.tables import MatchRecord, ReviewItem
from shieldwall.stix.tlp import TLP
from shieldwall.store.db import Database
from tests.match.receiver import Receiver
from tests.match.stixdata import indicator, write_bundle
from tests.support.hub import Hub, seed_hub
from tests.support.live import LiveServer

# Hub objects, shared by Chirp's analyst (REST: tlp, share_with).
SHARED = {
    "clear": ("clear", {}),
    "green": ("green", {}),
    "amber": ("amber", {"trust_groups": ["us-2026"]}),
    "amber_strict": ("amber+strict", {"organisations": ["lab"]}),
    "red": ("red", {"members": ["chirp@example.org"]}),
}
# Signals of Chirp's own, not on the hub: typed in (bank add) and a file whose indicator reuses the id of
# the hub's CLEAR object at RED (the id alone must open nothing).
OWN = ("own_clear", "own_green", "own_red")
COPIED = "copied_red"
EVERYTHING = (*SHARED, *OWN, COPIED)

SEES = {
    "visitor": {"clear"},
    "guest": {"clear"},
    "lab": {"clear", "green", "amber_strict"},
    "agency": {"clear", "green", "amber"},
    "chirp_reader": {"clear", "green", "amber", "amber_strict", "own_clear", "own_green"},
    "chirp_colleague": {"clear", "green", "amber", "amber_strict", "own_clear", "own_green"},
    "chirp": set(EVERYTHING),  # named on the RED object, and the creator of the banks
}


def url_of(key: str) -> str:
    return f"https://{key.replace('_', '-')}.ops.example/story"


def name_of(key: str) -> str:
    return f"signal-name-{key}-end"


@dataclass
class World:
    hub: Hub
    ids: dict[str, str] = field(default_factory=dict)  # key -> the STIX id behind the signal
    objects: dict[str, dict[str, object]] = field(default_factory=dict)  # key -> the hub's indicator

    def auth(self, who: str) -> dict[str, str]:
        return {} if who == "visitor" else {"Authorization": f"Bearer {self.hub.tokens[who]}"}


def cli(live_server: LiveServer, tmp_path: Path, *args: str) -> tuple[int, str]:
    env = {
        "SHIELDWALL_DATABASE_URL": live_server.settings.database_url,
        "SHIELDWALL_DATA_DIR": str(tmp_path / "cli"),
        "SHIELDWALL_SECRET_KEY": live_server.settings.secret_key,
        "COLUMNS": "250",
    }
    result = CliRunner().invoke(app, ["match", *args], env=env)
    return result.exit_code, result.output


def build(live_server: LiveServer, tmp_path: Path, **bank_options: str) -> World:
    database: Database = live_server.app.state.database
    world = World(seed_hub(database))
    for key, (tlp, share_with) in SHARED.items():
        obj = indicator(f"[url:value = '{url_of(key)}']", TLP.parse(tlp), name=name_of(key))
        response = httpx.post(
            f"{live_server.url}/api/v1/objects",
            json={"objects": [obj], "tlp": tlp, "share_with": share_with},
            headers=world.auth("chirp"),
        )
        assert response.status_code == 201, response.text
        world.ids[key] = obj["id"]
        world.objects[key] = obj
    as_chirp = ("--as", "chirp@example.org")
    options = [f"--{k.replace('_', '-')}={v}" for k, v in bank_options.items()]
    code, out = cli(
        live_server,
        tmp_path,
        *("bank", "create", "chirp-io", "--review", "--taxii-api-root", f"{live_server.url}/taxii2/hub/"),
        *("--taxii-collection", world.hub.collection_id, "--taxii-token", world.hub.tokens["chirp"]),
        *options,
        *as_chirp,
    )
    assert code == 0, out
    code, out = cli(live_server, tmp_path, "bank", "sync", "chirp-io", *as_chirp)
    assert code == 0 and "5 signals added" in out, out
    for key in OWN:
        level = key.removeprefix("own_")
        code, out = cli(
            live_server,
            tmp_path,
            *("bank", "add", "chirp-io", "--url", url_of(key), "--tlp", level, "--name", name_of(key), *as_chirp),
        )
        assert code == 0 and "1 signals added" in out, out
        world.ids[key] = ""
    copied = indicator(f"[url:value = '{url_of(COPIED)}']", TLP.RED, name=name_of(COPIED), id=world.ids["clear"])
    world.ids[COPIED] = copied["id"]
    code, out = cli(live_server, tmp_path, "bank", "create", "chirp-files", *as_chirp)
    assert code == 0, out
    code, out = cli(
        live_server,
        tmp_path,
        "bank",
        "import",
        "chirp-files",
        str(write_bundle(tmp_path / "c.json", [copied])),
        *as_chirp,
    )
    assert code == 0 and "1 signals added" in out, out
    return world


def matched(response: httpx.Response, world: World) -> set[str]:
    """The keys of the signals matched, checking each hit is the signal its item was meant to find."""
    assert response.status_code == 200, response.text
    found = set()
    for result in response.json()["results"]:
        for hit in result["matches"]:
            key = next(k for k in EVERYTHING if result["item"] == url_of(k))
            assert hit["signal"]["name"] == name_of(key) and hit["provenance"]["source_id"] == world.ids[key]
            found.add(key)
    return found


def hidden_traces(text: str, visible: set[str], world: World) -> list[str]:
    """Names and ids of signals the reader may not see that appear in text anyway."""
    visible_ids = {world.ids[k] for k in visible}
    leaks = [name_of(k) for k in EVERYTHING if k not in visible and name_of(k) in text]
    return leaks + [i for k, i in world.ids.items() if i and k not in visible and i not in visible_ids and i in text]


def login(live_server: LiveServer, world: World, who: str) -> httpx.Client:
    client = httpx.Client(base_url=live_server.url, follow_redirects=False, timeout=30)
    if who != "visitor":
        response = client.post("/login", data={"email": f"{who}@example.org", "password": world.hub.passwords[who]})
        assert response.status_code in (302, 303), response.text
    return client


def test_each_reader_sees_exactly_what_the_hub_lets_it_read(live_server: LiveServer, tmp_path: Path) -> None:
    world = build(live_server, tmp_path)
    body = {"urls": [url_of(k) for k in EVERYTHING], "actions": False}
    for who, expected in SEES.items():
        response = httpx.post(f"{live_server.url}/api/match", json=body, headers=world.auth(who))
        assert matched(response, world) == expected, who
        assert response.json()["matched"] == len(expected), who
        assert hidden_traces(response.text, expected, world) == [], who

        # The same through the page (signed in with a web session, or not at all).
        client = login(live_server, world, who)
        page = client.post("/match", data={"url": [url_of(k) for k in EVERYTHING]})
        assert page.status_code == 200, (who, page.text[:300])
        shown = {k for k in EVERYTHING if name_of(k) in page.text}
        assert shown == expected, who
        assert hidden_traces(page.text, expected, world) == [], who

    # Banks: listed with counts of what each reader may see; settings only for the owner's members.
    def banks(who: str) -> dict[str, dict[str, object]]:
        response = httpx.get(f"{live_server.url}/api/match/banks", headers=world.auth(who))
        assert response.status_code == 200, response.text
        return {b["name"]: b for b in response.json()["banks"]}

    assert httpx.get(f"{live_server.url}/api/match/banks").status_code == 401
    assert {n: b["signals"] for n, b in banks("guest").items()} == {"chirp-io": {"url": 1}}
    lab = banks("lab")
    assert {n: b["signals"] for n, b in lab.items()} == {"chirp-io": {"url": 3}}
    assert set(lab["chirp-io"]) == {"name", "description", "signals"}  # no source, token, cursor or actions
    reader = banks("chirp_reader")
    assert {n: b["signals"] for n, b in reader.items()} == {"chirp-io": {"url": 6}, "chirp-files": {}}
    assert reader["chirp-io"]["actions"] == {"label": None, "webhook": False, "review": True, "sightings": False}
    assert {n: b["signals"] for n, b in banks("chirp").items()} == {"chirp-io": {"url": 8}, "chirp-files": {"url": 1}}
    for who in ("lab", "agency", "guest"):
        missing = httpx.get(f"{live_server.url}/api/match/banks/chirp-files", headers=world.auth(who))
        assert missing.status_code == 404, who
        # Naming the bank answers as if it did not exist, and lists only banks the caller may know of.
        named = httpx.post(
            f"{live_server.url}/api/match",
            json={"urls": [url_of(COPIED)], "banks": ["chirp-files"]},
            headers=world.auth(who),
        )
        assert named.status_code == 422 and "no bank named chirp-files (banks: chirp-io)" in named.text, who
    assert httpx.get(f"{live_server.url}/api/match/banks/nope", headers=world.auth("chirp")).status_code == 404
    assert httpx.get(f"{live_server.url}/api/match/banks/chirp-files", headers=world.auth("chirp")).status_code == 200
    page = login(live_server, world, "lab").get("/match")
    assert "chirp-files" not in page.text and "url 3" in page.text
    assert "url 1" in httpx.get(f"{live_server.url}/match").text  # a visitor: the CLEAR signal only

    # Deleting on the hub hides the signal at once, from the bank's owner too (before any sync).
    collection = f"{live_server.url}/taxii2/hub/collections/{world.hub.collection_id}"
    deleted = httpx.delete(f"{collection}/objects/{world.ids['green']}/", headers=world.auth("chirp"))
    assert deleted.status_code == 200, deleted.text
    response = httpx.post(f"{live_server.url}/api/match", json=body, headers=world.auth("chirp"))
    assert matched(response, world) == set(EVERYTHING) - {"green"}


def test_review_queue_belongs_to_the_matching_organisation(live_server: LiveServer, tmp_path: Path) -> None:
    database: Database = live_server.app.state.database
    live_server.app.state.webhook_allow = Allowlist.parse("127.0.0.1")  # the receiver is on loopback
    with Receiver() as receiver:
        world = build(live_server, tmp_path, webhook_url=receiver.url)
        body = {"urls": [url_of(k) for k in EVERYTHING]}
        chirp = httpx.post(f"{live_server.url}/api/match", json=body, headers=world.auth("chirp")).json()
        assert chirp["actions"]["reviews"] == 8 and chirp["actions"]["webhooks_ok"] == 8
        # Agency's content matched Chirp's bank: its own queue, and nothing sent to Chirp's webhook.
        agency = httpx.post(f"{live_server.url}/api/match", json=body, headers=world.auth("agency")).json()
        assert agency["actions"]["reviews"] == 3 and agency["actions"]["webhooks_ok"] == 0
        assert len(receiver.calls) == 8
        # Readers, guests and visitors trigger nothing.
        for who in ("chirp_reader", "guest", "visitor"):
            response = httpx.post(f"{live_server.url}/api/match", json=body, headers=world.auth(who))
            assert response.json()["actions"] is None, who
        # A single hit with review: the queue fills (the last pending item used to be dropped).
        one = httpx.post(f"{live_server.url}/api/match", json={"urls": [url_of("clear")]}, headers=world.auth("lab"))
        assert one.json()["actions"]["reviews"] == 1
    with database.session() as session:
        by_org = {org: 0 for org in world.hub.org_ids.values()}
        for item in session.scalars(select(ReviewItem)):
            by_org[item.org_id] += 1
        assert by_org == {
            **{org: 0 for org in world.hub.org_ids.values()},
            world.hub.org_ids["chirp"]: 8,
            world.hub.org_ids["agency"]: 3,
            world.hub.org_ids["lab"]: 1,
        }
        chirp_items = {
            record.source_id or record.signal_value: review.id
            for review, record in session.execute(
                select(ReviewItem, MatchRecord)
                .join(MatchRecord, MatchRecord.id == ReviewItem.match_id)
                .where(ReviewItem.org_id == world.hub.org_ids["chirp"])
            )
        }
        items = {key: chirp_items[world.ids[key] or url_of(key).removeprefix("https://")] for key in SHARED}
        items["own_red"] = chirp_items["own-red.ops.example/story"]

    def queue(who: str, status: str = "pending") -> tuple[int, str]:
        page = login(live_server, world, who).get(f"/match/review?status={status}")
        return page.status_code, page.text

    seen = {
        "chirp": 8,
        "chirp_reader": 6,  # not the RED hub object (not named) nor the bank creator's RED signal
        "chirp_colleague": 6,
        "agency": 3,
        "lab": 1,
        "guest": 0,
    }
    for who, count in seen.items():
        status, text = queue(who)
        assert status == 200, who
        assert len(re.findall(r'class="review-row"', text)) == count, who
        assert f"pending ({count})" in text, who
    assert queue("visitor")[0] == 303  # to the sign-in page

    def decide(who: str, key: str, decision: str = "confirmed") -> httpx.Response:
        client = login(live_server, world, who)
        csrf = re.search(r'name="csrf" value="([^"]*)"', client.get("/match").text)
        token = csrf[1] if csrf else ""
        return client.post(f"/match/review/{items[key]}", data={"decision": decision, "csrf": token})

    def statuses() -> dict[int, str]:
        with database.session() as session:
            return dict(session.execute(select(ReviewItem.id, ReviewItem.status)).tuples().all())

    before = statuses()
    assert decide("lab", "clear").status_code == 404  # another member organisation
    assert decide("agency", "amber").status_code == 404  # in the trust group, still not its item
    assert decide("guest", "clear").status_code == 403  # guests never write
    assert decide("visitor", "clear").status_code == 303  # to the sign-in page
    assert decide("chirp_reader", "clear").status_code == 403  # readers do not decide
    assert decide("chirp_colleague", "red").status_code == 404  # not named on the RED object
    assert decide("chirp_colleague", "own_red").status_code == 404  # not the bank's creator
    assert statuses() == before
    assert decide("chirp_colleague", "amber").status_code == 303
    assert decide("chirp", "red", "dismissed").status_code == 303
    after = statuses()
    assert after[items["amber"]] == "confirmed" and after[items["red"]] == "dismissed"
    assert {i: s for i, s in after.items() if i not in (items["amber"], items["red"])} == {
        i: s for i, s in before.items() if i not in (items["amber"], items["red"])
    }
    assert queue("chirp_reader", "dismissed")[1].count('class="review-row"') == 0  # RED stays hidden when decided
    assert "dismissed (0)" in queue("chirp_reader")[1]


def test_command_line_acts_for_a_member(live_server: LiveServer, tmp_path: Path) -> None:
    world = build(live_server, tmp_path)
    for who in ("lab", "agency", "guest"):
        code, out = cli(
            live_server, tmp_path, "bank", "set", "chirp-files", "--label", "x", "--as", f"{who}@example.org"
        )
        assert code == 2 and "no bank named 'chirp-files'" in out, (who, out)
        code, out = cli(live_server, tmp_path, "bank", "delete", "chirp-io", "--yes", "--as", f"{who}@example.org")
        assert code == 2 and "only by its organisation's analysts and admins" in out, (who, out)
    code, out = cli(live_server, tmp_path, "bank", "sync", "chirp-io", "--as", "chirp_reader@example.org")
    assert code == 2 and "only by its organisation's analysts and admins" in out, out
    code, out = cli(live_server, tmp_path, "bank", "create", "mine", "--as", "guest@example.org")
    assert code == 2 and "may not create banks" in out, out
    code, out = cli(live_server, tmp_path, "bank", "list", "--as", "lab@example.org")
    assert "chirp-io" in out and "chirp-files" not in out and "1 banks" in out, out
    code, out = cli(live_server, tmp_path, "bank", "list")
    assert "2 banks" in out  # the console sees every bank
    urls = [arg for k in EVERYTHING for arg in ("--url", url_of(k))]
    code, out = cli(live_server, tmp_path, "run", *urls, "--json", "--no-actions", "--as", "lab@example.org")
    assert code == 0, out
    assert {k for k in EVERYTHING if name_of(k) in out} == SEES["lab"]
    code, out = cli(live_server, tmp_path, "run", *urls, "--json", "--no-actions")
    assert {k for k in EVERYTHING if name_of(k) in out} == set(EVERYTHING)
    code, out = cli(
        live_server, tmp_path, "bank", "set", "chirp-io", "--label", "ops", "--as", "chirp_colleague@example.org"
    )
    assert code == 0, out
    code, out = cli(live_server, tmp_path, "run", "--url", url_of("clear"), "--as", "nobody@example.org")
    assert code == 2 and "--as" in out and "nobody@example.org" in out

    def lab_sees() -> set[str]:
        code, out = cli(live_server, tmp_path, "run", *urls, "--json", "--no-actions", "--as", "lab@example.org")
        assert code == 0, out
        return {k for k in EVERYTHING if name_of(k) in out}

    # Provenance follows the latest source of the same version: the hub's CLEAR indicator imported from a
    # file belongs to Chirp alone; synced again from the hub, the hub's policy decides once more.
    again = write_bundle(tmp_path / "again.json", [world.objects["clear"]])
    code, out = cli(live_server, tmp_path, "bank", "import", "chirp-io", str(again), "--as", "chirp@example.org")
    assert code == 0 and "1 unchanged" in out, out
    assert lab_sees() == SEES["lab"] - {"clear"}
    code, out = cli(live_server, tmp_path, "bank", "sync", "chirp-io", "--full", "--as", "chirp@example.org")
    assert code == 0, out
    assert lab_sees() == SEES["lab"]

    # Only the console hands a bank to an organisation (banks made before owners existed).
    code, out = cli(
        live_server, tmp_path, "bank", "set", "chirp-files", "--owner", "lab@example.org", "--as", "chirp@example.org"
    )
    assert code == 2 and "console only" in out, out
    code, out = cli(live_server, tmp_path, "bank", "set", "chirp-files", "--owner", "guest@example.org")
    assert code == 2 and "may not own banks" in out, out
    code, out = cli(live_server, tmp_path, "bank", "set", "chirp-files", "--owner", "lab@example.org")
    assert code == 0, out
    assert lab_sees() == SEES["lab"] | {COPIED}  # its RED signal now belongs to lab's analyst
