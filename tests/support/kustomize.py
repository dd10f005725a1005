"""deploy/k8s/ rendered in Python, as `kubectl kustomize` renders it (no binary needed).

kustomize is rarely installed where the tests run (kubectl brings it, Debian packages
neither), so the manifests use only what this renders exactly: `resources` (files of YAML
documents) and `configMapGenerator` (`files` and `literals`) with kustomize's default name
suffix, a hash of the generated ConfigMap, and the references to it rewritten. Anything else
in a kustomization.yaml is an error here, so the manifests cannot drift from it silently;
where kubectl is installed, a test compares this rendering with its own.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

Object = dict[str, Any]
_SUPPORTED = {"apiVersion", "kind", "resources", "configMapGenerator"}
# Where a pod spec names a ConfigMap (kustomize's nameReference for ConfigMap, the part used).
_CONFIG_MAP_REFS = ("configMap", "configMapRef", "configMapKeyRef")


def _go_json(value: object) -> str:
    """`value` as Go's json.Marshal writes it: keys sorted, no spaces, <, > and & escaped."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    for char, escape in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        text = text.replace(char, escape)
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def name_suffix(data: dict[str, str]) -> str:
    """kustomize's hash suffix of a generated ConfigMap (api/hasher: sha256 of its JSON, 10
    characters with the vowels and the digits that read as letters replaced). kustomize 5
    hashes the generated object with its name still empty (checked against kubectl 1.32's
    kustomize 5.5.0): the suffix depends on the data alone."""
    digest = hashlib.sha256(
        _go_json({"data": data, "kind": "ConfigMap", "name": ""}).encode()
    ).hexdigest()
    return digest[:10].translate(str.maketrans("013ae", "ghkmt"))


def _generated(root: Path, spec: dict[str, Any]) -> Object:
    unknown = set(spec) - {"name", "files", "literals"}
    if unknown:
        raise ValueError(f"configMapGenerator {spec['name']}: unsupported {sorted(unknown)}")
    data: dict[str, str] = {}
    for entry in spec.get("files", []):
        key, _, path = str(entry).rpartition("=")
        data[key or Path(path).name] = (root / path).read_text()
    for literal in spec.get("literals", []):
        key, _, value = str(literal).partition("=")
        data[key] = value
    name = f"{spec['name']}-{name_suffix(data)}"
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}


def _rename(node: object, names: dict[str, str]) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in _CONFIG_MAP_REFS and isinstance(value, dict) and value.get("name") in names:
                value["name"] = names[value["name"]]
            _rename(value, names)
    elif isinstance(node, list):
        for item in node:
            _rename(item, names)


def _documents(path: Path) -> Iterator[Object]:
    yield from (doc for doc in yaml.safe_load_all(path.read_text()) if doc)


def render(root: Path) -> list[Object]:
    """The objects `kubectl kustomize root` prints (in file order, not kustomize's)."""
    kustomization = yaml.safe_load((root / "kustomization.yaml").read_text())
    unknown = set(kustomization) - _SUPPORTED
    if unknown:
        raise ValueError(f"{root}/kustomization.yaml: not rendered here: {sorted(unknown)}")
    generated = [_generated(root, spec) for spec in kustomization.get("configMapGenerator", [])]
    names = {
        spec["name"]: made["metadata"]["name"]
        for spec, made in zip(kustomization.get("configMapGenerator", []), generated, strict=True)
    }
    objects = [doc for entry in kustomization["resources"] for doc in _documents(root / entry)]
    for obj in objects:
        _rename(obj, names)
    return generated + objects
