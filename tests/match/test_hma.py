"""What hasher-matcher-actioner users rely on: negative banks, warninglists, flood quarantine (through HTTP)."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from shieldwall.match.banks import add_signals, create_bank, get_bank
from shieldwall.match.service import load_matcher, match_value
from shieldwall.match.signals import Signal, SignalType
from shieldwall.match.tables import HeldSignal, MatchRecord
from shieldwall.stix.tlp import TLP
from shieldwall.store.db import Database
from tests.match.fixtures import principal_of
from tests.support.hub import Hub, seed_hub
from tests.support.live import LiveServer


def _bank(database: Database, name: str, signals: list[Signal], tlp: TLP = TLP.CLEAR, **options: object) -> None:
    with database.session() as session:
        bank = create_bank(session, name, **options)  # type: ignore[arg-type]
        add_signals(session, bank, signals, tlp=tlp)


def _match(live_server: LiveServer, hub: Hub, who: str | None, body: dict[str, object]) -> dict[str, object]:
    headers = {"Authorization": f"Bearer {hub.tokens[who]}"} if who else {}
    response = httpx.post(f"{live_server.url}/api/match", json=body, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def _banks_hit(answer: dict[str, object]) -> list[list[str]]:
    return [[m["bank"] for m in r["matches"]] for r in answer["results"]]  # type: ignore[attr-defined,index]


def test_content_in_a_negative_bank_matches_nothing(live_server: LiveServer) -> None:
    database: Database = live_server.app.state.database
    hub = seed_hub(database)
    logo = Signal(SignalType.URL, "election-authority.example/logo.png")
    _bank(database, "io", [logo, Signal(SignalType.DOMAIN, "election-authority.example")])
    _bank(database, "authority-own", [logo], negative=True)  # the hub's: CLEAR, seen by everyone
    lab = principal_of(database, hub.member_ids["lab"])
    # Lab's own negative bank (AMBER): it decides for lab only; nobody else may even know it exists.
    _bank(
        database,
        "lab-benign",
        [Signal(SignalType.URL, "election-authority.example/press")],
        TLP.AMBER,
        negative=True,
        owner=lab,
    )
    body = {
        "urls": ["https://election-authority.example/logo.png", "https://election-authority.example/press"],
        "banks": ["io"],
    }
    for who in (None, "chirp", "guest"):
        answer = _match(live_server, hub, who, body)
        # The logo is benign for everyone, even when only bank io is asked for; the press page only for lab.
        assert _banks_hit(answer) == [[], ["io"]], who
        assert answer["results"][0]["detail"] == {"benign": ["authority-own"]}  # type: ignore[index]
        assert "lab-benign" not in str(answer)
    lab_answer = _match(live_server, hub, "lab", body)
    assert _banks_hit(lab_answer) == [[], []]
    assert lab_answer["results"][1]["detail"] == {"benign": ["lab-benign"]}  # type: ignore[index]
    # A negative bank runs no action either: nothing was recorded for the benign items.
    with database.session() as session:
        recorded = session.scalars(select(MatchRecord.item_value)).all()
        assert "election-authority.example/logo.png" not in recorded


def test_warninglisted_domains_never_match_as_domain_signals_unless_the_bank_says_so(database: Database) -> None:
    domains = ["bit.ly", "cloudfront.net", "youtube.com", "linktr.ee", "disinfo.example"]
    _bank(database, "domains", [Signal(SignalType.DOMAIN, d) for d in domains])
    _bank(database, "urls", [Signal(SignalType.URL, "bit.ly/3xyz")])
    with database.session() as session:
        matcher = load_matcher(session)
    assert matcher.warned == 4
    hits = {
        u: [h.signal_value for h in match_value(matcher, "url", u).matches]
        for u in (
            "https://bit.ly/3xyz",
            "https://d111.cloudfront.net/a.js",
            "https://www.youtube.com/watch?v=1",
            "https://news.disinfo.example/a",
        )
    }
    # A specific URL on a shortener still matches; the whole shortener, CDN or video site does not.
    assert hits == {
        "https://bit.ly/3xyz": ["bit.ly/3xyz"],
        "https://d111.cloudfront.net/a.js": [],
        "https://www.youtube.com/watch?v=1": [],
        "https://news.disinfo.example/a": ["disinfo.example"],
    }
    with database.session() as session:
        get_bank(session, "domains").warninglist = False
        get_bank(session, "domains").revision += 1
        matcher = load_matcher(session)
    assert matcher.warned == 0
    assert [h.signal_value for h in match_value(matcher, "url", "https://bit.ly/other").matches] == ["bit.ly"]


def test_a_flooding_signal_is_held_for_review_and_only_its_owner_releases_it(live_server: LiveServer) -> None:
    database: Database = live_server.app.state.database
    hub = seed_hub(database)
    chirp = principal_of(database, hub.member_ids["chirp"])
    _bank(
        database,
        "chirp-io",
        [Signal(SignalType.DOMAIN, "generic-cdn.example"), Signal(SignalType.URL, "specific.example/a")],
        TLP.GREEN,
        owner=chirp,
        label="io",
        flood_limit=3,
    )
    urls = [f"https://generic-cdn.example/{i}" for i in range(4)] + ["https://specific.example/a"]
    answer = _match(live_server, hub, "chirp", {"urls": urls})
    assert answer["actions"]["recorded"] == 5 and answer["actions"]["held"] == 1  # type: ignore[index]
    # Held: it matches nothing now; the specific signal still does; the four matches are kept.
    again = _match(live_server, hub, "chirp", {"urls": ["https://generic-cdn.example/new", urls[-1]]})
    assert _banks_hit(again) == [[], ["chirp-io"]]
    with database.session() as session:
        assert (
            len(session.scalars(select(MatchRecord).where(MatchRecord.signal_value == "generic-cdn.example")).all())
            == 4
        )
        held_id = session.scalars(select(HeldSignal.id)).one()

    def held_list(who: str | None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {hub.tokens[who]}"} if who else {}
        return httpx.get(f"{live_server.url}/api/match/held", headers=headers)

    def release(who: str | None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {hub.tokens[who]}"} if who else {}
        return httpx.post(f"{live_server.url}/api/match/held/{held_id}/release", headers=headers)

    listed = held_list("chirp").json()["held"]
    assert [(h["signal"]["value"], h["items_in_an_hour"], h["limit"]) for h in listed] == [
        ("generic-cdn.example", 4, 3)
    ]
    assert held_list("chirp_reader").json()["held"][0]["id"] == held_id  # its organisation may read it
    for who in ("agency", "lab", "guest"):
        assert held_list(who).json() == {"held": []}, who
    assert held_list(None).status_code == 401
    # Another member organisation's analyst: as if it did not exist; a guest, a reader and a visitor may not.
    assert release("agency").status_code == 404
    assert release("guest").status_code in (403, 404)
    assert release("chirp_reader").status_code == 403
    assert release(None).status_code == 401
    assert release("chirp").status_code == 200
    assert (
        httpx.post(
            f"{live_server.url}/api/match/held/99999/release",
            headers={"Authorization": f"Bearer {hub.tokens['chirp']}"},
        ).status_code
        == 404
    )
    with database.session() as session:
        row = session.get(HeldSignal, held_id)
        assert row is not None and row.status == "released" and row.decided_by == "chirp@example.org"
    # Released, it matches again, and its count starts over.
    resumed = _match(live_server, hub, "chirp", {"urls": ["https://generic-cdn.example/after"]})
    assert _banks_hit(resumed) == [["chirp-io"]] and resumed["actions"]["held"] == 0  # type: ignore[index]
