"""The in-memory session store: absolute and idle timeouts, the cap, ending by sid or
subject, and a cost per operation that does not grow with the number of sessions
(counted in records examined, never timed)."""

from __future__ import annotations

import random

from gateway.portal.sessions import SWEEP, MemorySessionStore, digest


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def store_with(
    clock: Clock, ttl: float = 3600, idle: float = 600, cap: int = 1000
) -> MemorySessionStore:
    return MemorySessionStore(ttl=ttl, idle_timeout=idle, max_sessions=cap, clock=clock)


async def test_a_saved_session_loads_until_deleted() -> None:
    store = store_with(Clock())
    await store.save("s-1", {"sid": "a"})
    assert await store.load("s-1") == {"sid": "a"}
    await store.delete("s-1")
    assert await store.load("s-1") is None


async def test_a_session_ends_when_idle() -> None:
    clock = Clock()
    store = store_with(clock)
    await store.save("idle", {"sid": "a"})
    clock.now += 599
    assert await store.load("idle") is not None  # a use keeps it alive...
    clock.now += 599
    assert await store.load("idle") is not None
    clock.now += 600  # ...until it goes unused for the idle timeout
    assert await store.load("idle") is None
    assert len(store) == 0


async def test_a_session_ends_after_its_lifetime_even_when_in_use() -> None:
    clock = Clock()
    store = store_with(clock, ttl=1000, idle=600)
    await store.save("busy", {"sid": "a"})
    for _ in range(3):
        clock.now += 300
        assert await store.load("busy") is not None
    clock.now += 100  # 1000 s after it began
    assert await store.load("busy") is None
    assert len(store) == 0


async def test_expired_sessions_are_dropped_without_being_asked_for() -> None:
    """Nobody loads them again: later operations sweep them, idle ones and old ones."""
    clock = Clock()
    store = store_with(clock, ttl=1000, idle=600)
    for n in range(20):
        await store.save(f"idle-{n}", {"sid": f"i{n}"})
    clock.now += 400
    await store.save("old", {"sid": "o"})
    for _ in range(4):  # kept in use...
        clock.now += 200
        assert await store.load("old") is not None
    clock.now += 250  # ...but past its lifetime now, 250 s after its last use
    await store.save("fresh", {})
    for _ in range(10):
        await store.load("fresh")
    assert len(store) == 1 and digest("fresh") in store
    assert store._index == {"sid": {}, "sub": {}}


async def test_ending_by_sid_or_subject_ends_only_those() -> None:
    store = store_with(Clock())
    await store.save("1", {"sid": "a", "sub": "u1"})
    await store.save("2", {"sid": "b", "sub": "u1"})
    await store.save("3", {"sid": "c", "sub": "u2"})
    assert await store.end_by_sid("a") == 1
    assert await store.end_by_subject("u1") == 1
    assert await store.end_by_sid("a") == 0
    assert await store.load("3") == {"sid": "c", "sub": "u2"}
    assert len(store) == 1


async def test_a_session_signed_in_again_is_ended_by_its_new_sid_only() -> None:
    store = store_with(Clock())
    await store.save("s", {})  # anonymous: Authlib's sign-in state only
    await store.save("s", {"sid": "first", "sub": "u1"})
    await store.save("s", {"sid": "second", "sub": "u1"})
    assert await store.end_by_sid("first") == 0
    assert await store.load("s") is not None
    assert await store.end_by_sid("second") == 1
    assert await store.load("s") is None


async def test_the_store_keeps_digests_not_ids() -> None:
    store = store_with(Clock())
    await store.save("secret-id", {})
    assert "secret-id" not in store and digest("secret-id") in store


async def test_at_the_cap_the_least_recently_used_session_goes() -> None:
    clock = Clock()
    store = store_with(clock, cap=2)
    await store.save("first", {"sid": "a"})
    clock.now += 1
    await store.save("second", {"sid": "b"})
    clock.now += 1
    await store.load("first")  # now "second" is the least recently used
    await store.save("third", {"sid": "c"})
    assert len(store) == 2 and store.evicted == 1
    assert await store.load("second") is None
    assert await store.load("first") is not None and await store.load("third") is not None
    assert await store.end_by_sid("b") == 0  # its index entry went with it


