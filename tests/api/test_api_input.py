"""Bad input over HTTP: unknown product 404, malformed JSON 422 naming the field, oversize bodies
413, injection text in search treated as text; search and the export feed by their parameters."""

from __future__ import annotations

import io

import pandas as pd

from api.app import MAX_BODY_BYTES


def test_unknown_product_is_404_with_a_message(api):
    client, auth = api
    r = client.get("/api/products/NOPE-1", headers=auth("pat"))
    assert r.status_code == 404
    assert r.json()["detail"] == (
        "product 'NOPE-1' is not in the newest scored assignments (2,000 products); check the "
        "id with GET /api/products?q=..."
    )


def test_malformed_json_is_422_naming_the_problem(api):
    client, auth = api
    h = {**auth("pat"), "Content-Type": "application/json"}
    r = client.post("/api/overrides", content=b'{"sku_id": "SKU000001",', headers=h)
    assert r.status_code == 422 and "body: not valid JSON" in r.json()["detail"]
    r = client.post("/api/overrides", json={"segment": "other", "reason": "x"}, headers=h)
    assert r.status_code == 422
    assert r.json()["fields"] == ["sku_id"]
    assert r.json()["detail"] == "invalid request: sku_id: Field required"
    r = client.post(
        "/api/overrides",
        json={"sku_id": "SKU000001", "segment": "other", "reason": "x", "until": "soon"},
        headers=h,
    )
    assert r.status_code == 422 and r.json()["fields"] == ["until"]
    r = client.post(
        "/api/overrides",
        json={"sku_id": "SKU000001", "segment": "nope", "reason": "x"},
        headers=h,
    )
    assert r.status_code == 409
    assert r.json()["detail"].startswith(
        "override rejected: segment 'nope' is not in the catalogue (configs/segments.yaml)"
    )
    r = client.post(
        "/api/overrides",
        json={"sku_id": "SKU00001", "segment": "other", "reason": "x"},
        headers=h,
    )
    assert r.status_code == 409
    assert r.json()["detail"].startswith(
        "override rejected: product 'SKU00001' is not in the newest snapshot; close matches: "
    )


def test_oversize_bodies_are_refused_with_413(api):
    client, auth = api
    big = b'{"sku_id": "' + b"x" * (MAX_BODY_BYTES + 10) + b'"}'
    h = {**auth("pat"), "Content-Type": "application/json"}
    r = client.post("/api/overrides", content=big, headers=h)
    assert r.status_code == 413
    assert r.json()["detail"] == f"request body over {MAX_BODY_BYTES} bytes refused"

    def chunks():  # no content-length: refused while streaming
        for _ in range(MAX_BODY_BYTES // 1000 + 2):
            yield b"x" * 1000

    r = client.post("/api/overrides", content=chunks(), headers=h)
    assert r.status_code == 413


def test_injection_text_in_search_is_plain_text(api):
    client, auth = api
    for q in ("'; DROP TABLE users; --", ".*", "SKU0000[0-9]", "<script>alert(1)</script>"):
        r = client.get("/api/products", params={"q": q}, headers=auth("pat"))
        assert r.status_code == 200 and r.json()["total"] == 0, q
    r = client.get("/api/products", params={"q": "sku00000"}, headers=auth("pat"))
    assert r.json()["total"] == 10  # SKU000000..SKU000009, case-insensitive
    assert client.get("/api/products", headers=auth("pat")).status_code == 200  # users intact


def test_search_by_segment_and_flag_and_drill_down(api):
    client, auth = api
    seg = client.get("/api/segments", headers=auth("pat")).json()
    counts = {s["name"]: s["products"] for s in seg["segments"]}
    assert sum(counts.values()) == seg["products"] == 2000
    planned = [s for s in seg["segments"] if s["products_with_policy"]]
    assert planned and all(0 < s["planned_fill_rate"] <= 1 for s in planned)
    r = client.get(
        "/api/products", params={"segment": "lumpy_sellers", "limit": 500}, headers=auth("pat")
    )
    assert r.json()["total"] == counts["lumpy_sellers"]
    assert {p["segment"] for p in r.json()["products"]} == {"lumpy_sellers"}
    r = client.get("/api/segments/lumpy_sellers/products", headers=auth("pat"))
    assert r.json()["total"] == counts["lumpy_sellers"]
    r = client.get("/api/products", params={"flag": "provisional"}, headers=auth("pat"))
    assert all(p["provisional"] for p in r.json()["products"])
    assert client.get("/api/products?flag=bogus", headers=auth("pat")).status_code == 422
    r = client.get("/api/segments/bogus/products", headers=auth("pat"))
    assert r.status_code == 404 and "segments: " in r.json()["detail"]


def test_export_feed_pages_json_and_csv(api):
    client, auth = api
    r = client.get("/api/export", params={"page_size": 750}, headers=auth("ops"))
    body = r.json()
    assert (body["total"], body["next_page"], len(body["rows"])) == (2000, 2, 750)
    r = client.get("/api/export", params={"page_size": 750, "page": 3}, headers=auth("ops"))
    assert (len(r.json()["rows"]), r.json()["next_page"]) == (500, None)
    r = client.get(
        "/api/export",
        params={"table": "policies", "format": "csv", "page_size": 10},
        headers=auth("ops"),
    )
    assert r.headers["content-type"].startswith("text/csv")
    assert r.headers["x-total-count"] == "2000" and r.headers["x-next-page"] == "2"
    frame = pd.read_csv(io.StringIO(r.text))
    assert len(frame) == 10 and {"sku_id", "reorder_point", "safety_stock"} <= set(frame.columns)
    run_id = body["rows"][0]["run_id"]
    r = client.get("/api/export", params={"since": run_id}, headers=auth("ops"))
    assert r.json()["total"] == 0  # nothing written after the newest run
    r = client.get("/api/export", params={"since": "score-nope"}, headers=auth("ops"))
    assert r.status_code == 404 and "no scoring run 'score-nope'" in r.json()["detail"]


def test_a_workspace_not_scored_yet_answers_empty_not_500(serving_ws):
    from fastapi.testclient import TestClient

    from api.app import create_app
    from ml.config.files import load_roles_config
    from store.users import add_user

    ws, _ref = serving_ws
    token = add_user(ws, "pat", "planner", list(load_roles_config(ws).roles), "test")
    client = TestClient(create_app(ws))
    h = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/products", headers=h).json()["total"] == 0
    assert client.get("/api/segments", headers=h).json()["products"] == 0
    r = client.get("/api/products/SKU000001", headers=h)
    assert r.status_code == 404 and "(0 products)" in r.json()["detail"]
    assert client.get("/api/export", headers=h).json()["total"] == 0
