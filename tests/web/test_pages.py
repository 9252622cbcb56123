"""The dashboard and playground in a real browser, against the real API and sandbox runner.

The main test walks an account owner's path (docs/api.md, "Accounts and the dashboard"): sign
up, generate an API key, run hello world in the playground, find it in the history, narrow the
history with filters, see a TLE called a TLE, and replace the key so the first one stops
working (401 through the API).
Every page is screenshotted into artifacts/screenshots/ and must log no console errors; the
`open_page` fixture fails any test whose pages asked another origin for anything.
"""

from __future__ import annotations

import re
import uuid

import httpx
import pytest
from playwright.sync_api import Page, Route, expect

from tests.web.conftest import DESKTOP, MOBILE, ApiServer, OpenPage, Watched, screenshot

pytestmark = pytest.mark.browser

PASSWORD = "correct horse battery"
RUN_TIMEOUT_MS = 90_000
PAGES = ["/", "/signin", "/signup", "/dashboard", "/playground"]


def new_email() -> str:
    return f"web-{uuid.uuid4().hex[:10]}@example.com"


def assert_no_errors(watched: Watched, where: str) -> None:
    assert watched.errors() == [], f"console errors on {where}: {watched.errors()}"


def submit_credentials(page: Page, email: str, button: str) -> None:
    """Fill the sign-in or sign-up form already open, and submit it."""
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name=button).click()


def sign_up(page: Page, email: str) -> None:
    page.goto("/signup")
    submit_credentials(page, email, "Sign up")
    page.wait_for_url(re.compile(r"/dashboard$"))
    wait_ready(page)


def wait_ready(page: Page) -> None:
    # A page is ready after its first API answers (the dashboard waits for four): on a machine
    # at load 20 that took longer than expect()'s 5 s default.
    expect(page.locator("body")).to_have_attribute("data-ready", "true", timeout=20_000)


def open_playground_as_new_account(page: Page) -> None:
    """Signs up a new account in the page and opens the playground, ready to run."""
    sign_up(page, new_email())
    page.goto("/playground")
    wait_ready(page)


def set_code(page: Page, code: str) -> None:
    editor = page.locator(".cm-content")
    editor.click()
    page.keyboard.press("Control+a")
    # insert_text, not type: typed brackets and quotes would be auto-closed by the editor.
    page.keyboard.insert_text(code)
    expect(editor).to_contain_text(code.splitlines()[0])


def run_program(page: Page, *, keyboard: bool = False) -> str:
    """Run the editor's program; return the verdict badge's short label."""
    if keyboard:
        page.locator(".cm-content").click()
        page.keyboard.press("Control+Enter")
    else:
        page.get_by_role("button", name=re.compile(r"^Run")).click()
    expect(page.locator("#run-status")).to_contain_text("Finished", timeout=RUN_TIMEOUT_MS)
    badge = page.locator("#result .badge")
    return badge.get_attribute("data-verdict") or ""


def history_rows(page: Page) -> list[tuple[str, str, str]]:
    """(jobId, language, verdict) of each row the history table shows."""
    rows = page.locator("#history-body tr[data-job-id]")
    out = []
    for i in range(rows.count()):
        row = rows.nth(i)
        out.append(
            (
                row.get_attribute("data-job-id") or "",
                row.get_attribute("data-language") or "",
                row.locator(".badge").get_attribute("data-verdict") or "",
            )
        )
    return out


def expect_rows(page: Page, count: int) -> None:
    """Wait for the history to finish loading (a filter change marks it busy at once), then
    count its rows: counting first could pass on the rows of the previous filter."""
    expect(page.locator("#history-table")).not_to_have_attribute("aria-busy", "true")
    expect(page.locator("#history-body tr[data-job-id]")).to_have_count(count)


def api_status_with_key(server: ApiServer, key: str, job_id: str) -> int:
    response = httpx.get(
        f"{server.base}/api/v1/runner/{job_id}/result",
        headers={"X-API-KEY": key},
        timeout=10,
    )
    return response.status_code