async def test_operations_examine_a_bounded_number_of_records_at_any_size() -> None:
    """The cost of a new anonymous session, a load, a save, a back-channel logout: the
    same at 50,000 sessions as at 50 (before, each new session scanned them all)."""
    costs = []
    for size in (50, 50_000):
        clock = Clock()
        store = store_with(clock, cap=size)
        for n in range(size):
            await store.save(f"s-{n}", {"sid": f"sid-{n % 1000}", "sub": f"u-{n}"})
        clock.now += 1
        cost = []
        for operation in (
            store.save("anonymous", {"_state_tinpass_x": {"data": {}}}),  # a new visit
            store.load("s-7"),
            store.save("s-7", {"sid": "sid-7", "sub": "u-7", "csrf": "c"}),
            store.save("another", {}),
            store.end_by_subject("u-8"),
        ):
            before = store.examined
            await operation
            cost.append(store.examined - before)
        costs.append(cost)
        assert len(store) == size - 1 and store.evicted == 2  # the cap held
    assert costs[0] == costs[1]
    assert max(costs[1]) <= 2 * SWEEP + 2
    # ending an SSO session examines its own sessions only: 50 of the 50,000 here
    before = store.examined
    assert await store.end_by_sid("sid-3") == 50
    assert store.examined - before == 50


async def test_a_burst_of_expiries_is_swept_a_few_at_a_time() -> None:
    clock = Clock()
    store = store_with(clock, idle=600, cap=10_000)
    for n in range(5000):
        await store.save(f"s-{n}", {})
    clock.now += 601  # every one of them is idle now
    before = store.examined
    await store.save("new", {})
    assert store.examined - before <= 2 * SWEEP + 1
    assert len(store) == 5001 - SWEEP
    for _ in range(5000 // SWEEP):
        await store.load("new")
    assert len(store) == 1


async def test_indexes_and_orders_stay_consistent_under_random_operations() -> None:
    """Against a plain model of which sessions are alive, after every operation."""
    rng = random.Random(12)
    clock = Clock()
    store = store_with(clock, ttl=500, idle=120, cap=10_000)
    model: dict[str, tuple[dict[str, str], float, float]] = {}  # data, created, last seen

    def alive(session_id: str) -> bool:
        if session_id not in model:
            return False
        _, created, seen = model[session_id]
        return clock.now - created < 500 and clock.now - seen < 120

    for _ in range(3000):
        clock.now += rng.choice((0, 1, 5, 30))
        sid, sub = rng.choice(("a", "b", "c", None)), rng.choice(("u1", "u2", None))
        session_id, action = f"s-{rng.randrange(60)}", rng.randrange(6)
        for gone in [k for k in model if not alive(k)]:
            del model[gone]
        if action <= 1:
            data = {k: v for k, v in (("sid", sid), ("sub", sub)) if v is not None}
            await store.save(session_id, data)
            created = model[session_id][1] if session_id in model else clock.now
            model[session_id] = (data, created, clock.now)
        elif action == 2:
            loaded = await store.load(session_id)
            assert loaded == (model[session_id][0] if session_id in model else None)
            if session_id in model:
                model[session_id] = (model[session_id][0], model[session_id][1], clock.now)
        elif action == 3:
            await store.delete(session_id)
            model.pop(session_id, None)
        elif action == 4 and sid:
            ended = {k for k, (data, _, _) in model.items() if data.get("sid") == sid}
            assert await store.end_by_sid(sid) >= len(ended)
            model = {k: v for k, v in model.items() if k not in ended}
        elif action == 5 and sub:
            ended = {k for k, (data, _, _) in model.items() if data.get("sub") == sub}
            assert await store.end_by_subject(sub) >= len(ended)
            model = {k: v for k, v in model.items() if k not in ended}
        check_consistent(store)
    assert {digest(k) for k in model} <= set(store._records)


def check_consistent(store: MemorySessionStore) -> None:
    records = store._records
    assert list(records) == sorted(records, key=lambda k: records[k].last_seen_at)
    assert set(store._created) == set(records)
    created = list(store._created.values())
    assert created == sorted(created)
    for kind in ("sid", "sub"):
        expected: dict[str, set[str]] = {}
        for key, record in records.items():
            value = record.data.get(kind)
            assert getattr(record, kind) == value
            if value is not None:
                expected.setdefault(value, set()).add(key)
        assert store._index[kind] == expected
    assert len(records) <= store.max_sessions
