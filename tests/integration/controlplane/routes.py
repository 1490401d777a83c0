"""routes - the routes the control plane's source declares and the ones its
OpenAPI document describes, as sets of (METHOD, "/path/{}") pairs."""

import json
import os
import re

METHODS = ("get", "put", "post", "patch", "delete")
ROUTE_RX = re.compile(r'\{\s*"(GET|PUT|POST|PATCH|DELETE)",\s*"(/[^"]*)"')


def normalise(path):
    return re.sub(r"\{[^}]+\}", "{}", path)


def source_dir():
    return os.environ.get("CLAW_SOURCE_DIR", os.getcwd())


def source_routes_raw():
    """Every {"METHOD", "/path/{param}", ...} entry of
    controlplane/api/*.c, parameter names kept."""
    api = os.path.join(source_dir(), "controlplane", "api")
    found = set()
    for name in sorted(os.listdir(api)):
        if name.endswith(".c"):
            with open(os.path.join(api, name)) as f:
                for m in ROUTE_RX.finditer(f.read()):
                    found.add((m.group(1), m.group(2)))
    return found


def source_routes():
    return {(m, normalise(p)) for m, p in source_routes_raw()}


def openapi_doc():
    with open(os.path.join(source_dir(), "controlplane",
                           "openapi.json")) as f:
        return json.load(f)


def doc_operations(doc=None):
    """(METHOD, raw path, operation object) of every documented route."""
    doc = doc or openapi_doc()
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method in METHODS:
                yield method.upper(), path, op


def doc_routes(doc=None):
    return {(m, normalise(p)) for m, p, _ in doc_operations(doc)}


def is_public(op, doc=None):
    doc = doc or openapi_doc()
    return op.get("security", doc.get("security")) == []