def test_signup_key_playground_history_filters_tle_and_key_rotation(
    open_page: OpenPage, api_server: ApiServer
) -> None:
    page, watched = open_page(DESKTOP)

    # --- the landing page points to both
    page.goto("/")
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    screenshot(page, "desktop-01-home")
    assert_no_errors(watched, "/")

    # --- sign up lands on the dashboard, signed in, with free credits
    email = new_email()
    page.goto("/signup")
    screenshot(page, "desktop-02-signup")
    sign_up(page, email)
    expect(page.locator("#account-email")).to_have_text(email)
    expect(page.locator(".who")).to_have_text(email)
    credits_at_start = int(page.locator("#credits").inner_text())
    assert credits_at_start > 0
    expect(page.locator("#credits-used")).to_have_text("0")
    expect(page.locator("#key-status")).to_contain_text("no API key")
    expect(page.locator("#history-summary")).to_contain_text("No runs yet")
    screenshot(page, "desktop-03-dashboard-new-account")
    assert_no_errors(watched, "the new dashboard")

    # --- generate an API key: shown once, with a copy button and the replacement warning
    expect(page.locator("#key-warning")).to_contain_text("revokes your current key")
    page.get_by_role("button", name="Generate API Key").click()
    key_box = page.get_by_label("Your new API key")
    expect(key_box).to_be_visible()
    first_key = key_box.input_value()
    assert first_key.startswith("nr_live_"), first_key
    expect(page.locator("#new-key-warning")).to_contain_text("only time this key is shown")
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.get_by_role("button", name="Copy").click()
    expect(page.locator("#copy-status")).to_have_text(re.compile("Copied|Select the key"))
    expect(page.locator("[data-testid=key-prefix]")).to_contain_text("nr_live_")
    screenshot(page, "desktop-04-api-key")
    assert_no_errors(watched, "key generation")

    # --- the playground: hello world in Python, through the same runner API
    page.get_by_role("link", name="Playground", exact=True).click()
    page.wait_for_url(re.compile(r"/playground$"))
    wait_ready(page)
    language = page.get_by_label("Language")
    expect(language.locator("option")).to_have_count(4)
    language.select_option("python")
    set_code(page, 'print("Hello, World!")\n')
    assert run_program(page) == "Success"
    expect(page.locator("#result [data-testid=stdout]")).to_have_text("Hello, World!\n")
    expect(page.locator("#result [data-testid=execution-time]")).to_contain_text(re.compile(r"\d"))
    expect(page.locator("#result [data-testid=total-time]")).to_contain_text(re.compile(r"\d"))
    hello_job = page.locator("#result .job").get_attribute("data-job-id") or ""
    assert hello_job
    screenshot(page, "desktop-05-playground-hello")

    # the language picker swaps in each language's starter, highlighted by the editor
    language.select_option("javascript")
    expect(page.locator(".cm-content")).to_contain_text("console.log")
    expect(page.locator(".cm-content span[class]").first).to_be_visible()
    assert run_program(page) == "Success"
    expect(page.locator("#result [data-testid=stdout]")).not_to_be_empty()
    language.select_option("cpp")
    expect(page.locator(".cm-content")).to_contain_text("#include")
    language.select_option("java")
    expect(page.locator(".cm-content")).to_contain_text("class")

    # --- a TLE is called a TLE (run with Ctrl+Enter from the editor)
    language.select_option("python")
    set_code(page, "while True:\n    pass\n")
    assert run_program(page, keyboard=True) == "TLE"
    expect(page.locator("#result [data-testid=verdict]")).to_have_text("Time Limit Exceeded")
    tle_job = page.locator("#result .job").get_attribute("data-job-id") or ""
    screenshot(page, "desktop-06-playground-tle")
    assert_no_errors(watched, "the playground")

    # --- "see it in your history" opens the dashboard on that job
    page.get_by_role("link", name="See it in your history").click()
    page.wait_for_url(re.compile(r"/dashboard\?job="))
    wait_ready(page)
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    expect(dialog.locator("[data-testid=job-id]")).to_have_text(tle_job)
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(page).not_to_have_url(re.compile("job="))

    # --- the history has all three, newest first; credits charged for the two successes only
    expect_rows(page, 3)
    rows = history_rows(page)
    assert rows[0] == (tle_job, "python", "TLE")
    assert rows[2] == (hello_job, "python", "Success")
    assert rows[1][1:] == ("javascript", "Success")
    expect(page.locator("#credits")).to_have_text(str(credits_at_start - 2))
    expect(page.locator("#credits-used")).to_have_text("2")
    expect(page.locator("#stat-count")).to_have_text("3")
    expect(page.locator("#chart-success circle.series-dot")).not_to_have_count(0)
    expect(page.locator("#chart-time circle.series-dot")).not_to_have_count(0)
    screenshot(page, "desktop-07-dashboard-history")

    # --- filters narrow it
    page.get_by_label("Language", exact=True).select_option("javascript")
    expect_rows(page, 1)
    assert history_rows(page)[0][1] == "javascript"
    page.get_by_label("Language", exact=True).select_option("python")
    expect_rows(page, 2)
    page.get_by_label("Status").select_option("success")
    expect_rows(page, 1)
    assert history_rows(page) == [(hello_job, "python", "Success")]
    page.get_by_label("Status").select_option("failed")
    expect_rows(page, 1)
    assert history_rows(page) == [(tle_job, "python", "TLE")]
    page.get_by_label("Status").select_option("")
    page.get_by_label("Verdict").select_option("TLE")
    expect_rows(page, 1)
    page.get_by_role("button", name="Clear").click()
    expect_rows(page, 3)
    today, tomorrow = page.evaluate(
        "() => [0, 1].map((d) => new Date(Date.now() + d * 864e5).toLocaleDateString('en-CA'))"
    )
    page.get_by_label("From", exact=True).fill(tomorrow)
    expect(page.locator("#history-summary")).to_contain_text("No runs match")
    expect_rows(page, 0)
    page.get_by_label("From", exact=True).fill(today)
    page.get_by_label("To", exact=True).fill(today)
    expect_rows(page, 3)
    assert f"from={today}" in page.url  # filters are kept in the address, so it can be shared
    screenshot(page, "desktop-08-dashboard-filtered")
    page.get_by_role("button", name="Clear").click()
    expect_rows(page, 3)

    # --- a job's detail: stdout, stderr, verdict, timings
    page.get_by_role("button", name=f"View job {hello_job}").click()
    expect(dialog).to_be_visible()
    expect(dialog.locator("[data-testid=stdout]")).to_have_text("Hello, World!\n")
    expect(dialog.locator("[data-testid=verdict]")).to_have_text("Success")
    expect(dialog.locator("[data-testid=job-id]")).to_have_text(hello_job)
    expect(dialog.locator("[data-testid=execution-time]")).to_contain_text(re.compile(r"\d"))
    screenshot(page, "desktop-09-job-detail", full_page=False)
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    page.get_by_role("button", name=f"View job {tle_job}").click()
    expect(dialog.locator("[data-testid=verdict]")).to_have_text("Time Limit Exceeded")
    expect(dialog.locator(".output-stderr")).to_be_visible()
    dialog.get_by_role("button", name="Close job details").click()
    expect(dialog).to_be_hidden()
    assert_no_errors(watched, "the dashboard")

    # --- the first key works through the API; a second key revokes it at once (401)
    assert api_status_with_key(api_server, first_key, hello_job) == 200
    page.get_by_role("button", name="Generate API Key").click()
    confirm = page.locator("#key-confirm")
    expect(confirm).to_be_visible()
    expect(confirm).to_contain_text("stops working")
    screenshot(page, "desktop-10-key-replace-confirm")
    page.get_by_role("button", name="Yes, replace my key").click()
    expect(confirm).to_be_hidden()
    expect(key_box).not_to_have_value(first_key)
    second_key = key_box.input_value()
    assert second_key.startswith("nr_live_") and second_key != first_key
    assert api_status_with_key(api_server, first_key, hello_job) == 401
    assert api_status_with_key(api_server, second_key, hello_job) == 200
    assert_no_errors(watched, "key replacement")

    # --- sign out; the dashboard then asks to sign in, and comes back after it
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r"/signin\?signedout=1$"))
    expect(page.locator("#page-notice")).to_have_text("You are signed out.")
    screenshot(page, "desktop-11-signed-out")
    assert_no_errors(watched, "sign-out")
    page.goto("/dashboard")
    page.wait_for_url(re.compile(r"/signin\?next=%2Fdashboard$"))
    expect(page.locator("#page-notice")).to_contain_text("Sign in to continue")
    # the one expected error: GET /api/v1/account answered 401 before the redirect
    assert all("401" in e for e in watched.errors()), watched.errors()
    watched.clear_errors()
    submit_credentials(page, email, "Sign in")
    page.wait_for_url(re.compile(r"/dashboard$"))
    wait_ready(page)
    expect_rows(page, 3)
    assert_no_errors(watched, "sign-in")


