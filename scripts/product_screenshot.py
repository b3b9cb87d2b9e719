"""The README's product-page screenshot, taken from the last demo's real outputs in Chromium.

Serves the workspace's application on a free loopback port with a throw-away user database (the
demo's own users are not touched), signs in as a planner, opens the product page and saves it.

    .venv/bin/python scripts/product_screenshot.py [--config configs/strata.yaml] [--sku 85123A]
        [--out docs/img/product_page.png]
"""

from __future__ import annotations

import argparse
import shutil
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", type=Path, default=ROOT / "configs" / "strata.yaml")
    parser.add_argument("--sku", default="85123A")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "img" / "product_page.png")
    args = parser.parse_args(argv)
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        print("Debian chromium is not installed: run `make setup`", file=sys.stderr)
        return 1
    import uvicorn
    from playwright.sync_api import sync_playwright

    from api.app import create_app
    from ml.config.files import load_roles_config, load_workspace
    from store.users import add_user

    ws = load_workspace(args.config)
    with tempfile.TemporaryDirectory() as tmp:
        users = f"sqlite:///{Path(tmp) / 'users.db'}"
        ws = ws.model_copy(update={"database": ws.database.model_copy(update={"url": users})})
        roles = list(load_roles_config(ws).roles)
        token = add_user(ws, "planner", "planner", roles, "product_screenshot")
        port = _free_port()
        server = uvicorn.Server(
            uvicorn.Config(create_app(ws), host="127.0.0.1", port=port, log_level="warning")
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.05)
        base = f"http://127.0.0.1:{port}"
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
                page = browser.new_context(viewport={"width": 1200, "height": 1400}).new_page()
                page.goto(f"{base}/login")
                page.get_by_label("User name").fill("planner")
                page.get_by_label("API token").fill(token)
                page.get_by_role("button", name="Sign in").click()
                page.wait_for_url(f"{base}/search")
                page.goto(f"{base}/products/{args.sku}")
                page.locator("svg.waterfall").wait_for()
                args.out.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(args.out))  # the first screen: reasons, waterfall, policy
                browser.close()
        finally:
            server.should_exit = True
            thread.join(timeout=10)
    print(f"{args.out}: product page of {args.sku} from the outputs of {args.config}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
