#!/usr/bin/env python3
"""The browser test: a request's whole life through the pages, in headless Chromium.

A new resident signs up on a 360-px phone screen with a phone number and the SMS code (read from
the server's log, where the log sender writes it), chooses a home grid, and files a request (a
refused form first, then a good one, and a double click that must not file twice); a grid worker
accepts it and dispatches it from the work queue; the community's staff grant a new volunteer a
role in the grid's team on the 角色授权 page, and the volunteer logs in with the one-time password,
changes it, claims and resolves the request; the community's verifier verifies it (a refused
verification first: failing it needs a reason), recording that the follow-up call reached the
resident; the resident reads the "please rate" message in the inbox, rates (a refused rating
first) and it is closed. The filing form, the work queue and the dashboard are checked for sideways
scrolling at 360 px. Then the English switch, the public
lists without login, and each role's main page. With --screenshots DIR it saves a PNG of each page.

Usage: walk.py --base http://127.0.0.1:PORT --area GRID_AREA_ID --unit GRID_TEAM_UNIT_ID
                --sms-log SERVER_LOG [--screenshots DIR]

Needs Debian's chromium and chromium-driver and the PyPI package selenium.
"""
import argparse
import os
import re
import sys
import tempfile
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.support.ui import Select, WebDriverWait

PASSWORD = "redgrid-demo-2026"
PHONE = (360, 780)
DESK = (1280, 900)


