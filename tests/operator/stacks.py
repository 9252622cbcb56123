"""`stack_fixture(prefix, **settings)`: a module's own namespace, operator and API
(harness.own_stack) as a module-scoped fixture, for tests that need operator settings of
their own (`settings`, as start_operator takes them)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.fixtures.cluster import K8sCluster
from tests.operator.harness import Stack, own_stack


def stack_fixture(prefix: str, **settings: str) -> Any:
    """The fixture, named by the module attribute it is assigned to; its namespace's name
    and its logs' temp dir start with `prefix`."""

    @pytest.fixture(scope="module")
    def stack(
        k8s_cluster: K8sCluster, sandbox_images: None, tmp_path_factory: pytest.TempPathFactory
    ) -> Iterator[Stack]:
        base = tmp_path_factory.mktemp(prefix)
        with own_stack(k8s_cluster, base, prefix, None, **settings) as made:
            yield made

    return stack
