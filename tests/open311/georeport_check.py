#!/usr/bin/env python3
"""Checks redgrid's Open311 GeoReport v2 endpoint with a real client, the PyPI package `georeport`
(which reads services and requests; it has no call to file one, so filing uses `requests`, its own
HTTP library). Run against a running `redgrid serve` or `redgrid demo`:

    pip install georeport
    python3 tests/open311/georeport_check.py --base http://127.0.0.1:8080 --api-key TOKEN

Prints one line per check and ends with 'N passed, 0 failed'; exits 1 on any failure.
"""
import argparse
import datetime
import sys

import requests
from georeport import GeoReport

passed = failed = 0


def check(ok, what):
    global passed, failed
    if ok:
        passed += 1
        print(f"ok - {what}")
    else:
        failed += 1
        print(f"not ok - {what}")


ap = argparse.ArgumentParser()
ap.add_argument("--base", required=True)
ap.add_argument("--api-key", required=True)
args = ap.parse_args()
root = args.base.rstrip("/") + "/open311/v2"
areas = requests.get(args.base + "/api/areas", headers={"Authorization": f"Bearer {args.api_key}"}).json()
areas = areas if isinstance(areas, list) else areas.get("items", [])
district = next(a for a in areas if a.get("parent_id") is None)["code"]
community = next(a for a in areas if a.get("kind") == "community")

for fmt in ["json", "xml"]:
    client = GeoReport(root, jurisdiction=district, output_format=fmt)
    services = client.get_service_list()
    services = services if isinstance(services, list) else [services]
    check(len(services) > 10, f"{fmt}: {len(services)} services listed")
    code = services[0]["service_code"]
    check(all(s.get("service_name") for s in services), f"{fmt}: every service has a name")
    definition = client.get_service_definition(code)
    check(definition["service_code"] == code, f"{fmt}: the definition of {code}")

# File a request, form-encoded, as an Open311 client would.
posted = requests.post(
    root + "/requests.json",
    data={
        "api_key": args.api_key,
        "jurisdiction_id": district,
        "service_code": code,
        "address_id": str(community["id"]),
        "address_string": community["name"] + "5号楼",
        "description": "通过Open311提交：小区门口路灯不亮",
    },
)
check(posted.status_code == 200, f"a request is filed ({posted.status_code} {posted.text[:120]})")
rid = posted.json()[0]["service_request_id"]

now = datetime.datetime.now(datetime.timezone.utc)
start = (now - datetime.timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
end = (now + datetime.timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
for fmt in ["json", "xml"]:
    client = GeoReport(root, jurisdiction=district, output_format=fmt)
    one = client.get_service_request(rid)
    check(one["service_request_id"] == rid and one["status"] == "open", f"{fmt}: the filed request is fetched, open")
    check(not any(k in one for k in ("first_name", "last_name", "email", "phone")), f"{fmt}: no personal fields")

    def ids(**kw):
        rows = client.get_service_requests(**kw) or []
        rows = rows if isinstance(rows, list) else [rows]
        return [r["service_request_id"] for r in rows]

    check(ids(service_request_id=rid) == [rid], f"{fmt}: by service_request_id")
    check(rid in ids(service_code=code), f"{fmt}: by service_code")
    check(rid in ids(start_date=start, end_date=end), f"{fmt}: by start_date and end_date")
    check(rid in ids(status="open"), f"{fmt}: status=open")
    check(rid not in ids(status="closed"), f"{fmt}: status=closed leaves it out")

# Errors come as lists of {code, description} with the HTTP status.
bad = requests.get(root + "/requests.json", params={"start_date": "yesterday"})
check(bad.status_code == 400 and bad.json()[0]["code"] == 400, "a bad start_date is a 400 with code and description")
try:
    GeoReport(root, output_format="json").get_service_request("999999999")
    check(False, "an unknown request must fail")
except requests.HTTPError as e:
    check(e.response.status_code == 404, "an unknown request is a 404 the client raises")
nokey = requests.post(root + "/requests.json", data={"service_code": code, "description": "x", "address_id": str(community["id"])})
check(nokey.status_code == 403, "filing without api_key is a 403")
xml = requests.get(root + "/services/NOPE.xml")
check(xml.status_code == 404 and xml.text.startswith('<?xml version="1.0" encoding="utf-8"?><errors>'), "an XML error is XML")

print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
