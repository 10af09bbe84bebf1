"""Offline schema checks of rendered manifests, in strict mode.

- Kubernetes kinds: kubernetes-validate's bundled OpenAPI schemas, strict variant (unknown
  fields are errors, as `kubectl apply --validate=strict` would say).
- ServiceMonitor and PrometheusRule: the prometheus-operator's own types as pydantic models
  (cloudcoil-models-prometheus-operator). They ignore unknown fields, so a field that does
  not survive a validate-and-dump round trip is reported as unknown here.
"""

from __future__ import annotations

from typing import Any

try:
    import kubernetes_validate
    from cloudcoil.models.prometheus_operator import v1 as operator
except ImportError as exc:  # pragma: no cover - a clear hint instead of a bare ImportError
    raise ImportError(
        f"{exc.name} is missing: the chart tests need the deploy extra (make deploy-tools)"
    ) from exc

OPERATOR_KINDS: dict[str, Any] = {
    "ServiceMonitor": operator.ServiceMonitor,
    "PrometheusRule": operator.PrometheusRule,
}


def problems(doc: dict[str, Any], kube_version: str) -> list[str]:
    """Every schema problem of one manifest; [] when it is valid."""
    kind = doc.get("kind", "?")
    name = doc.get("metadata", {}).get("name", "?")
    where = f"{kind}/{name}"
    if kind in OPERATOR_KINDS:
        return [f"{where}: {p}" for p in _operator_problems(OPERATOR_KINDS[kind], doc)]
    try:
        kubernetes_validate.validate(doc, kube_version, strict=True)
    except kubernetes_validate.ValidationError as exc:
        path = ".".join(str(p) for p in exc.path)
        return [f"{where}: {path}: {exc.message}"]
    except kubernetes_validate.SchemaNotFoundError:
        # kubernetes-validate only warns here; an unchecked manifest must not pass silently.
        return [
            f"{where}: no schema for {doc.get('apiVersion')} {kind} in Kubernetes {kube_version}"
        ]
    return []


def _operator_problems(model: Any, doc: dict[str, Any]) -> list[str]:
    import pydantic

    try:
        parsed = model.model_validate(doc)
    except pydantic.ValidationError as exc:
        return [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
    dumped = parsed.model_dump(by_alias=True, exclude_unset=True, mode="json")
    return [f"{path}: unknown field" for path in _unknown(doc, dumped, "")]


def _unknown(given: Any, kept: Any, path: str) -> list[str]:
    if isinstance(given, dict):
        if not isinstance(kept, dict):
            return [path or "."]
        out = []
        for key, value in given.items():
            child = f"{path}.{key}" if path else str(key)
            if key not in kept:
                out.append(child)
            else:
                out.extend(_unknown(value, kept[key], child))
        return out
    if isinstance(given, list) and isinstance(kept, list) and len(given) == len(kept):
        out = []
        for index, (a, b) in enumerate(zip(given, kept, strict=True)):
            out.extend(_unknown(a, b, f"{path}[{index}]"))
        return out
    return []
