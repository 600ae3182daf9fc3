"""Owner references: what the garbage collector does when an owner is deleted.

On the real cluster kube-controller-manager's garbage collector does it a moment later; the
emulator's API does it at once, in the delete. Both end in the same state, which is what
these tests wait for."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException


def config_map(core: client.CoreV1Api, name: str, *owners: client.V1ConfigMap) -> Any:
    """The ConfigMap `name` in `default`, owned by `owners`."""
    refs = [
        {"apiVersion": "v1", "kind": "ConfigMap", "name": o.metadata.name, "uid": o.metadata.uid}
        for o in owners
    ]
    metadata: dict[str, Any] = {"name": name, **({"ownerReferences": refs} if refs else {})}
    return core.create_namespaced_config_map("default", {"metadata": metadata})


def names(core: client.CoreV1Api) -> set[str]:
    """The ConfigMaps in `default` (but the real cluster's root-CA one)."""
    items = core.list_namespaced_config_map("default").items
    return {i.metadata.name for i in items} - {"kube-root-ca.crt"}


def owner_names(core: client.CoreV1Api, name: str) -> list[str]:
    refs = core.read_namespaced_config_map(name, "default").metadata.owner_references or []
    return [r.name for r in refs]


def wait_until(check: Callable[[], bool], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        time.sleep(0.1)


def test_deleting_an_owner_deletes_its_dependents(core: client.CoreV1Api) -> None:
    owner = config_map(core, "owner")
    config_map(core, "dep-1", owner)
    config_map(core, "dep-2", owner)
    config_map(core, "unowned")
    core.delete_namespaced_config_map("owner", "default")
    wait_until(lambda: names(core) == {"unowned"}, "only the unowned ConfigMap is left")


def test_the_dependents_of_a_dependent_go_too(core: client.CoreV1Api) -> None:
    owner = config_map(core, "owner")
    child = config_map(core, "child", owner)
    config_map(core, "grandchild", child)
    core.delete_namespaced_config_map("owner", "default")
    wait_until(lambda: names(core) == set(), "the chain is gone")


@pytest.mark.parametrize("policy", ["Background", "Foreground"])
def test_a_propagation_policy_deletes_the_dependents(core: client.CoreV1Api, policy: str) -> None:
    owner = config_map(core, "owner")
    config_map(core, "dep", owner)
    core.delete_namespaced_config_map("owner", "default", propagation_policy=policy)
    wait_until(lambda: names(core) == set(), f"{policy} deletion took owner and dependent")


def test_orphan_propagation_keeps_the_dependents_without_the_reference(
    core: client.CoreV1Api,
) -> None:
    owner = config_map(core, "owner")
    config_map(core, "dep", owner)
    core.delete_namespaced_config_map("owner", "default", propagation_policy="Orphan")
    wait_until(lambda: names(core) == {"dep"}, "the owner is gone")
    wait_until(lambda: owner_names(core, "dep") == [], "the dependent lost its owner reference")


def test_a_dependent_with_another_owner_stays_and_drops_the_deleted_one(
    core: client.CoreV1Api,
) -> None:
    first = config_map(core, "first")
    second = config_map(core, "second")
    config_map(core, "dep", first, second)
    core.delete_namespaced_config_map("first", "default")
    wait_until(lambda: owner_names(core, "dep") == ["second"], "dep lost its deleted owner")
    assert names(core) == {"second", "dep"}


def test_a_dependent_of_an_owner_that_never_existed_is_collected(core: client.CoreV1Api) -> None:
    ghost = client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name="ghost", uid="00000000-0000-0000-0000-000000000001")
    )
    config_map(core, "dep", ghost)
    try:
        wait_until(lambda: names(core) == set(), "the orphan is collected", timeout=30)
    except AssertionError:
        pytest.fail("a dependent whose owner does not exist was kept")
    with pytest.raises(ApiException):
        core.read_namespaced_config_map("dep", "default")
