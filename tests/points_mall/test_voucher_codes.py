"""Voucher code pools: imported through the API (JSON or CSV) and the CLI; duplicates refused and counted."""
import io

from mall_helpers import code_rows, item_row


def test_json_import_counts_what_was_imported_and_refuses_duplicates(memberday_app, memberday_client, admin,
                                                                    new_item):
    item = new_item(voucher_codes=["OLD-1"])
    other = new_item()

    response = memberday_client.post(f"/api/v1/mall/items/{item['id']}/codes", headers=admin,
                                     json={"codes": ["NEW-1", " NEW-2 ", "", "NEW-1", "OLD-1"]})

    assert response.status_code == 200
    assert response.get_json() == {"imported": 2, "duplicates": 2, "duplicate_codes": ["NEW-1", "OLD-1"],
                                   "codes_left": 3}
    # A code already in another item's pool is refused too: it must never reach two members.
    across = memberday_client.post(f"/api/v1/mall/items/{other['id']}/codes", headers=admin,
                                   json={"codes": ["NEW-2", "OTHER-1"]}).get_json()
    assert (across["imported"], across["duplicates"]) == (1, 1)
    assert [row["code"] for row in code_rows(memberday_app, item["id"])] == ["OLD-1", "NEW-1", "NEW-2"]
    assert item_row(memberday_app, other["id"])["voucher_pool"] is True


def test_csv_upload_imports_the_first_column_and_skips_a_header(memberday_app, memberday_client, admin, new_item):
    item = new_item()
    csv_file = "\ufeffcode,value\nCSV-1,200\n\n CSV-2 ,200\n\"CSV,3\",200\nCSV-1,200\n".encode()

    response = memberday_client.post(f"/api/v1/mall/items/{item['id']}/codes", headers=admin,
                                     data={"file": (io.BytesIO(csv_file), "codes.csv")},
                                     content_type="multipart/form-data")

    assert response.status_code == 200
    assert (response.get_json()["imported"], response.get_json()["duplicates"]) == (3, 1)
    assert [row["code"] for row in code_rows(memberday_app, item["id"])] == ["CSV-1", "CSV-2", "CSV,3"]

    raw = memberday_client.post(f"/api/v1/mall/items/{item['id']}/codes", data="CSV-4\nCSV-5\n",
                                headers=dict(admin, **{"Content-Type": "text/csv"}))
    assert raw.get_json()["imported"] == 2
    assert item_row(memberday_app, item["id"])["codes_left"] == 5


def test_bad_code_imports_are_400_and_import_nothing(memberday_app, memberday_client, admin, new_item):
    item = new_item()
    url = f"/api/v1/mall/items/{item['id']}/codes"

    attempts = [
        memberday_client.post(url, headers=admin, json={"codes": []}),
        memberday_client.post(url, headers=admin, json={"codes": ["   "]}),
        memberday_client.post(url, headers=admin, json={"codes": ["GOOD", "x" * 101]}),
        memberday_client.post(url, headers=admin, json={"codes": ["GOOD", "tab\tinside"]}),
        memberday_client.post(url, headers=admin, json={"codes": "GOOD"}),
        memberday_client.post(url, headers=admin, json=["GOOD"]),
        memberday_client.post(url, headers=admin, json={"codes": ["GO\x00OD"]}),
        memberday_client.post(url, headers=admin, data={"other": "x"}, content_type="multipart/form-data"),
        memberday_client.post(url, headers=admin, data={"file": (io.BytesIO(b"\xff\xfe\x00garbage"), "x.csv")},
                              content_type="multipart/form-data"),
        memberday_client.post(url, data=b"GOOD\x00\n", headers=dict(admin, **{"Content-Type": "text/csv"})),
        memberday_client.post(url, data=b"code\n", headers=dict(admin, **{"Content-Type": "text/csv"})),
    ]

    assert [response.status_code for response in attempts] == [400] * len(attempts)
    assert all(response.get_json()["error"]["code"] == "validation_error" for response in attempts)
    wrong_type = memberday_client.post(url, data=b"<codes/>", headers=dict(admin, **{"Content-Type": "text/xml"}))
    assert wrong_type.status_code == 415
    assert code_rows(memberday_app, item["id"]) == []
    assert memberday_client.post("/api/v1/mall/items/4242/codes", headers=admin,
                                 json={"codes": ["X"]}).status_code == 404


def test_operators_list_an_items_codes_and_only_operators_import(memberday_client, admin, new_member, new_item):
    item = new_item(voucher_codes=["L-1", "L-2"])
    member = new_member(points=1000)
    url = f"/api/v1/mall/items/{item['id']}/codes"

    assert memberday_client.post(url, headers=member["headers"], json={"codes": ["M-1"]}).status_code == 403
    assert memberday_client.get(url, headers=member["headers"]).status_code == 403
    memberday_client.post("/api/v1/mall/redemptions", headers=member["headers"],
                          json={"member_id": member["id"], "item_id": item["id"]})

    listed = memberday_client.get(url, headers=admin).get_json()
    assert [(row["code"], row["status"]) for row in listed["items"]] == [("L-1", "assigned"), ("L-2", "available")]
    available = memberday_client.get(url + "?status=available", headers=admin).get_json()
    assert [row["code"] for row in available["items"]] == ["L-2"]


def test_cli_imports_codes_from_a_csv_file(memberday_app, memberday_client, new_item, tmp_path):
    item = new_item(voucher_codes=["CLI-0"])
    csv_path = tmp_path / "vendor.csv"
    csv_path.write_text("voucher_code\nCLI-0\nCLI-1\nCLI-2\n", encoding="utf-8")

    result = memberday_app.test_cli_runner().invoke(args=["mall", "import-codes", str(item["id"]), str(csv_path)])

    assert result.exit_code == 0, result.output
    assert "Imported 2 codes; 1 duplicates refused" in result.output
    assert item_row(memberday_app, item["id"])["codes_left"] == 3
    missing = memberday_app.test_cli_runner().invoke(args=["mall", "import-codes", "999", str(csv_path)])
    assert missing.exit_code != 0 and "does not exist" in missing.output
