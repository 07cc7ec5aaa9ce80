"""A bank with one signal of each kind, in the live server's database (the hub's own, or an organisation's)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from shieldwall.exchange.auth import principal_for_member
from shieldwall.exchange.policy import Principal
from shieldwall.exchange.tables import Member
from shieldwall.match.banks import create_bank, import_stix_file
from shieldwall.match.files import pdq_of_image
from shieldwall.stix.tlp import TLP
from shieldwall.store.db import Database
from tests.match.images import encode, picture
from tests.match.stixdata import indicator, write_bundle


@dataclass
class Planted:
    image_pdq: str
    url_id: str
    pdq_id: str
    amber_url: str = "http://secret-ops.example/leak"


def principal_of(database: Database, member_id: int) -> Principal:
    """The principal of a seeded member (tests.support.hub: hub.member_ids[who])."""
    with database.session() as session:
        member = session.get(Member, member_id)
        assert member is not None
        return principal_for_member(session, member)


def plant_bank(
    database: Database,
    tmp_path: Path,
    name: str = "io-2026",
    *,
    secret_key: str | None = None,
    owner: Principal | None = None,
    **options: object,
) -> Planted:
    pdq, _ = pdq_of_image("seed.png", encode(picture(11)))
    url = indicator("[url:value = 'https://fake-news.example/story']", TLP.CLEAR, name="fake story")
    image = indicator(f"[file:hashes.PDQ = '{pdq}']", TLP.CLEAR, name="doctored ballot photo")
    objects = [
        url,
        image,
        indicator("[domain-name:value = 'disinfo.example']", TLP.CLEAR),
        indicator("[user-account:account_type = 'twitter' AND user-account:account_login = 'troll_1']", TLP.GREEN),
        indicator("[url:value = 'http://secret-ops.example/leak']", TLP.AMBER),
        indicator("[x-text:value = 'Polling stations in Springfield are closed today, vote tomorrow']", TLP.CLEAR),
    ]
    with database.session() as session:
        bank = create_bank(session, name, owner=owner, secret_key=secret_key, **options)
        import_stix_file(session, bank, write_bundle(tmp_path / f"{name}.json", objects))
    return Planted(image_pdq=pdq, url_id=url["id"], pdq_id=image["id"])
