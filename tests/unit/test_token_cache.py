"""The token cache: fresh entries only, and nothing stale survives a rotate or revoke."""

from __future__ import annotations

from criptoren.services.auth import Principal, TokenCache


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_an_entry_is_served_until_its_ttl_ends() -> None:
    clock = Clock()
    cache = TokenCache(ttl=2.0, clock=clock)
    cache.put("h1", Principal(client_id=7), cache.generation)
    clock.now += 1.9
    assert cache.get("h1") == Principal(client_id=7)
    clock.now += 0.1
    assert cache.get("h1") is None


def test_invalidating_a_client_drops_only_its_tokens() -> None:
    cache = TokenCache(ttl=2.0, clock=Clock())
    cache.put("alice", Principal(client_id=1), cache.generation)
    cache.put("bob", Principal(client_id=2), cache.generation)
    cache.invalidate(1)
    assert cache.get("alice") is None
    assert cache.get("bob") == Principal(client_id=2)


def test_a_lookup_that_began_before_an_invalidation_is_not_stored() -> None:
    cache = TokenCache(ttl=2.0, clock=Clock())
    started = cache.generation  # the request reads the clients table (old token still valid)
    cache.invalidate(1)  # meanwhile the token is revoked and committed
    cache.put("alice", Principal(client_id=1), started)
    assert cache.get("alice") is None


def test_ttl_zero_never_caches() -> None:
    cache = TokenCache(ttl=0, clock=Clock())
    cache.put("alice", Principal(client_id=1), cache.generation)
    assert cache.get("alice") is None