def test_wrong_password_and_duplicate_email_are_explained(open_page: OpenPage) -> None:
    page, _ = open_page(DESKTOP)
    email = new_email()
    sign_up(page, email)
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r"/signin"))
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("Wrong email or password.")
    expect(page.get_by_label("Password")).to_be_focused()
    screenshot(page, "desktop-12-signin-wrong-password")
    page.goto("/signup")
    submit_credentials(page, email, "Sign up")
    expect(page.get_by_role("alert")).to_contain_text("already exists")


def test_pages_at_360px_wide(open_page: OpenPage) -> None:
    page, watched = open_page(MOBILE)
    for path in ["/", "/signin", "/signup"]:
        page.goto(path)
        assert_fits(page, path)
        screenshot(page, f"mobile{path.replace('/', '-') if path != '/' else '-home'}")
    sign_up(page, new_email())
    page.get_by_role("button", name="Generate API Key").click()
    expect(page.get_by_label("Your new API key")).to_be_visible()
    assert_fits(page, "/dashboard")
    page.goto("/playground")
    wait_ready(page)
    assert run_program(page) == "Success"
    assert_fits(page, "/playground")
    screenshot(page, "mobile-playground")
    page.goto("/dashboard")
    wait_ready(page)
    expect_rows(page, 1)
    assert_fits(page, "/dashboard")
    screenshot(page, "mobile-dashboard")
    page.get_by_role("button", name=re.compile("^View job ")).click()
    expect(page.get_by_role("dialog")).to_be_visible()
    screenshot(page, "mobile-job-detail", full_page=False)
    assert_no_errors(watched, "the 360 px pages")


