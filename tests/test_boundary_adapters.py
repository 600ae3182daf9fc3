"""The adapters' half of the safety boundary: every object name the operator puts in a URL
is checked in one place, and notifications tell nothing secret (issue 17)."""

from __future__ import annotations

import pytest

from remediator.adapters import notify
from remediator.adapters.kube import InvalidName, KubeClient


@pytest.mark.parametrize(
    "name",
    [
        "../../other/horizontalpodautoscalers/victim-hpa",
        "web/../../db",
        "Web",
        "web?dryRun=All",
        "%2e%2e",
        "a" * 254,
    ],
)
def test_a_name_that_is_not_an_object_name_never_reaches_a_url(name: str) -> None:
    for path in (
        lambda: KubeClient.hpa_path("shop", name),
        lambda: KubeClient.workload_path("Deployment", "shop", name),
        lambda: KubeClient.configmap_path(name, "flags"),
        lambda: KubeClient.custom_path("shop", "incidents", name),
    ):
        with pytest.raises(InvalidName) as refused:
            path()
        assert refused.value.status == 400


def test_object_names_pass_unchanged() -> None:
    assert KubeClient.hpa_path("shop", "web-hpa.v2") == (
        "/apis/autoscaling/v2/namespaces/shop/horizontalpodautoscalers/web-hpa.v2"
    )


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://hooks.example.com/services/T0/B0/secret", "https://hooks.example.com/…"),
        ("http://paul:pw@10.0.0.7:8080/hook?token=x", "http://10.0.0.7:8080/…"),
        ("http://[fd00::1]:9/x", "http://[fd00::1]:9/…"),
        ("not a url", "<invalid URL>"),
    ],
)
def test_a_webhook_url_is_shown_as_scheme_host_and_port_only(url: str, shown: str) -> None:
    assert notify.redact(url) == shown


@pytest.mark.parametrize(
    ("url", "refused"),
    [
        ("http://169.254.169.254/latest/meta-data/", True),
        ("http://[fe80::1]/", True),
        ("http://[fd00:ec2::254]/", True),
        ("http://100.100.100.200/", True),
        ("http://[::ffff:169.254.169.254]/", True),
        ("http://0.0.0.0/", True),
        ("http://127.0.0.1:9/hook", False),
        ("https://hooks.example.com/x", False),
    ],
)
def test_link_local_and_metadata_addresses_are_refused(url: str, refused: bool) -> None:
    if refused:
        with pytest.raises(notify.NotifyError, match="refused"):
            notify.check_url(url)
        host = url.split("/")[2].strip("[]")
        assert notify.check_url(url, allowed_hosts={host}) == url  # the operator's flag
    else:
        assert notify.check_url(url) == url
