"""The planner pages over HTTP: sign-in with CSRF, search, product page with reasons and the
waterfall, override request, the approver queue, segments, and the promote button for MLOps only."""

from __future__ import annotations

import re

from store.audit import read_audit

SKU = "SKU000001"


def _csrf(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def _login(client, served, name: str) -> None:
    page = client.get("/login")
    r = client.post(
        "/login",
        data={"name": name, "token": served.tokens[name], "csrf": _csrf(page.text)},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie


def test_pages_need_a_session_and_forms_need_the_csrf_token(api, served):
    client, _auth = api
    r = client.get("/search", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login?next=/search"
    page = client.get("/login")
    r = client.post("/login", data={"name": "pat", "token": served.tokens["pat"], "csrf": "x"})
    assert r.status_code == 403 and "CSRF" in r.json()["detail"]
    r = client.post(
        "/login", data={"name": "ann", "token": served.tokens["pat"], "csrf": _csrf(page.text)}
    )
    assert r.status_code == 401 and "do not match" in r.text
    _login(client, served, "pat")
    body = {"segment": "other", "reason": "x", "until": "2099-01-01", "csrf": "forged"}
    r = client.post(f"/products/{SKU}/override", data=body)
    assert r.status_code == 403
    r = client.post("/api/overrides", json={"sku_id": SKU, "segment": "other", "reason": "x"})
    assert r.status_code == 401 and "Bearer" in r.json()["detail"]  # the cookie cannot write


def test_planner_requests_and_approver_approves_through_the_pages(api, served):
    client, _auth = api
    _login(client, served, "pat")
    r = client.get("/search", params={"q": SKU})
    assert r.status_code == 200 and f'href="/products/{SKU}"' in r.text
    page = client.get(f"/products/{SKU}")
    assert page.status_code == 200
    assert "Why this segment" in page.text and "<svg" in page.text and "chance of" in page.text
    assert "log-odds" not in page.text
    assert "so reorder when stock falls to" in page.text  # how the policy follows
    assert "Promote" not in client.get("/models").text
    body = {"segment": "other", "reason": "clearance sale", "until": "2099-01-31"}
    r = client.post(f"/products/{SKU}/override", data={**body, "csrf": _csrf(page.text)})
    assert r.status_code == 200 and "requested; an approver decides" in r.text

    client.cookies.clear()
    _login(client, served, "ann")
    queue = client.get("/queue")
    oid = re.search(r"Approve override (\d+)", queue.text).group(1)
    r = client.post(f"/overrides/{oid}/approve", data={"csrf": _csrf(queue.text)})
    assert f"Override {oid} approved by ann." in r.text
    audit = read_audit(served.ws, SKU)
    assert audit["event"].iloc[0] == "first_assignment"  # written by the scoring job
    assert audit["who"].tolist()[1:] == ["pat", "ann"]
    product = client.get(f"/products/{SKU}").text
    assert "override_approve" in product and ">ann<" in product and ">pat<" in product
    assert client.get("/segments").status_code == 200


def test_promote_button_only_for_mlops(api, served):
    client, _auth = api
    _login(client, served, "ops")
    page = client.get("/models")
    assert "Promote v2 to champion" in page.text
    client.cookies.clear()
    _login(client, served, "dan")
    assert "Promote v2" not in client.get("/models").text
    r = client.post("/models/promote", data={"version": "2", "csrf": "x"})
    assert r.status_code == 403
