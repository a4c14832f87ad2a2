#!/usr/bin/env python3
"""Drives the status page in headless Chromium: signs in with Basic credentials, lists the real
servers, drains one through the confirmation panel and checks the page shows it (or, with
--expect-viewer, checks a viewer sees no action controls), and fails on any SEVERE browser log.
Prints `ok: ...` or `FAIL: ...` per check; exits 0 only if all passed. Every wait is bounded.
usage: browser_status.py --url URL --user NAME --password PW (--drain IP:PORT | --expect-viewer)
                         [--screenshot PNG] [--dark] [--timeout SECONDS]"""
import argparse
import base64
import json
import os
import signal
import sys

from selenium import webdriver
from selenium.common.exceptions import TimeoutException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

failures = 0

# Each real-server row as [service, real, state word, shown].
ROWS_JS = """return Array.from(document.querySelectorAll("tr.real")).map(tr => [
  tr.dataset.service, tr.dataset.real,
  (tr.querySelector(".state") || {textContent: ""}).textContent.trim(), !tr.closest("[hidden]")]);"""

# The state word of the first row for one real server, or null.
STATE_JS = """const tr = Array.from(document.querySelectorAll("tr.real")).find(r => r.dataset.real === arguments[0]);
return tr ? tr.querySelector(".state").textContent.trim() : null;"""

# Whether every chart on screen has at least two samples drawn.
CHARTS_JS = """const c = Array.from(document.querySelectorAll("canvas.chart")).filter(x => x.offsetParent);
return c.length > 0 && c.every(x => Number(x.dataset.samples || 0) >= 2);"""


def check(ok, what):
    global failures
    print(("ok: " if ok else "FAIL: ") + what, flush=True)
    if not ok:
        failures += 1
    return ok


def wait_for(driver, seconds, condition):
    """The condition's first truthy value within `seconds`, or None."""
    try:
        return WebDriverWait(driver, seconds, poll_frequency=0.2,
                             ignored_exceptions=(WebDriverException,)).until(condition)
    except TimeoutException:
        return None


def start_browser(args):
    options = webdriver.ChromeOptions()
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1400,900"):
        options.add_argument(flag)
    if os.path.exists("/usr/bin/chromium"):
        options.binary_location = "/usr/bin/chromium"
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    driver.set_page_load_timeout(args.timeout)
    driver.set_script_timeout(args.timeout)
    token = base64.b64encode(f"{args.user}:{args.password}".encode()).decode()
    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd("Network.setExtraHTTPHeaders", {"headers": {"Authorization": "Basic " + token}})
    if args.dark:
        driver.execute_cdp_cmd("Emulation.setEmulatedMedia",
                               {"features": [{"name": "prefers-color-scheme", "value": "dark"}]})
    return driver


def banner_text(driver):
    banner = driver.find_elements(By.ID, "error-banner")
    return banner[0].text if banner and banner[0].is_displayed() else None


def open_page(driver, args):
    """Opens the page and waits for its rows; returns them, or None."""
    driver.get(args.url.rstrip("/") + "/")
    rows = wait_for(driver, args.timeout, lambda d: d.execute_script(ROWS_JS) or False)
    if rows is None:
        check(False, f"page shows real-server rows within {args.timeout:g} s "
                     f"(title {driver.title!r}, banner {banner_text(driver)!r})")
        return None
    check(True, f"page shows {len(rows)} real-server rows")
    for service, real, state, shown in rows:
        print(f"  {service:<28} {real:<24} {state}{'' if shown else ' (filtered out)'}", flush=True)
    user = driver.find_element(By.ID, "user").text
    check(user == args.user, f"page says signed in as {args.user!r} (it says {user!r})")
    return rows


