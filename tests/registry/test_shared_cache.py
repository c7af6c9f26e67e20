"""Two stores, one registry: the second store's build hits the cache the first one exported."""

from __future__ import annotations

import pytest

from layerlab.engine.bootstrap import busybox_image
from layerlab.engine.builder.cache_records import CacheRecords
from layerlab.engine.errors import RegistryError, UsageError
from layerlab.engine.events import EventList, StepCached, StepRebuilt
from layerlab.engine.builder.registry_cache import export_cache, import_cache, parse_cache_option
from layerlab.engine.registry.push import push
from layerlab.engine.store import Store
from tests.peers import need_program
from tests.registry.images import test_image as make_image

DOCKERFILE = "FROM busybox\nCOPY f.txt /f.txt\nCOPY g.txt /srv/g.txt\nENV MODE=cached\n"


def _store_with_base(path):
    store = Store.open(path)
    store.put_image(busybox_image(), tags=["busybox:latest"])
    return store


def _build(store, context):
    from layerlab.engine.builder.executor import BuildRequest, build

    events = EventList()
    result = build(BuildRequest(context_dir=context, tags=["app:1"]), store, events)
    return result, events


def test_a_fresh_store_gets_cache_hits_from_an_exported_build(registry, tmp_path):
    need_program("busybox")
    context = tmp_path / "context"
    context.mkdir()
    (context / "Dockerfile").write_text(DOCKERFILE)
    (context / "f.txt").write_text("first file\n")
    (context / "g.txt").write_text("second file\n")

    first = _store_with_base(tmp_path / "machine-a")
    built, events = _build(first, context)
    assert not any(isinstance(e, StepCached) for e in events)
    with CacheRecords(first.root) as records:
        exported = export_cache(first, records, parse_cache_option(f"registry:{registry.host}/cache/app:main"))
        assert exported.records == len(records) >= 2

    second = _store_with_base(tmp_path / "machine-b")
    with CacheRecords(second.root) as records:
        imported = import_cache(second, records, f"{registry.host}/cache/app:main")
        assert imported.records == exported.records
        assert {r.key for r in records.records()} == {r.key for r in CacheRecords(first.root).records()}
    assert second.image(built.image_id).id == first.image(built.image_id).id
    assert [p for p in second.fsck() if p.is_error] == []

    again, events = _build(second, context)
    assert again.image_id == built.image_id
    assert not any(isinstance(e, StepRebuilt) for e in events)
    assert sum(isinstance(e, StepCached) for e in events) >= 2


def test_importing_twice_is_harmless_and_fetches_nothing_new(registry, tmp_path):
    need_program("busybox")
    context = tmp_path / "context"
    context.mkdir()
    (context / "Dockerfile").write_text(DOCKERFILE)
    (context / "f.txt").write_text("one\n")
    (context / "g.txt").write_text("two\n")
    first = _store_with_base(tmp_path / "a")
    _build(first, context)
    with CacheRecords(first.root) as records:
        export_cache(first, records, f"{registry.host}/cache/twice:1")
    second = _store_with_base(tmp_path / "b")
    with CacheRecords(second.root) as records:
        import_cache(second, records, f"{registry.host}/cache/twice:1")
        events = EventList()
        import_cache(second, records, f"{registry.host}/cache/twice:1", events=events)
    assert {e.action for e in events} == {"exists"}


def test_an_image_is_not_a_build_cache(registry, tmp_path):
    store = Store.open(tmp_path / "a")
    store.put_image(make_image([100], seed=40), tags=["plain:1"])
    push(f"{registry.host}/plain:1", store, source="plain:1")
    with CacheRecords(store.root) as records, pytest.raises(RegistryError, match="not a layerlab build cache"):
        import_cache(store, records, f"{registry.host}/plain:1")
    with pytest.raises(UsageError, match="expected registry:NAME"):
        parse_cache_option("type=local,dest=/tmp/x")
