"""The audit chain's definition, pinned: canonical bytes, hashes and what verify reports."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from decimal import Decimal

from criptoren.domain.audit import (
    GENESIS,
    AuditEntry,
    AuditRecord,
    canonical_json,
    canonical_row,
    chain,
    verify_chain,
)

AT = datetime(2026, 11, 30, 18, 0, 1, 5, tzinfo=UTC)


def _entries() -> list[AuditEntry]:
    return [
        AuditEntry("admin", "client.created", "client", 7, {"name": 'José "Zé"\n'}, 7, "r-1"),
        AuditEntry("engine", "order.executed", "order", 9, {"price": Decimal("1E-8")}, 7),
    ]


def test_canonical_bytes_are_exactly_the_documented_ones() -> None:
    first, second = chain(0, GENESIS, AT, _entries())
    assert (
        canonical_row(first)
        == (
            '{"action":"client.created","actor":"admin","at":"2026-11-30T18:00:01.000005Z",'
            '"client_id":7,"data":{"name":"José \\"Zé\\"\\n"},"entity":"client","entity_id":"7",'
            '"id":1,"request_id":"r-1"}'
        ).encode()
    )
    assert first.hash == hashlib.sha256(GENESIS.encode() + canonical_row(first)).hexdigest()
    assert second.data == '{"price":"0.00000001"}'  # a decimal as its plain digits
    assert second.prev_hash == first.hash
    assert (second.id, second.request_id) == (2, None)


def test_canonical_json_sorts_keys_and_keeps_decimals_exact() -> None:
    value = {"b": Decimal("60000.50000000"), "a": [1, None, True], "c": "ü"}
    assert canonical_json(value) == '{"a":[1,null,true],"b":"60000.50000000","c":"ü"}'


def test_verify_names_the_first_bad_row_and_trusts_an_export_anchor() -> None:
    records = chain(0, GENESIS, AT, _entries() * 3)
    assert verify_chain(records).summary() == f"6 rows, chain intact, head {records[-1].hash}"
    edited = [*records[:3], _with(records[3], actor="admin"), *records[4:]]
    assert verify_chain(edited).bad_id == 4
    assert verify_chain(records[:2] + records[3:]).bad_id == 4  # row 3 deleted
    assert verify_chain(records[2:]).bad_id == 3  # from genesis, row 3 does not link
    assert verify_chain(records[2:], anchor=None).intact  # an export from row 3
    swapped = [records[0], _with(records[2], id=2), _with(records[1], id=3), *records[3:]]
    assert verify_chain(swapped).bad_id == 2


def _with(record: AuditRecord, **changes: object) -> AuditRecord:
    fields = {name: getattr(record, name) for name in AuditRecord.__dataclass_fields__}
    return AuditRecord(**(fields | changes))  # type: ignore[arg-type]
