"""The built-in alert rules: one registry, each rule declared once (registry.RULES).

A rule is pure: it reads one published ClusterState (and the time) and returns findings.
Nothing here does I/O or knows the config: the config validates its overrides against the
registry, alerting evaluates it, the docs are generated from it.
"""