class Walk:
    def __init__(self, base, shots, sms_log):
        self.base = base.rstrip("/")
        self.shots = shots
        self.sms_log = sms_log
        opts = webdriver.ChromeOptions()
        opts.binary_location = os.environ.get("CHROMIUM", "/usr/bin/chromium")
        for flag in [
            "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--disable-dev-shm-usage", "--hide-scrollbars", "--force-device-scale-factor=1",
            "--lang=en-US",
        ]:
            opts.add_argument(flag)
        opts.add_argument("--user-data-dir=" + tempfile.mkdtemp(prefix="redgrid-chromium-"))
        service = Service(os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver"))
        self.d = webdriver.Chrome(options=opts, service=service)
        self.d.set_page_load_timeout(60)
        self.size(PHONE)
        self.steps = 0

    # -- helpers -------------------------------------------------------------------------------
    def size(self, wh):
        self.d.set_window_size(*wh)

    def go(self, path):
        self.d.get(self.base + path)

    def text(self):
        return self.d.find_element(By.TAG_NAME, "body").text

    def ok(self, cond, what):
        self.steps += 1
        if not cond:
            print("FAIL:", what)
            print("  at", self.d.current_url)
            print("  page:", self.text()[:1500])
            self.shot("failure")
            sys.exit(1)
        print("ok", self.steps, "-", what)

    def shot(self, name, full=True):
        if not self.shots:
            return
        os.makedirs(self.shots, exist_ok=True)
        if full:
            h = self.d.execute_script("return document.documentElement.scrollHeight")
            w = self.d.get_window_size()["width"]
            self.d.set_window_size(w, min(max(h + 120, 600), 2400))
        self.d.save_screenshot(os.path.join(self.shots, name + ".png"))
        print("   screenshot", name + ".png")

    def shot_sized(self, name, wh):
        self.size(wh)
        self.d.refresh()
        self.shot(name)

    def no_sideways_scroll(self, what):
        w = self.d.execute_script("return document.documentElement.scrollWidth")
        inner = self.d.execute_script("return window.innerWidth")
        self.ok(w <= inner, f"{what}: no sideways scrolling at {inner} px (content {w} px)")

    def mark_page(self):
        """Marks the current page's window. A new document starts with a fresh
        window object, so the mark is gone once the next page is there. This
        avoids holding an element of the old page, whose staleness check races
        with the navigation and can fail with an inspector error instead of a
        stale-element one."""
        self.d.execute_script("window.__rgOldPage = true;")

    def wait_new_page(self, also=lambda d: True):
        """Waits until the marked page is replaced by a fully loaded new one."""
        def ready(d):
            try:
                return d.execute_script(
                    "return window.__rgOldPage !== true && document.readyState === 'complete';"
                ) and also(d)
            except WebDriverException:
                # Mid-navigation the script may have no document to run in.
                return False

        WebDriverWait(self.d, 30).until(ready)

    def click_and_wait(self, element):
        """Clicks something that loads a new page, and waits until the new page is there."""
        self.mark_page()
        element.click()
        self.wait_new_page()

    def login(self, user, password=PASSWORD):
        self.d.delete_all_cookies()
        self.go("/login")
        self.d.find_element(By.ID, "login").send_keys(user)
        self.d.find_element(By.ID, "password").send_keys(password)
        self.click_and_wait(self.d.find_element(By.CSS_SELECTOR, "main form button[type=submit]"))
        self.ok("/login" not in self.d.current_url, f"{user} logs in")

    def sms_code(self, phone):
        """The newest sign-up code sent to `phone`, as the log sender wrote it to the server's log."""
        deadline = time.time() + 30
        while time.time() < deadline:
            with open(self.sms_log, encoding="utf-8", errors="replace") as f:
                codes = [m.group(1) for line in f if phone in line
                         for m in [re.search(r"验证码是 (\d{6})", line)] if m]
            if codes:
                return codes[-1]
            time.sleep(0.3)
        self.ok(False, f"an SMS code for {phone} in {self.sms_log}")

    def sign_up(self, area):
        """A new resident signs up on the phone page, then chooses the home grid."""
        d = self.d
        stamp = str(int(time.time()))[-8:]
        phone = "139" + stamp
        self.d.delete_all_cookies()
        self.go("/login")
        self.click_and_wait(d.find_element(By.CSS_SELECTOR, "a[href='/signup']"))
        self.ok(d.find_element(By.ID, "phone").get_attribute("type") == "tel", "the sign-up page asks for a phone")
        self.no_sideways_scroll("sign-up page")
        d.find_element(By.ID, "phone").send_keys("12345")
        self.click_and_wait(d.find_element(By.CSS_SELECTOR, "main form button[type=submit]"))
        err = d.find_elements(By.ID, "phone-e")
        self.ok(len(err) == 1 and err[0].text.strip() != "", "a malformed phone is refused next to its field")
        d.find_element(By.ID, "phone").clear()
        d.find_element(By.ID, "phone").send_keys(phone)
        self.click_and_wait(d.find_element(By.CSS_SELECTOR, "main form button[type=submit]"))
        self.ok("验证码已发送" in self.text(), "a code is sent")
        self.shot("resident-signup-code")
        code = self.sms_code(phone)
        d.find_element(By.ID, "code").send_keys(code)
        d.find_element(By.ID, "name").send_keys("浏览器居民")
        d.find_element(By.ID, "password").send_keys("resident-walk-2026")
        d.find_element(By.ID, "again").send_keys("resident-walk-2026")
        self.click_and_wait(d.find_element(By.CSS_SELECTOR, "main form button[type=submit]"))
        self.ok("/me/home" in d.current_url, "signed up and logged in, asked for the home grid")
        self.no_sideways_scroll("home grid page")
        Select(d.find_element(By.ID, "home-area_id")).select_by_value(str(area))
        self.click_and_wait(d.find_element(By.CSS_SELECTOR, "main form button[type=submit]"))
        self.ok("/me/home" not in d.current_url, "the home grid is saved")
        return phone

    def action(self, command):
        """The form of one command on a request page (opened if folded)."""
        det = self.d.find_element(By.ID, "act-" + command)
        if not det.get_attribute("open"):
            det.find_element(By.TAG_NAME, "summary").click()
        return det.find_element(By.TAG_NAME, "form")

    def has_action(self, command):
        return len(self.d.find_elements(By.ID, "act-" + command)) == 1

    def status(self):
        return self.d.find_element(By.CSS_SELECTOR, "h1 .badge.status").text

    # -- the walk ------------------------------------------------------------------------------
    def run(self, area, unit):
        d = self.d
        # The home page explains filing, following and rating, without login.
        self.go("/")
        t = self.text()
        self.ok("我要点单" in t and "我的诉求" in t and "评单" in t, "the home page says how to file, follow and rate")
        self.no_sideways_scroll("home")
        self.shot("home-zh")

        # A new resident signs up on the phone, then files: first a refused form, then a good one.
        resident = self.sign_up(area)
        self.go("/file")
        self.ok(Select(d.find_element(By.ID, "file-area_id")).first_selected_option.get_attribute("value") == str(area),
                "filing starts from the home grid")
        self.no_sideways_scroll("filing form")
        self.ok(d.find_element(By.CSS_SELECTOR, "label[for=file-description]").text.startswith("诉求内容"),
                "the filing form has labelled fields")
        Select(d.find_element(By.ID, "file-area_id")).select_by_value(str(area))
        d.find_element(By.ID, "file-address").send_keys("9号楼4单元")
        self.click_and_wait(d.find_element(By.CSS_SELECTOR, "form.card button[type=submit]"))
        err = d.find_elements(By.ID, "file-description-e")
        self.ok(len(err) == 1 and err[0].text.strip() != "", "an empty description is refused next to its field")
        self.ok("Traceback" not in self.text() and "panicked" not in self.text(), "no trace is shown")
        self.ok(Select(d.find_element(By.ID, "file-area_id")).first_selected_option.get_attribute("value") == str(area)
                and d.find_element(By.ID, "file-address").get_attribute("value") == "9号楼4单元",
                "what was typed is kept")
        self.shot("resident-file-refused")
        tag = "".join(chr(ord("A") + int(ch)) for ch in str(int(time.time()))[-6:])
        marker = "浏览器测试 %s：楼道灯坏了，晚上看不清台阶" % tag
        Select(d.find_element(By.ID, "file-category_id")).select_by_index(1)
        d.find_element(By.ID, "file-description").send_keys(marker)
        # Two clicks in a row: the page must send the form once.
        self.mark_page()
        d.execute_script(
            "var f=document.querySelector('form.card'); f.requestSubmit(); f.requestSubmit();")
        self.wait_new_page(lambda d: "/requests/" in d.current_url)
        self.ok(re.search(r"/requests/\d+", d.current_url) is not None, "the request is filed and shown")
        rid = re.search(r"/requests/(\d+)", d.current_url).group(1)
        self.ok("诉求已提交" in self.text(), "a confirmation is shown")
        self.ok(self.status() == "已提交", "it is submitted")
        self.no_sideways_scroll("request page")
        self.shot("resident-request-zh")
        self.go("/mine")
        self.ok(self.text().count(marker[:20]) == 1, "a double submit filed one request, not two")
        self.shot("resident-mine")

        # The grid worker accepts it, then dispatches it from the work queue (bulk dispatch).
        self.size(DESK)
        self.login("grid_worker")
        self.go(f"/requests/{rid}")
        self.ok(self.has_action("accept") and not self.has_action("verify"),
                "the grid worker sees accept and not verify")
        form = self.action("accept")
        summary = form.find_element(By.NAME, "public_summary")
        self.ok("楼道灯坏了" in (summary.get_attribute("value") or ""),
                "the public summary comes prefilled with the draft (公示内容)")
        summary.clear()
        summary.send_keys("楼道灯损坏，请求维修 %s" % tag)
        Select(form.find_element(By.NAME, "level")).select_by_value("grid")
        self.click_and_wait(form.find_element(By.CSS_SELECTOR, "button[type=submit]"))
        self.ok(self.status() == "已受理", "accepted (受理)")
        self.go("/queue?status=accepted")
        self.shot("grid-worker-queue")
        box = d.find_element(By.ID, f"pick-{rid}")
        # The bulk-dispatch bar stays at the bottom of the window: bring the box clear of it.
        d.execute_script("arguments[0].scrollIntoView({block: 'center'});", box)
        box.click()
        Select(d.find_element(By.ID, "bulk-unit_id")).select_by_value(str(unit))
        self.click_and_wait(d.find_element(By.CSS_SELECTOR, "#bulk .bulk button[type=submit]"))
        self.ok(f"#{rid}" in self.text() and "已派单" in self.text(), "dispatched from the queue (派单)")

        # The community's staff grant a new volunteer a role in the grid's team (角色授权).
        self.login("community_staff")
        self.go("/org/roles")
        vphone = "137" + str(int(time.time()))[-8:]
        d.find_element(By.ID, "grant-phone").send_keys(vphone)
        d.find_element(By.ID, "grant-name").send_keys("浏览器志愿者")
        Select(d.find_element(By.ID, "grant-role")).select_by_value("volunteer")
        Select(d.find_element(By.ID, "grant-place")).select_by_value(f"unit:{unit}")
        self.click_and_wait(d.find_element(By.CSS_SELECTOR, "form[action='/org/roles/grant'] button[type=submit]"))
        self.ok("已授权" in self.text(), "the volunteer is granted a role in the grid's team")
        secret = d.find_elements(By.CSS_SELECTOR, "code.secret")
        self.ok(len(secret) == 1, "a one-time password is shown once")
        once = secret[0].text.strip()
        self.shot("community-staff-roles")

        # The new volunteer logs in with it, must choose a password, then claims and resolves.
        self.size(PHONE)
        self.login(vphone, once)
        self.ok("/password" in d.current_url, "the one-time password must be changed first")
        d.find_element(By.ID, "old").send_keys(once)
        d.find_element(By.ID, "new").send_keys("volunteer-walk-2026")
        d.find_element(By.ID, "again").send_keys("volunteer-walk-2026")
        self.click_and_wait(d.find_element(By.CSS_SELECTOR, "main form button[type=submit]"))
        if "/login" in d.current_url:
            self.login(vphone, "volunteer-walk-2026")
        self.go("/queue")
        self.ok(f"#{rid}" in self.text(), "the volunteer finds it in their queue")
        self.no_sideways_scroll("work queue")
        self.go(f"/requests/{rid}")
        self.click_and_wait(self.action("claim").find_element(By.CSS_SELECTOR, "button[type=submit]"))
        self.ok(self.status() == "办理中", "claimed (接单)")
        self.ok(resident in self.text(), "having claimed it, the volunteer sees whom to call")
        form = self.action("resolve")
        form.find_element(By.NAME, "summary").send_keys("已更换楼道声控灯 2 盏")
        self.click_and_wait(form.find_element(By.CSS_SELECTOR, "button[type=submit]"))
        self.ok(self.status() == "已办结待验单", "resolved (办结)")
        self.shot("volunteer-request")

        # The verifier finds it waiting, and a refusal first: failing without a reason.
        self.size(DESK)
        self.login("verifier")
        self.go("/verify")
        self.ok(f"#{rid}" in self.text(), "it waits for verification")
        self.shot("verifier-list")
        self.go(f"/requests/{rid}")
        form = self.action("verify")
        Select(form.find_element(By.NAME, "passed")).select_by_value("false")
        self.click_and_wait(form.find_element(By.CSS_SELECTOR, "button[type=submit]"))
        err = d.find_elements(By.ID, "verify-reason-e")
        self.ok(len(err) == 1 and err[0].text.strip() != "",
                "failing verification without a reason is refused next to the reason field")
        reason = d.find_element(By.ID, "verify-reason")
        self.ok(reason.get_attribute("aria-invalid") == "true"
                and reason.get_attribute("aria-describedby") == "verify-reason-e",
                "the error is linked to its field")
        self.ok("Traceback" not in self.text() and "panicked" not in self.text(), "no trace is shown")
        self.ok(self.status() == "已办结待验单", "the refused verification changed nothing")
        self.shot("verifier-verify-refused")
        form = self.action("verify")
        Select(form.find_element(By.NAME, "passed")).select_by_value("true")
        form.find_element(By.NAME, "reached").click()
        self.click_and_wait(form.find_element(By.CSS_SELECTOR, "button[type=submit]"))
        self.ok(self.status() == "已验单待评价", "verified (验单)")
        self.ok("回访已联系到本人" in self.text(), "the follow-up call is recorded")

        # The resident reads the message in the inbox, then rates: a refused rating first, then a
        # good one; that closes it.
        self.size(PHONE)
        self.login(resident, "resident-walk-2026")
        badge = d.find_elements(By.CSS_SELECTOR, "a.inbox .badge")
        self.ok(len(badge) == 1 and int(badge[0].text) >= 1, "the header counts an unread message")
        self.click_and_wait(d.find_element(By.CSS_SELECTOR, "a.inbox"))
        self.ok("您的诉求已办结，请评价" in self.text(), "the inbox says the request waits for a rating")
        self.no_sideways_scroll("inbox")
        self.shot("resident-inbox")
        self.click_and_wait(d.find_element(By.CSS_SELECTOR, ".inbox-list li.unread a"))
        self.ok(f"/requests/{rid}" in d.current_url, "the message opens its request")
        self.ok("请在下面评价" in self.text(), "the resident is asked to rate")
        self.click_and_wait(self.action("rate").find_element(By.CSS_SELECTOR, "button[type=submit]"))
        errs = [e.text for e in d.find_elements(By.CSS_SELECTOR, "#act-rate .error")]
        self.ok(len(errs) >= 2 and all(e.strip() for e in errs),
                "an empty rating is refused with a readable message next to each field: " + " / ".join(errs))
        self.shot("resident-rate-refused")
        form = self.action("rate")
        Select(form.find_element(By.NAME, "resolved")).select_by_value("true")
        Select(form.find_element(By.NAME, "satisfaction")).select_by_value("satisfied")
        form.find_element(By.NAME, "comment").send_keys("很及时，谢谢")
        self.click_and_wait(form.find_element(By.CSS_SELECTOR, "button[type=submit]"))
        self.ok(self.status() == "已销号", "rated (评单) and closed (销号)")
        tl = self.text()
        for step in ["提交诉求", "受理", "派单", "接单", "办结", "验单", "评单", "销号"]:
            self.ok(step in tl, f"the timeline shows {step}")
        self.shot("resident-closed")

        # A refusal from the state machine: the request is closed, nothing more can be done.
        self.ok(not self.has_action("rate"), "a closed request offers no rating")

        # English.
        self.go(f"/requests/{rid}")
        self.click_and_wait(d.find_element(By.CSS_SELECTOR, "a.lang"))
        self.ok("Timeline" in self.text() and "closed" in self.text(), "the English switch works")
        self.shot("resident-request-en")
        self.click_and_wait(d.find_element(By.CSS_SELECTOR, "a.lang"))
        self.ok("办理过程" in self.text(), "and back to Chinese")

        # Public lists without login, masked.
        self.d.delete_all_cookies()
        self.go("/public/results")
        self.ok("成果清单" in self.text(), "the result list opens without login")
        self.ok(re.search(r"\d{7,}", self.text()) is None, "no phone- or ID-like number in the public list")
        self.ok("9号楼4单元" not in self.text(), "no exact address in the public list")
        self.ok(marker not in self.text() and ("楼道灯损坏，请求维修 %s" % tag) in self.text(),
                "the public list shows the approved summary, not the resident's words")
        self.no_sideways_scroll("public list")
        self.shot("public-results")

        # Each role's main page.
        self.size(DESK)
        self.login("supervisor")
        self.go("/redlist")
        self.ok("亮灯督办" in self.text(), "the supervisor's red list")
        self.shot("supervisor-redlist")
        self.login("district_admin")
        self.go("/dashboard")
        self.ok(len(d.find_elements(By.CSS_SELECTOR, "svg.chart")) >= 3, "the dashboard draws its charts")
        self.shot("admin-dashboard")
        self.size(PHONE)
        self.go("/dashboard")
        self.no_sideways_scroll("dashboard")
        self.size(DESK)
        self.go("/scorecard?by=street&period=" + time.strftime("%Y"))
        self.ok("综合得分" in self.text(), "the scorecard ranks")
        self.shot("admin-scorecard")
        self.go("/org")
        self.ok("组织建设" in self.text() and len(d.find_elements(By.CSS_SELECTOR, "table tbody tr")) > 0,
                "the organisation registers")
        self.shot("admin-org")
        # The personal-data auditor: who saw whose data (the grid worker opened the request above).
        self.login("auditor")
        self.go("/audit")
        self.ok("个人信息访问审计" in self.text() and f"#{rid}" in self.text(),
                "the auditor's access log lists the views of the request")
        self.shot("auditor-access-log")
        self.size(PHONE)
        self.go("/audit")
        self.no_sideways_scroll("access log")
        self.size(DESK)
        self.login("community_staff")
        self.go("/queue")
        self.shot("community-staff-queue")
        self.click_and_wait(d.find_element(By.CSS_SELECTOR, "a.lang"))
        self.ok("Work queue" in self.text(), "the queue in English")
        self.shot("community-staff-queue-en")
        self.click_and_wait(d.find_element(By.CSS_SELECTOR, "a.lang"))
        print(f"browser walk passed: {self.steps} checks, request #{rid}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", required=True)
    ap.add_argument("--area", required=True, type=int)
    ap.add_argument("--unit", required=True, type=int)
    ap.add_argument("--sms-log", required=True)
    ap.add_argument("--screenshots")
    a = ap.parse_args()
    w = Walk(a.base, a.screenshots, a.sms_log)
    try:
        w.run(a.area, a.unit)
    finally:
        w.d.quit()


if __name__ == "__main__":
    main()
