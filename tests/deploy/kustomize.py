"""Render deploy/k8s/base without a cluster: ``kubectl kustomize`` when it is installed, else
a small renderer of our own that understands exactly the kustomization features the base uses
(and refuses any other, so that a new feature cannot be silently ignored).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

Resource = dict[str, Any]

#: What :func:`render_here` implements; the base may use nothing else.
SUPPORTED_KEYS = frozenset(
    {
        "apiVersion",
        "kind",
        "namespace",
        "labels",
        "resources",
        "configMapGenerator",
        "generatorOptions",
    }
)
CLUSTER_SCOPED = frozenset({"Namespace"})


def load_kustomization(base: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(
        (base / "kustomization.yaml").read_text(encoding="utf-8")
    )
    return loaded


def render_here(base: Path) -> list[Resource]:
    """The resources ``kustomize build base`` would produce, for the features we use."""
    kustomization = load_kustomization(base)
    unsupported = set(kustomization) - SUPPORTED_KEYS
    if unsupported:
        raise NotImplementedError(f"kustomization uses {sorted(unsupported)}: extend the renderer")
    if not kustomization.get("generatorOptions", {}).get("disableNameSuffixHash"):
        raise NotImplementedError("name suffix hashes are not rendered: keep them disabled")
    resources: list[Resource] = []
    for entry in kustomization.get("resources", []):
        path = base / entry
        if path.is_dir():
            raise NotImplementedError(f"{entry}: nested kustomizations are not rendered")
        resources += [r for r in yaml.safe_load_all(path.read_text(encoding="utf-8")) if r]
    for generator in kustomization.get("configMapGenerator", []):
        data: dict[str, str] = {}
        for item in generator.get("files", []):
            key, _, source = item.partition("=") if "=" in item else (Path(item).name, "", item)
            data[key] = (base / source).read_text(encoding="utf-8")
        for literal in generator.get("literals", []):
            key, _, value = literal.partition("=")
            data[key] = value
        resources.append(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": generator["name"]},
                "data": data,
            }
        )
    namespace = kustomization.get("namespace")
    for resource in resources:
        metadata = resource.setdefault("metadata", {})
        if namespace and resource["kind"] not in CLUSTER_SCOPED:
            metadata["namespace"] = namespace
        for label_set in kustomization.get("labels", []):
            if label_set.get("includeSelectors") or label_set.get("includeTemplates"):
                raise NotImplementedError("labels on selectors/templates are not rendered")
            metadata.setdefault("labels", {}).update(label_set["pairs"])
    return resources


def render_with_kubectl(base: Path) -> list[Resource] | None:
    """``kubectl kustomize base``, or ``None`` when kubectl is not installed."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        return None
    done = subprocess.run(
        [kubectl, "kustomize", str(base)], capture_output=True, text=True, timeout=60
    )
    if done.returncode != 0:
        raise AssertionError(f"kubectl kustomize failed:\n{done.stderr}")
    return [r for r in yaml.safe_load_all(done.stdout) if r]


def key(resource: Resource) -> tuple[str, str, str]:
    return (
        resource["kind"],
        resource["metadata"].get("namespace", ""),
        resource["metadata"]["name"],
    )