def drain(driver, args, rows):
    target = args.drain
    states = [state for _, real, state, _ in rows if real == target]
    if not check(states[:1] == ["up"], f"{target} is up before the drain (state {states[:1]})"):
        return
    row = driver.find_element(By.CSS_SELECTOR, "tr.real[data-real=%s]" % json.dumps(target))
    button = row.find_elements(By.CSS_SELECTOR, "button.drain")
    if not check(len(button) == 1, f"{target} has a Drain button"):
        return
    button[0].click()
    panel = wait_for(driver, args.timeout, lambda d: d.find_element(By.ID, "confirm").is_displayed())
    if not check(bool(panel), "the drain confirmation panel opens"):
        return
    text = driver.find_element(By.ID, "confirm-text").text
    check("keeps" in text and target in text, f"the panel says what the drain leaves: {text!r}")
    driver.find_element(By.ID, "confirm-yes").click()
    state = wait_for(driver, args.timeout, lambda d: d.execute_script(STATE_JS, target) == "drain")
    check(bool(state), f"{target} shows state 'drain' after the drain "
                       f"(now {driver.execute_script(STATE_JS, target)!r})")
    logged = wait_for(driver, args.timeout, lambda d: [li.text for li in d.find_elements(By.CSS_SELECTOR, "#actions li")
                                                       if args.user in li.text and target in li.text])
    check(bool(logged), f"recent actions list the drain by {args.user}: {logged[0] if logged else None!r}")
    status = driver.find_element(By.ID, "action-status")
    check("ok" in (status.get_attribute("class") or "").split(), f"the status line says: {status.text!r}")
    check(not driver.find_element(By.ID, "confirm").is_displayed(), "the confirmation panel is closed")


def viewer(driver):
    controls = driver.find_elements(By.CSS_SELECTOR, "button.drain, button.ready, button.set-weight, .weight-input")
    check(not controls, f"a viewer sees no action controls ({len(controls)} found)")


def run(args):
    driver = start_browser(args)
    try:
        rows = open_page(driver, args)
        if rows is not None:
            if args.expect_viewer:
                viewer(driver)
            else:
                drain(driver, args, rows)
            check(banner_text(driver) is None, f"no 'cannot reach' banner ({banner_text(driver)!r})")
        if args.screenshot:
            drawn = wait_for(driver, args.timeout, lambda d: d.execute_script(CHARTS_JS))
            check(bool(drawn), "every chart on screen has drawn at least two samples")
            check(driver.save_screenshot(args.screenshot), f"screenshot saved to {args.screenshot}")
        severe = [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]
        for entry in severe:
            print(f"  SEVERE {entry.get('source', '')}: {entry.get('message', '')}", flush=True)
        check(not severe, f"no SEVERE browser log entries ({len(severe)} found)")
    finally:
        signal.alarm(30)    # quitting must not hang either
        try:
            driver.quit()
        except Exception as err:  # noqa: BLE001 - the verdict is already printed
            print(f"  (quitting the browser failed: {err})", flush=True)


def main():
    parser = argparse.ArgumentParser(description="Drives Switchyard's status page in headless Chromium.")
    parser.add_argument("--url", required=True, help="the page's base URL, e.g. http://198.18.0.1:8080")
    parser.add_argument("--user", required=True)
    parser.add_argument("--password", required=True)
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--drain", metavar="IP:PORT", help="the real server to drain (its row's data-real)")
    mode.add_argument("--expect-viewer", action="store_true", help="check a viewer sees no action controls")
    parser.add_argument("--screenshot", metavar="PNG", help="where to save a screenshot of the page")
    parser.add_argument("--dark", action="store_true", help="emulate prefers-color-scheme: dark")
    parser.add_argument("--timeout", type=float, default=20.0, help="the longest any one wait may take")
    args = parser.parse_args()

    def out_of_time(signum, frame):
        raise TimeoutError("the whole run took too long")
    signal.signal(signal.SIGALRM, out_of_time)
    signal.alarm(int(args.timeout * 8) + 30)
    try:
        run(args)
    except Exception as err:  # noqa: BLE001 - any error is a failed check, reported in one line
        check(False, f"{type(err).__name__}: {str(err).strip().splitlines()[0] if str(err).strip() else ''}")
    signal.alarm(0)
    sys.exit(0 if failures == 0 else 1)


if __name__ == "__main__":
    main()