def assert_fits(page: Page, where: str) -> None:
    overflow = page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"{where} is {overflow}px wider than a 360px screen"


def test_keyboard_reaches_everything_with_visible_focus(open_page: OpenPage) -> None:
    page, watched = open_page(DESKTOP)
    page.goto("/signin")
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    assert focus_outline(page) != "none"
    page.keyboard.press("Enter")
    order = tab_through(page, 4)
    assert order[:3] == ["email", "password", "auth-submit"], order

    open_playground_as_new_account(page)
    page.get_by_label("Language").focus()
    assert focus_outline(page) != "none"
    order = tab_through(page, 5)
    # picker → reset → run → the editor → stdin: the editor does not trap Tab
    assert order[:2] == ["reset-code", "run"], order
    assert "stdin" in order, order
    # stdin reaches the program; Ctrl+Enter runs from the stdin box too
    set_code(page, "print(input().upper())\n")
    page.get_by_label("Input (stdin)").fill("from the keyboard")
    page.keyboard.press("Control+Enter")
    expect(page.locator("#run-status")).to_contain_text("Finished", timeout=RUN_TIMEOUT_MS)
    expect(page.locator("#result [data-testid=stdout]")).to_have_text("FROM THE KEYBOARD\n")

    page.goto("/dashboard")
    wait_ready(page)
    page.get_by_role("button", name=re.compile("^View job ")).focus()
    assert focus_outline(page) != "none"
    page.keyboard.press("Enter")
    expect(page.get_by_role("dialog")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog")).to_be_hidden()
    # focus goes back to the button that opened the dialog
    expect(page.get_by_role("button", name=re.compile("^View job "))).to_be_focused()
    assert_no_errors(watched, "keyboard use")


def tab_through(page: Page, presses: int) -> list[str]:
    """Press Tab; return an id (or class, for the editor) of each element focused."""
    seen = []
    for _ in range(presses):
        page.keyboard.press("Tab")
        seen.append(
            page.evaluate(
                "() => { const e = document.activeElement;"
                " return e.id || (e.classList.contains('cm-content') ? 'editor' : e.tagName); }"
            )
        )
    return seen


def focus_outline(page: Page) -> str:
    return str(
        page.evaluate(
            "() => { const s = getComputedStyle(document.activeElement);"
            " return s.outlineStyle === 'none' ? 'none' : s.outlineWidth; }"
        )
    )


def test_every_page_is_served_from_the_api_with_no_other_origin(
    open_page: OpenPage, api_server: ApiServer
) -> None:
    page, watched = open_page(DESKTOP)
    # Any request that leaves the origin fails, as it would on a machine with no internet.
    page.context.route(
        re.compile(r"^(?!" + re.escape(api_server.base) + r")https?://"),
        lambda route: route.abort(),
    )
    sign_up(page, new_email())
    for path in PAGES:
        response = page.goto(path)
        assert response is not None and response.status == 200, path
        expect(page.locator("h1")).to_be_visible()
        if path in ("/dashboard", "/playground"):
            wait_ready(page)
        assert unnamed_controls(page) == [], f"controls with no accessible name on {path}"
    assert watched.requests, "no requests seen"
    assert watched.foreign_requests() == []
    assert any("/assets/" in url for url in watched.requests)
    assert_no_errors(watched, "the pages")
    # A page's HTML names only same-origin, bundled assets.
    for path in PAGES:
        html = httpx.get(f"{api_server.base}{path}", timeout=10).text
        assert not re.search(r"""(src|href)=["']?(https?:)?//""", html), path


def test_history_pages_through_runs_made_with_the_api_key(
    open_page: OpenPage, api_server: ApiServer
) -> None:
    """Runs submitted by a client with X-API-KEY show in the dashboard, 20 to a page."""
    page, watched = open_page(DESKTOP)
    sign_up(page, new_email())
    page.get_by_role("button", name="Generate API Key").click()
    expect(page.get_by_label("Your new API key")).to_have_value(re.compile("^nr_live_"))
    key = page.get_by_label("Your new API key").input_value()
    headers = {"X-API-KEY": key}
    job_ids = []
    with httpx.Client(base_url=api_server.base, headers=headers, timeout=30) as client:
        for i in range(23):
            body = {"code": f"print({i})", "language": "python", "input": ""}
            response = client.post("/api/v1/runner/submit", json=body)
            assert response.status_code == 200, response.text
            job_ids.append(response.json()["data"]["jobId"])
        for job_id in job_ids:
            result = client.get(f"/api/v1/runner/{job_id}/result", params={"wait": 30})
            assert result.json()["data"]["status"] == "success", result.text
    page.reload()
    wait_ready(page)
    expect_rows(page, 20)
    expect(page.locator("#page-info")).to_have_text("Page 1 of 2")
    expect(page.locator("#history-summary")).to_contain_text("1\u201320 of 23")
    assert history_rows(page)[0][0] == job_ids[-1]  # newest first
    expect(page.get_by_role("button", name="Previous")).to_be_disabled()
    page.get_by_role("button", name="Next").click()
    expect_rows(page, 3)
    expect(page.locator("#page-info")).to_have_text("Page 2 of 2")
    assert history_rows(page)[-1][0] == job_ids[0]
    expect(page.get_by_role("button", name="Next")).to_be_disabled()
    assert "page=2" in page.url
    page.reload()  # the page number is kept in the address
    wait_ready(page)
    expect_rows(page, 3)
    page.get_by_role("button", name="Previous").click()
    expect_rows(page, 20)
    expect(page.locator("#stat-count")).to_have_text("23")
    expect(page.locator("#stat-success")).to_have_text("100%")
    assert_no_errors(watched, "the paginated history")


# The policy the pages are built to run under: everything from this origin only, scripts with
# no inline code and no eval. Styles need 'unsafe-inline' for CodeMirror alone: it writes its
# theme into a <style> element it adds to the document (style-mod) and sets style attributes.
STRICT_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self'; connect-src 'self'; font-src 'self'; object-src 'none'; "
    "base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)


def test_pages_work_under_a_strict_content_security_policy(open_page: OpenPage) -> None:
    """No inline script and no eval: the pages keep working (and log no CSP violation) when
    served with a policy that allows only this origin's own files."""
    page, watched = open_page(DESKTOP)

    def add_policy(route: Route) -> None:
        if route.request.resource_type != "document":
            route.continue_()
            return
        response = route.fetch()
        route.fulfill(
            response=response,
            headers={**response.headers, "content-security-policy": STRICT_CSP},
        )

    page.context.route("**/*", add_policy)
    open_playground_as_new_account(page)
    set_code(page, 'print("under a policy")\n')
    assert run_program(page) == "Success"
    expect(page.locator("#result [data-testid=stdout]")).to_have_text("under a policy\n")
    page.goto("/dashboard")
    wait_ready(page)
    expect_rows(page, 1)
    page.goto("/")
    assert_no_errors(watched, "pages under a strict CSP")


UNNAMED_CONTROLS_JS = """() => {
  const text = (id) => document.getElementById(id)?.textContent ?? "";
  const nameOf = (el) =>
    (el.getAttribute("aria-label") ?? "").trim() ||
    (el.getAttribute("aria-labelledby") ?? "").split(/\\s+/).map(text).join(" ").trim() ||
    Array.from(el.labels ?? []).map((l) => l.textContent).join(" ").trim() ||
    (["BUTTON", "A"].includes(el.tagName) ? el.textContent.trim() : "") ||
    (el.getAttribute("title") ?? "").trim();
  const problems = [];
  const controls = "input, select, textarea, button, a[href], [role=textbox], [tabindex='0']";
  for (const el of document.querySelectorAll(controls)) {
    if (el.type === "hidden" || el.closest("[hidden]")) continue;
    if (!nameOf(el)) problems.push(el.outerHTML.slice(0, 120));
  }
  if (!document.documentElement.lang) problems.push("<html> has no lang");
  const h1s = document.querySelectorAll("h1").length;
  if (h1s !== 1) problems.push(`${h1s} h1 headings`);
  return problems;
}"""


def unnamed_controls(page: Page) -> list[str]:
    """Form controls, buttons and links with no accessible name; a missing lang or h1."""
    return list(page.evaluate(UNNAMED_CONTROLS_JS))


def test_early_account_runs_out_of_credits_with_a_clear_message(
    open_page: OpenPage, api_server: ApiServer
) -> None:
    """An account made by the operator (`coderun account create --early`) with one credit:
    the dashboard marks it early, one success spends the credit, the next run is refused."""
    email = new_email()
    api_server.cli_with_input(
        f"{PASSWORD}\n", "account", "create", email, "--early", "--credits", "1", "--password-stdin"
    )
    page, watched = open_page(DESKTOP)
    page.goto("/signin")
    submit_credentials(page, email, "Sign in")
    page.wait_for_url(re.compile(r"/dashboard$"))
    wait_ready(page)
    expect(page.locator("#early-note")).to_be_visible()
    expect(page.locator("#credits")).to_have_text("1")
    expect(page.locator("[data-testid=key-prefix]")).to_contain_text("nr_live_")
    page.goto("/playground")
    wait_ready(page)
    assert run_program(page) == "Success"
    expect(page.locator("#credits-left")).to_contain_text("Credits left: 0")
    page.get_by_role("button", name=re.compile(r"^Run")).click()
    expect(page.get_by_role("alert")).to_contain_text("Out of credits")
    expect(page.locator("#run-status")).to_have_text("The run did not complete.")
    screenshot(page, "desktop-13-playground-no-credits")
    # the refused submit (402) is the one console error: the browser logs the failed request
    assert all("402" in e for e in watched.errors()), watched.errors()


def test_history_and_job_dialog_follow_a_running_job(
    open_page: OpenPage, api_server: ApiServer
) -> None:
    """A job still running when the dashboard opens turns into its verdict without a reload,
    in the table and in its open detail dialog. Five test cases of 0.5 s each (and a fresh
    interpreter each) keep it running long enough to be seen so even on a loaded machine,
    each well inside its 3 s time limit."""
    page, watched = open_page(DESKTOP)
    sign_up(page, new_email())
    page.get_by_role("button", name="Generate API Key").click()
    key_box = page.get_by_label("Your new API key")
    expect(key_box).to_have_value(re.compile("^nr_live_"))
    body = {
        "code": "import time\ntime.sleep(0.5)\nprint('done')",
        "language": "python",
        "testCases": [{"input": "", "expectedOutput": "done"}] * 5,
    }
    response = httpx.post(
        f"{api_server.base}/api/v1/runner/submit",
        json=body,
        headers={"X-API-KEY": key_box.input_value()},
        timeout=10,
    )
    job_id = response.json()["data"]["jobId"]
    page.reload()
    wait_ready(page)
    row_badge = page.locator(f"#history-body tr[data-job-id='{job_id}'] .badge")
    if row_badge.get_attribute("data-verdict") not in ("Queued", "Running"):
        pytest.skip("the job finished before the dashboard could show it running")
    page.get_by_role("button", name=f"View job {job_id}").click()
    dialog = page.get_by_role("dialog")
    badge = dialog.locator(".job-verdict .badge")
    expect(badge).to_be_visible()
    # On a loaded machine the history's own refresh may have seen it end before the click.
    if badge.get_attribute("data-verdict") not in ("Queued", "Running"):
        pytest.skip("the job finished before its dialog could show it running")
    expect(dialog.locator("[data-testid=verdict]")).to_have_text("Success", timeout=30_000)
    expect(dialog.locator("[data-testid=cases-summary]")).to_have_text("5/5 passed")
    expect(dialog.locator("[data-testid=case-stdout]").first).to_have_text("done\n")
    dialog.get_by_role("button", name="Close job details").click()
    expect(row_badge).to_have_attribute("data-verdict", "Success", timeout=30_000)
    expect(
        page.locator(f"#history-body tr[data-job-id='{job_id}'] [data-testid=cases-passed]")
    ).to_have_text("5/5 passed")
    assert_no_errors(watched, "a running job")
