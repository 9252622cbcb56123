"""The playground's "Test cases" panel in Chromium at 360 px, against the real judge.

Cases are added and removed with their numbering kept, a run gives a badge per case and, for a
wrong one, its expected and actual output side by side; the compare mode and stop-on-first-failure
reach the server (an exact comparison fails where the trimmed one passed, and the rest is
skipped); the history says "2/3 passed". Real sandbox runs, no fake judge.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.web.conftest import DESKTOP, MOBILE, OpenPage, screenshot
from tests.web.test_pages import (
    RUN_TIMEOUT_MS,
    assert_fits,
    assert_no_errors,
    expect_rows,
    open_playground_as_new_account,
    set_code,
    wait_ready,
)

pytestmark = pytest.mark.browser

DOUBLER = "n = int(input())\nprint(n * 2)\n"


def case_result(page: Page, index: int) -> Locator:
    return page.locator(f"#result .case-result[data-index='{index}']")


def run_and_wait(page: Page) -> None:
    page.get_by_role("button", name=re.compile(r"^Run")).click()
    expect(page.locator("#run-status")).to_contain_text("Finished", timeout=RUN_TIMEOUT_MS)


def test_cases_badges_diff_compare_stop_and_history(open_page: OpenPage) -> None:
    page, watched = open_page(MOBILE)
    open_playground_as_new_account(page)
    set_code(page, DOUBLER)
    stdin = page.get_by_label("Input (stdin)")
    expect(stdin).to_be_enabled()
    expect(page.locator("#case-settings")).to_be_hidden()

    # --- four cases added (each new input takes the focus), the second removed again
    add = page.get_by_role("button", name="Add test case")
    for given, wanted in [("1", "2"), ("99", "junk"), ("2", "4"), ("3", "7")]:
        add.click()
        number = page.locator("li.case-editor").count()
        field = page.get_by_label(f"Input of case {number}", exact=True)
        expect(field).to_be_focused()
        page.keyboard.insert_text(given)
        page.get_by_label(f"Expected output of case {number}", exact=True).fill(wanted)
    expect(page.locator("#case-count")).to_have_text("4 cases")
    expect(stdin).to_be_disabled()  # each case gives its own input
    # removed from the keyboard: its button focused, then Enter
    page.get_by_role("button", name="Remove case 2", exact=True).focus()
    page.keyboard.press("Enter")
    expect(page.locator("li.case-editor")).to_have_count(3)
    # the cases after it moved up: the old third is now case 2, and the focus stayed in the list
    expect(page.get_by_label("Input of case 2", exact=True)).to_have_value("2")
    expect(page.get_by_label("Expected output of case 3", exact=True)).to_have_value("7")
    expect(page.get_by_role("button", name="Remove case 2", exact=True)).to_be_focused()
    expect(page.get_by_label("Compare outputs")).to_have_value("trimmed")
    assert_fits(page, "the playground with three cases")

    # --- run: 2 of 3 pass; the wrong one shows expected and actual side by side
    run_and_wait(page)
    expect(page.locator("#run-status")).to_contain_text("2/3 passed")
    expect(page.locator("#result [data-testid=cases-summary]")).to_have_text("2/3 passed")
    for index, badge in [(0, "Passed"), (1, "Passed"), (2, "Failed")]:
        expect(case_result(page, index).locator("[data-testid=case-badge]")).to_have_text(badge)
    wrong = case_result(page, 2)
    expect(wrong).to_have_attribute("data-verdict", "failed")
    expect(wrong.locator("[data-testid=case-verdict]")).to_have_text("Wrong Answer")
    changed = wrong.locator("[data-testid=diff] tr[data-diff=changed]")
    expect(changed).to_have_count(1)
    expect(changed.locator("[data-side=expected]")).to_have_text("7")
    expect(changed.locator("[data-side=actual]")).to_have_text("6")
    expect(case_result(page, 0).locator("[data-testid=diff]")).to_have_count(0)
    first_job = page.locator("#result .job").get_attribute("data-job-id") or ""
    assert_fits(page, "the playground with a diff")
    screenshot(page, "mobile-playground-cases-diff")

    # --- exact comparison and stop on the first failure: "2" is not "2\n", the rest skipped
    page.get_by_label("Compare outputs").select_option("exact")
    page.get_by_label("Stop at the first failing case").check()
    run_and_wait(page)
    expect(page.locator("#run-status")).to_contain_text("0/3 passed")
    expect(case_result(page, 0).locator("[data-testid=case-badge]")).to_have_text("Failed")
    for index in (1, 2):
        expect(case_result(page, index).locator("[data-testid=case-badge]")).to_have_text("Skipped")
    expect(case_result(page, 0).locator("[data-testid=diff]")).to_contain_text(
        "The program's output ends with a newline; the expected output does not."
    )
    second_job = page.locator("#result .job").get_attribute("data-job-id") or ""
    assert_no_errors(watched, "the playground's test cases")

    # --- the history: "x/y passed" beside each verdict, and the cases in the job's details
    page.goto("/dashboard")
    wait_ready(page)
    expect_rows(page, 2)
    row = page.locator("#history-body tr[data-job-id]")
    expect(row.nth(0)).to_have_attribute("data-job-id", second_job)
    expect(row.nth(0).locator("[data-testid=cases-passed]")).to_have_text("0/3 passed")
    expect(row.nth(1).locator("[data-testid=cases-passed]")).to_have_text("2/3 passed")
    assert_fits(page, "the history with cases")
    # both runs ended WrongAnswer (the first failing case's type): the verdict filter knows it
    page.get_by_label("Verdict").select_option("TLE")
    expect_rows(page, 0)
    page.get_by_label("Verdict").select_option("WrongAnswer")
    expect_rows(page, 2)
    page.get_by_label("Verdict").select_option("")
    # Each passing case costs a credit, nothing else does: 2 in all.
    expect(page.locator("#credits-used")).to_have_text("2")
    page.get_by_role("button", name=f"View job {first_job}").click()
    dialog = page.get_by_role("dialog")
    expect(dialog.locator("[data-testid=cases-summary]")).to_have_text("2/3 passed")
    expect(dialog.locator(".case-result[data-index='2'] [data-testid=case-badge]")).to_have_text(
        "Failed"
    )
    screenshot(page, "mobile-dashboard-cases", full_page=False)
    assert_no_errors(watched, "the history with cases")


HOSTILE = '<img src="/x" onerror="document.body.dataset.pwned = 1"><b>bold</b>'


def test_hostile_output_in_a_diff_stays_text(open_page: OpenPage) -> None:
    """A program that prints markup, and an expected output that is markup too: the diff shows
    both as the characters they are, and neither becomes an element of the page."""
    page, watched = open_page(DESKTOP)
    open_playground_as_new_account(page)
    set_code(page, f"print({HOSTILE!r})\n")
    page.get_by_role("button", name="Add test case").click()
    page.get_by_label("Expected output of case 1", exact=True).fill("<script>alert(1)</script>")
    run_and_wait(page)
    changed = case_result(page, 0).locator("[data-testid=diff] tr[data-diff=changed]")
    expect(changed.locator("[data-side=actual]")).to_have_text(HOSTILE)
    expect(changed.locator("[data-side=expected]")).to_have_text("<script>alert(1)</script>")
    assert page.locator("#result img, #result b, #result script").count() == 0
    assert page.locator("body").get_attribute("data-pwned") is None
    assert_no_errors(watched, "hostile output in a diff")


def test_float_comparison_and_its_tolerances_reach_the_judge(open_page: OpenPage) -> None:
    """0.1 + 0.2 prints 0.30000000000000004: equal to 0.3 under the default float tolerance,
    not under a tolerance of 0, and a tolerance that is not a number is refused in the page."""
    page, watched = open_page(DESKTOP)
    open_playground_as_new_account(page)
    set_code(page, "print(0.1 + 0.2)\n")
    page.get_by_role("button", name="Add test case").click()
    page.get_by_label("Expected output of case 1", exact=True).fill("0.3")
    expect(page.get_by_label("Absolute tolerance")).to_be_hidden()
    page.get_by_label("Compare outputs").select_option("float")
    run_and_wait(page)
    expect(case_result(page, 0).locator("[data-testid=case-badge]")).to_have_text("Passed")

    page.get_by_label("Absolute tolerance").fill("0")
    page.get_by_label("Relative tolerance").fill("0")
    run_and_wait(page)
    expect(case_result(page, 0).locator("[data-testid=case-badge]")).to_have_text("Failed")
    changed = case_result(page, 0).locator("[data-testid=diff] tr[data-diff=changed]")
    expect(changed.locator("[data-side=actual]")).to_have_text("0.30000000000000004")

    page.get_by_label("Relative tolerance").fill("a little")
    submits = len([u for u in watched.requests if u.endswith("/api/v1/runner/submit")])
    page.get_by_role("button", name=re.compile(r"^Run")).click()
    expect(page.locator("#result .alert")).to_contain_text("Give both float tolerances")
    assert len([u for u in watched.requests if u.endswith("/api/v1/runner/submit")]) == submits
    assert_no_errors(watched, "float comparison")
