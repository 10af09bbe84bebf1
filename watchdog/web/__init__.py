"""HTTP: /metrics, /healthz, /readyz and the JSON API."""
