"""Strict structural validation of Kubernetes objects against the official Python client's models.

kubeconform is not obtainable from our package registries; the `kubernetes` client is (PyPI), and
its generated models carry the API's field names, field types and required fields. This walks a
manifest against them: an unknown or misspelt field, a wrong type (a number where Kubernetes wants
a string, as in ConfigMap data or env values) or a missing required field is an error.
"""

from __future__ import annotations

import inspect
import re
from functools import cache
from typing import Any

from kubernetes.client import models

_PRIMITIVES: dict[str, tuple[type, ...]] = {
    "str": (str,),
    "int": (int,),
    "float": (int, float),
    "bool": (bool,),
    "datetime": (str,),
    "date": (str,),
    "bytes": (str,),
    "object": (object,),  # IntOrString, Quantity-like and free-form fields
}


def model_name(api_version: str, kind: str) -> str:
    """apps/v1 + Deployment -> V1Deployment; policy/v1 + PodDisruptionBudget -> V1Pod..."""
    version = api_version.split("/")[-1]
    return f"{version[0].upper()}{version[1:]}{kind}"


@cache
def _required(cls: type) -> frozenset[str]:
    fields = getattr(cls, "model_fields", None)
    if fields is not None:  # clients >= 35 generate pydantic models
        return frozenset(attr for attr, info in fields.items() if info.is_required())
    source = inspect.getsource(cls)
    return frozenset(re.findall(r"Invalid value for `(\w+)`, must not be `None`", source))


def validate(document: dict[str, Any]) -> list[str]:
    api_version, kind = document.get("apiVersion"), document.get("kind")
    if not isinstance(api_version, str) or not isinstance(kind, str):
        return ["apiVersion and kind are required"]
    name = model_name(api_version, kind)
    if not hasattr(models, name):
        return [f"no Kubernetes model {name} for {api_version} {kind}"]
    return _check(document, name, kind)


def _check(value: Any, type_name: str, path: str) -> list[str]:
    if type_name.startswith(("list[", "List[")):
        if not isinstance(value, list):
            return [f"{path}: expected a list, got {type(value).__name__}"]
        inner = type_name[5:-1]
        return [e for i, item in enumerate(value) for e in _check(item, inner, f"{path}[{i}]")]
    if type_name.startswith(("dict(", "Dict[")):
        if not isinstance(value, dict):
            return [f"{path}: expected a mapping, got {type(value).__name__}"]
        inner = type_name[5:-1].split(",", 1)[1].strip()  # Dict[str, X] or dict(str, X)
        return [e for k, v in value.items() for e in _check(v, inner, f"{path}.{k}")]
    if type_name in _PRIMITIVES:
        allowed = _PRIMITIVES[type_name]
        wrong_bool = isinstance(value, bool) and bool not in allowed and type_name != "object"
        if not isinstance(value, allowed) or wrong_bool:
            return [f"{path}: expected {type_name}, got {type(value).__name__} {value!r}"]
        return []
    cls = getattr(models, type_name)
    if not isinstance(value, dict):
        return [f"{path}: expected an object ({type_name}), got {type(value).__name__}"]
    by_json = {json_name: attr for attr, json_name in cls.attribute_map.items()}
    errors = [f"{path}.{key}: unknown field of {type_name}" for key in value if key not in by_json]
    for key, item in value.items():
        if key in by_json:
            errors += _check(item, cls.openapi_types[by_json[key]], f"{path}.{key}")
    for attr in _required(cls):
        if cls.attribute_map[attr] not in value:
            errors.append(f"{path}: required field {cls.attribute_map[attr]!r} missing")
    return errors
